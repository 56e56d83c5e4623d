/* sched_run.c - a run's end as the scheduler records it (see
 * scheduler.h): the journal line with its fields, the job's last result
 * and counters, the notes of a failure (its kind, the last success) in the
 * job's side record; job_describe_result(). Main thread only. */
#include "sched_private.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "timespan.h"

/* ---- notes: what few jobs need (scheduler.h), in the side record ---- */

/* j's side record, made on first use; NULL when out of memory (logged). */
struct job_side *sched_notes_get(struct job *j) {
        struct job_side *x = sched_side_get(j);
        if (!x)
                log_job(LOG_ERR, j->def->name, 0, NULL,
                        "out of memory: run counts by result and the last success are incomplete");
        return x;
}

static enum job_failure_kind failure_kind(const struct run *r) {
        if (r->timed_out)
                return JOB_FAILED_TIMEOUT;
        if (r->spawn_error)
                return JOB_FAILED_SPAWN;
        return r->wait_code == CLD_EXITED ? JOB_FAILED_EXIT_CODE : JOB_FAILED_SIGNAL;
}

/* A failed run into the job's notes: its kind, and the last success
 * (derived from the last run while that one succeeded) kept before the
 * last run's record is overwritten. */
static void note_failure(struct job *j, const struct run *r) {
        struct job_side *x = sched_notes_get(j);
        if (!x)
                return;
        if (j->n_runs > 0 && j->last.ok)
                x->last_success = j->last_start + j->last_duration;
        x->notes.failed[failure_kind(r)]++;
}

/* The run's end into the job's history (and the journal). */
void sched_log_run_end(struct job *j, struct run *r) {
        char result[256], dur[TIMESPAN_MAX], f_status[48], f_dur[48], f_cpu_u[48], f_cpu_s[48], f_rss[48],
                f_attempt[32], f_sched[48];
        usec_t duration = r->end_monotonic - r->start_monotonic;
        bool ok = run_succeeded(r);

        run_describe_result(r, result, sizeof result);
        if (r->lease_expiry)
                sched_cluster_run_ended(j->sched, r, result, duration);
        if (r->spawn_error == 0 && r->wait_code == CLD_EXITED)
                snprintf(f_status, sizeof f_status, "EVD_EXIT_STATUS=%d", r->wait_status);
        else if (r->spawn_error == 0)
                snprintf(f_status, sizeof f_status, "EVD_EXIT_SIGNAL=%s",
                         sigabbrev_np(r->wait_status) ? sigabbrev_np(r->wait_status) : "?");
        else
                snprintf(f_status, sizeof f_status, "EVD_EXIT_STATUS=%d", 127);
        snprintf(f_dur, sizeof f_dur, "EVD_DURATION_USEC=%llu", (unsigned long long)duration);
        snprintf(f_cpu_u, sizeof f_cpu_u, "EVD_CPU_USER_USEC=%llu",
                 (unsigned long long)r->rusage.ru_utime.tv_sec * USEC_PER_SEC + (usec_t)r->rusage.ru_utime.tv_usec);
        snprintf(f_cpu_s, sizeof f_cpu_s, "EVD_CPU_SYSTEM_USEC=%llu",
                 (unsigned long long)r->rusage.ru_stime.tv_sec * USEC_PER_SEC + (usec_t)r->rusage.ru_stime.tv_usec);
        snprintf(f_rss, sizeof f_rss, "EVD_MAX_RSS_KB=%ld", r->rusage.ru_maxrss);
        snprintf(f_attempt, sizeof f_attempt, "EVD_ATTEMPT=%u", r->attempt);
        snprintf(f_sched, sizeof f_sched, "EVD_SCHEDULED_USEC=%llu", (unsigned long long)r->scheduled);
        char *fields[] = { f_status, f_dur, f_cpu_u, f_cpu_s, f_rss, f_attempt, f_sched, NULL };

        timespan_format(dur, sizeof dur, duration - duration % (duration >= USEC_PER_SEC ? USEC_PER_MSEC : 1));
        /* A run evd itself ended (shutdown, overlap = replace) did not
         * fail: a warning, not an error, so a plain stop logs no errors. */
        bool stopped = !ok && r->cancelled && !r->timed_out;
        log_job(ok ? LOG_INFO : stopped ? LOG_WARNING : LOG_ERR, j->def->name, r->id, fields, "%s: %s%s after %s",
                ok ? "finished" : stopped ? "stopped" : "failed", result,
                r->timed_out ? " (timed out)" : r->cancelled ? " (cancelled)" : "", dur);

        sched_watch_run_ended(j, ok, r->start_realtime + duration);
        if (!ok)
                note_failure(j, r);
        j->n_runs++;
        j->last_start = r->start_realtime;
        j->last_duration = duration;
        j->last = (struct job_result){
                .status = r->spawn_error ? r->spawn_error : r->wait_status,
                .code = r->spawn_error ? 0 : (uint8_t)r->wait_code,
                .step = r->spawn_error ? sched_step_id(r->spawn_step) : 0,
                .ok = ok, .timed_out = r->timed_out, .cancelled = r->cancelled,
        };
        bool listed = !j->sm.removed;
        if (listed)
                sched_count_failing(j->sched, j, -1);
        if (!ok) {
                j->n_failures++;
                j->consecutive_failures++;
                j->sched->stats.runs_failed++;
        } else {
                j->consecutive_failures = 0;
        }
        if (listed)
                sched_count_failing(j->sched, j, +1);
}

char *job_describe_result(const struct job *j, char *buf, size_t size) {
        struct run r = {
                .spawn_error = j->last.code == 0 ? j->last.status : 0,
                .spawn_step = sched_step_name(j->last.step),
                .wait_code = j->last.code,
                .wait_status = j->last.status,
        };
        if (j->n_runs == 0) {
                snprintf(buf, size, "%s", "");
                return buf;
        }
        return run_describe_result(&r, buf, size);
}
