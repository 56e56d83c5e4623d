/* spawn.c - see spawn.h.
 *
 * Why not posix_spawn: it cannot switch user and groups, and it would
 * deliver SIGCHLD for the run's main process. Why not fork: it copies the
 * page tables of a daemon that may hold 100,000 jobs.
 *
 * Why raw syscall() for credentials and the signal mask in the child:
 * glibc's setresuid()/setgroups() broadcast the change to every thread of
 * the process (a signal to each), which from a CLONE_VM child would target
 * evd's own threads; and sigprocmask() refuses to unblock glibc's internal
 * signals. */
#include "spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "config.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CHILD_STACK_SIZE (64 * 1024)

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int devnull_fd = -EBADF;

int spawn_devnull(void) {
        if (devnull_fd < 0) {
                devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull_fd < 0)
                        return -errno;
        }
        return devnull_fd;
}

/* Sets or replaces KEY=... in *env. */
static int env_set(char ***env, const char *assignment) {
        const char *eq = strchr(assignment, '=');
        size_t klen = eq ? (size_t)(eq - assignment) : strlen(assignment);
        for (char **p = *env; p && *p; p++)
                if (strncmp(*p, assignment, klen) == 0 && (*p)[klen] == '=') {
                        char *c = strdup(assignment);
                        if (!c)
                                return -ENOMEM;
                        free(*p);
                        *p = c;
                        return 0;
                }
        return strv_push(env, assignment);
}

static int env_setf(char ***env, const char *key, const char *value) {
        char *a = strdup_printf("%s=%s", key, value);
        if (!a)
                return -ENOMEM;
        int r = env_set(env, a);
        free(a);
        return r;
}

static const char *env_get(char *const *env, const char *key) {
        size_t klen = strlen(key);
        for (; env && *env; env++)
                if (strncmp(*env, key, klen) == 0 && (*env)[klen] == '=')
                        return *env + klen + 1;
        return NULL;
}

static int find_executable(const char *name, const char *path, char **ret) {
        if (strchr(name, '/')) {
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        int last = -ENOENT;
        for (const char *p = path; p && *p;) {
                const char *colon = strchrnul(p, ':');
                size_t dlen = (size_t)(colon - p);
                char *cand = strdup_printf("%.*s/%s", (int)dlen, dlen ? p : ".", name);
                if (!cand)
                        return -ENOMEM;
                struct stat st;
                if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                        *ret = cand;
                        return 0;
                }
                if (errno == EACCES)
                        last = -EACCES;
                free(cand);
                p = *colon ? colon + 1 : colon;
        }
        return last;
}

int spawn_prepare(const struct job_def *def, uint64_t run_id, struct spawn_prep *ret,
                  const char **ret_step) {
        struct spawn_prep p = { 0 };
        char runbuf[32];
        int r = -ENOMEM;
        const char *home = def->home, *shell = def->shell_path, *user = def->user;
        char pwbuf[4096];
        struct passwd pw, *pwp = NULL;

        if (user) {
                /* user= was resolved when the configuration was loaded. A
                 * user deleted since then must not run: its uid may belong
                 * to nobody now, or to the next user useradd creates. So
                 * the run fails until a reload (which reports the unknown
                 * user with its file and line), as systemd and cron refuse
                 * a user they cannot look up. */
                int e = getpwnam_r(user, &pw, pwbuf, sizeof pwbuf, &pwp);
                if (e != 0 || !pwp || pw.pw_uid != def->uid) {
                        r = e != 0 ? -e : -ENOENT;
                        /* Short: the result ("failed to start: STEP: ERROR")
                         * is kept in 96 bytes. */
                        *ret_step = e != 0 ? "user lookup"
                                    : !pwp ? "user deleted after the configuration was loaded"
                                           : "user has another uid than at load";
                        goto fail_step;
                }
        } else {
                /* Running as evd's own user: take its passwd entry. */
                if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &pwp) == 0 && pwp) {
                        user = pw.pw_name;
                        home = home ? home : pw.pw_dir;
                        shell = shell ? shell : pw.pw_shell;
                }
        }

        if (env_setf(&p.envp, "PATH", DEFAULT_PATH) < 0)
                goto fail;
        if (user && (env_setf(&p.envp, "USER", user) < 0 || env_setf(&p.envp, "LOGNAME", user) < 0))
                goto fail;
        if (home && env_setf(&p.envp, "HOME", home) < 0)
                goto fail;
        if (env_setf(&p.envp, "SHELL", shell && *shell ? shell : "/bin/sh") < 0)
                goto fail;
        snprintf(runbuf, sizeof runbuf, "%llu", (unsigned long long)run_id);
        if (env_setf(&p.envp, "EVD_JOB", def->name) < 0 || env_setf(&p.envp, "EVD_RUN", runbuf) < 0)
                goto fail;
        for (char **e = def->environment; e && *e; e++)
                if (env_set(&p.envp, *e) < 0)
                        goto fail;

        r = find_executable(def->argv[0], env_get(p.envp, "PATH"), &p.path);
        if (r < 0) {
                *ret_step = r == -ENOMEM ? "memory" : "executable lookup";
                goto fail_step;
        }

        if (def->user || def->group) {
                p.set_credentials = true;
                p.uid = def->user ? def->uid : geteuid();
                p.gid = def->gid;
                if (def->user) {
                        int n = 32;
                        for (;;) {
                                gid_t *g = realloc(p.groups, (size_t)n * sizeof(gid_t));
                                if (!g)
                                        goto fail;
                                p.groups = g;
                                int want = n;
                                if (getgrouplist(def->user, p.gid, p.groups, &want) >= 0) {
                                        p.n_groups = want;
                                        break;
                                }
                                if (want <= n || want > 65536) {
                                        r = -EINVAL;
                                        *ret_step = "getgrouplist";
                                        goto fail_step;
                                }
                                n = want;
                        }
                } else {
                        p.groups = malloc(sizeof(gid_t));
                        if (!p.groups)
                                goto fail;
                        p.groups[0] = p.gid;
                        p.n_groups = 1;
                }
        }
        p.working_directory = def->working_directory ? def->working_directory
                              : (def->user && def->home) ? def->home : "/";
        p.working_directory_is_home = !def->working_directory && def->user && def->home;
        *ret = p;
        return 0;
fail:
        r = -ENOMEM;
        *ret_step = "memory";
fail_step:
        spawn_prep_done(&p);
        return r;
}

void spawn_prep_done(struct spawn_prep *p) {
        free(p->path);
        strv_free(p->envp);
        free(p->groups);
        *p = (struct spawn_prep){ 0 };
}

struct child_args {
        const struct job_def *def;
        const struct spawn_prep *prep;
        int fds[3];
        volatile int error;
        const char *volatile step;
};

/* Runs in the child, on a borrowed stack, sharing the parent's memory until
 * execve. Only raw system calls; on failure it records errno and the step
 * in *a (the parent reads it once the vfork suspension ends) and exits.
 *
 * Raw syscall() even where a libc function would do, and no sanitizer
 * instrumentation: the child runs on the worker thread's TLS, so a
 * sanitizer interceptor (TSan wraps dup2, _exit, sigemptyset, ...) or an
 * instrumented access would update that thread's detector state from
 * another process. (The race reports TSan gave came from its clone()
 * interceptor, see real_clone(); this keeps the child out of its way too.) */
__attribute__((no_sanitize("thread", "address", "undefined")))
static int child_main(void *arg) {
        struct child_args *a = arg;
        const struct spawn_prep *p = a->prep;
        const char *step;
        uint64_t empty_mask[_NSIG / 64] = { 0 };

        step = "setsid";
        if (syscall(SYS_setsid) < 0)
                goto fail;
        step = "dup2";
        for (int i = 0; i < 3; i++)
                if (syscall(SYS_dup2, a->fds[i], i) < 0)
                        goto fail;
        step = "close_range";
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                goto fail;
        /* Before dropping privileges: only root may raise priority, and a
         * job as another user may ask for a negative nice. */
        if (a->def->nice_set) {
                step = "setpriority";
                if (syscall(SYS_setpriority, PRIO_PROCESS, 0, a->def->nice) < 0)
                        goto fail;
        }
        if (p->set_credentials) {
                step = "setgroups";
                if (syscall(SYS_setgroups, (size_t)p->n_groups, p->groups) < 0)
                        goto fail;
                step = "setresgid";
                if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
                        goto fail;
                step = "setresuid";
                if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
                        goto fail;
        }
        (void)syscall(SYS_umask, 022);
        step = "chdir";
        if (syscall(SYS_chdir, p->working_directory) < 0) {
                /* A home directory that does not exist (nobody's is
                 * /nonexistent) is no reason to refuse the run: like a
                 * login without a home, start in "/". An explicit
                 * working_directory= must exist. */
                if (!p->working_directory_is_home || (errno != ENOENT && errno != ENOTDIR && errno != EACCES) ||
                    syscall(SYS_chdir, "/") < 0)
                        goto fail;
        }
        step = "sigprocmask";
        if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, empty_mask, NULL, sizeof empty_mask) < 0)
                goto fail;
        step = "execve";
        syscall(SYS_execve, p->path, a->def->argv, p->envp);
fail:
        a->error = errno;
        a->step = step;
        syscall(SYS_exit_group, 127);
        return 127;
}

/* ThreadSanitizer intercepts clone() and runs its fork bookkeeping in the
 * child, which with CLONE_VM rewrites the parent's own detector state: it
 * lost the worker's happens-before edges and reported every field a worker
 * wrote into a run before the spawn as racing with the main thread. Under
 * TSan, call glibc's clone itself. Other builds call clone() directly. */
typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);
#if defined(__SANITIZE_THREAD__)
#define EVD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVD_TSAN 1
#endif
#endif
#ifdef EVD_TSAN
#include <dlfcn.h>
static clone_fn real_clone(void) {
        static _Atomic(clone_fn) fn;
        clone_fn f = atomic_load(&fn);
        if (!f) {
                void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
                f = libc ? (clone_fn)dlsym(libc, "clone") : NULL;
                if (!f)
                        f = clone;
                atomic_store(&fn, f);
        }
        return f;
}
#else
static clone_fn real_clone(void) {
        return clone;
}
#endif

int spawn_start(const struct job_def *def, const struct spawn_prep *prep, int stdin_fd, int out_fd,
                int err_fd, pid_t *ret_pid, int *ret_pidfd, const char **ret_step) {
        struct child_args a = {
                .def = def, .prep = prep, .fds = { stdin_fd, out_fd, err_fd }, .error = 0, .step = NULL,
        };
        int pidfd = -1;

        /* A private stack per spawn: the child runs on it while this thread
         * is suspended. mmap rather than malloc keeps it page-aligned and
         * lets a guard page catch an overflow. */
        char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
                *ret_step = "mmap";
                return -errno;
        }
        (void)mprotect(stack, 4096, PROT_NONE);

        pid_t pid = real_clone()(child_main, stack + CHILD_STACK_SIZE,
                                 CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd, NULL, NULL);
        int saved = errno;
        munmap(stack, CHILD_STACK_SIZE);
        if (pid < 0) {
                *ret_step = "clone";
                return -saved;
        }
        if (a.error != 0) {
                /* The child exited before execve; it is still a zombie and
                 * ours to reap. */
                siginfo_t si;
                (void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
                safe_close(pidfd);
                *ret_step = a.step;
                return -a.error;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}
