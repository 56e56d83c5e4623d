/* cluster.h - cluster = once jobs on etcd (issue 12): the claims of
 * scheduled instants, the node's lease and its keeper, fencing, and what
 * `evdctl cluster` shows.
 *
 * Owns: one etcd lease per node (granted at start, kept alive every TTL/3
 * by the keeper thread, re-granted after a loss), the node key
 * /evd/NAME/nodes/NODE (claimed with create_revision == 0 under the lease:
 * a second evd with the same node name gets no claim and logs why), a
 * claim worker thread with its queue, and the completion queue (mutex +
 * eventfd) that hands results back to the main loop.
 *
 * Keys (NAME: [cluster] name=; INSTANT: the scheduled elapse before jitter,
 * realtime, in seconds since the epoch, "S" or "S.UUUUUU"):
 *   /evd/NAME/nodes/NODE                    {"node":..,"lease":..,"pid":..,"started":..}
 *   /evd/NAME/runs/JOB/INSTANT              attempt 1
 *   /evd/NAME/runs/JOB/INSTANT/attempt-N    retry N-1 of that instant
 * A run key is created by the claim under the node's lease, value
 * {"node":..,"lease":..,"start":..}; when the run ends (or the won claim is
 * not run) it is put again, {"node":..,"start":..,"duration_usec":..,
 * "ok":..,"result":..}, under a history lease of cluster_history (+ up to a
 * tenth, at most an hour: one history lease serves the records of that
 * period). So the key exists from the claim until cluster_history after
 * the end: a node whose clock is behind finds the instant taken.
 *
 * Lease and fencing. The keeper measures its own CLOCK_BOOTTIME before it
 * sends a keepalive; on an answer with TTL t > 0 the lease is known live
 * until that time + t (etcd's leader counts from later, so this errs on
 * the safe side). cluster_lease_expiry() (atomic, any thread) is that
 * bound, 0 with no lease. A claim is attempted only while it is ahead, a
 * won claim starts only while it is ahead (the loop checks it, and the
 * worker again just before the spawn), and the scheduler ends every
 * claimed run when it passes (fencing). CLOCK_BOOTTIME runs on while evd
 * is stopped (SIGSTOP) or the machine sleeps, so a node that wakes up past
 * its expiry sees it at once.
 *
 * Threads: cluster_new/start/free, cluster_claim, cluster_record,
 * cluster_query*: main thread. cluster_lease_expiry: any thread. The
 * keeper and the claim worker each have their own etcd client. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "loop.h"
#include "util.h"

struct cluster;

enum cluster_outcome {
        CLUSTER_WON,            /* this node holds the instant */
        CLUSTER_LOST,           /* another node does (holder) */
        CLUSTER_UNDECIDED,      /* no answer in time, no lease: cluster_unreachable decides */
        CLUSTER_REFUSED,        /* this node may not claim (its node name is in use): skipped */
};

/* A claim's result, handed to the claimed() callback on the main loop. */
struct cluster_claim_result {
        void *job;              /* as given to cluster_claim() */
        usec_t instant;
        unsigned attempt;
        enum cluster_outcome outcome;
        const char *holder;     /* CLUSTER_LOST: the node that holds it ("?" if unknown) */
        const char *why;        /* UNDECIDED/REFUSED: why, for the log */
};

struct cluster_callbacks {
        void (*claimed)(void *userdata, const struct cluster_claim_result *r);
        /* The keeper found the lease lost (answer TTL 0, or no keepalive
         * answered before its expiry): fence at once. */
        void (*lease_lost)(void *userdata);
        void *userdata;
};

/* The timing derived from the lease TTL: keepalive period TTL/3; a claim
 * is decided within TTL/3 (else undecided). */
usec_t cluster_keepalive_period(usec_t ttl);
usec_t cluster_claim_timeout(usec_t ttl);

/* "1733222400", or "1733222400.500000" for an instant off the second. */
char *cluster_instant_format(usec_t instant, char *buf, size_t size);
/* The run key of (job, instant, attempt); malloc'd, NULL when out of memory. */
char *cluster_run_key(const char *name, const char *job, usec_t instant, unsigned attempt);
char *cluster_node_key(const char *name, const char *node);
/* `every` of a cluster job is aligned to the epoch: the first multiple of
 * every after `after` (realtime), so that every node computes the same
 * instants. */
usec_t cluster_every_next(usec_t every, usec_t after);

/* Main thread. The threads start with cluster_start(). -EOPNOTSUPP in a
 * build without etcd. */
int cluster_new(struct loop *l, const struct cluster_config *cfg, const struct cluster_callbacks *cb,
                struct cluster **ret);
int cluster_start(struct cluster *c);
/* Stops the threads (a claim in flight is answered undecided and dropped),
 * revokes the lease (its keys go at once), frees. */
struct cluster *cluster_free(struct cluster *c);

const char *cluster_node(const struct cluster *c);
/* CLOCK_BOOTTIME until which the node's lease is known live; 0: none. */
usec_t cluster_lease_expiry(const struct cluster *c);
/* The same as a pointer a worker thread can read before the spawn. */
const _Atomic usec_t *cluster_lease_expiry_ptr(const struct cluster *c);
static inline bool cluster_lease_live(const struct cluster *c, usec_t now_boottime) {
        return now_boottime < cluster_lease_expiry(c);
}

/* Claims (job_name, instant, attempt) on the claim worker; the result
 * comes to cb->claimed on the loop. job is opaque here. 0 or -ENOMEM. */
int cluster_claim(struct cluster *c, void *job, const char *job_name, usec_t instant, unsigned attempt);
/* The end of a claimed instant (run, or not run) into its key: under a
 * history lease of `history`. Best effort (a failure is logged). */
void cluster_record(struct cluster *c, const char *job_name, usec_t instant, unsigned attempt, usec_t start,
                    usec_t duration, bool ok, const char *result, usec_t history);

/* `evdctl cluster`: the nodes with live leases and each endpoint's health,
 * read on the claim worker; done(userdata, code, body) on the loop, unless
 * cluster_query_forget(userdata) came first. */
typedef void (*cluster_query_fn)(void *userdata, int code, const char *body);
/* `evdctl status JOB` of a cluster job: the last record of the job in
 * etcd (its greatest instant), read on the claim worker. done(userdata,
 * r, job, node, result) on the loop: r 1 found (node; result, or "running"
 * for a run not ended), 0 none, <0 etcd failed (result: why). Forgotten as
 * queries are. */
typedef void (*cluster_last_fn)(void *userdata, int r, const char *job, const char *node, const char *result);
int cluster_read_last(struct cluster *c, const char *job, cluster_last_fn done, void *userdata);
int cluster_query(struct cluster *c, bool json, cluster_query_fn done, void *userdata);
void cluster_query_forget(struct cluster *c, void *userdata);
