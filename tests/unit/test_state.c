/* Unit tests for state.c: parsing (damaged input is a warning, never a
 * failure), the atomic write, and the writer thread. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "state.h"

START_TEST(test_parse) {
        struct state s;
        char **warn = NULL;
        const char *text = "evd-state 1\n"
                           "# comment\n"
                           "job b 200 0\n"
                           "job a 100 1\n"
                           "job broken x 0\n"
                           "job c 5 7\n"
                           "garbage\n"
                           "job b 300 0\n";
        ck_assert_int_eq(state_parse(text, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_str_eq(s.entries[0].name, "a");
        ck_assert(s.entries[0].paused);
        const struct state_entry *b = state_find(&s, "b");
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(b->last_start, 300); /* the later line wins */
        ck_assert_ptr_null(state_find(&s, "c"));
        ck_assert_uint_eq(strv_length(warn), 3);
        strv_free(warn);
        state_done(&s);

        warn = NULL;
        ck_assert_int_eq(state_parse("something else\njob a 1 0\n", &s, &warn), 0);
        ck_assert_uint_eq(s.n, 0);
        ck_assert_uint_eq(strv_length(warn), 1);
        strv_free(warn);
        state_done(&s);
        ck_assert_int_eq(state_parse("", &s, NULL), 0);
        ck_assert_uint_eq(s.n, 0);
}
END_TEST

static char *make_dir(void) {
        char tmpl[] = "/tmp/evd-test-state-XXXXXX";
        char *d = mkdtemp(tmpl);
        ck_assert_ptr_nonnull(d);
        return strdup(d);
}

START_TEST(test_roundtrip_and_missing) {
        char *dir = make_dir();
        struct state s;
        char **warn = NULL;
        ck_assert_int_eq(state_load(dir, &s, &warn), 0); /* missing file: empty */
        ck_assert_uint_eq(s.n, 0);

        char *buf = NULL;
        size_t len = 0, cap = 0;
        struct state_entry e1 = { .name = "x", .last_start = 42, .paused = false };
        struct state_entry e2 = { .name = "y.z-1", .last_start = 1700000000000000ULL, .paused = true };
        ck_assert_int_eq(state_format_entry(&buf, &len, &cap, &e1), 0);
        ck_assert_int_eq(state_format_entry(&buf, &len, &cap, &e2), 0);
        ck_assert_int_eq(state_write(dir, buf, len), 0);
        free(buf);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_uint_eq(state_find(&s, "y.z-1")->last_start, 1700000000000000ULL);
        ck_assert(state_find(&s, "y.z-1")->paused);
        ck_assert_ptr_null(warn);
        state_done(&s);

        /* No temporary file is left behind. */
        char *tmp = NULL;
        ck_assert_int_ge(asprintf(&tmp, "%s/.state.tmp", dir), 0);
        ck_assert_int_ne(access(tmp, F_OK), 0);

        /* A truncated (damaged) file loads what is intact. */
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        FILE *f = fopen(path, "w");
        fputs("evd-state 1\njob x 42 0\njob y 17", f);
        fclose(f);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 1); /* "job y 17" lacks a field: skipped */
        ck_assert_uint_eq(strv_length(warn), 1);
        state_done(&s);
        strv_free(warn);
        warn = NULL;

        /* The writer thread writes the newest snapshot. */
        struct state_writer w;
        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        for (int i = 0; i < 100; i++) {
                char *t = NULL;
                int n = asprintf(&t, "evd-state 1\njob n %d 0\n", i);
                state_writer_submit(&w, t, (size_t)n);
        }
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_uint_eq(s.entries[0].last_start, 99);
        state_done(&s);

        unlink(path);
        rmdir(dir);
        free(path);
        free(tmp);
        free(dir);
}
END_TEST

START_TEST(test_write_failure_keeps_old) {
        char *dir = make_dir();
        ck_assert_int_eq(state_write(dir, "evd-state 1\njob a 1 0\n", 22), 0);
        char *sub = NULL;
        ck_assert_int_ge(asprintf(&sub, "%s/nonexistent", dir), 0);
        ck_assert_int_lt(state_write(sub, "evd-state 1\n", 12), 0);
        /* A directory where the temporary file should go makes the write fail. */
        char *tmp = NULL;
        ck_assert_int_ge(asprintf(&tmp, "%s/.state.tmp", dir), 0);
        ck_assert_int_eq(mkdir(tmp, 0700), 0);
        ck_assert_int_lt(state_write(dir, "evd-state 1\njob b 2 0\n", 22), 0);
        struct state s;
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_str_eq(s.entries[0].name, "a");
        state_done(&s);
        rmdir(tmp);
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        unlink(path);
        rmdir(dir);
        free(path);
        free(tmp);
        free(sub);
        free(dir);
}
END_TEST

/* Once no job is paused or persistent any more, the writer gets an empty
 * snapshot: it must still replace the file, or the last "paused" would come
 * back at the next start. */
START_TEST(test_writer_empty_snapshot) {
        char *dir = make_dir();
        struct state_writer w;
        struct state s;
        char *path = NULL;

        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        state_writer_submit(&w, strdup("evd-state 1\njob a 5 1\n"), 22);
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 1);
        state_done(&s);

        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        state_writer_submit(&w, NULL, 0);
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 0);
        state_done(&s);

        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        unlink(path);
        rmdir(dir);
        free(path);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("state");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_roundtrip_and_missing);
        tcase_add_test(tc, test_write_failure_keeps_old);
        tcase_add_test(tc, test_writer_empty_snapshot);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
