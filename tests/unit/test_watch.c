/* Unit tests for sched_watch.c, the dead-man check, with a real loop and
 * scheduler and evd's wall clock moved by the test hooks (no run, no
 * sleeping for the span): the deadline is first seen + span; a step of the
 * clock past it makes the job overdue once, with overdue since = the
 * deadline; a pause stops it and the resume counts from the resume; a
 * step back that leaves the count in the future brings it to now; a job
 * without the key has no deadline. Skipped (77) without -DEVD_TEST_HOOKS=ON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"

#ifdef EVD_TEST_HOOKS

#define SPAN (10 * USEC_PER_SEC)

static char dir[64], path[128];
static struct loop loop;
static struct sched sched;
static struct timer poll_timer;
static int (*poll_cond)(void);
static usec_t poll_deadline;

static void write_conf(const char *text) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        chmod(path, 0644);
}

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/evd-test-watch-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/evd.conf", dir);
        write_conf("[job:dm]\ncommand = true\nevery = 1h\nexpect_success_within = 10s\n"
                   "[job:plain]\ncommand = true\nevery = 1h\n");
        struct config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load(path, &c, &errors), 0);
        ck_assert_int_eq(loop_init(&loop), 0);
        ck_assert_int_eq(sched_init(&sched, &loop, c, path), 0);
        ck_assert_int_eq(sched_start(&sched), 0);
}

static void teardown(void) {
        sched_done(&sched);
        loop_done(&loop);
        unlink(path);
        rmdir(dir);
}

static struct job_view view(const char *name) {
        struct job_view v;
        ck_assert_int_eq(sched_job_view(&sched, name, &v), 0);
        return v;
}

/* Runs the loop until cond() holds, checking every 10 ms, at most 10 s. */
static void poll_fired(struct timer *t, usec_t now) {
        if (poll_cond() || now > poll_deadline) {
                loop_quit(&loop);
                return;
        }
        timer_start(&sched.mono, t, now + 10 * USEC_PER_MSEC);
}

static void run_until(int (*cond)(void)) {
        poll_cond = cond;
        poll_deadline = now_usec(CLOCK_BOOTTIME) + 10 * USEC_PER_SEC;
        timer_init(&poll_timer, poll_fired);
        timer_start(&sched.mono, &poll_timer, now_usec(CLOCK_BOOTTIME));
        timer_clock_flush(&sched.mono);
        ck_assert_int_ge(loop_run(&loop), 0);
        timer_stop(&poll_timer);
        ck_assert_msg(cond(), "condition not reached within 10 s");
}

static int dm_overdue(void) {
        return view("dm").overdue;
}

static uint64_t changes_before;
static int step_handled(void) {
        return sched.wall.clock_changes > changes_before;
}

/* A step of evd's wall clock, handled as a real one is. */
static void step(int64_t delta) {
        changes_before = sched.wall.clock_changes;
        sched_test_clock_step(&sched, delta);
        run_until(step_handled);
}

START_TEST(test_deadline_from_first_seen) {
        usec_t now = now_usec(CLOCK_REALTIME);
        struct job_view v = view("dm");
        ck_assert_uint_eq(v.expect_success_within, SPAN);
        ck_assert(v.first_seen > 0 && v.first_seen <= now);
        ck_assert_uint_eq(v.deadline, v.first_seen + SPAN);
        ck_assert(!v.overdue && v.last_success == 0 && v.failing_since == 0);
        v = view("plain");
        ck_assert_uint_eq(v.expect_success_within, 0);
        ck_assert_uint_eq(v.deadline, 0);
}
END_TEST

START_TEST(test_step_past_deadline) {
        usec_t deadline = view("dm").deadline;
        step(2 * (int64_t)SPAN);
        run_until(dm_overdue);
        struct job_view v = view("dm");
        ck_assert(v.overdue);
        ck_assert_uint_eq(v.overdue_since, deadline);
        ck_assert_uint_eq(v.deadline, USEC_INFINITY); /* no second firing in the episode */
        ck_assert_str_eq(v.state, "idle");
        ck_assert(!view("plain").overdue);
}
END_TEST

START_TEST(test_pause_does_not_count) {
        ck_assert_int_eq(sched_set_paused(&sched, "dm", true), 1);
        ck_assert_uint_eq(view("dm").deadline, USEC_INFINITY);
        /* A long pause, past the deadline: not overdue. */
        step(100 * (int64_t)USEC_PER_SEC);
        ck_assert(!view("dm").overdue);
        usec_t before = now_usec(CLOCK_REALTIME);
        ck_assert_int_eq(sched_set_paused(&sched, "dm", false), 1);
        usec_t after = now_usec(CLOCK_REALTIME);
        usec_t d = view("dm").deadline;
        ck_assert(d >= before + SPAN && d <= after + SPAN);
}
END_TEST

START_TEST(test_step_back_brings_count_to_now) {
        usec_t first = view("dm").first_seen;
        /* Back an hour: the count (first seen) is now in the future. */
        usec_t before = now_usec(CLOCK_REALTIME) - USEC_PER_HOUR;
        step(-(int64_t)USEC_PER_HOUR);
        usec_t after = now_usec(CLOCK_REALTIME);
        struct job_view v = view("dm");
        ck_assert(!v.overdue);
        ck_assert(v.deadline >= before + SPAN && v.deadline <= after + SPAN);
        ck_assert(v.deadline < first + SPAN);
}
END_TEST

#endif

int main(void) {
#ifndef EVD_TEST_HOOKS
        printf("SKIP: built without -DEVD_TEST_HOOKS=ON\n");
        return 77;
#else
        log_set_max_level(LOG_WARNING);
        Suite *s = suite_create("watch");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_deadline_from_first_seen);
        tcase_add_test(tc, test_step_past_deadline);
        tcase_add_test(tc, test_pause_does_not_count);
        tcase_add_test(tc, test_step_back_brings_count_to_now);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
#endif
}
