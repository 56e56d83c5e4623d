/* sched_view.c - an interim adapter: the view of sched_view.h over today's
 * struct sched and struct job. Replaced at merge by the scheduler's own.
 *
 * sched_reload_request() runs today's synchronous sched_reload() from a
 * zero-delay timer, i.e. on the next loop iteration, so that its callers
 * (the control socket) really get their answer after they returned, as
 * they will when reload runs on a helper thread. The reload hook and the
 * pending requests are process globals: there is one scheduler.
 * Main thread only. */
#include "sched_view.h"

#include <stddef.h>
#include <stdio.h>

#include "scheduler.h"

struct reload_request {
        struct timer timer;
        struct sched *sched;
        sched_reload_fn done;
        void *userdata;
        struct reload_request *next;
};

static struct reload_request *pending;
static void (*reload_hook)(void *ud, const struct config *c);
static void *reload_hook_ud;

size_t sched_job_count(const struct sched *s) {
        return s->n_jobs;
}

static void fill_view(const struct job *j, struct job_view *ret) {
        *ret = (struct job_view){
                .def = j->def,
                .state = job_state_to_string(job_state(j)),
                .paused = j->paused,
                .n_running = j->n_running,
                .n_waiting = j->n_active - j->n_running,
                .start_queued = j->start_queued,
                .retry_at = USEC_INFINITY,
                .next_run = job_next_run_realtime(j),
                .n_runs = j->n_runs,
                .n_failures = j->n_failures,
                .n_skipped = j->n_skipped,
                .consecutive_failures = j->consecutive_failures,
                .last_start = j->last_start,
                .last_duration = j->last_duration,
                .last_ok = j->last_ok,
        };
        if (timer_active(&j->retry_timer)) {
                usec_t d = timer_deadline(&j->retry_timer), mono = now_usec(CLOCK_BOOTTIME);
                ret->retry_at = now_usec(CLOCK_REALTIME) + (d > mono ? d - mono : 0);
        }
        snprintf(ret->last_result, sizeof ret->last_result, "%s", j->last_result);
}

void sched_job_view_at(const struct sched *s, size_t i, struct job_view *ret) {
        fill_view(s->jobs[i], ret);
}

int sched_job_view(const struct sched *s, const char *name, struct job_view *ret) {
        const struct job *j = sched_find_job((struct sched *)s, name);
        if (!j)
                return -ENOENT;
        fill_view(j, ret);
        return 0;
}

size_t sched_job_next_elapses(const struct sched *s, const char *name, usec_t *out, size_t n) {
        const struct job *j = sched_find_job((struct sched *)s, name);
        return j ? job_next_elapses(j, out, n) : 0;
}

void sched_get_counters(const struct sched *s, struct sched_counters *ret) {
        *ret = (struct sched_counters){
                .runs_started = s->stats.runs_started,
                .runs_completed = s->pool.completed,
                .runs_failed = s->stats.runs_failed,
                .runs_skipped = s->stats.runs_skipped,
                .runs_queued = s->stats.runs_queued,
                .retries = s->stats.retries,
                .orphans_reaped = s->stats.orphans_reaped,
                .reloads = s->stats.reloads,
                .reload_failures = s->stats.reload_failures,
                .pause_changes = s->stats.pause_changes,
                .clock_changes = s->wall.clock_changes,
                .n_jobs = s->n_jobs,
                .running = s->n_running,
                .waiting_for_worker = s->n_pending,
                .workers = s->config->workers,
                .worker_threads = s->pool.n_workers,
        };
}

void sched_get_event_counters(const struct sched *s, struct sched_event_counters *ret) {
        *ret = (struct sched_event_counters){
                .events_timer_boottime = s->mono.source.events,
                .events_timer_realtime = s->wall.source.events,
                .events_completion = s->pool.source.events,
                .timers_fired = s->mono.fired + s->wall.fired,
                .started_realtime = s->started_realtime,
        };
}

const struct config *sched_config(const struct sched *s) {
        return s->config;
}

static void unlink_request(struct reload_request *q) {
        for (struct reload_request **p = &pending; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static void reload_fired(struct timer *t, usec_t now) {
        struct reload_request *q = (struct reload_request *)((char *)t - offsetof(struct reload_request, timer));
        char **errors = NULL;
        unlink_request(q);
        int r = sched_reload(q->sched, &errors);
        if (q->done)
                q->done(q->userdata, r, errors);
        if (r == 0 && reload_hook)
                reload_hook(reload_hook_ud, q->sched->config);
        strv_free(errors);
        free(q);
}

int sched_reload_request(struct sched *s, sched_reload_fn done, void *userdata) {
        struct reload_request *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (struct reload_request){ .sched = s, .done = done, .userdata = userdata, .next = pending };
        timer_init(&q->timer, reload_fired);
        pending = q;
        return timer_start(&s->mono, &q->timer, now_usec(CLOCK_BOOTTIME));
}

void sched_reload_forget(struct sched *s, void *userdata) {
        for (struct reload_request *q = pending; q; q = q->next)
                if (q->sched == s && q->userdata == userdata)
                        q->done = NULL;
}

void sched_set_reload_hook(struct sched *s, void (*fn)(void *ud, const struct config *c), void *ud) {
        reload_hook = fn;
        reload_hook_ud = ud;
}

#ifdef EVD_TEST_HOOKS
void sched_test_clock_step(struct sched *s, int64_t delta_usec) {
        timer_clock_test_step(&s->wall, delta_usec);
}
#endif
