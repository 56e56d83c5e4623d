/* etcd_driver.c - a command-line driver of src/etcd.c for the cluster tests
 * (tests/cluster/test_etcd.py). One client per process:
 *
 *   etcd_driver [-t TIMEOUT_MS] [-a CA_FILE] [-c CERT_FILE] [-k KEY_FILE]
 *               ENDPOINTS COMMAND ARGS...
 *     grant TTL                  prints the lease ID and its TTL
 *     keepalive ID               prints the remaining TTL (0: expired)
 *     revoke ID
 *     claim KEY VALUE LEASE      prints "won" or "lost HOLDER-VALUE"
 *     claim-many PREFIX N VALUE LEASE [DELAY_MS]
 *                                claims PREFIX0 .. PREFIX(N-1), one line per
 *                                key ("won K", "lost K HOLDER", "error K MSG")
 *                                then "won=W lost=L errors=E"
 *     claim-threads PREFIX N THREADS
 *                                THREADS threads, each with its own client
 *                                (made concurrently), claim PREFIX0 ..
 *                                PREFIX(N-1) as "tI"; prints the totals
 *     put KEY VALUE [LEASE]
 *     get KEY | get-prefix KEY   prints "KEY=VALUE lease=L" lines
 *     delete KEY | delete-prefix KEY   prints the number deleted
 *     status                     one line per endpoint: member, leader
 *
 * Exit status: 0 success, 1 a failed call (its message on stderr), 2 usage
 * or a bad endpoint, 3 when the build has no etcd client. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "etcd.h"

static int usage(void) {
        fprintf(stderr, "usage: etcd_driver [-t MS] [-a CA] [-c CERT] [-k KEY] ENDPOINTS COMMAND ARGS...\n");
        return 2;
}

static int failed(struct etcd_client *c, const char *what, int r) {
        fprintf(stderr, "%s: %s (%s)\n", what, etcd_client_error(c), strerror(-r));
        return 1;
}

static int64_t num(const char *s) { return strtoll(s, NULL, 10); }

static int claim_many(struct etcd_client *c, char **argv, int argc) {
        if (argc < 4)
                return usage();
        long n = strtol(argv[1], NULL, 10), delay_ms = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
        int64_t lease = num(argv[3]);
        long won = 0, lost = 0, errors = 0;
        for (long k = 0; k < n; k++) {
                char key[512];
                snprintf(key, sizeof key, "%s%ld", argv[0], k);
                struct etcd_kv holder = {0};
                int r = etcd_claim(c, key, argv[2], lease, &holder);
                if (r > 0)
                        won++, printf("won %s\n", key);
                else if (r == 0)
                        lost++, printf("lost %s %s\n", key, holder.value);
                else
                        errors++, printf("error %s %s\n", key, etcd_client_error(c));
                etcd_kv_done(&holder);
                fflush(stdout);
                if (delay_ms > 0)
                        usleep((useconds_t)delay_ms * 1000);
        }
        printf("won=%ld lost=%ld errors=%ld\n", won, lost, errors);
        return 0;
}

struct claimer {
        pthread_t thread;
        const char *endpoints, *prefix;
        const struct etcd_options *opts;
        long n, won, lost, errors;
        char value[16];
};

static void *claimer_run(void *userdata) {
        struct claimer *t = userdata;
        struct etcd_client *c = NULL;
        if (etcd_client_new(t->endpoints, t->opts, &c, NULL) < 0) {
                t->errors = t->n;
                return NULL;
        }
        for (long k = 0; k < t->n; k++) {
                char key[512];
                snprintf(key, sizeof key, "%s%ld", t->prefix, k);
                int r = etcd_claim(c, key, t->value, 0, NULL);
                if (r > 0)
                        t->won++;
                else if (r == 0)
                        t->lost++;
                else
                        t->errors++;
        }
        etcd_client_free(c);
        return NULL;
}

static int claim_threads(const char *endpoints, const struct etcd_options *opts, char **argv, int argc) {
        if (argc != 3)
                return usage();
        long n = strtol(argv[1], NULL, 10), m = strtol(argv[2], NULL, 10);
        if (m < 1 || m > 64)
                return usage();
        struct claimer t[64] = {{0}};
        for (long i = 0; i < m; i++) {
                t[i] = (struct claimer){.endpoints = endpoints, .prefix = argv[0], .opts = opts, .n = n};
                snprintf(t[i].value, sizeof t[i].value, "t%ld", i);
                if (pthread_create(&t[i].thread, NULL, claimer_run, &t[i]) != 0)
                        return 1;
        }
        long won = 0, lost = 0, errors = 0;
        for (long i = 0; i < m; i++) {
                pthread_join(t[i].thread, NULL);
                won += t[i].won, lost += t[i].lost, errors += t[i].errors;
        }
        printf("won=%ld lost=%ld errors=%ld\n", won, lost, errors);
        return 0;
}

static int print_kvs(struct etcd_client *c, const char *key, bool prefix) {
        struct etcd_kv *kvs = NULL;
        size_t n = 0;
        int r = etcd_get(c, key, prefix, &kvs, &n);
        if (r < 0)
                return failed(c, "get", r);
        for (size_t i = 0; i < n; i++)
                printf("%s=%s lease=%" PRId64 "\n", kvs[i].key, kvs[i].value, kvs[i].lease);
        etcd_kvs_free(kvs, n);
        return 0;
}

static int status(struct etcd_client *c) {
        for (size_t i = 0; i < etcd_client_endpoints(c); i++) {
                struct etcd_status s;
                int r = etcd_status(c, i, &s);
                if (r < 0)
                        printf("%s error %s\n", etcd_client_endpoint(c, i), etcd_client_error(c));
                else
                        printf("%s member=%" PRIx64 " leader=%" PRIx64 " term=%" PRId64 " version=%s\n",
                               etcd_client_endpoint(c, i), s.member_id, s.leader, s.raft_term, s.version);
        }
        return 0;
}

static int command(struct etcd_client *c, const char *cmd, char **a, int n) {
        int r;
        int64_t x = 0, y = 0;
        if (streq(cmd, "grant") && n == 1) {
                if ((r = etcd_lease_grant(c, num(a[0]), &x, &y)) < 0)
                        return failed(c, "grant", r);
                printf("%" PRId64 " %" PRId64 "\n", x, y);
        } else if (streq(cmd, "keepalive") && n == 1) {
                if ((r = etcd_lease_keepalive(c, num(a[0]), &x)) < 0)
                        return failed(c, "keepalive", r);
                printf("%" PRId64 "\n", x);
        } else if (streq(cmd, "revoke") && n == 1) {
                if ((r = etcd_lease_revoke(c, num(a[0]))) < 0)
                        return failed(c, "revoke", r);
        } else if (streq(cmd, "claim") && n == 3) {
                struct etcd_kv holder = {0};
                if ((r = etcd_claim(c, a[0], a[1], num(a[2]), &holder)) < 0)
                        return failed(c, "claim", r);
                if (r > 0)
                        printf("won\n");
                else
                        printf("lost %s\n", holder.value);
                etcd_kv_done(&holder);
        } else if (streq(cmd, "claim-many"))
                return claim_many(c, a, n);
        else if (streq(cmd, "put") && (n == 2 || n == 3)) {
                if ((r = etcd_put(c, a[0], a[1], n == 3 ? num(a[2]) : 0)) < 0)
                        return failed(c, "put", r);
        } else if ((streq(cmd, "get") || streq(cmd, "get-prefix")) && n == 1)
                return print_kvs(c, a[0], streq(cmd, "get-prefix"));
        else if ((streq(cmd, "delete") || streq(cmd, "delete-prefix")) && n == 1) {
                if ((r = etcd_delete(c, a[0], streq(cmd, "delete-prefix"), &x)) < 0)
                        return failed(c, "delete", r);
                printf("%" PRId64 "\n", x);
        } else if (streq(cmd, "status") && n == 0)
                return status(c);
        else
                return usage();
        return 0;
}

int main(int argc, char **argv) {
        struct etcd_options opts = {0};
        int i = 1;
        for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i += 2)
                switch (argv[i][1]) {
                case 't': opts.timeout = (usec_t)strtoull(argv[i + 1], NULL, 10) * USEC_PER_MSEC; break;
                case 'a': opts.ca_file = argv[i + 1]; break;
                case 'c': opts.cert_file = argv[i + 1]; break;
                case 'k': opts.key_file = argv[i + 1]; break;
                default: return usage();
                }
        if (argc - i < 2)
                return usage();
        if (!etcd_available()) {
                fprintf(stderr, "built without the etcd client\n");
                return 3;
        }
        if (streq(argv[i + 1], "claim-threads"))
                return claim_threads(argv[i], &opts, argv + i + 2, argc - i - 2);
        struct etcd_client *c = NULL;
        char *err = NULL;
        int r = etcd_client_new(argv[i], &opts, &c, &err);
        if (r < 0) {
                fprintf(stderr, "%s\n", err ? err : strerror(-r));
                free(err);
                return 2;
        }
        r = command(c, argv[i + 1], argv + i + 2, argc - i - 2);
        etcd_client_free(c);
        return r;
}
