/* job.h - a job's runtime life as an explicit state machine.
 *
 * Pure: no descriptors, threads, clocks or allocation. The scheduler feeds
 * events into job_handle() and carries out the actions it returns (start a
 * run, arm a retry, cancel runs, ...) on its timers and the worker pool.
 * Every decision about a job's runs lives here: the overlap policy, what a
 * pause, a disable or a removal by reload does to a pending start or retry,
 * when a removed job can be forgotten.
 *
 * States (what `evdctl list` prints):
 *
 *   idle        enabled, not paused, nothing pending
 *   waiting     runs wait for a free worker, none running yet
 *   running     at least one run is running
 *   queued      runs are active and one more start waits for them (overlap=queue/replace)
 *   retry-wait  no run active, a retry is armed
 *   paused      no run active; scheduled runs are skipped, evdctl run still starts
 *   disabled    no run active; enabled = no
 *   removed     dropped by a reload, its runs draining (forgotten when none is left)
 *   stopping    evd is shutting down, its runs draining
 *
 * The state is stored and recomputed by job_handle() only: from the
 * counters (runs waiting/running), the pending start, the pending retry and
 * the flags (paused, enabled, removed, stopping) it set in the transition.
 * Dispatch is a `state x event` table of transition functions (job.c); a
 * pair that cannot happen (a run ending when none runs) is reported as
 * `invalid` and changes nothing.
 *
 * Cluster jobs (issue 12): a scheduled or retry start that would be
 * honoured (not paused, disabled, removed or stopping) is claimed first:
 * JOB_ACT_CLAIM, one more claim in flight (n_claims, the state is
 * unchanged). Its outcome comes back as CLAIM_WON (then the request goes
 * on as DUE's would: overlap= is applied by the node that won, to its own
 * runs), CLAIM_LOST (skipped) or CLAIM_UNDECIDED (skipped, or started per
 * cluster_unreachable = run). evdctl run does not claim. A removed job is
 * forgotten only when no claim of it is in flight either.
 *
 * Any thread may call these on a job_sm it owns; evd calls them on the main
 * thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

enum job_state {
        JOB_IDLE,
        JOB_WAITING,
        JOB_RUNNING,
        JOB_QUEUED,
        JOB_RETRY_WAIT,
        JOB_PAUSED,
        JOB_DISABLED,
        JOB_REMOVED,
        JOB_STOPPING,
        _JOB_STATE_MAX,
};

enum job_event {
        JOB_EV_DUE,             /* the schedule's elapse came */
        JOB_EV_RUN_NOW,         /* evdctl run: works while paused or disabled */
        JOB_EV_RETRY_DUE,       /* the armed retry's delay is over */
        JOB_EV_RUN_STARTED,     /* a worker took one of the waiting runs */
        JOB_EV_RUN_ENDED,       /* a running run is over (args: ok, cancelled, attempt, retries) */
        JOB_EV_PAUSE,
        JOB_EV_RESUME,
        JOB_EV_DISABLE,         /* a reload set enabled = no */
        JOB_EV_ENABLE,          /* a reload set enabled = yes */
        JOB_EV_REMOVE,          /* a reload dropped the job */
        JOB_EV_READD,           /* a reload brought a removed (still draining) job back (args: enabled) */
        JOB_EV_SHUTDOWN,        /* graceful shutdown started */
        JOB_EV_STOP_NOW,        /* shutdown_timeout or a second SIGTERM: end the runs */
        /* Issue 12: the outcome of a claim (JOB_ACT_CLAIM) of a cluster job;
         * args: attempt (the claimed attempt), cluster_run (cluster_unreachable = run). */
        JOB_EV_CLAIM_WON,       /* this node holds the instant: a start request as DUE's */
        JOB_EV_CLAIM_LOST,      /* another node holds it: skipped */
        JOB_EV_CLAIM_UNDECIDED, /* no answer in time, or no lease: cluster_unreachable decides */
        _JOB_EVENT_MAX,
};

enum start_outcome {
        START_STARTED,          /* started, or waiting for a free worker */
        START_QUEUED,           /* waits for the active run (overlap=queue/replace) */
        START_SKIPPED,          /* overlap=skip, or paused */
        START_REFUSED,          /* shutting down, or the job was removed */
};

enum job_skip_reason {
        JOB_SKIP_NONE,
        JOB_SKIP_PAUSED,
        JOB_SKIP_DISABLED,
        JOB_SKIP_OVERLAP,               /* overlap=skip and a run is active */
        JOB_SKIP_ALREADY_QUEUED,        /* overlap=queue and a start already waits */
        JOB_SKIP_REMOVED,
        JOB_SKIP_STOPPING,
        JOB_SKIP_CLAIM_LOST,            /* another node claimed the instant */
        JOB_SKIP_CLAIM_UNDECIDED,       /* the claim was not decided (cluster_unreachable = skip) */
        JOB_SKIP_CLAIMS_BUSY,           /* JOB_CLAIMS_MAX claims of the job are in flight already */
};

/* Actions, a bit set: carried out by the scheduler in this order. */
enum {
        JOB_ACT_STOP_SCHEDULE   = 1u << 0,      /* stop the schedule timer */
        JOB_ACT_ARM_SCHEDULE    = 1u << 1,      /* arm it afresh (enabled again, re-added) */
        JOB_ACT_STOP_RETRY      = 1u << 2,      /* stop the retry timer */
        JOB_ACT_DROP_QUEUED     = 1u << 3,      /* the pending start was dropped (for the log) */
        JOB_ACT_DROP_WAITING    = 1u << 4,      /* drop the runs still waiting for a worker */
        JOB_ACT_CANCEL          = 1u << 5,      /* end the running runs (SIGTERM, SIGKILL after kill_grace) */
        JOB_ACT_SKIP            = 1u << 6,      /* a start request was not honoured (skip) */
        JOB_ACT_QUEUE           = 1u << 7,      /* a start waits for the active runs */
        JOB_ACT_START           = 1u << 8,      /* create a run (start_attempt); it waits for a worker */
        JOB_ACT_ARM_RETRY       = 1u << 9,      /* arm the retry timer: retry_delay, retry_attempt */
        JOB_ACT_SAVE_STATE      = 1u << 10,     /* what the state file keeps changed */
        JOB_ACT_FORGET          = 1u << 11,     /* a removed job with no run left: free it */
        JOB_ACT_CLAIM           = 1u << 12,     /* claim the instant (start_attempt) on a cluster worker */
};

/* Claims of one job in flight at most (a cluster worker bounds each). */
#define JOB_CLAIMS_MAX 255

struct job_sm {                         /* 20 bytes: one per job */
        uint8_t state;                  /* enum job_state */
        bool paused, enabled, removed, stopping;
        bool start_queued, retry_pending;
        uint8_t n_claims;               /* claims in flight (cluster = once), not counted in n_active */
        uint16_t queued_attempt;        /* attempt the pending start will be (retries <= 1000) */
        uint16_t retry_attempt;         /* attempt the pending retry will be */
        uint32_t n_active;              /* runs waiting or running */
        uint32_t n_running;             /* of which running */
};

struct job_event_args {
        enum overlap_policy overlap;    /* start requests: the job's policy */
        /* JOB_EV_RUN_ENDED: the run's own definition and result. */
        unsigned attempt, retries;
        usec_t retry_delay;
        bool ok, cancelled;
        /* JOB_EV_READD: the new definition's enabled=. */
        bool enabled;
        /* Issue 12. DUE, RETRY_DUE: the job is cluster = once, so a start
         * is claimed first (JOB_ACT_CLAIM). CLAIM_UNDECIDED: run anyway. */
        bool cluster, cluster_run;
        /* Not read by the machine: the instant a request or claim is of,
         * carried for the scheduler (realtime, 0: none). */
        usec_t instant;
};

struct job_actions {
        unsigned flags;                 /* JOB_ACT_* */
        uint8_t old_state, new_state;   /* enum job_state */
        bool invalid;                   /* the event cannot happen in this state: nothing changed */
        enum start_outcome outcome;     /* start requests only */
        enum job_skip_reason skip;      /* with JOB_ACT_SKIP */
        unsigned start_attempt;         /* with JOB_ACT_START */
        unsigned retry_attempt;         /* with JOB_ACT_ARM_RETRY */
        usec_t retry_delay;
};

void job_sm_init(struct job_sm *j, bool enabled, bool paused);
/* Feeds one event; *ret is always written. */
void job_handle(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *ret);
/* True if the stored state agrees with the counters and flags. */
bool job_sm_verify(const struct job_sm *j);

/* retry_delay * 2^(attempt-1), doubling stopped once a day is reached. */
usec_t job_retry_delay(usec_t retry_delay, unsigned attempt);

const char *job_state_to_string(enum job_state st);
const char *job_event_to_string(enum job_event ev);
const char *job_skip_reason_to_string(enum job_skip_reason r);
const char *start_outcome_to_string(enum start_outcome o);
