/* etcd.c - the etcd v3 JSON-gateway client (see etcd.h for the contract).
 * Compiled only when the build found libcurl and json-c (EVD_HAVE_ETCD).
 *
 * Owns one CURL handle per client, reused for every call (keep-alive
 * connections to the endpoints), the endpoint list and the message of the
 * last error. Invariant: c->current < c->n_endpoints.
 *
 * Threads: one thread per client at a time; curl_global_init() runs once
 * under pthread_once. Blocking: a worker thread's business. */
#include "etcd.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>

struct etcd_client {
        CURL *curl;
        char **endpoints;
        size_t n_endpoints;
        size_t current;     /* tried first: the one that answered last */
        long timeout_ms;
        long connect_timeout_ms;
        char error[512];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init(void) {
        global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int fail(struct etcd_client *c, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct etcd_client *c, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof c->error, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- base64 (RFC 4648, with padding), as the gateway encodes bytes ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t n) {
        const unsigned char *s = data;
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16;
                if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
                if (i + 2 < n) v |= s[i + 2];
                *o++ = b64_alphabet[v >> 18 & 63];
                *o++ = b64_alphabet[v >> 12 & 63];
                *o++ = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

static int b64_value(char ch) {
        const char *p = ch ? strchr(b64_alphabet, ch) : NULL;
        return p ? (int)(p - b64_alphabet) : -1;
}

/* Decodes into a NUL-terminated buffer; -EPROTO on bad input. */
static int b64_decode(const char *s, char **ret, size_t *ret_size) {
        size_t n = strlen(s);
        if (n % 4 != 0)
                return -EPROTO;
        char *out = malloc(n / 4 * 3 + 1);
        size_t k = 0;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];
                for (int j = 0; j < 4; j++) {
                        bool pad = s[i + j] == '=' && i + 4 == n && j >= 2 && (j == 3 || s[i + 3] == '=');
                        v[j] = pad ? 0 : b64_value(s[i + j]);
                        if (v[j] < 0) {
                                free(out);
                                return -EPROTO;
                        }
                }
                uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
                out[k++] = (char)(w >> 16);
                if (s[i + 2] != '=') out[k++] = (char)(w >> 8 & 0xff);
                if (s[i + 3] != '=') out[k++] = (char)(w & 0xff);
        }
        out[k] = '\0';
        *ret = out;
        if (ret_size)
                *ret_size = k;
        return 0;
}

/* ---- the client ---- */

int etcd_client_new(const char *endpoints, const struct etcd_options *opts,
                    struct etcd_client **ret, char **ret_error) {
        static const struct etcd_options defaults = {0};
        if (!opts)
                opts = &defaults;
        _cleanup_(strv_freep) char **v = NULL;
        int r = etcd_url_parse_list(endpoints, &v, ret_error);
        if (r < 0)
                return r;
        /* TLS files are read at the first connection: check them now, so
         * that a missing or unreadable one is a clear error at the start. */
        const char *files[][2] = {{"ca_file", opts->ca_file}, {"cert_file", opts->cert_file},
                                  {"key_file", opts->key_file}};
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i][1] && access(files[i][1], R_OK) < 0) {
                        r = -errno;
                        if (ret_error)
                                *ret_error = strdup_printf("etcd %s %s: %s", files[i][0], files[i][1],
                                                           strerror(-r));
                        return r;
                }
        pthread_once(&global_once, global_init);
        if (global_result != CURLE_OK) {
                if (ret_error)
                        *ret_error = strdup_printf("curl_global_init: %s", curl_easy_strerror(global_result));
                return -EIO;
        }
        struct etcd_client *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->curl = curl_easy_init();
        if (!c->curl) {
                free(c);
                return -ENOMEM;
        }
        c->endpoints = v;
        c->n_endpoints = strv_length(v);
        v = NULL;
        usec_t timeout = opts->timeout ? opts->timeout : 2 * USEC_PER_SEC;
        usec_t connect = opts->connect_timeout ? opts->connect_timeout : MIN(timeout, USEC_PER_SEC);
        c->timeout_ms = (long)MAX(timeout / USEC_PER_MSEC, 1);
        c->connect_timeout_ms = (long)MAX(connect / USEC_PER_MSEC, 1);

        CURL *h = c->curl;
        bool ok = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK; /* no $http_proxy to etcd */
        if (ok && opts->ca_file)
                ok = curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file) == CURLE_OK;
        if (ok && opts->cert_file)
                ok = curl_easy_setopt(h, CURLOPT_SSLCERT, opts->cert_file) == CURLE_OK;
        if (ok && opts->key_file)
                ok = curl_easy_setopt(h, CURLOPT_SSLKEY, opts->key_file) == CURLE_OK;
        if (!ok) {
                if (ret_error)
                        *ret_error = strdup("libcurl refused an option (built without TLS?)");
                etcd_client_free(c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

struct etcd_client *etcd_client_free(struct etcd_client *c) {
        if (!c)
                return NULL;
        curl_easy_cleanup(c->curl);
        strv_free(c->endpoints);
        free(c);
        return NULL;
}

const char *etcd_client_error(const struct etcd_client *c) { return c->error; }
size_t etcd_client_endpoints(const struct etcd_client *c) { return c->n_endpoints; }
const char *etcd_client_endpoint(const struct etcd_client *c, size_t i) {
        return i < c->n_endpoints ? c->endpoints[i] : NULL;
}

struct body {
        char *data;
        size_t size;
        bool too_big;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct body *b = userdata;
        size_t n = size * nmemb;
        if (b->size + n > 64u << 20) { /* 64 MiB: far beyond any answer evd asks for */
                b->too_big = true;
                return 0;
        }
        char *d = realloc(b->data, b->size + n + 1);
        if (!d)
                return 0;
        memcpy(d + b->size, ptr, n);
        b->size += n;
        d[b->size] = '\0';
        b->data = d;
        return n;
}

static int curl_errno(CURLcode cc) {
        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
        case CURLE_OUT_OF_MEMORY: return -ENOMEM;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE: return -EACCES;
        default: return -EIO;
        }
}

/* The gateway's error answer: {"error": "...", "code": N, "message": "..."}
 * with N a gRPC status code. */
static int grpc_errno(int code) {
        switch (code) {
        case 3: return -EINVAL;     /* invalid argument */
        case 4: return -ETIMEDOUT;  /* deadline exceeded */
        case 5: return -ENOENT;     /* not found (a lease) */
        case 8: return -ENOSPC;     /* resource exhausted */
        case 14: return -EAGAIN;    /* unavailable: no leader, leader changed */
        case 16: return -EACCES;    /* unauthenticated */
        default: return -EIO;
        }
}

/* Whether an error of one endpoint lets another endpoint be tried. */
static bool errno_fails_over(int r) {
        return r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ECONNREFUSED || r == -EAGAIN ||
               r == -EIO || r == -ECONNRESET;
}

/* One POST to endpoint I. On success *ret is the parsed answer. */
static int post_one(struct etcd_client *c, size_t i, const char *path, const char *request,
                    json_object **ret) {
        _cleanup_(freep) char *url = strdup_printf("%s%s", c->endpoints[i], path);
        struct body b = {0};
        struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (!url || !headers) {
                curl_slist_free_all(headers);
                return -ENOMEM;
        }
        CURL *h = c->curl;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        CURLcode cc = curl_easy_perform(h);
        curl_slist_free_all(headers);
        int r;
        if (cc != CURLE_OK) {
                r = fail(c, b.too_big ? -EPROTO : curl_errno(cc), "%s%s: %s", c->endpoints[i], path,
                         b.too_big ? "answer too big" : curl_easy_strerror(cc));
                free(b.data);
                return r;
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        json_object *j = b.data ? json_tokener_parse(b.data) : NULL;
        if (!j || !json_object_is_type(j, json_type_object)) {
                r = fail(c, status == 200 ? -EPROTO : -EIO, "%s%s: HTTP %ld, %s", c->endpoints[i], path,
                         status, j ? "answer is not a JSON object" : "answer is not JSON");
                json_object_put(j);
                free(b.data);
                return r;
        }
        free(b.data);
        /* A streaming method (lease keepalive) wraps its answer in "result"
         * or an error in "error": {...}. */
        json_object *inner;
        if (json_object_object_get_ex(j, "error", &inner) && json_object_is_type(inner, json_type_object)) {
                json_object_get(inner);
                json_object_put(j);
                j = inner;
        }
        json_object *code, *msg;
        if (status != 200 || json_object_object_get_ex(j, "code", &code)) {
                int gc = json_object_object_get_ex(j, "code", &code) ? json_object_get_int(code) : 0;
                if (!json_object_object_get_ex(j, "message", &msg))
                        json_object_object_get_ex(j, "error", &msg);
                r = fail(c, gc ? grpc_errno(gc) : -EIO, "%s%s: HTTP %ld: %s", c->endpoints[i], path,
                         status, msg ? json_object_get_string(msg) : "(no message)");
                json_object_put(j);
                return r;
        }
        if (json_object_object_get_ex(j, "result", &inner)) {
                json_object_get(inner);
                json_object_put(j);
                j = inner;
        }
        *ret = j;
        return 0;
}

/* POSTs REQUEST (a JSON object, consumed) to PATH with failover. */
static int post(struct etcd_client *c, const char *path, json_object *request, json_object **ret) {
        const char *text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN);
        int r = -EIO;
        c->error[0] = '\0';
        if (!text) {
                json_object_put(request);
                return fail(c, -ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < c->n_endpoints; k++) {
                size_t i = (c->current + k) % c->n_endpoints;
                r = post_one(c, i, path, text, ret);
                if (r >= 0) {
                        c->current = i;
                        c->error[0] = '\0';
                        break;
                }
                if (!errno_fails_over(r))
                        break;
        }
        json_object_put(request);
        return r;
}

/* ---- JSON helpers ---- */

static json_object *get(json_object *o, const char *a, const char *b) {
        /* The gateway may answer in camelCase or with the proto names. */
        json_object *v;
        if (o && json_object_object_get_ex(o, a, &v))
                return v;
        if (o && b && json_object_object_get_ex(o, b, &v))
                return v;
        return NULL;
}

static int64_t get_int64(json_object *o, const char *a, const char *b) {
        json_object *v = get(o, a, b);
        return v ? json_object_get_int64(v) : 0; /* int64s come as strings */
}

static int add_b64(json_object *o, const char *name, const char *s) {
        _cleanup_(freep) char *e = b64_encode(s, strlen(s));
        json_object *v = e ? json_object_new_string(e) : NULL;
        if (!v || json_object_object_add(o, name, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_int64(json_object *o, const char *name, int64_t n) {
        /* As a string: the gateway's int64 convention, exact in any parser. */
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, n);
        json_object *v = json_object_new_string(buf);
        if (!v || json_object_object_add(o, name, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_obj(json_object *o, const char *name, json_object *v) {
        if (!v || json_object_object_add(o, name, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* The smallest key greater than every key starting with KEY: the range_end
 * of a prefix (etcd's convention: last byte + 1, dropping trailing 0xff;
 * "\0" means "to the end of the key space"). */
static int add_prefix_end(json_object *o, const char *key) {
        size_t n = strlen(key);
        _cleanup_(freep) char *end = strdup(key);
        if (!end)
                return -ENOMEM;
        while (n > 0 && (unsigned char)end[n - 1] == 0xff)
                n--;
        if (n == 0) {
                json_object *v = json_object_new_string("AA=="); /* "\0" */
                return add_obj(o, "range_end", v);
        }
        end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
        end[n] = '\0';
        return add_b64(o, "range_end", end);
}

static int kv_parse(struct etcd_client *c, json_object *o, struct etcd_kv *ret) {
        struct etcd_kv kv = {0};
        json_object *k = get(o, "key", NULL), *v = get(o, "value", NULL);
        int r = b64_decode(k ? json_object_get_string(k) : "", &kv.key, NULL);
        if (r >= 0)
                r = b64_decode(v ? json_object_get_string(v) : "", &kv.value, &kv.value_size);
        if (r < 0) {
                etcd_kv_done(&kv);
                return fail(c, r, "bad base64 in a key or value from etcd");
        }
        kv.lease = get_int64(o, "lease", NULL);
        kv.create_revision = get_int64(o, "create_revision", "createRevision");
        kv.mod_revision = get_int64(o, "mod_revision", "modRevision");
        *ret = kv;
        return 0;
}

void etcd_kv_done(struct etcd_kv *kv) {
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (struct etcd_kv){0};
}

struct etcd_kv *etcd_kvs_free(struct etcd_kv *kvs, size_t n) {
        for (size_t i = 0; kvs && i < n; i++)
                etcd_kv_done(&kvs[i]);
        free(kvs);
        return NULL;
}

static int kvs_parse(struct etcd_client *c, json_object *kvs, struct etcd_kv **ret, size_t *ret_n) {
        size_t n = kvs && json_object_is_type(kvs, json_type_array) ? json_object_array_length(kvs) : 0;
        struct etcd_kv *a = calloc(n ? n : 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int r = kv_parse(c, json_object_array_get_idx(kvs, i), &a[i]);
                if (r < 0) {
                        etcd_kvs_free(a, i);
                        return r;
                }
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

/* ---- the calls ---- */

int etcd_lease_grant(struct etcd_client *c, int64_t ttl_sec, int64_t *ret_id, int64_t *ret_ttl) {
        json_object *req = json_object_new_object(), *ans = NULL;
        if (!req || add_int64(req, "TTL", ttl_sec) < 0) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/lease/grant", req, &ans);
        if (r < 0)
                return r;
        int64_t id = get_int64(ans, "ID", NULL), ttl = get_int64(ans, "TTL", NULL);
        json_object *err = get(ans, "error", NULL);
        if (err && json_object_get_string_len(err) > 0)
                r = fail(c, -EIO, "lease grant: %s", json_object_get_string(err));
        else if (id == 0)
                r = fail(c, -EPROTO, "lease grant: no lease ID in the answer");
        json_object_put(ans);
        if (r < 0)
                return r;
        *ret_id = id;
        if (ret_ttl)
                *ret_ttl = ttl;
        return 0;
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ret_ttl) {
        json_object *req = json_object_new_object(), *ans = NULL;
        if (!req || add_int64(req, "ID", id) < 0) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/lease/keepalive", req, &ans);
        if (r == -ENOENT) { /* "requested lease not found" */
                *ret_ttl = 0;
                return 0;
        }
        if (r < 0)
                return r;
        int64_t ttl = get_int64(ans, "TTL", NULL);
        json_object_put(ans);
        *ret_ttl = ttl > 0 ? ttl : 0;
        return 0;
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id) {
        json_object *req = json_object_new_object(), *ans = NULL;
        if (!req || add_int64(req, "ID", id) < 0) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/lease/revoke", req, &ans);
        json_object_put(ans);
        return r;
}

static json_object *put_request(const char *key, const char *value, int64_t lease) {
        json_object *put = json_object_new_object();
        if (!put || add_b64(put, "key", key) < 0 || add_b64(put, "value", value) < 0 ||
            (lease != 0 && add_int64(put, "lease", lease) < 0))
                return json_object_put(put), NULL;
        return put;
}

/* {"compare": [{"target": "CREATE", "key": K, "create_revision": 0}],
 *  "success": [{"request_put": {K, V, lease}}],
 *  "failure": [{"request_range": {"key": K}}]} */
static json_object *claim_request(const char *key, const char *value, int64_t lease) {
        json_object *req = json_object_new_object(), *cmp = json_object_new_object(),
                    *cmps = json_object_new_array(), *ok = json_object_new_array(),
                    *nok = json_object_new_array(), *okop = json_object_new_object(),
                    *nokop = json_object_new_object(), *range = json_object_new_object();
        bool good = req && cmp && cmps && ok && nok && okop && nokop && range &&
                    add_obj(cmp, "target", json_object_new_string("CREATE")) >= 0 &&
                    add_obj(cmp, "result", json_object_new_string("EQUAL")) >= 0 &&
                    add_b64(cmp, "key", key) >= 0 && add_int64(cmp, "create_revision", 0) >= 0 &&
                    add_b64(range, "key", key) >= 0 &&
                    add_obj(okop, "request_put", put_request(key, value, lease)) >= 0;
        if (good) {
                json_object_array_add(cmps, cmp);
                json_object_array_add(ok, okop);
                json_object_object_add(nokop, "request_range", range);
                json_object_array_add(nok, nokop);
                json_object_object_add(req, "compare", cmps);
                json_object_object_add(req, "success", ok);
                json_object_object_add(req, "failure", nok);
                return req;
        }
        json_object *all[] = {req, cmp, cmps, ok, nok, okop, nokop, range};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                json_object_put(all[i]);
        return NULL;
}

int etcd_claim(struct etcd_client *c, const char *key, const char *value, int64_t lease,
               struct etcd_kv *ret_holder) {
        json_object *req = claim_request(key, value, lease), *ans = NULL;
        if (!req)
                return -ENOMEM;
        int r = post(c, "/v3/kv/txn", req, &ans);
        if (r < 0)
                return r;
        json_object *succeeded = get(ans, "succeeded", NULL);
        if (succeeded && json_object_get_boolean(succeeded)) {
                json_object_put(ans);
                return 1;
        }
        json_object *resps = get(ans, "responses", NULL), *first = NULL;
        if (resps && json_object_is_type(resps, json_type_array) && json_object_array_length(resps) > 0)
                first = json_object_array_get_idx(resps, 0);
        json_object *range = get(first, "response_range", "responseRange");
        json_object *kvs = get(range, "kvs", NULL);
        struct etcd_kv holder = {0};
        if (!kvs || !json_object_is_type(kvs, json_type_array) || json_object_array_length(kvs) == 0)
                /* The holder went away (its lease expired) between the
                 * compare and the range of one transaction cannot happen:
                 * a missing kv is an answer we do not understand. */
                r = fail(c, -EPROTO, "claim of %s: the failed transaction returned no holder", key);
        else
                r = kv_parse(c, json_object_array_get_idx(kvs, 0), &holder);
        json_object_put(ans);
        if (r < 0)
                return r;
        /* A retry of our own committed claim (the first answer was lost). */
        bool ours = holder.lease == lease && holder.value_size == strlen(value) &&
                    memcmp(holder.value, value, holder.value_size) == 0;
        if (ours) {
                etcd_kv_done(&holder);
                return 1;
        }
        if (ret_holder)
                *ret_holder = holder;
        else
                etcd_kv_done(&holder);
        return 0;
}

int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease) {
        json_object *req = put_request(key, value, lease), *ans = NULL;
        if (!req)
                return -ENOMEM;
        int r = post(c, "/v3/kv/put", req, &ans);
        json_object_put(ans);
        return r;
}

int etcd_get(struct etcd_client *c, const char *key, bool prefix, struct etcd_kv **ret, size_t *ret_n) {
        json_object *req = json_object_new_object(), *ans = NULL;
        if (!req || add_b64(req, "key", key) < 0 || (prefix && add_prefix_end(req, key) < 0)) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/kv/range", req, &ans);
        if (r < 0)
                return r;
        r = kvs_parse(c, get(ans, "kvs", NULL), ret, ret_n);
        json_object_put(ans);
        return r;
}

int etcd_get_last(struct etcd_client *c, const char *prefix, struct etcd_kv *ret) {
        json_object *req = json_object_new_object(), *ans = NULL;
        struct etcd_kv *kvs = NULL;
        size_t n = 0;
        if (!req || add_b64(req, "key", prefix) < 0 || add_prefix_end(req, prefix) < 0 ||
            json_object_object_add(req, "limit", json_object_new_int64(1)) < 0 ||
            json_object_object_add(req, "sort_order", json_object_new_string("DESCEND")) < 0 ||
            json_object_object_add(req, "sort_target", json_object_new_string("KEY")) < 0) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/kv/range", req, &ans);
        if (r < 0)
                return r;
        r = kvs_parse(c, get(ans, "kvs", NULL), &kvs, &n);
        json_object_put(ans);
        if (r < 0)
                return r;
        if (n > 0) {
                *ret = kvs[0];
                kvs[0] = (struct etcd_kv){ 0 };
        }
        etcd_kvs_free(kvs, n);
        return n > 0;
}

int etcd_delete(struct etcd_client *c, const char *key, bool prefix, int64_t *ret_deleted) {
        json_object *req = json_object_new_object(), *ans = NULL;
        if (!req || add_b64(req, "key", key) < 0 || (prefix && add_prefix_end(req, key) < 0)) {
                json_object_put(req);
                return -ENOMEM;
        }
        int r = post(c, "/v3/kv/deleterange", req, &ans);
        if (r < 0)
                return r;
        if (ret_deleted)
                *ret_deleted = get_int64(ans, "deleted", NULL);
        json_object_put(ans);
        return 0;
}

int etcd_status(struct etcd_client *c, size_t i, struct etcd_status *ret) {
        if (i >= c->n_endpoints)
                return -EINVAL;
        json_object *ans = NULL;
        c->error[0] = '\0';
        int r = post_one(c, i, "/v3/maintenance/status", "{}", &ans);
        if (r < 0)
                return r;
        struct etcd_status s = {0};
        json_object *header = get(ans, "header", NULL), *version = get(ans, "version", NULL);
        s.member_id = (uint64_t)json_object_get_uint64(get(header, "member_id", "memberId"));
        s.leader = (uint64_t)json_object_get_uint64(get(ans, "leader", NULL));
        s.raft_term = get_int64(ans, "raftTerm", "raft_term");
        snprintf(s.version, sizeof s.version, "%s", version ? json_object_get_string(version) : "");
        json_object_put(ans);
        if (s.member_id == 0)
                return fail(c, -EPROTO, "%s: status without a member ID", c->endpoints[i]);
        *ret = s;
        return 0;
}
