/* sched_private.h - what the scheduler's files share (see scheduler.h).
 * Not for other modules: they use scheduler.h's functions and the view.
 * Main thread only. */
#pragma once

#include "alert.h"
#include "scheduler.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* scheduler.c */
/* n zeroed jobs in one block (NULL: out of memory); each is set up with
 * sched_job_init() and ends with sched_job_free(). */
struct job *sched_jobs_alloc(struct sched *s, size_t n);
void sched_job_init(struct job *j, struct sched *s, struct job_def *d, bool paused);
struct job *sched_job_free(struct job *j);
/* Feeds ev to j's state machine and carries out the actions. a: NULL for
 * the job's own policy. r: the run that ended (JOB_EV_RUN_ENDED). Returns
 * the start outcome (start requests). j may be freed (JOB_ACT_FORGET). */
enum start_outcome sched_job_feed(struct job *j, enum job_event ev, const struct job_event_args *a,
                                  const struct run *r);
/* sched_job_feed() with the job's own policy and an instant (DUE,
 * RETRY_DUE, the claim outcomes) and attempt (claim outcomes). */
enum start_outcome sched_job_feed_instant(struct job *j, enum job_event ev, usec_t instant, unsigned attempt);
void sched_dispatch_pending(struct sched *s);
/* The job named name in jobs (sorted by name), or NULL. */
struct job *sched_job_bsearch(struct job *const *jobs, size_t n, const char *name);
void sched_job_timer_fired(struct timer *t, usec_t now);
void sched_job_retry_fired(struct timer *t, usec_t now);
void sched_shutdown_timer_fired(struct timer *t, usec_t now);
/* consecutive_failures changed from or to 0, or the job joined or left
 * the table: keeps s->n_failing equal to the count. */
void sched_count_failing(struct sched *s, const struct job *j, int delta);
uint64_t sched_rng_next(struct sched *s);

/* A job whose deadlines are wall-clock instants: calendar and cron, and
 * `every` of a cluster = once job (aligned to the epoch, cluster.h). */
static inline bool job_def_on_wall_clock(const struct job_def *d) {
        return d->schedule != SCHEDULE_EVERY || job_def_cluster_once(d);
}

/* sched_run.c */
/* j's side record, made on first use; NULL when out of memory (logged). */
struct job_side *sched_notes_get(struct job *j);
/* The run's end into the job's history (and the journal). */
void sched_log_run_end(struct job *j, struct run *r);

/* sched_cluster.c (issue 12) */
/* Sets up s->cluster when the configuration has [cluster] (a failure is
 * logged: cluster jobs then follow cluster_unreachable). */
void sched_cluster_init(struct sched *s);
void sched_cluster_done(struct sched *s);
/* JOB_ACT_CLAIM: claims (j, instant, attempt); an immediate "undecided"
 * when there is no cluster. */
void sched_cluster_claim(struct job *j, usec_t instant, unsigned attempt);
/* A claimed run was created / has ended (its record, the fence timer). */
void sched_cluster_run_started(struct sched *s, struct run *r);
void sched_cluster_run_ended(struct sched *s, struct run *r, const char *result, usec_t duration);
/* The log line of a skip a claim caused (counted by the caller). */
void sched_cluster_log_skip(struct job *j, enum job_skip_reason why);
/* What this node saw of the job's last instant: where it ran, its result
 * ("running", "ran there", "exit status 3"...). False: nothing seen. */
bool sched_cluster_last(const struct sched *s, const char *job, const char **ret_node, const char **ret_result);
/* A reload: [cluster] is kept as at start; a change is logged. */
void sched_cluster_reload_check(const struct config *old, const struct config *nc);
/* A won instant's start was queued (overlap=queue/replace) / the queued
 * start is taken (true: it was a won instant) or dropped. */
void sched_cluster_queued(struct job *j, usec_t instant, unsigned attempt);
bool sched_cluster_take_queued(struct job *j, usec_t *ret_instant, unsigned *ret_attempt);
/* A won claim that was not run: its record says why. */
void sched_cluster_not_run(struct job *j, usec_t instant, unsigned attempt, const char *why);

/* sched_arm.c */
enum sched_arm_mode {
        SCHED_ARM_NEXT,         /* the elapse after base (base: the one that just came) */
        SCHED_ARM_START,        /* evd starts: persistent= catches up what it missed while down */
        SCHED_ARM_RELOAD,       /* a reload changed or added the job: the same, but "due since" */
};
void sched_job_arm(struct job *j, usec_t base, enum sched_arm_mode mode);
struct timer_clock *sched_job_clock(struct job *j);
void sched_on_wall_clock_change(struct timer_clock *tc);

/* sched_reload.c */
int sched_reloader_init(struct sched *s);
/* Shutdown: refuses the waiters (-ESHUTDOWN); a running parse's result
 * will be discarded. */
void sched_reloader_shutdown(struct sched *s);
/* Joins a running parse and frees everything. */
void sched_reloader_done(struct sched *s);

/* sched_metrics.c */
/* A value metrics show may have changed (a job event, a deadline re-armed). */
static inline void sched_metrics_touch(struct sched *s) { s->metrics_dirty = true; }
/* After each loop iteration: hands a snapshot to the metrics file's
 * writer when one is due and the writer is idle. */
void sched_metrics_after_dispatch(struct sched *s);
/* At exit, after the last run: writes the metrics file one last time and
 * stops the thread. */
void sched_metrics_done(struct sched *s);

/* sched_status.c */
/* j's view; full: with last_result (rendered text), else without it. */
void sched_fill_view(const struct job *j, struct job_view *v, bool full);
void sched_watchdog_fired(struct timer *t, usec_t now);
void sched_status_timer_fired(struct timer *t, usec_t now);
void sched_refresh_status(struct sched *s);
/* The spawn step's name as a small id (interned; the names are static). */
uint8_t sched_step_id(const char *step);
const char *sched_step_name(uint8_t id);

/* sched_watch.c: the dead-man check (expect_success_within=) and the
 * failure streak's start, kept in the job's side record. Its fields are
 * sched_watch.c's alone; all 0 (and the timer stopped): no check and no
 * streak. */
struct job_watch {
        struct timer timer;     /* the deadline, on s->wall; armed iff it runs and no episode is on */
        usec_t first_seen;      /* realtime evd first loaded the job with the key; 0: no key */
        usec_t count_from;      /* realtime the count starts from (see sched_watch.c) */
        usec_t overdue_since;   /* realtime the deadline passed; 0: no episode */
        usec_t failing_since;   /* realtime end of the first of the consecutive failures; 0: none */
};
/* The deadline's callback (sched_side_get() sets the timer up). */
void sched_watch_fired(struct timer *t, usec_t now);
/* The dead-man actions (JOB_ACT_{STOP,ARM}_DEADLINE, ALERT_OVERDUE) of one
 * transition, and the end of an overdue episode (from sched_job_feed()). */
void sched_watch_actions(struct job *j, enum job_event ev, const struct job_actions *act);
/* A run ended, before its JOB_EV_RUN_ENDED; end is realtime. */
void sched_watch_run_ended(struct job *j, bool ok, usec_t end);
/* evd starts: the job's check from its state file entry (NULL: none). */
void sched_watch_restore(struct job *j, const struct state_entry *saved);
/* A reload replaced j's definition; old_within: its value before (0 for
 * a job the reload adds). */
void sched_watch_reload(struct job *j, usec_t old_within);
/* After a step of the wall clock. */
void sched_watch_clock_changed(struct sched *s);
void sched_watch_view(const struct job *j, struct job_view *v);
/* Fills e's dead-man fields; false if the job has no check to save. */
bool sched_watch_entry(const struct job *j, struct state_entry *e);
/* Debug builds: the deadline runs iff it should. */
bool sched_watch_verify(const struct job *j);

/* sched_side.c: one record per job that needs one (the dead-man check,
 * a failure streak, failed runs by kind, a queued start, a last success
 * the last run no longer shows), allocated on demand and individually (a
 * pointer to it stays good while the job has it); j->side is its slot +
 * 1, 0: none. Each module keeps its own part's logic. */
struct job_side {
        struct job *job;
        struct job_watch watch;         /* sched_watch.c's */
        struct job_notes notes;         /* scheduler.c's (run counts by kind, the queued start) */
        usec_t last_success;            /* job_last_success() while the last run is not a success */
};
/* j's record, or NULL when it has none. */
struct job_side *sched_side_of(const struct job *j);
/* j's record, made (zeroed, the watch's timer set up) when missing; NULL
 * when out of memory (the caller logs what it loses). */
struct job_side *sched_side_get(struct job *j);
/* Frees j's record if nothing in it is in use any more. */
void sched_side_release(struct job *j);
/* Frees j's record whatever it holds (the job is freed). */
void sched_side_free(struct job *j);
/* After every job is freed. */
void sched_side_done(struct sched *s);
/* j's notes, or NULL when it has none. */
const struct job_notes *sched_job_notes(const struct job *j);
/* Debug builds: j's record is its own, in its slot, and in use. */
bool sched_side_verify(const struct job *j);

/* sched_alert.c */
/* Raises an alert of j: builds the request (the job's facts, r's result
 * and output tail; r is NULL for ALERT_OVERDUE) and queues it on the alert
 * executor, which runs the job's hook (on_failure for FAILURE and OVERDUE,
 * on_recovery for RECOVERY) and sends its mail as mail_on= says. Nothing
 * happens for a job with neither hook nor mail for that kind. The run's
 * end has been logged before; nothing here can block the loop. */
void sched_alert(struct job *j, enum alert_kind kind, const struct run *r);
void sched_alert_report_fired(struct timer *t, usec_t now);
/* At exit: logs the drops not yet reported, carries out (for kill_grace)
 * or drops what is queued, joins the alert threads. */
void sched_alerts_done(struct sched *s);
