/* cluster.c - cluster = once on etcd: claims, the lease keeper, the
 * results handed back to the loop (see cluster.h for the contract; the
 * keys, instants and the build without etcd: cluster_keys.c).
 *
 * Threads and what they own:
 *   main     struct cluster's setup and teardown, the eventfd's reading,
 *            the list of queries in flight (for cluster_query_forget).
 *   keeper   its etcd client; the lease: grant, keepalive every TTL/3,
 *            re-grant after a loss, the node key; writes lease_id,
 *            lease_expiry, node_ok (atomics).
 *   worker   its etcd client; the request queue's claims, records and
 *            queries, in order; the history leases (hist[]).
 * c->lock guards the request queue and the stop flags, and is the
 * condition both threads sleep on; c->done_lock the completion queue. The
 * eventfd is written when the completion queue goes from empty to
 * non-empty, or a lease loss is to be reported.
 *
 * Decisions written down here:
 * - A won claim is re-checked against the lease when its answer arrives
 *   (the lease may have run out while the answer travelled): the worker
 *   reports it undecided then, and the key (gone with the lease, or about
 *   to go) is left alone.
 * - A lease lost while etcd was unreachable is not revoked by the keeper
 *   (it cannot be); once etcd answers again the keeper grants a new one
 *   and revokes the old one, so the node key it held is free again.
 * - Shutdown: the worker finishes the records still queued (bounded by
 *   the client's timeouts), answers nothing else, then the keeper revokes
 *   the lease, so a restarted evd can claim its node name at once. */
#include "cluster.h"

#include <inttypes.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include "etcd.h"
#include "log.h"

#ifdef EVD_HAVE_ETCD

#include <json-c/json.h>

enum req_kind {
        REQ_CLAIM,
        REQ_RECORD,
        REQ_QUERY,
        REQ_LAST,
};

struct req {
        struct req *next;       /* request / completion queue */
        struct req *qnext;      /* main thread: queries in flight */
        enum req_kind kind;
        /* REQ_CLAIM */
        void *job;
        char *key;              /* CLAIM, RECORD */
        usec_t instant, deadline;
        unsigned attempt;
        enum cluster_outcome outcome;
        char holder[136];
        char why[320];
        /* REQ_RECORD */
        char *value;
        usec_t history;
        /* REQ_QUERY, REQ_LAST (job_name, holder: the node, why: the result) */
        bool json;
        char *job_name;
        cluster_last_fn last_done;      /* main thread only; NULL: forgotten */
        cluster_query_fn done;  /* main thread only; NULL: forgotten */
        void *userdata;
        int code;
        char *body;
};

struct req_queue {
        struct req *head, *tail;
};

struct history_lease {
        usec_t history;
        int64_t id;
        usec_t until;           /* CLOCK_BOOTTIME: used for records until then */
};

#define HISTORY_LEASES 8

struct cluster {
        struct loop *loop;
        struct loop_source source;      /* eventfd: results, lease lost */
        struct cluster_callbacks cb;
        char *name, *node, *endpoints, *ca_file, *cert_file, *key_file;
        usec_t ttl;
        size_t n_endpoints;

        pthread_mutex_t lock;
        pthread_cond_t cond;            /* CLOCK_MONOTONIC */
        struct req_queue requests;      /* under lock */
        bool stop_worker, stop_keeper;  /* under lock */

        pthread_mutex_t done_lock;
        struct req_queue done;          /* under done_lock */

        pthread_t keeper, worker;
        bool keeper_started, worker_started;
        struct etcd_client *keeper_etcd, *worker_etcd;

        _Atomic usec_t lease_expiry;
        _Atomic int64_t lease_id;
        atomic_bool node_ok;
        atomic_bool lost_pending;       /* a lease loss to report to the loop */

        struct history_lease hist[HISTORY_LEASES];      /* worker only */
        struct req *queries;            /* main thread: queries in flight */
};

static void queue_push(struct req_queue *q, struct req *r) {
        r->next = NULL;
        if (q->tail)
                q->tail->next = r;
        else
                q->head = r;
        q->tail = r;
}

static struct req *queue_pop(struct req_queue *q) {
        struct req *r = q->head;
        if (r) {
                q->head = r->next;
                if (!q->head)
                        q->tail = NULL;
        }
        return r;
}

static void req_free(struct req *r) {
        if (!r)
                return;
        free(r->key);
        free(r->job_name);
        free(r->value);
        free(r->body);
        free(r);
}

static void wake_loop(struct cluster *c) {
        uint64_t one = 1;
        (void)!write(c->source.fd, &one, sizeof one);
}

static void complete(struct cluster *c, struct req *r) {
        pthread_mutex_lock(&c->done_lock);
        bool was_empty = !c->done.head;
        queue_push(&c->done, r);
        pthread_mutex_unlock(&c->done_lock);
        if (was_empty)
                wake_loop(c);
}

/* Sleeps up to `usec` on c->cond; returns early when *flag is set. */
static void sleep_unless(struct cluster *c, usec_t usec, const bool *flag) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        usec_t until = usec_from_timespec(&ts) + usec;
        timespec_from_usec(&ts, until);
        pthread_mutex_lock(&c->lock);
        while (!*flag && pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
                ;
        pthread_mutex_unlock(&c->lock);
}

static bool stopping(struct cluster *c, const bool *flag) {
        pthread_mutex_lock(&c->lock);
        bool s = *flag;
        pthread_mutex_unlock(&c->lock);
        return s;
}

/* The "node" of a JSON value, into buf ("?" when there is none). */
static void value_node(const char *value, char *buf, size_t size) {
        json_object *o = value ? json_tokener_parse(value) : NULL, *n;
        snprintf(buf, size, "%s",
                 o && json_object_object_get_ex(o, "node", &n) && json_object_is_type(n, json_type_string)
                         ? json_object_get_string(n)
                         : "?");
        json_object_put(o);
}

/* ---- the keeper ---- */

static void lease_lost(struct cluster *c, int64_t *lease, const char *why) {
        log_error("cluster: the lease of node %s is lost (%s): claimed runs are ended, no claimed run starts "
                  "until a new lease is granted", c->node, why);
        atomic_store(&c->lease_expiry, 0);
        atomic_store(&c->lease_id, 0);
        atomic_store(&c->node_ok, false);
        *lease = 0;
        atomic_store(&c->lost_pending, true);
        wake_loop(c);
}

/* Claims the node key under the lease. */
static void claim_node(struct cluster *c, int64_t lease, int64_t *old_lease, bool *logged) {
        char *key = cluster_node_key(c->name, c->node), value[256];
        struct etcd_kv holder = { 0 };
        if (!key)
                return;
        snprintf(value, sizeof value, "{\"node\":\"%s\",\"lease\":\"%" PRIx64 "\",\"pid\":%d,\"started\":%" PRIu64 "}",
                 c->node, (uint64_t)lease, (int)getpid(), now_usec(CLOCK_REALTIME));
        int r = etcd_claim(c->keeper_etcd, key, value, lease, &holder);
        if (r == 0 && *old_lease && holder.lease == *old_lease) {
                /* Ours, under the lease lost while etcd was unreachable. */
                (void)etcd_lease_revoke(c->keeper_etcd, *old_lease);
                *old_lease = 0;
                etcd_kv_done(&holder);
                r = etcd_claim(c->keeper_etcd, key, value, lease, &holder);
        }
        if (r > 0) {
                atomic_store(&c->node_ok, true);
                if (*logged)
                        log_notice("cluster: node name %s is free again: claiming cluster jobs", c->node);
                *logged = false;
        } else if (r == 0) {
                char other[136];
                value_node(holder.value, other, sizeof other);
                if (!*logged)
                        log_error("cluster: node name %s is in use by another evd (key %s, lease %" PRIx64
                                  "): cluster jobs of this node are skipped until it is free",
                                  c->node, key, (uint64_t)holder.lease);
                *logged = true;
        } else
                log_warning("cluster: cannot claim the node key %s: %s", key, etcd_client_error(c->keeper_etcd));
        etcd_kv_done(&holder);
        free(key);
}

static void *keeper_main(void *arg) {
        struct cluster *c = arg;
        usec_t period = cluster_keepalive_period(c->ttl);
        int64_t lease = 0, old_lease = 0;
        bool unreachable_logged = false, node_logged = false;

        while (!stopping(c, &c->stop_keeper)) {
                usec_t wait = period;
                usec_t t0 = now_usec(CLOCK_BOOTTIME);
                int64_t id, ttl;
                if (!lease) {
                        int r = etcd_lease_grant(c->keeper_etcd, (int64_t)(c->ttl / USEC_PER_SEC), &id, &ttl);
                        if (r >= 0 && ttl > 0) {
                                lease = id;
                                atomic_store(&c->lease_expiry, t0 + (usec_t)ttl * USEC_PER_SEC);
                                atomic_store(&c->lease_id, id);
                                log_info("cluster: node %s has lease %" PRIx64 " (TTL %" PRId64 "s)", c->node,
                                         (uint64_t)id, ttl);
                                unreachable_logged = false;
                                claim_node(c, lease, &old_lease, &node_logged);
                                if (old_lease && etcd_lease_revoke(c->keeper_etcd, old_lease) >= 0)
                                        old_lease = 0;
                        } else {
                                if (!unreachable_logged)
                                        log_error("cluster: cannot get a lease from etcd: %s; cluster jobs follow "
                                                  "cluster_unreachable until it is granted",
                                                  etcd_client_error(c->keeper_etcd));
                                unreachable_logged = true;
                                wait = MIN(period, USEC_PER_SEC);
                        }
                } else {
                        int r = etcd_lease_keepalive(c->keeper_etcd, lease, &ttl);
                        if (r >= 0 && ttl > 0) {
                                atomic_store(&c->lease_expiry, t0 + (usec_t)ttl * USEC_PER_SEC);
                                if (unreachable_logged)
                                        log_notice("cluster: etcd answers again; lease %" PRIx64 " is live",
                                                   (uint64_t)lease);
                                unreachable_logged = false;
                                if (!atomic_load(&c->node_ok))
                                        claim_node(c, lease, &old_lease, &node_logged);
                        } else if (r >= 0 || r == -ENOENT) {
                                lease_lost(c, &lease, "etcd says it has expired");
                                wait = 0;
                        } else {
                                if (!unreachable_logged)
                                        log_warning("cluster: keepalive of lease %" PRIx64 " failed: %s",
                                                    (uint64_t)lease, etcd_client_error(c->keeper_etcd));
                                unreachable_logged = true;
                                if (now_usec(CLOCK_BOOTTIME) >= atomic_load(&c->lease_expiry)) {
                                        old_lease = lease;
                                        lease_lost(c, &lease, "no keepalive was answered for the TTL");
                                }
                                wait = MIN(period, USEC_PER_SEC);
                        }
                }
                /* Sleep until the next keepalive, counted from this one's
                 * start. */
                usec_t spent = now_usec(CLOCK_BOOTTIME) - t0;
                if (wait > spent)
                        sleep_unless(c, wait - spent, &c->stop_keeper);
        }
        if (lease && etcd_lease_revoke(c->keeper_etcd, lease) < 0)
                log_warning("cluster: cannot revoke lease %" PRIx64 ": %s", (uint64_t)lease,
                            etcd_client_error(c->keeper_etcd));
        atomic_store(&c->lease_expiry, 0);
        return NULL;
}

/* ---- the worker ---- */

static void do_claim(struct cluster *c, struct req *q) {
        struct etcd_kv holder = { 0 };
        char value[320];
        usec_t now = now_usec(CLOCK_BOOTTIME);
        int64_t lease = atomic_load(&c->lease_id);

        q->outcome = CLUSTER_UNDECIDED;
        if (now >= q->deadline) {
                snprintf(q->why, sizeof q->why, "not decided in time (the claims before it took too long)");
                return;
        }
        if (!lease || now >= atomic_load(&c->lease_expiry)) {
                snprintf(q->why, sizeof q->why, "node %s has no live etcd lease", c->node);
                return;
        }
        if (!atomic_load(&c->node_ok)) {
                q->outcome = CLUSTER_REFUSED;
                snprintf(q->why, sizeof q->why, "the node name %s is in use by another evd", c->node);
                return;
        }
        snprintf(value, sizeof value, "{\"node\":\"%s\",\"lease\":\"%" PRIx64 "\",\"start\":%" PRIu64 "}", c->node,
                 (uint64_t)lease, now_usec(CLOCK_REALTIME));
        int r = etcd_claim(c->worker_etcd, q->key, value, lease, &holder);
        if (r > 0) {
                if (now_usec(CLOCK_BOOTTIME) < atomic_load(&c->lease_expiry))
                        q->outcome = CLUSTER_WON;
                else
                        snprintf(q->why, sizeof q->why, "the lease expired while the claim was made");
        } else if (r == 0) {
                q->outcome = CLUSTER_LOST;
                value_node(holder.value, q->holder, sizeof q->holder);
        } else
                snprintf(q->why, sizeof q->why, "%s", etcd_client_error(c->worker_etcd));
        etcd_kv_done(&holder);
}

/* A history lease for `history`: one serves the records of a tenth of it
 * (at most an hour) and lives history + that, so each record is kept at
 * least `history`. */
static int64_t history_lease(struct cluster *c, usec_t history) {
        usec_t now = now_usec(CLOCK_BOOTTIME), share = MIN(history / 10, USEC_PER_HOUR);
        struct history_lease *slot = NULL;
        for (size_t i = 0; i < HISTORY_LEASES; i++) {
                struct history_lease *h = &c->hist[i];
                if (h->id && h->history == history && now < h->until)
                        return h->id;
                /* Replace this history's old lease, else a free slot, else
                 * the one that ran out first. */
                if (!slot || (h->id && h->history == history) ||
                    (!(slot->id && slot->history == history) && (!h->id || (slot->id && h->until < slot->until))))
                        slot = h;
        }
        int64_t id, ttl;
        usec_t secs = (history + share + USEC_PER_SEC - 1) / USEC_PER_SEC;
        if (etcd_lease_grant(c->worker_etcd, (int64_t)secs, &id, &ttl) < 0)
                return 0;
        *slot = (struct history_lease){ .history = history, .id = id, .until = now + share };
        return id;
}

static void do_record(struct cluster *c, struct req *q) {
        int64_t lease = history_lease(c, q->history);
        if (!lease || etcd_put(c->worker_etcd, q->key, q->value, lease) < 0)
                log_warning("cluster: cannot record the end of %s: %s", q->key, etcd_client_error(c->worker_etcd));
}

static void do_query(struct cluster *c, struct req *q) {
        json_object *top = json_object_new_object(), *nodes = json_object_new_array(),
                    *eps = json_object_new_array();
        char *prefix = strdup_printf("/evd/%s/nodes/", c->name);
        struct etcd_kv *kvs = NULL;
        size_t n = 0;
        bool healthy = false;
        FILE *f;
        char *text = NULL;
        size_t text_size = 0;

        if (!top || !nodes || !eps || !prefix || !(f = open_memstream(&text, &text_size))) {
                json_object_put(top);
                json_object_put(nodes);
                json_object_put(eps);
                free(prefix);
                q->code = 1;
                q->body = strdup("out of memory\n");
                return;
        }
        json_object_object_add(top, "name", json_object_new_string(c->name));
        json_object_object_add(top, "node", json_object_new_string(c->node));
        int r = etcd_get(c->worker_etcd, prefix, true, &kvs, &n);
        fprintf(f, "cluster %s, this node %s\n\n%-24s %-18s %s\n", c->name, c->node, "NODE", "LEASE", "PID");
        if (r < 0)
                fprintf(f, "(cannot read the nodes: %s)\n", etcd_client_error(c->worker_etcd));
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_tokener_parse(kvs[i].value), *v;
                const char *node = kvs[i].key + strlen(prefix);
                int64_t pid = o && json_object_object_get_ex(o, "pid", &v) ? json_object_get_int64(v) : 0;
                json_object *e = json_object_new_object();
                char lease[24];
                snprintf(lease, sizeof lease, "%" PRIx64, (uint64_t)kvs[i].lease);
                json_object_object_add(e, "node", json_object_new_string(node));
                json_object_object_add(e, "lease", json_object_new_string(lease));
                json_object_object_add(e, "pid", json_object_new_int64(pid));
                json_object_object_add(e, "self", json_object_new_boolean(kvs[i].lease == atomic_load(&c->lease_id)));
                json_object_array_add(nodes, e);
                fprintf(f, "%-24s %-18s %" PRId64 "%s\n", node, lease, pid,
                        kvs[i].lease == atomic_load(&c->lease_id) ? " (this evd)" : "");
                json_object_put(o);
        }
        etcd_kvs_free(kvs, n);
        fprintf(f, "\n%-32s %s\n", "ENDPOINT", "HEALTH");
        for (size_t i = 0; i < etcd_client_endpoints(c->worker_etcd); i++) {
                struct etcd_status st;
                const char *ep = etcd_client_endpoint(c->worker_etcd, i);
                json_object *e = json_object_new_object();
                json_object_object_add(e, "endpoint", json_object_new_string(ep));
                r = etcd_status(c->worker_etcd, i, &st);
                json_object_object_add(e, "healthy", json_object_new_boolean(r >= 0 && st.leader != 0));
                if (r >= 0) {
                        healthy = healthy || st.leader != 0;
                        json_object_object_add(e, "leader", json_object_new_boolean(st.leader == st.member_id));
                        json_object_object_add(e, "version", json_object_new_string(st.version));
                        fprintf(f, "%-32s %s, version %s%s\n", ep, st.leader ? "ok" : "no leader", st.version,
                                st.leader == st.member_id ? ", leader" : "");
                } else {
                        json_object_object_add(e, "error", json_object_new_string(etcd_client_error(c->worker_etcd)));
                        fprintf(f, "%-32s unreachable: %s\n", ep, etcd_client_error(c->worker_etcd));
                }
                json_object_array_add(eps, e);
        }
        json_object_object_add(top, "nodes", nodes);
        json_object_object_add(top, "endpoints", eps);
        fclose(f);
        q->code = healthy ? 0 : 1;
        if (q->json) {
                q->body = strdup_printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN));
                free(text);
        } else
                q->body = text;
        json_object_put(top);
        free(prefix);
}

static void do_last(struct cluster *c, struct req *q) {
        struct etcd_kv kv = { 0 };
        char *prefix = strdup_printf("/evd/%s/runs/%s/", c->name, q->job_name);
        q->code = prefix ? etcd_get_last(c->worker_etcd, prefix, &kv) : -ENOMEM;
        if (q->code < 0)
                snprintf(q->why, sizeof q->why, "cannot read etcd: %s",
                         prefix ? etcd_client_error(c->worker_etcd) : "out of memory");
        else if (q->code > 0) {
                json_object *o = json_tokener_parse(kv.value), *v;
                value_node(kv.value, q->holder, sizeof q->holder);
                snprintf(q->why, sizeof q->why, "%s",
                         o && json_object_object_get_ex(o, "result", &v) ? json_object_get_string(v) : "running");
                json_object_put(o);
        }
        etcd_kv_done(&kv);
        free(prefix);
}

static void *worker_main(void *arg) {
        struct cluster *c = arg;
        for (;;) {
                pthread_mutex_lock(&c->lock);
                while (!c->requests.head && !c->stop_worker)
                        pthread_cond_wait(&c->cond, &c->lock);
                struct req *q = queue_pop(&c->requests);
                bool stop = c->stop_worker;
                pthread_mutex_unlock(&c->lock);
                if (!q)
                        break;
                if (q->kind == REQ_RECORD) {
                        do_record(c, q);
                        req_free(q);
                        continue;
                }
                if (stop) {
                        req_free(q); /* nobody waits for it any more */
                        continue;
                }
                if (q->kind == REQ_CLAIM)
                        do_claim(c, q);
                else if (q->kind == REQ_LAST)
                        do_last(c, q);
                else
                        do_query(c, q);
                complete(c, q);
        }
        return NULL;
}

/* ---- the main thread's side ---- */

static void on_results(struct loop_source *s, uint32_t events) {
        struct cluster *c = (struct cluster *)((char *)s - offsetof(struct cluster, source));
        uint64_t n;
        (void)events;
        (void)!read(s->fd, &n, sizeof n);
        if (atomic_exchange(&c->lost_pending, false) && c->cb.lease_lost)
                c->cb.lease_lost(c->cb.userdata);
        pthread_mutex_lock(&c->done_lock);
        struct req *list = c->done.head;
        c->done = (struct req_queue){ 0 };
        pthread_mutex_unlock(&c->done_lock);
        while (list) {
                struct req *q = list;
                list = q->next;
                if (q->kind == REQ_CLAIM) {
                        const struct cluster_claim_result r = {
                                .job = q->job, .instant = q->instant, .attempt = q->attempt,
                                .outcome = q->outcome, .holder = q->holder[0] ? q->holder : "?", .why = q->why,
                        };
                        c->cb.claimed(c->cb.userdata, &r);
                } else {
                        for (struct req **pp = &c->queries; *pp; pp = &(*pp)->qnext)
                                if (*pp == q) {
                                        *pp = q->qnext;
                                        break;
                                }
                        if (q->kind == REQ_QUERY && q->done)
                                q->done(q->userdata, q->code, q->body ? q->body : "out of memory\n");
                        else if (q->kind == REQ_LAST && q->last_done)
                                q->last_done(q->userdata, q->code, q->job_name, q->holder, q->why);
                }
                req_free(q);
        }
}

static int client_for(struct cluster *c, usec_t timeout, struct etcd_client **ret) {
        char *why = NULL;
        const struct etcd_options o = {
                .timeout = MAX(timeout / MAX(c->n_endpoints, 1), 200 * USEC_PER_MSEC),
                .ca_file = c->ca_file, .cert_file = c->cert_file, .key_file = c->key_file,
        };
        int r = etcd_client_new(c->endpoints, &o, ret, &why);
        if (r < 0)
                log_error("cluster: %s", why ? why : strerror(-r));
        free(why);
        return r;
}

static char *dup_or_null(const char *s, bool *oom) {
        char *d = s ? strdup(s) : NULL;
        if (s && !d)
                *oom = true;
        return d;
}

int cluster_new(struct loop *l, const struct cluster_config *cfg, const struct cluster_callbacks *cb,
                struct cluster **ret) {
        struct cluster *c = calloc(1, sizeof *c);
        bool oom = false;
        int r;
        if (!c)
                return -ENOMEM;
        c->loop = l;
        c->cb = *cb;
        c->ttl = cfg->lease;
        c->source = (struct loop_source){ .fd = -1, .name = "cluster", .callback = on_results };
        c->name = dup_or_null(cfg->name, &oom);
        c->node = dup_or_null(cfg->node, &oom);
        c->endpoints = dup_or_null(cfg->etcd, &oom);
        c->ca_file = dup_or_null(cfg->ca_file, &oom);
        c->cert_file = dup_or_null(cfg->cert_file, &oom);
        c->key_file = dup_or_null(cfg->key_file, &oom);
        c->n_endpoints = strv_length(cfg->endpoints);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->done_lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (oom) {
                cluster_free(c);
                return -ENOMEM;
        }
        r = client_for(c, cluster_keepalive_period(c->ttl), &c->keeper_etcd);
        if (r >= 0)
                r = client_for(c, cluster_claim_timeout(c->ttl), &c->worker_etcd);
        if (r >= 0) {
                c->source.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                r = c->source.fd < 0 ? -errno : loop_add(l, &c->source, EPOLLIN);
        }
        if (r < 0) {
                cluster_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int cluster_start(struct cluster *c) {
        int r = pthread_create(&c->keeper, NULL, keeper_main, c);
        if (r != 0)
                return -r;
        c->keeper_started = true;
        r = pthread_create(&c->worker, NULL, worker_main, c);
        if (r != 0)
                return -r;
        c->worker_started = true;
        return 0;
}

struct cluster *cluster_free(struct cluster *c) {
        if (!c)
                return NULL;
        pthread_mutex_lock(&c->lock);
        c->stop_worker = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        if (c->worker_started)
                pthread_join(c->worker, NULL);
        pthread_mutex_lock(&c->lock);
        c->stop_keeper = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        if (c->keeper_started)
                pthread_join(c->keeper, NULL);
        while (c->requests.head)
                req_free(queue_pop(&c->requests));
        while (c->done.head)
                req_free(queue_pop(&c->done));
        if (c->source.fd >= 0) {
                loop_remove(c->loop, &c->source);
                safe_close(c->source.fd);
        }
        etcd_client_free(c->keeper_etcd);
        etcd_client_free(c->worker_etcd);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->done_lock);
        free(c->name);
        free(c->node);
        free(c->endpoints);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c);
        return NULL;
}

const char *cluster_node(const struct cluster *c) {
        return c->node;
}

usec_t cluster_lease_expiry(const struct cluster *c) {
        return atomic_load(&((struct cluster *)c)->lease_expiry);
}

const _Atomic usec_t *cluster_lease_expiry_ptr(const struct cluster *c) {
        return &c->lease_expiry;
}

static void submit(struct cluster *c, struct req *q) {
        pthread_mutex_lock(&c->lock);
        queue_push(&c->requests, q);
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
}

int cluster_claim(struct cluster *c, void *job, const char *job_name, usec_t instant, unsigned attempt) {
        struct req *q = calloc(1, sizeof *q);
        if (!q || !(q->key = cluster_run_key(c->name, job_name, instant, attempt))) {
                free(q);
                return -ENOMEM;
        }
        q->kind = REQ_CLAIM;
        q->job = job;
        q->instant = instant;
        q->attempt = attempt;
        q->deadline = now_usec(CLOCK_BOOTTIME) + cluster_claim_timeout(c->ttl);
        submit(c, q);
        return 0;
}

void cluster_record(struct cluster *c, const char *job_name, usec_t instant, unsigned attempt, usec_t start,
                    usec_t duration, bool ok, const char *result, usec_t history) {
        struct req *q = calloc(1, sizeof *q);
        json_object *o = json_object_new_object();
        if (q && o) {
                json_object_object_add(o, "node", json_object_new_string(c->node));
                json_object_object_add(o, "start", json_object_new_int64((int64_t)start));
                json_object_object_add(o, "duration_usec", json_object_new_int64((int64_t)duration));
                json_object_object_add(o, "ok", json_object_new_boolean(ok));
                json_object_object_add(o, "result", json_object_new_string(result));
                q->value = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                q->key = cluster_run_key(c->name, job_name, instant, attempt);
        }
        json_object_put(o);
        if (!q || !q->key || !q->value) {
                log_warning("cluster: cannot record the end of %s: out of memory", job_name);
                req_free(q);
                return;
        }
        q->kind = REQ_RECORD;
        q->history = history;
        submit(c, q);
}

int cluster_query(struct cluster *c, bool json, cluster_query_fn done, void *userdata) {
        struct req *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->kind = REQ_QUERY;
        q->json = json;
        q->done = done;
        q->userdata = userdata;
        q->qnext = c->queries;
        c->queries = q;
        submit(c, q);
        return 0;
}

int cluster_read_last(struct cluster *c, const char *job, cluster_last_fn done, void *userdata) {
        struct req *q = calloc(1, sizeof *q);
        if (!q || !(q->job_name = strdup(job))) {
                free(q);
                return -ENOMEM;
        }
        q->kind = REQ_LAST;
        q->last_done = done;
        q->userdata = userdata;
        q->qnext = c->queries;
        c->queries = q;
        submit(c, q);
        return 0;
}

void cluster_query_forget(struct cluster *c, void *userdata) {
        for (struct req *q = c->queries; q; q = q->qnext)
                if (q->userdata == userdata) {
                        q->done = NULL;
                        q->last_done = NULL;
                }
}

#endif
