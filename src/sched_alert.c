/* sched_alert.c - the scheduler's side of alerts (see alert.h): the job
 * state machine's JOB_ACT_ALERT_* actions (and a run's end, for
 * mail_on=output|always) become alert requests with the job's and the
 * run's facts, queued on the alert executor.
 *
 * Main thread only. */
#include "sched_private.h"

void sched_alert(struct job *j, enum alert_kind kind, const struct run *r) {
        /* The alert keys are not parsed yet (next commit): no job has a
         * hook or a mail, so there is nothing to raise. */
        (void)j;
        (void)kind;
        (void)r;
}
