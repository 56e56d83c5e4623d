/* output.h - a run's stdout/stderr, split into lines and sent to the log.
 *
 * Memory is bounded: a line longer than OUTPUT_LINE_MAX is logged in pieces
 * of that size, so a stream never holds more than one piece. The whole run
 * is rate-limited (a token bucket of lines and one of bytes): past the
 * burst, lines are counted and dropped, and the count is logged when
 * logging resumes and at the end of the run. Bytes that are not printable
 * UTF-8 are escaped as \xNN so every journal entry stays text: invalid
 * UTF-8, C0 controls and DEL, and (each byte of the sequence) the C1
 * controls U+0080-U+009F and the bidirectional overrides and isolates
 * U+202A-U+202E, U+2066-U+2069, which a terminal would act on.
 *
 * One struct output belongs to one run and is used by the worker thread
 * running it only. */
#pragma once

#include <stdint.h>

#include "util.h"

#define OUTPUT_LINE_MAX 8192

struct output_stream {
        const char *name;       /* "stdout" / "stderr" */
        int level;
        size_t len;
        char buf[OUTPUT_LINE_MAX];
};

struct output_limits {
        double lines_burst, lines_per_sec;
        double bytes_burst, bytes_per_sec;
};

/* The end of a run's output, kept for its alerts (hook stdin, mail): the
 * raw lines (each LF-terminated, stdout and stderr in the order they came,
 * those the rate limit dropped from the journal included) in a ring of a
 * fixed size, so a flood costs nothing more than its last bytes. Only runs
 * of jobs with a hook or a mail keep one. */
struct output_tail {
        char *buf;
        size_t size, start, len;        /* ring: len bytes from start */
        bool cut;                       /* older output was overwritten */
};

struct output {
        const char *job;
        uint64_t run;
        struct output_stream out, err;
        struct output_limits limits;
        double line_tokens, byte_tokens;
        usec_t last_refill;
        uint64_t lines, bytes;                          /* logged */
        uint64_t dropped_lines, dropped_bytes;          /* since the last report */
        uint64_t total_dropped_lines, total_dropped_bytes;
        struct output_tail *tail;       /* NULL: none kept */
        /* Where lines go; log_job_output() unless replaced (tests). */
        void (*sink)(void *userdata, int level, const char *stream, const char *text, size_t n);
        void *userdata;
};

extern const struct output_limits output_default_limits;

void output_init(struct output *o, const char *job, uint64_t run);
/* Feeds n bytes read from one of the run's pipes. */
void output_feed(struct output *o, struct output_stream *s, const char *data, size_t n);
/* Logs any unterminated last lines and the dropped-lines summary. */
void output_finish(struct output *o);
/* Escapes src into dst (at least 4*n+1 bytes); returns the length written. */
size_t output_make_safe(char *dst, const char *src, size_t n);

/* A tail of at most size bytes (0 or -ENOMEM). */
int output_tail_init(struct output_tail *t, size_t size);
void output_tail_done(struct output_tail *t);
/* Appends one line (n bytes, any bytes, without its LF; one is added). */
void output_tail_add(struct output_tail *t, const char *text, size_t n);
/* The tail as one malloc'd string starting at a line start (the start of
 * a line cut by the ring is dropped; a single line longer than the ring
 * keeps its end), NUL-terminated, its length in *ret_len; NULL when it
 * is empty or out of memory. The tail is emptied. */
char *output_tail_take(struct output_tail *t, size_t *ret_len);
