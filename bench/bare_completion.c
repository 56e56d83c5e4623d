/* bare_completion.c - the floor under evd's completion path: the same
 * shape as bench/pool_bench.c "complete" (PRODUCERS threads hand items to
 * one consumer that sleeps in poll() on an eventfd written only when the
 * queue goes from empty to non-empty), with no lock: producers push with
 * a compare-and-swap on a stack head, the consumer takes the whole stack
 * with one atomic exchange and reverses it (oldest first). Items are
 * recycled through a ring per producer exactly as in pool_bench.
 *
 * usage: bare_completion PRODUCERS N */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RING 65536

/* About the size of evd's struct run, so both touch as much memory. */
struct item {
        struct item *next;
        char payload[272];
};

static struct item *_Atomic head;
static struct item *items;
static atomic_uchar *busy;
static long per_producer;
static int efd;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push(struct item *it) {
        struct item *old = atomic_load_explicit(&head, memory_order_relaxed);
        do
                it->next = old;
        while (!atomic_compare_exchange_weak_explicit(&head, &old, it, memory_order_release, memory_order_relaxed));
        if (!old) {
                uint64_t one = 1;
                (void)!write(efd, &one, sizeof one);
        }
}

static void *producer(void *arg) {
        long base = (long)(intptr_t)arg * RING;
        for (long i = 0; i < per_producer; i++) {
                long k = base + i % RING;
                while (atomic_load_explicit(&busy[k], memory_order_acquire))
                        sched_yield();
                atomic_store_explicit(&busy[k], 1, memory_order_relaxed);
                push(&items[k]);
        }
        return NULL;
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: bare_completion PRODUCERS N\n");
                return 2;
        }
        int producers = atoi(argv[1]);
        per_producer = atol(argv[2]) / producers;
        long n = per_producer * producers;
        items = calloc((size_t)producers * RING, sizeof *items);
        busy = calloc((size_t)producers * RING, sizeof *busy);
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!items || !busy || efd < 0)
                return 1;
        pthread_t *t = calloc((size_t)producers, sizeof *t);
        double t0 = now();
        for (int i = 0; i < producers; i++)
                pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i);
        long done = 0, wakeups = 0;
        while (done < n) {
                struct pollfd p = { .fd = efd, .events = POLLIN };
                (void)poll(&p, 1, -1);
                wakeups++;
                uint64_t v;
                (void)!read(efd, &v, sizeof v);
                struct item *list = atomic_exchange_explicit(&head, NULL, memory_order_acquire), *rev = NULL;
                while (list) {
                        struct item *next = list->next;
                        list->next = rev;
                        rev = list;
                        list = next;
                }
                /* Read the link before handing the item back: its
                 * producer may push it again at once. */
                for (struct item *next; rev; rev = next, done++) {
                        next = rev->next;
                        atomic_store_explicit(&busy[rev - items], 0, memory_order_release);
                }
        }
        double dt = now() - t0;
        for (int i = 0; i < producers; i++)
                pthread_join(t[i], NULL);
        printf("%.0f completions/s %ld completions %ld wakeups %.3f s\n", (double)n / dt, n, wakeups, dt);
        return 0;
}
