/* metrics.c - exposition text of evd's jobs and counters, and the atomic
 * metrics file (see metrics.h).
 *
 * Which format: node_exporter's textfile collector parses the Prometheus
 * text format (0.0.4), so a metrics_file is written in it; `evdctl
 * metrics` may ask for OpenMetrics. The two differ here only in the TYPE
 * line of counters (the sample name evd_x_total there, the family evd_x
 * here) and the closing "# EOF". Everything else is written to satisfy
 * both: counters end in _total, gauges never do, label values are escaped
 * (\\, \" and \n) and made valid UTF-8 (a bad byte becomes U+FFFD), HELP
 * texts are fixed strings without characters that need escaping, numbers
 * are integers or decimal seconds with microsecond precision.
 *
 * A job series whose value is unknown (a job that never ran has no last
 * start) is left out rather than written as 0, so that `time() -
 * evd_job_last_success_timestamp_seconds` never alerts on 1970. */
#include "metrics.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

#include "utf8.h"

static const char *const result_names[_METRICS_RESULT_MAX] = {
        [METRICS_RESULT_SUCCESS] = "success",
        [METRICS_RESULT_EXIT_CODE] = "exit-code",
        [METRICS_RESULT_SIGNAL] = "signal",
        [METRICS_RESULT_TIMEOUT] = "timeout",
        [METRICS_RESULT_SPAWN_FAILED] = "spawn-failed",
        [METRICS_RESULT_SKIPPED] = "skipped",
};

const char *metrics_result_to_string(enum metrics_result r) {
        return (unsigned)r < _METRICS_RESULT_MAX ? result_names[r] : NULL;
}

static void put_label_value(struct strbuf *b, const char *s) {
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                size_t k = utf8_char_len(s + i, n - i);
                if (k == 0) {
                        strbuf_puts(b, UTF8_REPLACEMENT);
                        i++;
                        continue;
                }
                if (s[i] == '\\')
                        strbuf_puts(b, "\\\\");
                else if (s[i] == '"')
                        strbuf_puts(b, "\\\"");
                else if (s[i] == '\n')
                        strbuf_puts(b, "\\n");
                else
                        strbuf_append(b, s + i, k);
                i += k;
        }
}

static void put_seconds(struct strbuf *b, usec_t u) {
        strbuf_printf(b, "%llu.%06llu", (unsigned long long)(u / USEC_PER_SEC),
                      (unsigned long long)(u % USEC_PER_SEC));
}

/* HELP and TYPE of a family; name is the sample name (with _total for a
 * counter). */
static void put_header(struct strbuf *b, enum metrics_format f, const char *name, enum metrics_kind kind,
                       const char *help) {
        size_t n = strlen(name);
        if (kind == METRICS_COUNTER && f == METRICS_FORMAT_OPENMETRICS)
                n -= strlen("_total");
        strbuf_printf(b, "# HELP %.*s %s\n", (int)n, name, help);
        strbuf_printf(b, "# TYPE %.*s %s\n", (int)n, name, kind == METRICS_COUNTER ? "counter" : "gauge");
}

static void put_job_sample_start(struct strbuf *b, const char *metric, const struct metrics_job *j) {
        strbuf_printf(b, "%s{job=\"", metric);
        put_label_value(b, j->name);
        strbuf_puts(b, "\"");
}

enum job_field { F_LAST_START, F_LAST_SUCCESS, F_LAST_DURATION, F_NEXT_RUN, F_RUNNING, F_OVERDUE, F_PAUSED };

static const struct job_family {
        const char *name;
        const char *help;
        enum job_field field;
} job_families[] = {
        { "evd_job_last_start_timestamp_seconds", "Start of the job's last run (Unix time).", F_LAST_START },
        { "evd_job_last_success_timestamp_seconds", "End of the job's last successful run (Unix time).",
          F_LAST_SUCCESS },
        { "evd_job_last_duration_seconds", "Duration of the job's last finished run.", F_LAST_DURATION },
        { "evd_job_next_run_timestamp_seconds", "When the job runs next (Unix time).", F_NEXT_RUN },
        { "evd_job_running", "Runs of the job in flight.", F_RUNNING },
        { "evd_job_overdue", "1 if the job has not succeeded within expect_success_within.", F_OVERDUE },
        { "evd_job_paused", "1 if the job is paused.", F_PAUSED },
};

/* Writes j's sample of family f; returns false when the job has none. */
static bool put_job_value(struct strbuf *b, const struct job_family *f, const struct metrics_job *j) {
        usec_t t = 0;
        uint64_t v = 0;
        switch (f->field) {
        case F_LAST_START:
                t = j->last_start;
                break;
        case F_LAST_SUCCESS:
                t = j->last_success;
                break;
        case F_LAST_DURATION:
                if (j->last_start == 0)
                        return false;
                put_job_sample_start(b, f->name, j);
                strbuf_puts(b, "} ");
                put_seconds(b, j->last_duration);
                strbuf_puts(b, "\n");
                return true;
        case F_NEXT_RUN:
                t = j->next_run;
                break;
        case F_RUNNING:
                v = j->running;
                goto integer;
        case F_OVERDUE:
                v = j->overdue;
                goto integer;
        case F_PAUSED:
                v = j->paused;
                goto integer;
        }
        if (t == 0 || t == USEC_INFINITY)
                return false;
        put_job_sample_start(b, f->name, j);
        strbuf_puts(b, "} ");
        put_seconds(b, t);
        strbuf_puts(b, "\n");
        return true;
integer:
        put_job_sample_start(b, f->name, j);
        strbuf_printf(b, "} %llu\n", (unsigned long long)v);
        return true;
}

static bool valid_daemon_name(const char *s, enum metrics_kind kind) {
        size_t n = strlen(s);
        if (n == 0 || s[0] == '_' || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        /* Suffixes the formats reserve (the renderer adds _total itself). */
        static const char *const reserved[] = { "_total", "_created", "_count", "_sum", "_bucket", "_info" };
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++) {
                size_t k = strlen(reserved[i]);
                if (n >= k && streq(s + n - k, reserved[i]))
                        return false;
        }
        return kind == METRICS_COUNTER || kind == METRICS_GAUGE;
}

int metrics_render(struct strbuf *b, enum metrics_format format, const struct metrics_job *jobs, size_t n_jobs,
                   const struct metrics_daemon_value *daemon, size_t n_daemon) {
        for (size_t i = 0; i < n_daemon; i++)
                if (!valid_daemon_name(daemon[i].name, daemon[i].kind))
                        return -EINVAL;

        for (size_t f = 0; f < ELEMENTSOF(job_families); f++) {
                put_header(b, format, job_families[f].name, METRICS_GAUGE, job_families[f].help);
                for (size_t i = 0; i < n_jobs; i++)
                        put_job_value(b, &job_families[f], &jobs[i]);
        }
        put_header(b, format, "evd_job_runs_total", METRICS_COUNTER, "Runs of the job by result (skipped: a start not made).");
        for (size_t i = 0; i < n_jobs; i++)
                for (size_t r = 0; r < _METRICS_RESULT_MAX; r++) {
                        put_job_sample_start(b, "evd_job_runs_total", &jobs[i]);
                        strbuf_printf(b, ",result=\"%s\"} %llu\n", result_names[r],
                                      (unsigned long long)jobs[i].runs[r]);
                }

        for (size_t i = 0; i < n_daemon; i++) {
                const struct metrics_daemon_value *d = &daemon[i];
                char name[128];
                snprintf(name, sizeof name, "evd_%s%s", d->name, d->kind == METRICS_COUNTER ? "_total" : "");
                put_header(b, format, name, d->kind, d->help && *d->help ? d->help : "evd daemon statistic.");
                strbuf_printf(b, "%s %llu\n", name, (unsigned long long)d->value);
        }
        if (format == METRICS_FORMAT_OPENMETRICS)
                strbuf_puts(b, "# EOF\n");
        return b->oom ? -ENOMEM : 0;
}

static int fsync_directory_of(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        safe_close(fd);
        return r;
}

int metrics_write_file(const char *path, const char *text) {
        _cleanup_(freep) char *tmp = NULL;
        int fd = -EBADF, r;

        /* A fixed-pattern name with a random part, created with O_EXCL so
         * that a file (or symlink) planted there is never written through.
         * The leading dot keeps node_exporter from reading it: the textfile
         * collector only reads *.prom. */
        _cleanup_(freep) char *dcopy = strdup(path), *bcopy = strdup(path);
        if (!dcopy || !bcopy)
                return -ENOMEM;
        const char *dir = dirname(dcopy), *base = basename(bcopy);
        for (int attempt = 0; attempt < 16; attempt++) {
                unsigned long long rnd = (unsigned long long)now_usec(CLOCK_MONOTONIC) ^
                                         ((unsigned long long)getpid() << 32) ^ (unsigned long long)attempt * 7919;
                free(tmp);
                tmp = strdup_printf("%s/.%s.%llx.tmp", dir, base, rnd);
                if (!tmp)
                        return -ENOMEM;
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd >= 0 || errno != EEXIST)
                        break;
        }
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fchmod(fd, 0644) < 0) /* not narrowed by the umask */
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        return fsync_directory_of(path);
}
