/* tzwatch.h - the system time zone: cheap to use, and changes noticed.
 *
 * With $TZ unset, glibc stats /etc/localtime on every mktime(), about 50 us
 * a call: computing the first deadlines of 100,000 calendar jobs then takes
 * over a second. evd therefore sets TZ=:/etc/localtime at start (when the
 * environment names no zone), which glibc reads once. The price is that a
 * change of the system zone (timedatectl set-timezone replaces the
 * /etc/localtime link) would go unnoticed: an inotify watch on /etc tells
 * the main loop, which reloads the zone and lets the scheduler recompute
 * every wall-clock deadline, as after a clock step.
 *
 * Jobs never see this $TZ: their environment is built from scratch.
 * Main thread only; tzwatch_setup() before any thread starts. */
#pragma once

#include "loop.h"

struct tzwatch {
        struct loop_source source;
        struct loop *loop;
        void (*changed)(void *userdata);
        void *userdata;
        uint64_t changes;
};

/* Sets TZ=:/etc/localtime unless $TZ is set. Returns true if it did. */
bool tzwatch_setup(void);

/* Watches /etc for a new localtime; calls changed() after the process's
 * zone was re-read. Returns 0, or -errno (evd runs on without it). */
int tzwatch_init(struct tzwatch *w, struct loop *l, void (*changed)(void *userdata), void *userdata);
/* The same for a "localtime" in another directory (for tests). */
int tzwatch_init_dir(struct tzwatch *w, struct loop *l, const char *dir, void (*changed)(void *userdata),
                     void *userdata);
void tzwatch_done(struct tzwatch *w);

/* Re-reads the system zone now (what a change notification does). */
void tzwatch_reload_zone(void);
