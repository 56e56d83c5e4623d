/* bare_dispatch.c - the floor under evd's dispatch lateness: one thread,
 * a CLOCK_REALTIME timerfd armed with TFD_TIMER_ABSTIME, epoll_wait, then
 * posix_spawn of the probe. Nothing else: no heap, no workers, no log.
 * The timer slack is set as evd's main thread sets it (1 us).
 *
 * usage: bare_dispatch STAMP FILE SECONDS PERIOD_MS BURST
 *   every PERIOD_MS on the realtime grid it spawns BURST probes
 *   ("STAMP FILE k", k = 0..BURST-1) back to back; it stops after SECONDS.
 * The probe records its own start; bench/run computes the lateness. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
        if (argc != 6) {
                fprintf(stderr, "usage: bare_dispatch STAMP FILE SECONDS PERIOD_MS BURST\n");
                return 2;
        }
        const char *stamp = argv[1], *file = argv[2];
        double seconds = atof(argv[3]);
        long long period = atoll(argv[4]) * 1000000LL;
        int burst = atoi(argv[5]);

        (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
        int tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };
        if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
                perror("bare_dispatch");
                return 1;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long t_now = now.tv_sec * 1000000000LL + now.tv_nsec;
        long long end = t_now + (long long)(seconds * 1e9);
        long long next = (t_now / period + 1) * period;

        posix_spawnattr_t attr;
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

        while (next < end) {
                struct itimerspec its = { .it_value = { next / 1000000000LL, next % 1000000000LL } };
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                struct epoll_event out;
                if (epoll_wait(ep, &out, 1, -1) < 0 && errno != EINTR)
                        return 1;
                unsigned long long expirations;
                (void)!read(tfd, &expirations, sizeof expirations);
                for (int k = 0; k < burst; k++) {
                        char tag[16];
                        snprintf(tag, sizeof tag, "%d", k);
                        char *av[] = { (char *)stamp, (char *)file, tag, NULL };
                        pid_t pid;
                        int r = posix_spawn(&pid, stamp, NULL, &attr, av, environ);
                        if (r != 0) {
                                fprintf(stderr, "posix_spawn: %s\n", strerror(r));
                                return 1;
                        }
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                next += period;
        }
        while (wait(NULL) > 0)
                ;
        return 0;
}
