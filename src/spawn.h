/* spawn.h - starting one run's process.
 *
 * Everything that allocates (environment, supplementary groups, the user
 * lookup) is prepared beforehand in the worker thread (spawn_prepare). The
 * child is created with clone(CLONE_VM | CLONE_PIDFD): it borrows the
 * daemon's memory instead of copying it, so spawning costs the same
 * whatever evd's size, and it makes only raw system calls until execve:
 * new session, stdio, close_range, RLIMIT_NOFILE, nice, groups/gid/uid,
 * umask, working directory, an empty signal mask, and the PATH search
 * (in the job's directory, with its credentials).
 *
 * No CLONE_VFORK: any of those steps may block (chdir into a hung NFS or
 * FUSE mount), and a worker suspended in vfork could neither enforce the
 * run's timeout nor be joined at shutdown. The child is known (pid, pidfd)
 * and killable from the moment clone returns; it reports a failure through
 * a CLOEXEC pipe, whose EOF says execve succeeded. Its stack and arguments
 * live in a struct spawn_child until then.
 *
 * Reaping: a run's main process is a child of the worker thread that
 * cloned it, and only that worker reaps it (waitid on its pidfd). The main
 * thread reaps re-parented orphans with waitpid(-1, __WNOTHREAD), which
 * sees the main thread's own children only: orphans are re-parented to the
 * thread group leader, never to a worker, so the two never race.
 *
 * Called from worker threads; every function is thread-safe. */
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include "util.h"

struct job_def;

struct spawn_prep {
        char *path;             /* argv[0]: the executable, or the name to look up */
        const char *search_path; /* PATH (in envp) to look path up on, NULL if it has a slash */
        char **envp;
        gid_t *groups;
        int n_groups;
        bool set_credentials;
        uid_t uid;
        gid_t gid;
        const char *working_directory;
        bool working_directory_is_home;  /* the default for user=: "/" if it does not exist */
        struct rlimit nofile;   /* the run's RLIMIT_NOFILE: evd's hard limit, a soft one for the job */
};

/* The soft RLIMIT_NOFILE a run gets without limit_nofile=: evd raises its
 * own to the hard limit, but programs that use select() break above
 * FD_SETSIZE, so jobs get the conventional 1024 (as systemd gives services). */
#define SPAWN_NOFILE_DEFAULT 1024

/* Builds the environment and the credentials (argv[0] is looked up on
 * the job's PATH later, by the child). Returns 0 or -errno with *ret_step naming what failed. */
int spawn_prepare(const struct job_def *def, uint64_t run_id, struct spawn_prep *ret,
                  const char **ret_step);
void spawn_prep_done(struct spawn_prep *p);
/* Sets KEY=VALUE in a prepared environment, after the job's environment=
 * (so it wins): what the worker knows only at the run (EVD_SCHEDULED_USEC).
 * 0 or -ENOMEM. */
int spawn_prep_setenv(struct spawn_prep *p, const char *key, const char *value);

/* A child between clone and execve. The caller waits for status_fd to
 * become readable, with the run's deadlines already running, and then asks
 * spawn_child_result() how it went; a child that does not get there in
 * time (a working directory on a hung mount) is killed with
 * spawn_child_kill(). Fields are read-only for the caller. */
struct spawn_child {
        pid_t pid;
        int pidfd;              /* CLOEXEC; -EBADF once reaped or taken */
        int status_fd;          /* non-blocking: a report if the child failed, EOF once it exec'd */
};

/* Starts the child with stdin from stdin_fd and stdout/stderr into out_fd
 * and err_fd, and returns at once (the worker is not suspended while the
 * child works towards execve). Takes over *prep (the child reads it until
 * execve; *prep is left empty). Returns 0 with the child, or -errno with
 * *ret_step naming the step that failed before the child existed. */
int spawn_start(const struct job_def *def, struct spawn_prep *prep, int stdin_fd, int out_fd, int err_fd,
                struct spawn_child **ret, const char **ret_step);
/* After status_fd polled readable: 0 once execve succeeded (or the child
 * died before: its exit status tells); -EAGAIN if there is nothing yet;
 * -errno with *ret_step when the child failed at that step (it is reaped). */
int spawn_child_result(struct spawn_child *c, const char **ret_step);
/* SIGKILLs a child that has not exec'd yet and reaps it if it dies within
 * `wait`. Returns the step it was at ("chdir", ...), or NULL if unknown. */
const char *spawn_child_kill(struct spawn_child *c, usec_t wait);
bool spawn_child_reaped(const struct spawn_child *c);
/* Moves the pidfd to the caller (once the child has exec'd). */
int spawn_child_take_pidfd(struct spawn_child *c);
/* Frees the child's stack and arguments; a child still before execve is
 * killed first. Accepts NULL; returns NULL. */
struct spawn_child *spawn_child_free(struct spawn_child *c);

/* Set up once at start, before any thread: an fd open on /dev/null,
 * read-only, CLOEXEC (and whether the child may share evd's memory). */
int spawn_devnull(void);
