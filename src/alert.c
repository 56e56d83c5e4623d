/* alert.c - the alert executor (see alert.h): the rate limit, the queue,
 * the alert threads, and what one alert does (a hook, a mail, the log).
 *
 * Decisions written down here:
 * - The threads are started with the first alert, so an evd without any
 *   hook or mail has none. ALERT_WORKERS of them: at most that many hooks
 *   or sendmails run at once, however many jobs fail.
 * - The rate limit (at most ALERT_RATE_PER_MINUTE accepted in any 60 s,
 *   a ring of admission times) and the queue bound are checked on the main
 *   thread when an alert is raised; what is refused is dropped at once and
 *   counted. A dropped alert is never retried: the next failure of the job
 *   (alert=every) or its recovery raises the next one.
 * - A hook is a run (run_execute) of a definition made from the job's: its
 *   argv is the hook's (never through a shell), timeout= the job's (or
 *   ALERT_TIMEOUT_DEFAULT when the job has none), user= hook_user= if set,
 *   the job's environment= and then the EVD_* facts (which win). It logs
 *   under the job's name without a run id (EVD_JOB=, no EVD_RUN=), so
 *   `evdctl log JOB RUN` shows the run's own output only.
 * - sendmail gets the same time limit; its own failure is logged.
 * - At shutdown the queue gets until the deadline the scheduler gives;
 *   then what has not started is dropped (logged with its count) and
 *   running hooks are ended like runs at shutdown.
 *
 * Threads: see alert.h. The main thread owns the limiter, the counters
 * and every job_def reference; a thread hands a request back (x->done,
 * eventfd) for the main thread to drop its reference. */
#include "alert.h"

#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "mail.h"
#include "run.h"
#include "timespan.h"

const char *alert_kind_to_string(enum alert_kind k) {
        static const char *const names[_ALERT_KIND_MAX] = {
                [ALERT_FAILURE] = "failure", [ALERT_RECOVERY] = "recovery", [ALERT_OVERDUE] = "overdue",
                [ALERT_RUN] = "run",
        };
        return k < _ALERT_KIND_MAX ? names[k] : "?";
}

/* ---- the rate limit ---- */

int alert_limiter_init(struct alert_limiter *l, unsigned rate, usec_t window) {
        *l = (struct alert_limiter){ .rate = rate, .window = window };
        if (rate == 0)
                return 0;
        l->ring = calloc(rate, sizeof(usec_t));
        if (!l->ring)
                return -ENOMEM;
        for (unsigned i = 0; i < rate; i++)
                l->ring[i] = USEC_INFINITY; /* never admitted */
        return 0;
}

void alert_limiter_done(struct alert_limiter *l) {
        free(l->ring);
        *l = (struct alert_limiter){ 0 };
}

bool alert_limiter_admit(struct alert_limiter *l, usec_t now) {
        /* ring[next] is the oldest of the last `rate` admissions. */
        usec_t oldest = l->rate ? l->ring[l->next] : now;
        if (l->rate == 0 || (oldest != USEC_INFINITY && now < oldest + l->window)) {
                l->dropped++;
                return false;
        }
        l->ring[l->next] = now;
        l->next = (l->next + 1) % l->rate;
        return true;
}

void alert_limiter_drop(struct alert_limiter *l) {
        l->dropped++;
}

uint64_t alert_limiter_take_dropped(struct alert_limiter *l) {
        uint64_t n = l->dropped;
        l->dropped = 0;
        return n;
}

/* ---- one request ---- */

struct alert_request *alert_request_free(struct alert_request *a) {
        if (a) {
                free(a->output);
                free(a);
        }
        return NULL;
}

static int env_add(char ***env, const char *key, const char *value) {
        char *s = strdup_printf("%s=%s", key, value);
        if (!s)
                return -ENOMEM;
        int r = strv_push(env, s);
        free(s);
        return r;
}

static void format_iso_utc(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        if (t == 0 || !gmtime_r(&sec, &tm)) {
                snprintf(buf, size, "%s", "");
                return;
        }
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int alert_hook_environment(const struct alert_request *a, const char *hostname, char ***env) {
        char run[32], status[16], dur[32], attempt[16], last[64];
        snprintf(run, sizeof run, "%llu", (unsigned long long)a->run);
        if (a->exit_status >= 0)
                snprintf(status, sizeof status, "%d", a->exit_status);
        else
                status[0] = 0;
        snprintf(dur, sizeof dur, "%llu", (unsigned long long)a->duration);
        snprintf(attempt, sizeof attempt, "%u", a->attempt);
        format_iso_utc(last, sizeof last, a->last_success);
        if (env_add(env, "EVD_JOB", a->def->name) < 0 || env_add(env, "EVD_RUN", a->run ? run : "") < 0 ||
            env_add(env, "EVD_RESULT", a->result) < 0 || env_add(env, "EVD_EXIT_STATUS", status) < 0 ||
            env_add(env, "EVD_DURATION_USEC", a->run ? dur : "") < 0 ||
            env_add(env, "EVD_ATTEMPT", a->attempt ? attempt : "") < 0 ||
            env_add(env, "EVD_LAST_SUCCESS", last) < 0 || env_add(env, "EVD_HOSTNAME", hostname) < 0 ||
            env_add(env, "EVD_ALERT", alert_kind_to_string(a->kind)) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- carrying one out (an alert thread) ---- */

static usec_t alert_timeout(const struct job_def *d) {
        return d->timeout == USEC_INFINITY ? ALERT_TIMEOUT_DEFAULT : d->timeout;
}

/* Runs the hook; a one-line result for the log into buf. Returns true if
 * it exited 0. */
static bool run_hook(struct alert_worker *w, struct alert_request *a, const struct job_alerts *al,
                     const char *host, char *buf, size_t size) {
        const struct job_def *d = a->def;
        const char *key = a->kind == ALERT_RECOVERY ? "on_recovery" : "on_failure";
        char **argv = a->kind == ALERT_RECOVERY ? al->on_recovery.argv : al->on_failure.argv;
        char **env = NULL;
        struct job_extras x = *d->extras;
        struct job_def hd = *d;

        for (char **e = x.environment; e && *e; e++)
                if (strv_push(&env, *e) < 0)
                        goto oom;
        if (alert_hook_environment(a, host, &env) < 0)
                goto oom;
        x.environment = env;
        x.alerts = NULL;
        if (al->hook_user.name) {
                x.user = al->hook_user.name;
                x.uid = al->hook_user.uid;
                x.gid = al->hook_user.gid;
                x.home = al->hook_user.home;
                x.shell_path = al->hook_user.shell_path;
                x.group = NULL;
        }
        hd.argv = argv;
        hd.command = argv[0];
        hd.shell = false;
        hd.timeout = alert_timeout(d);
        hd.extras = &x;

        struct run hr = {
                .def = &hd, .attempt = 1, .kill_grace = d->config->kill_grace, .hook = key,
                .input = a->output, .input_len = a->output_len,
        };
        atomic_init(&hr.cancel, RUN_CANCEL_NONE);
        atomic_init(&hr.wake_fd, -1);
        pthread_mutex_lock(&w->executor->lock);
        w->hook = &hr;
        bool stop = w->executor->stopping && now_usec(CLOCK_MONOTONIC) >= w->executor->stop_deadline;
        pthread_mutex_unlock(&w->executor->lock);
        if (stop)
                run_cancel(&hr, RUN_CANCEL_TERM);
        run_execute(&hr, w->wake_fd);
        pthread_mutex_lock(&w->executor->lock);
        w->hook = NULL;
        pthread_mutex_unlock(&w->executor->lock);
        strv_free(env);

        char result[192];
        run_describe_result(&hr, result, sizeof result);
        snprintf(buf, size, "%s hook %s: %s%s", key, run_succeeded(&hr) ? "ran" : "failed", result,
                 hr.timed_out ? " (timed out)" : hr.cancelled ? " (stopped)" : "");
        return run_succeeded(&hr);
oom:
        strv_free(env);
        snprintf(buf, size, "%s hook failed: out of memory", key);
        return false;
}

/* Sends the mail; a one-line result into buf. True if sendmail took it. */
static bool send_mail(struct alert_request *a, const struct job_alerts *al, const char *host, char *buf,
                      size_t size) {
        char *msg = NULL, *err = NULL;
        uint64_t nonce = 0;
        (void)!getrandom(&nonce, sizeof nonce, GRND_NONBLOCK);
        const struct mail_facts f = {
                .job = a->def->name, .run = a->run, .host = host, .result = a->result,
                .result_text = a->result_text, .exit_status = a->exit_status, .duration = a->duration,
                .attempt = a->attempt, .start = a->start, .last_success = a->last_success,
                .date = now_usec(CLOCK_REALTIME), .from = al->mail_from, .to = al->mail_to_list,
                .output = a->output, .output_len = a->output_len, .nonce = nonce,
        };
        int r = mail_compose(&f, &msg);
        if (r < 0) {
                snprintf(buf, size, "mail not composed: %s", strerror(-r));
                return false;
        }
        r = mail_send(config_sendmail_argv(a->def->config), msg, alert_timeout(a->def), &err);
        free(msg);
        if (r < 0)
                snprintf(buf, size, "mail to %s failed: %s", al->mail_to, err ? err : strerror(-r));
        else
                snprintf(buf, size, "mail sent to %s", al->mail_to);
        free(err);
        return r >= 0;
}

void alert_execute(struct alert_worker *w, struct alert_request *a) {
        char host[256] = "", hook[320] = "", mail[512] = "", f_alert[32], f_latency[48];
        struct job_alerts al;
        bool ok = true;

        if (gethostname(host, sizeof host - 1) < 0)
                snprintf(host, sizeof host, "%s", "localhost");
        job_def_alerts(a->def, &al);
        if (a->run_hook)
                ok = run_hook(w, a, &al, host, hook, sizeof hook) && ok;
        if (a->send_mail)
                ok = send_mail(a, &al, host, mail, sizeof mail) && ok;
        snprintf(f_alert, sizeof f_alert, "EVD_ALERT=%s", alert_kind_to_string(a->kind));
        snprintf(f_latency, sizeof f_latency, "EVD_ALERT_DELAY_USEC=%llu",
                 (unsigned long long)(now_usec(CLOCK_MONOTONIC) - a->queued));
        char *fields[] = { f_alert, f_latency, NULL };
        log_job(ok ? LOG_NOTICE : LOG_WARNING, a->def->name, a->run, fields, "%s alert: %s%s%s",
                alert_kind_to_string(a->kind), hook, *hook && *mail ? "; " : "", mail);
}

/* ---- the executor ---- */

static void *worker_main(void *arg) {
        struct alert_worker *w = arg;
        struct alert_executor *x = w->executor;

        pthread_mutex_lock(&x->lock);
        for (;;) {
                while (!x->head && !x->stopping)
                        pthread_cond_wait(&x->cond, &x->lock);
                struct alert_request *a = x->head;
                if (!a)
                        break; /* stopping, nothing left */
                if (x->stopping && now_usec(CLOCK_MONOTONIC) >= x->stop_deadline)
                        break; /* the rest is dropped by alert_executor_stop() */
                x->head = a->next;
                if (!x->head)
                        x->tail = NULL;
                x->n_queued--;
                x->n_busy++;
                pthread_mutex_unlock(&x->lock);

                x->execute(w, a);

                pthread_mutex_lock(&x->lock);
                x->n_busy--;
                bool was_empty = !x->done;
                a->next = x->done;
                x->done = a;
                pthread_cond_broadcast(&x->cond);
                if (was_empty && x->source.fd >= 0) {
                        uint64_t one = 1;
                        (void)!write(x->source.fd, &one, sizeof one);
                }
        }
        pthread_mutex_unlock(&x->lock);
        return NULL;
}

size_t alert_executor_collect(struct alert_executor *x) {
        size_t n = 0;
        uint64_t v;
        if (x->source.fd >= 0)
                (void)!read(x->source.fd, &v, sizeof v);
        pthread_mutex_lock(&x->lock);
        struct alert_request *a = x->done;
        x->done = NULL;
        pthread_mutex_unlock(&x->lock);
        while (a) {
                struct alert_request *next = a->next;
                job_def_unref(a->def);
                alert_request_free(a);
                a = next;
                n++;
        }
        return n;
}

static void executor_dispatch(struct loop_source *s, uint32_t events) {
        struct alert_executor *x = (struct alert_executor *)((char *)s - offsetof(struct alert_executor, source));
        (void)events;
        alert_executor_collect(x);
}

int alert_executor_init(struct alert_executor *x, struct loop *l, unsigned rate_per_minute) {
        *x = (struct alert_executor){ .loop = l, .execute = alert_execute };
        x->source.fd = -EBADF;
        for (size_t i = 0; i < ALERT_WORKERS; i++)
                x->workers[i].wake_fd = -EBADF;
        pthread_mutex_init(&x->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&x->cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = alert_limiter_init(&x->limiter, rate_per_minute, USEC_PER_MINUTE);
        if (r < 0)
                return r;
        x->source.name = "alerts";
        x->source.callback = executor_dispatch;
        x->source.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (x->source.fd < 0)
                return -errno;
        if (l) {
                r = loop_add(l, &x->source, EPOLLIN);
                if (r < 0) {
                        x->source.fd = safe_close(x->source.fd);
                        return r;
                }
        }
        return 0;
}

/* The threads, at the first alert. */
static int executor_start(struct alert_executor *x) {
        while (x->n_workers < ALERT_WORKERS) {
                struct alert_worker *w = &x->workers[x->n_workers];
                w->executor = x;
                w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (w->wake_fd < 0)
                        return -errno;
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 256 * 1024);
                int r = pthread_create(&w->thread, &attr, worker_main, w);
                pthread_attr_destroy(&attr);
                if (r != 0) {
                        w->wake_fd = safe_close(w->wake_fd);
                        return x->n_workers > 0 ? 0 : -r;
                }
                x->n_workers++;
        }
        return 0;
}

bool alert_submit(struct alert_executor *x, struct alert_request *a, usec_t now) {
        bool full;
        pthread_mutex_lock(&x->lock);
        full = x->n_queued >= ALERT_QUEUE_MAX || x->stopping;
        pthread_mutex_unlock(&x->lock);
        if (full)
                alert_limiter_drop(&x->limiter);
        if (full || !alert_limiter_admit(&x->limiter, now) || executor_start(x) < 0) {
                if (!full && x->n_workers == 0)
                        log_error("Cannot start the alert threads: %m");
                x->dropped_total++;
                job_def_unref(a->def);
                alert_request_free(a);
                return false;
        }
        a->queued = now;
        a->next = NULL;
        pthread_mutex_lock(&x->lock);
        if (x->tail)
                x->tail->next = a;
        else
                x->head = a;
        x->tail = a;
        x->n_queued++;
        pthread_cond_signal(&x->cond);
        pthread_mutex_unlock(&x->lock);
        x->sent++;
        return true;
}

uint64_t alert_executor_take_dropped(struct alert_executor *x) {
        return alert_limiter_take_dropped(&x->limiter);
}

uint64_t alert_executor_stop(struct alert_executor *x, usec_t deadline) {
        if (!x->execute)
                return 0; /* never initialised */
        pthread_mutex_lock(&x->lock);
        x->stopping = true;
        x->stop_deadline = deadline;
        pthread_cond_broadcast(&x->cond);
        while ((x->head || x->n_busy > 0) && x->n_workers > 0 && now_usec(CLOCK_MONOTONIC) < deadline) {
                struct timespec ts = { .tv_sec = (time_t)(deadline / USEC_PER_SEC),
                                       .tv_nsec = (long)(deadline % USEC_PER_SEC) * 1000 };
                pthread_cond_timedwait(&x->cond, &x->lock, &ts);
        }
        /* Past the deadline: end the hooks still running; what has not
         * started is dropped. */
        for (size_t i = 0; i < x->n_workers; i++)
                if (x->workers[i].hook)
                        run_cancel(x->workers[i].hook, RUN_CANCEL_TERM);
        struct alert_request *left = x->head;
        x->head = x->tail = NULL;
        x->n_queued = 0;
        pthread_cond_broadcast(&x->cond);
        pthread_mutex_unlock(&x->lock);

        uint64_t n_left = 0;
        while (left) {
                struct alert_request *next = left->next;
                job_def_unref(left->def);
                alert_request_free(left);
                left = next;
                n_left++;
        }
        if (n_left > 0)
                log_warning("Shutting down: %llu queued alert(s) not sent", (unsigned long long)n_left);
        for (size_t i = 0; i < x->n_workers; i++) {
                pthread_join(x->workers[i].thread, NULL);
                x->workers[i].wake_fd = safe_close(x->workers[i].wake_fd);
        }
        x->n_workers = 0;
        alert_executor_collect(x);
        if (x->loop && x->source.fd >= 0)
                loop_remove(x->loop, &x->source);
        x->source.fd = safe_close(x->source.fd);
        alert_limiter_done(&x->limiter);
        pthread_mutex_destroy(&x->lock);
        pthread_cond_destroy(&x->cond);
        x->execute = NULL;
        return n_left;
}
