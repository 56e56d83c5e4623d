/* bare_idle.c - the floor under evd's idle cost: the same threads evd has
 * when idle (one loop thread in epoll_wait(-1) on a timerfd armed for the
 * earliest of far deadlines, WORKERS threads waiting on a condition
 * variable), doing nothing else. Its voluntary context switches over the
 * measured window are the floor: expected 0. Runs until killed.
 *
 * usage: bare_idle WORKERS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void *worker(void *arg) {
        pthread_mutex_lock(&lock);
        for (;;)
                pthread_cond_wait(&cond, &lock);
        return arg;
}

int main(int argc, char **argv) {
        int workers = argc > 1 ? atoi(argv[1]) : 2;
        for (int i = 0; i < workers; i++) {
                pthread_t t;
                pthread_create(&t, NULL, worker, NULL);
        }
        int tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
        struct itimerspec its = { .it_value = { time(NULL) + 86400, 0 } };
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        printf("ready\n");
        fflush(stdout);
        for (;;)
                epoll_wait(ep, &ev, 1, -1);
}
