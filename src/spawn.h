/* spawn.h - starting one run's process.
 *
 * Everything that allocates or may block (path search, environment,
 * supplementary groups) is prepared beforehand in the worker thread
 * (spawn_prepare). The child is created with clone(CLONE_VM | CLONE_VFORK |
 * CLONE_PIDFD): it borrows the daemon's memory instead of copying it, so
 * spawning costs the same whatever evd's size, and it makes only raw system
 * calls until execve: new session, stdio, close_range, groups/gid/uid,
 * umask, working directory, nice, an empty signal mask.
 *
 * Reaping: a run's main process is a child of the worker thread that
 * cloned it, and only that worker reaps it (waitid on its pidfd). The main
 * thread reaps re-parented orphans with waitpid(-1, __WNOTHREAD), which
 * sees the main thread's own children only: orphans are re-parented to the
 * thread group leader, never to a worker, so the two never race.
 *
 * Called from worker threads; every function is thread-safe. */
#pragma once

#include <sys/types.h>

#include "util.h"

struct job_def;

struct spawn_prep {
        char *path;             /* resolved executable */
        char **envp;
        gid_t *groups;
        int n_groups;
        bool set_credentials;
        uid_t uid;
        gid_t gid;
        const char *working_directory;
        bool working_directory_is_home;  /* the default for user=: "/" if it does not exist */
};

/* Resolves argv[0] on the job's PATH and builds the environment and the
 * credentials. Returns 0 or -errno with *ret_step naming what failed. */
int spawn_prepare(const struct job_def *def, uint64_t run_id, struct spawn_prep *ret,
                  const char **ret_step);
void spawn_prep_done(struct spawn_prep *p);

/* Starts the child with stdin from stdin_fd and stdout/stderr into out_fd
 * and err_fd. Returns 0 with the pid and a CLOEXEC pidfd, or -errno with
 * *ret_step naming the step that failed (in the child or before it). */
int spawn_start(const struct job_def *def, const struct spawn_prep *prep, int stdin_fd, int out_fd,
                int err_fd, pid_t *ret_pid, int *ret_pidfd, const char **ret_step);

/* Set up once at start: an fd open on /dev/null, read-only, CLOEXEC. */
int spawn_devnull(void);
