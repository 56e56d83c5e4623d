/* bare_wakeup.c - how long this machine takes to wake a sleeping thread.
 *
 * A sender (another thread, or another process for the "proc" rows) waits
 * a random 200-1000 us so the receiver is really asleep (and its CPU may
 * be idle), reads CLOCK_MONOTONIC into shared memory and wakes the
 * receiver; the receiver reads the clock as soon as it runs again:
 *   signal-handler  tgkill -> handler interrupting sigsuspend()
 *   signalfd        tgkill of a blocked signal -> read() on a signalfd
 *   eventfd         write() -> blocking read()
 *   pipe            write() of one byte -> blocking read()
 * and, for timers, the lateness of an absolute CLOCK_MONOTONIC timerfd
 * deadline 200-1000 us ahead, with evd's 1 us timer slack and with the
 * default 50 us. Prints "NAME p50_us p99_us max_us" per row.
 *
 * usage: bare_wakeup SAMPLES */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mech { M_HANDLER, M_SIGNALFD, M_EVENTFD, M_PIPE };

struct shared {
        _Atomic int64_t t0;     /* sender's clock before waking */
        atomic_int done;        /* receiver: last sample finished */
        atomic_int tid;         /* receiver's thread id */
        atomic_int ready;
};

static struct shared *sh;
static int n_samples;
static enum mech mech;
static int efd, pfd[2], sfd;
static volatile int64_t handler_t1;
static int64_t *lat;

static int64_t now_ns(clockid_t c) {
        struct timespec ts;
        clock_gettime(c, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_usr1(int sig) {
        (void)sig;
        handler_t1 = now_ns(CLOCK_MONOTONIC);
}

static void sleep_ns(int64_t ns) {
        struct timespec ts = { ns / 1000000000, ns % 1000000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void sender(pid_t tgid) {
        while (!atomic_load(&sh->ready))
                sleep_ns(10000);
        for (int i = 1; i <= n_samples; i++) {
                sleep_ns(200000 + rand() % 800000);
                atomic_store(&sh->t0, now_ns(CLOCK_MONOTONIC));
                uint64_t one = 1;
                switch (mech) {
                case M_HANDLER:
                        syscall(SYS_tgkill, tgid, atomic_load(&sh->tid), SIGUSR1);
                        break;
                case M_SIGNALFD:
                        syscall(SYS_tgkill, tgid, atomic_load(&sh->tid), SIGUSR2);
                        break;
                case M_EVENTFD:
                        (void)!write(efd, &one, sizeof one);
                        break;
                case M_PIPE:
                        (void)!write(pfd[1], "x", 1);
                        break;
                }
                while (atomic_load(&sh->done) != i)
                        sleep_ns(20000);
        }
}

static void receiver(void) {
        sigset_t wait_mask;
        pthread_sigmask(SIG_SETMASK, NULL, &wait_mask);
        sigdelset(&wait_mask, SIGUSR1);
        atomic_store(&sh->tid, (int)syscall(SYS_gettid));
        atomic_store(&sh->ready, 1);
        for (int i = 1; i <= n_samples; i++) {
                int64_t t1 = 0;
                uint64_t v;
                char c;
                struct signalfd_siginfo si;
                switch (mech) {
                case M_HANDLER:
                        handler_t1 = 0;
                        while (!handler_t1)
                                sigsuspend(&wait_mask);
                        t1 = handler_t1;
                        break;
                case M_SIGNALFD:
                        (void)!read(sfd, &si, sizeof si);
                        t1 = now_ns(CLOCK_MONOTONIC);
                        break;
                case M_EVENTFD:
                        (void)!read(efd, &v, sizeof v);
                        t1 = now_ns(CLOCK_MONOTONIC);
                        break;
                case M_PIPE:
                        (void)!read(pfd[0], &c, 1);
                        t1 = now_ns(CLOCK_MONOTONIC);
                        break;
                }
                lat[i - 1] = t1 - atomic_load(&sh->t0);
                atomic_store(&sh->done, i);
        }
}

static void *sender_thread(void *arg) {
        sender(getpid());
        return arg;
}

static int cmp64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static void report(const char *name, int64_t *v, int n) {
        qsort(v, (size_t)n, sizeof *v, cmp64);
        printf("%s %.1f %.1f %.1f\n", name, (double)v[n / 2] / 1000.0, (double)v[(n * 99) / 100] / 1000.0,
               (double)v[n - 1] / 1000.0);
        fflush(stdout);
}

static void run(const char *name, enum mech m, bool other_process) {
        mech = m;
        memset(sh, 0, sizeof *sh);
        if (other_process) {
                pid_t tgid = getpid();
                pid_t pid = fork();
                if (pid == 0) {
                        sender(tgid);
                        _exit(0);
                }
                receiver();
                waitpid(pid, NULL, 0);
        } else {
                pthread_t t;
                pthread_create(&t, NULL, sender_thread, NULL);
                receiver();
                pthread_join(t, NULL);
        }
        report(name, lat, n_samples);
}

static void timer_row(const char *name, unsigned long slack_ns) {
        (void)prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0);
        int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        for (int i = 0; i < n_samples; i++) {
                int64_t dl = now_ns(CLOCK_MONOTONIC) + 200000 + rand() % 800000;
                struct itimerspec its = { .it_value = { dl / 1000000000, dl % 1000000000 } };
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                uint64_t v;
                (void)!read(tfd, &v, sizeof v);
                lat[i] = now_ns(CLOCK_MONOTONIC) - dl;
        }
        close(tfd);
        report(name, lat, n_samples);
}

int main(int argc, char **argv) {
        n_samples = argc > 1 ? atoi(argv[1]) : 2000;
        if (n_samples < 10)
                n_samples = 10;
        lat = calloc((size_t)n_samples, sizeof *lat);
        sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        srand(1);

        /* SIGUSR1 is delivered to a handler and unblocked only inside
         * sigsuspend(); SIGUSR2 stays blocked for the signalfd. Both are
         * blocked before any thread or child exists, so all inherit it. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        sigprocmask(SIG_BLOCK, &set, NULL);
        struct sigaction sa = { .sa_handler = on_usr1 };
        sigaction(SIGUSR1, &sa, NULL);
        sigset_t s2;
        sigemptyset(&s2);
        sigaddset(&s2, SIGUSR2);
        sfd = signalfd(-1, &s2, SFD_CLOEXEC);
        efd = eventfd(0, EFD_CLOEXEC);
        if (sfd < 0 || efd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
                perror("bare_wakeup");
                return 1;
        }
        (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

        run("signal-handler/thread", M_HANDLER, false);
        run("signal-handler/process", M_HANDLER, true);
        run("signalfd/thread", M_SIGNALFD, false);
        run("signalfd/process", M_SIGNALFD, true);
        run("eventfd/thread", M_EVENTFD, false);
        run("eventfd/process", M_EVENTFD, true);
        run("pipe/thread", M_PIPE, false);
        run("pipe/process", M_PIPE, true);
        timer_row("timerfd-lateness/slack-1us", 1000UL);
        timer_row("timerfd-lateness/slack-50us", 50000UL);
        return 0;
}
