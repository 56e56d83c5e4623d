/* Unit tests for util.c: shell-like command splitting, booleans, strv. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static void check_split(const char *in, const char *const *want) {
        char **argv = NULL;
        const char *err = NULL;
        ck_assert_msg(split_command(in, &argv, &err) == 0, "split of %s failed: %s", in, err);
        size_t n = 0;
        for (; want[n]; n++) {
                ck_assert_ptr_nonnull(argv[n]);
                ck_assert_str_eq(argv[n], want[n]);
        }
        ck_assert_ptr_null(argv[n]);
        strv_free(argv);
}

START_TEST(test_split) {
        check_split("/bin/echo hello", (const char *const[]){ "/bin/echo", "hello", NULL });
        check_split("  a   b\tc  ", (const char *const[]){ "a", "b", "c", NULL });
        check_split("sh -c 'echo $HOME; ls'", (const char *const[]){ "sh", "-c", "echo $HOME; ls", NULL });
        check_split("a \"b c\" d", (const char *const[]){ "a", "b c", "d", NULL });
        check_split("a \"x\\\"y\\\\z\"", (const char *const[]){ "a", "x\"y\\z", NULL });
        check_split("a\\ b c", (const char *const[]){ "a b", "c", NULL });
        check_split("a '' b", (const char *const[]){ "a", "", "b", NULL });
        check_split("pre'quoted'post", (const char *const[]){ "prequotedpost", NULL });
        check_split("\"\\n stays\"", (const char *const[]){ "\\n stays", NULL });
}
END_TEST

START_TEST(test_split_errors) {
        static const char *const bad[] = { "", "   ", "a 'b", "a \"b", "a\\" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                char **argv = NULL;
                const char *err = NULL;
                ck_assert_int_eq(split_command(bad[i], &argv, &err), -EINVAL);
                ck_assert_ptr_nonnull(err);
                ck_assert_ptr_null(argv);
        }
}
END_TEST

START_TEST(test_boolean) {
        ck_assert_int_eq(parse_boolean("yes"), 1);
        ck_assert_int_eq(parse_boolean("TRUE"), 1);
        ck_assert_int_eq(parse_boolean("1"), 1);
        ck_assert_int_eq(parse_boolean("no"), 0);
        ck_assert_int_eq(parse_boolean("false"), 0);
        ck_assert_int_eq(parse_boolean("0"), 0);
        ck_assert_int_eq(parse_boolean("maybe"), -EINVAL);
        ck_assert_int_eq(parse_boolean(""), -EINVAL);
}
END_TEST

START_TEST(test_strv) {
        char **v = NULL;
        ck_assert_int_eq(strv_push(&v, "a"), 0);
        ck_assert_int_eq(strv_push(&v, "b"), 0);
        ck_assert_uint_eq(strv_length(v), 2);
        char **c = strv_copy(v);
        ck_assert_str_eq(c[1], "b");
        ck_assert_ptr_null(c[2]);
        strv_free(v);
        strv_free(c);
        ck_assert_ptr_null(strv_free(NULL));
}
END_TEST

/* Many words: every one kept, in order (the vector grows geometrically). */
START_TEST(test_split_many) {
        enum { N = 200000 };
        char *line = malloc((size_t)N * 8 + 1), *p = line;
        char **argv = NULL;
        const char *err = NULL;
        ck_assert_ptr_nonnull(line);
        for (int i = 0; i < N; i++)
                p += sprintf(p, "w%d ", i);
        ck_assert_int_eq(split_command(line, &argv, &err), 0);
        ck_assert_uint_eq(strv_length(argv), N);
        ck_assert_str_eq(argv[0], "w0");
        ck_assert_str_eq(argv[N - 1], "w199999");
        strv_free(argv);
        free(line);
}
END_TEST

int main(void) {
        Suite *s = suite_create("util");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_split);
        tcase_add_test(tc, test_split_errors);
        tcase_add_test(tc, test_split_many);
        tcase_add_test(tc, test_boolean);
        tcase_add_test(tc, test_strv);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
