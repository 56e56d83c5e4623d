/* calendar_private.h - the representation of a parsed calendar expression,
 * shared by calendar.c (parsing), calendar_format.c (normalised form) and
 * calendar_next.c (next elapse). Not for other modules.
 *
 * A parsed expression is ONE allocation (a large configuration holds one per
 * distinct expression: 100,000 in bench figure 4): a 12-byte header, the
 * components of the six fields one after the other, then the zone text
 * when the expression named one. Immutable after calendar_parse(). */
#pragma once

#include <stdint.h>

#include "calendar.h"

#define CAL_MIN_YEAR 1970
#define CAL_MAX_YEAR 2199
#define WEEKDAYS_ALL 127

/* One element of a comma-separated list: start[..stop][/repeat].
 * stop < 0: no upper bound; repeat == 0: a single value. For the seconds
 * field the values are microseconds (at most 60,000,000: int is enough). */
struct cal_comp {
        int32_t start;
        int32_t stop;
        int32_t repeat;
};

enum cal_field { CAL_YEAR, CAL_MONTH, CAL_DAY, CAL_HOUR, CAL_MINUTE, CAL_USEC, CAL_FIELDS };

/* A view of one field's components (into its spec). n == 0 means "*". */
struct cal_chain {
        const struct cal_comp *v;
        size_t n;
};

struct calendar_spec {
        int8_t weekdays;        /* bit 0 = Monday .. bit 6 = Sunday; -1 = any day */
        bool end_of_month;
        bool utc;
        int8_t dst;             /* -1, or 0/1 when the expression named tzname[0]/[1] */
        bool has_timezone;      /* the zone text after v[] is a zone the expression named */
        uint8_t n[CAL_FIELDS];  /* components per field, in v[] in field order */
        struct cal_comp v[];    /* then, NUL-terminated, the zone text when has_timezone
                                 * or dst >= 0 (the abbreviation as the zone spells it) */
};

static inline struct cal_chain cal_chain(const struct calendar_spec *c, enum cal_field f) {
        size_t at = 0;
        for (unsigned i = 0; i < (unsigned)f; i++)
                at += c->n[i];
        return (struct cal_chain){ .v = c->v + at, .n = c->n[f] };
}

static inline const char *cal_zone_text(const struct calendar_spec *c) {
        struct cal_chain last = cal_chain(c, CAL_USEC);
        return (const char *)(last.v + last.n);
}

/* The zone named in the expression (not "UTC": that is utc), or NULL. */
static inline const char *cal_timezone(const struct calendar_spec *c) {
        return c->has_timezone ? cal_zone_text(c) : NULL;
}

/* The local zone's abbreviation the expression ended with, or NULL. */
static inline const char *cal_dst_name(const struct calendar_spec *c) {
        return c->dst >= 0 ? cal_zone_text(c) : NULL;
}
