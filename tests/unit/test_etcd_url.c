/* Unit tests for etcd_url.c: endpoints that parse (and how they are
 * normalised), endpoints that are rejected (with a message), lists, and
 * etcd_available() matching the build. Runs in every build. */
#include <check.h>
#include <stdlib.h>

#include "etcd.h"

static void good(const char *in, const char *want) {
        char *out = NULL, *err = NULL;
        ck_assert_msg(etcd_url_parse(in, &out, &err) == 0, "%s: %s", in, err ? err : "?");
        ck_assert_str_eq(out, want);
        ck_assert_ptr_null(err);
        free(out);
}

static void bad(const char *in, const char *why) {
        char *out = NULL, *err = NULL;
        ck_assert_int_eq(etcd_url_parse(in, &out, &err), -EINVAL);
        ck_assert_ptr_null(out); /* ret_ written only on success */
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, why) && strstr(err, "bad etcd endpoint"), "%s: %s", in, err);
        free(err);
        /* NULL ret_error is allowed. */
        ck_assert_int_eq(etcd_url_parse(in, &out, NULL), -EINVAL);
}

START_TEST(test_good) {
        good("http://10.0.0.1:2379", "http://10.0.0.1:2379");
        good("http://10.0.0.1", "http://10.0.0.1:2379");
        good("https://etcd-1.example.com:12379/", "https://etcd-1.example.com:12379");
        good("http://[::1]:2379", "http://[::1]:2379");
        good("http://[fe80::1]", "http://[fe80::1]:2379");
        good("http://localhost:1", "http://localhost:1");
        good("http://h:65535", "http://h:65535");
}
END_TEST

START_TEST(test_bad) {
        bad("ftp://h:1", "want http://");
        bad("10.0.0.1:2379", "want http://");
        bad("HTTP://h:1", "want http://");
        bad("http://", "no host");
        bad("http://:2379", "no host");
        bad("http://h:", "bad port");
        bad("http://h:0", "out of range");
        bad("http://h:65536", "out of range");
        bad("http://h:99999999999999999999", "out of range");
        bad("http://h:12x", "unexpected");
        bad("http://h:1/v3/kv", "unexpected");
        bad("http://h:1?x=1", "unexpected");
        bad("http://u:p@h:1", "bad port");
        bad("http://u@h:1", "user names");
        bad("http://-h:1", "bad host");
        bad("http://h-:1", "bad host");
        bad("http://a..b:1", "bad host");
        bad("http://h_x:1", "bad host");
        bad("http://[::1:2379", "unterminated");
        bad("http://[]:1", "bad IPv6");
        bad("http://[zz::1]:1", "bad IPv6");
}
END_TEST

START_TEST(test_list) {
        char **v = NULL, *err = NULL;
        ck_assert_int_eq(etcd_url_parse_list(" http://a:1, http://b:2 ,http://c\t", &v, &err), 0);
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[0], "http://a:1");
        ck_assert_str_eq(v[1], "http://b:2");
        ck_assert_str_eq(v[2], "http://c:2379");
        strv_free(v);
        v = NULL;
        ck_assert_int_eq(etcd_url_parse_list("http://a:1, ftp://b", &v, &err), -EINVAL);
        ck_assert_ptr_null(v);
        ck_assert_ptr_nonnull(strstr(err, "ftp://b"));
        free(err);
        ck_assert_int_eq(etcd_url_parse_list(" , ", &v, &err), -EINVAL);
        ck_assert_str_eq(err, "no etcd endpoint given");
        free(err);
}
END_TEST

START_TEST(test_available) {
#ifdef EVD_HAVE_ETCD
        ck_assert(etcd_available());
#else
        ck_assert(!etcd_available());
#endif
}
END_TEST

int main(void) {
        Suite *s = suite_create("etcd_url");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_bad);
        tcase_add_test(tc, test_list);
        tcase_add_test(tc, test_available);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
