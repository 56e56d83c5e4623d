/* schedule.h - schedules that have elapses, behind one front end: systemd
 * calendar expressions (calendar.h) and cron expressions (cron.h), two
 * independent leaves. parse / next / normalise / free; the time zone
 * switching both need is tz.h's.
 *
 * Threads: schedule_parse(), schedule_normalize(), schedule_timezone(),
 * schedule_is_reboot() and schedule_timezone_valid() touch no process-wide
 * state and may run on any thread (a configuration parsed on a helper
 * thread). schedule_next() evaluates local time by switching $TZ, under
 * tz.c's mutex: meant for the main thread, safe (serialised) on any. A
 * struct schedule is immutable after parsing: several threads may use one. */
#pragma once

#include "util.h"

enum schedule_syntax {
        SCHEDULE_SYNTAX_CALENDAR, /* "Mon..Fri *-*-* 02:30:00", "daily", "... Europe/Berlin" */
        SCHEDULE_SYNTAX_CRON,     /* "30 2 * * 1-5", "@daily", "@reboot" */
};

struct schedule;

/* Parses text in the given syntax. Returns 0, -ENOMEM, or -EINVAL and
 * (when ret_error is non-NULL) a malloc'd human message naming the
 * expression in *ret_error. */
int schedule_parse(enum schedule_syntax syntax, const char *text, struct schedule **ret, char **ret_error);

/* Next elapse strictly after `after` (CLOCK_REALTIME microseconds since the
 * epoch). tz: IANA zone to evaluate in when the expression names none; NULL
 * means the process's zone. Returns 0, -ENOENT when there is no further
 * elapse (a date in the past, "*-02-30", @reboot), -EINVAL for an unknown
 * zone, -EDEADLK when the search got stuck at a DST change (as systemd gives
 * up: "*-*-* 02:45 Pacific/Chatham" on its spring-forward day). */
int schedule_next(const struct schedule *sched, const char *tz, usec_t after, usec_t *ret);

/* The normalised form: for calendar expressions what systemd-analyze
 * calendar prints as "Normalized form"; for cron the expression with
 * canonical spacing. Returns 0 and a malloc'd string, or -ENOMEM. */
int schedule_normalize(const struct schedule *sched, char **ret);

/* The zone named inside the expression (trailing "Europe/Berlin" or "UTC"),
 * or NULL (always for cron). Valid as long as sched. */
const char *schedule_timezone(const struct schedule *sched);

/* True for "@reboot": no elapses, the job runs once when evd starts. */
bool schedule_is_reboot(const struct schedule *sched);

struct schedule *schedule_free(struct schedule *sched);

/* The bytes a copy of sched in its owner's memory takes (a configuration's
 * arena: no allocation of its own), or 0 when it cannot be copied so (cron
 * expressions hold pointers). */
size_t schedule_flat_size(const struct schedule *sched);

/* Copies sched into mem (schedule_flat_size() bytes, aligned to 8) and
 * returns the copy: a schedule like any other, which goes with mem;
 * schedule_free() must not be called on it. */
struct schedule *schedule_flat_copy(const struct schedule *sched, void *mem);
static inline void schedule_freep(struct schedule **p) { schedule_free(*p); }

/* True if tz names a zone in the system tz database ("UTC" always). */
bool schedule_timezone_valid(const char *tz);
