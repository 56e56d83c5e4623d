/* sched.h - the scheduler: every job's runtime state, its deadlines, the
 * overlap policy, the `workers` limit, reload and graceful shutdown.
 *
 * A job's life (logged at debug level at every transition):
 *
 *   idle --due--> (overlap check) --start--> waiting (for a worker)
 *   waiting --worker free--> running --done--> idle | retry-wait
 *   retry-wait --retry_delay * 2^(n-1)--> (overlap check) ...
 *
 * overlap= decides what a due run does while another run of the job is
 * active: skip (dropped, logged), queue (at most one start waits for the
 * active run to end), parallel (starts anyway), replace (the active runs
 * are terminated; the new run starts when they are gone). A retry is a
 * start request like any other and obeys the same rule; a scheduled run
 * supersedes a pending retry.
 *
 * Owns: struct job, the job table, both timer clocks, the worker pool.
 * Main thread only, except what the pool's workers do with a run. */
#pragma once

#include "config.h"
#include "loop.h"
#include "pool.h"
#include "run.h"
#include "state.h"
#include "timer.h"

enum job_state {
        JOB_IDLE,
        JOB_WAITING,            /* a run waits for a free worker */
        JOB_RUNNING,
        JOB_RETRY_WAIT,
        JOB_DISABLED,
        JOB_PAUSED,             /* scheduled runs are skipped; evdctl run still works */
};

enum start_outcome {
        START_STARTED,          /* started, or waiting for a free worker */
        START_QUEUED,           /* waits for the active run (overlap=queue/replace) */
        START_SKIPPED,          /* overlap=skip, or paused */
        START_REFUSED,          /* shutting down */
};

struct job {
        struct sched *sched;
        struct job_def *def;            /* current definition (a reference) */
        struct timer timer;             /* next scheduled run (jitter included) */
        struct timer retry_timer;
        usec_t next_elapse;             /* the schedule's own time, before jitter; timer's clock */
        usec_t last_elapse;             /* realtime of the last calendar elapse handled */
        unsigned retry_attempt;         /* attempt number the retry timer will start */

        struct run *active;             /* runs waiting or running (run->job_next) */
        unsigned n_active, n_running;
        bool start_queued;              /* overlap=queue/replace: a start waits */
        unsigned queued_attempt;
        bool removed;                   /* dropped by a reload, runs still active */

        /* History. */
        uint64_t n_runs, n_failures, n_skipped;
        unsigned consecutive_failures;
        usec_t last_start;              /* realtime, 0 = never */
        usec_t last_due;                /* realtime of the last start request (persisted) */
        bool paused;
        usec_t last_duration;
        bool last_ok;
        char last_result[160];         /* the end of the last run, as logged (cut to fit) */
};

struct sched_stats {
        uint64_t runs_started, runs_failed, runs_skipped, runs_queued, retries, orphans_reaped;
        uint64_t reloads, reload_failures, pause_changes;
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

        char *state_dir;                /* NULL: no persistence */
        struct state_writer state_writer;
        struct state saved;             /* as loaded at start */

        uint64_t rng;
        usec_t started_realtime;
        struct sched_stats stats;
};

/* Takes ownership of config. */
int sched_init(struct sched *s, struct loop *l, struct config *config, const char *config_path);
/* Loads the saved state from dir and starts its writer; a failure is a
 * warning (persistent= then has no history). Call before sched_start. */
void sched_use_state_directory(struct sched *s, const char *dir);
/* Arms every job's timer and the watchdog; call once before the loop runs. */
int sched_start(struct sched *s);
/* Re-reads the configuration. On errors they are logged (and appended to
 * *errors when non-NULL) and nothing changes: returns -EINVAL. While
 * shutting down it does nothing and returns -ESHUTDOWN (with a message in
 * *errors). */
int sched_reload(struct sched *s, char ***errors);
/* Graceful shutdown; a second call ends the running runs at once. The loop
 * quits when the last run is gone. */
void sched_shutdown(struct sched *s);
/* After the loop has quit: joins the workers and frees everything. */
void sched_done(struct sched *s);
/* Reaps exited orphans (SIGCHLD). */
/* The system time zone changed (tzwatch): recompute every calendar and
 * cron deadline as after a step of the wall clock. */
void sched_wall_clock_changed(struct sched *s);
void sched_reap_orphans(struct sched *s);
/* Starts a run now (evdctl run), honouring overlap. -ENOENT: no such job,
 * -ESHUTDOWN: shutting down. */
int sched_run_now(struct sched *s, const char *name, enum start_outcome *ret);
const char *start_outcome_to_string(enum start_outcome o);
/* Pauses or resumes a job (saved in the state file, so it survives reloads
 * and restarts). Returns 1 if changed, 0 if it already was, -ENOENT. */
int sched_set_paused(struct sched *s, const char *name, bool paused);
/* The job's next n run times (realtime); returns how many exist. */
size_t job_next_elapses(const struct job *j, usec_t *out, size_t n);
/* One-line summary for STATUS=. */
char *sched_status_line(struct sched *s, char *buf, size_t size);
/* Called after each loop iteration: re-arms the timerfds, refreshes STATUS=. */
void sched_after_dispatch(void *userdata);

struct job *sched_find_job(struct sched *s, const char *name);
enum job_state job_state(const struct job *j);
const char *job_state_to_string(enum job_state st);
/* Realtime of the job's next run, or USEC_INFINITY. */
usec_t job_next_run_realtime(const struct job *j);
