/* timer.c - timer heaps on timerfds (see timer.h). */
#include "timer.h"

#include <stddef.h>
#include <sys/timerfd.h>

#include "log.h"

static void timer_clock_dispatch(struct loop_source *s, uint32_t events);

int timer_clock_init(struct timer_clock *tc, struct loop *l, clockid_t clock, const char *name) {
        *tc = (struct timer_clock){
                .loop = l,
                .clock = clock,
                .armed = USEC_INFINITY,
        };
        tc->source.fd = timerfd_create(clock, TFD_CLOEXEC | TFD_NONBLOCK);
        if (tc->source.fd < 0)
                return -errno;
        tc->source.name = name;
        tc->source.callback = timer_clock_dispatch;
        int r = loop_add(l, &tc->source, EPOLLIN);
        if (r < 0) {
                tc->source.fd = safe_close(tc->source.fd);
                return r;
        }
        return 0;
}

void timer_clock_done(struct timer_clock *tc) {
        if (tc->source.fd >= 0) {
                loop_remove(tc->loop, &tc->source);
                tc->source.fd = safe_close(tc->source.fd);
        }
        heap_done(&tc->heap); /* unlinks every remaining timer */
}

int timer_clock_flush(struct timer_clock *tc) {
        struct heap_node *top = heap_top(&tc->heap);
        usec_t want = top ? top->key : USEC_INFINITY;
        struct itimerspec its = { 0 };
        int flags = TFD_TIMER_ABSTIME;

        if (want != USEC_INFINITY) {
                /* Round up to the millisecond: one wake-up for all due in it. */
                want = (want + USEC_PER_MSEC - 1) / USEC_PER_MSEC * USEC_PER_MSEC;
                if (want == 0)
                        want = 1; /* 0 would disarm */
        }
        if (want == tc->armed && !tc->force_rearm)
                return 0;
        if (want != USEC_INFINITY) {
                usec_t kernel = want;
#ifdef EVD_TEST_HOOKS
                /* Deadlines are in evd's (possibly shifted) view of the wall
                 * clock; the kernel counts the real one. */
                if (tc->clock == CLOCK_REALTIME) {
                        kernel = want - (usec_t)util_test_realtime_offset(); /* modular: either sign */
                        if ((int64_t)kernel <= 0)
                                kernel = 1; /* before the epoch: due now (0 would disarm) */
                }
#endif
                timespec_from_usec(&its.it_value, kernel);
        }
        if (tc->clock == CLOCK_REALTIME)
                flags |= TFD_TIMER_CANCEL_ON_SET;
        if (timerfd_settime(tc->source.fd, flags, &its, NULL) < 0) {
                if (errno == ECANCELED) {
                        /* The clock was set between our read and now: arm
                         * again, and let the pending notification run. */
                        tc->force_rearm = true;
                        if (tc->on_clock_change)
                                tc->on_clock_change(tc);
                        return timer_clock_flush(tc);
                }
                return log_error_errno(errno, "Failed to arm timer");
        }
        tc->armed = want;
        tc->force_rearm = false;
        return 0;
}

int timer_start(struct timer_clock *tc, struct timer *t, usec_t deadline) {
        if (t->clock && t->clock != tc)
                timer_stop(t);
        t->clock = tc;
        return heap_update(&tc->heap, &t->node, deadline);
}

void timer_stop(struct timer *t) {
        if (t->clock)
                heap_remove(&t->clock->heap, &t->node);
}

static void timer_clock_dispatch(struct loop_source *s, uint32_t events) {
        struct timer_clock *tc = (struct timer_clock *)((char *)s - offsetof(struct timer_clock, source));
        uint64_t expirations;

        tc->wakeups++;
        bool cancelled = read(s->fd, &expirations, sizeof expirations) < 0 && errno == ECANCELED;
#ifdef EVD_TEST_HOOKS
        if (tc->test_step_pending) {
                tc->test_step_pending = false;
                cancelled = true;
        }
#endif
        if (cancelled) {
                /* The wall clock was set: the timerfd is disarmed until
                 * re-armed, and every calendar deadline must be recomputed. */
                tc->clock_changes++;
                tc->force_rearm = true;
                tc->armed = USEC_INFINITY;
                if (tc->on_clock_change)
                        tc->on_clock_change(tc);
        }

        usec_t now = now_usec(tc->clock);
        uint32_t seq_limit = tc->heap.next_seq;
        for (;;) {
                struct heap_node *top = heap_top(&tc->heap);
                /* Timers re-armed by a callback for "now" wait for the next
                 * round (seq_limit), so a bad callback cannot spin the loop. */
                if (!top || top->key > now || !heap_seq_before(top->seq, seq_limit))
                        break;
                struct timer *t = (struct timer *)((char *)top - offsetof(struct timer, node));
                heap_remove(&tc->heap, top);
                tc->fired++;
                t->callback(t, now);
        }
        /* The earliest deadline changed (we fired it): re-arm now. */
        tc->armed = USEC_INFINITY;
        timer_clock_flush(tc);
}

#ifdef EVD_TEST_HOOKS
void timer_clock_test_step(struct timer_clock *tc, int64_t delta_usec) {
        util_test_shift_realtime(delta_usec);
        /* Straight into the dispatch a real step wakes (its read() then
         * finds nothing: the flag stands in for ECANCELED). Not through the
         * timerfd: re-arming it before the loop reads it would discard the
         * expiration. */
        tc->test_step_pending = true;
        timer_clock_dispatch(&tc->source, EPOLLIN);
}
#endif
