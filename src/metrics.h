/* metrics.h - evd's state as Prometheus / OpenMetrics exposition text, and
 * the atomic replacement of a metrics file for node_exporter's textfile
 * collector.
 *
 * metrics_render() is pure (no descriptors, no clocks): it turns arrays of
 * samples the caller collected into text. metrics_write_file() does the
 * blocking file work and belongs off the main loop or at a point where a
 * short write is acceptable. Both may be called from any thread; neither
 * keeps state. */
#pragma once

#include "strbuf.h"
#include "util.h"

/* How a run ended, for the per-job run counters (evd_job_runs_total{result=}). */
enum metrics_result {
        METRICS_RESULT_SUCCESS,
        METRICS_RESULT_EXIT_CODE,
        METRICS_RESULT_SIGNAL,
        METRICS_RESULT_TIMEOUT,
        METRICS_RESULT_SPAWN_FAILED,
        METRICS_RESULT_SKIPPED,         /* a start not made (overlap=skip, paused, ...) */
        _METRICS_RESULT_MAX,
};
const char *metrics_result_to_string(enum metrics_result r);

/* One job's sample. Times are CLOCK_REALTIME usec_t; 0 means "never / not
 * known" and leaves that series out for the job (Prometheus has no null). */
struct metrics_job {
        const char *name; /* any bytes but NUL: escaped as a label value */
        usec_t last_start;
        usec_t last_success;
        usec_t last_duration; /* meaningful only when last_start != 0 */
        usec_t next_run;
        uint64_t runs[_METRICS_RESULT_MAX];
        unsigned running; /* runs in flight */
        bool overdue;
        bool paused;
};

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE };

/* One daemon-wide value (those of `evdctl stats`). name is [a-z0-9_]+
 * without the evd_ prefix; a counter gets the _total suffix. */
struct metrics_daemon_value {
        const char *name;
        const char *help;
        enum metrics_kind kind;
        uint64_t value;
};

enum metrics_format {
        /* Prometheus text format 0.0.4: what node_exporter's textfile
         * collector and promtool read. Counters' TYPE lines name the
         * sample (evd_runs_started_total); no "# EOF". */
        METRICS_FORMAT_PROMETHEUS,
        /* OpenMetrics 1.0 text: TYPE lines name the family (without
         * _total) and the text ends with "# EOF". */
        METRICS_FORMAT_OPENMETRICS,
};

/* Appends the exposition text of jobs[0..n_jobs) and daemon[0..n_daemon)
 * to b. Series are grouped by metric family, jobs in the order given.
 * Returns 0, -EINVAL for a daemon value whose name is not a valid metric
 * name, -ENOMEM when b ran out of memory. */
int metrics_render(struct strbuf *b, enum metrics_format format, const struct metrics_job *jobs, size_t n_jobs,
                   const struct metrics_daemon_value *daemon, size_t n_daemon);

/* Replaces path with text atomically: a temporary file created exclusively
 * (O_EXCL) in the same directory, written, fsync'd, made 0644, renamed over
 * path, and the directory fsync'd. A reader sees the old file or the new
 * one, never a part. Returns 0 or -errno (the temporary file is removed on
 * failure). */
int metrics_write_file(const char *path, const char *text);
