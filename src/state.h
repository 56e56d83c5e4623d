/* state.h - what evd remembers across restarts: per job, the start of its
 * last run (for persistent=), whether it is paused, and for a job with
 * expect_success_within= its dead-man count (last success, first seen,
 * where the count starts, overdue since).
 *
 * One text file, DIR/state, written atomically: a temporary file, fsync,
 * rename over the old one, fsync of the directory. A crash leaves either
 * the old or the new file, never a mix. The temporary file is always
 * created anew (O_EXCL), so nothing planted under its name is written
 * through. Reading is forgiving: a damaged line is skipped with a
 * warning, a damaged, missing or non-regular file means "no history",
 * never a failure to start (and a FIFO never blocks: O_NONBLOCK).
 *
 * The directory is another matter: before evd uses it, state_dir_acquire
 * checks that no one but root and evd's user could have prepared it, and
 * locks it, so that a second evd cannot overwrite the first one's file;
 * either failing stops start-up.
 *
 * Writes never block the main loop: the main thread hands a snapshot to a
 * writer thread (state_writer_submit); snapshots submitted while one is
 * being written are coalesced, only the newest is written. */
#pragma once

#include <pthread.h>

#include "util.h"

struct state_entry {
        char *name;
        usec_t last_start;      /* realtime; 0: never */
        bool paused;
        /* The dead-man check (sched_watch.c), realtime; all 0 for a job
         * without expect_success_within= (first_seen > 0 for one with). */
        usec_t last_success, first_seen, count_from, overdue_since;
        size_t line;            /* where it was read, for the sort; 0 otherwise */
};

struct state {
        struct state_entry *entries;    /* sorted by name */
        size_t n;
};

/* Makes DIR ready for evd, before anything in it is read or written:
 *   - DIR and every directory above it must be owned by root or by evd's
 *     user and writable by no one else (an ancestor may be a root-owned
 *     sticky directory such as /tmp), and a symbolic link on the way must
 *     be root's or evd's user's: otherwise -EPERM ("refuse to start");
 *   - DIR is created (0755) when missing; its parent is checked first;
 *   - DIR itself is locked (flock): -EBUSY when another process holds
 *     it ("refuse to start"; the message names its PID when /proc/locks
 *     does);
 *   - any other -errno: DIR cannot be used (e.g. cannot be created).
 * Returns the locked descriptor of DIR (CLOEXEC; keep it open while evd
 * runs).
 * On failure *error is a message naming DIR, for the log (free() it; it
 * may be NULL when out of memory). Main thread, at start-up. */
int state_dir_acquire(const char *dir, char **error);

/* Parses the SIZE bytes of a state file at TEXT; never fails on bad input
 * (bad lines, e.g. one with a NUL byte, are reported through *warnings, a
 * strv, and skipped). A name seen twice: the later line wins. -ENOMEM only. */
int state_parse(const char *text, size_t size, struct state *ret, char ***warnings);
/* Reads DIR/state; a missing file gives an empty state. */
int state_load(const char *dir, struct state *ret, char ***warnings);
const struct state_entry *state_find(const struct state *s, const char *name);
void state_done(struct state *s);

/* Appends one job's line to *buf (a growing string). */
int state_format_entry(char **buf, size_t *len, size_t *cap, const struct state_entry *e);
/* Writes text as DIR/state atomically; -errno. */
int state_write(const char *dir, const char *text, size_t len);

struct state_writer {
        char *dir;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *pending;          /* under lock: newest snapshot not yet written */
        size_t pending_len;
        bool stopping, running;
        int last_error;         /* under lock */
        uint64_t writes;
};

int state_writer_start(struct state_writer *w, const char *dir);
/* Takes ownership of text; NULL is an empty state (the file keeps only its
 * header line). */
void state_writer_submit(struct state_writer *w, char *text, size_t len);
/* Writes what is pending, then joins the thread. */
void state_writer_stop(struct state_writer *w);
