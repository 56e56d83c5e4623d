/* sched_private.h - what the scheduler's files share (see scheduler.h).
 * Not for other modules: they use scheduler.h's functions and the view.
 * Main thread only. */
#pragma once

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

/* sched_status.c */
void sched_watchdog_fired(struct timer *t, usec_t now);
void sched_status_timer_fired(struct timer *t, usec_t now);
void sched_refresh_status(struct sched *s);
/* The spawn step's name as a small id (interned; the names are static). */
uint8_t sched_step_id(const char *step);
const char *sched_step_name(uint8_t id);
