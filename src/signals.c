/* signals.c - the signalfd (see signals.h).
 *
 * SIGPIPE is blocked rather than ignored: an ignored disposition would be
 * inherited across execve by every job, a blocked one is not (children get
 * an empty mask), and writes to a closed pipe still fail with EPIPE. */
#include "signals.h"

#include <stddef.h>
#include <sys/signalfd.h>

#include "log.h"

static void fill_set(sigset_t *set) {
        sigemptyset(set);
        sigaddset(set, SIGTERM);
        sigaddset(set, SIGINT);
        sigaddset(set, SIGHUP);
        sigaddset(set, SIGUSR1);
        sigaddset(set, SIGCHLD);
        sigaddset(set, SIGPIPE);
}

int signals_block(void) {
        sigset_t set;
        fill_set(&set);
        int r = pthread_sigmask(SIG_BLOCK, &set, NULL);
        return r == 0 ? 0 : -r;
}

static void signals_dispatch(struct loop_source *src, uint32_t events) {
        struct signals *s = (struct signals *)((char *)src - offsetof(struct signals, source));
        struct signalfd_siginfo si[16];

        for (;;) {
                ssize_t n = read(src->fd, si, sizeof si);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_error_errno(errno, "Failed to read signalfd");
                        return;
                }
                for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
                        if (si[i].ssi_signo < _NSIG)
                                s->received[si[i].ssi_signo]++;
                        s->handler(s, &si[i]);
                }
        }
}

int signals_init(struct signals *s, struct loop *l) {
        sigset_t set;
        fill_set(&set);
        s->loop = l;
        s->source.name = "signal";
        s->source.callback = signals_dispatch;
        s->source.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (s->source.fd < 0)
                return -errno;
        int r = loop_add(l, &s->source, EPOLLIN);
        if (r < 0)
                s->source.fd = safe_close(s->source.fd);
        return r;
}

void signals_done(struct signals *s) {
        if (s->source.fd >= 0) {
                loop_remove(s->loop, &s->source);
                s->source.fd = safe_close(s->source.fd);
        }
}
