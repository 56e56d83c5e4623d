/* alertstool - drives the alerting modules from the end-to-end tests in
 * tests/alerts/ (not installed):
 *
 *   alertstool metrics FILE prometheus|openmetrics
 *       renders a fixture of jobs (odd names included) and daemon counters
 *       and writes it to FILE with metrics_write_file(), or to stdout when
 *       FILE is "-".
 *
 *   alertstool mail JOB TO OUTPUT_FILE TIMEOUT_SEC SENDMAIL [ARG...]
 *       composes the mail of a failed run of JOB (run 42, host from
 *       gethostname) to the address list TO with OUTPUT_FILE's bytes as the
 *       run's output, and sends it with SENDMAIL [ARG...] -t -oi. Prints
 *       "sent", or the error; then "children: none" when no child process
 *       is left (reaped or not).
 *
 * Exit status: 0 done, 1 failed (the error on stderr), 2 usage. */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mail.h"
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

static char *read_file(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        struct stat st;
        char *buf = NULL;
        if (fstat(fileno(f), &st) == 0 && (buf = malloc((size_t)st.st_size + 1)))
                *ret_len = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        return buf;
}

static void report_children(void) {
        /* ECHILD: no child at all, not even a zombie. */
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
                printf("children: none\n");
        else
                printf("children: some left\n");
}

static int cmd_mail(int argc, char **argv) {
        if (argc < 7)
                return 2;
        char err[256], hostname[256] = "localhost";
        _cleanup_(strv_freep) char **to = NULL;
        if (mail_parse_addresses(argv[3], &to, err, sizeof err) < 0) {
                fprintf(stderr, "alertstool: mail: %s\n", err);
                return 1;
        }
        size_t len = 0;
        _cleanup_(freep) char *output = read_file(argv[4], &len);
        if (!output) {
                fprintf(stderr, "alertstool: mail: %s: %m\n", argv[4]);
                return 1;
        }
        (void)gethostname(hostname, sizeof hostname - 1);
        usec_t now = now_usec(CLOCK_REALTIME);
        struct mail_facts f = {
                .job = argv[2], .run = 42, .host = hostname, .result = "exit-code",
                .result_text = "exit status 3", .exit_status = 3, .duration = 2 * USEC_PER_SEC, .attempt = 1,
                .start = now - 2 * USEC_PER_SEC, .last_success = now - USEC_PER_DAY, .date = now, .to = to,
                .output = output, .output_len = len, .nonce = (uint64_t)getpid(),
        };
        _cleanup_(freep) char *message = NULL;
        int r = mail_compose(&f, &message);
        if (r < 0) {
                fprintf(stderr, "alertstool: mail: compose: %s\n", strerror(-r));
                return 1;
        }
        char *why = NULL;
        r = mail_send(argv + 6, message, (usec_t)atoll(argv[5]) * USEC_PER_SEC, &why);
        if (r < 0)
                printf("error: %s\n", why ? why : strerror(-r));
        else
                printf("sent\n");
        free(why);
        report_children();
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        int r = 2;
        if (argc >= 2 && streq(argv[1], "metrics"))
                r = cmd_metrics(argc, argv);
        else if (argc >= 2 && streq(argv[1], "mail"))
                r = cmd_mail(argc, argv);
        if (r == 2)
                fprintf(stderr, "usage: alertstool metrics FILE prometheus|openmetrics\n"
                                "       alertstool mail JOB TO OUTPUT_FILE TIMEOUT_SEC SENDMAIL [ARG...]\n");
        return r;
}
