/* scheduler.h - the scheduler: the glue between the job state machine
 * (job.h), the timers and the worker pool.
 *
 * A job's life is decided by job_handle() (job.c): the scheduler feeds it
 * events (a deadline fired, evdctl run, a run started or ended, pause, a
 * reload's changes, shutdown) and carries out the actions it returns on
 * the timer heaps and the pool, logging each transition at debug level.
 *
 * Files: scheduler.c (job table, events and their actions, runs, start,
 * shutdown), sched_arm.c (computing deadlines and the clock-step policy),
 * sched_reload.c (parsing and the name match on a helper thread, applied on the loop),
 * sched_status.c (STATUS=, the watchdog, the view control reads, counters,
 * sched_verify()), sched_cluster.c (cluster = once: claims, records,
 * fencing; issue 12), sched_side.c (the per-job side records of what few
 * jobs need), sched_run.c (a run's end: the journal line, the job's last
 * result, counters and failure notes). sched_private.h holds what they share.
 *
 * Owns: struct job, the job table, both timer clocks, the worker pool.
 * Main thread only, except what the pool's workers do with a run and what
 * the reload thread does with the configuration it parses. */
#pragma once

#include <pthread.h>

#include "alert.h"
#include "config.h"
#include "job.h"
#include "loop.h"
#include "pool.h"
#include "run.h"
#include "state.h"
#include "timer.h"

struct cluster;
struct cluster_claim_result;

struct job_result {                     /* a run's end, as codes; rendered on demand */
        int32_t status;                 /* exit status, signal, or the spawn errno */
        uint8_t code;                   /* CLD_EXITED/KILLED/DUMPED; 0: failed to start */
        uint8_t step;                   /* sched_step_name(): the spawn step that failed */
        uint8_t ok : 1, timed_out : 1, cancelled : 1;
};

struct job_block {
        struct job *base;
        size_t n, live;                 /* jobs in it, of which not freed yet */
};

/* An armed retry: few jobs have one at a time, so it is allocated when
 * armed and freed when it fires or is dropped; struct job keeps a pointer. */
struct job_retry {
        struct timer timer;
        struct job *job;
        usec_t scheduled;               /* the first attempt's scheduled instant (realtime) */
        usec_t instant;                 /* cluster = once: the instant the retry is of */
};

/* One job's runtime state: 160 bytes on x86-64, its schedule timer (32)
 * included; jobs are allocated in blocks (one per configuration's new
 * jobs), never per event. */
struct job {
        struct sched *sched;
        struct job_def *def;            /* current definition (a reference) */
        struct timer timer;             /* next scheduled run (jitter included) */
        struct job_retry *retry;        /* non-NULL (and armed) iff sm.retry_pending */
        usec_t next_elapse;             /* the schedule's own time, before jitter; timer's clock */
        usec_t last_elapse;             /* realtime of the last calendar elapse handled */
        usec_t last_due;                /* realtime of the last first attempt (persisted) */
        struct run *active;             /* runs waiting or running (run->job_next) */
        struct job_sm sm;               /* the state machine (job.h): counts, flags, state */

        /* History. */
        struct job_result last;
        uint32_t n_runs, n_failures, n_skipped, consecutive_failures;
        uint32_t side;                  /* sched_side.c: s->sides[side - 1]; 0: none (was padding) */
        usec_t last_start;              /* realtime, 0 = never */
        usec_t last_duration;
        /* The last success is not here: job_last_success(). */
};
/* 100,000 jobs must stay under 40 MB of RSS (bench/README.md, figure 4:
 * 38.8 MB at 152 bytes): what most jobs do not use goes in the job's side
 * record (sched_side.c), not here. */
_Static_assert(sizeof(struct job) <= 152, "struct job grew: see bench figure 4's memory budget");

/* The realtime end of j's last successful run; 0: none known. The last
 * run's end when it succeeded, else what the side record kept (the last
 * run's end before a failed run replaced it, or the state file's value
 * for a job with expect_success_within=). */
usec_t job_last_success(const struct job *j);

/* What few jobs need, in the job's side record (sched_side.c) rather than
 * in struct job: a job gets its notes at its first failed run or its
 * first queued start. */
enum job_failure_kind {                 /* how a failed run ended (its metrics result) */
        JOB_FAILED_EXIT_CODE,
        JOB_FAILED_SIGNAL,
        JOB_FAILED_TIMEOUT,
        JOB_FAILED_SPAWN,
        _JOB_FAILED_MAX,
};
struct job_notes {
        uint32_t failed[_JOB_FAILED_MAX];  /* sums to job->n_failures */
        usec_t queued_scheduled;        /* the pending queued start's scheduled instant (realtime) */
};

struct sched_stats {
        uint64_t runs_started, runs_failed, runs_skipped, runs_queued, retries, orphans_reaped;
        uint64_t reloads, reload_failures, pause_changes;
};

typedef void (*sched_reload_fn)(void *userdata, int r, char **errors /* borrowed */);

struct sched_reload_waiter {
        sched_reload_fn done;           /* may be NULL (SIGHUP) */
        void *userdata;
        bool in_parse;                  /* asked before the running parse started */
};

/* The reload helper thread (sched_reload.c). */
struct sched_reloader {
        struct loop_source source;      /* eventfd: a parse is over */
        pthread_t thread;
        bool parsing;                   /* a thread runs (joined when its result is taken) */
        bool again;                     /* a request came after the running parse started */
        bool answering;                 /* waiters are being called back */
        pthread_t freer;                /* frees the configuration a reload replaced */
        bool freeing;                   /* freer runs or is to be joined */
        struct sched_reload_waiter *waiters;
        size_t n_waiters, cap_waiters;
        /* Written by the thread before it signals the eventfd, read by the
         * loop after: the eventfd's write/read order them. */
        char *path;
        struct config *result;
        char **errors;
        int r;
        /* The merge, computed by the thread against `base` (the running
         * configuration when the parse started: immutable, and kept alive
         * since only an applied reload replaces it): plan[k] for the new
         * table's k-th job is MERGE_NONE (a name the running table lacks)
         * or the running index i << 1 | (schedule unchanged). */
        const struct config *base;
        uint32_t *plan;
        void (*hook)(void *ud, const struct config *c);
        void *hook_userdata;
        /* Crontab-triggered parses (sched_reload_crontabs()). */
        bool crontab_only;              /* the running parse: apply only if evd.conf is as base read it */
        bool again_crontab;             /* a crontab change came after the running parse started */
        void (*crontab_hook)(void *ud, const struct config *c);
        void *crontab_hook_userdata;
#ifdef EVD_TEST_HOOKS
        usec_t test_delay_usec;         /* $EVD_TEST_RELOAD_DELAY_MS */
#endif
};

struct sched {
        struct loop *loop;
        struct timer_clock mono;        /* CLOCK_BOOTTIME */
        struct timer_clock wall;        /* CLOCK_REALTIME */
        struct pool pool;
        struct config *config;
        char *config_path;

        struct job **jobs;              /* sorted by name, like config->jobs */
        size_t n_jobs;
        struct job **removed;           /* removed by reload, waiting for their runs */
        size_t n_removed;
        size_t n_failing;               /* jobs (not removed) with consecutive_failures > 0 */
        struct job_block *blocks;       /* where the jobs live (scheduler.c), sorted by address */
        size_t n_blocks;

        struct run *pending_head, *pending_tail;        /* waiting for a worker (run->next) */
        size_t n_pending;
        size_t n_running;               /* submitted to the pool */
        uint64_t next_run_id;

        bool shutting_down;
        struct timer shutdown_timer;
        struct timer watchdog_timer;
        struct timer status_timer;      /* deferred STATUS= refresh for big tables */
        uint64_t status_fingerprint;
        usec_t watchdog_usec;
        size_t verify_cursor;           /* debug builds: sched_verify()'s rotating slice */

        char *state_dir;                /* NULL: no persistence */
        struct state_writer state_writer;
        struct state saved;             /* as loaded at start */
        bool state_dirty;               /* a snapshot is due after this loop iteration */

        struct sched_reloader reloader;

        /* Side records of the jobs that need one (sched_side.c): slot k - 1
         * is the record of the job whose side is k; NULL slots are free. */
        struct job_side **sides;
        uint32_t *free_sides;
        uint32_t n_sides, cap_sides, n_free_sides;

        struct alert_executor alerts;   /* hooks and mails (alert.h) */
        struct timer alert_report_timer; /* a minute after a drop: the count of dropped alerts */

        uint64_t rng;
        usec_t started_realtime;
        struct sched_stats stats;

        /* The start request being fed (DUE, RUN_NOW, RETRY_DUE): the
         * instant it was scheduled for (realtime), set by the caller. */
        usec_t request_scheduled;
        struct sched_metrics *metrics;  /* NULL until metrics are first needed (sched_metrics.c) */
        bool metrics_dirty;             /* a value metrics show may have changed */
        /* cluster = once (issue 12, sched_cluster.c). */
        struct cluster *cluster;        /* NULL: no [cluster] (at start) */
        struct timer fence_timer;       /* mono: the lease's expiry while claimed runs are active */
        size_t n_claimed;               /* claimed runs active (waiting or running) */
        const struct cluster_claim_result *claim_result; /* during the feed of its outcome */
        void *cluster_seen;             /* the last instant of each cluster job seen here */
        size_t n_cluster_seen;
};

/* Takes ownership of config. */
int sched_init(struct sched *s, struct loop *l, struct config *config, const char *config_path);
/* Loads the saved state from dir and starts its writer; a failure is a
 * warning (persistent= then has no history). Call before sched_start. */
void sched_use_state_directory(struct sched *s, const char *dir);
/* Arms every job's timer and the watchdog; call once before the loop runs. */
int sched_start(struct sched *s);
/* Asks for a reload: the configuration is parsed on a helper thread and
 * applied on the loop. done (may be NULL, as for SIGHUP) is called on the
 * loop when the new configuration has been applied (r = 0) or refused
 * (r = -EINVAL with errors, -ENOMEM with one message, or -ESHUTDOWN with
 * one message). errors is borrowed for the call. A request made while a parse
 * runs gets the result of the next parse (one more, for all such
 * requests). Returns 0 or -errno (then done is never called). */
int sched_reload_request(struct sched *s, sched_reload_fn done, void *userdata);
/* A crontab changed (the crontab watch): the same parse and merge as a
 * reload, but applied only when evd.conf and its included files are as
 * the running configuration read them (the hash of their names and texts,
 * struct config.files_digest): an edit of evd.conf that was not reloaded
 * is never applied behind the administrator's back. Otherwise nothing
 * changes and a warning says that `evdctl reload` applies both. Coalesced
 * with other requests; a full reload covers it. 0 or -errno. */
int sched_reload_crontabs(struct sched *s);
/* Called on the loop after every applied reload (the crontab watch's
 * hook; sched_set_reload_hook() is control's). */
void sched_set_crontab_hook(struct sched *s, void (*fn)(void *ud, const struct config *c), void *ud);
/* The waiter went away (client disconnected): never call it. */
void sched_reload_forget(struct sched *s, void *userdata);
/* Called on the loop after every applied reload. One hook. */
void sched_set_reload_hook(struct sched *s, void (*fn)(void *ud, const struct config *c), void *ud);
/* Graceful shutdown; a second call ends the running runs at once. The loop
 * quits when the last run is gone. */
void sched_shutdown(struct sched *s);
/* After the loop has quit: joins the workers and frees everything. */
void sched_done(struct sched *s);
/* The system time zone changed (tzwatch): recompute every calendar and
 * cron deadline as after a step of the wall clock. */
void sched_wall_clock_changed(struct sched *s);
/* Reaps exited orphans (SIGCHLD). */
void sched_reap_orphans(struct sched *s);
/* Starts a run now (evdctl run), honouring overlap. -ENOENT: no such job,
 * -ESHUTDOWN: shutting down. */
int sched_run_now(struct sched *s, const char *name, enum start_outcome *ret);
/* Pauses or resumes a job (saved in the state file, so it survives reloads
 * and restarts). Returns 1 if changed, 0 if it already was, -ENOENT. */
int sched_set_paused(struct sched *s, const char *name, bool paused);
/* The job's next n run times (realtime); returns how many exist. */
size_t job_next_elapses(const struct job *j, usec_t *out, size_t n);
/* One-line summary for STATUS=. O(1) but for the heaps' few non-job tops. */
char *sched_status_line(struct sched *s, char *buf, size_t size);
/* Called after each loop iteration: writes a due state snapshot, re-arms
 * the timerfds, refreshes STATUS=, checks invariants (debug builds). */
void sched_after_dispatch(void *userdata);
/* Debug builds: every invariant of the job table, its counters and the
 * heaps (a rotating slice of a very large table); aborts on a violation. */
void sched_verify(struct sched *s);

struct job *sched_find_job(struct sched *s, const char *name);
static inline enum job_state job_state(const struct job *j) { return (enum job_state)j->sm.state; }
/* Realtime of the job's next run, or USEC_INFINITY. */
usec_t job_next_run_realtime(const struct job *j);
/* "exit status 3", "killed by signal TERM", "failed to start: chdir: ..." */
char *job_describe_result(const struct job *j, char *buf, size_t size);

/* ---- the read-only view control uses ---- */

struct job_view {               /* a snapshot, filled on request */
        const struct job_def *def;
        const char *state;      /* the state machine's name for it */
        bool paused;
        unsigned n_running, n_waiting;   /* runs running / waiting for a worker */
        bool start_queued;
        usec_t retry_at;        /* realtime, USEC_INFINITY if none */
        usec_t next_run;        /* realtime incl. jitter, USEC_INFINITY if none */
        uint64_t n_runs, n_failures, n_skipped;
        unsigned consecutive_failures;
        usec_t last_start, last_duration;  /* last_start 0: never ran */
        bool last_ok;
        char last_result[160];  /* rendered on demand: "exit status 3", ... */
        /* The dead-man check and the failure streak (sched_watch.c);
         * realtime, 0: none. deadline: USEC_INFINITY when not armed. */
        bool overdue;
        usec_t expect_success_within, last_success, first_seen, overdue_since, failing_since, deadline;
        uint64_t n_failed[_JOB_FAILED_MAX];     /* failed runs by how they ended (metrics) */
        /* cluster = once: where this node saw the last instant run and its
         * result ("running", "ran there", "exit status 0"); NULL: none seen.
         * Valid until the loop goes on. */
        const char *cluster_node, *cluster_result;
};
size_t sched_job_count(const struct sched *s);
/* i-th job in name order; fills *ret. */
void sched_job_view_at(const struct sched *s, size_t i, struct job_view *ret);
/* -ENOENT if no such job. */
int sched_job_view(const struct sched *s, const char *name, struct job_view *ret);
/* Next n elapses (realtime) of one job; computed for that job only. */
size_t sched_job_next_elapses(const struct sched *s, const char *name, usec_t *out, size_t n);
struct sched_counters {        /* for evdctl stats */
        uint64_t runs_started, runs_completed, runs_failed, runs_skipped, runs_queued,
                 retries, orphans_reaped, reloads, reload_failures, pause_changes,
                 clock_changes;
        size_t n_jobs, running, waiting_for_worker, workers, worker_threads;
};
void sched_get_counters(const struct sched *s, struct sched_counters *ret);
const struct config *sched_config(const struct sched *s);
/* What `evdctl stats` shows of the loop: events per source, timers fired,
 * and when evd started. */
struct sched_event_counters {
        uint64_t events_timer_boottime, events_timer_realtime, events_completion, timers_fired;
        usec_t started_realtime;
};
void sched_get_event_counters(const struct sched *s, struct sched_event_counters *ret);

/* ---- metrics (sched_metrics.c) ---- */

/* Called on the loop with the metrics text (NULL with r < 0 on failure);
 * text is the callee's to free (tens of MB with 100,000 jobs: not to be
 * copied on the loop). */
typedef void (*sched_metrics_fn)(void *userdata, int r, char *text);
/* Renders the metrics of every job and the daemon's counters: a snapshot
 * is taken now, the text is rendered on the metrics thread, and done is
 * called on the loop. openmetrics: OpenMetrics 1.0 text, else the
 * Prometheus text format. Returns 0 or -errno (then done is never called). */
int sched_metrics_request(struct sched *s, bool openmetrics, sched_metrics_fn done, void *userdata);
/* The waiter went away (client disconnected): never call it. */
void sched_metrics_forget(struct sched *s, void *userdata);
/* `evdctl cluster` (issue 12): the nodes and endpoints read from etcd on
 * a cluster worker; done(userdata, code, body) is called on the loop
 * unless sched_cluster_forget(userdata) came first. -ENODEV: evd runs
 * without a cluster. */
int sched_cluster_query(struct sched *s, bool json, void (*done)(void *userdata, int code, const char *body),
                        void *userdata);
void sched_cluster_forget(struct sched *s, void *userdata);
/* `evdctl status JOB` of a cluster job: its last record read from etcd on
 * a cluster worker (as cluster_read_last()). -ENODEV: no cluster, or not
 * a cluster = once job. */
int sched_cluster_read_last(struct sched *s, const char *job,
                            void (*done)(void *userdata, int r, const char *job, const char *node,
                                         const char *result),
                            void *userdata);
#ifdef EVD_TEST_HOOKS
/* Test hook: a step of evd's wall clock by delta (timer_clock_test_step). */
void sched_test_clock_step(struct sched *s, int64_t delta_usec);
#endif
