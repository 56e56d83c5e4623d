/* pool.c - see pool.h. */
#include "pool.h"

#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "log.h"
#include "run.h"

static void queue_push(struct pool_queue *q, struct run *r) {
        r->next = NULL;
        if (q->tail)
                q->tail->next = r;
        else
                q->head = r;
        q->tail = r;
        q->length++;
}

static struct run *queue_pop(struct pool_queue *q) {
        struct run *r = q->head;
        if (r) {
                q->head = r->next;
                if (!q->head)
                        q->tail = NULL;
                q->length--;
                r->next = NULL;
        }
        return r;
}

void pool_complete(struct pool *p, struct run *r) {
        bool was_empty;
        pthread_mutex_lock(&p->done_lock);
        was_empty = p->done.head == NULL;
        queue_push(&p->done, r);
        pthread_mutex_unlock(&p->done_lock);
        if (was_empty) {
                uint64_t one = 1;
                /* Cannot fail short of a counter overflow (2^64-1 writes
                 * without a read), which the empty-to-non-empty rule rules out. */
                (void)!write(p->source.fd, &one, sizeof one);
        }
}

static void *worker_main(void *arg) {
        struct pool_worker *w = arg;
        struct pool *p = w->pool;

        for (;;) {
                pthread_mutex_lock(&p->lock);
                while (!p->runs.head && !p->stopping)
                        pthread_cond_wait(&p->cond, &p->lock);
                struct run *r = queue_pop(&p->runs);
                pthread_mutex_unlock(&p->lock);
                if (!r)
                        break; /* stopping and nothing left */
                p->execute(r, w->wake_fd);
                pool_complete(p, r);
        }
        return NULL;
}

size_t pool_drain(struct pool *p) {
        uint64_t v;
        struct pool_queue q;

        /* Reset the eventfd before taking the queue: a completion that
         * lands after the take writes it again, so none is missed. */
        (void)!read(p->source.fd, &v, sizeof v);
        pthread_mutex_lock(&p->done_lock);
        q = p->done;
        p->done = (struct pool_queue){ 0 };
        pthread_mutex_unlock(&p->done_lock);

        size_t n = 0;
        for (struct run *r; (r = queue_pop(&q)); n++) {
                p->completed++;
                p->on_complete(r, p->userdata);
        }
        return n;
}

static void pool_dispatch(struct loop_source *s, uint32_t events) {
        struct pool *p = (struct pool *)((char *)s - offsetof(struct pool, source));
        p->wakeups++;
        pool_drain(p);
}

int pool_init(struct pool *p, struct loop *l, void (*on_complete)(struct run *, void *), void *userdata) {
        *p = (struct pool){
                .loop = l,
                .on_complete = on_complete,
                .userdata = userdata,
                .execute = run_execute,
        };
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        pthread_mutex_init(&p->done_lock, NULL);
        p->source.name = "completion";
        p->source.callback = pool_dispatch;
        p->source.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->source.fd < 0)
                return -errno;
        if (l) {
                int r = loop_add(l, &p->source, EPOLLIN);
                if (r < 0) {
                        p->source.fd = safe_close(p->source.fd);
                        return r;
                }
        }
        return 0;
}

int pool_resize(struct pool *p, size_t n) {
        if (n <= p->n_workers)
                return 0;
        struct pool_worker **ws = realloc(p->workers, n * sizeof(*ws));
        if (!ws)
                return -ENOMEM;
        p->workers = ws;
        while (p->n_workers < n) {
                struct pool_worker *w = calloc(1, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                w->pool = p;
                w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (w->wake_fd < 0) {
                        int e = -errno;
                        free(w);
                        return e;
                }
                /* Workers block in poll() only and keep their read buffer in
                 * thread-local storage: a small stack suffices. */
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 256 * 1024);
                int r = pthread_create(&w->thread, &attr, worker_main, w);
                pthread_attr_destroy(&attr);
                if (r != 0) {
                        safe_close(w->wake_fd);
                        free(w);
                        return -r;
                }
                ws[p->n_workers++] = w;
        }
        return 0;
}

void pool_submit(struct pool *p, struct run *r) {
        pthread_mutex_lock(&p->lock);
        queue_push(&p->runs, r);
        p->submitted++;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

uint64_t pool_nofile_needed(size_t n_workers) {
        return POOL_NOFILE_BASE + (uint64_t)n_workers * POOL_NOFILE_PER_WORKER;
}

char *pool_nofile_check(size_t n_workers) {
        struct rlimit rl;
        uint64_t need = pool_nofile_needed(n_workers);
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
                return NULL;
        return strdup_printf("workers = %zu needs up to %llu open files (%u + %u per worker), more than evd's "
                             "limit of %llu (RLIMIT_NOFILE, hard limit %llu): lower workers, or raise the hard "
                             "limit (LimitNOFILE= in evd.service)", n_workers, (unsigned long long)need,
                             POOL_NOFILE_BASE, POOL_NOFILE_PER_WORKER, (unsigned long long)rl.rlim_cur,
                             (unsigned long long)rl.rlim_max);
}

void pool_stop(struct pool *p) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n_workers; i++) {
                struct pool_worker *w = p->workers[i];
                pthread_join(w->thread, NULL);
                safe_close(w->wake_fd);
                free(w);
        }
        free(p->workers);
        p->workers = NULL;
        p->n_workers = 0;
        if (p->loop && p->source.fd >= 0)
                loop_remove(p->loop, &p->source);
        p->source.fd = safe_close(p->source.fd);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->done_lock);
}
