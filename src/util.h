/* util.h - small helpers shared by every module: time in usec_t, cleanup
 * attributes, descriptor hygiene, string vectors.
 *
 * Pure header plus util.c; no state, callable from any thread. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_SEC  ((usec_t)1000000ULL)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define NSEC_PER_USEC ((uint64_t)1000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR   (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY    (24ULL * USEC_PER_HOUR)
#define USEC_PER_WEEK   (7ULL * USEC_PER_DAY)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

/* Current time of the given clock, in microseconds. */
usec_t now_usec(clockid_t clock);

#ifdef EVD_TEST_HOOKS
/* Test hook (builds with EVD_TEST_HOOKS only): shifts what now_usec()
 * reports for CLOCK_REALTIME, as a step of the wall clock would. The
 * realtime timer clock arms the kernel with the shift taken out again
 * (timer_clock_test_step() in timer.h), so the machine's clock is never
 * touched. */
void util_test_shift_realtime(int64_t delta_usec);
int64_t util_test_realtime_offset(void);
#endif
struct timespec *timespec_from_usec(struct timespec *ts, usec_t u);
usec_t usec_from_timespec(const struct timespec *ts);

/* Close fd if >= 0; always returns -EBADF so callers can write fd = safe_close(fd). */
int safe_close(int fd);
static inline void closep(int *fd) { safe_close(*fd); }
static inline void freep(void *p) { free(*(void **)p); }

/* NULL-terminated string vectors. */
char **strv_free(char **v);
size_t strv_length(char *const *v);
/* Appends a copy of s; returns 0 or -ENOMEM. */
int strv_push(char ***v, const char *s);
char **strv_copy(char *const *v);
static inline void strv_freep(char ***v) { strv_free(*v); }

/* Returns true if s starts with prefix, false otherwise. */
static inline bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b) return a == b;
        return strcmp(a, b) == 0;
}

/* malloc'd sprintf; NULL on failure. */
char *strdup_printf(const char *fmt, ...) _printf_(1, 2);

/* Parse "yes/no/true/false/1/0/on/off"; -EINVAL otherwise. */
int parse_boolean(const char *s);

/* Split a command line like a shell would (quotes and backslashes, no
 * expansion). Returns 0 and a NULL-terminated vector, -EINVAL with a message
 * in *ret_error (static string) for unbalanced quotes or an empty command. */
int split_command(const char *s, char ***ret, const char **ret_error);

/* Closes an open_memstream() stream whose buffer is *buf. On success *ret
 * takes the text (0); after any write error, or a failing close, the
 * buffer is freed (-ENOMEM). *buf is NULL afterwards either way. */
int memstream_finish(FILE *f, char **buf, char **ret);

/* Write all of buf to fd, retrying on EINTR/partial writes. */
int write_all(int fd, const void *buf, size_t n);
/* Reads fd to its end into a malloc'd buffer (hint: the expected size).
 * More than max bytes: -EFBIG. Returns 0, *ret and *ret_size (the buffer
 * has room for one more byte), or -errno. */
int read_full_fd(int fd, size_t hint, size_t max, char **ret, size_t *ret_size);
