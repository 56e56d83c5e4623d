/* Unit tests for timespan.c: systemd.time(7) spans both ways. */
#include <check.h>
#include <stdlib.h>

#include "timespan.h"

static usec_t parse_ok(const char *s) {
        usec_t u = 0;
        int r = timespan_parse(s, &u);
        ck_assert_msg(r == 0, "\"%s\" should parse, got %d", s, r);
        return u;
}

START_TEST(test_parse_units) {
        ck_assert_uint_eq(parse_ok("30s"), 30 * USEC_PER_SEC);
        ck_assert_uint_eq(parse_ok("30"), 30 * USEC_PER_SEC);
        ck_assert_uint_eq(parse_ok("500ms"), 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(parse_ok("5min"), 5 * USEC_PER_MINUTE);
        ck_assert_uint_eq(parse_ok("5m"), 5 * USEC_PER_MINUTE);
        ck_assert_uint_eq(parse_ok("1h 30min"), 90 * USEC_PER_MINUTE);
        ck_assert_uint_eq(parse_ok("1h30min"), 90 * USEC_PER_MINUTE);
        ck_assert_uint_eq(parse_ok("2d"), 2 * USEC_PER_DAY);
        ck_assert_uint_eq(parse_ok("1w"), USEC_PER_WEEK);
        ck_assert_uint_eq(parse_ok("1 week 2 days"), USEC_PER_WEEK + 2 * USEC_PER_DAY);
        ck_assert_uint_eq(parse_ok("1.5h"), 90 * USEC_PER_MINUTE);
        ck_assert_uint_eq(parse_ok("0.5s"), 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(parse_ok("10us"), 10);
        ck_assert_uint_eq(parse_ok("10usec"), 10);
        ck_assert_uint_eq(parse_ok("1y"), 31557600ULL * USEC_PER_SEC);
        ck_assert_uint_eq(parse_ok("1M"), 2629800ULL * USEC_PER_SEC);
        ck_assert_uint_eq(parse_ok("  2 hours  "), 2 * USEC_PER_HOUR);
        ck_assert_uint_eq(parse_ok("0"), 0);
        ck_assert_uint_eq(parse_ok("infinity"), USEC_INFINITY);
}
END_TEST

START_TEST(test_parse_errors) {
        static const char *const bad[] = {
                "", " ", "s", "-5s", "5 parsecs", "1h foo", "1.", "..", "5s-", "abc", "1e3s",
                "99999999999999999999s", "600000000000000d",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                usec_t u = 42;
                int r = timespan_parse(bad[i], &u);
                ck_assert_msg(r < 0, "\"%s\" should be rejected", bad[i]);
                ck_assert_uint_eq(u, 42); /* untouched on failure */
        }
}
END_TEST

START_TEST(test_format) {
        char buf[TIMESPAN_MAX];
        ck_assert_str_eq(timespan_format(buf, sizeof buf, 0), "0");
        ck_assert_str_eq(timespan_format(buf, sizeof buf, USEC_INFINITY), "infinity");
        ck_assert_str_eq(timespan_format(buf, sizeof buf, 90 * USEC_PER_MINUTE), "1h 30min");
        ck_assert_str_eq(timespan_format(buf, sizeof buf, 500 * USEC_PER_MSEC), "500ms");
        ck_assert_str_eq(timespan_format(buf, sizeof buf, USEC_PER_WEEK + USEC_PER_DAY + 1), "1w 1d 1us");
        /* Round trip over a spread of values. */
        for (usec_t u = 1; u < 100 * USEC_PER_WEEK; u = u * 3 + 7) {
                usec_t back;
                timespan_format(buf, sizeof buf, u);
                ck_assert_int_eq(timespan_parse(buf, &back), 0);
                ck_assert_uint_eq(back, u);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("timespan");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_parse_units);
        tcase_add_test(tc, test_parse_errors);
        tcase_add_test(tc, test_format);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
