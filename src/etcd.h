/* etcd.h - a small blocking client of etcd v3's JSON gateway (issue 12).
 *
 * Owns: the endpoint list of one client (parsed, normalised URLs), its one
 * CURL handle, and the index of the endpoint that answered last.
 *
 * Every call is one HTTP POST to /v3/...; keys and values travel base64
 * encoded as the gateway wants. A call tries the endpoint that answered
 * last, then the others in order, moving on after a connection error, a
 * timeout or an answer that says the member cannot serve it now (no
 * leader, leader changed: gRPC code 14 "unavailable"). Each attempt is
 * bounded by the client's timeout; so a call ends within
 * (number of endpoints) x timeout.
 *
 * Errors are -errno: -ECONNREFUSED / -ETIMEDOUT (no endpoint answered;
 * the last attempt's error), -EAGAIN (every member answered "unavailable"),
 * -ENOENT (lease not found), -EINVAL (bad request), -EPROTO (an answer that
 * is not the expected JSON), -ENOMEM. etcd_client_error() then holds a
 * message for the log (endpoint and cause).
 *
 * Threads: blocking; meant for a worker thread, never the main loop. A
 * client is used by one thread at a time; different clients may be used
 * in parallel (curl's global initialisation is done once, thread-safely).
 *
 * etcd_available() and etcd_url_parse() (etcd_url.c) exist in every build;
 * the rest only when the build found libcurl and json-c (EVD_HAVE_ETCD). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* True when evd was built with the etcd client (libcurl and json-c). */
bool etcd_available(void);

/* Parses one endpoint, "http://HOST[:PORT]" or "https://HOST[:PORT]" (HOST
 * a name, an IPv4 address or a bracketed IPv6 address; PORT 1-65535,
 * default 2379; an optional trailing "/" and nothing else). On success
 * *ret is the normalised "scheme://host:port" (malloc'd). On -EINVAL
 * *ret_error (if not NULL) is a malloc'd message saying what is wrong. */
int etcd_url_parse(const char *text, char **ret, char **ret_error);

/* Splits a comma- or blank-separated list of endpoints and parses each;
 * *ret is a NULL-terminated strv. -EINVAL with a message on the first bad
 * one (or an empty list). */
int etcd_url_parse_list(const char *text, char ***ret, char **ret_error);

struct etcd_client;

struct etcd_options {
        usec_t timeout;         /* one attempt on one endpoint; 0: 2 s */
        usec_t connect_timeout; /* the TCP/TLS connect; 0: min(timeout, 1 s) */
        const char *ca_file;    /* TLS (https endpoints); each may be NULL */
        const char *cert_file;
        const char *key_file;
};

/* A key-value pair read from etcd (key and value decoded, NUL-terminated;
 * the value may contain NULs: value_size is its length). */
struct etcd_kv {
        char *key;
        char *value;
        size_t value_size;
        int64_t lease;           /* 0: none */
        int64_t create_revision;
        int64_t mod_revision;
};

struct etcd_status {
        uint64_t member_id; /* the member that answered */
        uint64_t leader;    /* its idea of the leader; 0: none */
        int64_t raft_term;
        char version[32];
};

/* endpoints: a list as for etcd_url_parse_list(). On -EINVAL *ret_error
 * (if not NULL) is a malloc'd message. */
int etcd_client_new(const char *endpoints, const struct etcd_options *opts,
                    struct etcd_client **ret, char **ret_error);
struct etcd_client *etcd_client_free(struct etcd_client *c);
/* The message of the last failed call ("" if none); valid until the next
 * call on this client. */
const char *etcd_client_error(const struct etcd_client *c);
size_t etcd_client_endpoints(const struct etcd_client *c);
const char *etcd_client_endpoint(const struct etcd_client *c, size_t i);

int etcd_lease_grant(struct etcd_client *c, int64_t ttl_sec, int64_t *ret_id, int64_t *ret_ttl);
/* *ret_ttl: the remaining TTL in seconds; 0 when the lease has expired
 * (or never existed), which is not an error. */
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ret_ttl);
int etcd_lease_revoke(struct etcd_client *c, int64_t id);

/* One transaction: if KEY was never created (create_revision == 0), put
 * VALUE attached to LEASE (0: none). Returns 1 when this call created it,
 * 0 when someone else holds it (*ret_holder, if not NULL, is the holder's
 * pair; free with etcd_kv_done()), <0 on error. A retry after a lost
 * answer (timeout, failover) that finds KEY holding exactly this VALUE
 * under this LEASE is reported as won: callers make VALUE unique to the
 * claimant so that this cannot confuse two claimants. */
int etcd_claim(struct etcd_client *c, const char *key, const char *value, int64_t lease,
               struct etcd_kv *ret_holder);
int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease);
/* prefix: every key that starts with KEY. *ret is an array of *ret_n pairs
 * (free with etcd_kvs_free()); 0 pairs is success. */
int etcd_get(struct etcd_client *c, const char *key, bool prefix, struct etcd_kv **ret, size_t *ret_n);
/* The pair with the greatest key that starts with PREFIX: 1 and *ret
 * (free with etcd_kv_done()), 0 when there is none, <0 on error. */
int etcd_get_last(struct etcd_client *c, const char *prefix, struct etcd_kv *ret);
/* *ret_deleted (may be NULL): how many keys went. */
int etcd_delete(struct etcd_client *c, const char *key, bool prefix, int64_t *ret_deleted);
/* Asks endpoint I (no failover: this is the health of that member). */
int etcd_status(struct etcd_client *c, size_t i, struct etcd_status *ret);

void etcd_kv_done(struct etcd_kv *kv);
struct etcd_kv *etcd_kvs_free(struct etcd_kv *kvs, size_t n);
