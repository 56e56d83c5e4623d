/* Unit tests for cluster.c's pure parts (issue 12): the instant as a key
 * part, the run and node keys, every= aligned to the epoch, the timing
 * derived from the lease. Runs in every build (these exist without etcd). */
#include <check.h>
#include <stdlib.h>

#include "cluster.h"

START_TEST(test_instant) {
        char buf[48];
        ck_assert_str_eq(cluster_instant_format(1733222400 * USEC_PER_SEC, buf, sizeof buf), "1733222400");
        ck_assert_str_eq(cluster_instant_format(1733222400 * USEC_PER_SEC + 500000, buf, sizeof buf),
                         "1733222400.500000");
        ck_assert_str_eq(cluster_instant_format(1733222400 * USEC_PER_SEC + 7, buf, sizeof buf), "1733222400.000007");
        ck_assert_str_eq(cluster_instant_format(0, buf, sizeof buf), "0");
}
END_TEST

START_TEST(test_keys) {
        char *k = cluster_run_key("prod", "nightly-report", 1733202000 * USEC_PER_SEC, 1);
        ck_assert_str_eq(k, "/evd/prod/runs/nightly-report/1733202000");
        free(k);
        /* A retry is its own claim, under the instant's key. */
        k = cluster_run_key("prod", "dump", 1733202000 * USEC_PER_SEC + 250000, 3);
        ck_assert_str_eq(k, "/evd/prod/runs/dump/1733202000.250000/attempt-3");
        free(k);
        k = cluster_run_key("prod", "dump", 1733202000 * USEC_PER_SEC, 0);
        ck_assert_str_eq(k, "/evd/prod/runs/dump/1733202000");
        free(k);
        k = cluster_node_key("prod", "web-1");
        ck_assert_str_eq(k, "/evd/prod/nodes/web-1");
        free(k);
}
END_TEST

START_TEST(test_every_aligned) {
        const usec_t s = USEC_PER_SEC;
        /* The first multiple of every after `after`: the same on every node,
         * whatever its start time or the phase of its clock. */
        ck_assert_uint_eq(cluster_every_next(60 * s, 1000 * s), 1020 * s);
        ck_assert_uint_eq(cluster_every_next(60 * s, 1020 * s), 1080 * s); /* strictly after */
        ck_assert_uint_eq(cluster_every_next(60 * s, 1020 * s - 1), 1020 * s);
        ck_assert_uint_eq(cluster_every_next(s, 1733222400 * s + 123), 1733222401 * s);
        ck_assert_uint_eq(cluster_every_next(1500 * USEC_PER_MSEC, 2 * s), 3 * s);
        for (usec_t a = 0; a < 10 * s; a += 333333)
                ck_assert_uint_eq(cluster_every_next(7 * s, a) % (7 * s), 0);
}
END_TEST

START_TEST(test_timing) {
        ck_assert_uint_eq(cluster_keepalive_period(9 * USEC_PER_SEC), 3 * USEC_PER_SEC);
        ck_assert_uint_eq(cluster_claim_timeout(30 * USEC_PER_SEC), 10 * USEC_PER_SEC);
        /* Never below half a second. */
        ck_assert_uint_eq(cluster_keepalive_period(USEC_PER_SEC), 500 * USEC_PER_MSEC);
}
END_TEST

int main(void) {
        Suite *s = suite_create("cluster");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_instant);
        tcase_add_test(tc, test_keys);
        tcase_add_test(tc, test_every_aligned);
        tcase_add_test(tc, test_timing);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
