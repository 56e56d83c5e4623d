/* tz.h - the process-wide time zone: the one place that sets $TZ and calls
 * tzset(), for the calendar and cron leaves of the schedule front end and
 * for the system-zone watch (tzwatch).
 *
 * Why $TZ at all: next elapses must match systemd-analyze, whose quirks are
 * glibc mktime()'s; evaluating in a zone therefore means setting $TZ to it
 * for the duration of the computation (see calendar_next.c).
 *
 * Thread safety: $TZ, tzset() and tzname[] are process-global. Every access
 * evd makes to them goes through this module under one mutex, so a thread
 * parsing a configuration (tz_local_abbrevs) never sees a zone that another
 * thread switched to for a next-elapse computation (tz_run). Next-elapse
 * computation is meant for the main thread; it is correct elsewhere too,
 * only serialised. Other libc local-time calls (localtime_r() in control.c
 * and scheduler.c) do not take the mutex: they are main-thread only, which
 * is also where tz_run() runs.
 *
 * Start-up cost: with $TZ unset glibc stats /etc/localtime on every
 * mktime() (about 50 us); tz_setup() sets TZ=:/etc/localtime once so that
 * 100,000 calendar jobs start in well under a second (bench/README.md), and
 * tz_reload_zone() re-reads the zone when tzwatch sees it change. */
#pragma once

#include "util.h"

/* Longest zone abbreviation kept ("CEST", "+0530"); glibc's are shorter. */
#define TZ_ABBREV_MAX 16

/* Sets TZ=:/etc/localtime unless $TZ is set. Returns true if it did.
 * Call before any thread starts. */
bool tz_setup(void);

/* Re-reads the system zone now (what a change of /etc/localtime needs). */
void tz_reload_zone(void);

/* True if zone names a zone in the system tz database ("UTC" always): a
 * relative name of [A-Za-z0-9_+-] words naming a TZif file under
 * /usr/share/zoneinfo, as systemd's timezone_is_valid(). Touches no
 * process-wide state; any thread. */
bool tz_zone_valid(const char *zone);

/* The process zone's standard [0] and DST [1] abbreviations (tzname[]), ""
 * where there is none. Taken under the mutex and remembered until $TZ
 * changes or tz_reload_zone(); any thread. */
void tz_local_abbrevs(char ret[2][TZ_ABBREV_MAX]);

/* Computes fn(spec, after, ret) (a leaf's next elapse) with the process
 * evaluating local time in zone (NULL: the process's own zone), then
 * restores $TZ as it was. Holds the mutex throughout: fn must not call back
 * into this module. Returns fn's result, -EINVAL for an unknown zone,
 * -ENOMEM. Any thread; meant for the main one. */
int tz_run(const char *zone, int (*fn)(const void *spec, usec_t after, usec_t *ret), const void *spec,
           usec_t after, usec_t *ret);
