/* sched_reload.c - reloads: the configuration is parsed on a helper thread
 * and applied on the loop (see scheduler.h).
 *
 * A request (SIGHUP, evdctl reload) starts a parse on a new plain pthread
 * unless one runs; RELOADING=1 is sent then. The thread calls config_load()
 * (thread-safe: no process-wide mutable state) and wakes the loop through
 * an eventfd. The loop joins the thread and applies the result: errors are
 * logged and nothing changes, or the new table is merged with the running
 * one by name. Both are sorted; the thread also matches them (merge_plan():
 * for each new definition, the running job it continues and whether its
 * schedule changed), reading the running configuration, which is immutable
 * and stays until this reload is applied; the loop then makes one pass
 * without comparing names (bench figure 4: the loop's share of a
 * 100,000-job reload). READY=1 follows either way.
 *
 * Requests made while a parse runs are coalesced into one more parse after
 * it (the file may have changed since the running parse read it), and each
 * waiter is answered with the result of the first parse that started after
 * its request. At shutdown the waiters are refused (-ESHUTDOWN) and the
 * result of a running parse is discarded; sched_done() joins the thread
 * (parsing is bounded, so this does not block for long).
 *
 * The merge: a job whose schedule is unchanged keeps its deadline and
 * history; a changed one is re-armed; enabled= changes are events of the
 * job's state machine; a removed job with running runs stays (s->removed)
 * until they end, and a job re-added by name while it drains is that same
 * job again (its runs, its pause). Every allocation the merge needs is made
 * before anything changes, so out of memory refuses the reload whole.
 *
 * Main thread only, but reload_main() (the helper thread), which touches
 * only the reloader's path/result/errors/r/plan and reads `base` until it
 * writes the eventfd. */
#include "sched_private.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* Parses for a reload, on the helper thread. */
static int load(const struct sched_reloader *rl, struct config **ret, char ***errors) {
#ifdef EVD_TEST_HOOKS
        /* Test hook: $EVD_TEST_RELOAD_DELAY_MS (read at start) makes every
         * parse slow, as NSS lookups of user= may be, so a test can watch
         * the loop while a parse runs. */
        if (rl->test_delay_usec > 0)
                (void)usleep((useconds_t)rl->test_delay_usec);
#endif
        struct config *nc = NULL;
        int r = config_load(rl->path, &nc, errors);
        if (r < 0)
                return r;
        char *nofile = pool_nofile_check(nc->workers); /* must fit evd's RLIMIT_NOFILE */
        if (nofile) {
                char *e = strdup_printf("%s: %s", rl->path, nofile);
                (void)strv_push(errors, e ? e : nofile);
                free(e);
                free(nofile);
                config_free(nc);
                return -EINVAL;
        }
        *ret = nc;
        return 0;
}

#define MERGE_NONE UINT32_MAX

/* Matches the new table against the running one by name (both sorted):
 * the strcmp()s and definition comparisons of a reload, done where they
 * cost the loop nothing. NULL when out of memory (apply() then matches
 * on the loop). */
static uint32_t *merge_plan(const struct config *old, const struct config *nc) {
        uint32_t *plan = malloc(MAX(nc->n_jobs, 1) * sizeof(*plan));
        if (plan && old->n_jobs >= MERGE_NONE / 2) {
                free(plan);
                return NULL;
        }
        if (!plan)
                return NULL;
        size_t i = 0;
        for (size_t k = 0; k < nc->n_jobs; k++) {
                const struct job_def *nd = nc->jobs[k];
                int c = -1;
                while (i < old->n_jobs && (c = strcmp(old->jobs[i]->name, nd->name)) < 0)
                        i++;
                if (i < old->n_jobs && c == 0) {
                        plan[k] = (uint32_t)i << 1 | job_def_same_schedule(old->jobs[i], nd);
                        i++;
                } else
                        plan[k] = MERGE_NONE;
        }
        return plan;
}

static void *reload_main(void *arg) {
        struct sched_reloader *rl = arg;
        uint64_t one = 1;
        rl->r = load(rl, &rl->result, &rl->errors);
        if (rl->r >= 0 && rl->base)
                rl->plan = merge_plan(rl->base, rl->result);
        /* The loop reads the eventfd, then joins us: both order the results. */
        while (write(rl->source.fd, &one, sizeof one) < 0 && errno == EINTR)
                ;
        return NULL;
}

static void start_parse(struct sched *s) {
        struct sched_reloader *rl = &s->reloader;
        for (size_t i = 0; i < rl->n_waiters; i++)
                rl->waiters[i].in_parse = true;
        rl->again = false;
        rl->result = NULL;
        rl->errors = NULL;
        rl->r = 0;
        rl->base = s->config;
        free(rl->plan);
        rl->plan = NULL;
        notify_reloading();
        s->stats.reloads++;
        log_info("Reloading configuration from %s", rl->path);
        rl->parsing = true;
        int r = pthread_create(&rl->thread, NULL, reload_main, rl);
        if (r != 0) {
                log_warning_errno(-r, "Cannot start the reload thread; parsing on the main loop");
                reload_main(rl);
                rl->thread = pthread_self(); /* nothing to join: see join_parse() */
        }
}

/* The configuration a reload replaced, once no run holds it: with 100,000
 * jobs, freeing its schedules is most of the loop's time in a reload (tens
 * of ms of free(), perf in bench/README.md), so it is done on a thread of
 * its own and the loop goes back to dispatching. A configuration without
 * references is reachable from nowhere else, and free() is thread-safe. */
static void *free_main(void *arg) {
        config_free(arg);
        return NULL;
}

static void join_freer(struct sched_reloader *rl) {
        if (rl->freeing)
                (void)pthread_join(rl->freer, NULL);
        rl->freeing = false;
}

static void drop_config(struct sched_reloader *rl, struct config *c) {
        if (!c || c->refcount > 1) {
                config_free(c); /* only drops a reference */
                return;
        }
        join_freer(rl); /* the previous reload's: long done, in practice */
        if (pthread_create(&rl->freer, NULL, free_main, c) == 0)
                rl->freeing = true;
        else
                config_free(c);
}

static void join_parse(struct sched_reloader *rl) {
        if (!rl->parsing)
                return;
        if (!pthread_equal(rl->thread, pthread_self()))
                (void)pthread_join(rl->thread, NULL);
        rl->parsing = false;
}

/* Answers (and removes) the waiters of the parse that just ended. A
 * callback may ask for another reload (it is queued: `answering`) or
 * forget a waiter; the array may grow meanwhile, so it is indexed anew
 * each time. */
static void answer(struct sched *s, int r, char **errors) {
        struct sched_reloader *rl = &s->reloader;
        size_t k = 0;
        rl->answering = true;
        for (size_t i = 0; i < rl->n_waiters; i++) {
                struct sched_reload_waiter w = rl->waiters[i];
                if (!w.in_parse)
                        continue;
                rl->waiters[i].done = NULL;
                if (w.done)
                        w.done(w.userdata, r, errors);
        }
        rl->answering = false;
        for (size_t i = 0; i < rl->n_waiters; i++)
                if (!rl->waiters[i].in_parse)
                        rl->waiters[k++] = rl->waiters[i];
        rl->n_waiters = k;
}

static int apply(struct sched *s, struct config *nc, uint32_t *plan);

static void refuse(struct sched *s, int r, char **errs) {
        s->stats.reload_failures++;
        for (char **e = errs; e && *e; e++)
                log_error("%s", *e);
        if (!errs)
                log_error_errno(r, "Failed to load %s", s->reloader.path);
        log_error("Reload failed: %zu error(s); keeping the running configuration", strv_length(errs));
}

/* Applies or refuses one parse's result and answers its waiters. Takes
 * nc and plan (NULL: matched here); errs stays the caller's. Returns what
 * the waiters were told. */
static int finish(struct sched *s, int r, struct config *nc, uint32_t *plan, char ***errs) {
        struct sched_reloader *rl = &s->reloader;
        char status[256];
        if (r >= 0)
                r = apply(s, nc, plan);
        else {
                free(plan);
                refuse(s, r, *errs);
        }
        if (r == -ENOMEM && !*errs)
                (void)strv_push(errs, "out of memory while applying the configuration");
        if (r < 0 && r != -ENOMEM)
                r = -EINVAL;
        answer(s, r, *errs);
        if (r >= 0 && rl->hook)
                rl->hook(rl->hook_userdata, s->config);
        notify_ready(sched_status_line(s, status, sizeof status));
        return r;
}

/* Joins the parse thread and hands its result to finish(). */
static void take_result(struct sched *s) {
        struct sched_reloader *rl = &s->reloader;
        uint64_t n;
        join_parse(rl);
        (void)!read(rl->source.fd, &n, sizeof n); /* the thread's wake-up, if not read yet */
        struct config *nc = rl->result;
        char **errs = rl->errors;
        rl->result = NULL;
        rl->errors = NULL;
        if (s->shutting_down) {
                /* Waiters were answered at shutdown; nothing is applied. */
                free(rl->plan);
                rl->plan = NULL;
                config_free(nc);
                strv_free(errs);
                return;
        }
        /* Only an applied reload replaces s->config, one parse at a time:
         * the plan is for the running table. */
        assert(rl->base == s->config);
        uint32_t *plan = rl->plan;
        rl->plan = NULL;
        finish(s, rl->r, nc, plan, &errs);
        strv_free(errs);
}

static void reload_done(struct loop_source *source, uint32_t events) {
        struct sched_reloader *rl = container_of(source, struct sched_reloader, source);
        struct sched *s = container_of(rl, struct sched, reloader);
        (void)events;
        if (!rl->parsing) {
                uint64_t n;
                (void)!read(source->fd, &n, sizeof n);
                return;
        }
        take_result(s);
        if (!s->shutting_down && (rl->again || rl->n_waiters > 0))
                start_parse(s);
}

int sched_reloader_init(struct sched *s) {
        struct sched_reloader *rl = &s->reloader;
        rl->source.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (rl->source.fd < 0)
                return -errno;
        rl->source.name = "reload";
        rl->source.callback = reload_done;
        rl->path = s->config_path;
#ifdef EVD_TEST_HOOKS
        const char *delay = getenv("EVD_TEST_RELOAD_DELAY_MS");
        rl->test_delay_usec = delay ? strtoull(delay, NULL, 10) * USEC_PER_MSEC : 0;
#endif
        int r = loop_add(s->loop, &rl->source, EPOLLIN);
        if (r < 0) {
                rl->source.fd = safe_close(rl->source.fd);
                return r;
        }
        return 0;
}

int sched_reload_request(struct sched *s, sched_reload_fn done, void *userdata) {
        struct sched_reloader *rl = &s->reloader;
        if (s->shutting_down) {
                /* Neither RELOADING=1 nor READY=1 may follow STOPPING=1,
                 * and nothing new would run anyway. */
                log_notice("Reload request ignored: shutting down");
                return -ESHUTDOWN;
        }
        if (done) {
                if (rl->n_waiters == rl->cap_waiters) {
                        size_t cap = MAX(rl->cap_waiters * 2, 4);
                        struct sched_reload_waiter *w = realloc(rl->waiters, cap * sizeof(*w));
                        if (!w)
                                return -ENOMEM;
                        rl->waiters = w;
                        rl->cap_waiters = cap;
                }
                rl->waiters[rl->n_waiters++] = (struct sched_reload_waiter){ .done = done, .userdata = userdata };
        }
        if (rl->parsing || rl->answering)
                rl->again = true; /* reload_done() starts it */
        else
                start_parse(s);
        return 0;
}

void sched_reload_forget(struct sched *s, void *userdata) {
        struct sched_reloader *rl = &s->reloader;
        for (size_t i = 0; i < rl->n_waiters; i++)
                if (rl->waiters[i].userdata == userdata)
                        rl->waiters[i].done = NULL;
}

void sched_set_reload_hook(struct sched *s, void (*fn)(void *ud, const struct config *c), void *ud) {
        s->reloader.hook = fn;
        s->reloader.hook_userdata = ud;
}

void sched_reloader_shutdown(struct sched *s) {
        struct sched_reloader *rl = &s->reloader;
        char *msg[] = { "evd is shutting down: reload refused", NULL };
        for (size_t i = 0; i < rl->n_waiters; i++)
                rl->waiters[i].in_parse = true;
        answer(s, -ESHUTDOWN, msg);
        rl->again = false;
}

void sched_reloader_done(struct sched *s) {
        struct sched_reloader *rl = &s->reloader;
        join_parse(rl);
        join_freer(rl);
        free(rl->plan);
        rl->plan = NULL;
        config_free(rl->result);
        strv_free(rl->errors);
        rl->result = NULL;
        rl->errors = NULL;
        if (rl->source.fd >= 0) {
                (void)loop_remove(s->loop, &rl->source);
                rl->source.fd = safe_close(rl->source.fd);
        }
        free(rl->waiters);
        rl->waiters = NULL;
        rl->n_waiters = rl->cap_waiters = 0;
}

/* ---- the merge ---- */

static int cmp_job_name(const void *a, const void *b) {
        return strcmp((*(struct job *const *)a)->def->name, (*(struct job *const *)b)->def->name);
}

struct merge_counts {
        size_t added, changed, removed, kept, readded;
};

static void merge_removed(struct sched *s, struct job *j, struct merge_counts *n) {
        n->removed++;
        log_job(LOG_INFO, j->def->name, 0, NULL, "removed%s", j->sm.n_running ? "; its active run may finish" : "");
        sched_count_failing(s, j, -1);
        if (j->sm.n_running > 0)
                s->removed[s->n_removed++] = j; /* room reserved by apply() */
        sched_job_feed(j, JOB_EV_REMOVE, NULL, NULL); /* frees j when no run is left */
}

static void merge_kept(struct sched *s, struct job *j, struct job_def *nd, bool same, struct merge_counts *n) {
        bool was_enabled = j->sm.enabled;
        (void)s;
        job_def_unref(j->def);
        j->def = job_def_ref(nd);
        if (same) {
                n->kept++;
                return;
        }
        n->changed++;
        if (was_enabled && !nd->enabled) {
                log_job(LOG_INFO, nd->name, 0, NULL, "disabled (enabled = no)");
                sched_job_feed(j, JOB_EV_DISABLE, NULL, NULL);
                return;
        }
        j->last_elapse = 0;
        if (!was_enabled && nd->enabled) {
                log_job(LOG_INFO, nd->name, 0, NULL, "enabled: scheduled");
                sched_job_feed(j, JOB_EV_ENABLE, NULL, NULL); /* arms the schedule */
                return;
        }
        log_job(LOG_INFO, nd->name, 0, NULL, "schedule changed: rescheduled");
        timer_stop(&j->timer);
        sched_job_arm(j, USEC_INFINITY, SCHED_ARM_RELOAD);
}

/* A name the running table does not have: j is a fresh job, or one that
 * still drains from an earlier removal and comes back as itself. */
static void merge_added(struct sched *s, struct job *j, struct job_def *nd, struct merge_counts *n) {
        if (!j->sm.removed) {
                n->added++;
                sched_job_arm(j, USEC_INFINITY, SCHED_ARM_RELOAD);
                log_job(LOG_INFO, nd->name, 0, NULL, "added");
                return;
        }
        n->readded++;
        job_def_unref(j->def);
        j->def = job_def_ref(nd);
        j->last_elapse = 0;
        log_job(LOG_INFO, nd->name, 0, NULL, "added again while its run %llu is active: the same job",
                (unsigned long long)j->active->id);
        const struct job_event_args a = { .overlap = nd->overlap, .enabled = nd->enabled };
        sched_job_feed(j, JOB_EV_READD, &a, NULL); /* arms the schedule */
        sched_count_failing(s, j, +1);
}

/* Both tables are sorted by name, and s->jobs[i] is the job of
 * s->config->jobs[i] (sched_verify() holds it): the plan (merge_plan())
 * says for each new definition which running job it continues, so this is
 * one pass with no name comparisons but for names new to the running
 * table. Takes plan. Returns 0, or -ENOMEM with nothing changed. */
static int apply(struct sched *s, struct config *nc, uint32_t *plan) {
        struct merge_counts n = { 0 };
        if (!plan)
                plan = merge_plan(s->config, nc);
        struct job **jobs = calloc(MAX(nc->n_jobs, 1), sizeof(*jobs));
        /* Room for every job that may go on draining: each has a running run. */
        struct job **rm = realloc(s->removed, (s->n_removed + s->n_running + 1) * sizeof(*rm));
        if (rm)
                s->removed = rm;
        if (!jobs || !rm || !plan)
                goto oom;
        /* The jobs the new table adds, before anything changes: a name
         * still draining from an earlier removal is that job (s->removed
         * sorted for the look-up), others are allocated. */
        qsort(s->removed, s->n_removed, sizeof(*s->removed), cmp_job_name);
        size_t n_fresh = 0;
        for (size_t k = 0; k < nc->n_jobs; k++)
                if (plan[k] == MERGE_NONE) {
                        jobs[k] = sched_job_bsearch(s->removed, s->n_removed, nc->jobs[k]->name);
                        n_fresh += !jobs[k];
                }
        struct job *fresh = n_fresh ? sched_jobs_alloc(s, n_fresh) : NULL;
        if (n_fresh && !fresh)
                goto oom;
        for (size_t k = 0; k < nc->n_jobs; k++)
                if (plan[k] == MERGE_NONE && !jobs[k]) {
                        jobs[k] = fresh++;
                        sched_job_init(jobs[k], s, nc->jobs[k], false);
                }

        /* In name order, as the log reads best: the running jobs before
         * the next match are gone, a match continues, no match is new. */
        size_t i = 0;
        for (size_t k = 0; k < nc->n_jobs; k++) {
                if (plan[k] == MERGE_NONE) {
                        merge_added(s, jobs[k], nc->jobs[k], &n);
                        continue;
                }
                size_t m = plan[k] >> 1;
                while (i < m)
                        merge_removed(s, s->jobs[i++], &n);
                assert(s->jobs[m]->def == s->config->jobs[m]);
                jobs[k] = s->jobs[i++];
                merge_kept(s, jobs[k], nc->jobs[k], plan[k] & 1, &n);
        }
        while (i < s->n_jobs)
                merge_removed(s, s->jobs[i++], &n);
        free(plan);
        /* Re-added jobs leave the removed list. */
        size_t kept_removed = 0;
        for (size_t x = 0; x < s->n_removed; x++)
                if (s->removed[x]->sm.removed)
                        s->removed[kept_removed++] = s->removed[x];
        s->n_removed = kept_removed;
        free(s->jobs);
        s->jobs = jobs;
        s->n_jobs = nc->n_jobs;
        sched_cluster_reload_check(s->config, nc);
        drop_config(&s->reloader, s->config);
        s->config = nc;
        int r = pool_resize(&s->pool, nc->workers);
        if (r < 0)
                log_warning_errno(r, "Could not add worker threads; running with %zu", s->pool.n_workers);
        sched_dispatch_pending(s);
        /* The state file names the jobs it keeps: it changes when one
         * leaves or comes back, not on a reload that only keeps or adds. */
        if (n.removed || n.readded)
                s->state_dirty = true;
        log_info("Configuration reloaded: %zu jobs (%zu added, %zu changed, %zu removed, %zu unchanged%s)",
                 s->n_jobs, n.added + n.readded, n.changed, n.removed, n.kept,
                 n.readded ? ", some added back while running" : "");
        return 0;
oom:
        free(plan);
        if (jobs)
                for (size_t x = 0; x < nc->n_jobs; x++)
                        if (jobs[x] && !jobs[x]->sm.removed)
                                sched_job_free(jobs[x]);
        free(jobs);
        config_free(nc);
        s->stats.reload_failures++;
        log_error("Reload failed: out of memory; keeping the running configuration");
        return -ENOMEM;
}
