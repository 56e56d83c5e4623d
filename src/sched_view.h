/* sched_view.h - the scheduler as the control socket sees it: a read-only
 * snapshot of one job at a time, the counters, and a reload whose result
 * is reported later (reload may run on a helper thread).
 *
 * This is the interface the scheduler's second version exports (the lead
 * moves these declarations into scheduler.h at merge); sched_view.c is an
 * interim adapter over today's struct sched, replaced at merge.
 * Main thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct sched;
struct config;
struct job_def;

struct job_view {               /* a snapshot, filled on request */
        const struct job_def *def;
        const char *state;      /* the state machine's name for it */
        bool paused;
        unsigned n_running, n_waiting;   /* runs running / waiting for a worker */
        bool start_queued;
        usec_t retry_at;        /* realtime, USEC_INFINITY if none */
        usec_t next_run;        /* realtime incl. jitter, USEC_INFINITY if none */
        uint64_t n_runs, n_failures, n_skipped;
        unsigned consecutive_failures;
        usec_t last_start, last_duration;  /* last_start 0: never ran */
        bool last_ok;
        char last_result[160];  /* rendered on demand: "exit status 3", ... */
};
size_t sched_job_count(const struct sched *s);
void sched_job_view_at(const struct sched *s, size_t i, struct job_view *ret); /* name order */
int sched_job_view(const struct sched *s, const char *name, struct job_view *ret); /* -ENOENT */
size_t sched_job_next_elapses(const struct sched *s, const char *name, usec_t *out, size_t n);
struct sched_counters {
        uint64_t runs_started, runs_completed, runs_failed, runs_skipped, runs_queued,
                 retries, orphans_reaped, reloads, reload_failures, pause_changes,
                 clock_changes;
        size_t n_jobs, running, waiting_for_worker, workers, worker_threads;
};
void sched_get_counters(const struct sched *s, struct sched_counters *ret);
const struct config *sched_config(const struct sched *s);
typedef void (*sched_reload_fn)(void *userdata, int r, char **errors /* borrowed */);
/* done (may be NULL) is called on the loop when the new configuration has
 * been applied (r = 0) or refused (-EINVAL with errors, -ESHUTDOWN). */
int sched_reload_request(struct sched *s, sched_reload_fn done, void *userdata);
void sched_reload_forget(struct sched *s, void *userdata); /* waiter went away */
/* Called on the loop after every applied reload. */
void sched_set_reload_hook(struct sched *s, void (*fn)(void *ud, const struct config *c), void *ud);

/* ---- Not in the agreed interface: what `evdctl stats` showed before the
 * view existed (the timer clocks' and the completion queue's event counts)
 * and the clock-step test hook. The core engineer's scheduler must provide
 * them too (or stats loses these keys). ---- */
struct sched_event_counters {
        uint64_t events_timer_boottime, events_timer_realtime, events_completion, timers_fired;
        usec_t started_realtime;
};
void sched_get_event_counters(const struct sched *s, struct sched_event_counters *ret);
#ifdef EVD_TEST_HOOKS
/* Test hook: a step of evd's wall clock by delta (timer_clock_test_step). */
void sched_test_clock_step(struct sched *s, int64_t delta_usec);
#endif
