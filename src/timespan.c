/* timespan.c - systemd.time(7) time spans, both ways.
 *
 * "1h 30min", "2d", "500ms", "1.5h", "90" (seconds), "infinity". Components
 * add up; white space between them (and between a number and its unit) is
 * optional. Months and years use systemd's lengths (30.44 d, 365.25 d).
 * Pure functions, any thread. */
#include "timespan.h"

#include <ctype.h>
#include <stdio.h>

struct unit {
        const char *suffix;
        usec_t usec;
};

/* Longest suffixes first where one is a prefix of another ("ms" before "m"). */
static const struct unit units[] = {
        { "seconds", USEC_PER_SEC },   { "second", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },       { "s", USEC_PER_SEC },
        { "minutes", USEC_PER_MINUTE },{ "minute", USEC_PER_MINUTE },
        { "min", USEC_PER_MINUTE },    { "months", 2629800ULL * USEC_PER_SEC },
        { "month", 2629800ULL * USEC_PER_SEC },
        { "msec", USEC_PER_MSEC },     { "ms", USEC_PER_MSEC },
        { "m", USEC_PER_MINUTE },      { "hours", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },     { "hr", USEC_PER_HOUR },
        { "h", USEC_PER_HOUR },        { "days", USEC_PER_DAY },
        { "day", USEC_PER_DAY },       { "d", USEC_PER_DAY },
        { "weeks", USEC_PER_WEEK },    { "week", USEC_PER_WEEK },
        { "w", USEC_PER_WEEK },        { "years", 31557600ULL * USEC_PER_SEC },
        { "year", 31557600ULL * USEC_PER_SEC },
        { "y", 31557600ULL * USEC_PER_SEC },
        { "usec", 1 },                 { "us", 1 },
        { "\xc2\xb5s", 1 },            { "M", 2629800ULL * USEC_PER_SEC },
};

static const struct unit *match_unit(const char *p, size_t *ret_len) {
        /* A unit is a run of letters (or µ); it must match a suffix exactly. */
        size_t n = 0;
        while (p[n] && (isalpha((unsigned char)p[n]) || (unsigned char)p[n] >= 0x80))
                n++;
        if (n == 0) {
                *ret_len = 0;
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i].suffix) == n && strncmp(p, units[i].suffix, n) == 0) {
                        *ret_len = n;
                        return &units[i];
                }
        *ret_len = n;
        return NULL;
}

int timespan_parse(const char *s, usec_t *ret) {
        const char *p = s;
        usec_t total = 0;
        bool any = false;

        while (isspace((unsigned char)*p))
                p++;
        if (strcmp(p, "infinity") == 0) {
                *ret = USEC_INFINITY;
                return 0;
        }

        while (*p) {
                uint64_t whole = 0, frac = 0, frac_div = 1;
                bool digits = false;

                if (*p == '-' || *p == '+')
                        return -EINVAL;
                while (isdigit((unsigned char)*p)) {
                        if (whole > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        whole = whole * 10 + (uint64_t)(*p - '0');
                        digits = true;
                        p++;
                }
                if (*p == '.') {
                        p++;
                        if (!isdigit((unsigned char)*p))
                                return -EINVAL;
                        while (isdigit((unsigned char)*p)) {
                                if (frac_div < 1000000000000ULL) { /* ignore digits past 1e-12 */
                                        frac = frac * 10 + (uint64_t)(*p - '0');
                                        frac_div *= 10;
                                }
                                digits = true;
                                p++;
                        }
                }
                if (!digits)
                        return -EINVAL;
                while (*p == ' ' || *p == '\t')
                        p++;

                size_t ulen;
                const struct unit *u = match_unit(p, &ulen);
                usec_t mult;
                if (ulen == 0)
                        mult = USEC_PER_SEC; /* a bare number: seconds */
                else if (!u)
                        return -EINVAL;
                else
                        mult = u->usec;
                p += ulen;

                if (whole > 0 && mult > UINT64_MAX / whole)
                        return -ERANGE;
                usec_t part = whole * mult;
                /* frac < frac_div <= 1e12 and mult <= ~3.2e13: split to avoid overflow */
                usec_t fpart = (usec_t)((long double)frac * (long double)mult / (long double)frac_div);
                if (part > UINT64_MAX - fpart || total > UINT64_MAX - 1 - (part + fpart))
                        return -ERANGE;
                total += part + fpart;
                any = true;

                while (*p == ' ' || *p == '\t')
                        p++;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

char *timespan_format(char *buf, size_t size, usec_t u) {
        static const struct unit out[] = {
                { "w", USEC_PER_WEEK }, { "d", USEC_PER_DAY },  { "h", USEC_PER_HOUR },
                { "min", USEC_PER_MINUTE }, { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        size_t n = 0;

        if (size == 0)
                return buf;
        if (u == USEC_INFINITY) {
                snprintf(buf, size, "infinity");
                return buf;
        }
        if (u == 0) {
                snprintf(buf, size, "0");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(out) && u > 0; i++) {
                if (u < out[i].usec)
                        continue;
                usec_t k = u / out[i].usec;
                u -= k * out[i].usec;
                int w = snprintf(buf + n, size - n, "%s%llu%s", n ? " " : "", (unsigned long long)k,
                                 out[i].suffix);
                if (w < 0 || (size_t)w >= size - n)
                        break;
                n += (size_t)w;
        }
        return buf;
}
