/* state.c - see state.h.
 *
 * File format, one line per job, '#' comments:
 *     evd-state 1
 *     job NAME LAST_START_USEC PAUSED
 * Job names cannot contain white space (config.c enforces
 * [A-Za-z0-9_.-]+), so the format needs no quoting. */
#include "state.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"

#define STATE_FILE "state"
#define STATE_MAGIC "evd-state 1"

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const struct state_entry *)a)->name, ((const struct state_entry *)b)->name);
}

int state_parse(const char *text, struct state *ret, char ***warnings) {
        struct state s = { 0 };
        size_t cap = 0, lineno = 0;
        const char *p = text;
        bool magic = false;

        while (*p) {
                const char *nl = strchrnul(p, '\n');
                size_t len = (size_t)(nl - p);
                char line[512], name[256];
                unsigned long long last;
                int paused, consumed = 0;

                lineno++;
                if (len >= sizeof line) {
                        char *w = strdup_printf("state line %zu: too long, ignored", lineno);
                        if (!w || strv_push(warnings, w) < 0) {
                                free(w);
                                goto oom;
                        }
                        free(w);
                        goto next;
                }
                memcpy(line, p, len);
                line[len] = '\0';
                if (len == 0 || line[0] == '#')
                        goto next;
                if (!magic) {
                        if (strcmp(line, STATE_MAGIC) != 0) {
                                if (strv_push(warnings, "state file: unknown format, ignored") < 0)
                                        goto oom;
                                break;
                        }
                        magic = true;
                        goto next;
                }
                if (sscanf(line, "job %255s %llu %d%n", name, &last, &paused, &consumed) != 3 ||
                    (size_t)consumed != len || (paused != 0 && paused != 1)) {
                        char *w = strdup_printf("state line %zu: damaged, ignored", lineno);
                        if (!w || strv_push(warnings, w) < 0) {
                                free(w);
                                goto oom;
                        }
                        free(w);
                        goto next;
                }
                if (s.n == cap) {
                        cap = cap ? cap * 2 : 16;
                        struct state_entry *e = realloc(s.entries, cap * sizeof(*e));
                        if (!e)
                                goto oom;
                        s.entries = e;
                }
                s.entries[s.n].name = strdup(name);
                if (!s.entries[s.n].name)
                        goto oom;
                s.entries[s.n].last_start = last;
                s.entries[s.n].paused = paused;
                s.n++;
        next:
                p = *nl ? nl + 1 : nl;
        }
        if (s.n > 0)
                qsort(s.entries, s.n, sizeof(*s.entries), cmp_entry);
        /* A name seen twice: the later line wins (keep the last of each run). */
        size_t k = 0;
        for (size_t i = 0; i < s.n; i++) {
                if (k > 0 && strcmp(s.entries[k - 1].name, s.entries[i].name) == 0) {
                        free(s.entries[k - 1].name);
                        s.entries[k - 1] = s.entries[i];
                } else
                        s.entries[k++] = s.entries[i];
        }
        s.n = k;
        *ret = s;
        return 0;
oom:
        state_done(&s);
        return -ENOMEM;
}

int state_load(const char *dir, struct state *ret, char ***warnings) {
        char *path = strdup_printf("%s/%s", dir, STATE_FILE);
        if (!path)
                return -ENOMEM;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        free(path);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = (struct state){ 0 };
                        return 0;
                }
                return -errno;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
                safe_close(fd);
                *ret = (struct state){ 0 };
                return strv_push(warnings, "state file: not a regular file of sane size, ignored");
        }
        char *text = malloc((size_t)st.st_size + 1);
        if (!text) {
                safe_close(fd);
                return -ENOMEM;
        }
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        safe_close(fd);
        text[got] = '\0';
        /* A NUL inside means damage: parse what precedes it. */
        int r = state_parse(text, ret, warnings);
        free(text);
        return r;
}

const struct state_entry *state_find(const struct state *s, const char *name) {
        struct state_entry key = { .name = (char *)name };
        if (s->n == 0)
                return NULL;
        return bsearch(&key, s->entries, s->n, sizeof(key), cmp_entry);
}

void state_done(struct state *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->entries[i].name);
        free(s->entries);
        *s = (struct state){ 0 };
}

int state_format_entry(char **buf, size_t *len, size_t *cap, const struct state_entry *e) {
        char line[400];
        int n;
        if (*len == 0)
                n = snprintf(line, sizeof line, "%s\njob %s %llu %d\n", STATE_MAGIC, e->name,
                             (unsigned long long)e->last_start, e->paused ? 1 : 0);
        else
                n = snprintf(line, sizeof line, "job %s %llu %d\n", e->name, (unsigned long long)e->last_start,
                             e->paused ? 1 : 0);
        if (n < 0 || (size_t)n >= sizeof line)
                return -EINVAL;
        if (*len + (size_t)n + 1 > *cap) {
                size_t nc = MAX(*cap * 2, *len + (size_t)n + 1024);
                char *b = realloc(*buf, nc);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *cap = nc;
        }
        memcpy(*buf + *len, line, (size_t)n + 1);
        *len += (size_t)n;
        return 0;
}

int state_write(const char *dir, const char *text, size_t len) {
        char *tmp = strdup_printf("%s/.%s.tmp", dir, STATE_FILE);
        char *path = strdup_printf("%s/%s", dir, STATE_FILE);
        int r = 0, fd = -1, dfd = -1;

        if (!tmp || !path) {
                r = -ENOMEM;
                goto out;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        r = write_all(fd, text ? text : STATE_MAGIC "\n", text ? len : strlen(STATE_MAGIC "\n"));
        if (r < 0)
                goto fail_unlink;
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        fd = safe_close(fd);
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                safe_close(dfd);
        }
        goto out;
fail_unlink:
        fd = safe_close(fd);
        (void)unlink(tmp);
out:
        safe_close(fd);
        free(tmp);
        free(path);
        return r;
}

static void *writer_main(void *arg) {
        struct state_writer *w = arg;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->pending && !w->stopping)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (!w->pending)
                        break;
                char *text = w->pending;
                size_t len = w->pending_len;
                w->pending = NULL;
                pthread_mutex_unlock(&w->lock);

                int r = state_write(w->dir, text, len);
                free(text);

                pthread_mutex_lock(&w->lock);
                w->writes++;
                if (r < 0 && r != w->last_error)
                        /* Logged once per kind of error; the old file stays. */
                        log_warning_errno(r, "Failed to save state in %s (the previous state is kept)", w->dir);
                w->last_error = r;
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int state_writer_start(struct state_writer *w, const char *dir) {
        *w = (struct state_writer){ 0 };
        w->dir = strdup(dir);
        if (!w->dir)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        int r = pthread_create(&w->thread, NULL, writer_main, w);
        if (r != 0) {
                free(w->dir);
                w->dir = NULL;
                return -r;
        }
        w->running = true;
        return 0;
}

void state_writer_submit(struct state_writer *w, char *text, size_t len) {
        if (!w->running) {
                free(text);
                return;
        }
        if (!text) {
                /* An empty snapshot (no job paused or persistent any more)
                 * must still replace the file: otherwise the last "paused"
                 * would come back at the next start. */
                text = strdup(STATE_MAGIC "\n");
                if (!text) {
                        log_warning("Out of memory while saving state");
                        return;
                }
                len = strlen(text);
        }
        pthread_mutex_lock(&w->lock);
        free(w->pending); /* superseded: only the newest snapshot matters */
        w->pending = text;
        w->pending_len = len;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

void state_writer_stop(struct state_writer *w) {
        if (!w->running)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        free(w->pending);
        free(w->dir);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        *w = (struct state_writer){ 0 };
}
