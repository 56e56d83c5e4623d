/* calendar_private.h - the representation of a parsed calendar expression,
 * shared by calendar.c (parsing), calendar_format.c (normalised form) and
 * calendar_next.c (next elapse). Not for other modules. */
#pragma once

#include "calendar.h"

#define CAL_MIN_YEAR 1970
#define CAL_MAX_YEAR 2199
#define WEEKDAYS_ALL 127

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

struct calendar_spec {
        int weekdays;     /* bit 0 = Monday .. bit 6 = Sunday; -1 = any day */
        bool end_of_month;
        bool utc;
        int dst;          /* -1, or 0/1 when the expression named tzname[0]/[1] */
        char *dst_name;   /* that abbreviation as the zone spells it, or NULL */
        char *timezone;   /* the zone named in the expression, or NULL */
        struct cal_chain year, month, day, hour, minute, usec;
};
