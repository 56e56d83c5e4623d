/* calendar.c - systemd.time(7) calendar expressions: parsing into the
 * representation of calendar_private.h, and freeing it. The normalised form
 * is calendar_format.c's, the next elapse calendar_next.c's.
 *
 * Compatibility target: `systemd-analyze calendar` of systemd 252. The
 * parser accepts what it accepts (shorthands, weekday lists and ranges,
 * dates, times, "a..b", "/repeat", lists, fractional seconds, "~" counted
 * from the end of the month, "@EPOCH", a trailing "UTC", zone name, or the
 * local zone's own abbreviation) and normalises to the same text.
 *
 * Threads: any. Parsing reads no process-wide state: the local zone's
 * abbreviations come from tz_local_abbrevs() (under tz.c's mutex), and the
 * one that matched is kept in the spec, so normalising needs no tzname[]. */
#include "calendar.h"
#include "calendar_private.h"

#include <ctype.h>
#include <limits.h>

#include "tz.h"

#define CAL_COMPONENTS_MAX 240

/* ---------- parsing ---------- */

/* A list of components while it is parsed (a realloc'd array). */
struct cal_list {
        struct cal_comp *v;
        size_t n;
};

/* The expression while it is parsed; packed into one struct calendar_spec
 * at the end (spec_pack()). */
struct cal_parsed {
        int weekdays;     /* bit 0 = Monday .. bit 6 = Sunday; -1 = any day */
        bool end_of_month;
        bool utc;
        int dst;          /* -1, or 0/1 when the expression named tzname[0]/[1] */
        char *dst_name;   /* that abbreviation as the zone spells it, or NULL */
        char *timezone;   /* the zone named in the expression, or NULL */
        struct cal_list year, month, day, hour, minute, usec;
};

struct parser {
        const char *error; /* static reason for the first error */
};

static int fail(struct parser *ps, int r, const char *why) {
        if (!ps->error)
                ps->error = why;
        return r;
}

static void chain_done(struct cal_list *c) {
        free(c->v);
        c->v = NULL;
        c->n = 0;
}

static int chain_add(struct cal_list *c, int start, int stop, int repeat) {
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
static int parse_list(struct parser *ps, const char **p, bool usec, struct cal_list *c) {
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

static int parse_chain(struct parser *ps, const char **p, bool usec, struct cal_list *c) {
        if (**p == '*') {
                (*p)++;
                /* "*" seconds are "0/1" so that they are printed as "*" only alone */
                return usec ? chain_add(c, 0, -1, (int)USEC_PER_SEC) : 0;
        }
        return parse_list(ps, p, usec, c);
}

static int parse_weekdays(struct parser *ps, const char **p, struct cal_parsed *c) {
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

static int spec_from_epoch(struct parser *ps, struct cal_parsed *c, time_t t) {
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
static int parse_date(struct parser *ps, const char **p, struct cal_parsed *c) {
        struct cal_list first = {}, second = {}, third = {};
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

static int parse_time(struct parser *ps, const char **p, struct cal_parsed *c) {
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

static void normalize_chain(struct cal_list *c) {
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

static void fix_years(struct cal_list *c) {
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

static bool chain_valid(const struct cal_list *c, int from, int to, bool end_of_month) {
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

static bool spec_valid(const struct cal_parsed *c) {
        return chain_valid(&c->year, CAL_MIN_YEAR, CAL_MAX_YEAR, false) &&
               chain_valid(&c->month, 1, 12, false) &&
               chain_valid(&c->day, 1, 31, c->end_of_month) &&
               chain_valid(&c->hour, 0, 23, false) &&
               chain_valid(&c->minute, 0, 59, false) &&
               chain_valid(&c->usec, 0, 60 * (int)USEC_PER_SEC - 1, false);
}

static int add_const(struct cal_parsed *c, struct cal_list *ch, const int *vals, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = chain_add(ch, vals[i], -1, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Shorthands: returns 1 if text was one, 0 if not. */
static int parse_shorthand(struct cal_parsed *c, const char *text) {
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

static int parse_body(struct parser *ps, struct cal_parsed *c, const char *p) {
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

/* Splits off the trailing zone: " UTC", the local zone's own abbreviations
 * (as tz_local_abbrevs() has them), or any zone of the tz database. Returns
 * the malloc'd body in *ret_body, or -ENOMEM. */
static int parse_zone_suffix(struct cal_parsed *c, const char *text, char **ret_body) {
        char names[2][TZ_ABBREV_MAX];
        const char *at, *sp;
        char *body;
        int j;

        if (ends_with_nocase(text, " UTC", &at)) {
                c->utc = true;
                body = strndup(text, (size_t)(at - text));
                goto out;
        }
        tz_local_abbrevs(names);
        for (j = 0; j <= 1; j++)
                if (*names[j] && ends_with_nocase(text, names[j], &at) && at != text && at[-1] == ' ')
                        break;
        if (j <= 1) {
                c->dst = j;
                c->dst_name = strdup(names[j]);
                if (!c->dst_name)
                        return -ENOMEM;
                body = strndup(text, (size_t)(at - text - 1));
                goto out;
        }
        sp = strrchr(text, ' ');
        if (sp && tz_zone_valid(sp + 1)) {
                c->timezone = strdup(sp + 1);
                if (!c->timezone)
                        return -ENOMEM;
                body = strndup(text, (size_t)(sp - text));
        } else
                body = strdup(text);
out:
        if (!body)
                return -ENOMEM;
        *ret_body = body;
        return 0;
}

static void for_each_chain(struct cal_parsed *c, void (*fn)(struct cal_list *)) {
        struct cal_list *all[] = { &c->year, &c->month, &c->day, &c->hour, &c->minute, &c->usec };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                fn(all[i]);
}

/* The parsed spec in its canonical shape; false if a value is out of range. */
static bool spec_canonicalize(struct cal_parsed *c) {
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
        for_each_chain(c, normalize_chain);
        return spec_valid(c);
}

static void parsed_done(struct cal_parsed *c) {
        for_each_chain(c, chain_done);
        free(c->timezone);
        free(c->dst_name);
}

/* c in one allocation: the header, the fields' components in order, the
 * zone text. -ENOBUFS if a field has more components than n[] counts. */
static int spec_pack(const struct cal_parsed *c, struct calendar_spec **ret) {
        const struct cal_list *all[CAL_FIELDS] = { &c->year, &c->month, &c->day,
                                                   &c->hour, &c->minute, &c->usec };
        const char *zone = c->timezone ? c->timezone : c->dst >= 0 ? c->dst_name : NULL;
        size_t total = 0, zone_size = zone ? strlen(zone) + 1 : 0;
        struct calendar_spec *spec;

        for (size_t i = 0; i < CAL_FIELDS; i++) {
                if (all[i]->n > UINT8_MAX)
                        return -ENOBUFS;
                total += all[i]->n;
        }
        spec = malloc(sizeof *spec + total * sizeof spec->v[0] + zone_size);
        if (!spec)
                return -ENOMEM;
        *spec = (struct calendar_spec){
                .weekdays = (int8_t)c->weekdays,
                .end_of_month = c->end_of_month,
                .utc = c->utc,
                .dst = (int8_t)c->dst,
                .has_timezone = c->timezone != NULL,
        };
        total = 0;
        for (size_t i = 0; i < CAL_FIELDS; i++) {
                spec->n[i] = (uint8_t)all[i]->n;
                if (all[i]->n > 0)
                        memcpy(spec->v + total, all[i]->v, all[i]->n * sizeof spec->v[0]);
                total += all[i]->n;
        }
        if (zone)
                memcpy(spec->v + total, zone, zone_size);
        *ret = spec;
        return 0;
}

int calendar_parse(const char *text, struct calendar_spec **ret, char **ret_error) {
        struct parser ps = {};
        struct cal_parsed c = { .weekdays = -1, .dst = -1 };
        char *body = NULL;
        int r;

        if (!text)
                return -EINVAL;

        r = parse_zone_suffix(&c, text, &body);
        if (r < 0)
                goto fail;
        r = parse_body(&ps, &c, body);
        if (r == -ENOMEM)
                goto fail;
        if (r < 0) {
                r = -EINVAL;
                goto fail;
        }
        if (!spec_canonicalize(&c)) {
                fail(&ps, -EINVAL, "value out of range");
                r = -EINVAL;
                goto fail;
        }
        r = spec_pack(&c, ret);
        if (r == -ENOBUFS) {
                fail(&ps, -EINVAL, "too many list elements");
                r = -EINVAL;
        }
        if (r < 0)
                goto fail;
        free(body);
        parsed_done(&c);
        return 0;
fail:
        if (r == -EINVAL && ret_error)
                *ret_error = strdup_printf("invalid calendar expression \"%s\": %s", text,
                                           ps.error ? ps.error : "syntax error");
        free(body);
        parsed_done(&c);
        return r;
}

/* ---------- the rest ---------- */

const char *calendar_timezone(const struct calendar_spec *spec) {
        if (!spec)
                return NULL;
        if (spec->utc)
                return "UTC";
        return cal_timezone(spec);
}

size_t calendar_size(const struct calendar_spec *spec) {
        const char *zone = cal_timezone(spec) ? cal_timezone(spec) : cal_dst_name(spec);
        struct cal_chain last = cal_chain(spec, CAL_USEC);
        size_t n = (size_t)(last.v + last.n - spec->v);
        return sizeof(*spec) + n * sizeof(spec->v[0]) + (zone ? strlen(zone) + 1 : 0);
}

struct calendar_spec *calendar_free(struct calendar_spec *c) {
        free(c);
        return NULL;
}
