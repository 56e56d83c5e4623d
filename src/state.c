/* state.c - see state.h.
 *
 * File format, one line per job, '#' comments:
 *     evd-state 1
 *     job NAME LAST_START_USEC PAUSED [KEY=USEC ...]
 * Job names cannot contain white space (config.c enforces
 * [A-Za-z0-9_.-]+), so the format needs no quoting. The optional fields
 * (a job with expect_success_within=): success= (last success), seen=
 * (first seen), count= (where the dead-man count starts), overdue=
 * (overdue since; 0 or absent: not overdue). A file without them (an
 * older evd's) loads as "never seen"; a field this evd does not know (a
 * newer evd's) is skipped without a word, so the format stays version 1. */
#include "state.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"

#define STATE_FILE "state"
#define STATE_MAGIC "evd-state 1"

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const struct state_entry *)a)->name, ((const struct state_entry *)b)->name);
}

/* By name, then by line: qsort is not stable, so the position in the file
 * is part of the key (a name seen twice: the later line must win). */
static int cmp_entry_line(const void *a, const void *b) {
        const struct state_entry *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->line < y->line ? -1 : x->line > y->line;
}

static int warn_line(char ***warnings, size_t lineno, const char *what) {
        char *w = strdup_printf("state line %zu: %s, ignored", lineno, what);
        int r = w ? strv_push(warnings, w) : -ENOMEM;
        free(w);
        return r;
}

/* The optional " KEY=USEC" fields after a job line's PAUSED into e;
 * unknown keys are skipped. -EINVAL: not such a list. */
static int parse_fields(const char *p, struct state_entry *e) {
        static const struct {
                const char *key;
                size_t offset;
        } known[] = {
                { "success", offsetof(struct state_entry, last_success) },
                { "seen", offsetof(struct state_entry, first_seen) },
                { "count", offsetof(struct state_entry, count_from) },
                { "overdue", offsetof(struct state_entry, overdue_since) },
        };
        while (*p) {
                if (*p != ' ')
                        return -EINVAL;
                p++;
                const char *eq = p;
                while (*eq && *eq != '=' && *eq != ' ')
                        eq++;
                if (*eq != '=' || eq == p)
                        return -EINVAL;
                const char *v = eq + 1, *end = v;
                while (*end && *end != ' ')
                        end++;
                if (end == v)
                        return -EINVAL;
                for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                        if (strlen(known[i].key) != (size_t)(eq - p) || memcmp(known[i].key, p, (size_t)(eq - p)) != 0)
                                continue;
                        usec_t u = 0;
                        for (const char *c = v; c < end; c++) {
                                usec_t d = (usec_t)(*c - '0');
                                if (*c < '0' || *c > '9' || u > (UINT64_MAX - d) / 10)
                                        return -EINVAL;
                                u = u * 10 + d;
                        }
                        *(usec_t *)((char *)e + known[i].offset) = u;
                }
                p = end;
        }
        return 0;
}

int state_parse(const char *text, size_t size, struct state *ret, char ***warnings) {
        struct state s = { 0 };
        size_t cap = 0, lineno = 0;
        const char *p = text, *end = text + size;
        bool magic = false;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((nl ? nl : end) - p);
                char line[512], name[256];
                unsigned long long last;
                int paused, consumed = 0;

                lineno++;
                if (len >= sizeof line) {
                        if (warn_line(warnings, lineno, "too long") < 0)
                                goto oom;
                        goto next;
                }
                if (memchr(p, '\0', len)) {
                        if (warn_line(warnings, lineno, "contains a NUL byte") < 0)
                                goto oom;
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
                struct state_entry extra = { 0 };
                if (sscanf(line, "job %255s %llu %d%n", name, &last, &paused, &consumed) != 3 ||
                    (paused != 0 && paused != 1) || parse_fields(line + consumed, &extra) < 0) {
                        if (warn_line(warnings, lineno, "damaged") < 0)
                                goto oom;
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
                s.entries[s.n].last_success = extra.last_success;
                s.entries[s.n].first_seen = extra.first_seen;
                s.entries[s.n].count_from = extra.count_from;
                s.entries[s.n].overdue_since = extra.overdue_since;
                s.entries[s.n].line = lineno;
                s.n++;
        next:
                p = nl ? nl + 1 : end;
        }
        if (s.n > 0)
                qsort(s.entries, s.n, sizeof(*s.entries), cmp_entry_line);
        /* A name seen twice: the later line wins (the last of each run). */
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
        /* O_NONBLOCK: a FIFO named "state" must not block start-up; its
         * type is checked before anything is read. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        free(path);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = (struct state){ 0 };
                        return 0;
                }
                if (errno == ELOOP) {
                        *ret = (struct state){ 0 };
                        return strv_push(warnings, "state file: a symbolic link, ignored");
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
        int r = state_parse(text, got, ret, warnings);
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
        char line[512], extra[128] = "";
        int n;
        if (e->first_seen > 0)
                snprintf(extra, sizeof extra, " success=%llu seen=%llu count=%llu overdue=%llu",
                         (unsigned long long)e->last_success, (unsigned long long)e->first_seen,
                         (unsigned long long)e->count_from, (unsigned long long)e->overdue_since);
        if (*len == 0)
                n = snprintf(line, sizeof line, "%s\njob %s %llu %d%s\n", STATE_MAGIC, e->name,
                             (unsigned long long)e->last_start, e->paused ? 1 : 0, extra);
        else
                n = snprintf(line, sizeof line, "job %s %llu %d%s\n", e->name, (unsigned long long)e->last_start,
                             e->paused ? 1 : 0, extra);
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
        /* Created exclusively: a stale or planted .state.tmp (a hard link to
         * another file, a FIFO, a symlink) is removed, never written
         * through or opened. */
        for (int attempt = 0;; attempt++) {
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || attempt > 0 || unlink(tmp) < 0) {
                        r = -errno;
                        goto out;
                }
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

/* -errno of a failed system call, never -EPERM: that code means "not
 * trusted" to state_dir_acquire's callers. */
static int sys_error(void) {
        return errno == EPERM ? -EACCES : -errno;
}

/* Sets *error to the formatted message (%m: errno) and returns r. */
_printf_(3, 4) static int fail(char **error, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return r;
}

static bool trusted_owner(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

/* One directory of the chain: owned by root or evd's user, writable by no
 * one else; an ancestor may be a root-owned sticky directory (/tmp). */
static int check_dir(const char *dir, const char *path, bool leaf, char **error) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return fail(error, sys_error(), "Cannot use state directory %s: %s: %m", dir, path);
        if (S_ISLNK(st.st_mode))
                return fail(error, -EPERM, "Refusing state directory %s: %s changed into a symbolic link", dir, path);
        if (!S_ISDIR(st.st_mode))
                return fail(error, -ENOTDIR, "Cannot use state directory %s: %s is not a directory", dir, path);
        if (!trusted_owner(st.st_uid))
                return fail(error, -EPERM,
                            "Refusing state directory %s: %s is owned by uid %u, not by root or evd's user", dir,
                            path, (unsigned)st.st_uid);
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (leaf || st.st_uid != 0 || !(st.st_mode & S_ISVTX)))
                return fail(error, -EPERM,
                            "Refusing state directory %s: %s is writable by group or others (run chmod go-w %s)",
                            dir, path, path);
        return 0;
}

/* Every directory of REAL (a path realpath() returned), from / down. */
static int check_chain(const char *dir, const char *real, bool leaf, char **error) {
        _cleanup_(freep) char *p = strdup(real);
        if (!p)
                return -ENOMEM;
        int r = check_dir(dir, "/", leaf && strcmp(real, "/") == 0, error);
        for (char *slash = p + 1; r >= 0 && *slash; slash++) {
                slash = strchrnul(slash, '/');
                char c = *slash;
                *slash = '\0';
                r = check_dir(dir, p, leaf && c == '\0', error);
                *slash = c;
                if (!c)
                        break;
        }
        return r;
}

/* A symbolic link on the way to DIR (as written) must be root's or evd's
 * user's: another user's link would choose where evd writes. */
static int check_links(const char *dir, char **error) {
        _cleanup_(freep) char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *slash = p + 1; *p; slash++) {
                slash = strchrnul(slash, '/');
                char c = *slash;
                struct stat st;
                *slash = '\0';
                if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && !trusted_owner(st.st_uid))
                        return fail(error, -EPERM, "Refusing state directory %s: %s is a symbolic link owned by uid %u",
                                    dir, p, (unsigned)st.st_uid);
                *slash = c;
                if (!c)
                        break;
        }
        return 0;
}

/* The PID holding a flock() on the file (dev, ino) per /proc/locks, or 0. */
static pid_t lock_holder(dev_t dev, ino_t ino) {
        FILE *f = fopen("/proc/locks", "re");
        char line[256];
        pid_t found = 0;
        while (f && !found && fgets(line, sizeof line, f)) {
                unsigned maj, min;
                unsigned long long inode;
                int pid;
                if (sscanf(line, "%*d: FLOCK %*s WRITE %d %x:%x:%llu", &pid, &maj, &min, &inode) == 4 &&
                    maj == major(dev) && min == minor(dev) && inode == (unsigned long long)ino)
                        found = pid;
        }
        if (f)
                fclose(f);
        return found;
}

/* A flock() on the directory itself: released when evd exits however it
 * exits, and it needs no file in the directory (nor a descriptor open for
 * writing, which would keep a read-only remount from happening). */
static int lock_dir(const char *dir, const char *real, char **error) {
        _cleanup_(closep) int fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return fail(error, sys_error(), "Cannot use state directory %s: %m", dir);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return fail(error, sys_error(), "Cannot lock state directory %s: %m", dir);
                pid_t pid = lock_holder(st.st_dev, st.st_ino);
                if (pid > 0)
                        return fail(error, -EBUSY, "State directory %s is in use by another evd (pid %d)", dir,
                                    (int)pid);
                return fail(error, -EBUSY, "State directory %s is in use by another evd", dir);
        }
        int ret = fd;
        fd = -EBADF;
        return ret;
}

int state_dir_acquire(const char *dir, char **error) {
        _cleanup_(freep) char *copy = strdup(dir), *parent = NULL, *real = NULL;
        if (!copy)
                return -ENOMEM;
        /* The parent first: evd creates nothing under a directory it does
         * not trust. */
        size_t n = strlen(copy);
        while (n > 1 && copy[n - 1] == '/')
                copy[--n] = '\0';
        char *slash = strrchr(copy, '/');
        const char *parent_path = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
        int r = check_links(dir, error);
        if (r < 0)
                return r;
        parent = realpath(parent_path, NULL);
        if (!parent)
                return fail(error, sys_error(), "Cannot use state directory %s: %s: %m", dir, parent_path);
        r = check_chain(dir, parent, false, error);
        if (r < 0)
                return r;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return fail(error, sys_error(), "Cannot create state directory %s: %m", dir);
        r = check_links(dir, error);
        if (r < 0)
                return r;
        real = realpath(dir, NULL);
        if (!real)
                return fail(error, sys_error(), "Cannot use state directory %s: %m", dir);
        r = check_chain(dir, real, true, error);
        if (r < 0)
                return r;
        return lock_dir(dir, real, error);
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
