/* job.c - a job's runtime state machine (see job.h).
 *
 * The table below is the whole policy: one transition function per
 * (state, event). Functions are shared by the states where the event means
 * the same thing; t_invalid marks a pair that cannot happen. After every
 * transition settle() stores the state the counters and flags now say, so
 * the stored state never disagrees with them (job_sm_verify()).
 *
 * Decisions written down here (the first version left them implicit):
 * - A pause drops a pending (queued) start and a pending retry: both were
 *   scheduled-life starts made before the pause. Runs already waiting for
 *   a worker or running go on. evdctl run still starts a paused job, and
 *   may queue a start on it (the administrator asked after the pause).
 * - Disabling by reload and removal by reload drop the pending start, the
 *   pending retry and the runs still waiting for a worker, and stop the
 *   schedule: "no new runs". Running runs finish.
 * - A failed run is retried only while the job is enabled, not paused, not
 *   removed and evd is not stopping; a pending start that follows the end
 *   of the runs supersedes the retry, as a scheduled run does.
 * - A removed job is kept while its runs drain; re-added by name in that
 *   time it is the same job again (its runs, counters and pause), so
 *   overlap= sees the run still going. With no run left it is forgotten.
 * Pure: no descriptors, threads, clocks or allocation. */
#include "job.h"

#include <assert.h>

typedef void (*transition_fn)(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                              struct job_actions *r);

static void settle(struct job_sm *j) {
        enum job_state st;
        if (j->stopping)
                st = JOB_STOPPING;
        else if (j->removed)
                st = JOB_REMOVED;
        else if (j->n_active > 0 && j->start_queued)
                st = JOB_QUEUED;
        else if (j->n_running > 0)
                st = JOB_RUNNING;
        else if (j->n_active > 0)
                st = JOB_WAITING;
        else if (!j->enabled)
                st = JOB_DISABLED;
        else if (j->paused)
                st = JOB_PAUSED;
        else if (j->retry_pending)
                st = JOB_RETRY_WAIT;
        else
                st = JOB_IDLE;
        j->state = (uint8_t)st;
}

bool job_sm_verify(const struct job_sm *j) {
        struct job_sm copy = *j;
        if (j->n_running > j->n_active)
                return false;
        /* A pending start only ever waits for active runs. */
        if (j->start_queued && j->n_active == 0)
                return false;
        /* Nothing new is pending for a job that gets no new runs. */
        if ((j->removed || j->stopping) && (j->start_queued || j->retry_pending))
                return false;
        if ((!j->enabled || j->paused) && j->retry_pending)
                return false;
        if (j->state >= _JOB_STATE_MAX)
                return false;
        settle(&copy);
        return copy.state == j->state;
}

usec_t job_retry_delay(usec_t retry_delay, unsigned attempt) {
        usec_t delay = retry_delay;
        for (unsigned i = 1; i < attempt && delay < USEC_PER_DAY; i++)
                delay *= 2;
        return delay;
}

static void skip(struct job_actions *r, enum job_skip_reason why) {
        r->flags |= JOB_ACT_SKIP;
        r->skip = why;
        r->outcome = why == JOB_SKIP_REMOVED || why == JOB_SKIP_STOPPING ? START_REFUSED : START_SKIPPED;
}

static void start(struct job_sm *j, unsigned attempt, struct job_actions *r) {
        j->n_active++;
        r->flags |= JOB_ACT_START;
        r->start_attempt = attempt;
        r->outcome = START_STARTED;
        if (attempt == 1)
                r->flags |= JOB_ACT_SAVE_STATE; /* the last start is kept for persistent= */
}

static void drop_pending(struct job_sm *j, struct job_actions *r) {
        if (j->start_queued) {
                j->start_queued = false;
                r->flags |= JOB_ACT_DROP_QUEUED;
        }
        if (j->retry_pending) {
                j->retry_pending = false;
                r->flags |= JOB_ACT_STOP_RETRY;
        }
}

static void drop_waiting(struct job_sm *j, struct job_actions *r) {
        if (j->n_active > j->n_running) {
                j->n_active = j->n_running;
                r->flags |= JOB_ACT_DROP_WAITING;
        }
}

/* The part of a start request every state shares; returns false when the
 * request was answered (skipped) already, else the attempt to start. */
static bool request_prelude(struct job_sm *j, enum job_event ev, struct job_actions *r, unsigned *attempt) {
        *attempt = 1;
        if (ev == JOB_EV_RETRY_DUE) {
                j->retry_pending = false;
                *attempt = j->retry_attempt;
        } else if (j->retry_pending) {
                /* A scheduled or manual run supersedes a pending retry. */
                j->retry_pending = false;
                r->flags |= JOB_ACT_STOP_RETRY;
        }
        if (ev == JOB_EV_RUN_NOW)
                return true;
        if (j->paused) {
                skip(r, JOB_SKIP_PAUSED);
                return false;
        }
        if (!j->enabled) {
                skip(r, JOB_SKIP_DISABLED);
                return false;
        }
        return true;
}

/* A cluster job's scheduled or retry start: claimed first (issue 12). */
static bool claim_first(struct job_sm *j, enum job_event ev, const struct job_event_args *a, unsigned attempt,
                        struct job_actions *r) {
        if (!a->cluster || ev == JOB_EV_RUN_NOW)
                return false;
        if (j->n_claims >= JOB_CLAIMS_MAX) {
                skip(r, JOB_SKIP_CLAIMS_BUSY);
                return true;
        }
        j->n_claims++;
        r->flags |= JOB_ACT_CLAIM;
        r->start_attempt = attempt;
        r->outcome = START_STARTED;
        return true;
}

static void request_overlap(struct job_sm *j, const struct job_event_args *a, unsigned attempt,
                            struct job_actions *r);

/* A start request while no run is active. */
static void t_request_idle(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                           struct job_actions *r) {
        unsigned attempt;
        if (request_prelude(j, ev, r, &attempt) && !claim_first(j, ev, a, attempt, r))
                start(j, attempt, r);
}

/* A start request while runs are active: overlap= decides. */
static void t_request_active(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                             struct job_actions *r) {
        unsigned attempt;
        if (request_prelude(j, ev, r, &attempt) && !claim_first(j, ev, a, attempt, r))
                request_overlap(j, a, attempt, r);
}

static void request_overlap(struct job_sm *j, const struct job_event_args *a, unsigned attempt,
                            struct job_actions *r) {
        if (j->n_active == 0) {
                start(j, attempt, r);
                return;
        }
        switch (a->overlap) {
        case OVERLAP_SKIP:
                skip(r, JOB_SKIP_OVERLAP);
                return;
        case OVERLAP_QUEUE:
                if (j->start_queued) {
                        skip(r, JOB_SKIP_ALREADY_QUEUED);
                        return;
                }
                j->start_queued = true;
                j->queued_attempt = (uint16_t)attempt;
                r->flags |= JOB_ACT_QUEUE;
                r->outcome = START_QUEUED;
                return;
        case OVERLAP_PARALLEL:
                start(j, attempt, r);
                return;
        case OVERLAP_REPLACE:
                drop_waiting(j, r);
                if (j->n_running == 0) {
                        j->start_queued = false;
                        start(j, attempt, r);
                        return;
                }
                r->flags |= JOB_ACT_CANCEL;
                j->start_queued = true;
                j->queued_attempt = (uint16_t)attempt;
                r->flags |= JOB_ACT_QUEUE;
                r->outcome = START_QUEUED;
                return;
        }
        assert(!"unknown overlap policy");
}

/* A claim's outcome (issue 12): a won claim is a start request of the
 * claimed attempt, checked again against what happened meanwhile (pause,
 * disable, removal, shutdown, runs started). */
static void t_claim_outcome(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                            struct job_actions *r) {
        j->n_claims--;
        if (j->stopping || j->removed) {
                skip(r, j->stopping ? JOB_SKIP_STOPPING : JOB_SKIP_REMOVED);
                if (j->removed && j->n_active == 0 && j->n_claims == 0)
                        r->flags |= JOB_ACT_FORGET;
        } else if (ev == JOB_EV_CLAIM_LOST)
                skip(r, JOB_SKIP_CLAIM_LOST);
        else if (ev == JOB_EV_CLAIM_UNDECIDED && !a->cluster_run)
                skip(r, JOB_SKIP_CLAIM_UNDECIDED);
        else if (j->paused)
                skip(r, JOB_SKIP_PAUSED);
        else if (!j->enabled)
                skip(r, JOB_SKIP_DISABLED);
        else {
                /* As a scheduled run supersedes a pending retry. */
                if (j->retry_pending) {
                        j->retry_pending = false;
                        r->flags |= JOB_ACT_STOP_RETRY;
                }
                request_overlap(j, a, a->attempt ? a->attempt : 1, r);
        }
}

static void t_refuse(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        (void)a;
        skip(r, j->stopping ? JOB_SKIP_STOPPING : JOB_SKIP_REMOVED);
}

static void t_run_started(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                          struct job_actions *r) {
        (void)ev;
        (void)a;
        if (j->n_running >= j->n_active) {
                r->invalid = true;
                return;
        }
        j->n_running++;
}

static void t_run_ended(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        if (j->n_running == 0) {
                r->invalid = true;
                return;
        }
        j->n_running--;
        j->n_active--;
        bool live = !j->stopping && !j->removed;
        if (live && j->start_queued && j->n_active == 0) {
                /* The pending start supersedes a retry of this run. */
                j->start_queued = false;
                start(j, j->queued_attempt, r);
        } else if (live && j->enabled && !j->paused && !a->ok && !a->cancelled && a->attempt <= a->retries) {
                j->retry_pending = true;
                j->retry_attempt = (uint16_t)(a->attempt + 1);
                r->flags |= JOB_ACT_ARM_RETRY;
                r->retry_attempt = j->retry_attempt;
                r->retry_delay = job_retry_delay(a->retry_delay, a->attempt);
        }
        if (j->removed && j->n_active == 0 && j->n_claims == 0)
                r->flags |= JOB_ACT_FORGET;
}

static void t_pause(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)a;
        bool paused = ev == JOB_EV_PAUSE;
        if (j->paused == paused)
                return;
        j->paused = paused;
        if (paused)
                drop_pending(j, r);
        r->flags |= JOB_ACT_SAVE_STATE;
}

static void t_disable(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        (void)a;
        if (!j->enabled)
                return;
        j->enabled = false;
        r->flags |= JOB_ACT_STOP_SCHEDULE;
        drop_pending(j, r);
        drop_waiting(j, r);
}

static void t_enable(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        (void)a;
        if (j->enabled)
                return;
        j->enabled = true;
        r->flags |= JOB_ACT_ARM_SCHEDULE;
}

/* Removal by reload and shutdown: no new runs, running runs drain. */
static void t_wind_down(struct job_sm *j, enum job_event ev, const struct job_event_args *a,
                        struct job_actions *r) {
        (void)a;
        r->flags |= JOB_ACT_STOP_SCHEDULE;
        drop_pending(j, r);
        drop_waiting(j, r);
        if (ev == JOB_EV_SHUTDOWN)
                j->stopping = true;
        else {
                j->removed = true;
                if (j->n_active == 0 && j->n_claims == 0)
                        r->flags |= JOB_ACT_FORGET;
        }
}

static void t_readd(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        j->removed = false;
        j->enabled = a->enabled;
        if (j->enabled)
                r->flags |= JOB_ACT_ARM_SCHEDULE;
}

static void t_stop_now(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)ev;
        (void)a;
        if (j->n_running > 0)
                r->flags |= JOB_ACT_CANCEL;
}

static void t_nothing(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)j;
        (void)ev;
        (void)a;
        (void)r;
}

static void t_invalid(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        (void)j;
        (void)ev;
        (void)a;
        r->invalid = true;
}

/* Columns: DUE RUN_NOW RETRY_DUE RUN_STARTED RUN_ENDED PAUSE RESUME DISABLE
 * ENABLE REMOVE READD SHUTDOWN STOP_NOW CLAIM_WON CLAIM_LOST
 * CLAIM_UNDECIDED. A claim's outcome is t_claim_outcome in every state
 * (it checks the state itself); without a claim in flight it is rejected
 * in job_handle(). Rows whose state has no active
 * run cannot see a run start or end; only a removed job can be re-added;
 * a reload never touches a removed job otherwise and never runs while
 * stopping. RETRY_DUE without a pending retry is rejected in job_handle(). */
#define CLAIM_COLUMNS t_claim_outcome, t_claim_outcome, t_claim_outcome
#define ACTIVE_ROW \
        { t_request_active, t_request_active, t_request_active, t_run_started, t_run_ended, t_pause, t_pause, \
          t_disable, t_enable, t_wind_down, t_invalid, t_wind_down, t_stop_now, CLAIM_COLUMNS }
#define QUIET_ROW \
        { t_request_idle, t_request_idle, t_request_idle, t_invalid, t_invalid, t_pause, t_pause, \
          t_disable, t_enable, t_wind_down, t_invalid, t_wind_down, t_nothing, CLAIM_COLUMNS }
static const transition_fn table[_JOB_STATE_MAX][_JOB_EVENT_MAX] = {
        [JOB_IDLE] = QUIET_ROW,
        [JOB_WAITING] = ACTIVE_ROW,
        [JOB_RUNNING] = ACTIVE_ROW,
        [JOB_QUEUED] = ACTIVE_ROW,
        [JOB_RETRY_WAIT] = QUIET_ROW,
        [JOB_PAUSED] = QUIET_ROW,
        [JOB_DISABLED] = QUIET_ROW,
        [JOB_REMOVED] = { t_refuse, t_refuse, t_invalid, t_run_started, t_run_ended, t_pause, t_pause,
                          t_invalid, t_invalid, t_invalid, t_readd, t_wind_down, t_stop_now, CLAIM_COLUMNS },
        [JOB_STOPPING] = { t_refuse, t_refuse, t_invalid, t_run_started, t_run_ended, t_pause, t_pause,
                           t_invalid, t_invalid, t_invalid, t_invalid, t_nothing, t_stop_now, CLAIM_COLUMNS },
};

void job_sm_init(struct job_sm *j, bool enabled, bool paused) {
        *j = (struct job_sm){ .enabled = enabled, .paused = paused };
        settle(j);
}

void job_handle(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *ret) {
        static const struct job_event_args none = { 0 };
        assert(j->state < _JOB_STATE_MAX && ev < _JOB_EVENT_MAX);
        *ret = (struct job_actions){ .old_state = j->state, .outcome = START_REFUSED };
        if (!a)
                a = &none;
        if ((ev == JOB_EV_RETRY_DUE && !j->retry_pending) ||
            ((ev == JOB_EV_CLAIM_WON || ev == JOB_EV_CLAIM_LOST || ev == JOB_EV_CLAIM_UNDECIDED) && j->n_claims == 0))
                ret->invalid = true;
        else
                table[j->state][ev](j, ev, a, ret);
        settle(j);
        ret->new_state = j->state;
}

const char *job_state_to_string(enum job_state st) {
        static const char *const names[_JOB_STATE_MAX] = {
                [JOB_IDLE] = "idle", [JOB_WAITING] = "waiting", [JOB_RUNNING] = "running",
                [JOB_QUEUED] = "queued", [JOB_RETRY_WAIT] = "retry-wait", [JOB_PAUSED] = "paused",
                [JOB_DISABLED] = "disabled", [JOB_REMOVED] = "removed", [JOB_STOPPING] = "stopping",
        };
        return st < _JOB_STATE_MAX ? names[st] : "?";
}

const char *job_event_to_string(enum job_event ev) {
        static const char *const names[_JOB_EVENT_MAX] = {
                [JOB_EV_DUE] = "due", [JOB_EV_RUN_NOW] = "run-now", [JOB_EV_RETRY_DUE] = "retry-due",
                [JOB_EV_RUN_STARTED] = "run-started", [JOB_EV_RUN_ENDED] = "run-ended",
                [JOB_EV_PAUSE] = "pause", [JOB_EV_RESUME] = "resume", [JOB_EV_DISABLE] = "disable",
                [JOB_EV_ENABLE] = "enable", [JOB_EV_REMOVE] = "remove", [JOB_EV_READD] = "re-add",
                [JOB_EV_SHUTDOWN] = "shutdown", [JOB_EV_STOP_NOW] = "stop-now",
                [JOB_EV_CLAIM_WON] = "claim-won", [JOB_EV_CLAIM_LOST] = "claim-lost",
                [JOB_EV_CLAIM_UNDECIDED] = "claim-undecided",
        };
        return ev < _JOB_EVENT_MAX ? names[ev] : "?";
}

const char *job_skip_reason_to_string(enum job_skip_reason r) {
        static const char *const names[] = {
                [JOB_SKIP_NONE] = "none", [JOB_SKIP_PAUSED] = "job is paused",
                [JOB_SKIP_DISABLED] = "job is disabled",
                [JOB_SKIP_OVERLAP] = "previous run still active (overlap=skip)",
                [JOB_SKIP_ALREADY_QUEUED] = "one run is already queued (overlap=queue)",
                [JOB_SKIP_REMOVED] = "job was removed", [JOB_SKIP_STOPPING] = "shutting down",
                [JOB_SKIP_CLAIM_LOST] = "another node claimed the instant",
                [JOB_SKIP_CLAIM_UNDECIDED] = "the cluster claim was not decided (cluster_unreachable=skip)",
                [JOB_SKIP_CLAIMS_BUSY] = "too many claims of the job in flight",
        };
        return (size_t)r < ELEMENTSOF(names) && names[r] ? names[r] : "?";
}

const char *start_outcome_to_string(enum start_outcome o) {
        static const char *const names[] = {
                [START_STARTED] = "started", [START_QUEUED] = "queued",
                [START_SKIPPED] = "skipped", [START_REFUSED] = "refused",
        };
        return names[o];
}
