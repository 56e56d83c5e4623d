/* sched_status.c - what the scheduler shows: STATUS=, the watchdog, the
 * read-only view control renders (struct job_view), counters for evdctl
 * stats, the spawn-step ids of stored results, and sched_verify().
 *
 * Cost: the STATUS= line is O(1) in the number of jobs: failing jobs are
 * counted as their runs end (s->n_failing) and the next run comes from the
 * tops of the two timer heaps (heap_min_where skips the few daemon timers).
 * sched_verify() is O(jobs), debug builds only, over a rotating slice of
 * a table above VERIFY_ALL_MAX jobs so the ASan tests with very many jobs
 * do not crawl.
 *
 * Main thread only. */
#include "sched_private.h"

#include <assert.h>
#include <stdio.h>

#include "log.h"
#include "notify.h"

/* ---- spawn steps ---- */

/* The steps spawn/run report are string literals; a stored result keeps a
 * byte instead of a pointer. Id 0 is "no step". */
static const char *steps[256];
static unsigned n_steps = 1;

uint8_t sched_step_id(const char *step) {
        if (!step)
                return 0;
        for (unsigned i = 1; i < n_steps; i++)
                if (steps[i] == step || streq(steps[i], step))
                        return (uint8_t)i;
        if (n_steps == 256)
                return 0;
        steps[n_steps] = step;
        return (uint8_t)n_steps++;
}

const char *sched_step_name(uint8_t id) {
        return id < n_steps ? steps[id] : NULL;
}

/* ---- STATUS= and the watchdog ---- */

static bool is_job_timer(const struct heap_node *n, void *ud) {
        const struct timer *t = container_of(n, struct timer, node);
        (void)ud;
        return t->callback == sched_job_timer_fired || t->callback == sched_job_retry_fired;
}

static usec_t to_realtime(const struct timer_clock *tc, usec_t d) {
        if (tc->clock == CLOCK_REALTIME)
                return d;
        usec_t mono = now_usec(tc->clock), wall = now_usec(CLOCK_REALTIME);
        return d > mono ? wall + (d - mono) : wall;
}

/* The job whose timer (schedule or retry) comes first on tc, or NULL. */
static const struct job *first_job(const struct timer_clock *tc, usec_t *ret_at) {
        struct heap_node *n = heap_min_where(&tc->heap, is_job_timer, NULL);
        if (!n)
                return NULL;
        const struct timer *t = container_of(n, struct timer, node);
        const struct job *j = t->callback == sched_job_timer_fired ? container_of(t, struct job, timer)
                                                                    : container_of(t, struct job_retry, timer)->job;
        *ret_at = to_realtime(tc, n->key);
        return j;
}

char *sched_status_line(struct sched *s, char *buf, size_t size) {
        usec_t at_m = USEC_INFINITY, at_w = USEC_INFINITY;
        const struct job *m = first_job(&s->mono, &at_m), *w = first_job(&s->wall, &at_w);
        const struct job *next = at_m <= at_w ? m : w;
        usec_t next_at = MIN(at_m, at_w);

        int n = snprintf(buf, size, "%zu job%s, %zu running, %zu failing", s->n_jobs, s->n_jobs == 1 ? "" : "s",
                         s->n_running, s->n_failing);
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

void sched_refresh_status(struct sched *s) {
        char status[256];
        if (!s->shutting_down)
                notify_status(sched_status_line(s, status, sizeof status));
}

void sched_status_timer_fired(struct timer *t, usec_t now) {
        (void)now;
        sched_refresh_status(container_of(t, struct sched, status_timer));
}

void sched_watchdog_fired(struct timer *t, usec_t now) {
        struct sched *s = container_of(t, struct sched, watchdog_timer);
        notify_watchdog();
        timer_start(&s->mono, t, now + s->watchdog_usec / 2);
}

/* ---- the view ---- */

static void fill_view(const struct job *j, struct job_view *v) {
        *v = (struct job_view){
                .def = j->def,
                .state = job_state_to_string(job_state(j)),
                .paused = j->sm.paused,
                .n_running = j->sm.n_running,
                .n_waiting = j->sm.n_active - j->sm.n_running,
                .start_queued = j->sm.start_queued,
                .retry_at = j->retry ? to_realtime(&j->sched->mono, timer_deadline(&j->retry->timer)) : USEC_INFINITY,
                .next_run = job_next_run_realtime(j),
                .n_runs = j->n_runs,
                .n_failures = j->n_failures,
                .n_skipped = j->n_skipped,
                .consecutive_failures = j->consecutive_failures,
                .last_start = j->last_start,
                .last_duration = j->last_duration,
                .last_ok = j->last.ok,
        };
        job_describe_result(j, v->last_result, sizeof v->last_result);
        if (job_def_cluster_once(j->def) &&
            !sched_cluster_last(j->sched, j->def->name, &v->cluster_node, &v->cluster_result))
                v->cluster_node = v->cluster_result = NULL;
}

size_t sched_job_count(const struct sched *s) {
        return s->n_jobs;
}

void sched_job_view_at(const struct sched *s, size_t i, struct job_view *ret) {
        assert(i < s->n_jobs);
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

const struct config *sched_config(const struct sched *s) {
        return s->config;
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

#ifdef EVD_TEST_HOOKS
void sched_test_clock_step(struct sched *s, int64_t delta_usec) {
        timer_clock_test_step(&s->wall, delta_usec);
}
#endif

/* ---- invariants ---- */

#define VERIFY_ALL_MAX 20000
#define VERIFY_SLICE 2000

#define VERIFY(cond)                                                                                   \
        do {                                                                                           \
                if (!(cond)) {                                                                         \
                        log_error("sched_verify: %s does not hold (%s:%d)", #cond, __FILE__, __LINE__); \
                        abort();                                                                       \
                }                                                                                      \
        } while (0)

static void verify_job(const struct sched *s, const struct job *j) {
        size_t n = 0;
        VERIFY(j->sched == s);
        VERIFY(job_sm_verify(&j->sm));
        for (const struct run *r = j->active; r; r = r->job_next) {
                VERIFY(r->owner == j);
                n++;
        }
        VERIFY(n == j->sm.n_active);
        VERIFY((j->retry && timer_active(&j->retry->timer)) == j->sm.retry_pending);
        if (!j->sm.enabled || j->sm.removed || j->sm.stopping)
                VERIFY(!timer_active(&j->timer));
}

/* Totals over the whole table: O(jobs + pending runs). */
static void verify_totals(const struct sched *s) {
        size_t running = 0, active = 0, failing = 0, pending = 0;
        for (size_t i = 0; i < s->n_jobs; i++) {
                running += s->jobs[i]->sm.n_running;
                active += s->jobs[i]->sm.n_active;
                failing += s->jobs[i]->consecutive_failures > 0;
                VERIFY(!s->jobs[i]->sm.removed);
        }
        for (size_t i = 0; i < s->n_removed; i++) {
                VERIFY(s->removed[i]->sm.removed);
                verify_job(s, s->removed[i]);
                running += s->removed[i]->sm.n_running;
                active += s->removed[i]->sm.n_active;
        }
        for (const struct run *r = s->pending_head; r; r = r->next)
                pending++;
        VERIFY(pending == s->n_pending);
        VERIFY(running == s->n_running);
        VERIFY(active == s->n_running + s->n_pending);
        VERIFY(failing == s->n_failing);
        size_t live = 0;
        for (size_t i = 0; i < s->n_blocks; i++) {
                VERIFY(s->blocks[i].live > 0 && s->blocks[i].live <= s->blocks[i].n);
                VERIFY(i == 0 || s->blocks[i - 1].base < s->blocks[i].base);
                live += s->blocks[i].live;
        }
        VERIFY(live == s->n_jobs + s->n_removed);
        VERIFY(s->n_jobs == s->config->n_jobs);
}

void sched_verify(struct sched *s) {
        size_t n = s->n_jobs, from = 0, count = n;
        if (n > VERIFY_ALL_MAX) {
                /* A rotating slice: every job is checked every n / SLICE
                 * iterations; the totals are left to smaller tables. */
                from = s->verify_cursor % n;
                count = VERIFY_SLICE;
                s->verify_cursor = from + count;
        }
        for (size_t k = 0; k < count; k++) {
                size_t i = (from + k) % n;
                verify_job(s, s->jobs[i]);
                VERIFY(s->jobs[i]->def == s->config->jobs[i]); /* the reload's merge plan relies on it */
                if (i + 1 < n)
                        VERIFY(strcmp(s->jobs[i]->def->name, s->jobs[i + 1]->def->name) < 0);
        }
        if (n <= VERIFY_ALL_MAX) {
                verify_totals(s);
                VERIFY(heap_verify(&s->mono.heap));
                VERIFY(heap_verify(&s->wall.heap));
        } else {
                VERIFY(heap_verify_slice(&s->mono.heap, from, 2 * count));
                VERIFY(heap_verify_slice(&s->wall.heap, from, 2 * count));
        }
}
