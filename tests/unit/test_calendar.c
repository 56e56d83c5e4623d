/* test_calendar.c - unit tests of the calendar and cron leaves through the
 * schedule.h front end: parsing (valid and invalid), normalisation
 * (compared with systemd-analyze 252's "Normalized form"), next elapses
 * (leap years, "~", weekdays, DST changes in Europe/Berlin,
 * America/New_York and Australia/Lord_Howe, year rollover, expressions that
 * never match), cron (names, steps, the day OR rule,
 * macros, @reboot, DST policy), zones, and the fuzzers' regressions.
 *
 * Expected elapses of calendar expressions come from systemd-analyze
 * calendar; those of cron expressions from the brute-force reference in
 * tests/calendar/diff_cron.py. */
#include "schedule.h"

#include <check.h>
#include <malloc.h>
#include <stdio.h>

/* "YYYY-MM-DD HH:MM:SS[.f]" in UTC to usec. */
static usec_t utc(const char *s) {
        struct tm tm = {};
        double frac = 0;
        const char *dot;

        ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%d %H:%M:%S", &tm));
        dot = strchr(s, '.');
        if (dot)
                frac = strtod(dot, NULL);
        return (usec_t)timegm(&tm) * USEC_PER_SEC + (usec_t)(frac * 1e6 + 0.5);
}

static char *fmt(usec_t u, char *buf, size_t size) {
        time_t t = (time_t)(u / USEC_PER_SEC);
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        if (u % USEC_PER_SEC)
                snprintf(buf + n, size - n, ".%06llu", (unsigned long long)(u % USEC_PER_SEC));
        return buf;
}

static void check_norm(const char *text, const char *expected) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        _cleanup_(freep) char *err = NULL, *norm = NULL;

        int r = schedule_parse(SCHEDULE_SYNTAX_CALENDAR, text, &spec, &err);
        ck_assert_msg(r == 0, "\"%s\" does not parse: %s", text, err);
        ck_assert_int_eq(schedule_normalize(spec, &norm), 0);
        ck_assert_msg(streq(norm, expected), "\"%s\" normalises to \"%s\", expected \"%s\"", text, norm, expected);
}

static void check_invalid(const char *text) {
        struct schedule *spec = NULL;
        _cleanup_(freep) char *err = NULL;

        int r = schedule_parse(SCHEDULE_SYNTAX_CALENDAR, text, &spec, &err);
        ck_assert_msg(r == -EINVAL, "\"%s\" should not parse (r=%d)", text, r);
        ck_assert_ptr_null(spec);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, text) != NULL, "message \"%s\" does not name the expression", err);
}

struct next_case {
        const char *expr, *zone, *base;
        const char *want[8];
};

static void check_next_spec(struct schedule *spec, const struct next_case *c) {
        usec_t t = utc(c->base);
        size_t i;

        for (i = 0; i < ELEMENTSOF(c->want) && c->want[i]; i++) {
                usec_t next;
                char a[64];
                int r = schedule_next(spec, c->zone, t, &next);
                ck_assert_msg(r == 0, "\"%s\" in %s after %s: r=%d", c->expr, c->zone, fmt(t, a, sizeof a), r);
                ck_assert_msg(next == utc(c->want[i]), "\"%s\" in %s, elapse #%zu: got %s, want %s", c->expr,
                              c->zone, i + 1, fmt(next, a, sizeof a), c->want[i]);
                ck_assert(next > t);
                t = next;
        }
}

static void check_next(const struct next_case *c) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, c->expr, &spec, NULL), 0);
        check_next_spec(spec, c);
}

static void check_cron_next(const struct next_case *c) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        _cleanup_(freep) char *err = NULL;
        int r = schedule_parse(SCHEDULE_SYNTAX_CRON, c->expr, &spec, &err);
        ck_assert_msg(r == 0, "cron \"%s\": %s", c->expr, err);
        check_next_spec(spec, c);
}

/* ---------- calendar: parsing and normalisation ---------- */

START_TEST(test_normalize) {
        /* systemd-analyze calendar's "Normalized form:" of each */
        static const char *const cases[][2] = {
                { "minutely", "*-*-* *:*:00" },
                { "hourly", "*-*-* *:00:00" },
                { "daily", "*-*-* 00:00:00" },
                { "DAILY", "*-*-* 00:00:00" },
                { "monthly", "*-*-01 00:00:00" },
                { "weekly", "Mon *-*-* 00:00:00" },
                { "yearly", "*-01-01 00:00:00" },
                { "annually", "*-01-01 00:00:00" },
                { "anually", "*-01-01 00:00:00" },
                { "quarterly", "*-01,04,07,10-01 00:00:00" },
                { "semiannually", "*-01,07-01 00:00:00" },
                { "semi-annually", "*-01,07-01 00:00:00" },
                { "bi-annually", "*-01,07-01 00:00:00" },
                { "Mon..Fri *:0/15", "Mon..Fri *-*-* *:00/15:00" },
                { "Sat,Sun 8..18/2:00", "Sat,Sun *-*-* 08..18/2:00:00" },
                { "mon-wed,fri 12:00", "Mon..Wed,Fri *-*-* 12:00:00" },
                { "Monday..Sunday 1:00", "*-*-* 01:00:00" },
                { "Mon,", "Mon *-*-* 00:00:00" },
                { "Thu,Fri..Sun 0:0", "Thu..Sun *-*-* 00:00:00" },
                { "Mon,Wed,Fri", "Mon,Wed,Fri *-*-* 00:00:00" },
                { "Mon,Tue", "Mon,Tue *-*-* 00:00:00" },
                { "*-*-* 02:30:00", "*-*-* 02:30:00" },
                { "*:*:0.5", "*-*-* *:*:00.500000" },
                { "*:*:0.9999995", "*-*-* *:*:01" },
                { "00:00:00.1,2", "*-*-* 00:00:00.100000,02" },
                { "*:*:1.25/2.5", "*-*-* *:*:01.250000/2.500000" },
                { "*:*:0/1,5", "*-*-* *:*:*" },
                { "*-*-* *:*:*", "*-*-* *:*:*" },
                { "*:0/1", "*-*-* *:00/1:00" },
                { "*-02~03", "*-02~03 00:00:00" },
                { "*-*~1..5", "*-*~01..05 00:00:00" },
                { "*-02-29", "*-02-29 00:00:00" },
                { "70-1-1", "1970-01-01 00:00:00" },
                { "26-12-31 23:59", "2026-12-31 23:59:00" },
                { "2025/2-06-15", "2025/2-06-15 00:00:00" },
                { "*-*-* 1..5,3/2:00", "*-*-* 01..05,03/2:00:00" },
                { "*:5..5/3", "*-*-* *:05:00" },
                { "*:*:10..20/30", "*-*-* *:*:10" },
                { "*:0..31/4:49", "*-*-* *:00..28/4:49" },
                { "2:26..32/26:*", "*-*-* 02:26:*" },
                { "10..10:37/8,0..11,26:16", "*-*-* 10:00..11,26,37/8:16" },
                { "*:30,3/16,21..39/24", "*-*-* *:03/16,21,30:00" },
                { "@1700000000", "2023-11-14 22:13:20 UTC" },
                { "@0", "1970-01-01 00:00:00 UTC" },
                { "daily UTC", "*-*-* 00:00:00 UTC" },
                { "daily utc", "*-*-* 00:00:00 UTC" },
                { "daily Asia/Tokyo", "*-*-* 00:00:00 Asia/Tokyo" },
                { "daily Etc/UTC", "*-*-* 00:00:00 Etc/UTC" },
                { "2003-03-05 05:40 Europe/Berlin", "2003-03-05 05:40:00 Europe/Berlin" },
                { "2026-01-01   12:00", "2026-01-01 12:00:00" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_norm(cases[i][0], cases[i][1]);
}
END_TEST

START_TEST(test_normalize_local_abbreviation) {
        /* the local zone's own abbreviations, as systemd */
        ck_assert_int_eq(setenv("TZ", "Europe/Berlin", 1), 0);
        tzset();
        check_norm("daily CET", "*-*-* 00:00:00 CET");
        check_norm("daily cest", "*-*-* 00:00:00 CEST");
        check_norm("daily GMT", "*-*-* 00:00:00 GMT"); /* a zone file of that name */
        ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
        tzset();
        check_invalid("daily CEST");
}
END_TEST

START_TEST(test_invalid) {
        static const char *const cases[] = {
                "", " ", " daily", "daily ", "daily  UTC", "foo", "Wed..Mon", "Mon..", "Mon...Fri",
                "Mond", "Mon-", "Mon..Wed..Fri", "*~05..01", "*-*~1/2", "*-02~31", "*:*/5", "*/5:00",
                "*-*-* 24:00", "*:60", "*:*:60", "*-13-01", "*-00-01", "*-*-00", "*-*-32", "2200-01-01",
                "1969-12-31", "*:*:59.9999995", "*:*:5..5", "*:*:0..0", "*:*:5..5.5", "*:50/20",
                "*:*:30/40", "*-*~03/5", "*:0/0", "1..", "1-1-1-1", "12:00 Mon", "Mon 12",
                "*-*-* 00:00:00 Mars/Olympus", "daily europe/berlin", "daily Foo/Bar",
                "99999999999-01-01", "*:*:99999999999", "@-1", "@", "@99999999999999999999",
                "1:1:1:1", "*-*-*-*",
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_invalid(cases[i]);
}
END_TEST

START_TEST(test_list_limit) {
        /* as systemd: at most 241 elements in a list */
        char buf[2048] = "*-*-* *:";
        for (int i = 0; i < 241; i++)
                strcat(buf, i ? ",1" : "1");
        check_norm(buf, "*-*-* *:01:00");
        strcat(buf, ",1");
        check_invalid(buf);
}
END_TEST

START_TEST(test_timezone_accessors) {
        struct schedule *s = NULL;

        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily Europe/Berlin", &s, NULL), 0);
        ck_assert_str_eq(schedule_timezone(s), "Europe/Berlin");
        ck_assert(!schedule_is_reboot(s));
        s = schedule_free(s);
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily UTC", &s, NULL), 0);
        ck_assert_str_eq(schedule_timezone(s), "UTC");
        s = schedule_free(s);
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily", &s, NULL), 0);
        ck_assert_ptr_null(schedule_timezone(s));
        s = schedule_free(s);
        ck_assert_ptr_null(schedule_free(NULL));

        ck_assert(schedule_timezone_valid("UTC"));
        ck_assert(schedule_timezone_valid("Europe/Berlin"));
        ck_assert(schedule_timezone_valid("America/Argentina/Buenos_Aires"));
        ck_assert(schedule_timezone_valid("Etc/GMT+5"));
        ck_assert(!schedule_timezone_valid(NULL));
        ck_assert(!schedule_timezone_valid(""));
        ck_assert(!schedule_timezone_valid("Mars/Olympus"));
        ck_assert(!schedule_timezone_valid("/etc/localtime"));
        ck_assert(!schedule_timezone_valid("../etc/passwd"));
        ck_assert(!schedule_timezone_valid("Europe//Berlin"));
        ck_assert(!schedule_timezone_valid("Europe/"));
        ck_assert(!schedule_timezone_valid("Europe"));   /* a directory */
        ck_assert(!schedule_timezone_valid("zone.tab")); /* not TZif, and '.' */
        ck_assert(!schedule_timezone_valid("Europe/Berlin "));
}
END_TEST

/* A parsed expression is one small block of heap (a configuration holds
 * one per distinct expression: 100,000 in bench figure 4): the 12-byte
 * header, 12 bytes per component, the zone text, malloc's 8 bytes, rounded
 * to 16. (Under ASan, glibc's mallinfo2() does not see the allocations.) */
START_TEST(test_compact) {
        static const struct {
                const char *text, *norm;
                size_t max;
        } cases[] = {
                { "Mon *-*-* 12:34:56", "Mon *-*-* 12:34:56", 64 },
                { "Mon *-*-* 12:34:56 UTC", "Mon *-*-* 12:34:56 UTC", 64 },
                { "Mon *-*-* 12:34:56 Europe/Berlin", "Mon *-*-* 12:34:56 Europe/Berlin", 80 },
                { "*-*-* 00/2:00,15,30,45:00", "*-*-* 00/2:00,15,30,45:00", 96 },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct schedule *s = NULL;
                char *norm = NULL;

                /* once to warm up the zone code's own caches */
                ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, cases[i].text, &s, NULL), 0);
                s = schedule_free(s);
                size_t before = mallinfo2().uordblks;
                ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, cases[i].text, &s, NULL), 0);
                size_t used = mallinfo2().uordblks - before;
                ck_assert_msg(used <= cases[i].max, "%s: %zu bytes", cases[i].text, used);
                /* and it still says what it was */
                ck_assert_int_eq(schedule_normalize(s, &norm), 0);
                ck_assert_str_eq(norm, cases[i].norm);
                free(norm);
                s = schedule_free(s);
        }
}
END_TEST

/* ---------- calendar: next elapse ---------- */

START_TEST(test_next) {
        /* generated with systemd-analyze calendar --base-time=... (UTC) */
        static const struct next_case cases[] = {
                /* leap years and "~" */
                { "*-02-29", "UTC", "2026-03-01 00:00:00",
                  { "2028-02-29 00:00:00", "2032-02-29 00:00:00", "2036-02-29 00:00:00" } },
                { "*-02~01", "UTC", "2026-03-01 00:00:00",
                  { "2027-02-28 00:00:00", "2028-02-29 00:00:00", "2029-02-28 00:00:00" } },
                { "*-02~03", "Europe/Berlin", "2026-03-01 00:00:00", { "2027-02-25 23:00:00", "2028-02-26 23:00:00" } },
                { "*-*~01..03", "UTC", "2026-04-27 12:00:00",
                  { "2026-04-28 00:00:00", "2026-04-29 00:00:00", "2026-04-30 00:00:00", "2026-05-29 00:00:00" } },
                /* weekdays */
                { "Mon..Fri 12:00", "UTC", "2026-03-27 13:00:00",
                  { "2026-03-30 12:00:00", "2026-03-31 12:00:00", "2026-04-01 12:00:00" } },
                { "Sat,Sun", "UTC", "2026-03-27 13:00:00",
                  { "2026-03-28 00:00:00", "2026-03-29 00:00:00", "2026-04-04 00:00:00" } },
                { "mon-wed,fri 12:00", "UTC", "2026-03-27 13:00:00",
                  { "2026-03-30 12:00:00", "2026-03-31 12:00:00", "2026-04-01 12:00:00", "2026-04-03 12:00:00" } },
                { "Sunday 1:00", "UTC", "2026-03-27 13:00:00", { "2026-03-29 01:00:00", "2026-04-05 01:00:00" } },
                { "Wednesday..Friday *-*-1..7 9:00", "UTC", "2026-03-27 13:00:00",
                  { "2026-04-01 09:00:00", "2026-04-02 09:00:00", "2026-04-03 09:00:00" } },
                { "weekly", "UTC", "2026-03-27 13:00:00", { "2026-03-30 00:00:00", "2026-04-06 00:00:00" } },
                /* DST: Europe/Berlin skips 02:30 on 2026-03-29, runs the
                 * first 02:30 (CEST) once on 2026-10-25 */
                { "*-*-* 02:30:00", "Europe/Berlin", "2026-03-28 12:00:00",
                  { "2026-03-30 00:30:00", "2026-03-31 00:30:00", "2026-04-01 00:30:00" } },
                { "*-*-* 02:30:00", "Europe/Berlin", "2026-10-24 12:00:00",
                  { "2026-10-25 00:30:00", "2026-10-26 01:30:00", "2026-10-27 01:30:00" } },
                { "*:0/20", "Europe/Berlin", "2026-10-25 00:30:00",
                  { "2026-10-25 00:40:00", "2026-10-25 02:00:00", "2026-10-25 02:20:00", "2026-10-25 02:40:00",
                    "2026-10-25 03:00:00", "2026-10-25 03:20:00" } },
                { "hourly", "Europe/Berlin", "2026-03-29 00:30:00",
                  { "2026-03-29 01:00:00", "2026-03-29 02:00:00", "2026-03-29 03:00:00" } },
                /* DST: America/New_York */
                { "*-*-* 02:30:00", "America/New_York", "2026-03-07 12:00:00",
                  { "2026-03-09 06:30:00", "2026-03-10 06:30:00" } },
                { "*-*-* 01:30:00", "America/New_York", "2026-10-31 12:00:00",
                  { "2026-11-01 05:30:00", "2026-11-02 06:30:00", "2026-11-03 06:30:00" } },
                { "*-*-* 8..18/2:00", "America/New_York", "2026-03-28 12:00:00",
                  { "2026-03-28 14:00:00", "2026-03-28 16:00:00", "2026-03-28 18:00:00" } },
                /* DST: Australia/Lord_Howe moves by 30 minutes */
                { "*-*-* 02:15:00", "Australia/Lord_Howe", "2026-10-02 12:00:00",
                  { "2026-10-02 15:45:00", "2026-10-04 15:15:00" } },
                { "*:57,31/12", "Australia/Lord_Howe", "2026-10-03 15:10:00",
                  { "2026-10-03 15:13:00", "2026-10-03 15:25:00", "2026-10-03 15:27:00", "2026-10-03 15:31:00",
                    "2026-10-03 15:43:00", "2026-10-03 15:55:00" } },
                { "*-*-* 01:45:00", "Australia/Lord_Howe", "2026-04-04 12:00:00",
                  { "2026-04-04 14:45:00", "2026-04-05 15:15:00" } },
                /* year rollover */
                { "*-12-31 23:59:59", "UTC", "2026-12-31 23:00:00", { "2026-12-31 23:59:59", "2027-12-31 23:59:59" } },
                { "yearly", "Europe/Berlin", "2026-12-31 22:00:00", { "2026-12-31 23:00:00", "2027-12-31 23:00:00" } },
                /* fractions, own zone, shorthands, year steps */
                { "*:*:0.5", "UTC", "2026-03-28 12:00:00", { "2026-03-28 12:00:00.5", "2026-03-28 12:01:00.5" } },
                { "daily Asia/Tokyo", "UTC", "2026-03-28 12:00:00", { "2026-03-28 15:00:00", "2026-03-29 15:00:00" } },
                { "daily Asia/Tokyo", "America/New_York", "2026-03-28 12:00:00", { "2026-03-28 15:00:00" } },
                { "daily UTC", "Europe/Berlin", "2026-03-28 12:00:00", { "2026-03-29 00:00:00" } },
                { "quarterly", "UTC", "2026-03-28 12:00:00",
                  { "2026-04-01 00:00:00", "2026-07-01 00:00:00", "2026-10-01 00:00:00" } },
                { "semiannually", "UTC", "2026-03-28 12:00:00", { "2026-07-01 00:00:00", "2027-01-01 00:00:00" } },
                { "2026..2030/2-06-15", "UTC", "2026-03-28 12:00:00",
                  { "2026-06-15 00:00:00", "2028-06-15 00:00:00", "2030-06-15 00:00:00" } },
                { "2199-12-31 23:59:59", "UTC", "2199-12-30 00:00:00", { "2199-12-31 23:59:59" } },
                /* an elapse exactly 1 us after the base is found, not skipped */
                { "*-*-* 02:30:00", "UTC", "2026-11-25 02:29:59.999999",
                  { "2026-11-25 02:30:00", "2026-11-26 02:30:00" } },
                { "*:*:0/2", "Europe/Berlin", "2026-11-25 02:29:59.999999",
                  { "2026-11-25 02:30:00", "2026-11-25 02:30:02" } },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_next(&cases[i]);
}
END_TEST

START_TEST(test_next_never) {
        static const char *const never[] = {
                "2020-01-01", "*-02-30", "*-04-31", "*-02-31 12:00", "@1700000000", "Mon *-02-30",
                "2027-02-29", "1970..2025-*-*",
        };
        usec_t start = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < ELEMENTSOF(never); i++) {
                _cleanup_(schedule_freep) struct schedule *spec = NULL;
                usec_t next = 42;
                ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, never[i], &spec, NULL), 0);
                ck_assert_int_eq(schedule_next(spec, "UTC", utc("2026-03-28 12:00:00"), &next),
                                 -ENOENT);
                ck_assert(next == 42); /* ret_ untouched on failure */
        }
        /* the far future and the end of time */
        _cleanup_(schedule_freep) struct schedule *daily = NULL;
        usec_t next;
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily", &daily, NULL), 0);
        ck_assert_int_eq(schedule_next(daily, "UTC", utc("2199-12-31 00:00:00"), &next), -ENOENT);
        ck_assert_int_eq(schedule_next(daily, "UTC", USEC_INFINITY - 1, &next), -ENOENT);
        ck_assert_int_eq(schedule_next(daily, "UTC", USEC_INFINITY, &next), -ENOENT);
        ck_assert_int_eq(schedule_next(daily, "UTC", 0, &next), 0);
        ck_assert(next == USEC_PER_DAY);
        /* no hang: all of the above well under a second */
        ck_assert(now_usec(CLOCK_MONOTONIC) - start < 2 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_next_zones) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        usec_t next = 0;

        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily", &spec, NULL), 0);
        ck_assert_int_eq(schedule_next(spec, "Mars/Olympus", utc("2026-03-28 12:00:00"), &next), -EINVAL);
        ck_assert_int_eq(schedule_next(spec, "../../etc/passwd", utc("2026-03-28 12:00:00"), &next), -EINVAL);
        /* NULL: the process's zone ($TZ), which is left as it was */
        ck_assert_int_eq(setenv("TZ", "Asia/Kolkata", 1), 0);
        tzset();
        ck_assert_int_eq(schedule_next(spec, NULL, utc("2026-03-28 12:00:00"), &next), 0);
        ck_assert(next == utc("2026-03-28 18:30:00"));
        ck_assert_int_eq(schedule_next(spec, "Europe/Berlin", utc("2026-03-28 12:00:00"), &next), 0);
        ck_assert(next == utc("2026-03-28 23:00:00"));
        ck_assert_str_eq(getenv("TZ"), "Asia/Kolkata");
        ck_assert_int_eq(unsetenv("TZ"), 0);
        ck_assert_int_eq(schedule_next(spec, "Europe/Berlin", utc("2026-03-28 12:00:00"), &next), 0);
        ck_assert_ptr_null(getenv("TZ"));
        ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
        tzset();
}
END_TEST

START_TEST(test_next_deadlock) {
        /* systemd 252 gives up on this one ("Infinite loop in calendar
         * calculation"): 02:45 does not exist on Chatham's spring-forward
         * day and mktime() bounces between 02:00 and 03:45. */
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        usec_t next;
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "*-*-* 02:45:00 Pacific/Chatham", &spec, NULL), 0);
        ck_assert_int_eq(schedule_next(spec, NULL, utc("2024-09-28 13:00:00"), &next), -EDEADLK);
        ck_assert_int_eq(schedule_next(spec, NULL, utc("2024-09-30 12:00:00"), &next), 0);
        ck_assert(next == utc("2024-09-30 13:00:00"));
}
END_TEST

/* ---------- cron ---------- */

START_TEST(test_cron_parse) {
        static const char *const cases[][2] = {
                { "30 2 * * 1-5", "30 2 * * 1-5" },
                { "  30\t 2 *  * 1-5  ", "30 2 * * 1-5" },
                { "*/5 * * * *", "*/5 * * * *" },
                { "0 0 * jan-MAR,Dec sun", "0 0 * jan-MAR,Dec sun" },
                { "@daily", "@daily" },
                { "@DAILY", "@daily" },
                { "@midnight", "@midnight" },
                { "@reboot", "@reboot" },
                { "0 0 * * 7", "0 0 * * 7" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(schedule_freep) struct schedule *spec = NULL;
                _cleanup_(freep) char *err = NULL, *norm = NULL;
                ck_assert_msg(schedule_parse(SCHEDULE_SYNTAX_CRON, cases[i][0], &spec, &err) == 0, "%s: %s",
                              cases[i][0], err);
                ck_assert_int_eq(schedule_normalize(spec, &norm), 0);
                ck_assert_str_eq(norm, cases[i][1]);
                ck_assert_ptr_null(schedule_timezone(spec));
        }

        static const char *const invalid[] = {
                "", "   ", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
                "* * * 0 *", "* * * 13 *", "* * * * 8", "5/10 * * * *", "*/0 * * * *", "5-1 * * * *",
                "a * * * *", "1- * * * *", "-1 * * * *", "1,,2 * * * *", "1, * * * *", "* * * foo *",
                "* * * * monday", "* * * * 6-sun", "@every", "@daily 5", "@", "*/ * * * *", "1-2-3 * * * *",
                "99999999999 * * * *", "* * * janu *",
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                struct schedule *spec = NULL;
                _cleanup_(freep) char *err = NULL;
                ck_assert_msg(schedule_parse(SCHEDULE_SYNTAX_CRON, invalid[i], &spec, &err) == -EINVAL,
                              "\"%s\" parsed", invalid[i]);
                ck_assert_ptr_null(spec);
                ck_assert_ptr_nonnull(err);
        }
}
END_TEST

START_TEST(test_cron_reboot) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        usec_t next = 7;
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CRON, "@reboot", &spec, NULL), 0);
        ck_assert(schedule_is_reboot(spec));
        ck_assert_int_eq(schedule_next(spec, "UTC", utc("2026-01-01 00:00:00"), &next), -ENOENT);
        ck_assert(next == 7);
}
END_TEST

START_TEST(test_cron_next) {
        /* checked against the brute-force reference of diff_cron.py */
        static const struct next_case cases[] = {
                /* both day fields restricted: OR (Fridays and the 13th) */
                { "0 12 13 * 5", "UTC", "2026-01-01 00:00:00",
                  { "2026-01-02 12:00:00", "2026-01-09 12:00:00", "2026-01-13 12:00:00", "2026-01-16 12:00:00" } },
                { "0 12 13 * fri", "UTC", "2026-01-01 00:00:00", { "2026-01-02 12:00:00", "2026-01-09 12:00:00" } },
                /* a day field starting with '*': AND */
                { "0 12 */10 * 5", "UTC", "2026-01-01 00:00:00",
                  { "2026-05-01 12:00:00", "2026-07-31 12:00:00", "2026-08-21 12:00:00" } },
                { "0 4 * JAN-MAR SUN", "UTC", "2026-03-20 00:00:00",
                  { "2026-03-22 04:00:00", "2026-03-29 04:00:00", "2027-01-03 04:00:00" } },
                { "30 2 * * 7", "UTC", "2026-03-20 00:00:00", { "2026-03-22 02:30:00", "2026-03-29 02:30:00" } },
                { "30 2 * * 0", "UTC", "2026-03-20 00:00:00", { "2026-03-22 02:30:00", "2026-03-29 02:30:00" } },
                { "1-30/7 * * * *", "UTC", "2026-01-01 00:00:00",
                  { "2026-01-01 00:01:00", "2026-01-01 00:08:00", "2026-01-01 00:15:00", "2026-01-01 00:22:00",
                    "2026-01-01 00:29:00", "2026-01-01 01:01:00" } },
                { "0 0 29 2 *", "UTC", "2026-01-01 00:00:00", { "2028-02-29 00:00:00", "2032-02-29 00:00:00" } },
                { "59 23 31 12 *", "UTC", "2026-12-31 23:58:00", { "2026-12-31 23:59:00", "2027-12-31 23:59:00" } },
                /* macros */
                { "@weekly", "UTC", "2026-03-20 00:00:00", { "2026-03-22 00:00:00", "2026-03-29 00:00:00" } },
                { "@monthly", "UTC", "2026-03-20 00:00:00", { "2026-04-01 00:00:00", "2026-05-01 00:00:00" } },
                { "@yearly", "UTC", "2026-03-20 00:00:00", { "2027-01-01 00:00:00", "2028-01-01 00:00:00" } },
                { "@annually", "UTC", "2026-03-20 00:00:00", { "2027-01-01 00:00:00" } },
                { "@daily", "UTC", "2026-03-20 00:00:00", { "2026-03-21 00:00:00" } },
                { "@midnight", "UTC", "2026-03-20 00:00:00", { "2026-03-21 00:00:00" } },
                { "@hourly", "UTC", "2026-03-20 00:10:00", { "2026-03-20 01:00:00", "2026-03-20 02:00:00" } },
                /* DST, fixed times: skipped 02:30 runs at the change (03:00
                 * CEST), repeated 02:30 runs once (the first) */
                { "30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00", { "2026-03-29 01:00:00", "2026-03-30 00:30:00" } },
                { "30 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00", { "2026-10-25 00:30:00", "2026-10-26 01:30:00" } },
                { "0,30 2 * * *", "Europe/Berlin", "2026-03-28 12:00:00",
                  { "2026-03-29 01:00:00", "2026-03-30 00:00:00", "2026-03-30 00:30:00" } },
                { "30 2 * * *", "America/New_York", "2026-03-07 12:00:00", { "2026-03-08 07:00:00", "2026-03-09 06:30:00" } },
                { "30 1 * * *", "America/New_York", "2026-10-31 12:00:00", { "2026-11-01 05:30:00", "2026-11-02 06:30:00" } },
                { "15 2 * * *", "Australia/Lord_Howe", "2026-10-03 00:00:00", { "2026-10-03 15:30:00", "2026-10-04 15:15:00" } },
                /* DST, wildcard jobs: real time, both passes of a repeated hour */
                { "*/30 2 * * *", "Europe/Berlin", "2026-10-24 12:00:00",
                  { "2026-10-25 00:00:00", "2026-10-25 00:30:00", "2026-10-25 01:00:00", "2026-10-25 01:30:00",
                    "2026-10-26 01:00:00" } },
                { "*/15 * * * *", "Australia/Lord_Howe", "2026-10-03 15:20:00",
                  { "2026-10-03 15:30:00", "2026-10-03 15:45:00", "2026-10-03 16:00:00", "2026-10-03 16:15:00" } },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_cron_next(&cases[i]);

        /* never: Feb 30 */
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        usec_t next, start = now_usec(CLOCK_MONOTONIC);
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CRON, "0 0 30 2 *", &spec, NULL), 0);
        ck_assert_int_eq(schedule_next(spec, "Europe/Berlin", utc("2026-01-01 00:00:00"), &next), -ENOENT);
        ck_assert(now_usec(CLOCK_MONOTONIC) - start < 2 * USEC_PER_SEC);
}
END_TEST

/* ---------- hostile input ---------- */

/* Inputs in the spirit of the fuzzers (fuzz/): must be rejected or handled
 * without crashing, and what parses must re-parse from its normal form.
 * Fuzzing (about 10 minutes per target so far) found no crash; its
 * regressions go here. */
START_TEST(test_robustness) {
        static const char *const cal[] = {
                "\x01", "@", "@@", "~", "..", "*..*", "*~*", "*-~-", ":::", "1:2:3:4", "Mon\tFri",
                "Mon..Mon", "1,2,3,4,5,6,7,8,9,10,11,12-1 0:0", "*:*:0.0000005", "*:*:0.", "*:*:.5",
                "4294967296-01-01", "2147483647:00", "*-*-* 0:0:2147", "0/2147483647:00", "Mon,Tue,",
                "*-*~28", "*-*~29", "*-02~28/1", "@18446744073709551615", "@ 5", "daily \xff\xfe",
                "*-*-* 00:00:00 ./UTC", "*-*-* 00:00:00 Europe/../Europe/Berlin", "\xc3\xa4",
        };
        for (size_t i = 0; i < ELEMENTSOF(cal); i++) {
                struct schedule *spec = NULL, *again = NULL;
                char *err = NULL, *n1 = NULL, *n2 = NULL;
                if (schedule_parse(SCHEDULE_SYNTAX_CALENDAR, cal[i], &spec, &err) == 0) {
                        usec_t next;
                        ck_assert_int_eq(schedule_normalize(spec, &n1), 0);
                        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, n1, &again, NULL), 0);
                        ck_assert_int_eq(schedule_normalize(again, &n2), 0);
                        ck_assert_str_eq(n1, n2);
                        (void)schedule_next(spec, "Europe/Berlin", utc("2026-03-28 12:00:00"), &next);
                } else
                        ck_assert_ptr_nonnull(err);
                free(err);
                free(n1);
                free(n2);
                schedule_free(spec);
                schedule_free(again);
        }
        static const char *const cron[] = {
                "\x01", "@", "* * * * *\n", "*/99 * * * *", "0-59/59 * * * *", "* * * * 7-7",
                "*/1000000000000 * * * *", "00000000000000000001 * * * *", "* * * JAN-jan *",
        };
        for (size_t i = 0; i < ELEMENTSOF(cron); i++) {
                struct schedule *spec = NULL;
                char *err = NULL;
                if (schedule_parse(SCHEDULE_SYNTAX_CRON, cron[i], &spec, &err) == 0) {
                        usec_t next;
                        ck_assert_int_eq(schedule_next(spec, "Australia/Lord_Howe", utc("2026-10-03 15:00:00"), &next), 0);
                } else
                        ck_assert_ptr_nonnull(err);
                free(err);
                schedule_free(spec);
        }
}
END_TEST

static Suite *calendar_suite(void) {
        Suite *s = suite_create("calendar");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_normalize);
        tcase_add_test(tc, test_normalize_local_abbreviation);
        tcase_add_test(tc, test_invalid);
        tcase_add_test(tc, test_list_limit);
        tcase_add_test(tc, test_timezone_accessors);
        tcase_add_test(tc, test_compact);
        tcase_add_test(tc, test_next);
        tcase_add_test(tc, test_next_never);
        tcase_add_test(tc, test_next_zones);
        tcase_add_test(tc, test_next_deadlock);
        tcase_add_test(tc, test_cron_parse);
        tcase_add_test(tc, test_cron_reboot);
        tcase_add_test(tc, test_cron_next);
        tcase_add_test(tc, test_robustness);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        /* parsing looks at the local zone's abbreviations: make it known */
        setenv("TZ", "UTC", 1);
        tzset();

        SRunner *sr = srunner_create(calendar_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
