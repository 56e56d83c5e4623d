/* cron.c - five-field cron expressions with Vixie cron semantics: parse,
 * normalise, next elapse. A leaf of schedule.h; it knows nothing of
 * calendar expressions.
 *
 * Syntax: "MIN HOUR DOM MON DOW", each field a comma list of "*", "N",
 * "N-M", "*\/S" or "N-M/S" (a step after a single number is an error, as in
 * Vixie cron); month and weekday names (jan..dec, sun..sat, any case) also
 * in ranges; weekday 0 and 7 are Sunday. When both day fields are
 * restricted (neither starts with "*") a day matches if either does,
 * otherwise both must. Macros: @yearly @annually @monthly @weekly @daily
 * @midnight @hourly, and @reboot (never elapses; see cron_is_reboot).
 *
 * DST policy (Vixie cron's, as cron(8) documents it): a job whose minute
 * and hour fields are both fixed (neither starts with "*")
 *   - runs once at the moment of a spring-forward change when its time
 *     falls into the skipped interval (several skipped times: still once),
 *   - runs once, at the first occurrence, when its time is repeated by a
 *     fall-back change;
 * a job with "*" in the minute or hour field runs at every real instant
 * whose wall-clock time matches: not at all in a skipped interval, twice in
 * a repeated one (so "*\/15 * * * *" keeps its 15-minute rhythm).
 *
 * The search walks local days (civil arithmetic, no mktime normalisation),
 * then the matching hours and minutes of a day, mapping each wall-clock
 * minute to its instants with localtime_r() in the zone tz_run() set up.
 * It gives up past the year 2199, like calendar expressions.
 *
 * Threads: any; cron_next() is serialised by tz_run(). */
#include "cron.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>

#include "tz.h"

#define CRON_MAX_YEAR 2199

struct cron_spec {
        uint64_t minute; /* bit 0..59 */
        uint32_t hour;   /* bit 0..23 */
        uint32_t dom;    /* bit 1..31 */
        uint16_t month;  /* bit 1..12 */
        uint8_t dow;     /* bit 0..6, Sunday = 0 */
        bool minute_star, hour_star, dom_star, dow_star;
        bool reboot;
        char *text;      /* normalised text */
};

struct field_def {
        const char *what;
        int min, max;
        const char *const *names; /* names[i] is the value min + i... see below */
        int names_base;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field_def fields[5] = {
        { "minute", 0, 59, NULL, 0 },
        { "hour", 0, 23, NULL, 0 },
        { "day of month", 1, 31, NULL, 0 },
        { "month", 1, 12, month_names, 1 },
        { "day of week", 0, 7, dow_names, 0 },
};

static int parse_value(const struct field_def *fd, const char **p, int *ret) {
        const char *s = *p;

        if (isdigit((unsigned char)*s)) {
                long v = 0;
                while (isdigit((unsigned char)*s)) {
                        v = v * 10 + (*s++ - '0');
                        if (v > 1000)
                                return -ERANGE;
                }
                *p = s;
                *ret = (int)v;
                return 0;
        }
        if (fd->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
            isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
                for (int i = 0; fd->names[i]; i++)
                        if (strncasecmp(s, fd->names[i], 3) == 0) {
                                *p = s + 3;
                                *ret = fd->names_base + i;
                                return 0;
                        }
        }
        return -EINVAL;
}

/* One field into a bit set; *star when it starts with '*'. */
static int parse_field(const struct field_def *fd, const char *text, uint64_t *ret_bits, bool *ret_star,
                       const char **ret_why) {
        const char *p = text;
        uint64_t bits = 0;

        for (;;) {
                int lo, hi, step = 1;
                bool range;

                if (*p == '*') {
                        lo = fd->min;
                        hi = fd->max;
                        range = true;
                        p++;
                } else {
                        if (parse_value(fd, &p, &lo) < 0) {
                                *ret_why = "expected a number or name";
                                return -EINVAL;
                        }
                        hi = lo;
                        range = false;
                        if (*p == '-') {
                                p++;
                                if (parse_value(fd, &p, &hi) < 0) {
                                        *ret_why = "expected a number or name after '-'";
                                        return -EINVAL;
                                }
                                range = true;
                        }
                }
                if (*p == '/') {
                        if (!range) {
                                *ret_why = "a step needs a range or '*'";
                                return -EINVAL;
                        }
                        p++;
                        if (!isdigit((unsigned char)*p) || parse_value(&fields[0], &p, &step) < 0 || step == 0) {
                                *ret_why = "bad step";
                                return -EINVAL;
                        }
                }
                if (*p != ',' && *p != 0) {
                        *ret_why = "unexpected character";
                        return -EINVAL;
                }
                if (lo < fd->min || hi > fd->max || lo > fd->max || hi < fd->min) {
                        *ret_why = "value out of range";
                        return -ERANGE;
                }
                if (lo > hi) {
                        *ret_why = "range runs backwards";
                        return -EINVAL;
                }
                for (int v = lo; v <= hi; v += step)
                        bits |= UINT64_C(1) << v;
                if (*p == 0)
                        break;
                p++;
        }
        *ret_bits = bits;
        *ret_star = text[0] == '*';
        return 0;
}

struct cron_spec *cron_free(struct cron_spec *spec) {
        if (!spec)
                return NULL;
        free(spec->text);
        free(spec);
        return NULL;
}

bool cron_is_reboot(const struct cron_spec *spec) {
        return spec && spec->reboot;
}

int cron_normalize(const struct cron_spec *spec, char **ret) {
        char *s = strdup(spec->text);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int cron_fail(const char *text, const char *why, char **ret_error) {
        if (ret_error)
                *ret_error = strdup_printf("invalid cron expression \"%s\": %s", text, why);
        return -EINVAL;
}

/* A leading macro: *ret_fields is what it stands for (NULL: @reboot) and
 * *ret_macro its canonical name; both NULL when text is no macro. */
static int parse_macro(const char *text, const char *source, const char **ret_fields, const char **ret_macro,
                       char **ret_error) {
        static const struct {
                const char *name;
                const char *fields;
        } macros[] = {
                { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
                { "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
                { "@hourly", "0 * * * *" },  { "@reboot", NULL },
        };
        size_t len = strcspn(source, " \t"), i;

        *ret_fields = source;
        *ret_macro = NULL;
        if (*source != '@')
                return 0;
        for (i = 0; i < ELEMENTSOF(macros); i++)
                if (strlen(macros[i].name) == len && strncasecmp(source, macros[i].name, len) == 0)
                        break;
        if (i >= ELEMENTSOF(macros) || source[len + strspn(source + len, " \t")] != 0)
                return cron_fail(text, "unknown macro", ret_error);
        *ret_macro = macros[i].name;
        *ret_fields = macros[i].fields;
        return 0;
}

/* The five words of source into c's bit sets. */
static int parse_fields(struct cron_spec *c, const char *text, char *words[5], char **ret_error) {
        uint64_t bits[5];
        bool star[5];

        for (size_t i = 0; i < 5; i++) {
                const char *why = NULL;
                if (parse_field(&fields[i], words[i], &bits[i], &star[i], &why) < 0) {
                        if (ret_error)
                                *ret_error = strdup_printf("invalid cron expression \"%s\": %s field \"%s\": %s",
                                                           text, fields[i].what, words[i], why);
                        return -EINVAL;
                }
        }
        c->minute = bits[0];
        c->hour = (uint32_t)bits[1];
        c->dom = (uint32_t)bits[2];
        c->month = (uint16_t)bits[3];
        if (bits[4] & (1u << 7))
                bits[4] |= 1; /* 7 is Sunday too */
        c->dow = (uint8_t)(bits[4] & 0x7f);
        c->minute_star = star[0];
        c->hour_star = star[1];
        c->dom_star = star[2];
        c->dow_star = star[4];
        return 0;
}

/* Splits copy at blanks into exactly five words. */
static int split_words(const char *text, char *copy, char *words[5], char **ret_error) {
        char *save = NULL, *w;
        size_t n = 0;

        for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (n >= 5)
                        return cron_fail(text, "more than five fields", ret_error);
                words[n++] = w;
        }
        if (n < 5)
                return cron_fail(text, n == 0 ? "empty expression" : "fewer than five fields", ret_error);
        return 0;
}

int cron_parse(const char *text, struct cron_spec **ret, char **ret_error) {
        char *copy = NULL, *words[5] = {};
        const char *macro, *source;
        struct cron_spec *c;
        int r;

        if (!text)
                return -EINVAL;
        r = parse_macro(text, text + strspn(text, " \t"), &source, &macro, ret_error);
        if (r < 0)
                return r;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (!source) {
                c->reboot = true;
                goto done;
        }
        copy = strdup(source);
        if (!copy) {
                r = -ENOMEM;
                goto fail;
        }
        r = split_words(text, copy, words, ret_error);
        if (r >= 0)
                r = parse_fields(c, text, words, ret_error);
        if (r < 0)
                goto fail;
done:
        if (macro)
                c->text = strdup(macro);
        else
                c->text = strdup_printf("%s %s %s %s %s", words[0], words[1], words[2], words[3], words[4]);
        if (!c->text) {
                r = -ENOMEM;
                goto fail;
        }
        free(copy);
        *ret = c;
        return 0;
fail:
        free(copy);
        cron_free(c);
        return r;
}

/* ---------- next elapse ---------- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static int64_t days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int d = (int)(doy - (153 * mp + 2) / 5 + 1);
        int m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *ret_y = yoe + era * 400 + (m <= 2);
        *ret_m = m;
        *ret_d = d;
}

static long utc_offset(time_t t) {
        struct tm tm;
        if (!localtime_r(&t, &tm))
                return 0;
        return tm.tm_gmtoff;
}

static bool day_matches(const struct cron_spec *f, int64_t days, int m, int d) {
        if (!(f->month & (1u << m)))
                return false;
        int wday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        bool dom = f->dom & (1u << d), dow = f->dow & (1u << wday);
        if (f->dom_star || f->dow_star)
                return dom && dow;
        return dom || dow;
}

/* The instants whose wall-clock time is g (seconds of a local date-time
 * counted as if it were UTC): 0, 1 or 2 of them, ascending. For none (a
 * spring-forward gap) *ret_gap_end is the instant the clock jumped. */
static size_t local_instants(int64_t g, time_t out[2], time_t *ret_gap_end) {
        long offs[3] = { utc_offset((time_t)(g - 86400)), utc_offset((time_t)g), utc_offset((time_t)(g + 86400)) };
        long lo = offs[0], hi = offs[0];
        size_t n = 0;

        for (size_t i = 0; i < 3; i++) {
                time_t t = (time_t)(g - offs[i]);
                bool dup = false;
                lo = MIN(lo, offs[i]);
                hi = MAX(hi, offs[i]);
                for (size_t j = 0; j < n; j++)
                        dup = dup || out[j] == t;
                if (dup || n >= 2 || utc_offset(t) != offs[i])
                        continue;
                out[n++] = t;
        }
        if (n == 2 && out[0] > out[1]) {
                time_t t = out[0];
                out[0] = out[1];
                out[1] = t;
        }
        if (n == 0) {
                /* first instant whose wall clock is past g */
                int64_t a = g - hi, b = g - lo;
                while (b - a > 1) {
                        int64_t mid = a + (b - a) / 2;
                        if (mid + utc_offset((time_t)mid) > g)
                                b = mid;
                        else
                                a = mid;
                }
                *ret_gap_end = (time_t)b;
        }
        return n;
}

/* In the zone tz_run() set up; userdata is a struct cron_spec. */
static int next_here(const void *userdata, usec_t after, usec_t *ret) {
        const struct cron_spec *f = userdata;
        bool fixed = !f->minute_star && !f->hour_star;
        int64_t a = (int64_t)(after / USEC_PER_SEC);
        bool found = false;
        int64_t best = 0, best_off = 0;
        struct tm tm;
        time_t t0;

        if (after >= (usec_t)INT64_MAX / 2)
                return -ENOENT;
        t0 = (time_t)a;
        if (!localtime_r(&t0, &tm))
                return -EINVAL;
        int64_t day = days_from_civil(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday) - 1;

        for (;; day++) {
                int64_t y;
                int m, d;

                civil_from_days(day, &y, &m, &d);
                if (y > CRON_MAX_YEAR)
                        break;
                if (!day_matches(f, day, m, d))
                        continue;
                for (int h = 0; h < 24; h++) {
                        if (!(f->hour & (1u << h)))
                                continue;
                        for (int mi = 0; mi < 60; mi++) {
                                if (!(f->minute & (UINT64_C(1) << mi)))
                                        continue;
                                int64_t g = day * 86400 + h * 3600 + mi * 60;
                                if (found && g - best_off >= best)
                                        goto done;
                                if (g + 13 * 3600 < a) /* every instant of g lies before `after` */
                                        continue;

                                time_t inst[2], gap_end = 0;
                                size_t n = local_instants(g, inst, &gap_end);
                                if (n == 0 && fixed) {
                                        inst[0] = gap_end;
                                        n = 1;
                                } else if (n == 2 && fixed)
                                        n = 1;
                                for (size_t i = 0; i < n; i++) {
                                        int64_t t = (int64_t)inst[i];
                                        if (t < 0 || (usec_t)t * USEC_PER_SEC <= after || (found && t >= best))
                                                continue;
                                        best = t;
                                        found = true;
                                        best_off = MAX(utc_offset((time_t)(t - 86400)), utc_offset((time_t)t));
                                        best_off = MAX(best_off, utc_offset((time_t)(t + 86400)));
                                }
                        }
                }
        }
done:
        if (!found)
                return -ENOENT;
        *ret = (usec_t)best * USEC_PER_SEC;
        return 0;
}

int cron_next(const struct cron_spec *spec, const char *tz, usec_t after, usec_t *ret) {
        if (!spec || !ret)
                return -EINVAL;
        if (spec->reboot)
                return -ENOENT;
        return tz_run(tz, next_here, spec, after, ret);
}
