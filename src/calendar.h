/* calendar.h - calendar (systemd.time(7)) and cron (5-field, Vixie) schedule
 * expressions: parse, normalise, and find the next elapse after a given
 * time in a given time zone, DST included.
 *
 * Pure logic: no descriptors. Not thread-safe where it evaluates time zones
 * (see calendar.c); evd calls it only from the main thread. */
#pragma once

#include "util.h"

struct calendar_spec;

/* Parses a systemd.time calendar expression ("Mon..Fri *-*-* 02:30:00",
 * "daily", "*:0/15", "... Europe/Berlin"). Returns 0, or -EINVAL and (when
 * ret_error is non-NULL) a malloc'd human message in *ret_error. */
int calendar_parse(const char *text, struct calendar_spec **ret, char **ret_error);

/* Parses a cron expression: five fields ("30 2 * * 1-5") or a macro
 * (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually,
 * @reboot). Same return convention as calendar_parse(). */
int calendar_parse_cron(const char *text, struct calendar_spec **ret, char **ret_error);

/* True for "@reboot": no elapses, the job runs once when evd starts. */
bool calendar_is_reboot(const struct calendar_spec *spec);

/* The normalised form: for calendar expressions what systemd-analyze
 * calendar prints as "Normalized form"; for cron the expression with
 * canonical spacing. Returns 0 and a malloc'd string, or -ENOMEM. */
int calendar_normalize(const struct calendar_spec *spec, char **ret);

/* The zone named inside the expression (trailing "Europe/Berlin" or "UTC"),
 * or NULL. */
const char *calendar_timezone(const struct calendar_spec *spec);

/* Next elapse strictly after `after` (CLOCK_REALTIME microseconds since the
 * epoch). tz: IANA zone to evaluate in when the expression names none; NULL
 * means the system zone. Returns 0, -ENOENT when there is no further elapse
 * (e.g. a date in the past, or "*-02-30"), -EINVAL for an unknown zone,
 * -EDEADLK when the search got stuck at a DST change (as systemd gives up:
 * e.g. "*-*-* 02:45 Pacific/Chatham" on its spring-forward day). */
int calendar_next(const struct calendar_spec *spec, const char *tz, usec_t after, usec_t *ret);

struct calendar_spec *calendar_free(struct calendar_spec *spec);
static inline void calendar_freep(struct calendar_spec **p) { calendar_free(*p); }

/* True if tz names a zone in the system tz database ("UTC" always). */
bool calendar_timezone_valid(const char *tz);
