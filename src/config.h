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

/* cluster= of a job (issue 12): every node runs it, or one node per
 * scheduled instant (a claim in etcd, see cluster.h). */
enum cluster_mode {
        CLUSTER_LOCAL,
        CLUSTER_ONCE,
};

/* cluster_unreachable=: what a node does with an instant whose claim could
 * not be decided (etcd unreachable, no lease). */
enum cluster_unreachable {
        CLUSTER_UNREACHABLE_SKIP,
        CLUSTER_UNREACHABLE_RUN,
};

#define CLUSTER_HISTORY_DEFAULT (7 * USEC_PER_DAY)
#define CLUSTER_LEASE_DEFAULT (10 * USEC_PER_SEC)

/* [cluster] (issue 12): in the configuration's arena. */
struct cluster_config {
        char *etcd;             /* the endpoint list as written */
        char **endpoints;       /* normalised "scheme://host:port", NULL-terminated */
        char *name;             /* keys under /evd/NAME/ */
        char *node;             /* this node's name (default: the host name) */
        usec_t lease;           /* the node lease's TTL, whole seconds */
        char *ca_file, *cert_file, *key_file;   /* NULL: not set */
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
        /* Issue 12: cluster = once jobs (the others leave these 0). */
        int cluster;                    /* enum cluster_mode */
        int cluster_unreachable;        /* enum cluster_unreachable */
        usec_t cluster_history;         /* 0: CLUSTER_HISTORY_DEFAULT */
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

        struct job_def *defs;           /* the definitions, sorted by name */
        struct schedule **schedules;    /* parsed cron expressions, freed with the configuration (calendar
                                         * ones are in the arena); jobs with the same text share one */
        size_t n_schedules;
        struct job_def **jobs;          /* &defs[i], for callers that want pointers */
        size_t n_jobs;
        struct cluster_config *cluster; /* NULL: no [cluster] section */
};

static inline bool job_def_cluster_once(const struct job_def *d) {
        return d->extras->cluster == CLUSTER_ONCE;
}
static inline usec_t job_def_cluster_history(const struct job_def *d) {
        return d->extras->cluster_history ? d->extras->cluster_history : CLUSTER_HISTORY_DEFAULT;
}

/* Loads path (and its includes). Any thread; loads may run concurrently.
 * On success returns 0 and *ret (holding one reference). On a
 * configuration error returns -EINVAL and appends one "PATH:LINE: message"
 * string per error to *errors (a strv the caller frees), in file order.
 * Other failures (out of memory) return another negative errno. */
int config_load(const char *path, struct config **ret, char ***errors);

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

/* config_format() flags. */
#define CONFIG_FORMAT_ORIGIN 1u /* a "# from FILE:LINE" comment in each job */

/* c as a configuration file that parses back to the same configuration:
 * [daemon] and every job (sorted, includes merged in) with every key and its
 * value, defaults included, plus comments with what was derived (argv, the
 * normalised schedule, uid and gid). For golden tests, `evd -t` dumps and
 * the fuzzer's round trip. Returns 0 and a malloc'd string, or -ENOMEM. */
int config_format(const struct config *c, unsigned flags, char **ret);
