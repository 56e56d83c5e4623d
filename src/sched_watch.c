/* sched_watch.c - the dead-man check (expect_success_within=) and the
 * failure streak's start, per job (see scheduler.h).
 *
 * Owns struct job_watch (sched_private.h): what a job needs for the check
 * (its deadline in the wall-clock heap, first seen, where the count
 * starts, overdue since) and the time its consecutive failures began. It
 * lives in the job's side record (sched_side.c), which only jobs that
 * need one have: a job with the key or failing now has one; a watch all
 * 0 is none. The last success is job_last_success(); this file restores
 * it from the state file (into the side record) for the jobs with the
 * check.
 *
 * The count. The deadline is count_from + expect_success_within, on
 * CLOCK_REALTIME (it survives restarts through the state file):
 * count_from is the end of the last successful run, or when evd first
 * loaded the job with the key, and never earlier than the job's last
 * resume, enable or re-add (a paused or disabled job is never overdue, and
 * the time it spent so does not count). The time evd was down counts.
 * The state machine (job.c) decides when the deadline runs (live: enabled,
 * not paused, not removed, not stopping), when an episode starts and ends;
 * this file carries the actions out and keeps the times.
 *
 * Clock steps: the deadline is an absolute wall-clock instant like a
 * calendar one; a step forward past it makes the job overdue (no success
 * for that long by the clock), a step back puts it off. A count_from the
 * step left in the future (a success recorded while the clock was ahead)
 * is brought back to now, as the state file's future last starts are.
 *
 * Cost: O(1) or O(log n) (a timer) per event; the clock step is O(side records).
 * Main thread only. */
#include "sched_private.h"

#include <stdio.h>
#include <time.h>

#include "log.h"
#include "timespan.h"

static usec_t within(const struct job *j) {
        return j->def->extras->expect_success_within;
}

/* j's watch, or NULL when j has no side record. */
static struct job_watch *watch_of(const struct job *j) {
        struct job_side *x = sched_side_of(j);
        return x ? &x->watch : NULL;
}

static struct job *watch_job(struct job_watch *w) {
        return container_of(w, struct job_side, watch)->job;
}

/* j's watch, made when missing; NULL when out of memory (logged). */
static struct job_watch *watch_get(struct job *j) {
        struct job_side *x = sched_side_get(j);
        if (x)
                return &x->watch;
        log_job(LOG_ERR, j->def->name, 0, NULL, "out of memory: no dead-man check or failure time for this job");
        return NULL;
}

/* A watch neither the check nor a failure streak needs any more: emptied,
 * and the side record freed if nothing else in it is in use. */
static void watch_maybe_free(struct job *j, struct job_watch *w) {
        if (w->first_seen != 0 || w->failing_since != 0)
                return;
        timer_stop(&w->timer);
        w->count_from = w->overdue_since = 0;
        sched_side_release(j);
}

static void arm(struct job *j, struct job_watch *w) {
        if (within(j) == 0 || w->first_seen == 0 || j->sm.overdue || !job_deadline_live(&j->sm)) {
                timer_stop(&w->timer);
                return;
        }
        timer_start(&j->sched->wall, &w->timer, w->count_from + within(j));
}

void sched_watch_fired(struct timer *t, usec_t now) {
        struct job *j = watch_job(container_of(t, struct job_watch, timer));
        const struct job_event_args a = { .overlap = j->def->overlap, .overdue = true };
        (void)now;
        sched_job_feed(j, JOB_EV_OVERDUE, &a, NULL);
}

static const char *fmt_time(usec_t t, char *buf, size_t size) {
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm);
        return buf;
}

/* The dead-man actions of one transition (sched_job_feed()). */
void sched_watch_actions(struct job *j, enum job_event ev, const struct job_actions *act) {
        struct job_watch *w = watch_of(j);
        char when[64], span[TIMESPAN_MAX];
        usec_t last_success = job_last_success(j);
        if (!w)
                return;
        if (act->flags & JOB_ACT_STOP_DEADLINE)
                timer_stop(&w->timer);
        if (act->flags & JOB_ACT_ALERT_OVERDUE) {
                w->overdue_since = w->count_from + within(j);
                timespan_format(span, sizeof span, within(j));
                if (last_success)
                        log_job(LOG_WARNING, j->def->name, 0, NULL,
                                "overdue: no successful run since %s (expect_success_within=%s)",
                                fmt_time(last_success, when, sizeof when), span);
                else
                        log_job(LOG_WARNING, j->def->name, 0, NULL,
                                "overdue: no successful run since evd first loaded it (expect_success_within=%s)",
                                span);
                sched_alert(j, ALERT_OVERDUE, NULL);
        }
        if (!j->sm.overdue && w->overdue_since) {
                if (ev == JOB_EV_RUN_ENDED) /* the recovery alert is JOB_ACT_ALERT_RECOVERY's */
                        log_job(LOG_NOTICE, j->def->name, 0, NULL, "no longer overdue: a run succeeded");
                w->overdue_since = 0;
        }
        if (act->flags & JOB_ACT_ARM_DEADLINE) {
                /* Live again: the time it was not does not count. A
                 * success set count_from already (sched_watch_run_ended()). */
                if (ev != JOB_EV_RUN_ENDED && w->first_seen) {
                        w->count_from = MAX(w->count_from, now_usec(CLOCK_REALTIME));
                        j->sched->state_dirty = true;
                }
                arm(j, w);
        }
}

/* A run of j ended (before its JOB_EV_RUN_ENDED): a success restarts the
 * count, a first failure starts the streak. end: the run's end, realtime. */
void sched_watch_run_ended(struct job *j, bool ok, usec_t end) {
        struct job_watch *w = watch_of(j);
        if (ok) {
                if (!w)
                        return;
                w->failing_since = 0;
                if (w->first_seen) {
                        w->count_from = end;
                        j->sched->state_dirty = true;
                }
                watch_maybe_free(j, w);
                return;
        }
        if (j->consecutive_failures > 0 && w)
                return; /* the streak goes on */
        w = watch_get(j);
        if (w)
                w->failing_since = end;
}

/* Sets j's check up: at evd's start (saved: its state file entry, or
 * NULL) or when a reload gives the job the key. */
static void watch_start(struct job *j, const struct state_entry *saved, usec_t now) {
        struct job_watch *w = watch_get(j);
        if (!w)
                return;
        if (saved && saved->first_seen > 0) {
                usec_t success = saved->last_success <= now ? saved->last_success : 0;
                w->first_seen = MIN(saved->first_seen, now);
                if (job_last_success(j) == 0)
                        container_of(w, struct job_side, watch)->last_success = success;
                w->count_from = MIN(MAX(saved->count_from, MAX(w->first_seen, success)), now);
        } else {
                w->first_seen = w->count_from = now;
                j->sched->state_dirty = true;
        }
        /* The saved episode goes on (no second alert) if the deadline, with
         * the span configured now, has passed. */
        if (saved && saved->overdue_since > 0 && w->count_from + within(j) <= now && job_deadline_live(&j->sm)) {
                const struct job_event_args a = { .overlap = j->def->overlap, .overdue = true, .restored = true };
                sched_job_feed(j, JOB_EV_OVERDUE, &a, NULL);
                w->overdue_since = MIN(saved->overdue_since, now);
        }
        arm(j, w);
}

void sched_watch_restore(struct job *j, const struct state_entry *saved) {
        if (within(j) > 0)
                watch_start(j, saved, now_usec(CLOCK_REALTIME));
}

/* The check's part of a reload: j's definition was replaced; old_within
 * is the value it had (0: none, as for a job the reload adds). */
void sched_watch_reload(struct job *j, usec_t old_within) {
        struct job_watch *w = watch_of(j);
        usec_t now = now_usec(CLOCK_REALTIME);
        if (within(j) == old_within)
                return;
        if (within(j) == 0) {
                /* The key is gone: so are the deadline and the episode. */
                if (j->sm.overdue)
                        sched_job_feed(j, JOB_EV_OVERDUE, &(struct job_event_args){ .overlap = j->def->overlap }, NULL);
                if (w) {
                        timer_stop(&w->timer);
                        w->first_seen = w->count_from = 0;
                        watch_maybe_free(j, w);
                }
                j->sched->state_dirty = true;
                return;
        }
        if (!w || w->first_seen == 0) {
                watch_start(j, NULL, now);
                return;
        }
        /* A new value: the same count against it. An episode ends if the
         * new deadline is still ahead; otherwise it goes on (no new alert). */
        if (j->sm.overdue && w->count_from + within(j) > now)
                sched_job_feed(j, JOB_EV_OVERDUE, &(struct job_event_args){ .overlap = j->def->overlap }, NULL);
        arm(j, w);
}

void sched_watch_clock_changed(struct sched *s) {
        usec_t now = now_usec(CLOCK_REALTIME);
        for (uint32_t i = 0; i < s->n_sides; i++) {
                struct job_watch *w = s->sides[i] ? &s->sides[i]->watch : NULL;
                if (!w || !timer_active(&w->timer) || w->count_from <= now)
                        continue;
                w->count_from = now;
                s->state_dirty = true;
                arm(watch_job(w), w);
        }
}

void sched_watch_view(const struct job *j, struct job_view *v) {
        const struct job_watch *w = watch_of(j);
        v->expect_success_within = within(j);
        v->overdue = j->sm.overdue;
        v->last_success = job_last_success(j);
        if (!w)
                return;
        v->overdue_since = w->overdue_since;
        v->failing_since = w->failing_since;
        v->first_seen = w->first_seen;
        v->deadline = timer_deadline(&w->timer);
}

bool sched_watch_entry(const struct job *j, struct state_entry *e) {
        const struct job_watch *w = watch_of(j);
        if (!w || w->first_seen == 0 || within(j) == 0)
                return false;
        e->last_success = job_last_success(j);
        e->first_seen = w->first_seen;
        e->count_from = w->count_from;
        e->overdue_since = j->sm.overdue ? MAX(w->overdue_since, 1) : 0;
        return true;
}

bool sched_watch_verify(const struct job *j) {
        const struct job_watch *w = watch_of(j);
        if (!w)
                return !j->sm.overdue || within(j) > 0;
        /* Armed iff it runs and no episode is on (a watch all 0 is none). */
        bool runs = within(j) > 0 && w->first_seen > 0 && !j->sm.overdue && job_deadline_live(&j->sm);
        return timer_active(&w->timer) == runs && (w->overdue_since > 0) == j->sm.overdue;
}
