/* pool_bench.c - evd's completion path, measured through its own code
 * (src/pool.c, linked from build-bench/libevdcore.a).
 *
 * "complete": PRODUCERS threads call pool_complete() as fast as they can,
 * as workers do when their runs end; the main thread waits on the
 * completion eventfd with poll() and calls pool_drain(), as the main loop
 * does. Runs are recycled from a ring per producer: on_complete hands a
 * run back by clearing its flag, and a producer waits (yielding) for a run
 * that has not come back yet. Prints completions per second and how many
 * wake-ups (eventfd reads) they took.
 *
 * "roundtrip": pool_submit() -> a pool worker runs a no-op execute ->
 * pool_complete() -> pool_drain(), with at most WORKERS runs in flight, as
 * the scheduler keeps it. Prints runs per second.
 *
 * usage: pool_bench complete PRODUCERS N
 *        pool_bench roundtrip WORKERS N */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "run.h"

#define RING 65536

static struct pool pool;
static struct run *runs;
static atomic_uchar *busy;
static long per_producer;
static long in_flight;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_complete_ring(struct run *r, void *userdata) {
        (void)userdata;
        atomic_store_explicit(&busy[r - runs], 0, memory_order_release);
}

static void *producer(void *arg) {
        long base = (long)(intptr_t)arg * RING;
        for (long i = 0; i < per_producer; i++) {
                long k = base + i % RING;
                while (atomic_load_explicit(&busy[k], memory_order_acquire))
                        sched_yield();
                atomic_store_explicit(&busy[k], 1, memory_order_relaxed);
                pool_complete(&pool, &runs[k]);
        }
        return NULL;
}

static void wait_completion(void) {
        struct pollfd p = { .fd = pool.source.fd, .events = POLLIN };
        (void)poll(&p, 1, -1);
}

static int bench_complete(int producers, long n) {
        per_producer = n / producers;
        n = per_producer * producers;
        runs = calloc((size_t)producers * RING, sizeof *runs);
        busy = calloc((size_t)producers * RING, sizeof *busy);
        if (!runs || !busy || pool_init(&pool, NULL, on_complete_ring, NULL) < 0)
                return 1;
        pthread_t *t = calloc((size_t)producers, sizeof *t);
        double t0 = now();
        for (int i = 0; i < producers; i++)
                pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i);
        long done = 0, wakeups = 0;
        while (done < n) {
                wait_completion();
                wakeups++;
                done += (long)pool_drain(&pool);
        }
        double dt = now() - t0;
        for (int i = 0; i < producers; i++)
                pthread_join(t[i], NULL);
        printf("%.0f completions/s %ld completions %ld wakeups %.3f s\n", (double)n / dt, n, wakeups, dt);
        return 0;
}

static void noop_execute(struct run *r, int wake_fd) {
        (void)r;
        (void)wake_fd;
}

/* Never called: the round trip takes the completion queue itself (below)
 * to put the runs back on its free list. */
static void on_complete_unused(struct run *r, void *userdata) {
        (void)r;
        (void)userdata;
}

static int bench_roundtrip(int workers, long n) {
        runs = calloc((size_t)workers, sizeof *runs);
        if (!runs || pool_init(&pool, NULL, on_complete_unused, NULL) < 0)
                return 1;
        pool.execute = noop_execute;
        if (pool_resize(&pool, (size_t)workers) < 0)
                return 1;
        /* A run is free again once it came back: keep a free list. */
        struct run **free_runs = calloc((size_t)workers, sizeof *free_runs);
        double t0 = now();
        long submitted = 0;
        int n_free = workers;
        for (int i = 0; i < workers; i++)
                free_runs[i] = &runs[i];
        while (submitted < n || in_flight > 0) {
                while (submitted < n && in_flight < workers) {
                        pool_submit(&pool, free_runs[--n_free]);
                        in_flight++;
                        submitted++;
                }
                wait_completion();
                /* Take the queue ourselves to recycle the runs. */
                struct pool_queue q;
                uint64_t v;
                (void)!read(pool.source.fd, &v, sizeof v);
                pthread_mutex_lock(&pool.done_lock);
                q = pool.done;
                pool.done = (struct pool_queue){ 0 };
                pthread_mutex_unlock(&pool.done_lock);
                for (struct run *r = q.head, *next; r; r = next) {
                        next = r->next;
                        free_runs[n_free++] = r;
                        in_flight--;
                }
        }
        double dt = now() - t0;
        pool_stop(&pool);
        printf("%.0f runs/s %ld runs %.3f s\n", (double)n / dt, n, dt);
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: pool_bench complete|roundtrip THREADS N\n");
                return 2;
        }
        int threads = atoi(argv[2]);
        long n = atol(argv[3]);
        if (strcmp(argv[1], "complete") == 0)
                return bench_complete(threads, n);
        if (strcmp(argv[1], "roundtrip") == 0)
                return bench_roundtrip(threads, n);
        return 2;
}
