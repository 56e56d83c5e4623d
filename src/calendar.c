/* calendar.c - systemd.time(7) calendar expressions: parse, normalise, next
 * elapse; and the public calendar_* entry points (cron lives in cron.c).
 *
 * Compatibility target: `systemd-analyze calendar` of systemd 252. The
 * parser accepts what it accepts (shorthands, weekday lists and ranges,
 * dates, times, "a..b", "/repeat", lists, fractional seconds, "~" counted
 * from the end of the month, "@EPOCH", a trailing "UTC", zone name, or the
 * local zone's own abbreviation) and normalises to the same text.
 *
 * DST policy of calendar expressions: systemd 252's, found with
 * systemd-analyze and reproduced by walking a broken-down time through
 * glibc's mktime() (tm_isdst = -1) the way systemd does, with its
 * normalise-and-resume rule, its one-hour jump when mktime() bounces back
 * to the start, and its 1000-pass limit. The differential test
 * (tests/calendar/diff_calendar.py) holds it to systemd-analyze in
 * Europe/Berlin, America/New_York, Australia/Lord_Howe, Pacific/Chatham and
 * more. What it amounts to:
 *   - spring forward: wall-clock times in the gap do not exist and do not
 *     elapse ("*-*-* 02:30" in Europe/Berlin has no elapse on 2026-03-29, its
 *     next is 2026-03-30 02:30); repetitions resume right after the gap
 *     ("hourly" gives 01:00 CET, 03:00 CEST, 04:00 CEST; in Lord Howe's
 *     30-minute gap "*:0/15" gives 01:45 then 02:30);
 *   - fall back: the repeated hour is run through once, in its first pass
 *     ("*-*-* 02:30" elapses at 02:30 CEST, not again at 02:30 CET;
 *     "*:0/20" gives 02:40 CEST then 03:00 CET: nothing in the second pass);
 *   - where mktime() keeps bouncing between the two sides of a change,
 *     systemd gives up, and so does this: -EDEADLK ("*-*-* 02:45" in
 *     Pacific/Chatham on its spring-forward day).
 * Where systemd would return an elapse not after `after` (mktime() resolving
 * a repeated time to its earlier instant), calendar_next() searches again
 * from one hour later: a caller never gets a deadline it has already passed.
 * Cron expressions follow Vixie cron's rule instead: see cron.c (a time
 * skipped by spring-forward runs once right after the change, a repeated
 * time runs once; "*" jobs follow real time).
 *
 * Clock steps are not this module's business: it is a pure function of
 * `after`. The timer module re-computes wall-clock deadlines when the clock
 * is set (TFD_TIMER_CANCEL_ON_SET); what a step does to runs that became
 * due or were skipped is the scheduler's policy.
 *
 * Time zones: evaluation uses glibc's localtime_r()/mktime() with $TZ set to
 * the zone (":Europe/Berlin") for the duration of one calendar_next() call,
 * and restored afterwards. That is the only way to match systemd's results
 * exactly, since its quirks are glibc mktime()'s quirks (a TZif reader of
 * our own would have to re-implement mktime()'s guessing to match). Cost:
 * about 2 µs per call in the process's own zone when $TZ is set, 10-30 µs
 * with a foreign zone (tzset() re-reads the zone file on each switch); with
 * $TZ unset glibc stats /etc/localtime on every mktime(), about 50 µs. The
 * catch: setenv()/tzset() are process-global, so while a calendar_next()
 * with a zone runs, no other thread may call time-zone dependent libc
 * functions (localtime, mktime, strftime %Z) or getenv("TZ"). evd calls this
 * module only from the main thread, and workers do not use local time.
 *
 * Search bound: years past 2199 (systemd's MAX_YEAR) give -ENOENT, so an
 * expression that never matches ("*-02-30", "2020-01-01") returns at once
 * or after at most a few thousand steps, never hangs. */
#include "calendar.h"
#include "calendar_private.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#define CAL_MIN_YEAR 1970
#define CAL_MAX_YEAR 2199
#define CAL_COMPONENTS_MAX 240
#define WEEKDAYS_ALL 127
/* systemd's USEC_TIMESTAMP_FORMATTABLE_MAX: 9999-12-30 23:59:59 UTC */
#define CAL_USEC_MAX ((usec_t)253402214399999999ULL)

/* ---------- parsing ---------- */

struct parser {
        const char *error; /* static reason for the first error */
};

static int fail(struct parser *ps, int r, const char *why) {
        if (!ps->error)
                ps->error = why;
        return r;
}

static void chain_done(struct cal_chain *c) {
        free(c->v);
        c->v = NULL;
        c->n = 0;
}

static int chain_add(struct cal_chain *c, int start, int stop, int repeat) {
        struct cal_comp *v = realloc(c->v, (c->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        v[c->n++] = (struct cal_comp){ .start = start, .stop = stop, .repeat = repeat };
        c->v = v;
        return 0;
}

static bool ends_with_nocase(const char *s, const char *suffix, const char **ret_at) {
        size_t ls = strlen(s), lx = strlen(suffix);
        if (lx > ls || strcasecmp(s + ls - lx, suffix) != 0)
                return false;
        *ret_at = s + ls - lx;
        return true;
}

/* Digits only, no sign or blanks; overflow of unsigned long is an error. */
static int parse_number(const char *p, const char **ret_end, unsigned long *ret) {
        unsigned long v = 0;
        const char *e = p;

        if (!isdigit((unsigned char)*e))
                return -EINVAL;
        for (; isdigit((unsigned char)*e); e++) {
                unsigned d = (unsigned)(*e - '0');
                if (v > (ULONG_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret_end = e;
        *ret = v;
        return 0;
}

/* Six decimals of a fraction, the seventh rounds, the rest are ignored. */
static int parse_fraction(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;
        size_t i;

        for (i = 0; i < 6; i++, s++) {
                if (!isdigit((unsigned char)*s)) {
                        if (i == 0)
                                return -EINVAL;
                        for (; i < 6; i++)
                                v *= 10;
                        break;
                }
                v = v * 10 + (unsigned)(*s - '0');
        }
        if (*s >= '5' && *s <= '9')
                v++;
        while (isdigit((unsigned char)*s))
                s++;
        *p = s;
        *ret = v;
        return 0;
}

static int parse_value(struct parser *ps, const char **p, bool usec, int *ret) {
        unsigned long v;
        const char *e;
        int r;

        r = parse_number(*p, &e, &v);
        if (r < 0)
                return fail(ps, r, r == -ERANGE ? "number too large" : "expected a number");
        if (usec) {
                if (v > ULONG_MAX / USEC_PER_SEC)
                        return fail(ps, -ERANGE, "number too large");
                v *= USEC_PER_SEC;
                /* one "." is a decimal point, ".." a range */
                if (e[0] == '.' && e[1] != '.') {
                        unsigned add;
                        e++;
                        r = parse_fraction(&e, &add);
                        if (r < 0)
                                return fail(ps, r, "bad fraction of a second");
                        v += add;
                }
        }
        if (v > INT_MAX)
                return fail(ps, -ERANGE, "number too large");
        *p = e;
        *ret = (int)v;
        return 0;
}

/* A list "a[..b][/r],..." (not "*"). */
static int parse_list(struct parser *ps, const char **p, bool usec, struct cal_chain *c) {
        const char *e = *p;
        int r;

        for (size_t n = 0;; n++) {
                int start, stop = -1, repeat = 0;

                if (n > CAL_COMPONENTS_MAX)
                        return fail(ps, -ENOBUFS, "too many list elements");
                r = parse_value(ps, &e, usec, &start);
                if (r < 0)
                        return r;
                if (e[0] == '.' && e[1] == '.') {
                        e += 2;
                        r = parse_value(ps, &e, usec, &stop);
                        if (r < 0)
                                return r;
                        repeat = usec ? (int)USEC_PER_SEC : 1;
                }
                if (*e == '/') {
                        e++;
                        r = parse_value(ps, &e, usec, &repeat);
                        if (r < 0)
                                return r;
                        if (repeat == 0)
                                return fail(ps, -ERANGE, "repetition of zero");
                } else {
                        if (start > INT_MAX - repeat)
                                return fail(ps, -ERANGE, "number too large");
                        /* a seconds range shorter than the implied 1s step */
                        if (usec && stop >= 0 && start + repeat > stop)
                                return fail(ps, -EINVAL, "seconds range shorter than one second");
                }
                if (!strchr(" ,-~:", *e)) /* also matches the terminating NUL */
                        return fail(ps, -EINVAL, "unexpected character");
                r = chain_add(c, start, stop, repeat);
                if (r < 0)
                        return r;
                if (*e != ',')
                        break;
                e++;
        }
        *p = e;
        return 0;
}

static int parse_chain(struct parser *ps, const char **p, bool usec, struct cal_chain *c) {
        if (**p == '*') {
                (*p)++;
                /* "*" seconds are "0/1" so that they are printed as "*" only alone */
                return usec ? chain_add(c, 0, -1, (int)USEC_PER_SEC) : 0;
        }
        return parse_list(ps, p, usec, c);
}

static int parse_weekdays(struct parser *ps, const char **p, struct calendar_spec *c) {
        static const struct {
                const char *name;
                int nr;
        } names[] = {
                { "Monday", 0 },   { "Mon", 0 }, { "Tuesday", 1 }, { "Tue", 1 },
                { "Wednesday", 2 }, { "Wed", 2 }, { "Thursday", 3 }, { "Thu", 3 },
                { "Friday", 4 },   { "Fri", 4 }, { "Saturday", 5 }, { "Sat", 5 },
                { "Sunday", 6 },   { "Sun", 6 },
        };
        int range_from = -1;
        bool first = true;

        for (;;) {
                size_t i, len = 0;

                for (i = 0; i < ELEMENTSOF(names); i++) {
                        len = strlen(names[i].name);
                        if (strncasecmp(*p, names[i].name, len) == 0)
                                break;
                }
                if (i >= ELEMENTSOF(names))
                        /* no weekday at all: the expression starts with the date */
                        return first ? 0 : fail(ps, -EINVAL, "expected a weekday");
                if (!strchr("-., ", (*p)[len]))
                        return fail(ps, -EINVAL, "bad weekday");

                int nr = names[i].nr;
                if (c->weekdays < 0)
                        c->weekdays = 0;
                c->weekdays |= 1 << nr;
                if (range_from >= 0) {
                        if (range_from > nr)
                                return fail(ps, -EINVAL, "weekday range runs backwards");
                        for (int j = range_from + 1; j < nr; j++)
                                c->weekdays |= 1 << j;
                }
                *p += len;

                if (**p == 0)
                        return 0;
                if (**p == ' ') {
                        *p += strspn(*p, " ");
                        return 0;
                }
                if (**p == '.') {
                        if (range_from >= 0 || (*p)[1] != '.')
                                return fail(ps, -EINVAL, "bad weekday range");
                        range_from = nr;
                        *p += 2;
                } else if (**p == '-') { /* old range syntax */
                        if (range_from >= 0)
                                return fail(ps, -EINVAL, "bad weekday range");
                        range_from = nr;
                        *p += 1;
                } else if (**p == ',') {
                        range_from = -1;
                        *p += 1;
                }
                /* a trailing comma is fine, an open range is not */
                if (**p == 0 || **p == ' ') {
                        *p += strspn(*p, " ");
                        return range_from < 0 ? 0 : fail(ps, -EINVAL, "open weekday range");
                }
                first = false;
        }
}

static int spec_from_epoch(struct parser *ps, struct calendar_spec *c, time_t t) {
        struct tm tm;
        int r;

        if (!gmtime_r(&t, &tm) || tm.tm_year > INT_MAX - 1900)
                return fail(ps, -ERANGE, "timestamp out of range");
        if ((r = chain_add(&c->year, tm.tm_year + 1900, -1, 0)) < 0 ||
            (r = chain_add(&c->month, tm.tm_mon + 1, -1, 0)) < 0 ||
            (r = chain_add(&c->day, tm.tm_mday, -1, 0)) < 0 ||
            (r = chain_add(&c->hour, tm.tm_hour, -1, 0)) < 0 ||
            (r = chain_add(&c->minute, tm.tm_min, -1, 0)) < 0 ||
            (r = chain_add(&c->usec, tm.tm_sec * (int)USEC_PER_SEC, -1, 0)) < 0)
                return r;
        c->utc = true;
        return 0;
}

/* Returns 1 when the date was "@EPOCH" (no time follows), 0 otherwise; a
 * lone first chain followed by ':' or the end was a time: left unconsumed. */
static int parse_date(struct parser *ps, const char **p, struct calendar_spec *c) {
        struct cal_chain first = {}, second = {}, third = {};
        const char *t = *p;
        int r;

        if (*t == 0)
                return 0;
        if (*t == '@') {
                char *e;
                unsigned long v;

                /* strtoul, as systemd: blanks and a sign are accepted */
                errno = 0;
                v = strtoul(t + 1, &e, 10);
                if (errno > 0 || e == t + 1)
                        return fail(ps, errno > 0 ? -errno : -EINVAL, "bad @timestamp");
                if ((unsigned long)(time_t)v != v)
                        return fail(ps, -ERANGE, "timestamp out of range");
                r = spec_from_epoch(ps, c, (time_t)v);
                if (r < 0)
                        return r;
                *p = e;
                return 1;
        }

        r = parse_chain(ps, &t, false, &first);
        if (r < 0)
                goto out;
        if (*t == 0 || *t == ':') { /* a time, not a date */
                r = 0;
                goto out;
        }
        if (*t == '~')
                c->end_of_month = true;
        else if (*t != '-') {
                r = fail(ps, -EINVAL, "bad date");
                goto out;
        }
        t++;
        r = parse_chain(ps, &t, false, &second);
        if (r < 0)
                goto out;
        if (*t == 0 || *t == ' ') { /* month-day */
                *p = t + strspn(t, " ");
                c->month = first;
                c->day = second;
                return 0;
        }
        if (c->end_of_month) {
                r = fail(ps, -EINVAL, "bad date");
                goto out;
        }
        if (*t == '~')
                c->end_of_month = true;
        else if (*t != '-') {
                r = fail(ps, -EINVAL, "bad date");
                goto out;
        }
        t++;
        r = parse_chain(ps, &t, false, &third);
        if (r < 0)
                goto out;
        if (*t != 0 && *t != ' ') {
                r = fail(ps, -EINVAL, "bad date");
                goto out;
        }
        *p = t + strspn(t, " ");
        c->year = first;
        c->month = second;
        c->day = third;
        return 0;
out:
        chain_done(&first);
        chain_done(&second);
        chain_done(&third);
        return r;
}

static int parse_time(struct parser *ps, const char **p, struct calendar_spec *c) {
        const char *t = *p;
        int r;

        if (*t == 0) { /* no time at all: 00:00:00 */
                if ((r = chain_add(&c->hour, 0, -1, 0)) < 0 || (r = chain_add(&c->minute, 0, -1, 0)) < 0 ||
                    (r = chain_add(&c->usec, 0, -1, 0)) < 0)
                        return r;
                return 0;
        }
        r = parse_chain(ps, &t, false, &c->hour);
        if (r < 0)
                return r;
        if (*t != ':')
                return fail(ps, -EINVAL, "bad time");
        t++;
        r = parse_chain(ps, &t, false, &c->minute);
        if (r < 0)
                return r;
        if (*t == 0) { /* hh:mm */
                *p = t;
                return chain_add(&c->usec, 0, -1, 0);
        }
        if (*t != ':')
                return fail(ps, -EINVAL, "bad time");
        t++;
        r = parse_chain(ps, &t, true, &c->usec);
        if (r < 0)
                return r;
        if (*t != 0)
                return fail(ps, -EINVAL, "trailing characters after the time");
        *p = t;
        return 0;
}

static int cmp_comp(const void *a, const void *b) {
        const struct cal_comp *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->stop != y->stop)
                return x->stop < y->stop ? -1 : 1;
        if (x->repeat != y->repeat)
                return x->repeat < y->repeat ? -1 : 1;
        return 0;
}

static void normalize_chain(struct cal_chain *c) {
        /* a range is cut down to its last repetition */
        for (size_t i = 0; i < c->n; i++) {
                struct cal_comp *x = &c->v[i];
                if (x->stop > x->start && x->repeat > 0)
                        x->stop -= (x->stop - x->start) % x->repeat;
                /* a range that repeats not even once, or of one value, is
                 * that single value */
                if ((x->stop > x->start && x->repeat > 0 && x->start + x->repeat > x->stop) ||
                    x->start == x->stop) {
                        x->repeat = 0;
                        x->stop = -1;
                }
        }
        if (c->n <= 1)
                return;
        qsort(c->v, c->n, sizeof c->v[0], cmp_comp);
        size_t k = 1;
        for (size_t i = 1; i < c->n; i++)
                if (cmp_comp(&c->v[i], &c->v[k - 1]) != 0)
                        c->v[k++] = c->v[i];
        c->n = k;
}

static void fix_years(struct cal_chain *c) {
        /* 12 -> 2012, 89 -> 1989 */
        for (size_t i = 0; i < c->n; i++) {
                int *vals[2] = { &c->v[i].start, &c->v[i].stop };
                for (size_t j = 0; j < 2; j++) {
                        if (*vals[j] >= 0 && *vals[j] < 70)
                                *vals[j] += 2000;
                        else if (*vals[j] >= 70 && *vals[j] < 100)
                                *vals[j] += 1900;
                }
        }
}

static bool chain_valid(const struct cal_chain *c, int from, int to, bool end_of_month) {
        if (end_of_month)
                to -= 3; /* at most 28 days back from the end */
        for (size_t i = 0; i < c->n; i++) {
                const struct cal_comp *x = &c->v[i];
                if (x->start < from || x->start > to)
                        return false;
                if (x->repeat > to - from)
                        return false;
                if (x->stop >= 0) {
                        if (x->stop < from || x->stop > to)
                                return false;
                        if (x->start + x->repeat > x->stop)
                                return false;
                } else if (end_of_month) {
                        if (x->start - x->repeat < from)
                                return false;
                } else if (x->start + x->repeat > to)
                        return false;
        }
        return true;
}

static bool spec_valid(const struct calendar_spec *c) {
        return chain_valid(&c->year, CAL_MIN_YEAR, CAL_MAX_YEAR, false) &&
               chain_valid(&c->month, 1, 12, false) &&
               chain_valid(&c->day, 1, 31, c->end_of_month) &&
               chain_valid(&c->hour, 0, 23, false) &&
               chain_valid(&c->minute, 0, 59, false) &&
               chain_valid(&c->usec, 0, 60 * (int)USEC_PER_SEC - 1, false);
}

static int add_const(struct calendar_spec *c, struct cal_chain *ch, const int *vals, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = chain_add(ch, vals[i], -1, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Shorthands: returns 1 if text was one, 0 if not. */
static int parse_shorthand(struct calendar_spec *c, const char *text) {
        static const int zero[] = { 0 }, one[] = { 1 }, quarters[] = { 1, 4, 7, 10 }, halves[] = { 1, 7 };
        static const struct {
                const char *name;
                unsigned level; /* 0 minutely .. */
        } names[] = {
                { "minutely", 0 }, { "hourly", 1 }, { "daily", 2 }, { "monthly", 3 },
                { "annually", 4 }, { "yearly", 4 }, { "anually", 4 }, { "weekly", 5 },
                { "quarterly", 6 }, { "biannually", 7 }, { "bi-annually", 7 },
                { "semiannually", 7 }, { "semi-annually", 7 },
        };
        size_t i;
        int r = 0;

        for (i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(text, names[i].name) == 0)
                        break;
        if (i >= ELEMENTSOF(names))
                return 0;

        unsigned level = names[i].level;
        if (r >= 0)
                r = add_const(c, &c->usec, zero, 1);
        if (r >= 0 && level >= 1)
                r = add_const(c, &c->minute, zero, 1);
        if (r >= 0 && level >= 2)
                r = add_const(c, &c->hour, zero, 1);
        if (r >= 0 && (level == 3 || level == 4 || level >= 6))
                r = add_const(c, &c->day, one, 1);
        if (r >= 0 && level == 4)
                r = add_const(c, &c->month, one, 1);
        if (r >= 0 && level == 6)
                r = add_const(c, &c->month, quarters, 4);
        if (r >= 0 && level == 7)
                r = add_const(c, &c->month, halves, 2);
        if (level == 5)
                c->weekdays = 1; /* Monday */
        return r < 0 ? r : 1;
}

static int parse_body(struct parser *ps, struct calendar_spec *c, const char *p) {
        int r;

        if (*p == 0)
                return fail(ps, -EINVAL, "empty expression");
        r = parse_shorthand(c, p);
        if (r != 0)
                return r < 0 ? r : 0;
        r = parse_weekdays(ps, &p, c);
        if (r < 0)
                return r;
        r = parse_date(ps, &p, c);
        if (r < 0)
                return r;
        if (r == 0) {
                r = parse_time(ps, &p, c);
                if (r < 0)
                        return r;
        }
        if (*p != 0)
                return fail(ps, -EINVAL, "trailing characters");
        return 0;
}

static char *message(const char *what, const char *text, const char *why) {
        return strdup_printf("invalid %s expression \"%s\": %s", what, text, why);
}

int calendar_parse(const char *text, struct calendar_spec **ret, char **ret_error) {
        struct parser ps = {};
        struct calendar_spec *c;
        char *body = NULL;
        const char *at;
        int r;

        if (!text)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->kind = CAL_KIND_CALENDAR;
        c->weekdays = -1;
        c->dst = -1;

        /* The trailing zone: " UTC", the local zone's own abbreviations, or
         * any zone of the tz database. */
        if (ends_with_nocase(text, " UTC", &at)) {
                c->utc = true;
                body = strndup(text, (size_t)(at - text));
        } else {
                int j;
                tzset();
                for (j = 0; j <= 1; j++) {
                        if (!tzname[j] || !*tzname[j])
                                continue;
                        if (ends_with_nocase(text, tzname[j], &at) && at != text && at[-1] == ' ')
                                break;
                }
                if (j <= 1) {
                        c->dst = j;
                        body = strndup(text, (size_t)(at - text - 1));
                } else {
                        const char *sp = strrchr(text, ' ');
                        if (sp && calendar_timezone_valid(sp + 1)) {
                                c->timezone = strdup(sp + 1);
                                if (!c->timezone) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                                body = strndup(text, (size_t)(sp - text));
                        } else
                                body = strdup(text);
                }
        }
        if (!body) {
                r = -ENOMEM;
                goto fail;
        }

        r = parse_body(&ps, c, body);
        if (r == -ENOMEM)
                goto fail;
        if (r < 0) {
                r = -EINVAL;
                goto fail;
        }

        /* normalise */
        if (c->timezone && streq(c->timezone, "UTC")) {
                c->utc = true;
                free(c->timezone);
                c->timezone = NULL;
        }
        if (c->weekdays <= 0 || c->weekdays >= WEEKDAYS_ALL)
                c->weekdays = -1;
        if (c->end_of_month && c->day.n == 0)
                c->end_of_month = false;
        fix_years(&c->year);
        normalize_chain(&c->year);
        normalize_chain(&c->month);
        normalize_chain(&c->day);
        normalize_chain(&c->hour);
        normalize_chain(&c->minute);
        normalize_chain(&c->usec);
        if (!spec_valid(c)) {
                fail(&ps, -EINVAL, "value out of range");
                r = -EINVAL;
                goto fail;
        }

        free(body);
        *ret = c;
        return 0;
fail:
        if (r == -EINVAL && ret_error)
                *ret_error = message("calendar", text, ps.error ? ps.error : "syntax error");
        free(body);
        calendar_free(c);
        return r;
}

/* ---------- formatting ---------- */

static void format_weekdays(FILE *f, int bits) {
        static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
        bool comma = false;
        int from = -1, x;

        /* runs of three or more days as "a..b", of two as "a,b" */
        for (x = 0; x <= 7; x++) {
                bool on = x < 7 && (bits & (1 << x));
                if (on && from < 0) {
                        if (comma)
                                fputc(',', f);
                        comma = true;
                        fputs(days[x], f);
                        from = x;
                } else if (!on && from >= 0) {
                        if (x > from + 1) {
                                fputs(x > from + 2 ? ".." : ",", f);
                                fputs(days[x - 1], f);
                        }
                        from = -1;
                }
        }
}

static void format_chain(FILE *f, int width, const struct cal_chain *c, bool usec) {
        int d = usec ? (int)USEC_PER_SEC : 1;

        if (c->n == 0) {
                fputc('*', f);
                return;
        }
        /* seconds: one "0/1" element covers every second, whatever else is listed */
        for (size_t i = 0; usec && i < c->n; i++)
                if (c->v[i].start == 0 && c->v[i].stop < 0 && c->v[i].repeat == d) {
                        fputc('*', f);
                        return;
                }
        for (size_t i = 0; i < c->n; i++) {
                const struct cal_comp *x = &c->v[i];
                if (i > 0)
                        fputc(',', f);
                fprintf(f, "%0*d", width, x->start / d);
                if (x->start % d > 0)
                        fprintf(f, ".%06d", x->start % d);
                if (x->stop > 0)
                        fprintf(f, "..%0*d", width, x->stop / d);
                if (x->stop % d > 0)
                        fprintf(f, ".%06d", x->stop % d);
                if (x->repeat > 0 && !(x->stop > 0 && x->repeat == d))
                        fprintf(f, "/%d", x->repeat / d);
                if (x->repeat % d > 0)
                        fprintf(f, ".%06d", x->repeat % d);
        }
}

int calendar_normalize(const struct calendar_spec *c, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (c->kind == CAL_KIND_CRON) {
                char *s = strdup(c->cron.text);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (c->weekdays > 0 && c->weekdays < WEEKDAYS_ALL) {
                format_weekdays(f, c->weekdays);
                fputc(' ', f);
        }
        format_chain(f, 4, &c->year, false);
        fputc('-', f);
        format_chain(f, 2, &c->month, false);
        fputc(c->end_of_month ? '~' : '-', f);
        format_chain(f, 2, &c->day, false);
        fputc(' ', f);
        format_chain(f, 2, &c->hour, false);
        fputc(':', f);
        format_chain(f, 2, &c->minute, false);
        fputc(':', f);
        format_chain(f, 2, &c->usec, true);
        if (c->utc)
                fputs(" UTC", f);
        else if (c->timezone)
                fprintf(f, " %s", c->timezone);
        else if (c->dst == 0 || c->dst == 1) {
                tzset();
                if (tzname[c->dst] && *tzname[c->dst])
                        fprintf(f, " %s", tzname[c->dst]);
        }
        return memstream_finish(f, &buf, ret);
}

/* ---------- next elapse ---------- */

/* The search walks a struct tm through mktime()/timegm() normalisation like
 * systemd does; every quirk of its DST handling comes from that. */
struct walk {
        const struct calendar_spec *spec;
        struct tm tm;
        int usec;
};

static time_t tm_to_time(struct tm *tm, bool utc) {
        return utc ? timegm(tm) : mktime(tm);
}

/* The day "n-th from the end" of tm's month (n = 1: the last), or -1. */
static int end_of_month_day(const struct tm *tm, bool utc, int n) {
        struct tm t = *tm;

        t.tm_mon++;
        t.tm_mday = 1 - n;
        if (tm_to_time(&t, utc) < 0 || t.tm_mon != tm->tm_mon)
                return -1;
        return t.tm_mday;
}

/* Smallest value >= *val that the chain allows: 1 and *val updated when it
 * moved, 0 when *val matches, -ENOENT when nothing does. */
static int chain_match(const struct walk *w, const struct cal_chain *c, bool is_day, int *val) {
        bool eom = is_day && w->spec->end_of_month;
        bool found = false;
        int best = 0;

        if (c->n == 0)
                return 0;
        for (size_t i = 0; i < c->n; i++) {
                int start = c->v[i].start, stop = c->v[i].stop, repeat = c->v[i].repeat;

                if (eom) {
                        start = end_of_month_day(&w->tm, w->spec->utc, start);
                        stop = end_of_month_day(&w->tm, w->spec->utc, stop);
                        if (stop > 0) {
                                int t = start;
                                start = stop;
                                stop = t;
                        }
                }
                if (start >= *val) {
                        if (!found || start < best) {
                                best = start;
                                found = true;
                        }
                } else if (repeat > 0) {
                        long k = start + (long)repeat * ((*val - start + repeat - 1) / repeat);
                        if ((!found || k < best) && (stop < 0 || k <= stop) && k <= INT_MAX) {
                                best = (int)k;
                                found = true;
                        }
                }
        }
        if (!found)
                return -ENOENT;
        int moved = *val != best;
        *val = best;
        return moved;
}

/* 1 if tm survives mktime() normalisation unchanged. 0 if it does not (Feb
 * 30, minute 64, a wall-clock time in a DST gap): then tm is replaced by the
 * normalised time with the fields below the highest changed one reset, so
 * the search resumes at the start of that unit ("02:00" in a spring-forward
 * gap becomes "03:00"). -EDEADLK if normalisation went backwards, -ERANGE
 * past the search bound. The usec part is left alone, as systemd does. */
static int tm_within_bounds(struct tm *tm, bool utc) {
        struct tm t = *tm;
        int cmp;

        if (tm->tm_year + 1900 > CAL_MAX_YEAR)
                return -ERANGE;
        if (tm_to_time(&t, utc) < 0)
                return -EINVAL;

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)
        if ((cmp = CMP(t.tm_year, tm->tm_year)) != 0)
                t.tm_mon = 0;
        else if ((cmp = CMP(t.tm_mon, tm->tm_mon)) != 0)
                t.tm_mday = 1;
        else if ((cmp = CMP(t.tm_mday, tm->tm_mday)) != 0)
                t.tm_hour = 0;
        else if ((cmp = CMP(t.tm_hour, tm->tm_hour)) != 0)
                t.tm_min = 0;
        else if ((cmp = CMP(t.tm_min, tm->tm_min)) != 0)
                t.tm_sec = 0;
        else
                cmp = CMP(t.tm_sec, tm->tm_sec);
#undef CMP
        if (cmp < 0)
                return -EDEADLK;
        if (cmp > 0)
                *tm = t;
        return cmp == 0;
}

static bool weekday_matches(int bits, const struct tm *tm, bool utc) {
        struct tm t = *tm;

        if (bits < 0 || bits >= WEEKDAYS_ALL)
                return true;
        if (tm_to_time(&t, utc) < 0)
                return false;
        return bits & (1 << (t.tm_wday == 0 ? 6 : t.tm_wday - 1));
}

enum { F_YEAR, F_MONTH, F_DAY, F_HOUR, F_MINUTE, F_SECOND };

/* Reset every field below `level` to its first value. */
static void reset_below(struct walk *w, int level) {
        if (level < F_MONTH)
                w->tm.tm_mon = 0;
        if (level < F_DAY)
                w->tm.tm_mday = 1;
        if (level < F_HOUR)
                w->tm.tm_hour = 0;
        if (level < F_MINUTE)
                w->tm.tm_min = 0;
        w->tm.tm_sec = 0;
        w->usec = 0;
}

/* Move to the start of the next unit above `level`. */
static void carry(struct walk *w, int level) {
        switch (level) {
        case F_MONTH: w->tm.tm_year++; break;
        case F_DAY: w->tm.tm_mon++; break;
        case F_HOUR: w->tm.tm_mday++; break;
        case F_MINUTE: w->tm.tm_hour++; break;
        case F_SECOND: w->tm.tm_min++; break;
        }
        reset_below(w, level - 1);
}

/* Compares broken-down times field by field, then the usec parts. */
static int tm_compare(const struct tm *a, int ausec, const struct tm *b, int busec) {
        const int x[] = { a->tm_year, a->tm_mon, a->tm_mday, a->tm_hour, a->tm_min, a->tm_sec, ausec };
        const int y[] = { b->tm_year, b->tm_mon, b->tm_mday, b->tm_hour, b->tm_min, b->tm_sec, busec };
        for (size_t i = 0; i < ELEMENTSOF(x); i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

static int walk_next(struct walk *w) {
        const struct calendar_spec *s = w->spec;
        const struct tm start = w->tm;
        const int start_usec = w->usec;
        bool keep_dst = false;
        bool utc = s->utc;
        int r;

        /* systemd's safety valve: give up with -EDEADLK after 1000 passes.
         * Never-matching expressions end well before (each pass over a year
         * costs a few passes, and years stop at 2199); it triggers where
         * mktime() keeps bouncing around a DST change (e.g. 02:45 in
         * Pacific/Chatham on its spring-forward day), exactly as in systemd. */
        for (unsigned guard = 0; guard < 1000; guard++) {
                (void)tm_to_time(&w->tm, utc);
                if (!keep_dst)
                        w->tm.tm_isdst = s->dst;

                int year = w->tm.tm_year + 1900;
                r = chain_match(w, &s->year, false, &year);
                w->tm.tm_year = year - 1900;
                if (r < 0)
                        return r;
                if (r > 0)
                        reset_below(w, F_YEAR);
                if (tm_within_bounds(&w->tm, utc) <= 0)
                        return -ENOENT;

                int mon = w->tm.tm_mon + 1;
                r = chain_match(w, &s->month, false, &mon);
                w->tm.tm_mon = mon - 1;
                if (r > 0)
                        reset_below(w, F_MONTH);
                if (r < 0 || (r = tm_within_bounds(&w->tm, utc)) < 0) {
                        carry(w, F_MONTH);
                        continue;
                }
                if (r == 0) /* normalised forward: resume from there */
                        continue;

                r = chain_match(w, &s->day, true, &w->tm.tm_mday);
                if (r > 0)
                        reset_below(w, F_DAY);
                if (r < 0 || (r = tm_within_bounds(&w->tm, utc)) < 0) {
                        carry(w, F_DAY);
                        continue;
                }
                if (r == 0) /* normalised forward: resume from there */
                        continue;

                if (!weekday_matches(s->weekdays, &w->tm, utc)) {
                        carry(w, F_HOUR);
                        continue;
                }

                /* an hour in a DST gap normalises to the hour after it */
                r = chain_match(w, &s->hour, false, &w->tm.tm_hour);
                if (r > 0)
                        reset_below(w, F_HOUR);
                if (r < 0 || (r = tm_within_bounds(&w->tm, utc)) < 0) {
                        carry(w, F_HOUR);
                        continue;
                }
                if (r == 0) /* normalised forward: resume from there */
                        continue;

                r = chain_match(w, &s->minute, false, &w->tm.tm_min);
                if (r > 0)
                        reset_below(w, F_MINUTE);
                if (r < 0 || (r = tm_within_bounds(&w->tm, utc)) < 0) {
                        carry(w, F_MINUTE);
                        continue;
                }
                if (r == 0) /* normalised forward: resume from there */
                        continue;

                int sec = w->tm.tm_sec * (int)USEC_PER_SEC + w->usec;
                r = chain_match(w, &s->usec, false, &sec);
                w->usec = sec % (int)USEC_PER_SEC;
                w->tm.tm_sec = sec / (int)USEC_PER_SEC;
                if (r < 0 || (r = tm_within_bounds(&w->tm, utc)) < 0) {
                        carry(w, F_SECOND);
                        continue;
                }
                if (r == 0) /* normalised forward: resume from there */
                        continue;

                /* mktime() took us back to before where we started: a DST
                 * change bounced the search. As systemd does, go on one hour
                 * later, from then on keeping the DST flag that mktime()
                 * computes instead of the expression's. The start itself
                 * (after + 1 us) is a valid elapse: "02:30:00" from a base
                 * of 02:29:59.999999 is 02:30:00, not tomorrow's. */
                if (tm_compare(&w->tm, w->usec, &start, start_usec) < 0) {
                        w->tm.tm_hour++;
                        keep_dst = true;
                        continue;
                }
                return 0;
        }
        return -EDEADLK;
}

static int calendar_next_here(const struct calendar_spec *spec, usec_t after, usec_t *ret) {
        struct walk w = { .spec = spec };
        time_t t;
        int r;

        if (after >= CAL_USEC_MAX) /* systemd: -EINVAL; there is no elapse anyway */
                return -ENOENT;
        after++;
        t = (time_t)(after / USEC_PER_SEC);
        if (!(spec->utc ? gmtime_r(&t, &w.tm) : localtime_r(&t, &w.tm)))
                return -EINVAL;
        w.usec = (int)(after % USEC_PER_SEC);

        r = walk_next(&w);
        if (r < 0)
                return r;
        t = tm_to_time(&w.tm, spec->utc);
        if (t < 0)
                return -EINVAL;
        *ret = (usec_t)t * USEC_PER_SEC + (usec_t)w.usec;
        return 0;
}

/* calendar_timezone_valid() opens the zone file (about 4 µs): remember the
 * last few good names for a minute. Main thread only, like the rest. */
static bool zone_known_good(const char *tz) {
        static struct {
                char name[64];
                usec_t checked;
        } cache[8];
        static unsigned next_slot;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < ELEMENTSOF(cache); i++)
                if (cache[i].checked > 0 && now - cache[i].checked < USEC_PER_MINUTE && streq(cache[i].name, tz))
                        return true;
        if (!calendar_timezone_valid(tz))
                return false;
        if (strlen(tz) < sizeof cache[0].name) {
                unsigned k = next_slot++ % ELEMENTSOF(cache);
                strcpy(cache[k].name, tz);
                cache[k].checked = now;
        }
        return true;
}

int calendar_with_zone(const char *tz, int (*fn)(const struct calendar_spec *, usec_t, usec_t *),
                       const struct calendar_spec *spec, usec_t after, usec_t *ret) {
        char *saved = NULL, *colon = NULL;
        const char *old;
        int r;

        if (!tz)
                return fn(spec, after, ret);
        if (!zone_known_good(tz))
                return -EINVAL;

        old = getenv("TZ");
        if (old && (streq(old, tz) || (old[0] == ':' && streq(old + 1, tz))))
                return fn(spec, after, ret); /* already there */
        if (old && !(saved = strdup(old)))
                return -ENOMEM;
        colon = strdup_printf(":%s", tz);
        if (!colon) {
                free(saved);
                return -ENOMEM;
        }
        if (setenv("TZ", colon, 1) < 0) {
                r = -errno;
                goto out;
        }
        tzset();
        r = fn(spec, after, ret);
        if (saved)
                (void)setenv("TZ", saved, 1);
        else
                (void)unsetenv("TZ");
        tzset();
out:
        free(saved);
        free(colon);
        return r;
}

static int next_once(const struct calendar_spec *spec, const char *tz, usec_t after, usec_t *ret) {
        if (spec->kind == CAL_KIND_CRON)
                return spec->cron.reboot ? -ENOENT : calendar_with_zone(tz, cron_next, spec, after, ret);
        if (spec->utc)
                return calendar_next_here(spec, after, ret);
        return calendar_with_zone(spec->timezone ? spec->timezone : tz, calendar_next_here, spec, after, ret);
}

int calendar_next(const struct calendar_spec *spec, const char *tz, usec_t after, usec_t *ret) {
        usec_t next;
        int r;

        if (!spec || !ret)
                return -EINVAL;
        r = next_once(spec, tz, after, &next);
        /* Never an elapse at or before `after`: systemd can come back with
         * one when mktime() resolves a repeated fall-back time to its other
         * instant, and a caller re-arming on it would spin. Go on from one
         * hour later instead. */
        if (r >= 0 && next <= after) {
                r = next_once(spec, tz, after + USEC_PER_HOUR, &next);
                if (r >= 0 && next <= after)
                        r = -EDEADLK;
        }
        if (r < 0)
                return r;
        *ret = next;
        return 0;
}

/* ---------- the rest ---------- */

bool calendar_is_reboot(const struct calendar_spec *spec) {
        return spec && spec->kind == CAL_KIND_CRON && spec->cron.reboot;
}

const char *calendar_timezone(const struct calendar_spec *spec) {
        if (!spec || spec->kind != CAL_KIND_CALENDAR)
                return NULL;
        if (spec->utc)
                return "UTC";
        return spec->timezone;
}

struct calendar_spec *calendar_free(struct calendar_spec *c) {
        if (!c)
                return NULL;
        chain_done(&c->year);
        chain_done(&c->month);
        chain_done(&c->day);
        chain_done(&c->hour);
        chain_done(&c->minute);
        chain_done(&c->usec);
        free(c->timezone);
        cron_fields_done(&c->cron);
        free(c);
        return NULL;
}

bool calendar_timezone_valid(const char *tz) {
        char path[PATH_MAX];
        char magic[4];
        bool slash = false;
        struct stat st;
        int fd;
        ssize_t n;

        /* The rules of systemd's timezone_is_valid(): a relative path of
         * [A-Za-z0-9_+-] words, naming a TZif file. */
        if (!tz || !*tz)
                return false;
        if (streq(tz, "UTC"))
                return true;
        if (tz[0] == '/')
                return false;
        for (const char *p = tz; *p; p++) {
                if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
                    !strchr("-_+/", *p))
                        return false;
                if (*p == '/') {
                        if (slash)
                                return false;
                        slash = true;
                } else
                        slash = false;
        }
        if (slash)
                return false;
        if (snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz) >= (int)sizeof path)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return false;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return false;
        }
        n = read(fd, magic, sizeof magic);
        close(fd);
        return n == (ssize_t)sizeof magic && memcmp(magic, "TZif", 4) == 0;
}
