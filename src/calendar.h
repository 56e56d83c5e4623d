/* calendar.h - systemd.time(7) calendar expressions, a leaf of the schedule
 * front end (schedule.h): parse, normalise, next elapse after a given time
 * in a given time zone, DST included. Other modules use schedule.h.
 *
 * Files: calendar.c (parsing), calendar_format.c (the normalised form),
 * calendar_next.c (next elapse); the representation is in
 * calendar_private.h.
 *
 * Threads: parsing, normalising and calendar_timezone() touch no
 * process-wide state (the local zone's abbreviations come from tz.h under
 * its mutex); calendar_next() switches $TZ through tz_run(), serialised. */
#pragma once

#include "util.h"

struct calendar_spec;

/* Parses a systemd.time calendar expression ("Mon..Fri *-*-* 02:30:00",
 * "daily", "*:0/15", "... Europe/Berlin"). Returns 0, or -EINVAL and (when
 * ret_error is non-NULL) a malloc'd human message in *ret_error. */
int calendar_parse(const char *text, struct calendar_spec **ret, char **ret_error);

/* What systemd-analyze calendar prints as "Normalized form". Returns 0 and
 * a malloc'd string, or -ENOMEM. */
int calendar_normalize(const struct calendar_spec *spec, char **ret);

/* The zone named inside the expression ("Europe/Berlin", "UTC"), or NULL. */
const char *calendar_timezone(const struct calendar_spec *spec);

/* Next elapse strictly after `after`; see schedule_next(). */
int calendar_next(const struct calendar_spec *spec, const char *tz, usec_t after, usec_t *ret);

struct calendar_spec *calendar_free(struct calendar_spec *spec);

/* A parsed expression holds no pointers (one block): its size, for a copy
 * by memcpy() into memory its owner manages (aligned to 8). */
size_t calendar_size(const struct calendar_spec *spec);
