/* render.c - see render.h.
 *
 * `list` sizes its columns to their content and keeps every line within 79
 * characters (cutting the schedule, then the job name, with "…"; --json has
 * them whole). */
#include "render.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "loop.h"
#include "scheduler.h"
#include "timespan.h"

/* `list` fits an 80-column terminal: at most 79 characters a line. */
#define LIST_WIDTH 79
#define LIST_MIN_SCHED 12
#define LIST_MIN_JOB 12

void render_json_time(struct strbuf *b, usec_t t) {
        char buf[64], tz[8];
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        strftime(tz, sizeof tz, "%z", &tm); /* +0200 -> +02:00 */
        strbuf_printf(b, "\"%s%.3s:%s\"", buf, tz, tz + 3);
}

static void json_time_or_null(struct strbuf *b, usec_t t) {
        if (t == 0 || t == USEC_INFINITY)
                strbuf_puts(b, "null");
        else
                render_json_time(b, t);
}

/* Realtime t in the local zone with strftime's fmt, or "-" for 0 (never)
 * and USEC_INFINITY (none). */
static const char *fmt_local(usec_t t, const char *fmt, char *buf, size_t size) {
        if (t == 0 || t == USEC_INFINITY)
                return "-";
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(buf, size, fmt, &tm);
        return buf;
}

static const char *fmt_short(usec_t t, char *buf, size_t size) {
        return fmt_local(t, "%m-%d %H:%M", buf, size);
}

const char *render_time_long(usec_t t, char *buf, size_t size) {
        return fmt_local(t, "%Y-%m-%d %H:%M:%S %Z", buf, size);
}

/* Milliseconds are enough for a run of a second or more; a shorter one
 * keeps its microseconds rather than showing as "0". */
static usec_t duration_rounded(usec_t d) {
        return d >= USEC_PER_SEC ? d - d % USEC_PER_MSEC : d;
}

void render_schedule(struct strbuf *b, const struct job_def *d) {
        char span[TIMESPAN_MAX];
        switch (d->schedule) {
        case SCHEDULE_EVERY:
                strbuf_printf(b, "every %s", timespan_format(span, sizeof span, d->every));
                break;
        case SCHEDULE_CALENDAR:
                strbuf_puts(b, d->schedule_text);
                break;
        case SCHEDULE_CRON:
                strbuf_printf(b, "cron %s", d->schedule_text);
                break;
        }
}

/* The schedule in a scratch buffer (emptied first); "" when out of memory. */
static const char *schedule_scratch(struct strbuf *scratch, const struct job_def *d) {
        scratch->len = 0;
        if (scratch->s)
                scratch->s[0] = '\0';
        render_schedule(scratch, d);
        return scratch->s && !scratch->oom ? scratch->s : "";
}

static const char *short_result(const struct job_view *v, char *buf, size_t size) {
        int n;
        char sig[16];
        if (v->n_runs == 0)
                return "-";
        if (v->last_ok)
                return "ok";
        if (sscanf(v->last_result, "exit status %d", &n) == 1)
                snprintf(buf, size, "exit %d", n);
        else if (sscanf(v->last_result, "killed by signal %15s", sig) == 1)
                snprintf(buf, size, "SIG%s", sig);
        else
                snprintf(buf, size, "no start");
        return buf;
}

/* cluster = once (issue 12): where the last instant ran, as this node saw it. */
static void cluster_json(const struct job_view *v, struct strbuf *b) {
        if (!job_def_cluster_once(v->def))
                return;
        strbuf_puts(b, ",\"cluster\":{\"node\":");
        if (v->cluster_node)
                strbuf_json_string(b, v->cluster_node);
        else
                strbuf_puts(b, "null");
        strbuf_puts(b, ",\"result\":");
        if (v->cluster_result)
                strbuf_json_string(b, v->cluster_result);
        else
                strbuf_puts(b, "null");
        strbuf_puts(b, "}");
}

static void list_json(const struct sched *s, struct strbuf *b) {
        size_t n = sched_job_count(s);
        struct strbuf scratch = { 0 };
        struct job_view v;
        strbuf_puts(b, "{\"jobs\":[");
        for (size_t i = 0; i < n; i++) {
                sched_job_view_at(s, i, &v);
                strbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
                strbuf_json_string(b, v.def->name);
                strbuf_puts(b, ",\"schedule\":");
                strbuf_json_string(b, schedule_scratch(&scratch, v.def));
                strbuf_printf(b, ",\"state\":\"%s\",\"last_run\":", v.state);
                json_time_or_null(b, v.last_start);
                strbuf_puts(b, ",\"result\":");
                if (v.n_runs)
                        strbuf_json_string(b, v.last_result);
                else
                        strbuf_puts(b, "null");
                strbuf_printf(b, ",\"ok\":%s,\"next_run\":", v.n_runs ? (v.last_ok ? "true" : "false") : "null");
                json_time_or_null(b, v.next_run);
                strbuf_printf(b, ",\"runs\":%llu,\"failures\":%llu,\"paused\":%s", (unsigned long long)v.n_runs,
                              (unsigned long long)v.n_failures, v.paused ? "true" : "false");
                cluster_json(&v, b);
                strbuf_puts(b, "}");
        }
        strbuf_puts(b, "]}\n");
        strbuf_done(&scratch);
}

/* Columns as wide as their widest cell, two spaces apart, the whole line
 * kept within LIST_WIDTH: when it would not fit, the schedule and then the
 * job name are cut (with "…"); `list --json` has them whole. */
enum { C_JOB, C_SCHED, C_STATE, C_LAST, C_RESULT, C_NEXT, N_COLS };

static void list_widths(size_t w[N_COLS], const char *const headers[N_COLS]) {
        size_t total = 2 * (N_COLS - 1);
        for (size_t k = 0; k < N_COLS; k++)
                total += w[k];
        if (total <= LIST_WIDTH)
                return;
        size_t over = total - LIST_WIDTH, cut;
        cut = w[C_SCHED] > LIST_MIN_SCHED ? MIN(over, w[C_SCHED] - LIST_MIN_SCHED) : 0;
        w[C_SCHED] -= cut, over -= cut;
        cut = w[C_JOB] > LIST_MIN_JOB ? MIN(over, w[C_JOB] - LIST_MIN_JOB) : 0;
        w[C_JOB] -= cut, over -= cut;
        cut = w[C_SCHED] > strlen(headers[C_SCHED]) ? MIN(over, w[C_SCHED] - strlen(headers[C_SCHED])) : 0;
        w[C_SCHED] -= cut;
}

/* The cells of one job's row. */
static void list_cells(const struct job_view *v, struct strbuf *scratch, char bufs[3][32], const char *cell[N_COLS]) {
        cell[C_JOB] = v->def->name;
        cell[C_SCHED] = schedule_scratch(scratch, v->def);
        cell[C_STATE] = v->state;
        cell[C_LAST] = fmt_short(v->last_start, bufs[0], sizeof bufs[0]);
        cell[C_RESULT] = short_result(v, bufs[1], sizeof bufs[1]);
        if (v->cluster_node && v->cluster_result && streq(v->cluster_result, "ran there")) {
                /* cluster = once: the last instant ran on another node. */
                snprintf(bufs[1], sizeof bufs[1], "on %s", v->cluster_node);
                cell[C_RESULT] = bufs[1];
        }
        cell[C_NEXT] = fmt_short(v->next_run, bufs[2], sizeof bufs[2]);
}

void render_list(const struct sched *s, bool json, struct strbuf *b) {
        static const char *const headers[N_COLS] = { "JOB", "SCHEDULE", "STATE", "LAST RUN", "RESULT", "NEXT RUN" };
        size_t n = sched_job_count(s), w[N_COLS];
        struct strbuf scratch = { 0 };
        const char *cell[N_COLS];
        char bufs[3][32];
        struct job_view v;

        if (json) {
                list_json(s, b);
                return;
        }
        for (size_t k = 0; k < N_COLS; k++)
                w[k] = strlen(headers[k]);
        for (size_t i = 0; i < n; i++) {
                sched_job_view_at(s, i, &v);
                list_cells(&v, &scratch, bufs, cell);
                for (size_t k = 0; k < N_COLS; k++)
                        w[k] = MAX(w[k], strlen(cell[k]));
        }
        list_widths(w, headers);
        for (size_t k = 0; k < N_COLS; k++) {
                if (k + 1 < N_COLS) {
                        strbuf_column(b, headers[k], w[k]);
                        strbuf_puts(b, "  ");
                } else
                        strbuf_puts(b, headers[k]);
        }
        strbuf_puts(b, "\n");
        for (size_t i = 0; i < n; i++) {
                sched_job_view_at(s, i, &v);
                list_cells(&v, &scratch, bufs, cell);
                for (size_t k = 0; k + 1 < N_COLS; k++) {
                        strbuf_column(b, cell[k], w[k]);
                        strbuf_puts(b, "  ");
                }
                strbuf_puts(b, cell[C_NEXT]);
                strbuf_puts(b, "\n");
        }
        if (n == 0)
                strbuf_puts(b, "(no jobs)\n");
        strbuf_done(&scratch);
}

static void job_json(const struct job_view *v, const usec_t *next, size_t n_next, struct strbuf *b) {
        const struct job_def *d = v->def;
        strbuf_puts(b, "{\"name\":");
        strbuf_json_string(b, d->name);
        strbuf_puts(b, ",\"command\":");
        strbuf_json_string(b, d->command);
        struct strbuf sc = { 0 };
        strbuf_puts(b, ",\"schedule\":");
        strbuf_json_string(b, schedule_scratch(&sc, d));
        strbuf_done(&sc);
        strbuf_printf(b, ",\"state\":\"%s\",\"overlap\":\"%s\",\"enabled\":%s,\"paused\":%s", v->state,
                      overlap_policy_to_string(d->overlap), d->enabled ? "true" : "false",
                      v->paused ? "true" : "false");
        strbuf_printf(b, ",\"running\":%u,\"runs\":%llu,\"failures\":%llu,\"skipped\":%llu", v->n_running,
                      (unsigned long long)v->n_runs, (unsigned long long)v->n_failures,
                      (unsigned long long)v->n_skipped);
        strbuf_puts(b, ",\"last_run\":");
        json_time_or_null(b, v->last_start);
        strbuf_puts(b, ",\"last_result\":");
        if (v->n_runs)
                strbuf_json_string(b, v->last_result);
        else
                strbuf_puts(b, "null");
        strbuf_printf(b, ",\"last_duration_usec\":%llu,\"next\":[", (unsigned long long)v->last_duration);
        for (size_t i = 0; i < n_next; i++) {
                if (i)
                        strbuf_puts(b, ",");
                render_json_time(b, next[i]);
        }
        strbuf_puts(b, "],\"file\":");
        strbuf_json_string(b, d->file ? d->file : "");
        strbuf_printf(b, ",\"line\":%u", d->line);
        cluster_json(v, b);
        strbuf_puts(b, "}");
}

void render_job(const struct job_view *v, const usec_t *next, size_t n_next, bool json, struct strbuf *b) {
        const struct job_def *d = v->def;
        char t1[64], t2[64], span[TIMESPAN_MAX];

        if (json) {
                job_json(v, next, n_next, b);
                strbuf_puts(b, "\n");
                return;
        }
        strbuf_printf(b, "%s\n", d->name);
        strbuf_printf(b, "  command:   %s%s\n", d->command, d->shell ? " (through /bin/sh)" : "");
        strbuf_puts(b, "  schedule:  ");
        render_schedule(b, d);
        strbuf_printf(b, "\n  state:     %s%s\n", v->state, v->n_running > 1 ? " (several runs)" : "");
        strbuf_printf(b, "  overlap:   %s\n", overlap_policy_to_string(d->overlap));
        if (v->n_runs)
                strbuf_printf(b, "  last run:  %s, %s after %s\n", render_time_long(v->last_start, t1, sizeof t1),
                              v->last_result,
                              timespan_format(span, sizeof span, duration_rounded(v->last_duration)));
        else
                strbuf_puts(b, "  last run:  never\n");
        for (size_t i = 0; i < n_next; i++)
                strbuf_printf(b, "  %s  %s\n", i == 0 ? "next run:" : "         ",
                              render_time_long(next[i], t2, sizeof t2));
        if (n_next == 0)
                strbuf_puts(b, "  next run:  -\n");
        if (job_def_cluster_once(d)) {
                if (v->cluster_node)
                        strbuf_printf(b, "  cluster:   once; last instant on %s: %s\n", v->cluster_node,
                                      v->cluster_result ? v->cluster_result : "?");
                else
                        strbuf_puts(b, "  cluster:   once; no instant seen yet\n");
        }
        strbuf_printf(b, "  runs:      %llu, %llu failed, %llu skipped\n", (unsigned long long)v->n_runs,
                      (unsigned long long)v->n_failures, (unsigned long long)v->n_skipped);
        strbuf_printf(b, "  defined:   %s:%u\n", d->file ? d->file : "?", d->line);
}

void render_status(const struct sched *s, bool json, struct strbuf *b) {
        size_t n = sched_job_count(s);
        struct job_view v;
        char status[256];

        sched_status_line((struct sched *)s, status, sizeof status);
        if (json) {
                strbuf_puts(b, "{\"status\":");
                strbuf_json_string(b, status);
                strbuf_printf(b, ",\"pid\":%d,\"jobs\":[", (int)getpid());
        } else
                strbuf_printf(b, "evd (pid %d): %s\n\n", (int)getpid(), status);
        for (size_t i = 0; i < n; i++) {
                sched_job_view_at(s, i, &v);
                size_t n_next = v.next_run != USEC_INFINITY;
                if (json) {
                        if (i)
                                strbuf_puts(b, ",");
                        job_json(&v, &v.next_run, n_next, b);
                } else
                        render_job(&v, &v.next_run, n_next, false, b);
        }
        if (json)
                strbuf_puts(b, "]}\n");
}

void render_stats(const struct sched *s, const struct loop *l, const struct control *ctl, bool json,
                  struct strbuf *b) {
        struct sched_counters c;
        struct sched_event_counters e;
        sched_get_counters(s, &c);
        sched_get_event_counters(s, &e);
        usec_t up = now_usec(CLOCK_REALTIME) - e.started_realtime;
        char span[TIMESPAN_MAX];
        const struct {
                const char *name;
                uint64_t v;
        } rows[] = {
                { "uptime_sec", up / USEC_PER_SEC },
                { "jobs", c.n_jobs },
                { "loop_iterations", l ? l->iterations : 0 },
                { "events_timer_boottime", e.events_timer_boottime },
                { "events_timer_realtime", e.events_timer_realtime },
                { "events_completion", e.events_completion },
                { "events_control", ctl ? ctl->listen.events : 0 },
                { "clock_changes", c.clock_changes },
                { "timers_fired", e.timers_fired },
                { "runs_started", c.runs_started },
                { "runs_completed", c.runs_completed },
                { "runs_failed", c.runs_failed },
                { "runs_skipped", c.runs_skipped },
                { "runs_queued", c.runs_queued },
                { "retries", c.retries },
                { "running", c.running },
                { "waiting_for_worker", c.waiting_for_worker },
                { "workers", c.worker_threads },
                { "orphans_reaped", c.orphans_reaped },
                { "reloads", c.reloads },
                { "reload_failures", c.reload_failures },
                { "control_requests", ctl ? ctl->requests : 0 },
                { "control_refused", ctl ? ctl->refused : 0 },
                { "control_bad_requests", ctl ? ctl->bad_requests : 0 },
        };
        if (json) {
                strbuf_printf(b, "{\"pid\":%d", (int)getpid());
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        strbuf_printf(b, ",\"%s\":%llu", rows[i].name, (unsigned long long)rows[i].v);
                strbuf_puts(b, "}\n");
                return;
        }
        strbuf_printf(b, "%-24s %d\n", "pid", (int)getpid());
        strbuf_printf(b, "%-24s %s\n", "uptime", timespan_format(span, sizeof span, up - up % USEC_PER_SEC));
        for (size_t i = 1; i < ELEMENTSOF(rows); i++)
                strbuf_printf(b, "%-24s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
}

void render_json_error(struct strbuf *b, int code) {
        struct strbuf e = { 0 };
        if (b->len > 0 && b->s[b->len - 1] == '\n')
                b->s[--b->len] = '\0';
        strbuf_puts(&e, "{\"error\":");
        strbuf_json_string(&e, b->s ? b->s : "");
        strbuf_printf(&e, ",\"code\":%d}\n", code);
        strbuf_done(b);
        *b = e;
}
