/* loop.c - epoll main loop (see loop.h).
 *
 * Invariant: every registered source stays valid until loop_remove(). A
 * callback may remove any source, including one whose event is still in the
 * current batch; to keep that safe, removal marks the batch entry dead. */
#include "loop.h"

#include <stdio.h>

#define BATCH 64

static struct epoll_event *current_batch;
static int current_n;

int loop_init(struct loop *l) {
        *l = (struct loop){ .epoll_fd = epoll_create1(EPOLL_CLOEXEC) };
        if (l->epoll_fd < 0)
                return -errno;
        l->started = now_usec(CLOCK_MONOTONIC);
        return 0;
}

void loop_done(struct loop *l) {
        l->epoll_fd = safe_close(l->epoll_fd);
}

int loop_add(struct loop *l, struct loop_source *source, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = source };
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, source->fd, &ev) < 0)
                return -errno;
        return 0;
}

int loop_modify(struct loop *l, struct loop_source *source, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = source };
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, source->fd, &ev) < 0)
                return -errno;
        return 0;
}

int loop_remove(struct loop *l, struct loop_source *source) {
        for (int i = 0; i < current_n; i++)
                if (current_batch[i].data.ptr == source)
                        current_batch[i].data.ptr = NULL;
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, source->fd, NULL) < 0)
                return -errno;
        return 0;
}

int loop_run(struct loop *l) {
        struct epoll_event events[BATCH];

        l->quit = false;
        while (!l->quit) {
                int n = epoll_wait(l->epoll_fd, events, BATCH, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                l->iterations++;
                current_batch = events;
                current_n = n;
                for (int i = 0; i < n; i++) {
                        struct loop_source *s = events[i].data.ptr;
                        if (!s)
                                continue;
                        s->events++;
                        s->callback(s, events[i].events);
                }
                current_batch = NULL;
                current_n = 0;
                if (l->after_dispatch)
                        l->after_dispatch(l->userdata);
        }
        return 0;
}
