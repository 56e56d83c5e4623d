/* timer.h - deadlines on one timerfd per clock, from a min-heap.
 *
 * evd uses two clocks here: CLOCK_BOOTTIME for intervals (every=),
 * retries, shutdown_timeout and the watchdog, and CLOCK_REALTIME for
 * calendar and cron deadlines. (A run's timeout= and kill_grace are not
 * timers of this module: the worker supervising the run measures them on
 * CLOCK_MONOTONIC (run.c), so time the machine spends suspended does not
 * count against a run.) The realtime timerfd is armed with TFD_TIMER_CANCEL_ON_SET, so a
 * clock step wakes the loop and every wall-clock deadline is recomputed.
 *
 * The timerfd is re-armed lazily (timer_clock_flush, once per loop
 * iteration) and only when the earliest deadline changed. Deadlines are
 * rounded up to the next millisecond so timers due in the same millisecond
 * share one wake-up. Main thread only. */
#pragma once

#include "heap.h"
#include "loop.h"

struct timer;
typedef void (*timer_callback)(struct timer *t, usec_t now);

struct timer {
        struct heap_node node;
        struct timer_clock *clock;
        timer_callback callback;
};

struct timer_clock {
        struct loop_source source;
        struct loop *loop;
        clockid_t clock;
        struct heap heap;
        usec_t armed;           /* what the timerfd is armed for; USEC_INFINITY: disarmed */
        bool force_rearm;
        uint64_t wakeups, fired, clock_changes;
        /* Realtime only: called after the wall clock was set. */
        void (*on_clock_change)(struct timer_clock *tc);
#ifdef EVD_TEST_HOOKS
        bool test_step_pending; /* the next dispatch takes the clock-set path */
#endif
};

int timer_clock_init(struct timer_clock *tc, struct loop *l, clockid_t clock, const char *name);
void timer_clock_done(struct timer_clock *tc);
/* Re-arms the timerfd if the earliest deadline changed. */
int timer_clock_flush(struct timer_clock *tc);

#ifdef EVD_TEST_HOOKS
/* Test hook: a step of the wall clock by delta, without touching the
 * machine's clock. now_usec(CLOCK_REALTIME) shifts by delta at once, and
 * the step is handled by the dispatch function that handles a real one
 * (read() of the timerfd failing with ECANCELED): the same
 * on_clock_change(), the same firing of due timers, the same re-arm.
 * Realtime clock only; from the main loop. */
void timer_clock_test_step(struct timer_clock *tc, int64_t delta_usec);
#endif

static inline void timer_init(struct timer *t, timer_callback cb) {
        heap_node_init(&t->node);
        t->clock = NULL;
        t->callback = cb;
}
/* Arms (or re-arms) t for the absolute deadline on tc's clock. */
int timer_start(struct timer_clock *tc, struct timer *t, usec_t deadline);
void timer_stop(struct timer *t);
static inline bool timer_active(const struct timer *t) { return heap_node_linked(&t->node); }
static inline usec_t timer_deadline(const struct timer *t) {
        return timer_active(t) ? t->node.key : USEC_INFINITY;
}
