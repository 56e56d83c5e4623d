/* sched.c - the scheduler (see sched.h).
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
 * elapses in between (a persistent job runs once to catch up). */
#include "scheduler.h"

#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "schedule.h"
#include "log.h"
#include "notify.h"
#include "timespan.h"

static void job_timer_fired(struct timer *t, usec_t now);
static void job_retry_fired(struct timer *t, usec_t now);
static void status_timer_fired(struct timer *t, usec_t now);
static void on_complete(struct run *r, void *userdata);
static enum start_outcome request_start(struct job *j, unsigned attempt, const char *why);

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static uint64_t rng_next(struct sched *s) {
        /* xorshift64*: plenty for jitter, seeded from getrandom(). */
        uint64_t x = s->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s->rng = x;
        return x * 0x2545F4914F6CDD1DULL;
}

const char *job_state_to_string(enum job_state st) {
        static const char *const names[] = {
                [JOB_IDLE] = "idle", [JOB_WAITING] = "waiting", [JOB_RUNNING] = "running",
                [JOB_RETRY_WAIT] = "retry-wait", [JOB_DISABLED] = "disabled",
                [JOB_PAUSED] = "paused",
        };
        return names[st];
}

enum job_state job_state(const struct job *j) {
        if (j->n_running > 0)
                return JOB_RUNNING;
        if (j->n_active > 0)
                return JOB_WAITING;
        if (timer_active(&j->retry_timer))
                return JOB_RETRY_WAIT;
        if (!j->def->enabled)
                return JOB_DISABLED;
        if (j->paused)
                return JOB_PAUSED;
        return JOB_IDLE;
}

static struct timer_clock *job_clock(struct job *j) {
        return j->def->schedule == SCHEDULE_EVERY ? &j->sched->mono : &j->sched->wall;
}

usec_t job_next_run_realtime(const struct job *j) {
        if (!timer_active(&j->timer))
                return USEC_INFINITY;
        usec_t d = timer_deadline(&j->timer);
        if (j->def->schedule != SCHEDULE_EVERY)
                return d;
        usec_t mono = now_usec(CLOCK_BOOTTIME), wall = now_usec(CLOCK_REALTIME);
        return d > mono ? wall + (d - mono) : wall;
}

/* ---- schedule computation ---- */

/* Arms j->timer for the schedule's next elapse after `after` (on the
 * job's clock; USEC_INFINITY for "first run"). */
static void job_arm(struct job *j, usec_t base, bool first) {
        struct sched *s = j->sched;
        const struct job_def *d = j->def;
        usec_t next;

        if (!d->enabled || j->removed || s->shutting_down) {
                timer_stop(&j->timer);
                return;
        }
        if (first && d->persistent && j->last_due > 0) {
                /* Catch up: due since the last recorded start? Then run
                 * once, soon; otherwise wait for the elapse it is owed. */
                usec_t now_rt = now_usec(CLOCK_REALTIME);
                usec_t due;
                if (d->schedule == SCHEDULE_EVERY)
                        due = j->last_due + d->every;
                else if (schedule_is_reboot(d->calendar) ||
                         schedule_next(d->calendar, d->timezone, j->last_due, &due) < 0)
                        due = USEC_INFINITY;
                if (due != USEC_INFINITY) {
                        if (due <= now_rt)
                                log_job(LOG_INFO, d->name, 0, NULL, "missed a run while evd was down: running it now");
                        if (d->schedule == SCHEDULE_EVERY) {
                                usec_t now = now_usec(CLOCK_BOOTTIME);
                                next = now + (due > now_rt ? due - now_rt : 0);
                        } else
                                next = MAX(due, now_rt);
                        j->next_elapse = next;
                        timer_start(job_clock(j), &j->timer, next);
                        return;
                }
        }
        if (d->schedule == SCHEDULE_EVERY) {
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
                int r = schedule_next(d->calendar, d->timezone, after, &next);
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
        usec_t jitter = d->jitter > 0 ? rng_next(s) % d->jitter : 0;
        timer_start(job_clock(j), &j->timer, next + jitter);
}

static void job_timer_fired(struct timer *t, usec_t now) {
        struct job *j = container_of(t, struct job, timer);
        usec_t elapse = j->next_elapse;

        if (j->def->schedule != SCHEDULE_EVERY)
                j->last_elapse = elapse;
        job_arm(j, elapse, false);
        if (timer_active(&j->retry_timer)) {
                /* A scheduled run supersedes a pending retry. */
                timer_stop(&j->retry_timer);
                log_job(LOG_INFO, j->def->name, 0, NULL, "pending retry dropped: a scheduled run is due");
        }
        request_start(j, 1, "scheduled");
}

/* A persistent job whose elapse the step jumped over runs once, now, as
 * if that elapse had just come (its timer fires at once with that elapse;
 * job_timer_fired() then arms the next one after now). The reference is
 * the last elapse handled, or evd's start for a job that has not had one.
 * Returns true if it armed the catch-up. */
static bool catch_up_after_step(struct job *j, usec_t now) {
        const struct job_def *d = j->def;
        usec_t ref = j->last_elapse ? j->last_elapse : j->sched->started_realtime;
        usec_t missed;

        if (!d->persistent || j->paused || schedule_is_reboot(d->calendar))
                return false;
        if (schedule_next(d->calendar, d->timezone, ref, &missed) < 0 || missed > now)
                return false;
        log_job(LOG_INFO, d->name, 0, NULL, "the clock step skipped a run: running it now (persistent)");
        j->next_elapse = missed;
        timer_start(job_clock(j), &j->timer, now);
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

        if (schedule_next(d->calendar, d->timezone, now, &a) < 0 ||
            schedule_next(d->calendar, d->timezone, a, &b) < 0)
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
static void wall_clock_changed(struct timer_clock *tc) {
        struct sched *s = container_of(tc, struct sched, wall);
        usec_t now = now_usec(CLOCK_REALTIME);

        log_notice("System clock was set; recomputing calendar deadlines");
        for (size_t i = 0; i < s->n_jobs; i++) {
                struct job *j = s->jobs[i];
                if (j->def->schedule == SCHEDULE_EVERY || !timer_active(&j->timer))
                        continue;
                if (catch_up_after_step(j, now))
                        continue;
                if (j->last_elapse > now && !resume_from_now(j, now))
                        job_arm(j, j->last_elapse, false);
                else
                        job_arm(j, USEC_INFINITY, false);
        }
}

void sched_wall_clock_changed(struct sched *s) {
        wall_clock_changed(&s->wall); /* the loop re-arms the timerfd after dispatch */
}

/* ---- runs ---- */

static void dispatch_pending(struct sched *s) {
        while (s->pending_head && s->n_running < s->config->workers) {
                struct run *r = s->pending_head;
                s->pending_head = r->next;
                if (!s->pending_head)
                        s->pending_tail = NULL;
                s->n_pending--;
                struct job *j = r->owner;
                j->n_running++;
                s->n_running++;
                log_debug("job %s: run %llu -> running", j->def->name, (unsigned long long)r->id);
                pool_submit(&s->pool, r);
        }
}

static void save_state(struct sched *s) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        if (!s->state_dir)
                return;
        for (size_t i = 0; i < s->n_jobs; i++) {
                const struct job *j = s->jobs[i];
                if (!(j->def->persistent && j->last_due > 0) && !j->paused)
                        continue;
                struct state_entry e = { .name = j->def->name, .last_start = j->last_due, .paused = j->paused };
                if (state_format_entry(&buf, &len, &cap, &e) < 0) {
                        free(buf);
                        log_warning("Out of memory while saving state");
                        return;
                }
        }
        state_writer_submit(&s->state_writer, buf, len);
}

static void start_run(struct job *j, unsigned attempt) {
        struct sched *s = j->sched;
        struct run *r = calloc(1, sizeof(*r));
        if (!r) {
                log_job(LOG_ERR, j->def->name, 0, NULL, "cannot start: out of memory");
                return;
        }
        r->id = ++s->next_run_id;
        r->def = job_def_ref(j->def);
        r->owner = j;
        r->attempt = attempt;
        r->kill_grace = s->config->kill_grace;
        atomic_init(&r->cancel, RUN_CANCEL_NONE);
        atomic_init(&r->wake_fd, -1);

        r->job_next = j->active;
        j->active = r;
        j->n_active++;
        s->stats.runs_started++;
        if (attempt == 1) {
                j->last_due = now_usec(CLOCK_REALTIME);
                if (j->def->persistent)
                        save_state(s);
        }

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
        dispatch_pending(s);
}

static void cancel_active(struct job *j, enum run_cancel how) {
        for (struct run *r = j->active; r; r = r->job_next)
                run_cancel(r, how);
}

/* Removes runs of j that are still waiting for a worker (never started). */
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
                for (struct run **jp = &j->active; *jp; jp = &(*jp)->job_next)
                        if (*jp == r) {
                                *jp = r->job_next;
                                break;
                        }
                j->n_active--;
                log_job(LOG_NOTICE, j->def->name, r->id, NULL, "not started: %s", why);
                job_def_unref(r->def);
                free(r);
        }
}

static enum start_outcome request_start(struct job *j, unsigned attempt, const char *why) {
        struct sched *s = j->sched;
        const struct job_def *d = j->def;

        if (s->shutting_down || j->removed)
                return START_REFUSED;
        if (j->paused && !streq(why, "manual")) {
                j->n_skipped++;
                s->stats.runs_skipped++;
                log_job(LOG_INFO, d->name, 0, NULL, "%s run skipped: job is paused", why);
                return START_SKIPPED;
        }
        if (j->n_active == 0) {
                log_debug("job %s: %s run -> starting", d->name, why);
                start_run(j, attempt);
                return START_STARTED;
        }
        switch (d->overlap) {
        case OVERLAP_SKIP:
                j->n_skipped++;
                s->stats.runs_skipped++;
                log_job(LOG_NOTICE, d->name, 0, NULL, "%s run skipped: previous run %llu still active (overlap=skip)",
                        why, (unsigned long long)j->active->id);
                return START_SKIPPED;
        case OVERLAP_QUEUE:
                if (j->start_queued) {
                        j->n_skipped++;
                        s->stats.runs_skipped++;
                        log_job(LOG_NOTICE, d->name, 0, NULL,
                                "%s run skipped: one run is already queued (overlap=queue)", why);
                        return START_SKIPPED;
                }
                j->start_queued = true;
                j->queued_attempt = attempt;
                s->stats.runs_queued++;
                log_job(LOG_INFO, d->name, 0, NULL, "%s run queued: waits for run %llu (overlap=queue)", why,
                        (unsigned long long)j->active->id);
                return START_QUEUED;
        case OVERLAP_PARALLEL:
                start_run(j, attempt);
                return START_STARTED;
        case OVERLAP_REPLACE:
                log_job(LOG_NOTICE, d->name, 0, NULL, "%s run replaces run %llu (overlap=replace)", why,
                        (unsigned long long)j->active->id);
                drop_waiting_runs(j, "replaced by a newer run");
                cancel_active(j, RUN_CANCEL_TERM);
                j->start_queued = true;
                j->queued_attempt = attempt;
                if (j->n_active == 0) {
                        j->start_queued = false;
                        start_run(j, attempt);
                        return START_STARTED;
                }
                return START_QUEUED;
        }
        return START_REFUSED;
}

static void job_retry_fired(struct timer *t, usec_t now) {
        struct job *j = container_of(t, struct job, retry_timer);
        j->sched->stats.retries++;
        request_start(j, j->retry_attempt, "retry");
}

static struct job *job_free(struct job *j) {
        if (!j)
                return NULL;
        timer_stop(&j->timer);
        timer_stop(&j->retry_timer);
        job_def_unref(j->def);
        free(j);
        return NULL;
}

static void forget_removed(struct sched *s, struct job *j) {
        for (size_t i = 0; i < s->n_removed; i++)
                if (s->removed[i] == j) {
                        s->removed[i] = s->removed[--s->n_removed];
                        job_free(j);
                        return;
                }
}

static void log_run_end(struct job *j, struct run *r) {
        char result[256], dur[TIMESPAN_MAX], f_status[48], f_dur[48], f_cpu_u[48], f_cpu_s[48], f_rss[48],
                f_attempt[32];
        usec_t duration = r->end_monotonic - r->start_monotonic;
        bool ok = run_succeeded(r);

        run_describe_result(r, result, sizeof result);
        if (r->spawn_error == 0 && r->wait_code == CLD_EXITED)
                snprintf(f_status, sizeof f_status, "EVD_EXIT_STATUS=%d", r->wait_status);
        else if (r->spawn_error == 0)
                snprintf(f_status, sizeof f_status, "EVD_EXIT_SIGNAL=%s",
                         sigabbrev_np(r->wait_status) ? sigabbrev_np(r->wait_status) : "?");
        else
                snprintf(f_status, sizeof f_status, "EVD_EXIT_STATUS=%d", 127);
        snprintf(f_dur, sizeof f_dur, "EVD_DURATION_USEC=%llu", (unsigned long long)duration);
        snprintf(f_cpu_u, sizeof f_cpu_u, "EVD_CPU_USER_USEC=%llu",
                 (unsigned long long)r->rusage.ru_utime.tv_sec * USEC_PER_SEC + (usec_t)r->rusage.ru_utime.tv_usec);
        snprintf(f_cpu_s, sizeof f_cpu_s, "EVD_CPU_SYSTEM_USEC=%llu",
                 (unsigned long long)r->rusage.ru_stime.tv_sec * USEC_PER_SEC + (usec_t)r->rusage.ru_stime.tv_usec);
        snprintf(f_rss, sizeof f_rss, "EVD_MAX_RSS_KB=%ld", r->rusage.ru_maxrss);
        snprintf(f_attempt, sizeof f_attempt, "EVD_ATTEMPT=%u", r->attempt);
        char *fields[] = { f_status, f_dur, f_cpu_u, f_cpu_s, f_rss, f_attempt, NULL };

        timespan_format(dur, sizeof dur, duration - duration % (duration >= USEC_PER_SEC ? USEC_PER_MSEC : 1));
        /* A run evd itself ended (shutdown, overlap = replace) did not
         * fail: a warning, not an error, so a plain stop logs no errors. */
        bool stopped = !ok && r->cancelled && !r->timed_out;
        log_job(ok ? LOG_INFO : stopped ? LOG_WARNING : LOG_ERR, j->def->name, r->id, fields, "%s: %s%s after %s",
                ok ? "finished" : stopped ? "stopped" : "failed", result,
                r->timed_out ? " (timed out)" : r->cancelled ? " (cancelled)" : "", dur);

        j->n_runs++;
        j->last_start = r->start_realtime;
        j->last_duration = duration;
        j->last_ok = ok;
        size_t rn = strnlen(result, sizeof j->last_result - 1); /* cut to fit, on purpose */
        memcpy(j->last_result, result, rn);
        j->last_result[rn] = '\0';
        if (!ok) {
                j->n_failures++;
                j->consecutive_failures++;
                j->sched->stats.runs_failed++;
        } else
                j->consecutive_failures = 0;
}

static void on_complete(struct run *r, void *userdata) {
        struct sched *s = userdata;
        struct job *j = r->owner;

        s->n_running--;
        j->n_running--;
        j->n_active--;
        for (struct run **pp = &j->active; *pp; pp = &(*pp)->job_next)
                if (*pp == r) {
                        *pp = r->job_next;
                        break;
                }
        log_run_end(j, r);

        bool ok = run_succeeded(r);
        const struct job_def *d = r->def;
        if (!ok && !r->cancelled && !s->shutting_down && !j->removed && r->attempt <= d->retries) {
                usec_t delay = d->retry_delay;
                for (unsigned i = 1; i < r->attempt && delay < USEC_PER_DAY; i++)
                        delay *= 2;
                char buf[TIMESPAN_MAX];
                j->retry_attempt = r->attempt + 1;
                log_job(LOG_NOTICE, d->name, r->id, NULL, "retry %u of %u in %s", r->attempt, d->retries,
                        timespan_format(buf, sizeof buf, delay));
                timer_start(&s->mono, &j->retry_timer, now_usec(CLOCK_BOOTTIME) + delay);
        }
        job_def_unref(r->def);
        free(r);

        if (j->start_queued && j->n_active == 0 && !s->shutting_down && !j->removed) {
                j->start_queued = false;
                start_run(j, j->queued_attempt);
        }
        if (j->removed && j->n_active == 0)
                forget_removed(s, j);
        dispatch_pending(s);
        if (s->shutting_down && s->n_running == 0 && s->n_pending == 0)
                loop_quit(s->loop);
}

/* ---- jobs table ---- */

static struct job *job_new(struct sched *s, struct job_def *d) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        j->sched = s;
        j->def = job_def_ref(d);
        timer_init(&j->timer, job_timer_fired);
        timer_init(&j->retry_timer, job_retry_fired);
        return j;
}

struct job *sched_find_job(struct sched *s, const char *name) {
        size_t lo = 0, hi = s->n_jobs;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(name, s->jobs[mid]->def->name);
                if (c == 0)
                        return s->jobs[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

static void watchdog_fired(struct timer *t, usec_t now) {
        struct sched *s = container_of(t, struct sched, watchdog_timer);
        notify_watchdog();
        timer_start(&s->mono, t, now + s->watchdog_usec / 2);
}

static void shutdown_timer_fired(struct timer *t, usec_t now) {
        struct sched *s = container_of(t, struct sched, shutdown_timer);
        char buf[TIMESPAN_MAX];
        log_warning("Runs still active after shutdown_timeout=%s: terminating them",
                    timespan_format(buf, sizeof buf, s->config->shutdown_timeout));
        for (size_t i = 0; i < s->n_jobs; i++)
                cancel_active(s->jobs[i], RUN_CANCEL_TERM);
        for (size_t i = 0; i < s->n_removed; i++)
                cancel_active(s->removed[i], RUN_CANCEL_TERM);
}

int sched_init(struct sched *s, struct loop *l, struct config *config, const char *config_path) {
        int r;

        *s = (struct sched){ .loop = l, .config = config };
        s->config_path = strdup(config_path);
        if (!s->config_path)
                return -ENOMEM;
        if (getrandom(&s->rng, sizeof s->rng, 0) != sizeof s->rng || s->rng == 0)
                s->rng = now_usec(CLOCK_REALTIME) | 1;
        s->started_realtime = now_usec(CLOCK_REALTIME);
        /* Run ids unique across restarts, so a journal query for one run
         * never mixes two: the start second times 10^6, plus a counter. */
        s->next_run_id = s->started_realtime / USEC_PER_SEC * 1000000;
        timer_init(&s->shutdown_timer, shutdown_timer_fired);
        timer_init(&s->watchdog_timer, watchdog_fired);
        timer_init(&s->status_timer, status_timer_fired);

        r = timer_clock_init(&s->mono, l, CLOCK_BOOTTIME, "timer-boottime");
        if (r < 0)
                return log_error_errno(r, "Failed to create the boottime timerfd");
        r = timer_clock_init(&s->wall, l, CLOCK_REALTIME, "timer-realtime");
        if (r < 0)
                return log_error_errno(r, "Failed to create the realtime timerfd");
        s->wall.on_clock_change = wall_clock_changed;

        r = pool_init(&s->pool, l, on_complete, s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the completion queue");
        r = pool_resize(&s->pool, config->workers);
        if (r < 0)
                return log_error_errno(r, "Failed to start %u worker threads", config->workers);

        s->jobs = calloc(MAX(config->n_jobs, 1), sizeof(*s->jobs));
        if (!s->jobs)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_jobs; i++) {
                s->jobs[i] = job_new(s, config->jobs[i]);
                if (!s->jobs[i])
                        return -ENOMEM;
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

int sched_start(struct sched *s) {
        for (size_t i = 0; i < s->n_jobs; i++) {
                struct job *j = s->jobs[i];
                const struct state_entry *e = state_find(&s->saved, j->def->name);
                if (e) {
                        j->last_due = e->last_start;
                        j->paused = e->paused;
                }
                job_arm(j, USEC_INFINITY, true);
                if (j->def->enabled && j->def->calendar && schedule_is_reboot(j->def->calendar))
                        request_start(j, 1, "@reboot");
        }
        s->watchdog_usec = notify_watchdog_usec();
        if (s->watchdog_usec > 0)
                timer_start(&s->mono, &s->watchdog_timer, now_usec(CLOCK_BOOTTIME) + s->watchdog_usec / 2);
        timer_clock_flush(&s->mono);
        timer_clock_flush(&s->wall);
        return 0;
}

int sched_reload(struct sched *s, char ***errors) {
        struct config *nc = NULL;
        char **errs = NULL;
        char status[256];

        if (s->shutting_down) {
                /* Neither RELOADING=1 nor READY=1 may follow STOPPING=1,
                 * and nothing new would run anyway. */
                log_notice("Reload request ignored: shutting down");
                if (errors)
                        (void)strv_push(errors, "evd is shutting down: reload refused");
                return -ESHUTDOWN;
        }
        notify_reloading();
        s->stats.reloads++;
        log_info("Reloading configuration from %s", s->config_path);
        int r = config_load(s->config_path, &nc, &errs);
        char *nofile = r >= 0 ? pool_nofile_check(nc->workers) : NULL; /* must fit evd's RLIMIT_NOFILE */
        if (nofile) {
                char *e = strdup_printf("%s: %s", s->config_path, nofile);
                (void)strv_push(&errs, e ? e : nofile); /* a copy, logged below */
                free(e);
                free(nofile);
                config_free(nc);
                nc = NULL;
                r = -EMFILE;
        }
        if (r < 0) {
                s->stats.reload_failures++;
                for (char **e = errs; e && *e; e++)
                        log_error("%s", *e);
                if (!errs)
                        log_error_errno(r, "Failed to load %s", s->config_path);
                log_error("Reload failed: %zu error(s); keeping the running configuration", strv_length(errs));
                if (errors) {
                        *errors = errs;
                        errs = NULL;
                }
                strv_free(errs);
                notify_ready(sched_status_line(s, status, sizeof status));
                return -EINVAL;
        }

        struct job **jobs = calloc(MAX(nc->n_jobs, 1), sizeof(*jobs));
        size_t added = 0, changed = 0, removed = 0, kept = 0;
        if (!jobs) {
                config_free(nc);
                notify_ready(sched_status_line(s, status, sizeof status));
                return log_error_errno(-ENOMEM, "Reload failed");
        }
        size_t n_new = 0;
        /* Both tables are sorted by name: merge them. */
        size_t i = 0, k = 0;
        while (i < s->n_jobs || k < nc->n_jobs) {
                int c = i >= s->n_jobs ? 1 : k >= nc->n_jobs ? -1
                        : strcmp(s->jobs[i]->def->name, nc->jobs[k]->name);
                if (c < 0) {
                        /* Removed: no new runs; active runs finish. */
                        struct job *j = s->jobs[i++];
                        removed++;
                        j->removed = true;
                        timer_stop(&j->timer);
                        timer_stop(&j->retry_timer);
                        j->start_queued = false;
                        drop_waiting_runs(j, "job removed from the configuration");
                        log_job(LOG_INFO, j->def->name, 0, NULL, "removed%s",
                                j->n_active ? "; its active run may finish" : "");
                        if (j->n_active > 0) {
                                struct job **nr = realloc(s->removed, (s->n_removed + 1) * sizeof(*nr));
                                if (nr) {
                                        s->removed = nr;
                                        s->removed[s->n_removed++] = j;
                                        continue;
                                }
                                /* Out of memory: the job must stay reachable for its runs. */
                                log_error("Out of memory while removing job %s", j->def->name);
                        }
                        job_free(j);
                } else if (c > 0) {
                        struct job *j = job_new(s, nc->jobs[k++]);
                        if (!j)
                                continue;
                        added++;
                        jobs[n_new++] = j;
                        job_arm(j, USEC_INFINITY, true);
                        log_job(LOG_INFO, j->def->name, 0, NULL, "added");
                } else {
                        struct job *j = s->jobs[i++];
                        struct job_def *nd = nc->jobs[k++];
                        bool same = job_def_same_schedule(j->def, nd);
                        job_def_unref(j->def);
                        j->def = job_def_ref(nd);
                        jobs[n_new++] = j;
                        if (same) {
                                kept++;
                                continue;
                        }
                        changed++;
                        log_job(LOG_INFO, nd->name, 0, NULL, "schedule changed: rescheduled");
                        timer_stop(&j->timer);
                        j->last_elapse = 0;
                        job_arm(j, USEC_INFINITY, true);
                }
        }
        free(s->jobs);
        s->jobs = jobs;
        s->n_jobs = n_new;
        config_free(s->config);
        s->config = nc;
        r = pool_resize(&s->pool, nc->workers);
        if (r < 0)
                log_warning_errno(r, "Could not add worker threads; running with %zu", s->pool.n_workers);
        dispatch_pending(s);
        log_info("Configuration reloaded: %zu jobs (%zu added, %zu changed, %zu removed, %zu unchanged)", n_new, added,
                 changed, removed, kept);
        notify_ready(sched_status_line(s, status, sizeof status));
        return 0;
}

void sched_shutdown(struct sched *s) {
        if (s->shutting_down) {
                log_notice("Second shutdown request: terminating active runs now");
                shutdown_timer_fired(&s->shutdown_timer, 0);
                return;
        }
        s->shutting_down = true;
        notify_stopping();
        for (size_t i = 0; i < s->n_jobs; i++) {
                struct job *j = s->jobs[i];
                timer_stop(&j->timer);
                timer_stop(&j->retry_timer);
                j->start_queued = false;
                drop_waiting_runs(j, "shutting down");
        }
        for (size_t i = 0; i < s->n_removed; i++)
                drop_waiting_runs(s->removed[i], "shutting down");
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
        save_state(s);
        state_writer_stop(&s->state_writer);
        state_done(&s->saved);
        free(s->state_dir);
        for (size_t i = 0; i < s->n_jobs; i++)
                job_free(s->jobs[i]);
        for (size_t i = 0; i < s->n_removed; i++)
                job_free(s->removed[i]);
        free(s->jobs);
        free(s->removed);
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
        *ret = request_start(j, 1, "manual");
        return 0;
}

const char *start_outcome_to_string(enum start_outcome o) {
        static const char *const names[] = {
                [START_STARTED] = "started", [START_QUEUED] = "queued",
                [START_SKIPPED] = "skipped", [START_REFUSED] = "refused",
        };
        return names[o];
}

int sched_set_paused(struct sched *s, const char *name, bool paused) {
        struct job *j = sched_find_job(s, name);
        if (!j)
                return -ENOENT;
        if (j->paused == paused)
                return 0;
        j->paused = paused;
        s->stats.pause_changes++;
        log_job(LOG_NOTICE, j->def->name, 0, NULL, paused ? "paused" : "resumed");
        save_state(s);
        return 1;
}

size_t job_next_elapses(const struct job *j, usec_t *out, size_t n) {
        const struct job_def *d = j->def;
        size_t k = 0;
        if (n == 0 || !d->enabled || j->removed)
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
                if (schedule_next(d->calendar, d->timezone, t, &t) < 0)
                        break;
                out[k] = t;
        }
        return k;
}

char *sched_status_line(struct sched *s, char *buf, size_t size) {
        size_t failing = 0;
        const struct job *next = NULL;
        usec_t next_at = USEC_INFINITY;

        for (size_t i = 0; i < s->n_jobs; i++) {
                const struct job *j = s->jobs[i];
                if (j->consecutive_failures > 0)
                        failing++;
                usec_t t = job_next_run_realtime(j);
                if (t < next_at) {
                        next_at = t;
                        next = j;
                }
        }
        int n = snprintf(buf, size, "%zu job%s, %zu running, %zu failing", s->n_jobs, s->n_jobs == 1 ? "" : "s",
                         s->n_running, failing);
        if (next && n > 0 && (size_t)n < size) {
                char when[64];
                time_t sec = (time_t)(next_at / USEC_PER_SEC);
                struct tm tm;
                localtime_r(&sec, &tm);
                strftime(when, sizeof when, "%H:%M:%S", &tm);
                snprintf(buf + n, size - (size_t)n, "; next: %s at %s", next->def->name, when);
        }
        return buf;
}

static void refresh_status(struct sched *s) {
        char status[256];
        if (!s->shutting_down)
                notify_status(sched_status_line(s, status, sizeof status));
}

static void status_timer_fired(struct timer *t, usec_t now) {
        refresh_status(container_of(t, struct sched, status_timer));
}

/* STATUS= changes only when runs start or end, jobs change or a clock
 * step moves deadlines; the watchdog or a control request alone does not
 * make it worth the O(jobs) scan. Every counter here only grows, so their
 * sum changes whenever one of them does. With many jobs the refresh is
 * deferred and coalesced to at most one a second. */
#define STATUS_DEFER_JOBS 2000
void sched_after_dispatch(void *userdata) {
        struct sched *s = userdata;
        uint64_t fp = s->stats.runs_started + s->pool.completed + s->stats.runs_skipped + s->stats.reloads +
                      s->stats.pause_changes + s->wall.clock_changes + s->stats.retries;
        if (fp != s->status_fingerprint) {
                s->status_fingerprint = fp;
                if (s->n_jobs < STATUS_DEFER_JOBS)
                        refresh_status(s);
                else if (!timer_active(&s->status_timer))
                        timer_start(&s->mono, &s->status_timer, now_usec(CLOCK_BOOTTIME) + USEC_PER_SEC);
        }
        timer_clock_flush(&s->mono);
        timer_clock_flush(&s->wall);
}
