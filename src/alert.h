/* alert.h - telling someone that a job failed, recovered or is overdue:
 * the on_failure / on_recovery hooks and the mail (mail_to), queued on the
 * main thread and carried out off the loop.
 *
 * The decision (when a job enters or leaves a failure episode) is the job
 * state machine's (job.c: JOB_ACT_ALERT_*); the scheduler turns its
 * actions into sched_alert() calls (sched_alert.c, declared in
 * sched_private.h), which build a struct alert_request and hand it to the
 * executor here.
 *
 * The executor: a bounded queue on the main thread's side and
 * ALERT_WORKERS threads of its own (never the run pool: an alert never
 * takes a job's worker), each carrying out one request at a time, so at
 * most ALERT_WORKERS hooks or sendmails run at once. At most
 * ALERT_RATE_PER_MINUTE requests are accepted in any 60 seconds and at
 * most ALERT_QUEUE_MAX wait; the excess is dropped, counted, and the count
 * logged once a minute ("dropped N alerts in the last minute"): 10,000
 * jobs failing at once start ALERT_WORKERS processes at a time and
 * ALERT_RATE_PER_MINUTE in a minute, never 10,000.
 *
 * A hook runs like a run (run_execute(): its own session and process
 * group, the job's timeout=, the job's user= unless hook_user=, the job's
 * environment=, output to the journal), with the EVD_* facts added to its
 * environment and the tail of the run's output on its stdin. A hook's own
 * failure is logged, never retried and never alerted on.
 *
 * Threads: alert_limiter_* and alert_request_* are pure (any thread, the
 * caller's own objects). alert_executor_* are main thread only; the
 * executor's threads touch only the request they took. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "util.h"

struct job_def;
struct run;

enum alert_kind {
        ALERT_FAILURE,          /* a run failed after its retries (alert=change: the first of an episode) */
        ALERT_RECOVERY,         /* the first success after a failure or overdue episode */
        ALERT_OVERDUE,          /* expect_success_within passed without a success (no run) */
        ALERT_RUN,              /* a run ended that raised neither of the above: only a mail with
                                 * mail_on=output (if it printed) or mail_on=always; never a hook */
        _ALERT_KIND_MAX,
};

/* Defaults (documented in evd.conf(5), ALERTS). */
#define ALERT_WORKERS 2                 /* hooks and sendmails running at once */
#define ALERT_RATE_PER_MINUTE 60        /* accepted in any 60 seconds */
#define ALERT_QUEUE_MAX 256             /* waiting for a free alert thread */
#define ALERT_TIMEOUT_DEFAULT (10 * USEC_PER_MINUTE) /* a hook's or sendmail's time limit when the job has no timeout= */
/* At most this much of a run's output (its end) is kept for its alerts. */
#define ALERT_OUTPUT_MAX (64u * 1024u)

/* "failure", "recovery", "overdue", "run" (the journal's EVD_ALERT=). */
const char *alert_kind_to_string(enum alert_kind k);

/* ---- the rate limit (pure; a fake clock in tests) ---- */

/* At most `rate` admissions in any `window`: the times of the last `rate`
 * admissions in a ring. Drops are counted for the once-a-minute report. */
struct alert_limiter {
        usec_t *ring;           /* rate entries, oldest at ring[next] */
        unsigned rate, next;
        usec_t window;
        uint64_t dropped;       /* since the last alert_limiter_take_dropped() */
};

int alert_limiter_init(struct alert_limiter *l, unsigned rate, usec_t window);
void alert_limiter_done(struct alert_limiter *l);
/* True (and counted as admitted) if one more may go at now; false counts a drop. */
bool alert_limiter_admit(struct alert_limiter *l, usec_t now);
/* Counts a drop for another reason (queue full, shutting down). */
void alert_limiter_drop(struct alert_limiter *l);
/* The drops since the last call (and resets the count). */
uint64_t alert_limiter_take_dropped(struct alert_limiter *l);

/* ---- one alert ---- */

/* The facts of one alert, built on the main thread by sched_alert(). */
struct alert_request {
        struct alert_request *next;
        enum alert_kind kind;
        struct job_def *def;    /* a reference (job_def_ref), dropped on the main thread */
        uint64_t run;           /* 0: none (overdue) */
        unsigned attempt;       /* 0: none */
        const char *result;     /* EVD_RESULT: exit-code, signal, timeout, spawn-failed, overdue, success */
        char result_text[160];  /* as logged: "exit status 3", ... */
        int exit_status;        /* < 0: none (killed, not started, overdue) */
        usec_t duration;        /* 0 with no run */
        usec_t start;           /* realtime of the run's start; 0: none */
        usec_t last_success;    /* realtime; 0: never */
        char *output;           /* the run's last output (malloc'd, at most ALERT_OUTPUT_MAX), or NULL */
        size_t output_len;
        bool run_hook;          /* run on_failure (FAILURE, OVERDUE) or on_recovery (RECOVERY) */
        bool send_mail;         /* send the mail to mail_to */
        usec_t queued;          /* CLOCK_MONOTONIC when accepted */
};

struct alert_request *alert_request_free(struct alert_request *a);

/* The hook's extra environment: EVD_JOB, EVD_RUN, EVD_RESULT,
 * EVD_EXIT_STATUS, EVD_DURATION_USEC, EVD_ATTEMPT, EVD_LAST_SUCCESS (ISO
 * 8601 in UTC, or empty), EVD_HOSTNAME, EVD_ALERT; appended to *env
 * (a strv). 0 or -ENOMEM. */
int alert_hook_environment(const struct alert_request *a, const char *hostname, char ***env);

/* ---- the executor ---- */

struct alert_executor;
struct alert_worker {
        pthread_t thread;
        struct alert_executor *executor;
        int wake_fd;                    /* eventfd: cancels the hook it runs */
        struct run *hook;               /* under lock: the hook it runs, NULL if none */
};

struct alert_executor {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct alert_request *head, *tail;      /* under lock: waiting */
        size_t n_queued;                        /* under lock */
        unsigned n_busy;                        /* under lock: requests being carried out */
        bool stopping;                          /* under lock */
        usec_t stop_deadline;                   /* under lock: CLOCK_MONOTONIC; requests not started by then are dropped */
        uint64_t n_abandoned;                   /* under lock: dropped at shutdown */
        struct alert_request *done;             /* under lock: carried out, for the main thread to free */

        struct loop_source source;              /* eventfd: requests are done */
        struct loop *loop;
        struct alert_worker workers[ALERT_WORKERS];
        size_t n_workers;

        struct alert_limiter limiter;           /* main thread */
        uint64_t sent, dropped_total;           /* main thread */
        /* Carries out one request; alert_execute() unless a test replaces it. */
        void (*execute)(struct alert_worker *w, struct alert_request *a);
};

/* loop may be NULL (tests: then alert_executor_collect() by hand). */
int alert_executor_init(struct alert_executor *x, struct loop *l, unsigned rate_per_minute);
/* Main thread: queues a (taking it) or drops it (rate limit, queue full,
 * stopping: freed, counted). Returns true if queued. */
bool alert_submit(struct alert_executor *x, struct alert_request *a, usec_t now);
/* Main thread: frees the requests that are done (drops their references). */
size_t alert_executor_collect(struct alert_executor *x);
/* Main thread: the drops since the last call (for the minute's report). */
uint64_t alert_executor_take_dropped(struct alert_executor *x);
/* Main thread, at shutdown: waits until the queue is carried out or until
 * deadline (CLOCK_MONOTONIC); then what has not started is dropped and
 * running hooks are ended (SIGTERM to their group, SIGKILL after
 * kill_grace); a sendmail in flight ends at its own timeout. Joins the
 * threads and frees everything. Safe on a zeroed executor. Returns how
 * many queued alerts were dropped (logged). */
uint64_t alert_executor_stop(struct alert_executor *x, usec_t deadline);

/* A worker's body: runs the hook and/or sends the mail of one request. */
void alert_execute(struct alert_worker *w, struct alert_request *a);
