/* crontab.h - the crontab reader: Debian cron's crontab(5) format, text in,
 * entries out (crontab.c), and the file-level rules Debian's cron applies
 * before it reads a file (crontab_file.c).
 *
 * The reader is pure: no descriptors, no clocks, no process-wide state; the
 * only outside knowledge it uses comes through the optional user lookup
 * callback. A rejected line becomes an error "FILE:LINE: reason" and the
 * rest of the file still loads. Every entry gets a stable name (see
 * crontab_parse()).
 *
 * Threads: any; a struct crontab is immutable once returned. */
#pragma once

#include "schedule.h"
#include "util.h"

#include <sys/types.h>

/* Bounds (clear errors, never quadratic work). */
#define CRONTAB_SIZE_MAX   (4u * 1024u * 1024u) /* a larger file is refused whole */
#define CRONTAB_LINE_MAX   8192u                /* a longer line is an error */
#define CRONTAB_COMMAND_MAX 998u               /* Debian cron refuses longer (tests/crontab/test_cron_diff.py) */
#define CRONTAB_ERRORS_MAX 1000u                /* errors kept per file (the count is exact) */

enum crontab_format {
        CRONTAB_SYSTEM, /* /etc/crontab, /etc/cron.d: the sixth field is the user */
        CRONTAB_USER,   /* a user's table: no user field, runs as options->user */
};

/* Looks up a user: 0 and (when ret_home is non-NULL) a malloc'd home
 * directory, -ENOENT for an unknown user, other -errno on failure. */
typedef int (*crontab_lookup_t)(const char *user, char **ret_home, void *userdata);

struct crontab_options {
        enum crontab_format format;
        const char *user;        /* CRONTAB_USER: the table's owner (required) */
        crontab_lookup_t lookup; /* NULL: users not checked, HOME/LOGNAME/USER left to the caller */
        void *userdata;
};

struct crontab_entry {
        char *name;         /* stable: "BASE-XXXXXXXX", "-2", "-3" for repeats in file order */
        unsigned line;
        char *schedule;     /* as schedule_parse(SCHEDULE_SYNTAX_CRON) took it: "30 2 * * 1-5", "@daily" */
        struct schedule *sched;
        char *user;
        char *command;      /* up to the first unescaped %, "\%" turned into "%" */
        char *input;        /* stdin (after the first %: "%" -> newline, ending in one); NULL: none */
        char *home;         /* the user's home from the lookup, or NULL (no lookup) */
        /* Borrowed from the crontab (entries under the same VAR= lines share
         * them), valid as long as it: */
        const char *shell;         /* SHELL in effect (default /bin/sh) */
        const char *mailto;        /* MAILTO in effect; NULL unset, "" no mail */
        const char *timezone;      /* CRON_TZ in effect, or NULL */
        char *const *assignments;  /* the file's VAR=value lines in effect, last one per name, in order */
};

struct crontab {
        char *path;
        struct crontab_entry *entries;
        size_t n_entries;
        char **errors;   /* "FILE:LINE: reason", at most CRONTAB_ERRORS_MAX */
        size_t n_errors; /* all of them, also those not kept */
        char ***snapshots; /* owner of the entries' assignments */
        size_t n_snapshots;
};

/* Parses a crontab's text (size bytes, may contain NULs and need not end in
 * a newline). path is used in errors and for the names (its base name,
 * with characters outside [A-Za-z0-9_.-] turned into "_"). Returns 0 and a
 * crontab (possibly with errors and no entries), -EINVAL for bad options,
 * -EFBIG when the text exceeds CRONTAB_SIZE_MAX, or -ENOMEM.
 *
 * Name digest: FNV-1a over the schedule, user, command, stdin and the
 * environment in effect, so an entry keeps its name when other lines
 * change, and a changed entry or one under changed VAR= lines gets a new
 * one. */
int crontab_parse(const char *path, const char *text, size_t size, const struct crontab_options *options,
                  struct crontab **ret);

struct crontab *crontab_free(struct crontab *c);

/* The environment cron gives an entry's command: SHELL=/bin/sh,
 * PATH=/usr/bin:/bin, HOME (when looked up), then the assignments in
 * effect, then LOGNAME (the entry's user; a crontab cannot change it).
 * Debian's cron sets no USER. Returns 0 and a malloc'd strv, or -ENOMEM. */
int crontab_entry_environment(const struct crontab_entry *e, char ***ret);
static inline void crontab_freep(struct crontab **p) { crontab_free(*p); }

/* A crontab_lookup_t over getpwnam_r(). */
int crontab_lookup_passwd(const char *user, char **ret_home, void *userdata);

/* True if name may be read from a /etc/cron.d-like directory: letters,
 * digits, "_" and "-" only (run-parts' rule; no dots). */
bool crontab_dir_name_valid(const char *name);

/* cron.allow / cron.deny as Debian's crontab(1) applies them when a user
 * installs a table. Debian's cron daemon does not apply them to the
 * tables it reads (tests/crontab/test_cron_diff.py: a user listed in
 * cron.deny keeps running a table already in the spool), so a loader that
 * wants cron's behaviour does not filter with this. Root always; if allow_text
 * (the contents of /etc/cron.allow, NULL when the file does not exist) is
 * given, only the users listed in it; else not the users listed in
 * deny_text (NULL: no file). One user per line, surrounding blanks
 * ignored. */
bool crontab_user_allowed(const char *user, const char *allow_text, const char *deny_text);

/* Reads fd to its end: 0 and a malloc'd buffer (not NUL-terminated) and
 * its size, -EFBIG past CRONTAB_SIZE_MAX, other -errno. */
int crontab_read_fd(int fd, char **ret, size_t *ret_size);

/* Opens and reads one crontab with Debian cron's file rules: dirfd/name as
 * for openat(2) (AT_FDCWD and a path work). CRONTAB_SYSTEM: a regular file
 * (or a symlink to one, both owned by root) owned by root, not group- or
 * other-writable, one hard link. CRONTAB_USER: options->user must exist
 * (through options->lookup, or getpwnam_r when NULL), the file must be a
 * regular file (no symlink) owned by that user or by root (Debian's cron
 * loads both), mode 0600, one hard link.
 * display is the path named in errors (NULL: name). Returns 0 and the
 * parsed crontab; a refused file returns -EPERM/-ENOENT/-EFBIG/... and a
 * malloc'd "PATH: reason" in *ret_reason (when non-NULL). */
int crontab_load(int dirfd, const char *name, const char *display, const struct crontab_options *options,
                 struct crontab **ret, char **ret_reason);
/* crontab_load() without the parse: the same checks, then 0 and the
 * file's text (malloc'd, not NUL-terminated) and size. */
int crontab_load_text(int dirfd, const char *name, const char *display, const struct crontab_options *options,
                      char **ret_text, size_t *ret_size, char **ret_reason);
