/* alertstool - drives the alerting modules from the end-to-end tests in
 * tests/alerts/ (not installed):
 *
 *   alertstool metrics FILE prometheus|openmetrics
 *       renders a fixture of jobs (odd names included) and daemon counters
 *       and writes it to FILE with metrics_write_file(), or to stdout when
 *       FILE is "-".
 *
 * Exit status: 0 done, 1 failed (the error on stderr), 2 usage. */
#include <stdio.h>

#include "metrics.h"

static int cmd_metrics(int argc, char **argv) {
        if (argc != 4)
                return 2;
        enum metrics_format f;
        if (streq(argv[3], "prometheus"))
                f = METRICS_FORMAT_PROMETHEUS;
        else if (streq(argv[3], "openmetrics"))
                f = METRICS_FORMAT_OPENMETRICS;
        else
                return 2;
        usec_t t0 = 1700000000 * USEC_PER_SEC;
        struct metrics_job jobs[] = {
                { .name = "backup", .last_start = t0, .last_success = t0 + 90 * USEC_PER_SEC,
                  .last_duration = 90 * USEC_PER_SEC + 5, .next_run = t0 + 3600 * USEC_PER_SEC,
                  .runs = { 10, 2, 1, 1, 0 }, .running = 1 },
                { .name = "never-ran", .next_run = t0 + 60 * USEC_PER_SEC, .paused = true },
                { .name = "odd \"name\" with \\ and\nnewline", .last_start = t0, .last_duration = 1,
                  .runs = { 0, 1 }, .overdue = true },
                { .name = "ünïcødé.job", .next_run = USEC_INFINITY },
        };
        static const struct metrics_daemon_value daemon[] = {
                { "uptime_seconds", "Seconds since evd started.", METRICS_GAUGE, 3600 },
                { "jobs", "Jobs in the configuration.", METRICS_GAUGE, 4 },
                { "runs_started", "Runs started.", METRICS_COUNTER, 14 },
                { "runs_failed", "Runs that failed.", METRICS_COUNTER, 4 },
                { "running", "Runs in flight.", METRICS_GAUGE, 1 },
        };
        struct strbuf b = { 0 };
        int r = metrics_render(&b, f, jobs, ELEMENTSOF(jobs), daemon, ELEMENTSOF(daemon));
        if (r >= 0) {
                if (streq(argv[2], "-"))
                        r = write_all(STDOUT_FILENO, b.s, b.len);
                else
                        r = metrics_write_file(argv[2], b.s);
        }
        strbuf_done(&b);
        if (r < 0) {
                fprintf(stderr, "alertstool: metrics: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        int r = 2;
        if (argc >= 2 && streq(argv[1], "metrics"))
                r = cmd_metrics(argc, argv);
        if (r == 2)
                fprintf(stderr, "usage: alertstool metrics FILE prometheus|openmetrics\n");
        return r;
}
