/* loop.h - the epoll main loop.
 *
 * A source is an fd plus a callback, embedded in its owner and registered by
 * pointer in epoll_event.data.ptr, so dispatch allocates nothing. The loop
 * sleeps only in epoll_wait(-1): an idle evd makes no wake-ups at all.
 * Main thread only. */
#pragma once

#include <stdint.h>
#include <sys/epoll.h>

#include "util.h"

struct loop_source;
typedef void (*loop_callback)(struct loop_source *source, uint32_t events);

struct loop_source {
        int fd;
        const char *name;       /* for statistics */
        loop_callback callback;
        uint64_t events;        /* dispatch count */
};

struct loop {
        int epoll_fd;
        bool quit;
        uint64_t iterations;
        usec_t started;         /* CLOCK_MONOTONIC at loop_init */
        /* Called once per iteration after dispatching (may be NULL). */
        void (*after_dispatch)(void *userdata);
        void *userdata;
};

int loop_init(struct loop *l);
void loop_done(struct loop *l);
/* Registers source (whose fd, name and callback are set) for events. */
int loop_add(struct loop *l, struct loop_source *source, uint32_t events);
int loop_modify(struct loop *l, struct loop_source *source, uint32_t events);
/* Unregisters; must be called before the fd is closed. */
int loop_remove(struct loop *l, struct loop_source *source);
/* Runs until loop_quit(); returns 0 or a negative errno from epoll_wait. */
int loop_run(struct loop *l);
static inline void loop_quit(struct loop *l) { l->quit = true; }
