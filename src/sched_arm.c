/* sched_arm.c - a job's deadlines: the next elapse of its schedule, the
 * persistent= catch-up, and the clock-step policy (see scheduler.h).
 *
 * Clocks. `every=` counts on CLOCK_BOOTTIME: "every 1h" means an hour of
 * real elapsed time, suspended or not, so a laptop that slept through a
 * deadline runs the job once on resume, as cron users expect. (systemd's
 * OnUnitActiveSec counts CLOCK_MONOTONIC instead.) The next deadline is
 * the previous deadline plus the interval, never "end of run plus the
 * interval", so the schedule does not drift; deadlines missed entirely
 * (suspend, overload) are skipped, keeping the phase. Calendar and cron
 * deadlines are CLOCK_REALTIME instants recomputed on every clock step.
 *
 * Clock steps. After the wall clock is set, each calendar job's next
 * elapse is recomputed from max(now, last elapse handled): a step back
 * never repeats a run that already happened, a step forward skips the
 * elapses in between (a persistent job runs once to catch up).
 *
 * Main thread only; O(1) per job but the clock step, which is O(jobs). */
#include "sched_private.h"

#include "cluster.h"
#include "schedule.h"
#include "log.h"

struct timer_clock *sched_job_clock(struct job *j) {
        return job_def_on_wall_clock(j->def) ? &j->sched->wall : &j->sched->mono;
}

usec_t job_next_run_realtime(const struct job *j) {
        if (!timer_active(&j->timer))
                return USEC_INFINITY;
        usec_t d = timer_deadline(&j->timer);
        if (job_def_on_wall_clock(j->def))
                return d;
        usec_t mono = now_usec(CLOCK_BOOTTIME), wall = now_usec(CLOCK_REALTIME);
        return d > mono ? wall + (d - mono) : wall;
}

/* persistent=: the job's first deadline from its last recorded start.
 * Returns true if it armed the timer. At evd's start a due run is "missed
 * while evd was down"; after a reload that changed the schedule it is just
 * due. A paused job does not catch up: its scheduled runs are skipped. */
static bool arm_persistent(struct job *j, enum sched_arm_mode mode) {
        const struct job_def *d = j->def;
        usec_t now_rt = now_usec(CLOCK_REALTIME), due, next;

        if (d->schedule == SCHEDULE_EVERY && job_def_cluster_once(d))
                due = cluster_every_next(d->every, j->last_due);
        else if (d->schedule == SCHEDULE_EVERY)
                due = j->last_due + d->every;
        else if (schedule_is_reboot(d->calendar) || schedule_next(d->calendar, d->extras->timezone, j->last_due, &due) < 0)
                return false;
        if (due <= now_rt) {
                if (j->sm.paused) {
                        log_job(LOG_INFO, d->name, 0, NULL, "%s; not run: the job is paused",
                                mode == SCHED_ARM_START ? "missed a run while evd was down"
                                                        : "a run is due since the last one");
                        return false;
                }
                log_job(LOG_INFO, d->name, 0, NULL, "%s: running it now",
                        mode == SCHED_ARM_START ? "missed a run while evd was down"
                                                : "a run is due since the last one (persistent, schedule changed)");
        }
        if (d->schedule == SCHEDULE_EVERY && !job_def_cluster_once(d)) {
                usec_t now = now_usec(CLOCK_BOOTTIME);
                next = now + (due > now_rt ? due - now_rt : 0);
        } else if (d->schedule == SCHEDULE_EVERY)
                next = due; /* the instant itself: every node names it the same */
        else
                next = MAX(due, now_rt);
        j->next_elapse = next;
        timer_start(sched_job_clock(j), &j->timer, next);
        return true;
}

void sched_job_arm(struct job *j, usec_t base, enum sched_arm_mode mode) {
        struct sched *s = j->sched;
        const struct job_def *d = j->def;
        usec_t next;
        bool first = mode != SCHED_ARM_NEXT;

        if (!j->sm.enabled || j->sm.removed || j->sm.stopping) {
                timer_stop(&j->timer);
                return;
        }
        if (first && d->persistent && j->last_due > 0 && arm_persistent(j, mode))
                return;
        if (d->schedule == SCHEDULE_EVERY && job_def_cluster_once(d)) {
                /* Aligned to the epoch on the wall clock (cluster.h); an
                 * instant missed entirely is skipped. */
                usec_t now = now_usec(CLOCK_REALTIME);
                next = cluster_every_next(d->every, base == USEC_INFINITY ? now : MAX(now, base));
        } else if (d->schedule == SCHEDULE_EVERY) {
                usec_t now = now_usec(CLOCK_BOOTTIME);
                if (first)
                        next = now + d->every;
                else {
                        next = base + d->every;
                        if (next <= now) /* missed entirely: skip, keep the phase */
                                next += (now - next) / d->every * d->every + d->every;
                }
        } else {
                if (schedule_is_reboot(d->calendar)) {
                        timer_stop(&j->timer);
                        return;
                }
                usec_t now = now_usec(CLOCK_REALTIME);
                usec_t after = MAX(now, base == USEC_INFINITY ? 0 : base);
                int r = schedule_next(d->calendar, d->extras->timezone, after, &next);
                if (r < 0) {
                        if (r == -ENOENT)
                                log_job(LOG_NOTICE, d->name, 0, NULL, "schedule \"%s\" has no further elapse",
                                        d->schedule_text);
                        else
                                log_job(LOG_ERR, d->name, 0, NULL, "cannot compute next elapse of \"%s\": %s",
                                        d->schedule_text, strerror(-r));
                        timer_stop(&j->timer);
                        return;
                }
        }
        j->next_elapse = next;
        usec_t jitter = d->jitter > 0 ? sched_rng_next(s) % d->jitter : 0;
        timer_start(sched_job_clock(j), &j->timer, next + jitter);
}

/* A persistent job whose elapse the step jumped over runs once, now, as
 * if that elapse had just come (its timer fires at once with that elapse;
 * the timer callback then arms the next one after now). The reference is
 * the last elapse handled, or evd's start for a job that has not had one.
 * Returns true if it armed the catch-up. */
static bool catch_up_after_step(struct job *j, usec_t now) {
        const struct job_def *d = j->def;
        usec_t ref = j->last_elapse ? j->last_elapse : j->sched->started_realtime;
        usec_t missed;

        if (!d->persistent || j->sm.paused || schedule_is_reboot(d->calendar))
                return false;
        if (schedule_next(d->calendar, d->extras->timezone, ref, &missed) < 0 || missed > now)
                return false;
        log_job(LOG_INFO, d->name, 0, NULL, "the clock step skipped a run: running it now (persistent)");
        j->next_elapse = missed;
        timer_start(sched_job_clock(j), &j->timer, now);
        return true;
}

/* After a step back over the job's last elapse handled: true if the job
 * is frequent compared with the stretch the clock went back (two of its
 * elapses from now are closer together than now is to that last elapse).
 * Such a job simply goes on from the new time, as wildcard jobs do in
 * cron; holding it until the clock catches up would stop a `*:0/5` job for
 * as long as the step. A sparser job would repeat an elapse it has run. */
static bool resume_from_now(const struct job *j, usec_t now) {
        const struct job_def *d = j->def;
        usec_t a, b;

        if (schedule_next(d->calendar, d->extras->timezone, now, &a) < 0 ||
            schedule_next(d->calendar, d->extras->timezone, a, &b) < 0)
                return false;
        return b - a < j->last_elapse - now;
}

/* The wall clock was set. Each calendar and cron deadline is recomputed:
 *   - forwards: from the new time; the elapses jumped over do not run,
 *     but a persistent job runs once to catch up;
 *   - backwards past the last elapse handled: a job does not run again an
 *     elapse it has run (its next deadline is the one after that elapse),
 *     unless it is frequent compared with the step (resume_from_now()).
 * Elapses skipped by a step forward are not "handled": if the clock is
 * stepped back again (a bad time source, corrected), they still come. */
void sched_on_wall_clock_change(struct timer_clock *tc) {
        struct sched *s = container_of(tc, struct sched, wall);
        usec_t now = now_usec(CLOCK_REALTIME);

        log_notice("System clock was set; recomputing calendar deadlines");
        for (size_t i = 0; i < s->n_jobs; i++) {
                struct job *j = s->jobs[i];
                if (!job_def_on_wall_clock(j->def) || !timer_active(&j->timer))
                        continue;
                if (j->def->schedule == SCHEDULE_EVERY) {
                        /* cluster = once: the instants after the new time. */
                        sched_job_arm(j, USEC_INFINITY, SCHED_ARM_NEXT);
                        continue;
                }
                if (catch_up_after_step(j, now))
                        continue;
                if (j->last_elapse > now && !resume_from_now(j, now))
                        sched_job_arm(j, j->last_elapse, SCHED_ARM_NEXT);
                else
                        sched_job_arm(j, USEC_INFINITY, SCHED_ARM_NEXT);
        }
}

void sched_wall_clock_changed(struct sched *s) {
        sched_on_wall_clock_change(&s->wall); /* the loop re-arms the timerfd after dispatch */
}

size_t job_next_elapses(const struct job *j, usec_t *out, size_t n) {
        const struct job_def *d = j->def;
        size_t k = 0;
        if (n == 0 || !j->sm.enabled || j->sm.removed)
                return 0;
        if (d->schedule == SCHEDULE_EVERY) {
                usec_t first = job_next_run_realtime(j);
                if (first == USEC_INFINITY)
                        return 0;
                /* The first includes this run's jitter; later ones are the
                 * schedule's own times (jitter is drawn per run). */
                usec_t base = first - (timer_deadline(&j->timer) - j->next_elapse);
                out[k++] = first;
                for (; k < n; k++)
                        out[k] = base + k * d->every;
                return k;
        }
        if (schedule_is_reboot(d->calendar))
                return 0;
        usec_t t = timer_active(&j->timer) ? j->next_elapse - 1 : now_usec(CLOCK_REALTIME);
        for (; k < n; k++) {
                if (schedule_next(d->calendar, d->extras->timezone, t, &t) < 0)
                        break;
                out[k] = t;
        }
        return k;
}
