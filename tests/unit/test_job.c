/* Unit tests for job.c, the job state machine: every state x event pair
 * against a written-down expectation (new state, actions, invalid), model
 * invariants over every pair with every overlap policy and run result, and
 * targeted tests of the bugs the state machine fixes: a queued start that
 * survived a pause, a retry or queued start that survived a disable by
 * reload, and a job re-added by reload while its run still drains. */
#include <check.h>
#include <stdlib.h>

#include "job.h"

#define A_STOP_SCHEDULE JOB_ACT_STOP_SCHEDULE
#define A_ARM_SCHEDULE JOB_ACT_ARM_SCHEDULE
#define A_STOP_RETRY JOB_ACT_STOP_RETRY
#define A_DROP_QUEUED JOB_ACT_DROP_QUEUED
#define A_DROP_WAITING JOB_ACT_DROP_WAITING
#define A_CANCEL JOB_ACT_CANCEL
#define A_SKIP JOB_ACT_SKIP
#define A_QUEUE JOB_ACT_QUEUE
#define A_START JOB_ACT_START
#define A_ARM_RETRY JOB_ACT_ARM_RETRY
#define A_SAVE_STATE JOB_ACT_SAVE_STATE
#define A_FORGET JOB_ACT_FORGET
#define A_CLAIM JOB_ACT_CLAIM

static const struct job_event_args queue_args = {
        .overlap = OVERLAP_QUEUE, .attempt = 1, .retries = 2, .retry_delay = USEC_PER_SEC, .enabled = true,
};

static void feed(struct job_sm *j, enum job_event ev, const struct job_event_args *a, struct job_actions *r) {
        job_handle(j, ev, a, r);
        ck_assert_msg(!r->invalid, "%s in %s is invalid", job_event_to_string(ev),
                      job_state_to_string(r->old_state));
        ck_assert(job_sm_verify(j));
}

/* A job in state st, reached through events only (one run, overlap=queue). */
static void make(struct job_sm *j, enum job_state st) {
        struct job_actions r;
        job_sm_init(j, st != JOB_DISABLED, st == JOB_PAUSED);
        if (st == JOB_IDLE || st == JOB_PAUSED || st == JOB_DISABLED)
                goto done;
        feed(j, JOB_EV_RUN_NOW, &queue_args, &r);
        if (st == JOB_WAITING)
                goto done;
        feed(j, JOB_EV_RUN_STARTED, &queue_args, &r);
        if (st == JOB_QUEUED)
                feed(j, JOB_EV_RUN_NOW, &queue_args, &r);
        else if (st == JOB_RETRY_WAIT)
                feed(j, JOB_EV_RUN_ENDED, &queue_args, &r); /* failed, attempt 1 of 3 */
        else if (st == JOB_REMOVED)
                feed(j, JOB_EV_REMOVE, &queue_args, &r);
        else if (st == JOB_STOPPING)
                feed(j, JOB_EV_SHUTDOWN, &queue_args, &r);
done:
        ck_assert_int_eq(j->state, st);
        ck_assert(job_sm_verify(j));
}

static bool same_sm(const struct job_sm *a, const struct job_sm *b) {
        return a->state == b->state && a->paused == b->paused && a->enabled == b->enabled &&
               a->removed == b->removed && a->stopping == b->stopping && a->start_queued == b->start_queued &&
               a->retry_pending == b->retry_pending && a->queued_attempt == b->queued_attempt &&
               a->retry_attempt == b->retry_attempt && a->n_active == b->n_active && a->n_running == b->n_running &&
               a->n_claims == b->n_claims;
}

struct expect {
        enum job_state from;
        enum job_event ev;
        enum job_state to;
        unsigned flags;
        bool invalid;
};

/* Every pair, with overlap=skip and a run that failed on its first of two
 * attempts (RUN_ENDED), re-added as enabled (READD). */
static const struct expect table[] = {
        { JOB_IDLE, JOB_EV_DUE, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_IDLE, JOB_EV_RUN_NOW, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_IDLE, JOB_EV_RETRY_DUE, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_RUN_STARTED, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_RUN_ENDED, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_PAUSE, JOB_PAUSED, A_SAVE_STATE, false },
        { JOB_IDLE, JOB_EV_RESUME, JOB_IDLE, 0, false },
        { JOB_IDLE, JOB_EV_DISABLE, JOB_DISABLED, A_STOP_SCHEDULE, false },
        { JOB_IDLE, JOB_EV_ENABLE, JOB_IDLE, 0, false },
        { JOB_IDLE, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_FORGET, false },
        { JOB_IDLE, JOB_EV_READD, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE, false },
        { JOB_IDLE, JOB_EV_STOP_NOW, JOB_IDLE, 0, false },
        { JOB_IDLE, JOB_EV_CLAIM_WON, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_CLAIM_LOST, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_CLAIM_UNDECIDED, JOB_IDLE, 0, true },
        { JOB_WAITING, JOB_EV_DUE, JOB_WAITING, A_SKIP, false },
        { JOB_WAITING, JOB_EV_RUN_NOW, JOB_WAITING, A_SKIP, false },
        { JOB_WAITING, JOB_EV_RETRY_DUE, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_RUN_STARTED, JOB_RUNNING, 0, false },
        { JOB_WAITING, JOB_EV_RUN_ENDED, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_PAUSE, JOB_WAITING, A_SAVE_STATE, false },
        { JOB_WAITING, JOB_EV_RESUME, JOB_WAITING, 0, false },
        { JOB_WAITING, JOB_EV_DISABLE, JOB_DISABLED, A_STOP_SCHEDULE | A_DROP_WAITING, false },
        { JOB_WAITING, JOB_EV_ENABLE, JOB_WAITING, 0, false },
        { JOB_WAITING, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_DROP_WAITING | A_FORGET, false },
        { JOB_WAITING, JOB_EV_READD, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE | A_DROP_WAITING, false },
        { JOB_WAITING, JOB_EV_STOP_NOW, JOB_WAITING, 0, false },
        { JOB_WAITING, JOB_EV_CLAIM_WON, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_CLAIM_LOST, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_CLAIM_UNDECIDED, JOB_WAITING, 0, true },
        { JOB_RUNNING, JOB_EV_DUE, JOB_RUNNING, A_SKIP, false },
        { JOB_RUNNING, JOB_EV_RUN_NOW, JOB_RUNNING, A_SKIP, false },
        { JOB_RUNNING, JOB_EV_RETRY_DUE, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_RUN_STARTED, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_RUN_ENDED, JOB_RETRY_WAIT, A_ARM_RETRY, false },
        { JOB_RUNNING, JOB_EV_PAUSE, JOB_RUNNING, A_SAVE_STATE, false },
        { JOB_RUNNING, JOB_EV_RESUME, JOB_RUNNING, 0, false },
        { JOB_RUNNING, JOB_EV_DISABLE, JOB_RUNNING, A_STOP_SCHEDULE, false },
        { JOB_RUNNING, JOB_EV_ENABLE, JOB_RUNNING, 0, false },
        { JOB_RUNNING, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE, false },
        { JOB_RUNNING, JOB_EV_READD, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE, false },
        { JOB_RUNNING, JOB_EV_STOP_NOW, JOB_RUNNING, A_CANCEL, false },
        { JOB_RUNNING, JOB_EV_CLAIM_WON, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_CLAIM_LOST, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_CLAIM_UNDECIDED, JOB_RUNNING, 0, true },
        { JOB_QUEUED, JOB_EV_DUE, JOB_QUEUED, A_SKIP, false },
        { JOB_QUEUED, JOB_EV_RUN_NOW, JOB_QUEUED, A_SKIP, false },
        { JOB_QUEUED, JOB_EV_RETRY_DUE, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_RUN_STARTED, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_RUN_ENDED, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_QUEUED, JOB_EV_PAUSE, JOB_RUNNING, A_DROP_QUEUED | A_SAVE_STATE, false },
        { JOB_QUEUED, JOB_EV_RESUME, JOB_QUEUED, 0, false },
        { JOB_QUEUED, JOB_EV_DISABLE, JOB_RUNNING, A_STOP_SCHEDULE | A_DROP_QUEUED, false },
        { JOB_QUEUED, JOB_EV_ENABLE, JOB_QUEUED, 0, false },
        { JOB_QUEUED, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_DROP_QUEUED, false },
        { JOB_QUEUED, JOB_EV_READD, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE | A_DROP_QUEUED, false },
        { JOB_QUEUED, JOB_EV_STOP_NOW, JOB_QUEUED, A_CANCEL, false },
        { JOB_QUEUED, JOB_EV_CLAIM_WON, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_CLAIM_LOST, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_CLAIM_UNDECIDED, JOB_QUEUED, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_DUE, JOB_WAITING, A_STOP_RETRY | A_START | A_SAVE_STATE, false },
        { JOB_RETRY_WAIT, JOB_EV_RUN_NOW, JOB_WAITING, A_STOP_RETRY | A_START | A_SAVE_STATE, false },
        { JOB_RETRY_WAIT, JOB_EV_RETRY_DUE, JOB_WAITING, A_START, false },
        { JOB_RETRY_WAIT, JOB_EV_RUN_STARTED, JOB_RETRY_WAIT, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_RUN_ENDED, JOB_RETRY_WAIT, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_PAUSE, JOB_PAUSED, A_STOP_RETRY | A_SAVE_STATE, false },
        { JOB_RETRY_WAIT, JOB_EV_RESUME, JOB_RETRY_WAIT, 0, false },
        { JOB_RETRY_WAIT, JOB_EV_DISABLE, JOB_DISABLED, A_STOP_SCHEDULE | A_STOP_RETRY, false },
        { JOB_RETRY_WAIT, JOB_EV_ENABLE, JOB_RETRY_WAIT, 0, false },
        { JOB_RETRY_WAIT, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_STOP_RETRY | A_FORGET, false },
        { JOB_RETRY_WAIT, JOB_EV_READD, JOB_RETRY_WAIT, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE | A_STOP_RETRY, false },
        { JOB_RETRY_WAIT, JOB_EV_STOP_NOW, JOB_RETRY_WAIT, 0, false },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_WON, JOB_RETRY_WAIT, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_LOST, JOB_RETRY_WAIT, 0, true },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_UNDECIDED, JOB_RETRY_WAIT, 0, true },
        { JOB_PAUSED, JOB_EV_DUE, JOB_PAUSED, A_SKIP, false },
        { JOB_PAUSED, JOB_EV_RUN_NOW, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_PAUSED, JOB_EV_RETRY_DUE, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_RUN_STARTED, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_RUN_ENDED, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_PAUSE, JOB_PAUSED, 0, false },
        { JOB_PAUSED, JOB_EV_RESUME, JOB_IDLE, A_SAVE_STATE, false },
        { JOB_PAUSED, JOB_EV_DISABLE, JOB_DISABLED, A_STOP_SCHEDULE, false },
        { JOB_PAUSED, JOB_EV_ENABLE, JOB_PAUSED, 0, false },
        { JOB_PAUSED, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_FORGET, false },
        { JOB_PAUSED, JOB_EV_READD, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE, false },
        { JOB_PAUSED, JOB_EV_STOP_NOW, JOB_PAUSED, 0, false },
        { JOB_PAUSED, JOB_EV_CLAIM_WON, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_CLAIM_LOST, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_CLAIM_UNDECIDED, JOB_PAUSED, 0, true },
        { JOB_DISABLED, JOB_EV_DUE, JOB_DISABLED, A_SKIP, false },
        { JOB_DISABLED, JOB_EV_RUN_NOW, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_DISABLED, JOB_EV_RETRY_DUE, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_RUN_STARTED, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_RUN_ENDED, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_PAUSE, JOB_DISABLED, A_SAVE_STATE, false },
        { JOB_DISABLED, JOB_EV_RESUME, JOB_DISABLED, 0, false },
        { JOB_DISABLED, JOB_EV_DISABLE, JOB_DISABLED, 0, false },
        { JOB_DISABLED, JOB_EV_ENABLE, JOB_IDLE, A_ARM_SCHEDULE, false },
        { JOB_DISABLED, JOB_EV_REMOVE, JOB_REMOVED, A_STOP_SCHEDULE | A_FORGET, false },
        { JOB_DISABLED, JOB_EV_READD, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE, false },
        { JOB_DISABLED, JOB_EV_STOP_NOW, JOB_DISABLED, 0, false },
        { JOB_DISABLED, JOB_EV_CLAIM_WON, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_CLAIM_LOST, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_CLAIM_UNDECIDED, JOB_DISABLED, 0, true },
        { JOB_REMOVED, JOB_EV_DUE, JOB_REMOVED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_RUN_NOW, JOB_REMOVED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_RETRY_DUE, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_RUN_STARTED, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_RUN_ENDED, JOB_REMOVED, A_FORGET, false },
        { JOB_REMOVED, JOB_EV_PAUSE, JOB_REMOVED, A_SAVE_STATE, false },
        { JOB_REMOVED, JOB_EV_RESUME, JOB_REMOVED, 0, false },
        { JOB_REMOVED, JOB_EV_DISABLE, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_ENABLE, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_REMOVE, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_READD, JOB_RUNNING, A_ARM_SCHEDULE, false },
        { JOB_REMOVED, JOB_EV_SHUTDOWN, JOB_STOPPING, A_STOP_SCHEDULE, false },
        { JOB_REMOVED, JOB_EV_STOP_NOW, JOB_REMOVED, A_CANCEL, false },
        { JOB_REMOVED, JOB_EV_CLAIM_WON, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_CLAIM_LOST, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_CLAIM_UNDECIDED, JOB_REMOVED, 0, true },
        { JOB_STOPPING, JOB_EV_DUE, JOB_STOPPING, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_RUN_NOW, JOB_STOPPING, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_RETRY_DUE, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_RUN_STARTED, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_RUN_ENDED, JOB_STOPPING, 0, false },
        { JOB_STOPPING, JOB_EV_PAUSE, JOB_STOPPING, A_SAVE_STATE, false },
        { JOB_STOPPING, JOB_EV_RESUME, JOB_STOPPING, 0, false },
        { JOB_STOPPING, JOB_EV_DISABLE, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_ENABLE, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_REMOVE, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_READD, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_SHUTDOWN, JOB_STOPPING, 0, false },
        { JOB_STOPPING, JOB_EV_STOP_NOW, JOB_STOPPING, A_CANCEL, false },
        { JOB_STOPPING, JOB_EV_CLAIM_WON, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_CLAIM_LOST, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_CLAIM_UNDECIDED, JOB_STOPPING, 0, true },
};

START_TEST(test_table) {
        const struct job_event_args a = {
                .overlap = OVERLAP_SKIP, .attempt = 1, .retries = 1, .retry_delay = USEC_PER_SEC, .enabled = true,
        };
        ck_assert_uint_eq(sizeof table / sizeof table[0], (size_t)_JOB_STATE_MAX * _JOB_EVENT_MAX);
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
                const struct expect *e = &table[i];
                struct job_sm j, before;
                struct job_actions r;
                /* The table is in state x event order: every pair once. */
                ck_assert_int_eq(e->from, i / _JOB_EVENT_MAX);
                ck_assert_int_eq(e->ev, i % _JOB_EVENT_MAX);
                make(&j, e->from);
                before = j;
                job_handle(&j, e->ev, &a, &r);
                ck_assert_msg(r.new_state == e->to && r.flags == e->flags && r.invalid == e->invalid,
                              "%s x %s: got %s flags 0x%x invalid %d, want %s 0x%x %d",
                              job_state_to_string(e->from), job_event_to_string(e->ev),
                              job_state_to_string(r.new_state), r.flags, r.invalid, job_state_to_string(e->to),
                              e->flags, e->invalid);
                ck_assert_int_eq(r.old_state, e->from);
                ck_assert_int_eq(j.state, r.new_state);
                ck_assert(job_sm_verify(&j));
                if (r.invalid)
                        ck_assert(same_sm(&j, &before));
        }
}
END_TEST

/* Every pair with every policy and run result: the model's invariants. */
/* Issue 12: a cluster job's starts and claims, in every state (overlap=skip,
 * attempt 1). For the claim outcomes one claim is in flight, made before
 * the state was reached. */
static const struct expect cluster_table[] = {
        { JOB_IDLE, JOB_EV_DUE, JOB_IDLE, A_CLAIM, false },
        { JOB_IDLE, JOB_EV_RETRY_DUE, JOB_IDLE, 0, true },
        { JOB_IDLE, JOB_EV_CLAIM_WON, JOB_WAITING, A_START | A_SAVE_STATE, false },
        { JOB_IDLE, JOB_EV_CLAIM_LOST, JOB_IDLE, A_SKIP, false },
        { JOB_IDLE, JOB_EV_CLAIM_UNDECIDED, JOB_IDLE, A_SKIP, false },
        { JOB_WAITING, JOB_EV_DUE, JOB_WAITING, A_CLAIM, false },
        { JOB_WAITING, JOB_EV_RETRY_DUE, JOB_WAITING, 0, true },
        { JOB_WAITING, JOB_EV_CLAIM_WON, JOB_WAITING, A_SKIP, false },
        { JOB_WAITING, JOB_EV_CLAIM_LOST, JOB_WAITING, A_SKIP, false },
        { JOB_WAITING, JOB_EV_CLAIM_UNDECIDED, JOB_WAITING, A_SKIP, false },
        { JOB_RUNNING, JOB_EV_DUE, JOB_RUNNING, A_CLAIM, false },
        { JOB_RUNNING, JOB_EV_RETRY_DUE, JOB_RUNNING, 0, true },
        { JOB_RUNNING, JOB_EV_CLAIM_WON, JOB_RUNNING, A_SKIP, false },
        { JOB_RUNNING, JOB_EV_CLAIM_LOST, JOB_RUNNING, A_SKIP, false },
        { JOB_RUNNING, JOB_EV_CLAIM_UNDECIDED, JOB_RUNNING, A_SKIP, false },
        { JOB_QUEUED, JOB_EV_DUE, JOB_QUEUED, A_CLAIM, false },
        { JOB_QUEUED, JOB_EV_RETRY_DUE, JOB_QUEUED, 0, true },
        { JOB_QUEUED, JOB_EV_CLAIM_WON, JOB_QUEUED, A_SKIP, false },
        { JOB_QUEUED, JOB_EV_CLAIM_LOST, JOB_QUEUED, A_SKIP, false },
        { JOB_QUEUED, JOB_EV_CLAIM_UNDECIDED, JOB_QUEUED, A_SKIP, false },
        { JOB_RETRY_WAIT, JOB_EV_DUE, JOB_IDLE, A_STOP_RETRY | A_CLAIM, false },
        { JOB_RETRY_WAIT, JOB_EV_RETRY_DUE, JOB_IDLE, A_CLAIM, false },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_WON, JOB_WAITING, A_STOP_RETRY | A_START | A_SAVE_STATE, false },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_LOST, JOB_RETRY_WAIT, A_SKIP, false },
        { JOB_RETRY_WAIT, JOB_EV_CLAIM_UNDECIDED, JOB_RETRY_WAIT, A_SKIP, false },
        { JOB_PAUSED, JOB_EV_DUE, JOB_PAUSED, A_SKIP, false },
        { JOB_PAUSED, JOB_EV_RETRY_DUE, JOB_PAUSED, 0, true },
        { JOB_PAUSED, JOB_EV_CLAIM_WON, JOB_PAUSED, A_SKIP, false },
        { JOB_PAUSED, JOB_EV_CLAIM_LOST, JOB_PAUSED, A_SKIP, false },
        { JOB_PAUSED, JOB_EV_CLAIM_UNDECIDED, JOB_PAUSED, A_SKIP, false },
        { JOB_DISABLED, JOB_EV_DUE, JOB_DISABLED, A_SKIP, false },
        { JOB_DISABLED, JOB_EV_RETRY_DUE, JOB_DISABLED, 0, true },
        { JOB_DISABLED, JOB_EV_CLAIM_WON, JOB_DISABLED, A_SKIP, false },
        { JOB_DISABLED, JOB_EV_CLAIM_LOST, JOB_DISABLED, A_SKIP, false },
        { JOB_DISABLED, JOB_EV_CLAIM_UNDECIDED, JOB_DISABLED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_DUE, JOB_REMOVED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_RETRY_DUE, JOB_REMOVED, 0, true },
        { JOB_REMOVED, JOB_EV_CLAIM_WON, JOB_REMOVED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_CLAIM_LOST, JOB_REMOVED, A_SKIP, false },
        { JOB_REMOVED, JOB_EV_CLAIM_UNDECIDED, JOB_REMOVED, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_DUE, JOB_STOPPING, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_RETRY_DUE, JOB_STOPPING, 0, true },
        { JOB_STOPPING, JOB_EV_CLAIM_WON, JOB_STOPPING, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_CLAIM_LOST, JOB_STOPPING, A_SKIP, false },
        { JOB_STOPPING, JOB_EV_CLAIM_UNDECIDED, JOB_STOPPING, A_SKIP, false },
};

START_TEST(test_cluster_table) {
        const struct job_event_args a = {
                .overlap = OVERLAP_SKIP, .attempt = 1, .retries = 1, .retry_delay = USEC_PER_SEC, .enabled = true,
                .cluster = true,
        };
        ck_assert_uint_eq(sizeof cluster_table / sizeof cluster_table[0], (size_t)_JOB_STATE_MAX * 5);
        for (size_t i = 0; i < sizeof cluster_table / sizeof cluster_table[0]; i++) {
                const struct expect *e = &cluster_table[i];
                struct job_sm j, before;
                struct job_actions r;
                ck_assert_int_eq(e->from, i / 5);
                make(&j, e->from);
                bool outcome = e->ev == JOB_EV_CLAIM_WON || e->ev == JOB_EV_CLAIM_LOST || e->ev == JOB_EV_CLAIM_UNDECIDED;
                if (outcome)
                        j.n_claims = 1;
                ck_assert(job_sm_verify(&j));
                before = j;
                job_handle(&j, e->ev, &a, &r);
                ck_assert_msg(r.new_state == e->to && r.flags == e->flags && r.invalid == e->invalid,
                              "cluster %s x %s: got %s flags 0x%x invalid %d, want %s 0x%x %d",
                              job_state_to_string(e->from), job_event_to_string(e->ev),
                              job_state_to_string(r.new_state), r.flags, r.invalid, job_state_to_string(e->to),
                              e->flags, e->invalid);
                ck_assert(job_sm_verify(&j));
                if (r.invalid)
                        ck_assert(same_sm(&j, &before));
                else if (outcome)
                        ck_assert_uint_eq(j.n_claims, 0);
                else if (r.flags & A_CLAIM) {
                        ck_assert_uint_eq(j.n_claims, before.n_claims + 1);
                        ck_assert_uint_eq(j.n_active, before.n_active);
                        ck_assert_uint_eq(r.start_attempt, e->ev == JOB_EV_RETRY_DUE ? 2 : 1);
                }
                if (r.flags & A_SKIP)
                        ck_assert(r.skip != JOB_SKIP_NONE);
        }
}
END_TEST

/* Issue 12: the claim's outcomes and what they say. */
START_TEST(test_claims) {
        struct job_sm j;
        struct job_actions r;
        struct job_event_args a = { .overlap = OVERLAP_SKIP, .attempt = 1, .enabled = true, .cluster = true };
        make(&j, JOB_IDLE);
        feed(&j, JOB_EV_DUE, &a, &r);
        ck_assert_uint_eq(r.flags, A_CLAIM);
        feed(&j, JOB_EV_DUE, &a, &r); /* the next instant while the first is claimed */
        ck_assert_uint_eq(j.n_claims, 2);
        feed(&j, JOB_EV_CLAIM_LOST, &a, &r);
        ck_assert_int_eq(r.skip, JOB_SKIP_CLAIM_LOST);
        feed(&j, JOB_EV_CLAIM_UNDECIDED, &a, &r);
        ck_assert_int_eq(r.skip, JOB_SKIP_CLAIM_UNDECIDED);
        job_handle(&j, JOB_EV_CLAIM_WON, &a, &r); /* none in flight */
        ck_assert(r.invalid);
        /* cluster_unreachable = run: an undecided claim starts. */
        feed(&j, JOB_EV_DUE, &a, &r);
        a.cluster_run = true;
        feed(&j, JOB_EV_CLAIM_UNDECIDED, &a, &r);
        ck_assert_uint_eq(r.flags & A_START, A_START);
        ck_assert_uint_eq(r.start_attempt, 1);
        /* evdctl run does not claim. */
        feed(&j, JOB_EV_RUN_STARTED, &a, &r);
        a.overlap = OVERLAP_PARALLEL;
        feed(&j, JOB_EV_RUN_NOW, &a, &r);
        ck_assert_uint_eq(r.flags & (A_START | A_CLAIM), A_START);
        /* A removed job waits for its claims before it is forgotten. */
        feed(&j, JOB_EV_DUE, &a, &r);
        feed(&j, JOB_EV_REMOVE, &a, &r); /* drops the run waiting for a worker */
        struct job_event_args ok = a;
        ok.ok = true;
        feed(&j, JOB_EV_RUN_ENDED, &ok, &r);
        ck_assert(!(r.flags & A_FORGET));
        feed(&j, JOB_EV_CLAIM_WON, &a, &r);
        ck_assert_int_eq(r.skip, JOB_SKIP_REMOVED);
        ck_assert(r.flags & A_FORGET);
        /* A retry is claimed as its own attempt; the won claim starts it. */
        make(&j, JOB_RETRY_WAIT);
        a.cluster_run = false;
        feed(&j, JOB_EV_RETRY_DUE, &a, &r);
        ck_assert_uint_eq(r.start_attempt, 2);
        a.attempt = 2;
        feed(&j, JOB_EV_CLAIM_WON, &a, &r);
        ck_assert_uint_eq(r.start_attempt, 2);
        ck_assert(!(r.flags & A_SAVE_STATE));
        /* At most JOB_CLAIMS_MAX in flight. */
        make(&j, JOB_IDLE);
        j.n_claims = JOB_CLAIMS_MAX;
        feed(&j, JOB_EV_DUE, &a, &r);
        ck_assert_int_eq(r.skip, JOB_SKIP_CLAIMS_BUSY);
}
END_TEST

START_TEST(test_invariants) {
        for (int st = 0; st < _JOB_STATE_MAX; st++)
                for (int ev = 0; ev < _JOB_EVENT_MAX; ev++)
                        for (int ov = OVERLAP_SKIP; ov <= OVERLAP_REPLACE; ov++)
                                for (int res = 0; res < 4; res++) {
                                        struct job_event_args a = {
                                                .overlap = ov, .attempt = 1 + (res & 1), .retries = 1,
                                                .retry_delay = USEC_PER_SEC, .ok = res == 2,
                                                .cancelled = res == 3, .enabled = res & 1,
                                        };
                                        struct job_sm j, b;
                                        struct job_actions r;
                                        make(&j, st);
                                        b = j;
                                        job_handle(&j, ev, &a, &r);
                                        ck_assert(job_sm_verify(&j));
                                        if (r.flags & A_START)
                                                ck_assert_uint_eq(j.n_active, b.n_active + 1 -
                                                                  ((r.flags & A_DROP_WAITING) ? b.n_active - b.n_running : 0) -
                                                                  (ev == JOB_EV_RUN_ENDED));
                                        /* No new run for a job that gets none. */
                                        if (b.removed || b.stopping || (ev == JOB_EV_DUE && (b.paused || !b.enabled)))
                                                ck_assert(!(r.flags & (A_START | A_QUEUE | A_ARM_RETRY)) ||
                                                          ev == JOB_EV_READD);
                                        if (r.flags & A_FORGET)
                                                ck_assert(j.removed && j.n_active == 0);
                                        if (r.flags & A_SKIP)
                                                ck_assert(r.skip != JOB_SKIP_NONE);
                                        if (r.flags & A_ARM_RETRY)
                                                ck_assert(!a.ok && !a.cancelled && r.retry_attempt == a.attempt + 1);
                                        ck_assert(!(r.flags & A_CANCEL) || b.n_running > 0);
                                }
}
END_TEST

/* Issue 9: overlap=queue, run twice, pause: the queued run must not start
 * when the first ends. */
START_TEST(test_queued_start_dropped_by_pause) {
        struct job_sm j;
        struct job_actions r;
        make(&j, JOB_RUNNING);
        feed(&j, JOB_EV_RUN_NOW, &queue_args, &r);
        ck_assert_int_eq(r.outcome, START_QUEUED);
        ck_assert_int_eq(j.state, JOB_QUEUED);
        feed(&j, JOB_EV_PAUSE, NULL, &r);
        ck_assert(r.flags & A_DROP_QUEUED);
        ck_assert_int_eq(j.state, JOB_RUNNING);
        struct job_event_args ok = queue_args;
        ok.ok = true;
        feed(&j, JOB_EV_RUN_ENDED, &ok, &r);
        ck_assert(!(r.flags & A_START));
        ck_assert_int_eq(j.state, JOB_PAUSED);
        /* A scheduled run while paused is skipped, a manual one starts. */
        feed(&j, JOB_EV_DUE, &queue_args, &r);
        ck_assert(r.flags & A_SKIP);
        ck_assert_int_eq(r.skip, JOB_SKIP_PAUSED);
        feed(&j, JOB_EV_RUN_NOW, &queue_args, &r);
        ck_assert_int_eq(r.outcome, START_STARTED);
}
END_TEST

/* Issue 9: a reload that sets enabled = no drops a pending retry and a
 * queued start; a failed run of a disabled job arms no retry. */
START_TEST(test_disable_drops_retry_and_queued) {
        struct job_sm j;
        struct job_actions r;
        make(&j, JOB_RETRY_WAIT);
        feed(&j, JOB_EV_DISABLE, NULL, &r);
        ck_assert(r.flags & A_STOP_RETRY);
        ck_assert(r.flags & A_STOP_SCHEDULE);
        ck_assert_int_eq(j.state, JOB_DISABLED);
        job_handle(&j, JOB_EV_RETRY_DUE, &queue_args, &r);
        ck_assert(r.invalid);

        make(&j, JOB_QUEUED);
        feed(&j, JOB_EV_DISABLE, NULL, &r);
        ck_assert(r.flags & A_DROP_QUEUED);
        feed(&j, JOB_EV_RUN_ENDED, &queue_args, &r); /* failed, retries left */
        ck_assert(!(r.flags & (A_START | A_ARM_RETRY)));
        ck_assert_int_eq(j.state, JOB_DISABLED);
        /* Enabled again: the schedule is armed afresh. */
        feed(&j, JOB_EV_ENABLE, NULL, &r);
        ck_assert(r.flags & A_ARM_SCHEDULE);
        ck_assert_int_eq(j.state, JOB_IDLE);
}
END_TEST

/* Issue 13 item 9: removed while its run goes on, re-added by name: the
 * same job, so overlap=skip sees the run and the pause is kept. */
START_TEST(test_readd_finds_run_and_pause) {
        struct job_sm j;
        struct job_actions r;
        const struct job_event_args skip_args = { .overlap = OVERLAP_SKIP, .enabled = true };
        make(&j, JOB_RUNNING);
        feed(&j, JOB_EV_PAUSE, NULL, &r);
        feed(&j, JOB_EV_REMOVE, NULL, &r);
        ck_assert(!(r.flags & A_FORGET));
        ck_assert_int_eq(j.state, JOB_REMOVED);
        feed(&j, JOB_EV_READD, &skip_args, &r);
        ck_assert_int_eq(j.state, JOB_RUNNING);
        ck_assert(j.paused);
        feed(&j, JOB_EV_RUN_NOW, &skip_args, &r);
        ck_assert_int_eq(r.outcome, START_SKIPPED);
        ck_assert_int_eq(r.skip, JOB_SKIP_OVERLAP);
        ck_assert_uint_eq(j.n_active, 1);
        struct job_event_args ok = skip_args;
        ok.ok = true;
        feed(&j, JOB_EV_RUN_ENDED, &ok, &r);
        ck_assert(!(r.flags & A_FORGET));
        ck_assert_int_eq(j.state, JOB_PAUSED);
}
END_TEST

START_TEST(test_removed_forgotten_when_drained) {
        struct job_sm j;
        struct job_actions r;
        make(&j, JOB_REMOVED);
        feed(&j, JOB_EV_RUN_ENDED, &queue_args, &r);
        ck_assert(r.flags & A_FORGET);
        ck_assert(!(r.flags & (A_START | A_ARM_RETRY)));
}
END_TEST

START_TEST(test_replace) {
        struct job_sm j;
        struct job_actions r;
        const struct job_event_args rep = { .overlap = OVERLAP_REPLACE, .attempt = 1, .ok = false, .cancelled = true };
        make(&j, JOB_RUNNING);
        feed(&j, JOB_EV_DUE, &rep, &r);
        ck_assert(r.flags & A_CANCEL);
        ck_assert_int_eq(r.outcome, START_QUEUED);
        ck_assert_int_eq(j.state, JOB_QUEUED);
        /* The cancelled run ends: the replacement starts, no retry. */
        feed(&j, JOB_EV_RUN_ENDED, &rep, &r);
        ck_assert_uint_eq(r.flags & (A_START | A_ARM_RETRY), A_START);
        ck_assert_int_eq(j.state, JOB_WAITING);
        /* A run only waiting for a worker is dropped, the new one starts. */
        feed(&j, JOB_EV_DUE, &rep, &r);
        ck_assert(r.flags & A_DROP_WAITING);
        ck_assert(!(r.flags & A_CANCEL));
        ck_assert_int_eq(r.outcome, START_STARTED);
        ck_assert_uint_eq(j.n_active, 1);
}
END_TEST

START_TEST(test_parallel_and_retry) {
        struct job_sm j;
        struct job_actions r;
        struct job_event_args par = { .overlap = OVERLAP_PARALLEL, .attempt = 1, .retries = 3,
                                      .retry_delay = 10 * USEC_PER_SEC };
        make(&j, JOB_RUNNING);
        feed(&j, JOB_EV_RUN_NOW, &par, &r);
        ck_assert_int_eq(r.outcome, START_STARTED);
        feed(&j, JOB_EV_RUN_STARTED, &par, &r);
        ck_assert_uint_eq(j.n_running, 2);
        feed(&j, JOB_EV_RUN_ENDED, &par, &r);
        ck_assert(r.flags & A_ARM_RETRY);
        ck_assert_uint_eq(r.retry_delay, 10 * USEC_PER_SEC);
        ck_assert_int_eq(j.state, JOB_RUNNING);
        feed(&j, JOB_EV_RETRY_DUE, &par, &r);
        ck_assert_uint_eq(r.start_attempt, 2);
        ck_assert(!(r.flags & A_SAVE_STATE)); /* only a first attempt is a "last start" */
        ck_assert_uint_eq(job_retry_delay(10, 1), 10);
        ck_assert_uint_eq(job_retry_delay(10, 3), 40);
        ck_assert_uint_eq(job_retry_delay(USEC_PER_DAY, 5), USEC_PER_DAY);
}
END_TEST

START_TEST(test_shutdown) {
        struct job_sm j;
        struct job_actions r;
        make(&j, JOB_QUEUED);
        feed(&j, JOB_EV_SHUTDOWN, NULL, &r);
        ck_assert(r.flags & A_DROP_QUEUED);
        feed(&j, JOB_EV_STOP_NOW, NULL, &r);
        ck_assert(r.flags & A_CANCEL);
        feed(&j, JOB_EV_RUN_ENDED, &queue_args, &r);
        ck_assert_uint_eq(r.flags, 0);
        ck_assert_int_eq(j.state, JOB_STOPPING);
        for (int st = 0; st < _JOB_STATE_MAX; st++)
                ck_assert_str_ne(job_state_to_string(st), "?");
        for (int ev = 0; ev < _JOB_EVENT_MAX; ev++)
                ck_assert_str_ne(job_event_to_string(ev), "?");
}
END_TEST

int main(void) {
        Suite *s = suite_create("job");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_cluster_table);
        tcase_add_test(tc, test_claims);
        tcase_add_test(tc, test_invariants);
        tcase_add_test(tc, test_queued_start_dropped_by_pause);
        tcase_add_test(tc, test_disable_drops_retry_and_queued);
        tcase_add_test(tc, test_readd_finds_run_and_pause);
        tcase_add_test(tc, test_removed_forgotten_when_drained);
        tcase_add_test(tc, test_replace);
        tcase_add_test(tc, test_parallel_and_retry);
        tcase_add_test(tc, test_shutdown);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
