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

#include "config.h"
#include "log.h"
#include "output.h"
#include "spawn.h"
#include "timespan.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define READ_CHUNK 65536
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
        if (r->spawn_error != 0)
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

void run_execute(struct run *r, int wake_fd) {
        const struct job_def *def = r->def;
        struct spawn_prep prep = { 0 };
        struct output o;
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
        int pidfd = -1, r_;
        const char *step = NULL;
        char buf[64];

        atomic_store(&r->wake_fd, wake_fd);
        r->start_monotonic = now_usec(CLOCK_MONOTONIC);
        r->start_realtime = now_usec(CLOCK_REALTIME);
        if (atomic_load(&r->cancel) != RUN_CANCEL_NONE) {
                r->cancelled = true;
                r->spawn_error = ECANCELED;
                r->spawn_step = "cancelled before it started";
                goto out;
        }

        r_ = spawn_prepare(def, r->id, &prep, &step);
        if (r_ < 0)
                goto spawn_failed;
        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                r_ = -errno;
                step = "pipe";
                goto spawn_failed;
        }
        r_ = spawn_start(def, &prep, spawn_devnull(), outp[1], errp[1], &r->pid, &pidfd, &step);
        outp[1] = safe_close(outp[1]);
        errp[1] = safe_close(errp[1]);
        spawn_prep_done(&prep);
        if (r_ < 0)
                goto spawn_failed;
        fcntl(outp[0], F_SETFL, O_NONBLOCK);
        fcntl(errp[0], F_SETFL, O_NONBLOCK);

        if (r->attempt > 1)
                log_job(LOG_INFO, def->name, r->id, NULL, "started (pid %d, attempt %u of %u)", (int)r->pid,
                        r->attempt, def->retries + 1);
        else
                log_job(LOG_INFO, def->name, r->id, NULL, "started (pid %d)", (int)r->pid);

        output_init(&o, def->name, r->id);
        {
                enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
                usec_t term_at = def->timeout == USEC_INFINITY ? USEC_INFINITY
                                                               : r->start_monotonic + def->timeout;
                usec_t kill_at = USEC_INFINITY;
                bool exited = false, checked_group = false;
                pid_t pgid = r->pid;

                for (;;) {
                        usec_t now = now_usec(CLOCK_MONOTONIC);
                        int cancel = atomic_load(&r->cancel);

                        if (cancel == RUN_CANCEL_KILL && phase != KILLED) {
                                r->cancelled = true;
                                signal_group(pgid, pidfd, SIGKILL);
                                phase = KILLED;
                        } else if (cancel == RUN_CANCEL_TERM && phase == RUNNING) {
                                r->cancelled = true;
                                signal_group(pgid, pidfd, SIGTERM);
                                phase = TERMINATING;
                                kill_at = now + r->kill_grace;
                        }
                        if (phase == RUNNING && now >= term_at) {
                                r->timed_out = true;
                                log_job(LOG_WARNING, def->name, r->id, NULL,
                                        "timed out after %s, terminating its process group",
                                        timespan_format(buf, sizeof buf, def->timeout));
                                signal_group(pgid, pidfd, SIGTERM);
                                phase = TERMINATING;
                                kill_at = now + r->kill_grace;
                        }
                        if (phase == TERMINATING && now >= kill_at) {
                                log_job(LOG_WARNING, def->name, r->id, NULL,
                                        "still running %s after SIGTERM, sending SIGKILL",
                                        timespan_format(buf, sizeof buf, r->kill_grace));
                                signal_group(pgid, exited ? -1 : pidfd, SIGKILL);
                                phase = KILLED;
                        }

                        bool alive = false;
                        if (exited) {
                                alive = group_alive(pgid);
                                if (alive && !checked_group && phase == RUNNING) {
                                        /* The main process is gone; the rest of its group goes too. */
                                        r->leftovers = 1;
                                        log_job(LOG_NOTICE, def->name, r->id, NULL,
                                                "main process exited, terminating the rest of its process group");
                                        signal_group(pgid, -1, SIGTERM);
                                        phase = TERMINATING;
                                        kill_at = now + r->kill_grace;
                                }
                                checked_group = true;
                                if (!alive) {
                                        /* Whoever still holds the pipes left the group:
                                         * take what is there and stop listening. */
                                        if (outp[0] >= 0)
                                                drain(&o, &o.out, &outp[0]);
                                        if (errp[0] >= 0)
                                                drain(&o, &o.err, &errp[0]);
                                        break;
                                }
                        }

                        struct pollfd pfd[4] = {
                                { .fd = wake_fd, .events = POLLIN },
                                { .fd = outp[0], .events = POLLIN },
                                { .fd = errp[0], .events = POLLIN },
                                { .fd = pidfd, .events = POLLIN },
                        };
                        usec_t next = MIN(phase == RUNNING ? term_at : USEC_INFINITY,
                                          phase == TERMINATING ? kill_at : USEC_INFINITY);
                        if (exited && alive)
                                next = MIN(next, now + GROUP_POLL_USEC);
                        int timeout_ms = next == USEC_INFINITY ? -1
                                         : next <= now ? 0 : (int)MIN((next - now + 999) / 1000, (usec_t)INT32_MAX);
                        int n = poll(pfd, 4, timeout_ms);
                        if (n < 0 && errno != EINTR) {
                                log_job(LOG_ERR, def->name, r->id, NULL, "poll failed: %m");
                                break;
                        }
                        if (n <= 0)
                                continue;
                        if (pfd[0].revents) {
                                uint64_t v;
                                (void)!read(wake_fd, &v, sizeof v);
                        }
                        if (pfd[1].revents)
                                drain(&o, &o.out, &outp[0]);
                        if (pfd[2].revents)
                                drain(&o, &o.err, &errp[0]);
                        if (pfd[3].revents) {
                                siginfo_t si = { 0 };
                                if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | WNOHANG,
                                            &r->rusage) == 0 && si.si_pid != 0) {
                                        exited = true;
                                        r->wait_code = si.si_code;
                                        r->wait_status = si.si_status;
                                        r->end_monotonic = now_usec(CLOCK_MONOTONIC);
                                        pidfd = safe_close(pidfd);
                                }
                        }
                }
                if (!exited) {
                        /* Only after a poll failure: make sure the child is gone and reaped. */
                        signal_group(pgid, pidfd, SIGKILL);
                        siginfo_t si = { 0 };
                        syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, &r->rusage);
                        r->wait_code = si.si_code;
                        r->wait_status = si.si_status;
                        r->end_monotonic = now_usec(CLOCK_MONOTONIC);
                }
        }
        output_finish(&o);
        r->output_lines = o.lines;
        r->dropped_lines = o.total_dropped_lines;
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
        if (r->end_monotonic == 0)
                r->end_monotonic = now_usec(CLOCK_MONOTONIC);
        atomic_store(&r->wake_fd, -1);
}
