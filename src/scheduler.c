/* scheduler.c - the job table and the glue of the state machine (see
 * scheduler.h): events in, actions carried out on timers and the pool.
 *
 * Invariants (checked by sched_verify() in debug builds): s->jobs is
 * sorted by name; a job's active list holds sm.n_active runs, sm.n_running
 * of them submitted to the pool, the rest in the pending queue; the retry
 * timer is armed iff sm.retry_pending; s->n_running and s->n_pending are
 * the sums over all jobs, removed ones included; s->n_failing counts the
 * table's jobs with consecutive failures.
 *
 * Cost: every event is O(1) or O(log n) (a timer); the state file is
 * marked dirty and written at most once per loop iteration. Main thread
 * only. */
#include "sched_private.h"

#include <assert.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "schedule.h"
#include "log.h"
#include "notify.h"
#include "timespan.h"

uint64_t sched_rng_next(struct sched *s) {
        /* xorshift64*: plenty for jitter, seeded from getrandom(). */
        uint64_t x = s->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s->rng = x;
        return x * 0x2545F4914F6CDD1DULL;
}

void sched_count_failing(struct sched *s, const struct job *j, int delta) {
        if (j->consecutive_failures > 0)
                s->n_failing += (size_t)(ssize_t)delta;
}

/* ---- runs ---- */

void sched_dispatch_pending(struct sched *s) {
        while (s->pending_head && s->n_running < s->config->workers) {
                struct run *r = s->pending_head;
                s->pending_head = r->next;
                if (!s->pending_head)
                        s->pending_tail = NULL;
                s->n_pending--;
                s->n_running++;
                pool_submit(&s->pool, r);
                sched_job_feed(r->owner, JOB_EV_RUN_STARTED, NULL, r);
        }
}

/* scheduled: the instant the run is scheduled for (EVD_SCHEDULED_USEC);
 * instant: a cluster job's instant (0: none); claimed: its claim was won. */
static void start_run(struct job *j, unsigned attempt, usec_t scheduled, usec_t instant, bool claimed) {
        struct sched *s = j->sched;
        struct run *r = calloc(1, sizeof(*r));
        if (!r) {
                /* The state machine counts it active already and a run
                 * is a few hundred bytes: there is no sane way on. */
                log_job(LOG_CRIT, j->def->name, 0, NULL, "cannot start a run: out of memory");
                abort();
        }
        r->id = ++s->next_run_id;
        r->def = job_def_ref(j->def);
        r->owner = j;
        r->attempt = attempt;
        r->kill_grace = s->config->kill_grace;
        r->keep_output_tail = job_def_has_alerts(j->def);
        r->scheduled = instant ? instant : scheduled;
        r->instant = instant;
        atomic_init(&r->cancel, RUN_CANCEL_NONE);
        atomic_init(&r->wake_fd, -1);

        r->job_next = j->active;
        j->active = r;
        s->stats.runs_started++;
        if (claimed)
                sched_cluster_run_started(s, r);
        if (attempt == 1)
                j->last_due = now_usec(CLOCK_REALTIME);

        if (s->pending_tail)
                s->pending_tail->next = r;
        else
                s->pending_head = r;
        s->pending_tail = r;
        s->n_pending++;
        if (s->n_running >= s->config->workers)
                log_job(LOG_INFO, j->def->name, r->id, NULL,
                        "waiting for a free worker (%zu running, workers = %u)", s->n_running,
                        s->config->workers);
}

static void cancel_active(struct job *j) {
        for (struct run *r = j->active; r; r = r->job_next)
                run_cancel(r, RUN_CANCEL_TERM);
}

static void unlink_active(struct job *j, const struct run *r) {
        for (struct run **pp = &j->active; *pp; pp = &(*pp)->job_next)
                if (*pp == r) {
                        *pp = r->job_next;
                        return;
                }
}

/* Removes runs of j that are still waiting for a worker (never started).
 * The state machine has already counted them out. */
static void drop_waiting_runs(struct job *j, const char *why) {
        struct sched *s = j->sched;
        struct run **pp = &s->pending_head, *prev = NULL;
        while (*pp) {
                struct run *r = *pp;
                if (r->owner != j) {
                        prev = r;
                        pp = &r->next;
                        continue;
                }
                *pp = r->next;
                if (s->pending_tail == r)
                        s->pending_tail = prev;
                s->n_pending--;
                unlink_active(j, r);
                log_job(LOG_NOTICE, j->def->name, r->id, NULL, "not started: %s", why);
                job_def_unref(r->def);
                free(r);
        }
}

/* ---- events and actions ---- */

static const char *drop_reason(enum job_event ev) {
        switch (ev) {
        case JOB_EV_PAUSE:
                return "job paused";
        case JOB_EV_DISABLE:
                return "job disabled (enabled = no)";
        case JOB_EV_REMOVE:
                return "job removed from the configuration";
        case JOB_EV_SHUTDOWN:
                return "shutting down";
        default:
                return "replaced by a newer run";
        }
}

static bool is_claim_outcome(enum job_event ev) {
        return ev == JOB_EV_CLAIM_WON || ev == JOB_EV_CLAIM_LOST || ev == JOB_EV_CLAIM_UNDECIDED;
}

static const char *request_name(enum job_event ev) {
        return ev == JOB_EV_DUE ? "scheduled" : ev == JOB_EV_RETRY_DUE ? "retry" : is_claim_outcome(ev) ? "claimed" : "manual";
}

static void log_skip(struct job *j, enum job_event ev, const struct job_actions *act) {
        const char *name = j->def->name, *why = request_name(ev);
        switch (act->skip) {
        case JOB_SKIP_PAUSED:
        case JOB_SKIP_DISABLED:
                log_job(LOG_INFO, name, 0, NULL, "%s run skipped: %s", why, job_skip_reason_to_string(act->skip));
                break;
        case JOB_SKIP_OVERLAP:
                log_job(LOG_NOTICE, name, 0, NULL, "%s run skipped: previous run %llu still active (overlap=skip)",
                        why, (unsigned long long)j->active->id);
                break;
        case JOB_SKIP_ALREADY_QUEUED:
                log_job(LOG_NOTICE, name, 0, NULL, "%s run skipped: one run is already queued (overlap=queue)",
                        why);
                break;
        case JOB_SKIP_CLAIM_LOST:
        case JOB_SKIP_CLAIM_UNDECIDED:
        case JOB_SKIP_CLAIMS_BUSY:
                sched_cluster_log_skip(j, act->skip);
                break;
        default:
                log_debug("job %s: %s run refused: %s", name, why, job_skip_reason_to_string(act->skip));
                return;
        }
        j->n_skipped++;
        j->sched->stats.runs_skipped++;
}

/* The actions a start request can return, in job.h's order. */
static void carry_out_request(struct job *j, enum job_event ev, const struct job_event_args *a,
                              const struct job_actions *act) {
        struct sched *s = j->sched;
        const char *why = request_name(ev);
        if (a->overlap == OVERLAP_REPLACE && (act->flags & (JOB_ACT_CANCEL | JOB_ACT_DROP_WAITING)) && j->active)
                log_job(LOG_NOTICE, j->def->name, 0, NULL, "%s run replaces run %llu (overlap=replace)", why,
                        (unsigned long long)j->active->id);
        if (act->flags & JOB_ACT_DROP_WAITING)
                drop_waiting_runs(j, drop_reason(ev));
        if (act->flags & JOB_ACT_CANCEL)
                cancel_active(j);
        if (act->flags & JOB_ACT_SKIP)
                log_skip(j, ev, act);
        if (act->flags & JOB_ACT_QUEUE) {
                if (a->overlap == OVERLAP_QUEUE) {
                        s->stats.runs_queued++;
                        log_job(LOG_INFO, j->def->name, 0, NULL, "%s run queued: waits for run %llu (overlap=queue)",
                                why, (unsigned long long)j->active->id);
                }
        }
}

static struct job_retry *retry_free(struct job_retry *rt) {
        if (rt) {
                timer_stop(&rt->timer);
                free(rt);
        }
        return NULL;
}

static void arm_retry(struct job *j, usec_t delay, usec_t scheduled, usec_t instant) {
        struct sched *s = j->sched;
        if (!j->retry) {
                j->retry = calloc(1, sizeof(*j->retry));
                if (!j->retry) {
                        /* The state machine has a retry pending: make it now. */
                        log_job(LOG_ERR, j->def->name, 0, NULL, "cannot wait for the retry: out of memory; retrying now");
                        s->request_scheduled = scheduled;
                        sched_job_feed(j, JOB_EV_RETRY_DUE, NULL, NULL);
                        return;
                }
                timer_init(&j->retry->timer, sched_job_retry_fired);
                j->retry->job = j;
        }
        j->retry->scheduled = scheduled;
        j->retry->instant = instant;
        timer_start(&s->mono, &j->retry->timer, now_usec(CLOCK_BOOTTIME) + delay);
}

/* The starts of a cluster = once job: a won instant runs claimed (fenced,
 * recorded), also when its start was queued behind the active runs; a
 * won instant that does not run is recorded as not run. */
static void cluster_pending_start(struct job *j, enum job_event ev, const struct job_event_args *a,
                                  const struct job_actions *act, usec_t at) {
        usec_t instant;
        unsigned attempt;
        if ((act->flags & JOB_ACT_DROP_QUEUED) && sched_cluster_take_queued(j, &instant, &attempt))
                sched_cluster_not_run(j, instant, attempt, drop_reason(ev));
        if (act->flags & JOB_ACT_QUEUE) {
                if (ev == JOB_EV_CLAIM_WON)
                        sched_cluster_queued(j, a->instant, a->attempt);
                else
                        (void)sched_cluster_take_queued(j, &instant, &attempt); /* a manual start now waits */
        }
        if (act->flags & JOB_ACT_START) {
                if (ev == JOB_EV_RUN_ENDED && sched_cluster_take_queued(j, &instant, &attempt))
                        start_run(j, act->start_attempt, at, instant, true);
                else
                        start_run(j, act->start_attempt, at, is_claim_outcome(ev) ? a->instant : 0,
                                  ev == JOB_EV_CLAIM_WON);
        } else if (ev == JOB_EV_CLAIM_WON && (act->flags & JOB_ACT_SKIP))
                sched_cluster_not_run(j, a->instant, a->attempt, job_skip_reason_to_string(act->skip));
}

static void log_transition(const struct job *j, enum job_event ev, const struct job_actions *act) {
        if (act->old_state != act->new_state || act->flags)
                log_debug("job %s: %s: %s -> %s (actions 0x%x)", j->def->name, job_event_to_string(ev),
                          job_state_to_string(act->old_state), job_state_to_string(act->new_state), act->flags);
}

enum start_outcome sched_job_feed(struct job *j, enum job_event ev, const struct job_event_args *a,
                                  const struct run *r) {
        struct sched *s = j->sched;
        struct job_event_args own = {
                .overlap = j->def->overlap, .enabled = j->def->enabled, .cluster = job_def_cluster_once(j->def),
                .cluster_run = j->def->extras->cluster_unreachable == CLUSTER_UNREACHABLE_RUN,
        };
        struct job_actions act;

        /* The instant a start made now was scheduled for: the request's
         * (its caller set it), or the queued start's. */
        usec_t at = s->request_scheduled;
        s->request_scheduled = 0;
        if (ev == JOB_EV_RUN_ENDED)
                at = sched_job_notes(j) ? sched_job_notes(j)->queued_scheduled : 0;
        if (at == 0)
                at = now_usec(CLOCK_REALTIME);

        if (!a)
                a = &own;
        job_handle(&j->sm, ev, a, &act);
        sched_metrics_touch(s);
        log_transition(j, ev, &act);
        if (act.invalid) {
                /* A programming error: the event cannot happen here. */
                log_error("job %s: event %s is invalid in state %s", j->def->name, job_event_to_string(ev),
                          job_state_to_string(act.old_state));
                assert(!act.invalid);
                return START_REFUSED;
        }
        if (act.flags & JOB_ACT_STOP_SCHEDULE)
                timer_stop(&j->timer);
        if (act.flags & JOB_ACT_ARM_SCHEDULE)
                sched_job_arm(j, USEC_INFINITY, SCHED_ARM_RELOAD);
        if (act.flags & JOB_ACT_STOP_RETRY) {
                j->retry = retry_free(j->retry);
                if (ev == JOB_EV_DUE || ev == JOB_EV_RUN_NOW)
                        log_job(LOG_INFO, j->def->name, 0, NULL, "pending retry dropped: a %s run is due",
                                request_name(ev));
        }
        if (act.flags & JOB_ACT_DROP_QUEUED)
                log_job(LOG_NOTICE, j->def->name, 0, NULL, "queued run dropped: %s", drop_reason(ev));
        if (ev == JOB_EV_DUE || ev == JOB_EV_RUN_NOW || ev == JOB_EV_RETRY_DUE || is_claim_outcome(ev))
                carry_out_request(j, ev, a, &act);
        else {
                if (act.flags & JOB_ACT_DROP_WAITING)
                        drop_waiting_runs(j, drop_reason(ev));
                if (act.flags & JOB_ACT_CANCEL)
                        cancel_active(j);
        }
        if (act.flags & JOB_ACT_QUEUE) {
                struct job_side *x = sched_notes_get(j);
                if (x)
                        x->notes.queued_scheduled = at;
        }
        if (job_def_cluster_once(j->def))
                cluster_pending_start(j, ev, a, &act, at);
        else if (act.flags & JOB_ACT_START)
                start_run(j, act.start_attempt, at, 0, false);
        if (act.flags & JOB_ACT_ARM_RETRY) {
                char buf[TIMESPAN_MAX];
                log_job(LOG_NOTICE, j->def->name, r ? r->id : 0, NULL, "retry %u of %u in %s", act.retry_attempt - 1,
                        a->retries, timespan_format(buf, sizeof buf, act.retry_delay));
                arm_retry(j, act.retry_delay, r ? r->scheduled : at, r ? r->instant : 0);
        }
        sched_watch_actions(j, ev, &act);
        /* The state file keeps persistent jobs' last starts and pauses: the
         * start of any other job leaves it as it is, and a snapshot is
         * O(jobs) (with 100,000 jobs it was most of the loop's time per
         * dispatch, bench/README.md). */
        /* After the run's end was logged (sched_log_run_end), independently of it. */
        if (act.flags & JOB_ACT_ALERT_FAILURE)
                sched_alert(j, ALERT_FAILURE, r);
        if (act.flags & JOB_ACT_ALERT_RECOVERY)
                sched_alert(j, ALERT_RECOVERY, r);
        if (ev == JOB_EV_RUN_ENDED && r && !r->cancelled &&
            !(act.flags & (JOB_ACT_ALERT_FAILURE | JOB_ACT_ALERT_RECOVERY)))
                sched_alert(j, ALERT_RUN, r);
        if ((act.flags & JOB_ACT_SAVE_STATE) && (j->def->persistent || !(act.flags & JOB_ACT_START)))
                s->state_dirty = true;
        if (act.flags & JOB_ACT_CLAIM)
                sched_cluster_claim(j, a->instant, act.start_attempt); /* may feed j again, never forgets it */
        if (act.flags & JOB_ACT_FORGET) {
                for (size_t i = 0; i < s->n_removed; i++)
                        if (s->removed[i] == j) {
                                s->removed[i] = s->removed[--s->n_removed];
                                break;
                        }
                sched_job_free(j);
        }
        if (act.flags & JOB_ACT_START)
                sched_dispatch_pending(s);
        return act.outcome;
}

enum start_outcome sched_job_feed_instant(struct job *j, enum job_event ev, usec_t instant, unsigned attempt) {
        struct job_event_args a = {
                .overlap = j->def->overlap, .enabled = j->def->enabled, .cluster = job_def_cluster_once(j->def),
                .cluster_run = j->def->extras->cluster_unreachable == CLUSTER_UNREACHABLE_RUN,
                .instant = instant, .attempt = attempt,
        };
        return sched_job_feed(j, ev, &a, NULL);
}

void sched_job_timer_fired(struct timer *t, usec_t now) {
        struct job *j = container_of(t, struct job, timer);
        usec_t elapse = j->next_elapse;
        (void)now;

        if (j->def->schedule != SCHEDULE_EVERY)
                j->last_elapse = elapse;
        sched_job_arm(j, elapse, SCHED_ARM_NEXT);
        /* The run is scheduled for the elapse, jitter left out; an every=
         * elapse is on CLOCK_BOOTTIME (but a cluster job's, aligned to the
         * epoch, is on the wall clock). */
        usec_t at = elapse;
        if (j->def->schedule == SCHEDULE_EVERY && !job_def_cluster_once(j->def)) {
                usec_t boot = now_usec(CLOCK_BOOTTIME), wall = now_usec(CLOCK_REALTIME);
                at = wall - MIN(boot > elapse ? boot - elapse : 0, wall);
        }
        j->sched->request_scheduled = at;
        sched_job_feed_instant(j, JOB_EV_DUE, elapse, 0);
}

void sched_job_retry_fired(struct timer *t, usec_t now) {
        struct job_retry *rt = container_of(t, struct job_retry, timer);
        struct job *j = rt->job;
        (void)now;
        usec_t scheduled = rt->scheduled, instant = rt->instant;
        j->retry = retry_free(rt);
        j->sched->stats.retries++;
        j->sched->request_scheduled = scheduled;
        sched_job_feed_instant(j, JOB_EV_RETRY_DUE, instant, 0);
}

static void on_complete(struct run *r, void *userdata) {
        struct sched *s = userdata;
        struct job *j = r->owner;

        s->n_running--;
        unlink_active(j, r);
        sched_log_run_end(j, r);
        struct job_alerts al = { .alert = ALERT_MODE_CHANGE };
        if (j->def->config->alert_defaults || j->def->extras->alerts)
                job_def_alerts(j->def, &al);
        const struct job_event_args a = {
                .overlap = j->def->overlap, .enabled = j->def->enabled, .attempt = r->attempt,
                .retries = r->def->retries, .retry_delay = r->def->retry_delay, .ok = run_succeeded(r),
                .cancelled = r->cancelled, .alert_every = al.alert == ALERT_MODE_EVERY,
        };
        sched_job_feed(j, JOB_EV_RUN_ENDED, &a, r); /* may free j */
        free(r->output_tail);
        job_def_unref(r->def);
        free(r);

        sched_dispatch_pending(s);
        if (s->shutting_down && s->n_running == 0 && s->n_pending == 0)
                loop_quit(s->loop);
}

/* ---- jobs table ---- */

/* Jobs are allocated in blocks: one for the table evd starts with, one
 * per reload for the jobs it adds (no malloc header per job, and the
 * addresses stay put for the timers and runs that point at them). A block
 * is freed when its last job is; s->blocks is sorted by address. */
struct job *sched_jobs_alloc(struct sched *s, size_t n) {
        struct job_block *b = realloc(s->blocks, (s->n_blocks + 1) * sizeof(*b));
        if (!b)
                return NULL;
        s->blocks = b;
        struct job *base = calloc(n, sizeof(*base));
        if (!base)
                return NULL;
        size_t i = s->n_blocks;
        while (i > 0 && s->blocks[i - 1].base > base)
                i--;
        memmove(&s->blocks[i + 1], &s->blocks[i], (s->n_blocks - i) * sizeof(*s->blocks));
        s->blocks[i] = (struct job_block){ .base = base, .n = n, .live = n };
        s->n_blocks++;
        return base;
}

static void release_slot(struct sched *s, struct job *j) {
        size_t lo = 0, hi = s->n_blocks;
        while (hi - lo > 1) { /* the last block whose base is <= j */
                size_t mid = (lo + hi) / 2;
                if (s->blocks[mid].base <= j)
                        lo = mid;
                else
                        hi = mid;
        }
        struct job_block *b = &s->blocks[lo];
        assert(lo < s->n_blocks && j >= b->base && j < b->base + b->n && b->live > 0);
        if (--b->live > 0)
                return;
        free(b->base);
        memmove(b, b + 1, (s->n_blocks - lo - 1) * sizeof(*b));
        s->n_blocks--;
}

void sched_job_init(struct job *j, struct sched *s, struct job_def *d, bool paused) {
        j->sched = s;
        j->def = job_def_ref(d);
        timer_init(&j->timer, sched_job_timer_fired);
        job_sm_init(&j->sm, d->enabled, paused);
}

struct job *sched_job_free(struct job *j) {
        if (!j)
                return NULL;
        timer_stop(&j->timer);
        j->retry = retry_free(j->retry);
        sched_side_free(j);
        job_def_unref(j->def);
        release_slot(j->sched, j);
        return NULL;
}

struct job *sched_job_bsearch(struct job *const *jobs, size_t n, const char *name) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(name, jobs[mid]->def->name);
                if (c == 0)
                        return jobs[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

struct job *sched_find_job(struct sched *s, const char *name) {
        return sched_job_bsearch(s->jobs, s->n_jobs, name);
}

/* ---- state file ---- */

/* One snapshot of every persistent or paused job: O(jobs), so only from
 * sched_after_dispatch() (at most once per loop iteration) and at exit. */
static void save_state(struct sched *s) {
        char *buf = NULL;
        size_t len = 0, cap = 0, n = 0;
        s->state_dirty = false;
        if (!s->state_dir)
                return;
        for (size_t i = 0; i < s->n_jobs; i++) {
                const struct job *j = s->jobs[i];
                struct state_entry e = { .name = j->def->name, .paused = j->sm.paused };
                bool watched = sched_watch_entry(j, &e);
                if (!(j->def->persistent && j->last_due > 0) && !j->sm.paused && !watched)
                        continue;
                e.last_start = j->last_due;
                if (state_format_entry(&buf, &len, &cap, &e) < 0) {
                        free(buf);
                        log_warning("Out of memory while saving state");
                        return;
                }
                n++;
        }
        log_debug("State snapshot: %zu of %zu jobs", n, s->n_jobs);
        state_writer_submit(&s->state_writer, buf, len);
}

/* ---- start, control, shutdown ---- */

static void terminate_all(struct sched *s) {
        for (size_t i = 0; i < s->n_jobs; i++)
                sched_job_feed(s->jobs[i], JOB_EV_STOP_NOW, NULL, NULL);
        for (size_t i = 0; i < s->n_removed; i++)
                sched_job_feed(s->removed[i], JOB_EV_STOP_NOW, NULL, NULL);
}

void sched_shutdown_timer_fired(struct timer *t, usec_t now) {
        struct sched *s = container_of(t, struct sched, shutdown_timer);
        char buf[TIMESPAN_MAX];
        (void)now;
        log_warning("Runs still active after shutdown_timeout=%s: terminating them",
                    timespan_format(buf, sizeof buf, s->config->shutdown_timeout));
        terminate_all(s);
}

int sched_init(struct sched *s, struct loop *l, struct config *config, const char *config_path) {
        int r;

        *s = (struct sched){ .loop = l, .config = config };
        if (config->cluster)
                log_set_node(config->cluster->node); /* before the workers start */
        s->config_path = strdup(config_path);
        if (!s->config_path)
                return -ENOMEM;
        if (getrandom(&s->rng, sizeof s->rng, 0) != sizeof s->rng || s->rng == 0)
                s->rng = now_usec(CLOCK_REALTIME) | 1;
        s->started_realtime = now_usec(CLOCK_REALTIME);
        /* Run ids unique across restarts, so a journal query for one run
         * never mixes two: the start second times 10^6, plus a counter. */
        s->next_run_id = s->started_realtime / USEC_PER_SEC * 1000000;
        timer_init(&s->shutdown_timer, sched_shutdown_timer_fired);
        timer_init(&s->watchdog_timer, sched_watchdog_fired);
        timer_init(&s->status_timer, sched_status_timer_fired);
        timer_init(&s->alert_report_timer, sched_alert_report_fired);

        r = timer_clock_init(&s->mono, l, CLOCK_BOOTTIME, "timer-boottime");
        if (r < 0)
                return log_error_errno(r, "Failed to create the boottime timerfd");
        r = timer_clock_init(&s->wall, l, CLOCK_REALTIME, "timer-realtime");
        if (r < 0)
                return log_error_errno(r, "Failed to create the realtime timerfd");
        s->wall.on_clock_change = sched_on_wall_clock_change;
        r = sched_reloader_init(s);
        if (r < 0)
                return log_error_errno(r, "Failed to create the reload eventfd");

        r = pool_init(&s->pool, l, on_complete, s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the completion queue");
        r = pool_resize(&s->pool, config->workers);
        if (r < 0)
                return log_error_errno(r, "Failed to start %u worker threads", config->workers);
        r = alert_executor_init(&s->alerts, l, ALERT_RATE_PER_MINUTE);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the alert queue");
        sched_cluster_init(s);

        s->jobs = calloc(MAX(config->n_jobs, 1), sizeof(*s->jobs));
        struct job *block = config->n_jobs ? sched_jobs_alloc(s, config->n_jobs) : NULL;
        if (!s->jobs || (config->n_jobs && !block))
                return -ENOMEM;
        for (size_t i = 0; i < config->n_jobs; i++) {
                s->jobs[i] = &block[i];
                sched_job_init(s->jobs[i], s, config->jobs[i], false);
                s->n_jobs++;
        }
        l->after_dispatch = sched_after_dispatch;
        l->userdata = s;
        return 0;
}

void sched_use_state_directory(struct sched *s, const char *dir) {
        char **warnings = NULL;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                log_warning_errno(errno, "Cannot create state directory %s; persistent= jobs have no history", dir);
                return;
        }
        int r = state_load(dir, &s->saved, &warnings);
        for (char **w = warnings; w && *w; w++)
                log_warning("%s/state: %s", dir, *w);
        strv_free(warnings);
        if (r < 0)
                log_warning_errno(r, "Cannot read %s/state; starting without history", dir);
        r = state_writer_start(&s->state_writer, dir);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the state writer; persistent= jobs have no history");
                return;
        }
        s->state_dir = strdup(dir);
}

/* The saved last start and pause of j; a last start in the future (the
 * clock was ahead when it was written) is not used: it would hold a
 * persistent job back until that time. */
static void restore_saved(struct sched *s, struct job *j, usec_t now) {
        const struct state_entry *e = state_find(&s->saved, j->def->name);
        if (!e)
                return;
        if (e->last_start > now) {
                char when[64];
                time_t sec = (time_t)(e->last_start / USEC_PER_SEC);
                struct tm tm;
                gmtime_r(&sec, &tm);
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
                log_job(LOG_WARNING, j->def->name, 0, NULL,
                        "not using the saved last start (%s): it is in the future", when);
                s->state_dirty = true;
        } else
                j->last_due = e->last_start;
        if (e->paused)
                sched_job_feed(j, JOB_EV_PAUSE, NULL, NULL);
}

int sched_start(struct sched *s) {
        usec_t now = now_usec(CLOCK_REALTIME);
        for (size_t i = 0; i < s->n_jobs; i++) {
                struct job *j = s->jobs[i];
                restore_saved(s, j, now);
                sched_watch_restore(j, state_find(&s->saved, j->def->name));
                sched_job_arm(j, USEC_INFINITY, SCHED_ARM_START);
                if (j->def->enabled && j->def->calendar && schedule_is_reboot(j->def->calendar))
                        sched_job_feed(j, JOB_EV_DUE, NULL, NULL);
        }
        s->watchdog_usec = notify_watchdog_usec();
        if (s->watchdog_usec > 0)
                timer_start(&s->mono, &s->watchdog_timer, now_usec(CLOCK_BOOTTIME) + s->watchdog_usec / 2);
        timer_clock_flush(&s->mono);
        timer_clock_flush(&s->wall);
        return 0;
}

void sched_shutdown(struct sched *s) {
        if (s->shutting_down) {
                log_notice("Second shutdown request: terminating active runs now");
                terminate_all(s);
                return;
        }
        s->shutting_down = true;
        notify_stopping();
        sched_reloader_shutdown(s);
        for (size_t i = 0; i < s->n_jobs; i++)
                sched_job_feed(s->jobs[i], JOB_EV_SHUTDOWN, NULL, NULL);
        for (size_t i = 0; i < s->n_removed; i++)
                sched_job_feed(s->removed[i], JOB_EV_SHUTDOWN, NULL, NULL);
        if (s->n_running == 0) {
                log_info("Shutting down");
                loop_quit(s->loop);
                return;
        }
        char buf[TIMESPAN_MAX];
        log_info("Shutting down: waiting up to %s for %zu active run(s)",
                 timespan_format(buf, sizeof buf, s->config->shutdown_timeout), s->n_running);
        if (s->config->shutdown_timeout != USEC_INFINITY) {
                timer_start(&s->mono, &s->shutdown_timer, now_usec(CLOCK_BOOTTIME) + s->config->shutdown_timeout);
                /* A shutdown_timeout longer than the unit's TimeoutStopSec=
                 * must not get evd killed half way: ask for the time the
                 * runs may take, SIGTERM to SIGKILL, and a margin. */
                notify_extend_timeout(s->config->shutdown_timeout + s->config->kill_grace + 10 * USEC_PER_SEC);
        }
}

void sched_done(struct sched *s) {
        pool_drain(&s->pool); /* nothing should be left; free what is */
        pool_stop(&s->pool);
        sched_alerts_done(s);
        sched_cluster_done(s);
        sched_reloader_done(s);
        save_state(s);
        state_writer_stop(&s->state_writer);
        sched_metrics_done(s);
        state_done(&s->saved);
        free(s->state_dir);
        for (size_t i = 0; i < s->n_jobs; i++)
                sched_job_free(s->jobs[i]);
        for (size_t i = 0; i < s->n_removed; i++)
                sched_job_free(s->removed[i]);
        sched_side_done(s);
        free(s->jobs);
        free(s->removed);
        assert(s->n_blocks == 0);
        free(s->blocks);
        timer_stop(&s->shutdown_timer);
        timer_stop(&s->watchdog_timer);
        timer_stop(&s->status_timer);
        timer_clock_done(&s->mono);
        timer_clock_done(&s->wall);
        config_free(s->config);
        free(s->config_path);
        *s = (struct sched){ 0 };
}

void sched_reap_orphans(struct sched *s) {
        for (;;) {
                int status;
                /* __WNOTHREAD: only the main thread's own children, which
                 * are the orphans re-parented to evd; a run's main process
                 * is a child of its worker thread, which reaps it. */
                pid_t pid = waitpid(-1, &status, WNOHANG | __WNOTHREAD);
                if (pid <= 0)
                        return;
                s->stats.orphans_reaped++;
                log_debug("Reaped orphaned process %d", (int)pid);
        }
}

int sched_run_now(struct sched *s, const char *name, enum start_outcome *ret) {
        struct job *j = sched_find_job(s, name);
        if (!j)
                return -ENOENT;
        if (s->shutting_down)
                return -ESHUTDOWN;
        *ret = sched_job_feed(j, JOB_EV_RUN_NOW, NULL, NULL);
        return 0;
}

int sched_set_paused(struct sched *s, const char *name, bool paused) {
        struct job *j = sched_find_job(s, name);
        if (!j)
                return -ENOENT;
        if (j->sm.paused == paused)
                return 0;
        s->stats.pause_changes++;
        log_job(LOG_NOTICE, j->def->name, 0, NULL, paused ? "paused" : "resumed");
        sched_job_feed(j, paused ? JOB_EV_PAUSE : JOB_EV_RESUME, NULL, NULL);
        return 1;
}

/* STATUS= changes only when runs start or end, jobs change or a clock
 * step moves deadlines; the watchdog or a control request alone does not
 * make it worth a refresh. Every counter here only grows, so their sum
 * changes whenever one of them does. With many jobs the refresh is
 * deferred and coalesced to at most one a second. */
#define STATUS_DEFER_JOBS 2000
void sched_after_dispatch(void *userdata) {
        struct sched *s = userdata;
        if (s->state_dirty)
                save_state(s);
        uint64_t fp = s->stats.runs_started + s->pool.completed + s->stats.runs_skipped + s->stats.reloads +
                      s->stats.pause_changes + s->wall.clock_changes + s->stats.retries;
        if (fp != s->status_fingerprint) {
                s->status_fingerprint = fp;
                if (s->n_jobs < STATUS_DEFER_JOBS)
                        sched_refresh_status(s);
                else if (!timer_active(&s->status_timer))
                        timer_start(&s->mono, &s->status_timer, now_usec(CLOCK_BOOTTIME) + USEC_PER_SEC);
        }
        sched_metrics_after_dispatch(s);
        timer_clock_flush(&s->mono);
        timer_clock_flush(&s->wall);
#ifndef NDEBUG
        sched_verify(s);
#endif
}
