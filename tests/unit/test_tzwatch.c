/* test_tzwatch.c - the system zone set once and re-read on change. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "loop.h"
#include "tz.h"
#include "tzwatch.h"

START_TEST(test_setup_respects_tz) {
        setenv("TZ", "Europe/Berlin", 1);
        ck_assert(!tz_setup());
        ck_assert_str_eq(getenv("TZ"), "Europe/Berlin");
        unsetenv("TZ");
        ck_assert(tz_setup());
        ck_assert_str_eq(getenv("TZ"), ":/etc/localtime");
        /* A reload leaves the same $TZ behind. */
        tz_reload_zone();
        ck_assert_str_eq(getenv("TZ"), ":/etc/localtime");
}
END_TEST

static unsigned calls;
static void on_change(void *userdata) {
        calls++;
        loop_quit(userdata);
}

/* A new "localtime" in the watched directory (made the way timedatectl
 * does: a link renamed into place) reaches the callback through the loop;
 * other names do not. */
START_TEST(test_watch) {
        char tmpl[] = "/tmp/evd-test-tzwatch-XXXXXX";
        char *dir = mkdtemp(tmpl);
        char a[256], b[256], c[256];
        struct loop l = { .epoll_fd = -1 };
        struct tzwatch w;

        ck_assert_ptr_nonnull(dir);
        ck_assert_int_eq(loop_init(&l), 0);
        ck_assert_int_eq(tzwatch_init_dir(&w, &l, dir, on_change, &l), 0);

        calls = 0;
        snprintf(a, sizeof a, "%s/other", dir);
        ck_assert_int_eq(symlink("/usr/share/zoneinfo/UTC", a), 0);
        /* Another name: the watch reads its event and lets it go. */
        w.source.callback(&w.source, EPOLLIN);
        ck_assert_uint_eq(calls, 0);
        ck_assert_uint_eq(w.changes, 0);

        snprintf(b, sizeof b, "%s/.localtime.tmp", dir);
        ck_assert_int_eq(symlink("/usr/share/zoneinfo/Asia/Tokyo", b), 0);
        snprintf(c, sizeof c, "%s/localtime", dir);
        ck_assert_int_eq(rename(b, c), 0);

        ck_assert_int_eq(loop_run(&l), 0);
        ck_assert_uint_eq(calls, 1);
        ck_assert_uint_eq(w.changes, 1);

        tzwatch_done(&w);
        loop_done(&l);
        unlink(a);
        unlink(c);
        rmdir(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("tzwatch");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_setup_respects_tz);
        tcase_add_test(tc, test_watch);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
