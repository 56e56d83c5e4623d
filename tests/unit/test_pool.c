/* Unit tests for pool.c: the completion queue under many producer threads
 * (nothing lost, nothing duplicated, per-producer order kept, wake-ups
 * coalesced), and the run queue through real worker threads. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "pool.h"
#include "run.h"

#define PRODUCERS 8
#define PER_PRODUCER 50000

struct producer {
        struct pool *pool;
        struct run *runs;
        int index;
};

static void *produce(void *arg) {
        struct producer *p = arg;
        for (int i = 0; i < PER_PRODUCER; i++) {
                p->runs[i].id = ((uint64_t)p->index << 32) | (uint64_t)i;
                pool_complete(p->pool, &p->runs[i]);
        }
        return NULL;
}

static uint64_t seen_count;
static int64_t last_seen[PRODUCERS];
static bool order_ok = true;

static void count_completion(struct run *r, void *userdata) {
        int producer = (int)(r->id >> 32);
        int64_t i = (int64_t)(r->id & 0xffffffff);
        if (i != last_seen[producer] + 1)
                order_ok = false;
        last_seen[producer] = i;
        seen_count++;
}

static void wait_readable(int fd) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
}

START_TEST(test_completion_queue_many_threads) {
        struct pool pool;
        pthread_t threads[PRODUCERS];
        struct producer prod[PRODUCERS];

        ck_assert_int_eq(pool_init(&pool, NULL, count_completion, NULL), 0);
        seen_count = 0;
        for (int i = 0; i < PRODUCERS; i++) {
                last_seen[i] = -1;
                prod[i] = (struct producer){ &pool, calloc(PER_PRODUCER, sizeof(struct run)), i };
                ck_assert_int_eq(pthread_create(&threads[i], NULL, produce, &prod[i]), 0);
        }
        uint64_t wakeups = 0;
        while (seen_count < (uint64_t)PRODUCERS * PER_PRODUCER) {
                wait_readable(pool.source.fd);
                wakeups++;
                pool_drain(&pool);
        }
        for (int i = 0; i < PRODUCERS; i++)
                pthread_join(threads[i], NULL);
        pool_drain(&pool);
        ck_assert_uint_eq(seen_count, (uint64_t)PRODUCERS * PER_PRODUCER);
        ck_assert(order_ok);
        /* Completions are batched: far fewer wake-ups than completions. */
        ck_assert_uint_lt(wakeups, seen_count);
        /* Nothing left, and the eventfd is quiet. */
        struct pollfd pfd = { .fd = pool.source.fd, .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, 0), 0);
        for (int i = 0; i < PRODUCERS; i++)
                free(prod[i].runs);
        pool_stop(&pool);
}
END_TEST

static atomic_int executing, max_executing;

static void fake_execute(struct run *r, int wake_fd) {
        int now = atomic_fetch_add(&executing, 1) + 1;
        int m = atomic_load(&max_executing);
        while (now > m && !atomic_compare_exchange_weak(&max_executing, &m, now))
                ;
        r->wait_status = (int)r->id * 2;
        ck_assert_int_ge(wake_fd, 0);
        atomic_fetch_sub(&executing, 1);
}

static uint64_t done_sum;
static void sum_completion(struct run *r, void *userdata) {
        done_sum += (uint64_t)r->wait_status;
        seen_count++;
}

START_TEST(test_workers_run_everything) {
        struct pool pool;
        enum { N = 20000 };
        struct run *runs = calloc(N, sizeof(struct run));

        ck_assert_int_eq(pool_init(&pool, NULL, sum_completion, NULL), 0);
        pool.execute = fake_execute;
        ck_assert_int_eq(pool_resize(&pool, 2), 0);
        ck_assert_int_eq(pool_resize(&pool, 6), 0); /* grows */
        ck_assert_int_eq(pool_resize(&pool, 3), 0); /* never shrinks */
        ck_assert_uint_eq(pool.n_workers, 6);
        seen_count = 0;
        done_sum = 0;
        uint64_t want = 0;
        for (int i = 0; i < N; i++) {
                runs[i].id = (uint64_t)i;
                want += (uint64_t)i * 2;
                pool_submit(&pool, &runs[i]);
        }
        while (seen_count < N) {
                wait_readable(pool.source.fd);
                pool_drain(&pool);
        }
        ck_assert_uint_eq(done_sum, want);
        ck_assert_int_le(atomic_load(&max_executing), 6);
        pool_stop(&pool);
        free(runs);
}
END_TEST

/* What the workers need against this process's soft RLIMIT_NOFILE. */
START_TEST(test_nofile_check) {
        struct rlimit old, rl;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
        if (old.rlim_max < 1024)
                return;
        rl = (struct rlimit){ .rlim_cur = 1024, .rlim_max = old.rlim_max };
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        ck_assert_uint_eq(pool_nofile_needed(4), POOL_NOFILE_BASE + 4 * POOL_NOFILE_PER_WORKER);
        ck_assert_ptr_null(pool_nofile_check(4));
        ck_assert_ptr_null(pool_nofile_check((1024 - POOL_NOFILE_BASE) / POOL_NOFILE_PER_WORKER));
        char *m = pool_nofile_check(200);
        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_nonnull(strstr(m, "workers = 200 needs up to 1728 open files"));
        ck_assert_ptr_nonnull(strstr(m, "limit of 1024"));
        free(m);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("pool");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_completion_queue_many_threads);
        tcase_add_test(tc, test_workers_run_everything);
        tcase_add_test(tc, test_nofile_check);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
