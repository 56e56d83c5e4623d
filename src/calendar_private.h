/* calendar_private.h - the representation of a parsed schedule, shared by
 * calendar.c (systemd.time calendar expressions, the public entry points)
 * and cron.c (five-field cron expressions). Not for other modules. */
#pragma once

#include "calendar.h"

#include <stdint.h>

/* One element of a comma-separated list: start[..stop][/repeat].
 * stop < 0: no upper bound; repeat == 0: a single value. For the seconds
 * field the values are microseconds. */
struct cal_comp {
        int start;
        int stop;
        int repeat;
};

/* n == 0 means "*" (any value). */
struct cal_chain {
        struct cal_comp *v;
        size_t n;
};

enum cal_kind {
        CAL_KIND_CALENDAR,
        CAL_KIND_CRON,
};

struct cron_fields {
        uint64_t minute; /* bit 0..59 */
        uint32_t hour;   /* bit 0..23 */
        uint32_t dom;    /* bit 1..31 */
        uint16_t month;  /* bit 1..12 */
        uint8_t dow;     /* bit 0..6, Sunday = 0 */
        bool minute_star, hour_star, dom_star, dow_star;
        bool reboot;
        char *text;      /* normalised text */
};

struct calendar_spec {
        enum cal_kind kind;

        /* calendar expressions */
        int weekdays;     /* bit 0 = Monday .. bit 6 = Sunday; -1 = any day */
        bool end_of_month;
        bool utc;
        int dst;          /* -1, or 0/1 when the expression named tzname[0]/[1] */
        char *timezone;   /* the zone named in the expression, or NULL */
        struct cal_chain year, month, day, hour, minute, usec;

        /* cron expressions */
        struct cron_fields cron;
};

/* cron.c */
int cron_next(const struct calendar_spec *spec, usec_t after, usec_t *ret);
void cron_fields_done(struct cron_fields *f);

/* calendar.c: run fn in zone tz (NULL: the process's zone), restoring $TZ. */
int calendar_with_zone(const char *tz, int (*fn)(const struct calendar_spec *, usec_t, usec_t *),
                       const struct calendar_spec *spec, usec_t after, usec_t *ret);
