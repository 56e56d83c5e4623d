/* control.c - the control socket (see control.h).
 *
 * Replies: `list` sizes its columns to their content and keeps every line
 * within 79 characters (cutting the schedule, then the job name, with "…";
 * --json has them whole). With --json an error is a JSON object too
 * ({"error": ..., "code": N}), so a script always gets JSON on stdout. A
 * failed reload always names at least one PATH[:LINE] and why. */
#include "control.h"

#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "log.h"
#include "scheduler.h"
#include "strbuf.h"
#include "timespan.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define NEXT_MAX 100
/* `list` fits an 80-column terminal: at most 79 characters a line. */
#define LIST_WIDTH 79
#define LIST_MIN_SCHED 12
#define LIST_MIN_JOB 12

struct control_client {
        struct loop_source source;
        struct control *ctl;
        struct timer deadline;
        struct control_client *next, *prev;
        char in[CONTROL_REQUEST_MAX];
        size_t in_len;
        char *out;
        size_t out_len, out_off;
        bool authorized;
};

/* ---- rendering ---- */

static void fmt_iso(struct strbuf *b, usec_t t) {
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
                fmt_iso(b, t);
}

static const char *fmt_short(usec_t t, char *buf, size_t size) {
        if (t == 0 || t == USEC_INFINITY)
                return "-";
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(buf, size, "%m-%d %H:%M", &tm);
        return buf;
}

static const char *fmt_long(usec_t t, char *buf, size_t size) {
        if (t == 0 || t == USEC_INFINITY)
                return "-";
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm);
        return buf;
}

/* Milliseconds are enough for a run of a second or more; a shorter one
 * keeps its microseconds rather than showing as "0". */
static usec_t duration_rounded(usec_t d) {
        return d >= USEC_PER_SEC ? d - d % USEC_PER_MSEC : d;
}

static char *schedule_text(const struct job_def *d, char *buf, size_t size) {
        char span[TIMESPAN_MAX];
        switch (d->schedule) {
        case SCHEDULE_EVERY:
                snprintf(buf, size, "every %s", timespan_format(span, sizeof span, d->every));
                break;
        case SCHEDULE_CALENDAR:
                snprintf(buf, size, "%s", d->schedule_text);
                break;
        case SCHEDULE_CRON:
                snprintf(buf, size, "cron %s", d->schedule_text);
                break;
        }
        return buf;
}

static const char *short_result(const struct job *j, char *buf, size_t size) {
        char lr[160];
        int n;
        char sig[16];
        if (j->n_runs == 0)
                return "-";
        if (j->last.ok)
                return "ok";
        if (sscanf(job_describe_result(j, lr, sizeof lr), "exit status %d", &n) == 1)
                snprintf(buf, size, "exit %d", n);
        else if (sscanf(job_describe_result(j, lr, sizeof lr), "killed by signal %15s", sig) == 1)
                snprintf(buf, size, "SIG%s", sig);
        else
                snprintf(buf, size, "no start");
        return buf;
}

static void render_list(struct sched *s, bool json, struct strbuf *b) {
        char sched_buf[256], a[32], c[32], res[32], lr[160];
        if (json) {
                strbuf_puts(b, "{\"jobs\":[");
                for (size_t i = 0; i < s->n_jobs; i++) {
                        const struct job *j = s->jobs[i];
                        strbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
                        strbuf_json_string(b, j->def->name);
                        strbuf_puts(b, ",\"schedule\":");
                        strbuf_json_string(b, schedule_text(j->def, sched_buf, sizeof sched_buf));
                        strbuf_printf(b, ",\"state\":\"%s\",\"last_run\":", job_state_to_string(job_state(j)));
                        json_time_or_null(b, j->last_start);
                        strbuf_puts(b, ",\"result\":");
                        if (j->n_runs)
                                strbuf_json_string(b, job_describe_result(j, lr, sizeof lr));
                        else
                                strbuf_puts(b, "null");
                        strbuf_printf(b, ",\"ok\":%s,\"next_run\":", j->n_runs ? (j->last.ok ? "true" : "false") : "null");
                        json_time_or_null(b, job_next_run_realtime(j));
                        strbuf_printf(b, ",\"runs\":%llu,\"failures\":%llu,\"paused\":%s}",
                                      (unsigned long long)j->n_runs, (unsigned long long)j->n_failures,
                                      j->sm.paused ? "true" : "false");
                }
                strbuf_puts(b, "]}\n");
                return;
        }
        /* Columns as wide as their widest cell, two spaces apart, the whole
         * line kept within LIST_WIDTH: when it would not fit, the schedule and
         * then the job name are cut (with "…"); `list --json` has them whole. */
        enum { C_JOB, C_SCHED, C_STATE, C_LAST, C_RESULT, C_NEXT, N_COLS };
        static const char *const headers[N_COLS] = { "JOB", "SCHEDULE", "STATE", "LAST RUN", "RESULT", "NEXT RUN" };
        size_t w[N_COLS];
        for (size_t k = 0; k < N_COLS; k++)
                w[k] = strlen(headers[k]);
        for (size_t i = 0; i < s->n_jobs; i++) {
                const struct job *j = s->jobs[i];
                w[C_JOB] = MAX(w[C_JOB], strlen(j->def->name));
                w[C_SCHED] = MAX(w[C_SCHED], strlen(schedule_text(j->def, sched_buf, sizeof sched_buf)));
                w[C_STATE] = MAX(w[C_STATE], strlen(job_state_to_string(job_state(j))));
                w[C_LAST] = MAX(w[C_LAST], strlen(fmt_short(j->last_start, a, sizeof a)));
                w[C_RESULT] = MAX(w[C_RESULT], strlen(short_result(j, res, sizeof res)));
                w[C_NEXT] = MAX(w[C_NEXT], strlen(fmt_short(job_next_run_realtime(j), c, sizeof c)));
        }
        size_t total = 2 * (N_COLS - 1);
        for (size_t k = 0; k < N_COLS; k++)
                total += w[k];
        if (total > LIST_WIDTH) {
                size_t over = total - LIST_WIDTH, cut;
                cut = w[C_SCHED] > LIST_MIN_SCHED ? MIN(over, w[C_SCHED] - LIST_MIN_SCHED) : 0;
                w[C_SCHED] -= cut, over -= cut;
                cut = w[C_JOB] > LIST_MIN_JOB ? MIN(over, w[C_JOB] - LIST_MIN_JOB) : 0;
                w[C_JOB] -= cut, over -= cut;
                cut = w[C_SCHED] > strlen(headers[C_SCHED]) ? MIN(over, w[C_SCHED] - strlen(headers[C_SCHED])) : 0;
                w[C_SCHED] -= cut;
        }
        for (size_t k = 0; k < N_COLS; k++) {
                if (k + 1 < N_COLS) {
                        strbuf_column(b, headers[k], w[k]);
                        strbuf_puts(b, "  ");
                } else
                        strbuf_puts(b, headers[k]);
        }
        strbuf_puts(b, "\n");
        for (size_t i = 0; i < s->n_jobs; i++) {
                const struct job *j = s->jobs[i];
                strbuf_column(b, j->def->name, w[C_JOB]);
                strbuf_puts(b, "  ");
                strbuf_column(b, schedule_text(j->def, sched_buf, sizeof sched_buf), w[C_SCHED]);
                strbuf_puts(b, "  ");
                strbuf_column(b, job_state_to_string(job_state(j)), w[C_STATE]);
                strbuf_puts(b, "  ");
                strbuf_column(b, fmt_short(j->last_start, a, sizeof a), w[C_LAST]);
                strbuf_puts(b, "  ");
                strbuf_column(b, short_result(j, res, sizeof res), w[C_RESULT]);
                strbuf_puts(b, "  ");
                strbuf_puts(b, fmt_short(job_next_run_realtime(j), c, sizeof c));
                strbuf_puts(b, "\n");
        }
        if (s->n_jobs == 0)
                strbuf_puts(b, "(no jobs)\n");
}

static void render_job(struct sched *s, const struct job *j, bool json, struct strbuf *b) {
        const struct job_def *d = j->def;
        char sched_buf[256], t1[64], t2[64], span[TIMESPAN_MAX], lr[160];
        usec_t next[3];
        size_t n_next = job_next_elapses(j, next, 3);

        if (json) {
                strbuf_puts(b, "{\"name\":");
                strbuf_json_string(b, d->name);
                strbuf_puts(b, ",\"command\":");
                strbuf_json_string(b, d->command);
                strbuf_puts(b, ",\"schedule\":");
                strbuf_json_string(b, schedule_text(d, sched_buf, sizeof sched_buf));
                strbuf_printf(b, ",\"state\":\"%s\",\"overlap\":\"%s\",\"enabled\":%s,\"paused\":%s",
                              job_state_to_string(job_state(j)), overlap_policy_to_string(d->overlap),
                              d->enabled ? "true" : "false", j->sm.paused ? "true" : "false");
                strbuf_printf(b, ",\"running\":%u,\"runs\":%llu,\"failures\":%llu,\"skipped\":%llu", j->sm.n_running,
                              (unsigned long long)j->n_runs, (unsigned long long)j->n_failures,
                              (unsigned long long)j->n_skipped);
                strbuf_puts(b, ",\"last_run\":");
                json_time_or_null(b, j->last_start);
                strbuf_puts(b, ",\"last_result\":");
                if (j->n_runs)
                        strbuf_json_string(b, job_describe_result(j, lr, sizeof lr));
                else
                        strbuf_puts(b, "null");
                strbuf_printf(b, ",\"last_duration_usec\":%llu,\"next\":[", (unsigned long long)j->last_duration);
                for (size_t i = 0; i < n_next; i++) {
                        if (i)
                                strbuf_puts(b, ",");
                        fmt_iso(b, next[i]);
                }
                strbuf_puts(b, "],\"file\":");
                strbuf_json_string(b, d->file ? d->file : "");
                strbuf_printf(b, ",\"line\":%u}\n", d->line);
                return;
        }
        strbuf_printf(b, "%s\n", d->name);
        strbuf_printf(b, "  command:   %s%s\n", d->command, d->shell ? " (through /bin/sh)" : "");
        strbuf_printf(b, "  schedule:  %s\n", schedule_text(d, sched_buf, sizeof sched_buf));
        strbuf_printf(b, "  state:     %s%s\n", job_state_to_string(job_state(j)),
                      j->sm.n_running > 1 ? " (several runs)" : "");
        strbuf_printf(b, "  overlap:   %s\n", overlap_policy_to_string(d->overlap));
        if (j->n_runs)
                strbuf_printf(b, "  last run:  %s, %s after %s\n", fmt_long(j->last_start, t1, sizeof t1),
                              job_describe_result(j, lr, sizeof lr), timespan_format(span, sizeof span,
                                                             duration_rounded(j->last_duration)));
        else
                strbuf_puts(b, "  last run:  never\n");
        for (size_t i = 0; i < n_next; i++)
                strbuf_printf(b, "  %s  %s\n", i == 0 ? "next run:" : "         ", fmt_long(next[i], t2, sizeof t2));
        if (n_next == 0)
                strbuf_puts(b, "  next run:  -\n");
        strbuf_printf(b, "  runs:      %llu, %llu failed, %llu skipped\n", (unsigned long long)j->n_runs,
                      (unsigned long long)j->n_failures, (unsigned long long)j->n_skipped);
        strbuf_printf(b, "  defined:   %s:%u\n", d->file ? d->file : "?", d->line);
}

static void render_stats(struct sched *s, struct control *ctl, bool json, struct strbuf *b) {
        usec_t up = now_usec(CLOCK_REALTIME) - s->started_realtime;
        char span[TIMESPAN_MAX];
        struct {
                const char *name;
                uint64_t v;
        } rows[] = {
                { "uptime_sec", up / USEC_PER_SEC },
                { "jobs", s->n_jobs },
                { "loop_iterations", s->loop->iterations },
                { "events_timer_boottime", s->mono.source.events },
                { "events_timer_realtime", s->wall.source.events },
                { "events_completion", s->pool.source.events },
                { "events_control", ctl ? ctl->listen.events : 0 },
                { "clock_changes", s->wall.clock_changes },
                { "timers_fired", s->mono.fired + s->wall.fired },
                { "runs_started", s->stats.runs_started },
                { "runs_completed", s->pool.completed },
                { "runs_failed", s->stats.runs_failed },
                { "runs_skipped", s->stats.runs_skipped },
                { "runs_queued", s->stats.runs_queued },
                { "retries", s->stats.retries },
                { "running", s->n_running },
                { "waiting_for_worker", s->n_pending },
                { "workers", s->pool.n_workers },
                { "orphans_reaped", s->stats.orphans_reaped },
                { "reloads", s->stats.reloads },
                { "reload_failures", s->stats.reload_failures },
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

/* Why `run` did what it did. A manual run ignores `paused`, so a skip
 * always comes from the overlap policy. */
static const char *run_outcome_detail(const struct job *j, enum start_outcome o) {
        switch (o) {
        case START_QUEUED:
                return j->def->overlap == OVERLAP_REPLACE ? " (the active run is being stopped, overlap=replace)"
                                                          : " (waits for the active run, overlap=queue)";
        case START_SKIPPED:
                return j->def->overlap == OVERLAP_QUEUE ? " (a run is active and one is already queued, overlap=queue)"
                                                        : " (a run is active, overlap=skip)";
        case START_REFUSED:
                return " (evd is shutting down, or the job was removed)";
        default:
                return "";
        }
}

static struct control *current_control; /* for stats from control_handle */

#ifdef EVD_TEST_HOOKS
/* Test hooks answer only when evd was started with EVD_TEST_HOOKS=1 in its
 * environment (and built with -DEVD_TEST_HOOKS=ON, the default for
 * development builds; packages are built without). */
static bool test_hooks_enabled(void) {
        const char *e = getenv("EVD_TEST_HOOKS");
        return e && streq(e, "1");
}
#endif

int control_handle(struct sched *s, const char *request, char **ret_body) {
        struct strbuf b = { 0 };
        char *words[8];
        size_t n = 0;
        bool json = false;
        int code = 0;
        char *copy = strdup(request);

        if (!copy) {
                *ret_body = strdup("out of memory\n");
                return 1;
        }
        for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (streq(w, "--json"))
                        json = true;
                else if (n < ELEMENTSOF(words))
                        words[n++] = w;
                else {
                        code = 2;
                        strbuf_puts(&b, "too many arguments\n");
                        goto out;
                }
        }
        if (n == 0) {
                code = 2;
                strbuf_puts(&b, "empty request\n");
                goto out;
        }
        const char *cmd = words[0];
        struct job *j = NULL;
        bool needs_job = streq(cmd, "run") || streq(cmd, "next") || streq(cmd, "pause") || streq(cmd, "resume") ||
                         (streq(cmd, "status") && n > 1);
        if (needs_job) {
                if (n < 2) {
                        code = 2;
                        strbuf_printf(&b, "%s: a job name is needed\n", cmd);
                        goto out;
                }
                j = sched_find_job(s, words[1]);
                if (!j) {
                        code = 3;
                        strbuf_printf(&b, "no such job: %s\n", words[1]);
                        goto out;
                }
        }

        if (streq(cmd, "list") && n == 1)
                render_list(s, json, &b);
        else if (streq(cmd, "status") && n == 1) {
                char status[256];
                sched_status_line(s, status, sizeof status);
                if (json) {
                        strbuf_puts(&b, "{\"status\":");
                        strbuf_json_string(&b, status);
                        strbuf_printf(&b, ",\"pid\":%d,\"jobs\":[", (int)getpid());
                        for (size_t i = 0; i < s->n_jobs; i++) {
                                struct strbuf one = { 0 };
                                render_job(s, s->jobs[i], true, &one);
                                if (i)
                                        strbuf_puts(&b, ",");
                                if (one.s)
                                        strbuf_append(&b, one.s, one.len - 1); /* without the newline */
                                strbuf_done(&one);
                        }
                        strbuf_puts(&b, "]}\n");
                } else {
                        strbuf_printf(&b, "evd (pid %d): %s\n\n", (int)getpid(), status);
                        for (size_t i = 0; i < s->n_jobs; i++)
                                render_job(s, s->jobs[i], false, &b);
                }
        } else if (streq(cmd, "status") && n == 2)
                render_job(s, j, json, &b);
        else if (streq(cmd, "stats") && n == 1)
                render_stats(s, current_control, json, &b);
        else if (streq(cmd, "run") && n == 2) {
                enum start_outcome o;
                int r = sched_run_now(s, words[1], &o);
                if (r < 0) {
                        code = 1;
                        strbuf_printf(&b, "%s: not started: evd is shutting down\n", words[1]);
                } else {
                        if (o == START_SKIPPED || o == START_REFUSED)
                                code = 1;
                        if (json)
                                strbuf_printf(&b, "{\"job\":\"%s\",\"outcome\":\"%s\"}\n", words[1],
                                              start_outcome_to_string(o));
                        else
                                strbuf_printf(&b, "%s: %s%s\n", words[1], start_outcome_to_string(o),
                                              run_outcome_detail(j, o));
                }
        } else if (streq(cmd, "reload") && n == 1) {
                char **errors = NULL;
                int r = sched_reload(s, &errors);
                if (r < 0 && strv_length(errors) == 0) {
                        /* Not a configuration error (out of memory, or a
                         * loader that failed without a message): still say
                         * something a reader can act on. */
                        char *e = strdup_printf("%s: %s; see evd's log", s->config_path,
                                                r == -EINVAL ? "the configuration could not be loaded" : strerror(-r));
                        if (e)
                                (void)strv_push(&errors, e);
                        free(e);
                }
                if (r < 0) {
                        code = 1;
                        if (json) {
                                strbuf_puts(&b, "{\"reloaded\":false,\"errors\":[");
                                for (size_t i = 0; errors && errors[i]; i++) {
                                        if (i)
                                                strbuf_puts(&b, ",");
                                        strbuf_json_string(&b, errors[i]);
                                }
                                strbuf_puts(&b, "]}\n");
                        } else {
                                for (char **e = errors; e && *e; e++)
                                        strbuf_printf(&b, "%s\n", *e);
                                strbuf_puts(&b, "reload failed: the running configuration is unchanged\n");
                        }
                } else if (json)
                        strbuf_printf(&b, "{\"reloaded\":true,\"jobs\":%zu,\"errors\":[]}\n", s->n_jobs);
                else
                        strbuf_printf(&b, "configuration reloaded: %zu jobs\n", s->n_jobs);
                strv_free(errors);
        } else if (streq(cmd, "next") && (n == 2 || n == 3)) {
                unsigned long count = 1;
                char *end = NULL;
                if (n == 3) {
                        count = strtoul(words[2], &end, 10);
                        if (!*words[2] || *end || count == 0 || count > NEXT_MAX) {
                                code = 2;
                                strbuf_printf(&b, "next: N must be 1..%d\n", NEXT_MAX);
                                goto out;
                        }
                }
                usec_t times[NEXT_MAX];
                size_t k = job_next_elapses(j, times, count);
                char t[64];
                if (json) {
                        strbuf_puts(&b, "{\"job\":");
                        strbuf_json_string(&b, j->def->name);
                        strbuf_puts(&b, ",\"next\":[");
                        for (size_t i = 0; i < k; i++) {
                                if (i)
                                        strbuf_puts(&b, ",");
                                fmt_iso(&b, times[i]);
                        }
                        strbuf_puts(&b, "]}\n");
                } else {
                        for (size_t i = 0; i < k; i++)
                                strbuf_printf(&b, "%s\n", fmt_long(times[i], t, sizeof t));
                        if (k == 0)
                                strbuf_printf(&b, "%s: no next run\n", j->def->name);
                }
        } else if ((streq(cmd, "pause") || streq(cmd, "resume")) && n == 2) {
                bool pause = streq(cmd, "pause");
                int r = sched_set_paused(s, words[1], pause);
                if (json)
                        strbuf_printf(&b, "{\"job\":\"%s\",\"paused\":%s,\"changed\":%s}\n", words[1],
                                      pause ? "true" : "false", r > 0 ? "true" : "false");
                else
                        strbuf_printf(&b, "%s: %s%s\n", words[1], r > 0 ? "" : "already ",
                                      pause ? "paused" : "resumed");
#ifdef EVD_TEST_HOOKS
        } else if (streq(cmd, "test-stall") && n == 2 && test_hooks_enabled()) {
                /* Test hook: block the main loop, as a bug would, so the
                 * watchdog test can show systemd restarting a stalled evd. */
                unsigned long sec = strtoul(words[1], NULL, 10);
                log_warning("test-stall: blocking the main loop for %lus", sec);
                struct timespec ts = { .tv_sec = (time_t)MIN(sec, 3600UL) };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                strbuf_puts(&b, "stalled\n");
        } else if (streq(cmd, "test-clock-step") && n == 2 && test_hooks_enabled()) {
                /* Test hook: a step of the wall clock by SECONDS (may be
                 * negative), seen only by this evd and handled on the path
                 * of a real one (timer_clock_test_step()). */
                char *end;
                errno = 0;
                long long sec = strtoll(words[1], &end, 10);
                if (errno || end == words[1] || *end || sec < -86400LL * 366 || sec > 86400LL * 366) {
                        code = 2;
                        strbuf_printf(&b, "test-clock-step: bad number of seconds \"%s\"\n", words[1]);
                } else {
                        log_warning("test-clock-step: stepping evd's wall clock by %llds", sec);
                        timer_clock_test_step(&s->wall, (int64_t)sec * (int64_t)USEC_PER_SEC);
                        strbuf_printf(&b, "stepped %llds\n", sec);
                }
#endif
        } else {
                code = 2;
                strbuf_printf(&b, "unknown request \"%s\" (or wrong number of arguments)\n", cmd);
        }
out:
        free(copy);
        if (json && code != 0 && b.s && b.s[0] != '{') {
                /* An error asked for in JSON gets a JSON object too, so a
                 * script reading stdout always has something to parse. */
                struct strbuf e = { 0 };
                if (b.len > 0 && b.s[b.len - 1] == '\n')
                        b.s[--b.len] = '\0';
                strbuf_puts(&e, "{\"error\":");
                strbuf_json_string(&e, b.s);
                strbuf_printf(&e, ",\"code\":%d}\n", code);
                strbuf_done(&b);
                b = e;
        }
        *ret_body = strbuf_steal(&b);
        if (!*ret_body) {
                *ret_body = strdup("out of memory\n");
                code = 1;
        }
        return code;
}

/* ---- connections ---- */

static void client_free(struct control_client *cl) {
        struct control *ctl = cl->ctl;
        timer_stop(&cl->deadline);
        loop_remove(ctl->loop, &cl->source);
        safe_close(cl->source.fd);
        if (cl->prev)
                cl->prev->next = cl->next;
        else
                ctl->clients = cl->next;
        if (cl->next)
                cl->next->prev = cl->prev;
        ctl->n_clients--;
        free(cl->out);
        free(cl);
        if (ctl->accept_paused && ctl->n_clients < CONTROL_MAX_CLIENTS) {
                ctl->accept_paused = false;
                if (!ctl->accept_backoff)
                        loop_modify(ctl->loop, &ctl->listen, EPOLLIN);
        }
}

static void client_reply(struct control_client *cl, int code, const char *body) {
        char *msg = strdup_printf("EVD/1 %d\n%s", code, body);
        if (!msg) {
                /* Out of memory: drop the client rather than leave it
                 * without a reply to send (it would be read again). */
                client_free(cl);
                return;
        }
        free(cl->out);
        cl->out = msg;
        cl->out_len = strlen(msg);
        cl->out_off = 0;
        shutdown(cl->source.fd, SHUT_RD);
        loop_modify(cl->ctl->loop, &cl->source, EPOLLOUT);
}

static void client_write(struct control_client *cl) {
        while (cl->out_off < cl->out_len) {
                ssize_t n = send(cl->source.fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        break;
                }
                cl->out_off += (size_t)n;
        }
        client_free(cl);
}

static void client_dispatch(struct loop_source *src, uint32_t events) {
        struct control_client *cl = container_of(src, struct control_client, source);
        struct control *ctl = cl->ctl;

        if (cl->out) {
                client_write(cl);
                return;
        }
        for (;;) {
                ssize_t n = recv(src->fd, cl->in + cl->in_len, sizeof cl->in - cl->in_len, 0);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        client_free(cl);
                        return;
                }
                if (n == 0) {
                        /* EOF without a full line: treat what came as the request. */
                        if (cl->in_len == 0) {
                                client_free(cl);
                                return;
                        }
                        break;
                }
                char *nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
                cl->in_len += (size_t)n;
                if (nl) {
                        cl->in_len = (size_t)(nl - cl->in);
                        break;
                }
                if (cl->in_len == sizeof cl->in) {
                        ctl->bad_requests++;
                        client_reply(cl, 2, "request too long\n");
                        return;
                }
        }
        cl->in[cl->in_len] = '\0';
        if (cl->in_len > 0 && cl->in[cl->in_len - 1] == '\r')
                cl->in[--cl->in_len] = '\0';
        for (size_t i = 0; i < cl->in_len; i++)
                if ((unsigned char)cl->in[i] < 0x20 && cl->in[i] != '\t') {
                        ctl->bad_requests++;
                        client_reply(cl, 2, "malformed request\n");
                        return;
                }
        ctl->requests++;
        char *body = NULL;
        current_control = ctl;
        int code = control_handle(ctl->sched, cl->in, &body);
        current_control = NULL;
        if (code == 2)
                ctl->bad_requests++;
        client_reply(cl, code, body ? body : "");
        free(body);
}

static void accept_retry_fired(struct timer *t, usec_t now) {
        struct control *ctl = container_of(t, struct control, accept_retry);
        ctl->accept_backoff = false;
        if (!ctl->accept_paused)
                loop_modify(ctl->loop, &ctl->listen, EPOLLIN);
}

static void client_timeout(struct timer *t, usec_t now) {
        struct control_client *cl = container_of(t, struct control_client, deadline);
        cl->ctl->timeouts++;
        client_free(cl);
}

static bool peer_authorized(int fd, const struct config *cfg) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        if (cred.uid == 0 || cred.uid == geteuid())
                return true;
        if (!cfg->control_group)
                return false;
        if (cred.gid == cfg->control_gid)
                return true;
        gid_t groups[256];
        len = sizeof groups;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == cfg->control_gid)
                        return true;
        return false;
}

static void listen_dispatch(struct loop_source *src, uint32_t events) {
        struct control *ctl = container_of(src, struct control, listen);
        for (;;) {
                if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
                        /* Leave the rest in the backlog until a slot frees. */
                        ctl->accept_paused = true;
                        loop_modify(ctl->loop, &ctl->listen, 0);
                        return;
                }
                int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return;
                        /* Out of descriptors or memory: the client stays in
                         * the backlog, the listener stays readable. Stop
                         * watching it for a while instead of spinning, and
                         * say so once per episode. */
                        if (!ctl->accept_failing)
                                log_warning_errno(errno, "Control socket: accept failed; trying again every %llums",
                                                  (unsigned long long)(CONTROL_ACCEPT_RETRY / USEC_PER_MSEC));
                        ctl->accept_failures++;
                        ctl->accept_failing = true;
                        ctl->accept_backoff = true;
                        loop_modify(ctl->loop, &ctl->listen, 0);
                        timer_start(&ctl->sched->mono, &ctl->accept_retry,
                                    now_usec(CLOCK_BOOTTIME) + CONTROL_ACCEPT_RETRY);
                        return;
                }
                ctl->accepted++;
                if (ctl->accept_failing) {
                        log_info("Control socket: accepting clients again");
                        ctl->accept_failing = false;
                }
                struct control_client *cl = calloc(1, sizeof(*cl));
                if (!cl) {
                        safe_close(fd);
                        continue;
                }
                cl->ctl = ctl;
                cl->source.fd = fd;
                cl->source.name = "control-client";
                cl->source.callback = client_dispatch;
                timer_init(&cl->deadline, client_timeout);
                cl->next = ctl->clients;
                if (ctl->clients)
                        ctl->clients->prev = cl;
                ctl->clients = cl;
                ctl->n_clients++;
                if (loop_add(ctl->loop, &cl->source, EPOLLIN) < 0) {
                        client_free(cl);
                        continue;
                }
                timer_start(&ctl->sched->mono, &cl->deadline, now_usec(CLOCK_BOOTTIME) + CONTROL_CLIENT_TIMEOUT);
                if (!peer_authorized(fd, ctl->sched->config)) {
                        ctl->refused++;
                        client_reply(cl, 1, "permission denied: only root and members of control_group may use evd's control socket\n");
                }
        }
}

int control_open(struct control *c, struct loop *l, struct sched *s, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        *c = (struct control){ .loop = l, .sched = s, .lock_fd = -1, .listen.fd = -1 };
        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-ENAMETOOLONG, "Control socket path %s is too long", path);
        c->path = strdup(path);
        char *lock = strdup_printf("%s.lock", path);
        if (!c->path || !lock) {
                free(lock);
                return -ENOMEM;
        }
        c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (c->lock_fd < 0) {
                r = log_error_errno(errno, "Cannot open %s", lock);
                free(lock);
                return r;
        }
        if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
                if (r == -EADDRINUSE)
                        log_error("Another evd is already running with control socket %s (%s is locked)", path, lock);
                else
                        log_error_errno(r, "Cannot lock %s", lock);
                free(lock);
                return r;
        }
        free(lock);

        c->listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->listen.fd < 0)
                return log_error_errno(errno, "Cannot create the control socket");
        strcpy(sa.sun_path, path);
        /* A socket left there is stale (we hold the lock): remove it. Never
         * remove anything else: --socket /etc/evd.conf must not delete it. */
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        log_error("Control socket %s exists and is not a socket; not replacing it", path);
                        return -EEXIST;
                }
                (void)unlink(path);
        }
        mode_t old = umask(0117);
        r = bind(c->listen.fd, (struct sockaddr *)&sa, sizeof sa);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Cannot bind the control socket %s", path);
        if (s->config->control_group && chown(path, 0, s->config->control_gid) < 0)
                log_warning_errno(errno, "Cannot give %s to group %s", path, s->config->control_group);
        if (listen(c->listen.fd, 512) < 0)
                return log_error_errno(errno, "Cannot listen on %s", path);
        c->listen.name = "control";
        c->listen.callback = listen_dispatch;
        timer_init(&c->accept_retry, accept_retry_fired);
        r = loop_add(l, &c->listen, EPOLLIN);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the control socket");
        return 0;
}

void control_close(struct control *c) {
        timer_stop(&c->accept_retry);
        while (c->clients)
                client_free(c->clients);
        if (c->listen.fd >= 0) {
                loop_remove(c->loop, &c->listen);
                c->listen.fd = safe_close(c->listen.fd);
                if (c->path)
                        (void)unlink(c->path);
        }
        c->lock_fd = safe_close(c->lock_fd);
        free(c->path);
        c->path = NULL;
}
