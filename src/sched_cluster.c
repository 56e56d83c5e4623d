/* sched_cluster.c - the scheduler's side of cluster = once (issue 12):
 * claims made for the state machine's JOB_ACT_CLAIM and their outcomes fed
 * back as events, the records of claimed runs, fencing, and what this node
 * saw of each cluster job's last instant (for list and status).
 *
 * Fencing: while claimed runs are active, s->fence_timer (CLOCK_BOOTTIME)
 * waits for the lease's expiry as the keeper last extended it; when it
 * fires and the expiry has not moved past now, or when the keeper reports
 * the lease lost, every claimed run is ended (SIGTERM, SIGKILL after
 * kill_grace) and logged. A node resumed after SIGSTOP past its TTL finds
 * its fence timer due at once (CLOCK_BOOTTIME counted on), and the worker
 * refuses to spawn a claimed run whose lease has expired in any case.
 *
 * The last outcome per cluster job lives in a small table of struct
 * sched's (s->cluster_seen), sorted by name (only cluster jobs have an entry), not in struct job, whose size
 * is budgeted.
 *
 * Decisions: evdctl run of a cluster job runs it here, without a claim
 * (the administrator chose the node). A reload does not change [cluster]:
 * its changes need a restart (logged). Main thread only. */
#include "sched_private.h"

#include "cluster.h"
#include "log.h"

struct cluster_seen {
        char *name;
        char node[72];
        char result[104];
        usec_t instant;
        /* A won instant whose start waits for the active runs (overlap=
         * queue/replace): started claimed when its turn comes. */
        usec_t queued_instant;
        unsigned queued_attempt;
};

#define seen (*(struct cluster_seen **)&s->cluster_seen)
#define n_seen (s->n_cluster_seen)

static struct cluster_seen *seen_find(struct sched *s, const char *name, bool add) {
        size_t lo = 0, hi = n_seen;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(name, seen[mid].name);
                if (c == 0)
                        return &seen[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        if (!add)
                return NULL;
        struct cluster_seen *v = realloc(seen, (n_seen + 1) * sizeof(*v));
        char *copy = strdup(name);
        if (!v || !copy) {
                if (v)
                        seen = v;
                free(copy);
                return NULL;
        }
        seen = v;
        memmove(&seen[lo + 1], &seen[lo], (n_seen - lo) * sizeof(*seen));
        n_seen++;
        seen[lo] = (struct cluster_seen){ .name = copy };
        return &seen[lo];
}

static void note(struct sched *s, const char *job, usec_t instant, const char *node, const char *result) {
        struct cluster_seen *e = seen_find(s, job, true);
        if (!e)
                return;
        /* An older instant's news does not replace a newer one's. */
        if (instant && e->instant > instant)
                return;
        if (instant)
                e->instant = instant;
        snprintf(e->node, sizeof e->node, "%s", node ? node : "");
        snprintf(e->result, sizeof e->result, "%s", result ? result : "");
}

bool sched_cluster_last(const struct sched *s, const char *job, const char **ret_node, const char **ret_result) {
        const struct cluster_seen *e = seen_find((struct sched *)s, job, false);
        if (!e)
                return false;
        *ret_node = e->node;
        *ret_result = e->result;
        return true;
}

void sched_cluster_queued(struct job *j, usec_t instant, unsigned attempt) {
        struct cluster_seen *e = seen_find(j->sched, j->def->name, true);
        if (e) {
                e->queued_instant = instant;
                e->queued_attempt = attempt;
        }
}

bool sched_cluster_take_queued(struct job *j, usec_t *ret_instant, unsigned *ret_attempt) {
        struct cluster_seen *e = seen_find(j->sched, j->def->name, false);
        if (!e || !e->queued_instant)
                return false;
        *ret_instant = e->queued_instant;
        *ret_attempt = e->queued_attempt;
        e->queued_instant = 0;
        return true;
}

/* ---- fencing ---- */

static void fence(struct sched *s, const char *why) {
        size_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
                struct job **jobs = pass == 0 ? s->jobs : s->removed;
                size_t n_jobs = pass == 0 ? s->n_jobs : s->n_removed;
                for (size_t i = 0; i < n_jobs; i++)
                        for (struct run *r = jobs[i]->active; r; r = r->job_next) {
                                if (!r->lease_expiry || r->fenced)
                                        continue;
                                r->fenced = true;
                                run_cancel(r, RUN_CANCEL_TERM);
                                log_job(LOG_ERR, jobs[i]->def->name, r->id, NULL,
                                        "ending the claimed run: %s; another node may take the job over", why);
                                n++;
                        }
        }
        if (n)
                log_error("cluster: fenced %zu claimed run(s): %s", n, why);
}

static void fence_fired(struct timer *t, usec_t now) {
        struct sched *s = container_of(t, struct sched, fence_timer);
        usec_t expiry = s->cluster ? cluster_lease_expiry(s->cluster) : 0;
        (void)now;
        if (s->n_claimed == 0)
                return;
        now = now_usec(CLOCK_BOOTTIME);
        if (now < expiry) {
                timer_start(&s->mono, &s->fence_timer, expiry);
                return;
        }
        fence(s, "the node's etcd lease may have expired (no keepalive answered within its TTL)");
}

static void on_lease_lost(void *userdata) {
        struct sched *s = userdata;
        fence(s, "the node's etcd lease is lost");
}

/* ---- claims ---- */

static void on_claimed(void *userdata, const struct cluster_claim_result *res) {
        struct sched *s = userdata;
        struct job *j = res->job;
        enum job_event ev = res->outcome == CLUSTER_WON ? JOB_EV_CLAIM_WON
                            : res->outcome == CLUSTER_LOST ? JOB_EV_CLAIM_LOST
                                                           : JOB_EV_CLAIM_UNDECIDED;
        /* The lease may have run out since the worker decided. */
        if (ev == JOB_EV_CLAIM_WON && !cluster_lease_live(s->cluster, now_usec(CLOCK_BOOTTIME)))
                ev = JOB_EV_CLAIM_UNDECIDED;
        s->claim_result = res;
        if (res->outcome == CLUSTER_REFUSED) {
                /* The node name is in use: skipped whatever cluster_unreachable says. */
                struct job_event_args a = {
                        .overlap = j->def->overlap, .enabled = j->def->enabled, .cluster = true,
                        .cluster_run = false, .instant = res->instant, .attempt = res->attempt,
                };
                sched_job_feed(j, ev, &a, NULL);
        } else
                sched_job_feed_instant(j, ev, res->instant, res->attempt);
        s->claim_result = NULL;
}

void sched_cluster_log_skip(struct job *j, enum job_skip_reason why) {
        const struct cluster_claim_result *res = j->sched->claim_result;
        char at[48];
        cluster_instant_format(res ? res->instant : 0, at, sizeof at);
        const char *what = res && res->attempt > 1 ? "retry" : "run";
        switch (why) {
        case JOB_SKIP_CLAIM_LOST:
                log_job(LOG_INFO, j->def->name, 0, NULL, "%s of instant %s skipped: ran on %s", what, at,
                        res ? res->holder : "?");
                note(j->sched, j->def->name, res ? res->instant : 0, res ? res->holder : "?", "ran there");
                break;
        case JOB_SKIP_CLAIM_UNDECIDED:
                log_job(LOG_ERR, j->def->name, 0, NULL,
                        "%s of instant %s skipped: the cluster claim was not decided (%s); cluster_unreachable=skip",
                        what, at, res && res->why[0] ? res->why : "no [cluster] when evd started");
                break;
        default:
                log_job(LOG_WARNING, j->def->name, 0, NULL, "%s of instant %s skipped: %s", what, at,
                        job_skip_reason_to_string(why));
        }
}

void sched_cluster_claim(struct job *j, usec_t instant, unsigned attempt) {
        struct sched *s = j->sched;
        if (s->cluster && cluster_claim(s->cluster, j, j->def->name, instant, attempt) >= 0)
                return;
        /* No cluster (no [cluster] at start, or it could not be set up),
         * or out of memory: undecided at once. */
        struct cluster_claim_result res = {
                .job = j, .instant = instant, .attempt = attempt, .outcome = CLUSTER_UNDECIDED, .holder = "?",
                .why = s->cluster ? "out of memory" : "evd runs without a cluster ([cluster] was not set up at start)",
        };
        s->claim_result = &res;
        if (j->def->extras->cluster_unreachable == CLUSTER_UNREACHABLE_RUN) {
                char at[48];
                log_job(LOG_ERR, j->def->name, 0, NULL, "instant %s not claimed (%s): running it (cluster_unreachable=run)",
                        cluster_instant_format(instant, at, sizeof at), res.why);
        }
        sched_job_feed_instant(j, JOB_EV_CLAIM_UNDECIDED, instant, attempt);
        s->claim_result = NULL;
}

void sched_cluster_run_started(struct sched *s, struct run *r) {
        struct job *j = r->owner;
        char at[48];
        r->lease_expiry = cluster_lease_expiry_ptr(s->cluster);
        s->n_claimed++;
        log_job(LOG_INFO, j->def->name, r->id, NULL, "claimed instant %s%s on node %s",
                cluster_instant_format(r->instant, at, sizeof at), r->attempt > 1 ? " (retry)" : "",
                cluster_node(s->cluster));
        note(s, j->def->name, r->instant, cluster_node(s->cluster), "running");
        if (!timer_active(&s->fence_timer))
                timer_start(&s->mono, &s->fence_timer, MAX(cluster_lease_expiry(s->cluster), 1));
}

void sched_cluster_run_ended(struct sched *s, struct run *r, const char *result, usec_t duration) {
        struct job *j = r->owner;
        s->n_claimed--;
        if (s->n_claimed == 0)
                timer_stop(&s->fence_timer);
        note(s, j->def->name, r->instant, cluster_node(s->cluster), result);
        cluster_record(s->cluster, j->def->name, r->instant, r->attempt, r->start_realtime, duration,
                       run_succeeded(r), result, job_def_cluster_history(r->def));
}

void sched_cluster_not_run(struct job *j, usec_t instant, unsigned attempt, const char *why) {
        struct sched *s = j->sched;
        char *result = strdup_printf("not run: %s", why);
        if (s->cluster)
                cluster_record(s->cluster, j->def->name, instant, attempt, now_usec(CLOCK_REALTIME), 0, false,
                               result ? result : "not run", job_def_cluster_history(j->def));
        free(result);
}

int sched_cluster_query(struct sched *s, bool json, void (*done)(void *userdata, int code, const char *body),
                        void *userdata) {
        if (!s->cluster)
                return -ENODEV;
        return cluster_query(s->cluster, json, done, userdata);
}

int sched_cluster_read_last(struct sched *s, const char *job,
                            void (*done)(void *userdata, int r, const char *job, const char *node,
                                         const char *result),
                            void *userdata) {
        struct job *j = sched_find_job(s, job);
        if (!s->cluster || !j || !job_def_cluster_once(j->def))
                return -ENODEV;
        return cluster_read_last(s->cluster, job, done, userdata);
}

void sched_cluster_forget(struct sched *s, void *userdata) {
        if (s->cluster)
                cluster_query_forget(s->cluster, userdata);
}

void sched_cluster_reload_check(const struct config *old, const struct config *nc) {
        const struct cluster_config *a = old->cluster, *b = nc->cluster;
        bool same = (!a && !b) ||
                    (a && b && streq(a->etcd, b->etcd) && streq(a->name, b->name) && streq(a->node, b->node) &&
                     a->lease == b->lease && streq_ptr(a->ca_file, b->ca_file) &&
                     streq_ptr(a->cert_file, b->cert_file) && streq_ptr(a->key_file, b->key_file));
        if (!same)
                log_warning("cluster: [cluster] changed; the change takes effect when evd is restarted");
}

/* ---- setup ---- */

void sched_cluster_init(struct sched *s) {
        const struct cluster_config *cc = s->config->cluster;
        timer_init(&s->fence_timer, fence_fired);
        if (!cc)
                return;
        const struct cluster_callbacks cb = { .claimed = on_claimed, .lease_lost = on_lease_lost, .userdata = s };
        int r = cluster_new(s->loop, cc, &cb, &s->cluster);
        if (r >= 0 && (r = cluster_start(s->cluster)) < 0)
                s->cluster = cluster_free(s->cluster);
        if (r < 0) {
                log_error_errno(r, "cluster: cannot set up the etcd client; cluster jobs follow cluster_unreachable");
                return;
        }
        log_info("cluster: node %s of cluster %s, etcd %s", cc->node, cc->name, cc->etcd);
}

void sched_cluster_done(struct sched *s) {
        timer_stop(&s->fence_timer);
        s->cluster = cluster_free(s->cluster);
        for (size_t i = 0; i < n_seen; i++)
                free(seen[i].name);
        free(seen);
        seen = NULL;
        n_seen = 0;
}
