/* cluster_keys.c - the pure part of cluster = once (cluster.h): the
 * periods derived from the lease, the instants and etcd keys every node
 * must spell the same way, the epoch-aligned every= instants; and, in a
 * build without etcd support, the functions cluster.h promises (the
 * configuration refuses [cluster] there, so none of them is reached with a
 * cluster). Any thread. */
#include "cluster.h"

#include <inttypes.h>

usec_t cluster_keepalive_period(usec_t ttl) {
        return MAX(ttl / 3, 500 * USEC_PER_MSEC);
}

usec_t cluster_claim_timeout(usec_t ttl) {
        return MAX(ttl / 3, 500 * USEC_PER_MSEC);
}

char *cluster_instant_format(usec_t instant, char *buf, size_t size) {
        if (instant % USEC_PER_SEC == 0)
                snprintf(buf, size, "%" PRIu64, instant / USEC_PER_SEC);
        else
                snprintf(buf, size, "%" PRIu64 ".%06" PRIu64, instant / USEC_PER_SEC, instant % USEC_PER_SEC);
        return buf;
}

char *cluster_run_key(const char *name, const char *job, usec_t instant, unsigned attempt) {
        char at[48];
        cluster_instant_format(instant, at, sizeof at);
        if (attempt <= 1)
                return strdup_printf("/evd/%s/runs/%s/%s", name, job, at);
        return strdup_printf("/evd/%s/runs/%s/%s/attempt-%u", name, job, at, attempt);
}

char *cluster_node_key(const char *name, const char *node) {
        return strdup_printf("/evd/%s/nodes/%s", name, node);
}

usec_t cluster_every_next(usec_t every, usec_t after) {
        return (after / every + 1) * every;
}

#ifndef EVD_HAVE_ETCD /* the configuration refuses [cluster], so none is made. */

int cluster_new(struct loop *l, const struct cluster_config *cfg, const struct cluster_callbacks *cb,
                struct cluster **ret) {
        (void)l;
        (void)cfg;
        (void)cb;
        (void)ret;
        return -EOPNOTSUPP;
}
int cluster_start(struct cluster *c) {
        (void)c;
        return -EOPNOTSUPP;
}
struct cluster *cluster_free(struct cluster *c) {
        (void)c;
        return NULL;
}
const char *cluster_node(const struct cluster *c) {
        (void)c;
        return NULL;
}
usec_t cluster_lease_expiry(const struct cluster *c) {
        (void)c;
        return 0;
}
const _Atomic usec_t *cluster_lease_expiry_ptr(const struct cluster *c) {
        (void)c;
        return NULL;
}
int cluster_claim(struct cluster *c, void *job, const char *job_name, usec_t instant, unsigned attempt) {
        (void)c;
        (void)job;
        (void)job_name;
        (void)instant;
        (void)attempt;
        return -EOPNOTSUPP;
}
void cluster_record(struct cluster *c, const char *job_name, usec_t instant, unsigned attempt, usec_t start,
                    usec_t duration, bool ok, const char *result, usec_t history) {
        (void)c;
        (void)job_name;
        (void)instant;
        (void)attempt;
        (void)start;
        (void)duration;
        (void)ok;
        (void)result;
        (void)history;
}
int cluster_query(struct cluster *c, bool json, cluster_query_fn done, void *userdata) {
        (void)c;
        (void)json;
        (void)done;
        (void)userdata;
        return -EOPNOTSUPP;
}
int cluster_read_last(struct cluster *c, const char *job, cluster_last_fn done, void *userdata) {
        (void)c;
        (void)job;
        (void)done;
        (void)userdata;
        return -EOPNOTSUPP;
}
void cluster_query_forget(struct cluster *c, void *userdata) {
        (void)c;
        (void)userdata;
}

#endif
