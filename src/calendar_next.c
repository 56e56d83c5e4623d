/* calendar_next.c - the next elapse of a calendar expression.
 *
 * Compatibility target: what `systemd-analyze calendar` of systemd 252
 * gives as next elapses.
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
 * catch: setenv()/tzset() are process-global, so the switch is tz_run()'s
 * (tz.c), under its mutex, and every computation in local time here runs
 * inside it: safe on any thread, serialised; meant for the main thread.
 *
 * Search bound: years past 2199 (systemd's MAX_YEAR) give -ENOENT, so an
 * expression that never matches ("*-02-30", "2020-01-01") returns at once
 * or after at most a few thousand steps, never hangs. */
#include "calendar.h"
#include "calendar_private.h"

#include <limits.h>

#include "tz.h"

/* systemd's USEC_TIMESTAMP_FORMATTABLE_MAX: 9999-12-30 23:59:59 UTC */
#define CAL_USEC_MAX ((usec_t)253402214399999999ULL)


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

enum step { STEP_ON, STEP_AGAIN };

/* Moves the month, day, hour or minute (level) to the first value its chain
 * allows; the fields below restart when it moved. When the result does not
 * exist (Feb 30) or mktime() normalised it backwards, the search carries to
 * the next unit; when mktime() normalised it forwards (an hour in a DST gap
 * becomes the hour after it), the search resumes from there: STEP_AGAIN. */
static enum step walk_field(struct walk *w, const struct cal_chain *c, int level) {
        int *field = level == F_MONTH ? &w->tm.tm_mon
                     : level == F_DAY ? &w->tm.tm_mday
                     : level == F_HOUR ? &w->tm.tm_hour
                                       : &w->tm.tm_min;
        int base = level == F_MONTH ? 1 : 0; /* tm_mon counts from 0 */
        int v = *field + base;
        int r;

        r = chain_match(w, c, level == F_DAY, &v);
        *field = v - base;
        if (r > 0)
                reset_below(w, level);
        if (r < 0 || (r = tm_within_bounds(&w->tm, w->spec->utc)) < 0) {
                carry(w, level);
                return STEP_AGAIN;
        }
        return r == 0 ? STEP_AGAIN : STEP_ON;
}

static int walk_next(struct walk *w) {
        const struct calendar_spec *s = w->spec;
        const struct tm start = w->tm;
        const int start_usec = w->usec;
        const struct cal_chain years = cal_chain(s, CAL_YEAR), month = cal_chain(s, CAL_MONTH),
                day = cal_chain(s, CAL_DAY), hour = cal_chain(s, CAL_HOUR),
                minute = cal_chain(s, CAL_MINUTE), usec = cal_chain(s, CAL_USEC);
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
                r = chain_match(w, &years, false, &year);
                w->tm.tm_year = year - 1900;
                if (r < 0)
                        return r;
                if (r > 0)
                        reset_below(w, F_YEAR);
                if (tm_within_bounds(&w->tm, utc) <= 0)
                        return -ENOENT;

                if (walk_field(w, &month, F_MONTH) == STEP_AGAIN ||
                    walk_field(w, &day, F_DAY) == STEP_AGAIN)
                        continue;
                if (!weekday_matches(s->weekdays, &w->tm, utc)) {
                        carry(w, F_HOUR);
                        continue;
                }
                if (walk_field(w, &hour, F_HOUR) == STEP_AGAIN ||
                    walk_field(w, &minute, F_MINUTE) == STEP_AGAIN)
                        continue;

                int sec = w->tm.tm_sec * (int)USEC_PER_SEC + w->usec;
                r = chain_match(w, &usec, false, &sec);
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

/* In the zone tz_run() set up (or UTC); spec is a struct calendar_spec. */
static int calendar_next_here(const void *userdata, usec_t after, usec_t *ret) {
        const struct calendar_spec *spec = userdata;
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

static int next_once(const struct calendar_spec *spec, const char *tz, usec_t after, usec_t *ret) {
        if (spec->utc) /* gmtime_r() and timegm(): no zone involved */
                return calendar_next_here(spec, after, ret);
        return tz_run(cal_timezone(spec) ? cal_timezone(spec) : tz, calendar_next_here, spec, after, ret);
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

