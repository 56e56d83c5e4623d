/* config.h - the configuration: /etc/evd.conf and its includes parsed with
 * inih into a new, immutable struct config. Every error carries its file and
 * line; a configuration with any error is never returned.
 *
 * A struct config and its job definitions are immutable after config_load()
 * returns. The definitions of one configuration are one array, their
 * strings and vectors packed in the configuration's arena (equal strings
 * stored once). job_def_ref()/job_def_unref() count references to the
 * owning configuration, so a run in flight keeps the definition it started
 * with (and the configuration around it) across a reload.
 *
 * Thread: config_load() and config_load_string() may run on any thread, two
 * at once included (no process-wide state; see config.c). The counting
 * (job_def_ref/unref, config_free) is not atomic: once a configuration is
 * handed to the main loop, only the main thread counts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "arena.h"
#include "util.h"

struct schedule;

enum overlap_policy {
        OVERLAP_SKIP,
        OVERLAP_QUEUE,
        OVERLAP_PARALLEL,
        OVERLAP_REPLACE,
};

enum schedule_kind {
        SCHEDULE_EVERY,
        SCHEDULE_CALENDAR,
        SCHEDULE_CRON,
};

/* At most this many environment= variables per job. */
#define CONFIG_ENVIRONMENT_MAX 4096u

/* The most limit_nofile= accepts (the kernel's default fs.nr_open). */
#define CONFIG_LIMIT_NOFILE_MAX 1048576u

struct config;

enum alert_mode {
        ALERT_MODE_CHANGE,      /* alert = change: on entering a failure episode and on recovery */
        ALERT_MODE_EVERY,       /* alert = every: each failed run (after its retries) */
};

enum mail_on {
        MAIL_ON_FAILURE,        /* failure, overdue and recovery alerts */
        MAIL_ON_OUTPUT,         /* those, and every run that printed (cron's MAILTO) */
        MAIL_ON_ALWAYS,         /* those, and every run */
};

/* on_failure= / on_recovery=: as written ("" when given empty: off) and split. */
struct alert_hook {
        char *command;          /* NULL: not given */
        char **argv;            /* NULL when off or not given */
};

/* hook_user=: the user hooks run as ("" given empty: the job's user). */
struct alert_user {
        char *name;             /* NULL: not given */
        char *home, *shell_path;
        uid_t uid;
        gid_t gid;
};

/* The alert keys of one section, [daemon] (the defaults) or a job: a key
 * not given is unset (NULL, -1), so a job's own block is laid over the
 * [daemon] one (job_def_alerts()). Few jobs set them and those that do
 * often share them: a job's block is in the arena, shared with the
 * previous job's when equal, and reached through its extras. */
struct job_alerts {
        struct alert_hook on_failure, on_recovery;
        struct alert_user hook_user;
        char *mail_to;          /* as written; NULL: not given; "": off */
        char **mail_to_list;    /* mail_parse_addresses(); NULL when off or not given */
        char *mail_from;        /* NULL: not given */
        int alert;              /* enum alert_mode; -1: not given */
        int mail_on;            /* enum mail_on; -1: not given */
};

/* The keys most jobs leave at their defaults (the time zone; how the
 * command runs: user, group, directory, environment, limits): one block
 * shared by every job of a configuration that sets none of them, and one
 * shared by consecutive jobs that set the same ones, in the arena, so a job
 * costs a pointer for them. Immutable like the rest. */
struct job_extras {
        char *timezone;         /* NULL: system zone */
        char *user;             /* NULL: run as evd's own user */
        char *group;            /* NULL: user's primary group */
        char *home, *shell_path; /* from the user's passwd entry, when user is set */
        char *working_directory;        /* NULL: "/" (or the user's home when user is set) */
        char **environment;             /* "KEY=VALUE", later keys already won, NULL-terminated */
        uid_t uid;
        gid_t gid;
        unsigned limit_nofile;  /* the run's soft RLIMIT_NOFILE (spawn caps it at the hard limit); 0: SPAWN_NOFILE_DEFAULT */
        int nice;
        bool nice_set;
        bool crontab;           /* the job is a crontab entry ([crontabs]), not a [job:NAME] section */
        const struct job_alerts *alerts; /* the job's own alert keys; NULL: none given */
};

/* Strings and vectors point into the owning configuration's arena. */
struct job_def {
        /* Ordered by size, so the struct has no holes: it is the bulk of a
         * large configuration's memory (112 bytes). */
        struct config *config;  /* the owner: references count on it */

        char *name;             /* [A-Za-z0-9_.-]+ */
        char *file;             /* where its [job:NAME] section is */
        char *command;          /* as written */
        char **argv;            /* split command, or {"/bin/sh","-c",command} when shell */

        char *schedule_text;             /* calendar/cron expression as written */
        struct schedule *calendar;       /* SCHEDULE_CALENDAR / SCHEDULE_CRON */
        const struct job_extras *extras; /* never NULL (shared, see above) */

        usec_t every;           /* SCHEDULE_EVERY */
        usec_t jitter;          /* 0: none */
        usec_t timeout;         /* USEC_INFINITY: none */
        usec_t retry_delay;

        unsigned line;
        enum overlap_policy overlap;
        unsigned retries;

        uint8_t schedule;       /* enum schedule_kind */
        bool shell;
        bool persistent;
        bool enabled;
};

/* One crontab read for a configuration ([crontabs]). */
struct config_crontab_file {
        char *path;             /* as named in errors and in the jobs' file= */
        char *user;             /* a users= table: its owner; NULL: system format */
        char *text;             /* what was parsed, kept: a later version that cannot be read leaves this one */
        size_t size;
        bool changed;           /* new, or different from the base configuration's (config_load_base()) */
};

/* [crontabs] (config_crontab.c): where the tables are, the evd options
 * every crontab job gets, and what was read. */
struct config_crontabs {
        char **system;          /* system=: files or directories (system format, user field) */
        char *users;            /* users=: one file per user, or NULL */
        struct job_def defaults;        /* timeout, overlap, jitter, retries, retry_delay of every entry */
        struct job_alerts alerts;       /* the alert keys of every entry (unset: -1/NULL), MAILTO laid over them */
        bool alerts_given;
        struct config_crontab_file *files;
        size_t n_files;
        char **warnings;        /* "FILE:LINE: reason": lines and files refused (not fatal) */
        char **news;            /* those not about a table unchanged since the base configuration */
        size_t n_jobs;          /* jobs made from crontab entries */
};

struct config {
        unsigned refcount;              /* this pointer's owner, plus job_def_ref()s */
        struct arena arena;             /* every string and vector of the configuration */

        char *path;                     /* the main file */
        unsigned workers;               /* default 4 */
        usec_t shutdown_timeout;        /* default 30s */
        usec_t kill_grace;              /* default 5s */
        char *state_directory;          /* NULL: not set in the file */
        char *control_group;            /* NULL: root only */
        gid_t control_gid;
        struct job_alerts *alert_defaults;      /* [daemon]'s alert keys; NULL: none given */
        char *sendmail;                         /* as written; NULL: /usr/sbin/sendmail */
        char **sendmail_argv;                   /* split, NULL: the default */

        struct job_def *defs;           /* the definitions, sorted by name */
        struct schedule **schedules;    /* parsed cron expressions, freed with the configuration (calendar
                                         * ones are in the arena); jobs with the same text share one */
        size_t n_schedules;
        struct job_def **jobs;          /* &defs[i], for callers that want pointers */
        size_t n_jobs;
        struct config_crontabs *crontabs; /* [crontabs]; NULL: none */
        uint64_t files_digest;          /* of the evd.conf files read (names and texts, in order) */
};

/* Loads path (and its includes). Any thread; loads may run concurrently.
 * On success returns 0 and *ret (holding one reference). On a
 * configuration error returns -EINVAL and appends one "PATH:LINE: message"
 * string per error to *errors (a strv the caller frees), in file order.
 * Other failures (out of memory) return another negative errno. */
int config_load(const char *path, struct config **ret, char ***errors);

/* The same, for a reload of a running configuration `base` (NULL: none),
 * which is only read: a crontab that cannot be read now (but still
 * exists) keeps the version base read, and each crontab's `changed` says
 * whether it differs from base's. *ret_files_digest (when non-NULL) is
 * set to what files_digest is for the files read, valid or not. Any
 * thread, base being immutable. */
int config_load_base(const char *path, const struct config *base, struct config **ret, char ***errors,
                     uint64_t *ret_files_digest);

/* The same, from a string (for tests and fuzzing); `name` is used as the
 * file name in messages, includes are resolved relative to the filesystem
 * (relative patterns against `name`'s directory), and no owner or mode
 * checks are made, on `name` or on included files (symbolic links and
 * non-regular included files are still refused). */
int config_load_string(const char *text, const char *name, struct config **ret, char ***errors);

/* Drops the caller's reference; the configuration is freed with the last
 * one (a job_def_ref() on one of its definitions holds one). */
struct config *config_free(struct config *c);
static inline void config_freep(struct config **c) { config_free(*c); }

const struct job_def *config_find_job(const struct config *c, const char *name);

/* A reference to d's configuration (d stays valid until the matching
 * unref). Main thread only, as the count is not atomic. */
struct job_def *job_def_ref(struct job_def *d);
struct job_def *job_def_unref(struct job_def *d);

/* True if two definitions schedule identically (kind, interval or
 * expression text, time zone, jitter, persistent, enabled): a reload keeps
 * such a job's deadline. */
bool job_def_same_schedule(const struct job_def *a, const struct job_def *b);

const char *overlap_policy_to_string(enum overlap_policy p);

/* The alert settings in force for d: its own keys laid over [daemon]'s,
 * the defaults filled in (alert = change, mail_on = failure). Pointers
 * into d's configuration. ret->on_failure.argv etc. NULL: no such hook;
 * ret->mail_to_list NULL: no mail. */
void job_def_alerts(const struct job_def *d, struct job_alerts *ret);
/* True if d has a hook or a mail (its runs keep an output tail). */
bool job_def_has_alerts(const struct job_def *d);
/* The sendmail command of c (default {"/usr/sbin/sendmail", NULL}). */
char *const *config_sendmail_argv(const struct config *c);

/* config_format() flags. */
#define CONFIG_FORMAT_ORIGIN 1u /* a "# from FILE:LINE" comment in each job */

/* c as a configuration file that parses back to the same configuration:
 * [daemon] and every job (sorted, includes merged in) with every key and its
 * value, defaults included, plus comments with what was derived (argv, the
 * normalised schedule, uid and gid). For golden tests, `evd -t` dumps and
 * the fuzzer's round trip. Returns 0 and a malloc'd string, or -ENOMEM. */
int config_format(const struct config *c, unsigned flags, char **ret);
