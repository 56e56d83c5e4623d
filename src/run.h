/* run.h - one run of a job: what the main thread hands a worker, and what
 * the worker hands back.
 *
 * Ownership: the main thread creates a run and fills the inputs, then
 * submits it to the pool; from then until it comes back through the
 * completion queue only the worker writes its results. The two fields both
 * sides touch, `cancel` and `wake_fd`, are atomics (see run_cancel). */
#pragma once

#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "util.h"

struct job_def;

enum run_cancel {
        RUN_CANCEL_NONE,
        RUN_CANCEL_TERM,        /* SIGTERM the group, SIGKILL after kill_grace */
        RUN_CANCEL_KILL,        /* SIGKILL the group now */
};

struct run {
        struct run *next;       /* run queue / completion queue link */
        struct run *job_next;   /* main thread: the job's list of active runs */
        void *owner;            /* main thread: struct job * */

        /* Inputs, set before submission, read-only afterwards. */
        uint64_t id;
        struct job_def *def;    /* a reference, released by the main thread */
        unsigned attempt;       /* 1 for the first try */
        usec_t kill_grace;
        /* cluster = once (issue 12): the instant claimed (realtime, before
         * jitter; 0: none), and for a claimed run the node lease's expiry
         * (CLOCK_BOOTTIME, cluster.h), checked just before the spawn. */
        usec_t instant;
        const _Atomic usec_t *lease_expiry;     /* NULL: not a claimed run */
        bool fenced;            /* main thread: ended because the lease expired */

        /* Shared. */
        atomic_int cancel;      /* enum run_cancel */
        atomic_int wake_fd;     /* the worker's eventfd while it runs this, else -1 */

        /* Results, written by the worker. */
        pid_t pid;
        int spawn_error;        /* errno when the run could not start, else 0 */
        const char *spawn_step; /* what failed: "execve", "chdir", ... */
        int wait_code;          /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
        int wait_status;          /* exit status or signal number */
        bool timed_out;
        bool cancelled;
        bool killed_before_exec; /* timed out or cancelled between clone and execve */
        unsigned leftovers;     /* processes of the group still alive after the main one exited */
        struct rusage rusage;
        usec_t start_realtime;
        usec_t start_monotonic, end_monotonic;
        uint64_t output_lines, dropped_lines;
};

/* Main thread: asks the worker to end the run. Safe at any time before the
 * run comes back; a stronger request overrides a weaker one. */
void run_cancel(struct run *r, enum run_cancel how);

/* Worker thread: performs the whole run (spawn, supervise, collect output,
 * reap) and fills in the results. wake_fd is the worker's own eventfd. */
void run_execute(struct run *r, int wake_fd);

/* True if the run ended with exit status 0. */
bool run_succeeded(const struct run *r);
/* "exit status 3", "signal TERM (core dumped)", "failed to start: execve: ..." */
char *run_describe_result(const struct run *r, char *buf, size_t size);
