/* Unit tests for alert.c: the rate limit on a fake clock, the hook's
 * environment, and the executor with a fake body: at most ALERT_WORKERS
 * alerts at once, the rate limit and the queue bound drop (and count) the
 * excess, everything accepted is carried out once and handed back, and
 * shutdown drops what is left at its deadline. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"

START_TEST(test_limiter_window) {
        struct alert_limiter l;
        ck_assert_int_eq(alert_limiter_init(&l, 3, 60 * USEC_PER_SEC), 0);
        usec_t base = 1000 * USEC_PER_SEC;
        ck_assert(alert_limiter_admit(&l, base));
        ck_assert(alert_limiter_admit(&l, base + 1 * USEC_PER_SEC));
        ck_assert(alert_limiter_admit(&l, base + 2 * USEC_PER_SEC));
        ck_assert(!alert_limiter_admit(&l, base + 3 * USEC_PER_SEC));
        ck_assert(!alert_limiter_admit(&l, base + 60 * USEC_PER_SEC - 1));
        /* The first admission is a minute old: one more may go. */
        ck_assert(alert_limiter_admit(&l, base + 60 * USEC_PER_SEC));
        ck_assert(!alert_limiter_admit(&l, base + 60 * USEC_PER_SEC + USEC_PER_SEC / 2));
        ck_assert(alert_limiter_admit(&l, base + 61 * USEC_PER_SEC));
        ck_assert_uint_eq(alert_limiter_take_dropped(&l), 3);
        ck_assert_uint_eq(alert_limiter_take_dropped(&l), 0);
        alert_limiter_drop(&l);
        ck_assert_uint_eq(alert_limiter_take_dropped(&l), 1);
        /* Never more than 3 in any 60 s over a long burst. */
        unsigned admitted = 0;
        for (usec_t t = base + 200 * USEC_PER_SEC; t < base + 260 * USEC_PER_SEC; t += USEC_PER_SEC / 10)
                admitted += alert_limiter_admit(&l, t);
        ck_assert_uint_eq(admitted, 3);
        alert_limiter_done(&l);
        alert_limiter_done(&l);
}
END_TEST

static struct config *load(void) {
        struct config *c = NULL;
        char **errors = NULL;
        int r = config_load_string("[job:backup]\ncommand = /bin/false\nevery = 1h\non_failure = /bin/true\n",
                                   "t.conf", &c, &errors);
        ck_assert_int_eq(r, 0);
        return c;
}

static const char *env_get(char **env, const char *key) {
        size_t n = strlen(key);
        for (; env && *env; env++)
                if (strncmp(*env, key, n) == 0 && (*env)[n] == '=')
                        return *env + n + 1;
        return NULL;
}

START_TEST(test_hook_environment) {
        struct config *c = load();
        struct alert_request a = {
                .kind = ALERT_FAILURE, .def = c->jobs[0], .run = 42, .attempt = 3, .result = "exit-code",
                .exit_status = 7, .duration = 1500000, .last_success = 1796256000ULL * USEC_PER_SEC,
        };
        char **env = NULL;
        ck_assert_int_eq(alert_hook_environment(&a, "host.example", &env), 0);
        ck_assert_str_eq(env_get(env, "EVD_JOB"), "backup");
        ck_assert_str_eq(env_get(env, "EVD_RUN"), "42");
        ck_assert_str_eq(env_get(env, "EVD_RESULT"), "exit-code");
        ck_assert_str_eq(env_get(env, "EVD_EXIT_STATUS"), "7");
        ck_assert_str_eq(env_get(env, "EVD_DURATION_USEC"), "1500000");
        ck_assert_str_eq(env_get(env, "EVD_ATTEMPT"), "3");
        ck_assert_str_eq(env_get(env, "EVD_LAST_SUCCESS"), "2026-12-03T00:00:00Z");
        ck_assert_str_eq(env_get(env, "EVD_HOSTNAME"), "host.example");
        ck_assert_str_eq(env_get(env, "EVD_ALERT"), "failure");
        strv_free(env);

        /* Overdue: no run, no status, never succeeded. */
        struct alert_request o = { .kind = ALERT_OVERDUE, .def = c->jobs[0], .result = "overdue", .exit_status = -1 };
        env = NULL;
        ck_assert_int_eq(alert_hook_environment(&o, "h", &env), 0);
        ck_assert_str_eq(env_get(env, "EVD_RUN"), "");
        ck_assert_str_eq(env_get(env, "EVD_EXIT_STATUS"), "");
        ck_assert_str_eq(env_get(env, "EVD_DURATION_USEC"), "");
        ck_assert_str_eq(env_get(env, "EVD_ATTEMPT"), "");
        ck_assert_str_eq(env_get(env, "EVD_LAST_SUCCESS"), "");
        ck_assert_str_eq(env_get(env, "EVD_RESULT"), "overdue");
        ck_assert_str_eq(env_get(env, "EVD_ALERT"), "overdue");
        strv_free(env);
        config_free(c);
}
END_TEST

/* The fake body: counts, tracks how many run at once, takes its time. */
static atomic_int running, max_running, executed;
static atomic_uint sleep_usec;

static void fake_execute(struct alert_worker *w, struct alert_request *a) {
        (void)w;
        (void)a;
        int now = atomic_fetch_add(&running, 1) + 1;
        int m = atomic_load(&max_running);
        while (now > m && !atomic_compare_exchange_weak(&max_running, &m, now))
                ;
        usleep(atomic_load(&sleep_usec));
        atomic_fetch_sub(&running, 1);
        atomic_fetch_add(&executed, 1);
}

static struct alert_request *request(struct config *c) {
        struct alert_request *a = calloc(1, sizeof(*a));
        ck_assert_ptr_nonnull(a);
        a->kind = ALERT_FAILURE;
        a->def = job_def_ref(c->jobs[0]);
        a->result = "exit-code";
        return a;
}

static void reset(unsigned sleep) {
        atomic_store(&running, 0);
        atomic_store(&max_running, 0);
        atomic_store(&executed, 0);
        atomic_store(&sleep_usec, sleep);
}

/* 10,000 alerts at once: ALERT_RATE_PER_MINUTE are carried out, at most
 * ALERT_WORKERS at a time; the rest are dropped and counted. */
START_TEST(test_storm_rate_limited) {
        struct config *c = load();
        struct alert_executor x;
        reset(2000);
        ck_assert_int_eq(alert_executor_init(&x, NULL, ALERT_RATE_PER_MINUTE), 0);
        x.execute = fake_execute;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned accepted = 0;
        for (int i = 0; i < 10000; i++)
                accepted += alert_submit(&x, request(c), now);
        ck_assert_uint_eq(accepted, ALERT_RATE_PER_MINUTE);
        ck_assert_uint_eq(alert_executor_take_dropped(&x), 10000 - ALERT_RATE_PER_MINUTE);
        ck_assert_uint_le(x.n_workers, ALERT_WORKERS);
        size_t collected = 0;
        for (int i = 0; i < 3000 && collected < accepted; i++) {
                collected += alert_executor_collect(&x);
                usleep(1000);
        }
        ck_assert_uint_eq(collected, accepted);
        ck_assert_int_eq(atomic_load(&executed), (int)accepted);
        ck_assert_int_le(atomic_load(&max_running), ALERT_WORKERS);
        ck_assert_int_ge(atomic_load(&max_running), 1);
        ck_assert_uint_eq(alert_executor_stop(&x, now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC), 0);
        /* Every reference was handed back: only ours is left. */
        ck_assert_uint_eq(c->refcount, 1);
        config_free(c);
}
END_TEST

/* With a rate above the queue bound, the queue bound drops the excess. */
START_TEST(test_queue_bound) {
        struct config *c = load();
        struct alert_executor x;
        reset(200000);
        ck_assert_int_eq(alert_executor_init(&x, NULL, 100000), 0);
        x.execute = fake_execute;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned accepted = 0;
        for (int i = 0; i < 1000; i++)
                accepted += alert_submit(&x, request(c), now);
        ck_assert_uint_ge(accepted, ALERT_QUEUE_MAX);
        ck_assert_uint_le(accepted, ALERT_QUEUE_MAX + ALERT_WORKERS);
        ck_assert_uint_eq(alert_executor_take_dropped(&x), 1000 - accepted);
        /* Shutdown with a short deadline: what has not started is dropped. */
        uint64_t dropped = alert_executor_stop(&x, now_usec(CLOCK_MONOTONIC) + 300 * USEC_PER_MSEC);
        ck_assert_uint_gt(dropped, 0);
        ck_assert_uint_eq((uint64_t)atomic_load(&executed) + dropped, accepted);
        ck_assert_uint_eq(c->refcount, 1);
        config_free(c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("alert");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_limiter_window);
        tcase_add_test(tc, test_hook_environment);
        tcase_add_test(tc, test_storm_rate_limited);
        tcase_add_test(tc, test_queue_bound);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
