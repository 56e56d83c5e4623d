/* test_schedule.c - the schedule front end: both syntaxes behind one handle,
 * and thread safety: parsing, normalising and zone checks on two threads
 * while two others compute next elapses, one in a foreign zone (which
 * switches $TZ) and one in the process's own. Run it in the TSan build too.
 *
 * The process zone is Europe/Berlin, so parsing "daily CET" depends on the
 * local zone's abbreviations: a parser that read tzname[] while another
 * thread had switched $TZ to America/New_York would see EST/EDT and fail,
 * and a next elapse in the process zone computed during such a switch would
 * come out five or six hours off. The results are compared, not just run. */
#include "schedule.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define PARSE_ROUNDS 3000
#define NEXT_ROUNDS 1500

/* 2026-03-28 12:00:00 UTC, and the elapses of "daily" after it */
#define BASE (1774699200ULL * USEC_PER_SEC)
#define DAILY_BERLIN (1774738800ULL * USEC_PER_SEC)   /* 2026-03-28 23:00 UTC */
#define DAILY_NEW_YORK (1774756800ULL * USEC_PER_SEC) /* 2026-03-29 04:00 UTC */

static const struct {
        enum schedule_syntax syntax;
        const char *text, *norm, *zone;
} cases[] = {
        { SCHEDULE_SYNTAX_CALENDAR, "daily CET", "*-*-* 00:00:00 CET", NULL },
        { SCHEDULE_SYNTAX_CALENDAR, "Mon..Fri *-*-* 02:30 cest", "Mon..Fri *-*-* 02:30:00 CEST", NULL },
        { SCHEDULE_SYNTAX_CALENDAR, "*:0/15 Asia/Kolkata", "*-*-* *:00/15:00 Asia/Kolkata", "Asia/Kolkata" },
        { SCHEDULE_SYNTAX_CALENDAR, "weekly UTC", "Mon *-*-* 00:00:00 UTC", "UTC" },
        { SCHEDULE_SYNTAX_CRON, "30  2 * *   1-5", "30 2 * * 1-5", NULL },
        { SCHEDULE_SYNTAX_CRON, "@reboot", "@reboot", NULL },
};

static atomic_uint failures;
static atomic_bool go;

static void failed(const char *what, const char *detail) {
        if (atomic_fetch_add(&failures, 1) < 5)
                fprintf(stderr, "%s: %s\n", what, detail);
}

static void parse_once(size_t i) {
        struct schedule *s = NULL;
        char *norm = NULL;

        if (schedule_parse(cases[i].syntax, cases[i].text, &s, NULL) < 0) {
                failed("does not parse", cases[i].text);
                return;
        }
        if (schedule_normalize(s, &norm) < 0 || !streq(norm, cases[i].norm))
                failed("normalises wrong", norm ? norm : cases[i].text);
        if (!streq_ptr(schedule_timezone(s), cases[i].zone))
                failed("wrong zone", cases[i].text);
        if (schedule_is_reboot(s) != streq(cases[i].text, "@reboot"))
                failed("wrong @reboot", cases[i].text);
        free(norm);
        schedule_free(s);
}

static void *parser(void *arg) {
        (void)arg;
        while (!atomic_load(&go))
                ;
        for (unsigned k = 0; k < PARSE_ROUNDS; k++) {
                parse_once(k % ELEMENTSOF(cases));
                if (!schedule_timezone_valid("America/New_York") || schedule_timezone_valid("Mars/Olympus"))
                        failed("zone check", "America/New_York or Mars/Olympus");
        }
        return NULL;
}

struct next_job {
        const char *zone;
        usec_t want;
};

static void *nexter(void *arg) {
        const struct next_job *j = arg;
        _cleanup_(schedule_freep) struct schedule *daily = NULL;

        if (schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "daily", &daily, NULL) < 0) {
                failed("does not parse", "daily");
                return NULL;
        }
        while (!atomic_load(&go))
                ;
        for (unsigned k = 0; k < NEXT_ROUNDS; k++) {
                usec_t next = 0;
                if (schedule_next(daily, j->zone, BASE, &next) < 0 || next != j->want)
                        failed("wrong next elapse in", j->zone ? j->zone : "the process zone");
        }
        return NULL;
}

START_TEST(test_threads) {
        static const struct next_job foreign = { "America/New_York", DAILY_NEW_YORK };
        static const struct next_job local = { NULL, DAILY_BERLIN };
        pthread_t t[4];

        ck_assert_int_eq(pthread_create(&t[0], NULL, parser, NULL), 0);
        ck_assert_int_eq(pthread_create(&t[1], NULL, parser, NULL), 0);
        ck_assert_int_eq(pthread_create(&t[2], NULL, nexter, (void *)&foreign), 0);
        ck_assert_int_eq(pthread_create(&t[3], NULL, nexter, (void *)&local), 0);
        atomic_store(&go, true);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        unsigned n = atomic_load(&failures);
        ck_assert_uint_eq(n, 0);
        ck_assert_str_eq(getenv("TZ"), "Europe/Berlin"); /* left as it was */
}
END_TEST

START_TEST(test_front_end) {
        _cleanup_(schedule_freep) struct schedule *cron = NULL, *reboot = NULL;
        _cleanup_(freep) char *err = NULL;
        struct schedule *s = NULL;
        usec_t next = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_once(i);
        unsigned n = atomic_load(&failures);
        ck_assert_uint_eq(n, 0);

        /* each syntax has its own error message naming the expression */
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CRON, "daily", &s, &err), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(strstr(err, "cron expression \"daily\""));
        free(err);
        err = NULL;
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CALENDAR, "0 0 * * *", &s, &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "calendar expression \"0 0 * * *\""));

        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CRON, "0 0 * * *", &cron, NULL), 0);
        ck_assert_int_eq(schedule_next(cron, "America/New_York", BASE, &next), 0);
        ck_assert(next == DAILY_NEW_YORK);
        ck_assert_int_eq(schedule_next(cron, "Mars/Olympus", BASE, &next), -EINVAL);
        ck_assert_int_eq(schedule_parse(SCHEDULE_SYNTAX_CRON, "@reboot", &reboot, NULL), 0);
        ck_assert_int_eq(schedule_next(reboot, NULL, BASE, &next), -ENOENT);
        ck_assert_int_eq(schedule_next(NULL, NULL, BASE, &next), -EINVAL);
        ck_assert_ptr_null(schedule_free(NULL));
}
END_TEST

int main(void) {
        setenv("TZ", "Europe/Berlin", 1);
        tzset();

        Suite *s = suite_create("schedule");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_front_end);
        tcase_add_test(tc, test_threads);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed_n = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed_n ? EXIT_FAILURE : EXIT_SUCCESS;
}
