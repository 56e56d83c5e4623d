/* crontab_watch.h - [crontabs]' files and directories watched with
 * inotify, so that a crontab change takes effect without a reload and
 * without polling.
 *
 * Watches are on directories only: for each configured path, its parent
 * directory (filtered on the path's name: the path created, removed,
 * replaced by a rename as `crontab -e` and editors save, written, or its
 * mode or owner changed), and the path itself when it is a directory
 * (every name in it). A directory watch follows a file through new inodes,
 * so nothing has to be re-watched when a file is replaced. The first event
 * arms a short debounce timer (CRONTAB_WATCH_DEBOUNCE); when it fires the
 * watches are set up again (a directory may have appeared or gone) and
 * changed() is called: the scheduler then reads the crontabs again
 * (sched_reload_crontabs()). A lost event queue (IN_Q_OVERFLOW) is a
 * change like any other: every reload reads every table.
 *
 * Main thread only. */
#pragma once

#include "config.h"
#include "timer.h"

#define CRONTAB_WATCH_DEBOUNCE (100 * USEC_PER_MSEC)

struct crontab_watch_entry {
        int wd;
        char *name; /* only events about this name; NULL: every name */
};

struct crontab_watch {
        struct loop_source source; /* the inotify descriptor, -EBADF until [crontabs] is first seen */
        struct loop *loop;
        struct timer_clock *clock; /* a monotonic clock of the scheduler's, for the debounce */
        struct timer debounce;
        void (*changed)(void *userdata);
        void *userdata;
        struct crontab_watch_entry *entries;
        size_t n_entries;
        char **system; /* what the watches are for: [crontabs] system= */
        char *users;   /* and users= (NULL: none) */
        uint64_t events, changes;
};

/* Sets w up (no descriptor yet). */
void crontab_watch_init(struct crontab_watch *w, struct loop *l, struct timer_clock *clock,
                        void (*changed)(void *userdata), void *userdata);
/* Watches what c names (NULL: nothing). Returns 0, or -errno (logged; the
 * crontabs are then read only at reloads). */
int crontab_watch_update(struct crontab_watch *w, const struct config_crontabs *c);
void crontab_watch_done(struct crontab_watch *w);
