/* spawn.c - see spawn.h.
 *
 * Why not posix_spawn: it cannot switch user and groups (nor set a
 * resource limit), it gives no pidfd from the start, and glibc's
 * implementation suspends the caller (CLONE_VFORK) until execve, the very
 * thing a hung working directory must not do to a worker. (SIGCHLD is no
 * reason: the clone below asks for it too, so the main process's exit is
 * signalled as any child's; evd blocks SIGCHLD and reads it from its
 * signalfd, where it only triggers the orphan reaper, and the worker waits
 * on the pidfd.) Why not fork: it copies the page tables of a daemon that
 * may hold 100,000 jobs.
 *
 * Why raw system calls in the child: glibc's setresuid()/setgroups()
 * broadcast the change to every thread of the process (a signal to each),
 * which from a CLONE_VM child would target evd's own threads; sigprocmask()
 * refuses to unblock glibc's internal signals; and the child runs next to
 * the worker on the worker's thread pointer, so libc's errno would be the
 * worker's (see child_syscall()). */
#include "spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
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
#define CHILD_STACK_RESERVED 64 /* at the top: the step slot; the stack starts below, 16-aligned */

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int devnull_fd = -EBADF;
static atomic_bool clone_vm_refused; /* see spawn_start() */

int spawn_devnull(void) {
        if (devnull_fd < 0) {
                const char *preload = getenv("LD_PRELOAD");
                if (preload && strstr(preload, "vgpreload"))
                        atomic_store(&clone_vm_refused, true);
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

/* The run's environment: the conventional variables, evd's own, then the
 * job's environment= (which may replace any of them). 0 or -ENOMEM. */
static int prep_environment(const struct job_def *def, uint64_t run_id, const char *user, const char *home,
                            const char *shell, char ***envp) {
        char runbuf[32];
        if (env_setf(envp, "PATH", DEFAULT_PATH) < 0)
                return -ENOMEM;
        if (user && (env_setf(envp, "USER", user) < 0 || env_setf(envp, "LOGNAME", user) < 0))
                return -ENOMEM;
        if (home && env_setf(envp, "HOME", home) < 0)
                return -ENOMEM;
        if (env_setf(envp, "SHELL", shell && *shell ? shell : "/bin/sh") < 0)
                return -ENOMEM;
        snprintf(runbuf, sizeof runbuf, "%llu", (unsigned long long)run_id);
        if (env_setf(envp, "EVD_JOB", def->name) < 0 || env_setf(envp, "EVD_RUN", runbuf) < 0)
                return -ENOMEM;
        for (char **e = def->extras->environment; e && *e; e++)
                if (env_set(envp, *e) < 0)
                        return -ENOMEM;
        return 0;
}

/* For user= or group=: the uid, gid and supplementary groups the child
 * switches to (user='s groups, or group= alone). 0, or -errno with
 * *ret_step. */
static int prep_credentials(const struct job_def *def, struct spawn_prep *p, const char **ret_step) {
        p->set_credentials = true;
        p->uid = def->extras->user ? def->extras->uid : geteuid();
        p->gid = def->extras->gid;
        if (!def->extras->user) {
                p->groups = malloc(sizeof(gid_t));
                if (!p->groups)
                        goto oom;
                p->groups[0] = p->gid;
                p->n_groups = 1;
                return 0;
        }
        for (int n = 32;;) {
                gid_t *g = realloc(p->groups, (size_t)n * sizeof(gid_t));
                if (!g)
                        goto oom;
                p->groups = g;
                int want = n;
                if (getgrouplist(def->extras->user, p->gid, p->groups, &want) >= 0) {
                        p->n_groups = want;
                        return 0;
                }
                if (want <= n || want > 65536) {
                        *ret_step = "getgrouplist";
                        return -EINVAL;
                }
                n = want;
        }
oom:
        *ret_step = "memory";
        return -ENOMEM;
}

int spawn_prep_setenv(struct spawn_prep *p, const char *key, const char *value) {
        return env_setf(&p->envp, key, value);
}

int spawn_prepare(const struct job_def *def, uint64_t run_id, struct spawn_prep *ret,
                  const char **ret_step) {
        struct spawn_prep p = { 0 };
        int r = -ENOMEM;
        const char *home = def->extras->home, *shell = def->extras->shell_path, *user = def->extras->user;
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
                if (e != 0 || !pwp || pw.pw_uid != def->extras->uid) {
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

        if (prep_environment(def, run_id, user, home, shell, &p.envp) < 0)
                goto fail;
        /* A name without a slash is looked up on PATH by the child, after
         * its chdir and with its credentials (child_execve_path): relative
         * entries are relative to the job's directory, and what the job's
         * user cannot reach is not found, as in the job's own shell. */
        p.path = strdup(def->argv[0]);
        if (!p.path)
                goto fail;
        if (!strchr(p.path, '/')) {
                const char *path = env_get(p.envp, "PATH");
                p.search_path = path ? path : "";
        }
        if (def->extras->user || def->extras->group) {
                r = prep_credentials(def, &p, ret_step);
                if (r < 0)
                        goto fail_step;
        }
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
                r = -errno;
                *ret_step = "getrlimit";
                goto fail_step;
        }
        p.nofile.rlim_max = rl.rlim_max;
        p.nofile.rlim_cur = MIN((rlim_t)(def->extras->limit_nofile ? def->extras->limit_nofile : SPAWN_NOFILE_DEFAULT), rl.rlim_max);
        p.working_directory = def->extras->working_directory ? def->extras->working_directory
                              : (def->extras->user && def->extras->home) ? def->extras->home : "/";
        p.working_directory_is_home = !def->extras->working_directory && def->extras->user && def->extras->home;
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

/* A system call that returns -errno and touches nothing but registers: no
 * errno, no thread-local state. The child shares the worker's memory and
 * its thread pointer (CLONE_VM without CLONE_SETTLS) and now runs at the
 * same time as the worker, so even errno is the worker's: libc's syscall()
 * would write it from the child. Other architectures use libc and a child
 * with its own copy of the memory (see SPAWN_SHARES_MEMORY). */
#if defined(__x86_64__)
#define SPAWN_SHARES_MEMORY 1
__attribute__((always_inline, no_sanitize("thread", "address", "undefined")))
static inline long child_syscall(long n, long a, long b, long c, long d) {
        register long r10 __asm__("r10") = d;
        long ret;
        __asm__ volatile("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                         : "rcx", "r11", "memory");
        return ret;
}
#elif defined(__aarch64__)
#define SPAWN_SHARES_MEMORY 1
__attribute__((always_inline, no_sanitize("thread", "address", "undefined")))
static inline long child_syscall(long n, long a, long b, long c, long d) {
        register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                      x2 __asm__("x2") = c, x3 __asm__("x3") = d;
        __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
        return x0;
}
#else
#define SPAWN_SHARES_MEMORY 0
static long child_syscall(long n, long a, long b, long c, long d) {
        long r = syscall(n, a, b, c, d);
        return r < 0 ? -errno : r;
}
#endif
#define SC(n, ...) child_syscall(SYS_##n, __VA_ARGS__)

/* What a child that fails before execve writes into the status pipe. The
 * step is a string literal: the same address in the parent. */
struct child_report {
        int error;
        const char *step;
};

struct spawn_child_priv {
        struct spawn_child pub;
        const struct job_def *def;
        struct spawn_prep prep;         /* read by the child until execve */
        int fds[3];
        int report_fd;                  /* the status pipe's write end (the child's copy) */
        char *stack;
        bool shares_memory;
        bool gone;                      /* exec'd, reaped, or killed: the stack is no longer used */
        const char *volatile *step;     /* the step the child is at: a slot at the top of its stack */
};

/* In the child: execve of prep->path, or of each PATH entry + "/" +
 * prep->path in turn while the program is not there (an empty entry is
 * the working directory, as in the shell). Returns -errno and the step. */
__attribute__((no_sanitize("thread", "address", "undefined")))
static long child_execve_path(const struct spawn_prep *p, char *const argv[], const char **ret_step) {
        char buf[PATH_MAX];
        size_t nlen = 0;
        bool denied = false;

        *ret_step = "execve";
        if (!p->search_path)
                return SC(execve, (long)p->path, (long)argv, (long)p->envp, 0);
        while (p->path[nlen])
                nlen++;
        for (const char *s = p->search_path;;) {
                const char *end = s;
                while (*end && *end != ':')
                        end++;
                size_t k = 0, dlen = (size_t)(end - s);
                if (dlen + nlen + 3 <= sizeof buf) {
                        if (dlen == 0)
                                buf[k++] = '.';
                        for (size_t i = 0; i < dlen; i++)
                                buf[k++] = s[i];
                        buf[k++] = '/';
                        for (size_t i = 0; i <= nlen; i++)
                                buf[k++] = p->path[i];
                        long e = SC(execve, (long)buf, (long)argv, (long)p->envp, 0);
                        /* Not there (or not for this user): the next entry.
                         * Anything else is this program's failure. */
                        if (e == -EACCES || e == -EPERM)
                                denied = true;
                        else if (e != -ENOENT && e != -ENOTDIR && e != -ELOOP && e != -ENAMETOOLONG)
                                return e;
                }
                if (!*end)
                        break;
                s = end + 1;
        }
        *ret_step = "executable lookup";
        return denied ? -EACCES : -ENOENT;
}

/* Runs in the child, on its own stack. With CLONE_VM it shares the
 * daemon's memory and runs alongside the worker that cloned it: it writes
 * only its stack (and the step slot at its top), reads the prepared
 * arguments, which stay unchanged until it has exec'd or died, and makes
 * only raw system calls.
 * On failure it writes errno and the step into the status pipe and exits;
 * the pipe's write end is CLOEXEC, so a successful execve closes it (EOF).
 *
 * No sanitizer instrumentation: the child runs on the worker thread's TLS,
 * so an instrumented access or an interceptor would update that thread's
 * detector state from another process. (The race reports TSan gave came
 * from its clone() interceptor, see real_clone().) */
__attribute__((no_sanitize("thread", "address", "undefined")))
static int child_main(void *arg) {
        struct spawn_child_priv *c = arg;
        const struct spawn_prep *p = &c->prep;
        const char *step;
        uint64_t empty_mask[_NSIG / 64] = { 0 };
        long e;
        int w = c->report_fd;

#define STEP(name, call) do { *c->step = step = (name); if ((e = (call)) < 0) goto fail; } while (0)
        STEP("setsid", SC(setsid, 0, 0, 0, 0));
        for (int i = 0; i < 3; i++) /* dup3: aarch64 has no dup2; the fds are all > 2 */
                STEP("dup2", SC(dup3, c->fds[i], i, 0, 0));
        /* Everything else goes, but the status pipe (w > 2: evd keeps 0-2
         * open, so a pipe never lands there). */
        if (w > 3)
                STEP("close_range", SC(close_range, 3, w - 1, 0, 0));
        STEP("close_range", SC(close_range, (long)w + 1, ~0U, 0, 0));
        /* Lowering the soft limit needs no privilege; evd's is the hard one. */
        STEP("setrlimit", SC(prlimit64, 0, RLIMIT_NOFILE, (long)&p->nofile, 0));
        /* Before dropping privileges: only root may raise priority, and a
         * job as another user may ask for a negative nice. */
        if (c->def->extras->nice_set)
                STEP("setpriority", SC(setpriority, PRIO_PROCESS, 0, c->def->extras->nice, 0));
        if (p->set_credentials) {
                STEP("setgroups", SC(setgroups, p->n_groups, (long)p->groups, 0, 0));
                STEP("setresgid", SC(setresgid, p->gid, p->gid, p->gid, 0));
                STEP("setresuid", SC(setresuid, p->uid, p->uid, p->uid, 0));
        }
        (void)SC(umask, 022, 0, 0, 0);
        *c->step = step = "chdir";
        e = SC(chdir, (long)p->working_directory, 0, 0, 0);
        /* A home directory that does not exist (nobody's is /nonexistent)
         * is no reason to refuse the run: like a login without a home,
         * start in "/". An explicit working_directory= must exist. */
        if (e < 0 && p->working_directory_is_home && (e == -ENOENT || e == -ENOTDIR || e == -EACCES))
                e = SC(chdir, (long)"/", 0, 0, 0);
        if (e < 0)
                goto fail;
        STEP("sigprocmask", SC(rt_sigprocmask, SIG_SETMASK, (long)empty_mask, 0, sizeof empty_mask));
        *c->step = "execve";
        e = child_execve_path(p, c->def->argv, &step);
#undef STEP
fail:;
        struct child_report rep = { .error = (int)-e, .step = step };
        (void)SC(write, w, (long)&rep, sizeof rep, 0);
        (void)SC(exit_group, 127, 0, 0, 0);
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

/* Whether CLONE_VM may be used. valgrind supports clone() only as a
 * thread, a fork or a vfork, and ends the program on CLONE_VM alone; it is
 * recognised by its preload library, once at start (spawn_devnull(),
 * before any thread: getenv() is not safe against the TZ switch). A clone
 * refused with EINVAL (which a kernel with CLONE_PIDFD never does) turns
 * it off too. Then, and on architectures without child_syscall() in
 * assembly, the child gets a copy of the memory, as with fork: slower for
 * a big daemon, otherwise the same. */

int spawn_start(const struct job_def *def, struct spawn_prep *prep, int stdin_fd, int out_fd, int err_fd,
                struct spawn_child **ret, const char **ret_step) {
        int pipefd[2] = { -EBADF, -EBADF }, r;
        struct spawn_child_priv *c = calloc(1, sizeof *c);

        if (!c) {
                *ret_step = "memory";
                return -ENOMEM;
        }
        /* A private stack per spawn, kept until the child has exec'd or
         * died. mmap rather than malloc keeps it page-aligned and lets a
         * guard page catch an overflow. */
        /* MAP_SHARED: the step slot at its top is seen by the parent also
         * when the child is a copy (valgrind). */
        c->stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (c->stack == MAP_FAILED) {
                c->stack = NULL;
                r = -errno;
                *ret_step = "mmap";
                goto fail;
        }
        (void)mprotect(c->stack, 4096, PROT_NONE);
        c->step = (const char *volatile *)(void *)(c->stack + CHILD_STACK_SIZE - CHILD_STACK_RESERVED);
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = -errno;
                *ret_step = "pipe";
                goto fail;
        }
        c->def = def;
        c->prep = *prep;
        *prep = (struct spawn_prep){ 0 };
        c->fds[0] = stdin_fd, c->fds[1] = out_fd, c->fds[2] = err_fd;
        c->report_fd = pipefd[1];
        c->pub.status_fd = pipefd[0];
        c->pub.pidfd = -EBADF;

        int flags = CLONE_PIDFD | SIGCHLD;
        c->shares_memory = SPAWN_SHARES_MEMORY && !atomic_load(&clone_vm_refused);
        char *top = c->stack + CHILD_STACK_SIZE - CHILD_STACK_RESERVED;
        pid_t pid = real_clone()(child_main, top, flags | (c->shares_memory ? CLONE_VM : 0), c, &c->pub.pidfd, NULL,
                                 NULL);
        if (pid < 0 && errno == EINVAL && c->shares_memory) {
                atomic_store(&clone_vm_refused, true);
                c->shares_memory = false;
                pid = real_clone()(child_main, top, flags, c, &c->pub.pidfd, NULL, NULL);
        }
        if (pid < 0) {
                r = -errno;
                *ret_step = "clone";
                c->gone = true;
                goto fail;
        }
        safe_close(pipefd[1]);
        (void)fcntl(c->pub.status_fd, F_SETFL, O_NONBLOCK);
        c->pub.pid = pid;
        *ret = &c->pub;
        return 0;
fail:
        safe_close(pipefd[0]);
        safe_close(pipefd[1]);
        c->pub.status_fd = -EBADF;
        c->gone = true;
        spawn_child_free(&c->pub);
        return r;
}

static struct spawn_child_priv *priv(struct spawn_child *c) {
        return (struct spawn_child_priv *)c;
}

static void reap(struct spawn_child_priv *c, int options) {
        siginfo_t si = { 0 };
        if (c->pub.pidfd >= 0 && waitid((idtype_t)P_PIDFD, (id_t)c->pub.pidfd, &si, WEXITED | options) == 0 &&
            si.si_pid != 0)
                c->pub.pidfd = safe_close(c->pub.pidfd);
}

int spawn_child_result(struct spawn_child *pub, const char **ret_step) {
        struct spawn_child_priv *c = priv(pub);
        struct child_report rep;
        ssize_t n = read(c->pub.status_fd, &rep, sizeof rep);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        c->gone = true;
        if (n == 0)
                return 0; /* execve closed the pipe (or the child died: its exit status tells) */
        /* The child exits right after its report: reap it. */
        reap(c, 0);
        if (n != (ssize_t)sizeof rep || rep.error <= 0) {
                *ret_step = "spawn report";
                return -EIO;
        }
        *ret_step = rep.step;
        return -rep.error;
}

const char *spawn_child_kill(struct spawn_child *pub, usec_t wait) {
        struct spawn_child_priv *c = priv(pub);
        const char *step = c->step ? __atomic_load_n(c->step, __ATOMIC_RELAXED) : NULL;

        if (c->pub.pidfd < 0)
                return step;
        /* kill() rather than pidfd_send_signal(), which valgrind does not
         * know: the pid cannot be reused while the child is unreaped. */
        (void)kill(c->pub.pid, SIGKILL);
        /* A child with SIGKILL pending never runs its code again, and none of
         * its system calls writes to memory: once it is signalled, its
         * stack may go even if it is still stuck in the kernel (a FUSE
         * request already read by a hung server waits uninterruptibly). */
        c->gone = true;
        struct pollfd pfd = { .fd = c->pub.pidfd, .events = POLLIN };
        int ms = wait == USEC_INFINITY ? -1 : (int)MIN((wait + 999) / USEC_PER_MSEC, (usec_t)INT32_MAX);
        if (poll(&pfd, 1, ms) > 0)
                reap(c, WNOHANG);
        return step;
}

bool spawn_child_reaped(const struct spawn_child *pub) {
        return pub->pidfd < 0;
}

int spawn_child_take_pidfd(struct spawn_child *pub) {
        int fd = pub->pidfd;
        pub->pidfd = -EBADF;
        return fd;
}

struct spawn_child *spawn_child_free(struct spawn_child *pub) {
        struct spawn_child_priv *c = priv(pub);
        if (!c)
                return NULL;
        if (!c->gone) /* still between clone and execve: it must not run on a freed stack */
                (void)spawn_child_kill(pub, USEC_INFINITY);
        safe_close(c->pub.status_fd);
        safe_close(c->pub.pidfd);
        if (c->stack)
                munmap(c->stack, CHILD_STACK_SIZE);
        spawn_prep_done(&c->prep);
        free(c);
        return NULL;
}
