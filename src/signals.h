/* signals.h - every signal evd handles arrives through one signalfd.
 *
 * signals_block() must run before the first thread is created, so every
 * thread inherits the blocked mask and only the signalfd sees the signals.
 * No handler is ever installed; children get an empty mask (spawn.c).
 * Main thread only. */
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "loop.h"

struct signals {
        struct loop_source source;
        struct loop *loop;
        void (*handler)(struct signals *s, const struct signalfd_siginfo *si);
        uint64_t received[_NSIG];
};

/* Blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD and SIGPIPE in the
 * calling thread (and so in every thread created afterwards). */
int signals_block(void);
int signals_init(struct signals *s, struct loop *l);
void signals_done(struct signals *s);
