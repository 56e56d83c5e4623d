/* tzwatch.h - changes of the system time zone noticed.
 *
 * With $TZ unset, glibc stats /etc/localtime on every mktime(), about 50 us
 * a call: computing the first deadlines of 100,000 calendar jobs then takes
 * over a second. evd therefore sets TZ=:/etc/localtime at start (tz_setup()
 * in tz.h, when the environment names no zone), which glibc reads once. The
 * price is that a change of the system zone (timedatectl set-timezone
 * replaces the /etc/localtime link) would go unnoticed: an inotify watch on
 * /etc tells the main loop, which reloads the zone (tz_reload_zone()) and
 * lets the scheduler recompute every wall-clock deadline, as after a clock
 * step.
 *
 * Jobs never see this $TZ: their environment is built from scratch.
 * Main thread only. */
#pragma once

#include "loop.h"

struct tzwatch {
        struct loop_source source;
        struct loop *loop;
        void (*changed)(void *userdata);
        void *userdata;
        uint64_t changes;
};

/* Watches /etc for a new localtime; calls changed() after the process's
 * zone was re-read. Returns 0, or -errno (evd runs on without it). */
int tzwatch_init(struct tzwatch *w, struct loop *l, void (*changed)(void *userdata), void *userdata);
/* The same for a "localtime" in another directory (for tests). */
int tzwatch_init_dir(struct tzwatch *w, struct loop *l, const char *dir, void (*changed)(void *userdata),
                     void *userdata);
void tzwatch_done(struct tzwatch *w);
