/* control_deferred.c - the control commands answered later, when a
 * helper thread is done (reload, metrics, cluster), and the test hooks
 * (see control.h). Each handler returns REPLY_DEFERRED and the client is
 * answered from the done callback, on the loop. Main thread only. */
#include "control_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "scheduler.h"
#include "strbuf.h"

/* The reload's reply, from its result. */
static int render_reload(struct sched *s, int r, char **errors, bool json, struct strbuf *b) {
        if (r >= 0) {
                if (json)
                        strbuf_printf(b, "{\"reloaded\":true,\"jobs\":%zu,\"errors\":[]}\n", sched_job_count(s));
                else
                        strbuf_printf(b, "configuration reloaded: %zu jobs\n", sched_job_count(s));
                return 0;
        }
        /* Not a configuration error (out of memory, or a loader that failed
         * without a message): still say something a reader can act on. */
        char *fallback[2] = { NULL, NULL };
        if (strv_length(errors) == 0) {
                fallback[0] = strdup_printf("%s: %s; see evd's log", sched_config(s)->path,
                                            r == -EINVAL ? "the configuration could not be loaded" : strerror(-r));
                errors = fallback;
        }
        if (json) {
                strbuf_puts(b, "{\"reloaded\":false,\"errors\":[");
                for (size_t i = 0; errors[i]; i++) {
                        if (i)
                                strbuf_puts(b, ",");
                        strbuf_json_string(b, errors[i]);
                }
                strbuf_puts(b, "]}\n");
        } else {
                for (char **e = errors; *e; e++)
                        strbuf_printf(b, "%s\n", *e);
                strbuf_puts(b, "reload failed: the running configuration is unchanged\n");
        }
        free(fallback[0]);
        return 1;
}

static void reload_done(void *userdata, int r, char **errors) {
        struct control_client *cl = userdata;
        struct control *ctl = cl->ctl;
        struct strbuf b = { 0 };
        cl->waiting = false;
        int code = render_reload(ctl->sched, r, errors, cl->json, &b);
        control_client_reply(cl, code, b.s && !b.oom ? b.s : "out of memory\n");
        strbuf_done(&b);
        timer_clock_flush(&ctl->clock);
}

int control_handle_reload(struct request *r) {
        if (!r->client) {
                strbuf_puts(r->out, "reload: only over the control socket\n");
                return 1;
        }
        int k = sched_reload_request(r->sched, reload_done, r->client);
        if (k < 0)
                return render_reload(r->sched, k, NULL, r->json, r->out);
        r->client->waiting = true;
        return REPLY_DEFERRED;
}

/* The metrics text comes from the metrics thread (sched_metrics.c): the
 * loop only takes the snapshot, so a table of 100,000 jobs does not hold
 * it up while the text is rendered. */
static void metrics_done(void *userdata, int r, char *text) {
        struct control_client *cl = userdata;
        struct control *ctl = cl->ctl;
        cl->waiting = false;
        if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "metrics: %s\n", strerror(-r));
                control_client_reply(cl, 1, msg);
        } else {
                if (control_client_reply(cl, 0, "")) { /* not dropped for want of memory */
                        cl->body = text;
                        cl->body_len = strlen(text);
                        text = NULL;
                }
        }
        free(text);
        timer_clock_flush(&ctl->clock);
}

int control_handle_metrics(struct request *r) {
        bool openmetrics = r->n_args == 1;
        if (openmetrics && !streq(r->args[0], "--openmetrics")) {
                strbuf_printf(r->out, "metrics: unknown argument \"%s\" (--openmetrics or none)\n", r->args[0]);
                return 2;
        }
        if (r->json) {
                strbuf_puts(r->out, "metrics: there is no JSON form (the text is the Prometheus format, "
                                    "or OpenMetrics with --openmetrics)\n");
                return 2;
        }
        if (!r->client) {
                strbuf_puts(r->out, "metrics: only over the control socket\n");
                return 1;
        }
        int k = sched_metrics_request(r->sched, openmetrics, metrics_done, r->client);
        if (k < 0) {
                strbuf_printf(r->out, "metrics: %s\n", strerror(-k));
                return 1;
        }
        r->client->waiting = true;
        return REPLY_DEFERRED;
}

/* `cluster`: answered when a cluster worker has read etcd (never on the
 * loop), as reload is answered when the reload is done. */
static void cluster_done(void *userdata, int code, const char *body) {
        struct control_client *cl = userdata;
        cl->waiting = false;
        control_client_reply(cl, code, body);
        timer_clock_flush(&cl->ctl->clock);
}

int control_handle_cluster(struct request *r) {
        if (!r->client) {
                strbuf_puts(r->out, "cluster: only over the control socket\n");
                return 1;
        }
        int k = sched_cluster_query(r->sched, r->json, cluster_done, r->client);
        if (k == -ENODEV) {
                strbuf_puts(r->out, "evd runs without a cluster (no [cluster] in its configuration at start)\n");
                return 1;
        }
        if (k < 0) {
                strbuf_printf(r->out, "cluster: %s\n", strerror(-k));
                return 1;
        }
        r->client->waiting = true;
        return REPLY_DEFERRED;
}

#ifdef EVD_TEST_HOOKS
/* Test hooks answer only when evd was started with EVD_TEST_HOOKS=1 in its
 * environment and built with -DEVD_TEST_HOOKS=ON (off by default; the
 * test suite turns it on, packages are built without). */
bool control_test_hooks_enabled(void) {
        const char *e = getenv("EVD_TEST_HOOKS");
        return e && streq(e, "1");
}

/* Block the main loop, as a bug would, so the watchdog test can show
 * systemd restarting a stalled evd. */
int control_handle_test_stall(struct request *r) {
        unsigned long sec = strtoul(r->args[0], NULL, 10);
        log_warning("test-stall: blocking the main loop for %lus", sec);
        struct timespec ts = { .tv_sec = (time_t)MIN(sec, 3600UL) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        strbuf_puts(r->out, "stalled\n");
        return 0;
}

/* A step of the wall clock by SECONDS (may be negative), seen only by this
 * evd and handled on the path of a real one. */
int control_handle_test_clock_step(struct request *r) {
        const char *arg = r->args[0];
        char *end;
        errno = 0;
        long long sec = strtoll(arg, &end, 10);
        if (errno || end == arg || *end || sec < -86400LL * 366 || sec > 86400LL * 366) {
                strbuf_printf(r->out, "test-clock-step: bad number of seconds \"%s\"\n", arg);
                return 2;
        }
        log_warning("test-clock-step: stepping evd's wall clock by %llds", sec);
        sched_test_clock_step(r->sched, (int64_t)sec * (int64_t)USEC_PER_SEC);
        strbuf_printf(r->out, "stepped %llds\n", sec);
        return 0;
}
#endif
