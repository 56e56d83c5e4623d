/* sched_side.c - the jobs' side records (struct job_side, sched_private.h):
 * what few jobs need, out of struct job, whose size sets the memory of
 * 100,000 jobs (bench figure 4).
 *
 * Owns the table s->sides: slot k - 1 holds the record of the job whose
 * j->side is k (a 32-bit number in what was padding of struct job); NULL
 * slots are free and reused (s->free_sides). Each record is its own
 * allocation, so a pointer to it (and the watch's timer in the heap) stays
 * good while the job has it. A record is made when a job first needs one
 * (sched_watch.c: expect_success_within= or a failure streak;
 * scheduler.c: a failed run's kind, a queued start, the last success a
 * failed run is about to hide) and freed when nothing in it is in use
 * (sched_side_release()) or with its job. This file only stores: what the
 * fields mean is their modules' business.
 *
 * Also job_last_success(), derived from the last run or the record.
 *
 * Cost: O(1) per call; the table grows by doubling, never shrinks. Main
 * thread only. */
#include "sched_private.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

struct job_side *sched_side_of(const struct job *j) {
        return j->side ? j->sched->sides[j->side - 1] : NULL;
}

const struct job_notes *sched_job_notes(const struct job *j) {
        const struct job_side *x = sched_side_of(j);
        return x ? &x->notes : NULL;
}

usec_t job_last_success(const struct job *j) {
        if (j->n_runs > 0 && j->last.ok)
                return j->last_start + j->last_duration;
        const struct job_side *x = sched_side_of(j);
        return x ? x->last_success : 0;
}

static int grow(struct sched *s) {
        size_t cap = s->cap_sides ? 2 * (size_t)s->cap_sides : 64;
        if (cap > UINT32_MAX - 1)
                return -ENOMEM;
        struct job_side **a = realloc(s->sides, cap * sizeof(*a));
        if (!a)
                return -ENOMEM;
        s->sides = a;
        uint32_t *f = realloc(s->free_sides, cap * sizeof(*f));
        if (!f)
                return -ENOMEM;
        s->free_sides = f;
        s->cap_sides = (uint32_t)cap;
        return 0;
}

struct job_side *sched_side_get(struct job *j) {
        struct sched *s = j->sched;
        struct job_side *x = sched_side_of(j);
        if (x)
                return x;
        if (s->n_free_sides == 0 && s->n_sides == s->cap_sides && grow(s) < 0)
                return NULL;
        x = calloc(1, sizeof(*x));
        if (!x)
                return NULL;
        x->job = j;
        timer_init(&x->watch.timer, sched_watch_fired);
        uint32_t slot = s->n_free_sides > 0 ? s->free_sides[--s->n_free_sides] : s->n_sides++;
        s->sides[slot] = x;
        j->side = slot + 1;
        return x;
}

static bool side_in_use(const struct job_side *x) {
        const struct job_watch *w = &x->watch;
        if (timer_active(&w->timer) || w->first_seen || w->count_from || w->overdue_since || w->failing_since)
                return true;
        for (size_t k = 0; k < _JOB_FAILED_MAX; k++)
                if (x->notes.failed[k])
                        return true;
        return x->notes.queued_scheduled || x->last_success;
}

void sched_side_free(struct job *j) {
        struct sched *s = j->sched;
        struct job_side *x = sched_side_of(j);
        if (!x)
                return;
        timer_stop(&x->watch.timer);
        s->sides[j->side - 1] = NULL;
        s->free_sides[s->n_free_sides++] = j->side - 1;
        j->side = 0;
        free(x);
}

void sched_side_release(struct job *j) {
        const struct job_side *x = sched_side_of(j);
        if (x && !side_in_use(x))
                sched_side_free(j);
}

void sched_side_done(struct sched *s) {
        assert(s->n_free_sides == s->n_sides);
        free(s->sides);
        free(s->free_sides);
        s->sides = NULL;
        s->free_sides = NULL;
        s->n_sides = s->cap_sides = s->n_free_sides = 0;
}

bool sched_side_verify(const struct job *j) {
        const struct sched *s = j->sched;
        if (!j->side)
                return true;
        if (j->side > s->n_sides)
                return false;
        const struct job_side *x = s->sides[j->side - 1];
        return x && x->job == j && side_in_use(x);
}
