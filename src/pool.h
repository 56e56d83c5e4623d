/* pool.h - the worker threads, the run queue and the completion queue.
 *
 * The main thread submits runs (pool_submit); a free worker takes the
 * oldest, performs it (run_execute) and appends it to the completion queue.
 * The eventfd that wakes the main loop is written only when the completion
 * queue goes from empty to non-empty, so a burst of completions costs one
 * wake-up; the main thread then takes the whole queue at once.
 *
 * The main thread decides how many runs are in flight (the `workers`
 * limit), so the run queue never holds more runs than there are idle
 * workers. Threads are added when `workers` grows on reload and never
 * removed before shutdown (an idle thread costs a little memory, no CPU).
 *
 * pool_submit/pool_drain/pool_resize/pool_stop: main thread only. */
#pragma once

#include <pthread.h>

#include "loop.h"

struct run;

struct pool_queue {
        struct run *head, *tail;
        size_t length;
};

struct pool;
struct pool_worker {
        pthread_t thread;
        struct pool *pool;
        int wake_fd;            /* eventfd the main thread writes to cancel a run */
};

struct pool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct pool_queue runs;         /* under lock */
        bool stopping;                  /* under lock */

        pthread_mutex_t done_lock;
        struct pool_queue done;         /* under done_lock */
        struct loop_source source;      /* the completion eventfd */
        struct loop *loop;

        struct pool_worker **workers;
        size_t n_workers;

        void (*on_complete)(struct run *r, void *userdata);
        void *userdata;

        /* The run body; run_execute unless a test replaces it. */
        void (*execute)(struct run *r, int wake_fd);

        uint64_t submitted, completed, wakeups;
};

/* loop may be NULL for tests that call pool_drain() themselves. */
int pool_init(struct pool *p, struct loop *l, void (*on_complete)(struct run *, void *), void *userdata);
int pool_resize(struct pool *p, size_t n_workers);
void pool_submit(struct pool *p, struct run *r);
/* Takes every completed run and calls on_complete for each; returns how many. */
size_t pool_drain(struct pool *p);
/* Lets the workers finish their current run, then joins them. */
void pool_stop(struct pool *p);

/* Descriptors: evd's own (POOL_NOFILE_BASE: epoll, signalfd, timerfds,
 * the control socket and its CONTROL_MAX_CLIENTS clients, journal, state
 * and configuration files, with room to spare) plus, per worker, its
 * eventfd and what a run holds at most (while spawning: stdout and stderr
 * pipes, the status pipe, the pidfd). */
#define POOL_NOFILE_BASE 128
#define POOL_NOFILE_PER_WORKER 8
uint64_t pool_nofile_needed(size_t n_workers);
/* NULL if n_workers fit evd's soft RLIMIT_NOFILE, else a message with the
 * numbers (malloc'd; NULL too when out of memory). Any thread. */
char *pool_nofile_check(size_t n_workers);

/* Worker side of the completion queue (exposed for the tests). */
void pool_complete(struct pool *p, struct run *r);
