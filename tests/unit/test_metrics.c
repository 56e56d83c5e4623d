/* Unit tests for metrics.c: the exposition text of fixtures (exact text for
 * one job, escaping of odd job names, series left out when unknown, both
 * formats) and the atomic file replacement. The text is also checked by
 * promtool, node_exporter and a strict OpenMetrics parser in
 * tests/alerts/test_metrics.py. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "metrics.h"
#include "utf8.h"

static const struct metrics_daemon_value daemon_values[] = {
        { "runs_started", "Runs started.", METRICS_COUNTER, 12 },
        { "running", "Runs in flight.", METRICS_GAUGE, 1 },
};

static char *render(enum metrics_format f, const struct metrics_job *jobs, size_t n) {
        struct strbuf b = { 0 };
        ck_assert_int_eq(metrics_render(&b, f, jobs, n, daemon_values, ELEMENTSOF(daemon_values)), 0);
        return strbuf_steal(&b);
}

START_TEST(test_one_job_exact) {
        struct metrics_job j = {
                .name = "backup",
                .last_start = 1700000000 * USEC_PER_SEC + 250000,
                .last_success = 1700000001 * USEC_PER_SEC,
                .last_duration = 1500001,
                .next_run = 1700003600 * USEC_PER_SEC,
                .runs = { [METRICS_RESULT_SUCCESS] = 3, [METRICS_RESULT_TIMEOUT] = 1 },
                .running = 1,
        };
        char *t = render(METRICS_FORMAT_PROMETHEUS, &j, 1);
        const char *want[] = {
                "# TYPE evd_job_last_start_timestamp_seconds gauge\n"
                "evd_job_last_start_timestamp_seconds{job=\"backup\"} 1700000000.250000\n",
                "evd_job_last_success_timestamp_seconds{job=\"backup\"} 1700000001.000000\n",
                "evd_job_last_duration_seconds{job=\"backup\"} 1.500001\n",
                "evd_job_next_run_timestamp_seconds{job=\"backup\"} 1700003600.000000\n",
                "evd_job_running{job=\"backup\"} 1\n",
                "evd_job_overdue{job=\"backup\"} 0\n",
                "evd_job_paused{job=\"backup\"} 0\n",
                "# TYPE evd_job_runs_total counter\n",
                "evd_job_runs_total{job=\"backup\",result=\"success\"} 3\n",
                "evd_job_runs_total{job=\"backup\",result=\"timeout\"} 1\n",
                "evd_job_runs_total{job=\"backup\",result=\"spawn-failed\"} 0\n",
                "# HELP evd_runs_started_total Runs started.\n# TYPE evd_runs_started_total counter\n"
                "evd_runs_started_total 12\n",
                "# TYPE evd_running gauge\nevd_running 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                ck_assert_msg(strstr(t, want[i]), "missing:\n%s\nin:\n%s", want[i], t);
        ck_assert_ptr_null(strstr(t, "# EOF"));
        free(t);
}
END_TEST

START_TEST(test_openmetrics) {
        struct metrics_job j = { .name = "a" };
        char *t = render(METRICS_FORMAT_OPENMETRICS, &j, 1);
        ck_assert_ptr_nonnull(strstr(t, "# TYPE evd_job_runs counter\n"));
        ck_assert_ptr_nonnull(strstr(t, "# TYPE evd_runs_started counter\nevd_runs_started_total 12\n"));
        size_t n = strlen(t);
        ck_assert(n > 6 && streq(t + n - 6, "# EOF\n"));
        free(t);
}
END_TEST

START_TEST(test_unknown_left_out) {
        struct metrics_job j = { .name = "never", .next_run = USEC_INFINITY, .paused = true };
        char *t = render(METRICS_FORMAT_PROMETHEUS, &j, 1);
        ck_assert_ptr_null(strstr(t, "evd_job_last_start_timestamp_seconds{"));
        ck_assert_ptr_null(strstr(t, "evd_job_last_success_timestamp_seconds{"));
        ck_assert_ptr_null(strstr(t, "evd_job_last_duration_seconds{"));
        ck_assert_ptr_null(strstr(t, "evd_job_next_run_timestamp_seconds{"));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"never\"} 1\n"));
        free(t);
}
END_TEST

START_TEST(test_escaping) {
        struct metrics_job j[] = {
                { .name = "quo\"te" },
                { .name = "back\\slash" },
                { .name = "new\nline} 1\nevd_forged 1" },
                { .name = "bad\xff\xc3(utf8" },
                { .name = "ünïcødé" },
        };
        char *t = render(METRICS_FORMAT_PROMETHEUS, j, ELEMENTSOF(j));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"quo\\\"te\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"back\\\\slash\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"new\\nline} 1\\nevd_forged 1\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"bad" UTF8_REPLACEMENT UTF8_REPLACEMENT "(utf8\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "evd_job_paused{job=\"ünïcødé\"} 0\n"));
        /* No line starts with a forged sample. */
        ck_assert_ptr_null(strstr(t, "\nevd_forged"));
        free(t);
}
END_TEST

START_TEST(test_bad_daemon_names) {
        static const char *const bad[] = { "", "Upper", "has-dash", "1digit", "_lead", "x_total", "x_count" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct metrics_daemon_value v = { bad[i], "h", METRICS_GAUGE, 1 };
                struct strbuf b = { 0 };
                ck_assert_int_eq(metrics_render(&b, METRICS_FORMAT_PROMETHEUS, NULL, 0, &v, 1), -EINVAL);
                strbuf_done(&b);
        }
}
END_TEST

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        char *buf = calloc(1, 65536);
        ck_assert_ptr_nonnull(buf);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

START_TEST(test_write_file) {
        char dir[] = "/tmp/evd-test-metrics-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        char *path = strdup_printf("%s/evd.prom", dir);
        mode_t old = umask(077);
        ck_assert_int_eq(metrics_write_file(path, "first\n"), 0);
        ck_assert_int_eq(metrics_write_file(path, "second\n"), 0);
        umask(old);
        char *t = read_all(path);
        ck_assert_str_eq(t, "second\n");
        free(t);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 0777, 0644);
        /* Nothing but the file is left in the directory. */
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        n++;
        closedir(d);
        ck_assert_int_eq(n, 1);
        unlink(path);
        rmdir(dir);
        char *missing = strdup_printf("%s/no/such/evd.prom", dir);
        ck_assert_int_eq(metrics_write_file(missing, "x\n"), -ENOENT);
        free(missing);
        free(path);
}
END_TEST

int main(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_one_job_exact);
        tcase_add_test(tc, test_openmetrics);
        tcase_add_test(tc, test_unknown_left_out);
        tcase_add_test(tc, test_escaping);
        tcase_add_test(tc, test_bad_daemon_names);
        tcase_add_test(tc, test_write_file);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
