/* sched_alert.c - the scheduler's side of alerts (see alert.h): the job
 * state machine's JOB_ACT_ALERT_* actions (and a run's end, for
 * mail_on=output|always) become alert requests with the job's and the
 * run's facts, queued on the alert executor; the once-a-minute report of
 * what the rate limit dropped.
 *
 * Cost: a job without any alert key (nor a [daemon] default) costs two
 * pointer tests per run end; nothing is allocated for it.
 *
 * Main thread only. */
#include "sched_private.h"

#include <stdio.h>
#include <sys/wait.h>

#include "log.h"

/* EVD_RESULT: what kind of end the run had. */
static const char *result_kind(const struct run *r) {
        if (!r)
                return "overdue";
        if (r->timed_out)
                return "timeout";
        if (r->spawn_error)
                return "spawn-failed";
        if (run_succeeded(r))
                return "success";
        return r->wait_code == CLD_EXITED ? "exit-code" : "signal";
}

/* Whether kind raises a hook and a mail with the settings al. */
static void what_to_do(const struct job_alerts *al, enum alert_kind kind, const struct run *r, bool *hook,
                       bool *mail) {
        switch (kind) {
        case ALERT_FAILURE:
        case ALERT_OVERDUE:
                *hook = al->on_failure.argv;
                *mail = al->mail_to_list;
                return;
        case ALERT_RECOVERY:
                *hook = al->on_recovery.argv;
                *mail = al->mail_to_list;
                return;
        case ALERT_RUN:
        case _ALERT_KIND_MAX:
                break;
        }
        *hook = false;
        *mail = al->mail_to_list && r &&
                (al->mail_on == MAIL_ON_ALWAYS ||
                 (al->mail_on == MAIL_ON_OUTPUT && r->output_lines + r->dropped_lines > 0));
}

/* Appends s to the string in buf (size bytes), cut if it does not fit. */
static void cat_cut(char *buf, size_t size, const char *s) {
        size_t n = strlen(buf);
        if (n + 1 < size)
                snprintf(buf + n, size - n, "%s", s);
}

static void fill_run_facts(struct alert_request *a, enum alert_kind kind, const struct run *r) {
        char text[sizeof a->result_text - 16];
        a->run = r->id;
        a->attempt = r->attempt;
        a->exit_status = r->spawn_error == 0 && r->wait_code == CLD_EXITED ? r->wait_status : -1;
        a->duration = r->end_monotonic - r->start_monotonic;
        a->start = r->start_realtime;
        run_describe_result(r, text, sizeof text);
        cat_cut(a->result_text, sizeof a->result_text, kind == ALERT_RECOVERY ? "recovered: " : "");
        cat_cut(a->result_text, sizeof a->result_text, text);
        cat_cut(a->result_text, sizeof a->result_text, r->timed_out ? " (timed out)" : "");
        if (r->output_tail && r->output_tail_len > 0) {
                a->output = malloc(r->output_tail_len + 1);
                if (a->output) {
                        memcpy(a->output, r->output_tail, r->output_tail_len + 1);
                        a->output_len = r->output_tail_len;
                }
        }
}

/* The drop report's delay: a minute ($EVD_TEST_ALERT_REPORT_MS in test builds). */
static usec_t report_interval(void) {
#ifdef EVD_TEST_HOOKS
        const char *e = getenv("EVD_TEST_ALERT_REPORT_MS");
        if (e && atoi(e) > 0)
                return (usec_t)atoi(e) * USEC_PER_MSEC;
#endif
        return USEC_PER_MINUTE;
}

void sched_alert(struct job *j, enum alert_kind kind, const struct run *r) {
        struct sched *s = j->sched;
        struct job_alerts al;
        bool hook, mail;

        if (!job_def_has_alerts(j->def))
                return;
        job_def_alerts(j->def, &al);
        what_to_do(&al, kind, r, &hook, &mail);
        if (!hook && !mail)
                return;
        struct alert_request *a = calloc(1, sizeof(*a));
        if (!a) {
                log_job(LOG_ERR, j->def->name, r ? r->id : 0, NULL, "%s alert not sent: out of memory",
                        alert_kind_to_string(kind));
                return;
        }
        a->kind = kind;
        a->def = job_def_ref(j->def);
        a->result = result_kind(r);
        a->exit_status = -1;
        a->last_success = job_last_success(j);
        a->run_hook = hook;
        a->send_mail = mail;
        if (r)
                fill_run_facts(a, kind, r);
        else
                snprintf(a->result_text, sizeof a->result_text, "%s", "overdue: no successful run in time");
        usec_t now = now_usec(CLOCK_BOOTTIME);
        if (!alert_submit(&s->alerts, a, now_usec(CLOCK_MONOTONIC)) && !timer_active(&s->alert_report_timer))
                timer_start(&s->mono, &s->alert_report_timer, now + report_interval());
}

static void report_dropped(struct sched *s) {
        uint64_t n = alert_executor_take_dropped(&s->alerts);
        if (n > 0)
                log_warning("Dropped %llu alert(s) in the last minute (at most %u per minute and %u queued; %u "
                            "hooks or mails at once)", (unsigned long long)n, ALERT_RATE_PER_MINUTE,
                            ALERT_QUEUE_MAX, ALERT_WORKERS);
}

/* A minute after the first alert the rate limit dropped: how many. */
void sched_alert_report_fired(struct timer *t, usec_t now) {
        (void)now;
        report_dropped(container_of(t, struct sched, alert_report_timer));
}

void sched_alerts_done(struct sched *s) {
        timer_stop(&s->alert_report_timer);
        report_dropped(s); /* the minute's report, due or not */
        /* Alerts raised by the last runs: kill_grace to be carried out. */
        alert_executor_stop(&s->alerts, now_usec(CLOCK_MONOTONIC) + s->config->kill_grace);
}
