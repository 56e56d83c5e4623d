/* sched_metrics.c - the scheduler's metrics: `evdctl metrics` and the
 * [daemon] metrics_file (see scheduler.h; the text is metrics.c's).
 *
 * The loop only takes snapshots; a thread renders and writes. A snapshot
 * is every job's values (from its struct job_view, so a field another
 * module adds to the view is one line here) and the daemon's counters,
 * with the job names copied into one buffer so that the thread needs
 * nothing of the configuration (a reload may free it meanwhile). Taking
 * one is O(jobs) without formatting (about 16 ms for 100,000 jobs);
 * rendering (49 MB of text then, about 450 ms) and the file's fsync and
 * rename are the thread's (bench/README.md, "Metrics with 100,000 jobs").
 * The arrays of a snapshot that came back are kept for the next one.
 *
 * The file is written when a value changed, never on a timer: a job event
 * or a re-armed deadline sets s->metrics_dirty (sched_metrics_touch), and
 * the daemon's counters are compared by their sum (every one only grows).
 * After a loop iteration that changed something, a snapshot is taken if
 * no write is in flight; otherwise the dirty flag waits for the write to
 * come back (the eventfd), and one snapshot of the newest values follows.
 * So at most one write is in flight, the file's snapshots are taken at
 * most once per loop iteration and once per write, and nothing is
 * written while nothing changes. Which counters are left out: the loop's and the
 * control socket's own (loop_iterations, events_*, control_*): they move
 * with every wake-up, a scrape of `evdctl metrics` included, so the file
 * would be rewritten because it was read; `evdctl stats` has them.
 *
 * A write that fails (the directory is missing or not writable) is logged
 * once per kind of error, with a notice when writing works again; the old
 * file stays. An `evdctl metrics` request gets its own snapshot, rendered
 * on the same thread after the work queued before it; its client may hang
 * up meanwhile (sched_metrics_forget).
 *
 * Threads: everything here runs on the main thread but metrics_main() (the
 * thread), which touches only the task it took from m->todo (the queues
 * and `stopping` are under m->lock) and its own last_error/last_path. */
#include "sched_private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "log.h"
#include "metrics.h"

/* What a snapshot holds besides the jobs: the counters of `evdctl stats`
 * that change with the jobs (see above), and three gauges of its own. */
enum {
        D_START_TIME, D_JOBS, D_FAILING, D_RUNNING, D_WAITING, D_WORKERS, D_RUNS_STARTED, D_RUNS_COMPLETED,
        D_RUNS_FAILED, D_RUNS_SKIPPED, D_RUNS_QUEUED, D_RETRIES, D_ORPHANS, D_RELOADS, D_RELOAD_FAILURES,
        D_CLOCK_CHANGES, _D_MAX,
        D_FIRST_COUNTER = D_RUNS_STARTED,
};

static const struct metrics_daemon_value daemon_template[_D_MAX] = {
        [D_START_TIME] = { "start_time_seconds", "When evd started (Unix time).", METRICS_GAUGE, 0 },
        [D_JOBS] = { "jobs", "Jobs in the configuration.", METRICS_GAUGE, 0 },
        [D_FAILING] = { "jobs_failing", "Jobs whose last run failed.", METRICS_GAUGE, 0 },
        [D_RUNNING] = { "running", "Runs in flight.", METRICS_GAUGE, 0 },
        [D_WAITING] = { "waiting_for_worker", "Runs waiting for a free worker.", METRICS_GAUGE, 0 },
        [D_WORKERS] = { "workers", "Worker threads.", METRICS_GAUGE, 0 },
        [D_RUNS_STARTED] = { "runs_started", "Runs started.", METRICS_COUNTER, 0 },
        [D_RUNS_COMPLETED] = { "runs_completed", "Runs that ended.", METRICS_COUNTER, 0 },
        [D_RUNS_FAILED] = { "runs_failed", "Runs that failed.", METRICS_COUNTER, 0 },
        [D_RUNS_SKIPPED] = { "runs_skipped", "Scheduled or requested starts not made.", METRICS_COUNTER, 0 },
        [D_RUNS_QUEUED] = { "runs_queued", "Starts queued behind an active run (overlap=queue).",
                            METRICS_COUNTER, 0 },
        [D_RETRIES] = { "retries", "Retries of failed runs.", METRICS_COUNTER, 0 },
        [D_ORPHANS] = { "orphans_reaped", "Orphaned processes reaped.", METRICS_COUNTER, 0 },
        [D_RELOADS] = { "reloads", "Configuration reloads.", METRICS_COUNTER, 0 },
        [D_RELOAD_FAILURES] = { "reload_failures", "Reloads refused for errors.", METRICS_COUNTER, 0 },
        [D_CLOCK_CHANGES] = { "clock_changes", "Steps of the system clock seen.", METRICS_COUNTER, 0 },
};

struct metrics_task {
        struct metrics_task *next;      /* m->todo / m->done, under m->lock */
        struct metrics_task *reply_next; /* main thread: m->replies */
        enum metrics_format format;
        struct metrics_job *jobs;
        size_t n_jobs;
        char *names;                    /* jobs[i].name point here */
        size_t names_len;
        struct metrics_daemon_value daemon[_D_MAX];
        char *path;                     /* write the file; NULL: render for the waiter */
        sched_metrics_fn done;          /* NULL once the waiter went away */
        void *userdata;
        atomic_bool gone;               /* the waiter went away: the thread need not render */
        /* Results, written by the thread. */
        char *text;
        int r;
};

struct sched_metrics {
        struct loop_source source;      /* eventfd: tasks are done */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct metrics_task *todo, *todo_tail;  /* under lock */
        struct metrics_task *done;              /* under lock */
        bool stopping;                          /* under lock */
        /* Main thread. */
        struct metrics_task *replies;   /* reply tasks handed over, wherever they are */
        bool file_in_flight;
        uint64_t fingerprint;           /* the counters' sum at the last file snapshot */
        /* The arrays of a task that came back, for the next snapshot: a
         * table of 100,000 jobs is 10 MB, and fresh pages cost the loop
         * a fault each (bench/README.md, the metrics stall). */
        struct metrics_job *spare_jobs;
        size_t spare_n;
        char *spare_names;
        size_t spare_names_len;
        bool written_once;
        /* The thread's. */
        int last_error;
        char *last_path;
};

static void task_free(struct metrics_task *t) {
        if (!t)
                return;
        free(t->jobs);
        free(t->names);
        free(t->path);
        free(t->text);
        free(t);
}

/* ---- snapshots (main thread) ---- */

static uint64_t counters_sum(const struct metrics_daemon_value *d) {
        uint64_t sum = 0;
        for (size_t i = D_FIRST_COUNTER; i < _D_MAX; i++)
                sum += d[i].value;
        return sum;
}

static void fill_daemon(const struct sched *s, struct metrics_daemon_value *d) {
        struct sched_counters c;
        sched_get_counters(s, &c);
        memcpy(d, daemon_template, sizeof daemon_template);
        d[D_START_TIME].value = s->started_realtime / USEC_PER_SEC;
        d[D_JOBS].value = c.n_jobs;
        d[D_FAILING].value = s->n_failing;
        d[D_RUNNING].value = c.running;
        d[D_WAITING].value = c.waiting_for_worker;
        d[D_WORKERS].value = c.worker_threads;
        d[D_RUNS_STARTED].value = c.runs_started;
        d[D_RUNS_COMPLETED].value = c.runs_completed;
        d[D_RUNS_FAILED].value = c.runs_failed;
        d[D_RUNS_SKIPPED].value = c.runs_skipped;
        d[D_RUNS_QUEUED].value = c.runs_queued;
        d[D_RETRIES].value = c.retries;
        d[D_ORPHANS].value = c.orphans_reaped;
        d[D_RELOADS].value = c.reloads;
        d[D_RELOAD_FAILURES].value = c.reload_failures;
        d[D_CLOCK_CHANGES].value = c.clock_changes;
}

/* One job's sample from its view. */
static void job_sample(const struct job_view *v, struct metrics_job *m) {
        *m = (struct metrics_job){
                .last_start = v->last_start,
                .last_success = v->last_success,
                .last_duration = v->last_duration,
                .next_run = v->next_run,
                .running = v->n_running,
                .overdue = v->overdue,
                .paused = v->paused,
        };
        uint64_t failed = 0;
        for (size_t k = 0; k < _JOB_FAILED_MAX; k++)
                failed += v->n_failed[k];
        /* Failures the notes could not count (out of memory) stay exit-code. */
        m->runs[METRICS_RESULT_SUCCESS] = v->n_runs - v->n_failures;
        m->runs[METRICS_RESULT_EXIT_CODE] = v->n_failed[JOB_FAILED_EXIT_CODE] + (v->n_failures - failed);
        m->runs[METRICS_RESULT_SIGNAL] = v->n_failed[JOB_FAILED_SIGNAL];
        m->runs[METRICS_RESULT_TIMEOUT] = v->n_failed[JOB_FAILED_TIMEOUT];
        m->runs[METRICS_RESULT_SPAWN_FAILED] = v->n_failed[JOB_FAILED_SPAWN];
        m->runs[METRICS_RESULT_SKIPPED] = v->n_skipped;
}

/* Arrays for a snapshot of n jobs with names_len bytes of names: the
 * spare ones when they are big enough. */
static int snapshot_arrays(struct sched_metrics *m, struct metrics_task *t, size_t n, size_t names_len) {
        if (m && m->spare_jobs && m->spare_n >= n) {
                t->jobs = m->spare_jobs;
                m->spare_jobs = NULL;
        } else
                t->jobs = malloc(MAX(n, 1) * sizeof(*t->jobs));
        if (m && m->spare_names && m->spare_names_len >= names_len) {
                t->names = m->spare_names;
                m->spare_names = NULL;
        } else
                t->names = malloc(MAX(names_len, 1));
        return t->jobs && t->names ? 0 : -ENOMEM;
}

/* Keeps the arrays of a task that came back, when they are bigger. */
static void keep_spare(struct sched_metrics *m, struct metrics_task *t) {
        if (t->jobs && (!m->spare_jobs || t->n_jobs > m->spare_n)) {
                free(m->spare_jobs);
                m->spare_jobs = t->jobs;
                m->spare_n = t->n_jobs;
                t->jobs = NULL;
        }
        if (t->names && (!m->spare_names || t->names_len > m->spare_names_len)) {
                free(m->spare_names);
                m->spare_names = t->names;
                m->spare_names_len = t->names_len;
                t->names = NULL;
        }
}

static struct metrics_task *snapshot(struct sched *s, enum metrics_format format) {
        struct metrics_task *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        size_t n = s->n_jobs, names_len = 0;
        for (size_t i = 0; i < n; i++)
                names_len += strlen(s->jobs[i]->def->name) + 1;
        t->format = format;
        t->names_len = names_len;
        if (snapshot_arrays(s->metrics, t, n, names_len) < 0) {
                task_free(t);
                return NULL;
        }
        char *p = t->names;
        for (size_t i = 0; i < n; i++) {
                struct job_view v;
                sched_fill_view(s->jobs[i], &v, false);
                job_sample(&v, &t->jobs[i]);
                size_t k = strlen(v.def->name) + 1;
                memcpy(p, v.def->name, k);
                t->jobs[i].name = p;
                p += k;
        }
        t->n_jobs = n;
        fill_daemon(s, t->daemon);
        return t;
}

/* ---- the thread ---- */

static void write_file(struct sched_metrics *m, struct metrics_task *t) {
        int r = metrics_write_file(t->path, t->text);
        bool same_path = m->last_path && streq(m->last_path, t->path);
        if (r < 0 && (r != m->last_error || !same_path))
                log_warning_errno(r, "Cannot write the metrics file %s (tried again at the next change)", t->path);
        else if (r >= 0 && m->last_error < 0 && same_path)
                log_notice("Metrics file %s written again", t->path);
        m->last_error = r;
        if (!same_path) {
                free(m->last_path);
                m->last_path = strdup(t->path);
        }
}

static void run_task(struct sched_metrics *m, struct metrics_task *t) {
        if (!t->path && atomic_load(&t->gone)) {
                t->r = -ECANCELED;
                return;
        }
        struct strbuf b = { 0 };
        t->r = metrics_render(&b, t->format, t->jobs, t->n_jobs, t->daemon, _D_MAX);
        if (t->r >= 0)
                t->text = strbuf_steal(&b);
        strbuf_done(&b);
        if (t->r >= 0 && !t->text)
                t->r = -ENOMEM;
        if (t->path) {
                if (t->r < 0)
                        log_warning_errno(t->r, "Cannot render the metrics for %s", t->path);
                else
                        write_file(m, t);
        }
}

static void *metrics_main(void *arg) {
        struct sched_metrics *m = arg;
        uint64_t one = 1;
        pthread_mutex_lock(&m->lock);
        for (;;) {
                while (!m->todo && !m->stopping)
                        pthread_cond_wait(&m->cond, &m->lock);
                struct metrics_task *t = m->todo;
                if (!t)
                        break;
                m->todo = t->next;
                if (!m->todo)
                        m->todo_tail = NULL;
                pthread_mutex_unlock(&m->lock);

                run_task(m, t);

                pthread_mutex_lock(&m->lock);
                t->next = m->done;
                m->done = t;
                while (write(m->source.fd, &one, sizeof one) < 0 && errno == EINTR)
                        ;
        }
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

/* ---- tasks back on the loop ---- */

static void tasks_done(struct loop_source *source, uint32_t events) {
        struct sched_metrics *m = container_of(source, struct sched_metrics, source);
        uint64_t n;
        (void)events;
        (void)!read(source->fd, &n, sizeof n);
        pthread_mutex_lock(&m->lock);
        struct metrics_task *list = m->done;
        m->done = NULL;
        pthread_mutex_unlock(&m->lock);
        /* The list is newest first: answer in the order asked. */
        struct metrics_task *rev = NULL;
        while (list) {
                struct metrics_task *t = list;
                list = t->next;
                t->next = rev;
                rev = t;
        }
        while (rev) {
                struct metrics_task *t = rev;
                rev = t->next;
                if (t->path)
                        m->file_in_flight = false;
                else {
                        for (struct metrics_task **pp = &m->replies; *pp; pp = &(*pp)->reply_next)
                                if (*pp == t) {
                                        *pp = t->reply_next;
                                        break;
                                }
                }
                if (!t->path && t->done) {
                        t->done(t->userdata, t->r, t->r >= 0 ? t->text : NULL);
                        t->text = NULL; /* the callee's now */
                }
                keep_spare(m, t);
                task_free(t);
        }
}

/* ---- set-up ---- */

static int metrics_start(struct sched *s) {
        if (s->metrics)
                return 0;
        struct sched_metrics *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->source.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->source.fd < 0) {
                int r = -errno;
                free(m);
                return r;
        }
        m->source.name = "metrics";
        m->source.callback = tasks_done;
        int r = loop_add(s->loop, &m->source, EPOLLIN);
        if (r < 0) {
                safe_close(m->source.fd);
                free(m);
                return r;
        }
        pthread_mutex_init(&m->lock, NULL);
        pthread_cond_init(&m->cond, NULL);
        r = pthread_create(&m->thread, NULL, metrics_main, m);
        if (r != 0) {
                (void)loop_remove(s->loop, &m->source);
                safe_close(m->source.fd);
                pthread_mutex_destroy(&m->lock);
                pthread_cond_destroy(&m->cond);
                free(m);
                return -r;
        }
        s->metrics = m;
        return 0;
}

static void submit(struct sched_metrics *m, struct metrics_task *t) {
        pthread_mutex_lock(&m->lock);
        t->next = NULL;
        if (m->todo_tail)
                m->todo_tail->next = t;
        else
                m->todo = t;
        m->todo_tail = t;
        pthread_cond_signal(&m->cond);
        pthread_mutex_unlock(&m->lock);
}

int sched_metrics_request(struct sched *s, bool openmetrics, sched_metrics_fn done, void *userdata) {
        int r = metrics_start(s);
        if (r < 0)
                return log_error_errno(r, "Cannot start the metrics thread");
        struct metrics_task *t = snapshot(s, openmetrics ? METRICS_FORMAT_OPENMETRICS : METRICS_FORMAT_PROMETHEUS);
        if (!t)
                return -ENOMEM;
        t->done = done;
        t->userdata = userdata;
        t->reply_next = s->metrics->replies;
        s->metrics->replies = t;
        submit(s->metrics, t);
        return 0;
}

/* The task may be queued, on the thread, or done and not yet taken back:
 * m->replies has it in every case. The thread never reads done or
 * userdata; it skips the rendering of a task already gone (a client that
 * asks and hangs up, again and again, costs a snapshot each, no text). */
void sched_metrics_forget(struct sched *s, void *userdata) {
        struct sched_metrics *m = s->metrics;
        if (!m)
                return;
        for (struct metrics_task *t = m->replies; t; t = t->reply_next)
                if (t->userdata == userdata) {
                        t->done = NULL;
                        atomic_store(&t->gone, true);
                }
}

/* A snapshot for the file, when one is due (or forced, at exit). */
static void file_snapshot(struct sched *s, bool force) {
        const char *path = s->config->metrics_file;
        if (!path)
                return;
        if (!force && s->metrics && s->metrics->file_in_flight)
                return; /* the dirty flag waits for the write to come back */
        struct metrics_daemon_value d[_D_MAX];
        fill_daemon(s, d);
        uint64_t fp = counters_sum(d);
        if (!force && s->metrics && s->metrics->written_once && !s->metrics_dirty && fp == s->metrics->fingerprint)
                return;
        int r = metrics_start(s);
        if (r < 0) {
                static int logged;
                if (r != logged)
                        log_warning_errno(r, "Cannot start the metrics thread; %s is not kept current", path);
                logged = r;
                return;
        }
        struct sched_metrics *m = s->metrics;
        struct metrics_task *t = snapshot(s, METRICS_FORMAT_PROMETHEUS);
        if (t)
                t->path = strdup(path);
        if (!t || !t->path) {
                task_free(t);
                log_warning("Out of memory while taking a metrics snapshot");
                return;
        }
        s->metrics_dirty = false;
        m->fingerprint = fp;
        m->written_once = true;
        m->file_in_flight = true;
        submit(m, t);
}

void sched_metrics_after_dispatch(struct sched *s) {
        file_snapshot(s, false);
}

void sched_metrics_done(struct sched *s) {
        /* The last values (no run left) for the file, after anything
         * queued: the thread works the queue off before it stops. */
        file_snapshot(s, true);
        struct sched_metrics *m = s->metrics;
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        m->stopping = true;
        pthread_cond_signal(&m->cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        /* Every task is done now; their waiters are gone with the control
         * socket, so nobody is answered. */
        for (struct metrics_task *t = m->done; t;) {
                struct metrics_task *next = t->next;
                task_free(t);
                t = next;
        }
        (void)loop_remove(s->loop, &m->source);
        safe_close(m->source.fd);
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->cond);
        free(m->last_path);
        free(m->spare_jobs);
        free(m->spare_names);
        free(m);
        s->metrics = NULL;
}
