/* util.c - time, descriptor and string helpers shared by every module.
 * No state; safe from any thread. */
#include "util.h"

#include <stdatomic.h>

#include <stdarg.h>
#include <stdio.h>

#ifdef EVD_TEST_HOOKS
/* Test hook: evd's view of CLOCK_REALTIME, shifted as if the clock had been
 * set (see util_test_shift_realtime()). Atomic: workers read it too. */
static _Atomic int64_t test_realtime_offset;

void util_test_shift_realtime(int64_t delta_usec) {
        atomic_fetch_add(&test_realtime_offset, delta_usec);
}

int64_t util_test_realtime_offset(void) {
        return atomic_load(&test_realtime_offset);
}
#endif

usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                abort(); /* only with an invalid clock id: a programming error */
#ifdef EVD_TEST_HOOKS
        if (clock == CLOCK_REALTIME)
                return usec_from_timespec(&ts) + (usec_t)atomic_load_explicit(&test_realtime_offset,
                                                                              memory_order_relaxed);
#endif
        return usec_from_timespec(&ts);
}

struct timespec *timespec_from_usec(struct timespec *ts, usec_t u) {
        if (u == USEC_INFINITY) {
                ts->tv_sec = (time_t)-1;
                ts->tv_nsec = -1;
                return ts;
        }
        ts->tv_sec = (time_t)(u / USEC_PER_SEC);
        ts->tv_nsec = (long)((u % USEC_PER_SEC) * NSEC_PER_USEC);
        return ts;
}

usec_t usec_from_timespec(const struct timespec *ts) {
        if (ts->tv_sec < 0)
                return 0;
        return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / NSEC_PER_USEC;
}

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                /* close() is not retried on EINTR: on Linux the fd is gone anyway. */
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}

char **strv_free(char **v) {
        if (!v)
                return NULL;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
        return NULL;
}

size_t strv_length(char *const *v) {
        size_t n = 0;
        if (v)
                while (v[n])
                        n++;
        return n;
}

int strv_push(char ***v, const char *s) {
        size_t n = strv_length(*v);
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        char **nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv) {
                free(copy);
                return -ENOMEM;
        }
        nv[n] = copy;
        nv[n + 1] = NULL;
        *v = nv;
        return 0;
}

char **strv_copy(char *const *v) {
        size_t n = strv_length(v);
        char **c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(v[i]);
                if (!c[i])
                        return strv_free(c);
        }
        return c;
}

char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "yes", "true", "1", "on", "y", "t" };
        static const char *const no[] = { "no", "false", "0", "off", "n", "f" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* A small state machine over the characters: outside a word, in a bare word,
 * in single quotes (everything literal), in double quotes (backslash escapes
 * only \ " $ ` and newline, as sh does). */
/* Appends a copy of word to argv (n entries, room for cap), growing it
 * geometrically: strv_push() is O(n) a call, and a 1 MiB command line of
 * short words made the split quadratic (minutes of a stalled reload). */
static int argv_append(char ***argv, size_t *n, size_t *cap, const char *word) {
        if (*n + 2 > *cap) {
                size_t nc = MAX(*cap * 2, (size_t)8);
                char **nv = realloc(*argv, nc * sizeof(char *));
                if (!nv)
                        return -ENOMEM;
                *argv = nv;
                *cap = nc;
        }
        char *copy = strdup(word);
        if (!copy)
                return -ENOMEM;
        (*argv)[(*n)++] = copy;
        (*argv)[*n] = NULL;
        return 0;
}

int split_command(const char *s, char ***ret, const char **ret_error) {
        char **argv = NULL;
        size_t argc = 0, cap = 0;
        size_t len = strlen(s);
        char *word = malloc(len + 1);
        size_t wn = 0;
        bool in_word = false;
        enum { BARE, SINGLE, DOUBLE } q = BARE;
        const char *err = NULL;

        if (!word)
                return -ENOMEM;

        for (const char *p = s;; p++) {
                char c = *p;
                if (c == '\0') {
                        if (q != BARE) {
                                err = q == SINGLE ? "unbalanced single quote" : "unbalanced double quote";
                                goto fail;
                        }
                        break;
                }
                if (q == SINGLE) {
                        if (c == '\'')
                                q = BARE;
                        else
                                word[wn++] = c;
                        continue;
                }
                if (q == DOUBLE) {
                        if (c == '"')
                                q = BARE;
                        else if (c == '\\' && p[1] && strchr("\\\"$`", p[1]))
                                word[wn++] = *++p;
                        else
                                word[wn++] = c;
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                        if (in_word) {
                                word[wn] = '\0';
                                if (argv_append(&argv, &argc, &cap, word) < 0)
                                        goto oom;
                                wn = 0;
                                in_word = false;
                        }
                        continue;
                }
                in_word = true;
                if (c == '\'')
                        q = SINGLE;
                else if (c == '"')
                        q = DOUBLE;
                else if (c == '\\') {
                        if (p[1] == '\0') {
                                err = "trailing backslash";
                                goto fail;
                        }
                        word[wn++] = *++p;
                } else
                        word[wn++] = c;
        }
        if (in_word) {
                word[wn] = '\0';
                if (argv_append(&argv, &argc, &cap, word) < 0)
                        goto oom;
        }
        free(word);
        if (!argv) {
                if (ret_error)
                        *ret_error = "empty command";
                return -EINVAL;
        }
        *ret = argv;
        return 0;
fail:
        free(word);
        strv_free(argv);
        if (ret_error)
                *ret_error = err;
        return -EINVAL;
oom:
        free(word);
        strv_free(argv);
        return -ENOMEM;
}

int memstream_finish(FILE *f, char **buf, char **ret) {
        bool bad = ferror(f);
        if (fclose(f) != 0 || bad) {
                free(*buf);
                *buf = NULL;
                return -ENOMEM;
        }
        *ret = *buf;
        *buf = NULL;
        return 0;
}

int write_all(int fd, const void *buf, size_t n) {
        const char *p = buf;
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int read_full_fd(int fd, size_t hint, size_t max, char **ret, size_t *ret_size) {
        size_t n = 0, alloc = MIN(hint, max) + 1;
        _cleanup_(freep) char *buf = malloc(alloc);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (n == alloc) {
                        if (n > max)
                                return -EFBIG;
                        size_t grow = alloc > SIZE_MAX / 2 ? SIZE_MAX : alloc * 2;
                        char *b = realloc(buf, grow);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        alloc = grow;
                }
                ssize_t k = read(fd, buf + n, alloc - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        if (n > max)
                return -EFBIG;
        *ret = buf;
        buf = NULL;
        *ret_size = n;
        return 0;
}
