/* run.c - a worker performs one run: spawn, supervise, collect output, reap.
 *
 * The worker blocks in poll() on the run's stdout and stderr pipes, its
 * pidfd and the worker's own eventfd (the main thread's way to ask for a
 * cancellation), with a timeout for the next deadline (timeout=, then
 * kill_grace). Everything about one run happens on one thread, so the run's
 * state needs no lock.
 *
 * The process group: the child calls setsid(), so its pid is the pgid of
 * everything it starts. When the main process exits, anything left in its
 * group is terminated too (SIGTERM, then SIGKILL after kill_grace), as
 * systemd does for a service's control group: a run is over when its main
 * process is. Processes that leave the group (double-forking daemons that
 * call setsid) are re-parented to evd, which is a child subreaper, and
 * reaped by the main thread when they exit; they are not killed (see
 * man/evd.8, "PROCESSES").
 *
 * Group signals and pid reuse: the group is signalled while its leader is
 * unreaped (a zombie pins the pgid) or while kill(-pgid, 0) shows members,
 * which also pin it; the kernel does not reuse a pid that is still some
 * process's pgid. */
#include "run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "alert.h"
#include "config.h"
#include "log.h"
#include "output.h"
#include "spawn.h"
#include "timespan.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define READ_CHUNK 65536
/* "on_failure hook: " before an alert hook's messages: two arguments. */
#define HOOK(r) ((r)->hook ? (r)->hook : ""), ((r)->hook ? " hook: " : "")
#define GROUP_POLL_USEC (20 * USEC_PER_MSEC)

void run_cancel(struct run *r, enum run_cancel how) {
        int cur = atomic_load(&r->cancel);
        while ((int)how > cur)
                if (atomic_compare_exchange_weak(&r->cancel, &cur, (int)how))
                        break;
        /* Pairs with the worker storing wake_fd before it reads cancel: one
         * of the two sides sees the other's store. */
        int fd = atomic_load(&r->wake_fd);
        if (fd >= 0) {
                uint64_t one = 1;
                (void)!write(fd, &one, sizeof one);
        }
}

bool run_succeeded(const struct run *r) {
        return r->spawn_error == 0 && r->wait_code == CLD_EXITED && r->wait_status == 0;
}

char *run_describe_result(const struct run *r, char *buf, size_t size) {
        if (r->spawn_error != 0 && r->killed_before_exec)
                snprintf(buf, size, "failed to start: %s: %s before exec", r->spawn_step ? r->spawn_step : "spawn",
                         r->timed_out ? "timed out" : "stopped");
        else if (r->spawn_error != 0)
                snprintf(buf, size, "failed to start: %s: %s", r->spawn_step ? r->spawn_step : "spawn",
                         strerror(r->spawn_error));
        else if (r->wait_code == CLD_EXITED)
                snprintf(buf, size, "exit status %d", r->wait_status);
        else
                snprintf(buf, size, "killed by signal %s%s", sigabbrev_np(r->wait_status)
                         ? sigabbrev_np(r->wait_status) : "?", r->wait_code == CLD_DUMPED ? " (core dumped)" : "");
        return buf;
}

/* Reads what is available on *fd into the output; closes it at EOF. */
static void drain(struct output *o, struct output_stream *s, int *fd) {
        static __thread char buf[READ_CHUNK];
        for (int i = 0; i < 64; i++) { /* bounded, so one stream cannot starve the rest */
                ssize_t n = read(*fd, buf, sizeof buf);
                if (n > 0) {
                        output_feed(o, s, buf, (size_t)n);
                        continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        *fd = safe_close(*fd);
                return;
        }
}

static void signal_group(pid_t pgid, int pidfd, int sig) {
        (void)kill(-pgid, sig);
        /* The main process may have moved to another group: reach it too. */
        if (pidfd >= 0)
                (void)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static bool group_alive(pid_t pgid) {
        return kill(-pgid, 0) == 0 || errno == EPERM;
}

static int poll_timeout_ms(usec_t next, usec_t now) {
        return next == USEC_INFINITY ? -1 : next <= now ? 0 : (int)MIN((next - now + 999) / 1000, (usec_t)INT32_MAX);
}

/* Waits until the child has exec'd, with timeout= and cancellation in
 * force: a child stuck before execve (in chdir into a hung mount, say) is
 * SIGKILLed at the deadline or at the first request to stop, and the run
 * fails to start. SIGKILL at once, with no kill_grace: it is still evd's
 * code, with nothing of the job's to clean up, and it blocks SIGTERM until
 * its last step anyway. (A child that exec'd an instant before the kill is
 * reported as killed before exec all the same.) */
static int wait_exec(struct run *r, struct spawn_child *c, int wake_fd, usec_t term_at, const char **ret_step) {
        for (;;) {
                const char *step = NULL;
                int k = spawn_child_result(c, &step);
                if (k != -EAGAIN) {
                        if (k < 0)
                                *ret_step = step;
                        return k;
                }
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int cancel = atomic_load(&r->cancel);
                if (cancel != RUN_CANCEL_NONE || now >= term_at) {
                        if (cancel != RUN_CANCEL_NONE)
                                r->cancelled = true;
                        else
                                r->timed_out = true;
                        r->killed_before_exec = true;
                        step = spawn_child_kill(c, MAX(r->kill_grace, USEC_PER_SEC));
                        if (!spawn_child_reaped(c))
                                log_job(LOG_WARNING, r->def->name, r->id, NULL,
                                        "%s%sprocess %d is stuck in the kernel (%s) and did not die on SIGKILL; "
                                        "leaving it", HOOK(r), (int)c->pid, step ? step : "before exec");
                        *ret_step = step ? step : "spawn";
                        return r->cancelled ? -ECANCELED : -ETIMEDOUT;
                }
                struct pollfd pfd[2] = {
                        { .fd = wake_fd, .events = POLLIN },
                        { .fd = c->status_fd, .events = POLLIN },
                };
                int n = poll(pfd, 2, poll_timeout_ms(term_at, now));
                if (n > 0 && pfd[0].revents) {
                        uint64_t v;
                        (void)!read(wake_fd, &v, sizeof v);
                }
        }
}

/* One run's supervision (supervise() and its steps): the pipes and pidfd
 * it reads, and where it is in stopping the process group. */
struct supervisor {
        struct run *run;
        struct output *out;
        int wake_fd, *outp, *errp, pidfd;
        pid_t pgid;
        usec_t term_at, kill_at;
        enum { RUNNING, TERMINATING, KILLED } phase;
        bool exited, checked_group;
};

static void supervisor_terminate(struct supervisor *s, int pidfd, usec_t now) {
        signal_group(s->pgid, pidfd, SIGTERM);
        s->phase = TERMINATING;
        s->kill_at = now + s->run->kill_grace;
}

/* Cancellation, timeout= and kill_grace: signals the group as they ask. */
static void supervisor_enforce(struct supervisor *s, usec_t now) {
        struct run *r = s->run;
        int cancel = atomic_load(&r->cancel);
        char buf[64];

        if (cancel == RUN_CANCEL_KILL && s->phase != KILLED) {
                r->cancelled = true;
                signal_group(s->pgid, s->pidfd, SIGKILL);
                s->phase = KILLED;
        } else if (cancel == RUN_CANCEL_TERM && s->phase == RUNNING) {
                r->cancelled = true;
                supervisor_terminate(s, s->pidfd, now);
        }
        if (s->phase == RUNNING && now >= s->term_at) {
                r->timed_out = true;
                log_job(LOG_WARNING, r->def->name, r->id, NULL, "%s%stimed out after %s, terminating its process group",
                        HOOK(r), timespan_format(buf, sizeof buf, r->def->timeout));
                supervisor_terminate(s, s->pidfd, now);
        }
        if (s->phase == TERMINATING && now >= s->kill_at) {
                log_job(LOG_WARNING, r->def->name, r->id, NULL, "%s%sstill running %s after SIGTERM, sending SIGKILL",
                        HOOK(r), timespan_format(buf, sizeof buf, r->kill_grace));
                signal_group(s->pgid, s->exited ? -1 : s->pidfd, SIGKILL);
                s->phase = KILLED;
        }
}

/* After the main process exited: whether its group still has members (the
 * first time, they are told to go). When it has none, takes what is left
 * in the pipes. */
static bool supervisor_group_alive(struct supervisor *s, usec_t now) {
        struct run *r = s->run;
        bool alive = group_alive(s->pgid);
        if (alive && !s->checked_group && s->phase == RUNNING) {
                /* The main process is gone; the rest of its group goes too. */
                r->leftovers = 1;
                log_job(LOG_NOTICE, r->def->name, r->id, NULL,
                        "%s%smain process exited, terminating the rest of its process group", HOOK(r));
                supervisor_terminate(s, -1, now);
        }
        s->checked_group = true;
        if (!alive) {
                /* Whoever still holds the pipes left the group: take what
                 * is there and stop listening. */
                if (s->outp[0] >= 0)
                        drain(s->out, &s->out->out, &s->outp[0]);
                if (s->errp[0] >= 0)
                        drain(s->out, &s->out->err, &s->errp[0]);
        }
        return alive;
}

/* Records the main process's end; wait=true blocks until it comes. */
static bool supervisor_reap(struct supervisor *s, bool wait) {
        struct run *r = s->run;
        siginfo_t si = { 0 };
        if (syscall(SYS_waitid, P_PIDFD, s->pidfd, &si, WEXITED | (wait ? 0 : WNOHANG), &r->rusage) != 0 ||
            si.si_pid == 0)
                return false;
        s->exited = true;
        r->wait_code = si.si_code;
        r->wait_status = si.si_status;
        r->end_monotonic = now_usec(CLOCK_MONOTONIC);
        s->pidfd = safe_close(s->pidfd);
        return true;
}

/* Waits for output, the main process's end, a cancellation or the next
 * deadline, and handles what came. false after a poll failure (logged). */
static bool supervisor_poll(struct supervisor *s, bool group_alive, usec_t now) {
        struct pollfd pfd[4] = {
                { .fd = s->wake_fd, .events = POLLIN },
                { .fd = s->outp[0], .events = POLLIN },
                { .fd = s->errp[0], .events = POLLIN },
                { .fd = s->pidfd, .events = POLLIN },
        };
        usec_t next = MIN(s->phase == RUNNING ? s->term_at : USEC_INFINITY,
                          s->phase == TERMINATING ? s->kill_at : USEC_INFINITY);
        if (s->exited && group_alive)
                next = MIN(next, now + GROUP_POLL_USEC);
        int n = poll(pfd, 4, poll_timeout_ms(next, now));
        if (n < 0 && errno != EINTR) {
                log_job(LOG_ERR, s->run->def->name, s->run->id, NULL, "%s%spoll failed: %m", HOOK(s->run));
                return false;
        }
        if (n <= 0)
                return true;
        if (pfd[0].revents) {
                uint64_t v;
                (void)!read(s->wake_fd, &v, sizeof v);
        }
        if (pfd[1].revents)
                drain(s->out, &s->out->out, &s->outp[0]);
        if (pfd[2].revents)
                drain(s->out, &s->out->err, &s->errp[0]);
        if (pfd[3].revents)
                (void)supervisor_reap(s, false);
        return true;
}

/* Supervises a run from its exec to the end of its process group: output,
 * timeout= (SIGTERM, SIGKILL after kill_grace), cancellation, reaping.
 * Closes the pipes it reads to the end and the pidfd once reaped. */
static void supervise(struct run *r, struct output *o, int wake_fd, int outp[2], int errp[2], int *pidfd,
                      usec_t term_at) {
        struct supervisor s = {
                .run = r, .out = o, .wake_fd = wake_fd, .outp = outp, .errp = errp, .pidfd = *pidfd,
                .pgid = r->pid, .term_at = term_at, .kill_at = USEC_INFINITY, .phase = RUNNING,
        };

        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                bool alive = false;
                supervisor_enforce(&s, now);
                if (s.exited) {
                        alive = supervisor_group_alive(&s, now);
                        if (!alive)
                                break;
                }
                if (!supervisor_poll(&s, alive, now))
                        break;
        }
        if (!s.exited) {
                /* Only after a poll failure: make sure the child is gone and reaped. */
                signal_group(s.pgid, s.pidfd, SIGKILL);
                if (!supervisor_reap(&s, true)) {
                        r->wait_code = 0;
                        r->wait_status = 0;
                        r->end_monotonic = now_usec(CLOCK_MONOTONIC);
                }
        }
        *pidfd = s.pidfd;
}

/* A pipe holding r->input, its write end closed: the read end in *ret.
 * The pipe is made big enough for the whole input (at most
 * ALERT_OUTPUT_MAX, within the default pipe-max-size), so nothing waits
 * for the child to read; what does not fit is cut (the child sees EOF). */
static int input_pipe(struct run *r, int *ret) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        if (r->input_len > 0) {
                (void)fcntl(p[1], F_SETPIPE_SZ, (int)MIN(r->input_len, (size_t)ALERT_OUTPUT_MAX));
                ssize_t n = write(p[1], r->input, MIN(r->input_len, (size_t)ALERT_OUTPUT_MAX));
                if (n >= 0 && (size_t)n < r->input_len)
                        log_job(LOG_NOTICE, r->def->name, r->id, NULL, "%s%sstdin cut to %zd of %zu bytes",
                                HOOK(r), n, r->input_len);
        }
        safe_close(p[1]);
        (void)fcntl(p[0], F_SETFL, 0); /* the child reads it blocking */
        *ret = p[0];
        return 0;
}

/* A run that must not start: cancelled while it waited, or a claimed run
 * (cluster = once) whose node's lease is no longer known live (fencing,
 * cluster.h). Fills in why. */
static bool refused_to_start(struct run *r) {
        if (atomic_load(&r->cancel) != RUN_CANCEL_NONE) {
                r->cancelled = true;
                r->spawn_error = ECANCELED;
                r->spawn_step = "cancelled before it started";
                return true;
        }
        if (r->lease_expiry && now_usec(CLOCK_BOOTTIME) >= atomic_load(r->lease_expiry)) {
                r->cancelled = true;
                r->spawn_error = ETIME;
                r->spawn_step = "not started: the cluster lease expired";
                return true;
        }
        return false;
}

/* The spawn's preparation, plus EVD_SCHEDULED_USEC: the instant the run is
 * of (a cluster = once job's claimed instant), which a job may need. */
static int prepare(const struct run *r, struct spawn_prep *prep, const char **step) {
        int k = spawn_prepare(r->def, r->id, prep, step);
        if (k < 0 || !r->scheduled)
                return k;
        char ibuf[32];
        snprintf(ibuf, sizeof ibuf, "%llu", (unsigned long long)r->scheduled);
        k = spawn_prep_setenv(prep, "EVD_SCHEDULED_USEC", ibuf);
        if (k < 0)
                *step = "environment";
        return k;
}

void run_execute(struct run *r, int wake_fd) {
        const struct job_def *def = r->def;
        struct spawn_prep prep = { 0 };
        struct spawn_child *child = NULL;
        struct output o;
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
        int pidfd = -1, inp = -1, r_;
        const char *step = NULL;
        struct output_tail tail;

        atomic_store(&r->wake_fd, wake_fd);
        r->start_monotonic = now_usec(CLOCK_MONOTONIC);
        r->start_realtime = now_usec(CLOCK_REALTIME);
        /* From here on: spawning counts against timeout= too. */
        usec_t term_at = def->timeout == USEC_INFINITY ? USEC_INFINITY : r->start_monotonic + def->timeout;
        if (refused_to_start(r))
                goto out;
        r_ = prepare(r, &prep, &step);
        if (r_ < 0)
                goto spawn_failed;
        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                r_ = -errno;
                step = "pipe";
                goto spawn_failed;
        }
        if (r->input) {
                r_ = input_pipe(r, &inp);
                if (r_ < 0) {
                        step = "stdin pipe";
                        goto spawn_failed;
                }
        }
        r_ = spawn_start(def, &prep, inp >= 0 ? inp : spawn_devnull(), outp[1], errp[1], &child, &step);
        outp[1] = safe_close(outp[1]);
        errp[1] = safe_close(errp[1]);
        inp = safe_close(inp);
        if (r_ < 0)
                goto spawn_failed;
        r_ = wait_exec(r, child, wake_fd, term_at, &step);
        if (r_ < 0) {
                child = spawn_child_free(child);
                goto spawn_failed;
        }
        r->pid = child->pid;
        pidfd = spawn_child_take_pidfd(child);
        child = spawn_child_free(child);
        fcntl(outp[0], F_SETFL, O_NONBLOCK);
        fcntl(errp[0], F_SETFL, O_NONBLOCK);

        if (r->attempt > 1)
                log_job(LOG_INFO, def->name, r->id, NULL, "started (pid %d, attempt %u of %u)", (int)r->pid,
                        r->attempt, def->retries + 1);
        else
                log_job(LOG_INFO, def->name, r->id, NULL, "%s%sstarted (pid %d)", HOOK(r), (int)r->pid);

        output_init(&o, def->name, r->id);
        if (r->keep_output_tail && output_tail_init(&tail, ALERT_OUTPUT_MAX) >= 0)
                o.tail = &tail;
        supervise(r, &o, wake_fd, outp, errp, &pidfd, term_at);
        output_finish(&o);
        r->output_lines = o.lines;
        r->dropped_lines = o.total_dropped_lines;
        if (o.tail)
                r->output_tail = output_tail_take(&tail, &r->output_tail_len);
        output_tail_done(o.tail);
        goto out;

spawn_failed:
        spawn_prep_done(&prep);
        r->spawn_error = -r_;
        r->spawn_step = step;
        r->end_monotonic = now_usec(CLOCK_MONOTONIC);
out:
        safe_close(outp[0]);
        safe_close(outp[1]);
        safe_close(errp[0]);
        safe_close(errp[1]);
        safe_close(pidfd);
        safe_close(inp);
        spawn_child_free(child);
        if (r->end_monotonic == 0)
                r->end_monotonic = now_usec(CLOCK_MONOTONIC);
        atomic_store(&r->wake_fd, -1);
}
