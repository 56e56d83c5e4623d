/* Unit tests for ctlproto.c (the command table evd and evdctl share) and
 * for the JSON string writer every control reply uses (strbuf.c): what is
 * not UTF-8 comes out escaped, valid UTF-8 unchanged. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "strbuf.h"

static void check_json(const char *in, const char *want) {
        struct strbuf b = { 0 };
        strbuf_json_string(&b, in);
        ck_assert(!b.oom);
        ck_assert_str_eq(b.s, want);
        strbuf_done(&b);
}

START_TEST(test_json_utf8) {
        check_json("plain", "\"plain\"");
        check_json("q\"b\\n\n\t\x01\x7f", "\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\"");
        /* valid UTF-8: 2, 3 and 4 bytes, as they are */
        check_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
        /* Latin-1 and stray bytes: each as \u00XX */
        check_json("caf\xe9", "\"caf\\u00e9\"");
        check_json("\xff\xfe", "\"\\u00ff\\u00fe\"");
        /* overlong "/", a surrogate, above U+10FFFF, cut sequences */
        check_json("\xc0\xaf", "\"\\u00c0\\u00af\"");
        check_json("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");
        check_json("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");
        check_json("a\xe2\x82", "\"a\\u00e2\\u0082\"");
        check_json("\xe2\x82x", "\"\\u00e2\\u0082x\"");
        check_json("\xf0\x9f\x98", "\"\\u00f0\\u009f\\u0098\"");
}
END_TEST

START_TEST(test_table) {
        for (size_t i = 0; i < _CTL_COMMAND_MAX; i++) {
                const struct ctl_command *c = &ctl_commands[i];
#ifndef EVD_TEST_HOOKS
                if (i == CTL_TEST_STALL || i == CTL_TEST_CLOCK_STEP) {
                        ck_assert_ptr_null(c->name); /* not even the names */
                        continue;
                }
#endif
                ck_assert_int_eq(c->id, (int)i);
                ck_assert_ptr_nonnull(c->name);
                ck_assert_ptr_eq(ctl_command_find(c->name), c);
                ck_assert_uint_le(c->min_args, c->max_args);
                ck_assert_ptr_nonnull(c->summary);
        }
        ck_assert_ptr_null(ctl_command_find("bogus"));
        ck_assert_ptr_null(ctl_command_find(""));
        ck_assert(!(ctl_command_find("calendar")->flags & CTL_DAEMON));
#ifdef EVD_TEST_HOOKS
        ck_assert(ctl_command_find("test-stall")->flags & CTL_TEST_HOOK);
#else
        ck_assert_ptr_null(ctl_command_find("test-stall"));
#endif
        /* the journal readers: evdctl's alone, each taking a job */
        ck_assert_uint_eq(ctl_command_find("history")->flags & (CTL_DAEMON | CTL_TAKES_JOB), CTL_TAKES_JOB);
        ck_assert_uint_eq(ctl_command_find("log")->flags & (CTL_DAEMON | CTL_TAKES_JOB), CTL_TAKES_JOB);
        ck_assert(!(ctl_command_find("import-crontab")->flags & CTL_DAEMON));
}
END_TEST

START_TEST(test_args) {
        unsigned n = 0;
        ck_assert(ctl_parse_count("1", &n) && n == 1);
        ck_assert(ctl_parse_count("100", &n) && n == 100);
        ck_assert(!ctl_parse_count("0", &n));
        ck_assert(!ctl_parse_count("101", &n));
        ck_assert(!ctl_parse_count("99999999999999999999", &n));
        ck_assert(!ctl_parse_count("", &n));
        ck_assert(!ctl_parse_count("+5", &n));
        ck_assert(!ctl_parse_count("5x", &n));
        ck_assert_uint_eq(n, 100);
        ck_assert(ctl_job_name_valid("backup-2.daily_x"));
        ck_assert(!ctl_job_name_valid(""));
        ck_assert(!ctl_job_name_valid("a b"));
        ck_assert(!ctl_job_name_valid("caf\xc3\xa9"));
        char long_name[300];
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        ck_assert(!ctl_job_name_valid(long_name));
        long_name[255] = '\0';
        ck_assert(ctl_job_name_valid(long_name));

        /* ctl_check_args: counts, job names and next's N from the table */
        char *w[] = { "job", "7", "x", NULL };
        char *bad[] = { "a b", NULL };
        const struct ctl_command *log = ctl_command_find("log"), *next = ctl_command_find("next");
        ck_assert_int_eq(ctl_check_args(log, w, 1), 0);
        ck_assert_int_eq(ctl_check_args(log, w, 2), 0);
        ck_assert_int_eq(ctl_check_args(log, w, 0), CTL_EXIT_USAGE);
        ck_assert_int_eq(ctl_check_args(log, w, 3), CTL_EXIT_USAGE);
        ck_assert_int_eq(ctl_check_args(log, bad, 1), CTL_EXIT_NO_JOB);
        ck_assert_int_eq(ctl_check_args(next, w, 2), 0);
        ck_assert_int_eq(ctl_check_args(next, (char *[]){ "job", "0", NULL }, 2), CTL_EXIT_USAGE);
        ck_assert_int_eq(ctl_check_args(ctl_command_find("list"), w, 1), CTL_EXIT_USAGE);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ctlproto");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_json_utf8);
        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_args);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
