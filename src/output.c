/* output.c - line splitting, escaping and rate limiting of job output. */
#include "output.h"

#include <stdio.h>
#include <syslog.h>

#include "log.h"

/* About 10,000 lines at once and then 1,000 lines/s; 8 MiB at once and then
 * 1 MiB/s. Generous for any job that logs for people, small enough that a
 * runaway job cannot drown the journal. */
const struct output_limits output_default_limits = {
        .lines_burst = 10000, .lines_per_sec = 1000,
        .bytes_burst = 8 << 20, .bytes_per_sec = 1 << 20,
};

static void default_sink(void *userdata, int level, const char *stream, const char *text, size_t n) {
        struct output *o = userdata;
        log_job_output(level, o->job, o->run, stream, text, n);
}

void output_init(struct output *o, const char *job, uint64_t run) {
        *o = (struct output){
                .job = job,
                .run = run,
                .out = { .name = "stdout", .level = LOG_INFO },
                .err = { .name = "stderr", .level = LOG_WARNING },
                .limits = output_default_limits,
                .last_refill = now_usec(CLOCK_MONOTONIC),
                .sink = default_sink,
        };
        o->userdata = o;
        o->line_tokens = o->limits.lines_burst;
        o->byte_tokens = o->limits.bytes_burst;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0; its
 * code point in *ret_cp. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        size_t len;
        uint32_t cp;
        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* Reject overlong forms, surrogates and values past U+10FFFF. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                return 0;
        *ret_cp = cp;
        return len;
}

/* Valid UTF-8 that a terminal or a log viewer would still act on rather
 * than show: the C1 controls (U+0080-U+009F; U+009B is a CSI, as ESC [ is)
 * and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069), which reorder the text around them. */
static bool invisible_control(uint32_t cp) {
        return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t output_make_safe(char *dst, const char *src, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *)src;
        size_t k = 0;
        for (size_t i = 0; i < n;) {
                uint32_t cp = 0;
                size_t l = utf8_len(s + i, n - i, &cp);
                if (l == 1 && (s[i] >= 0x20 || s[i] == '\t') && s[i] != 0x7f) {
                        dst[k++] = (char)s[i++];
                } else if (l > 1 && !invisible_control(cp)) {
                        memcpy(dst + k, s + i, l);
                        k += l;
                        i += l;
                } else {
                        /* Each byte of the sequence (one if it is not
                         * valid), so a reader sees the exact bytes. */
                        if (l == 0)
                                l = 1;
                        for (size_t j = 0; j < l; j++, i++) {
                                dst[k++] = '\\';
                                dst[k++] = 'x';
                                dst[k++] = hex[s[i] >> 4];
                                dst[k++] = hex[s[i] & 15];
                        }
                }
        }
        dst[k] = '\0';
        return k;
}

static void refill(struct output *o) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        double dt = (double)(now - o->last_refill) / 1e6;
        o->last_refill = now;
        o->line_tokens = MIN(o->limits.lines_burst, o->line_tokens + dt * o->limits.lines_per_sec);
        o->byte_tokens = MIN(o->limits.bytes_burst, o->byte_tokens + dt * o->limits.bytes_per_sec);
}

static void report_dropped(struct output *o) {
        char msg[160];
        if (o->dropped_lines == 0)
                return;
        int m = snprintf(msg, sizeof msg, "%llu lines (%llu bytes) of output dropped: rate limit",
                         (unsigned long long)o->dropped_lines, (unsigned long long)o->dropped_bytes);
        o->sink(o->userdata, LOG_WARNING, NULL, msg, (size_t)m);
        o->dropped_lines = o->dropped_bytes = 0;
}

int output_tail_init(struct output_tail *t, size_t size) {
        *t = (struct output_tail){ .buf = malloc(size), .size = size };
        return t->buf ? 0 : -ENOMEM;
}

void output_tail_done(struct output_tail *t) {
        if (!t)
                return;
        free(t->buf);
        *t = (struct output_tail){ 0 };
}

static void tail_put(struct output_tail *t, const char *data, size_t n) {
        if (n >= t->size) {
                /* Only the end of it fits: the ring is that end. */
                memcpy(t->buf, data + n - t->size, t->size);
                t->start = 0;
                t->len = t->size;
                t->cut = true;
                return;
        }
        if (t->len + n > t->size) {
                size_t drop = t->len + n - t->size;
                t->start = (t->start + drop) % t->size;
                t->len -= drop;
                t->cut = true;
        }
        size_t at = (t->start + t->len) % t->size, first = MIN(n, t->size - at);
        memcpy(t->buf + at, data, first);
        memcpy(t->buf, data + first, n - first);
        t->len += n;
}

void output_tail_add(struct output_tail *t, const char *text, size_t n) {
        if (!t->buf || t->size == 0)
                return;
        tail_put(t, text, n);
        tail_put(t, "\n", 1);
}

char *output_tail_take(struct output_tail *t, size_t *ret_len) {
        size_t first = MIN(t->len, t->size - t->start), skip = 0;
        char *s;
        if (!t->buf || t->len == 0 || !(s = malloc(t->len + 1)))
                return NULL;
        memcpy(s, t->buf + t->start, first);
        memcpy(s + first, t->buf, t->len - first);
        if (t->cut) {
                /* Start at a whole line, unless the ring holds a single one. */
                char *nl = memchr(s, '\n', t->len);
                if (nl && (size_t)(nl - s) + 1 < t->len)
                        skip = (size_t)(nl - s) + 1;
        }
        size_t n = t->len - skip;
        memmove(s, s + skip, n);
        s[n] = 0;
        t->start = t->len = 0;
        t->cut = false;
        *ret_len = n;
        return s;
}

static void emit_line(struct output *o, struct output_stream *s, const char *text, size_t n) {
        static __thread char safe[4 * OUTPUT_LINE_MAX + 1];

        if (o->tail)
                output_tail_add(o->tail, text, n);

        if (o->line_tokens < 1 || o->byte_tokens < (double)n)
                refill(o);
        if (o->line_tokens < 1 || o->byte_tokens < (double)n) {
                o->dropped_lines++;
                o->dropped_bytes += n;
                o->total_dropped_lines++;
                o->total_dropped_bytes += n;
                return;
        }
        report_dropped(o); /* logging resumes: say what was lost first */
        o->line_tokens -= 1;
        o->byte_tokens -= (double)n;
        o->lines++;
        o->bytes += n;
        size_t k = output_make_safe(safe, text, n);
        o->sink(o->userdata, s->level, s->name, safe, k);
}

void output_feed(struct output *o, struct output_stream *s, const char *data, size_t n) {
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t)(nl - data) : n;

                if (s->len == 0 && nl && take <= OUTPUT_LINE_MAX) {
                        /* Fast path: a whole line in the input, no copy. */
                        emit_line(o, s, data, take);
                } else {
                        size_t room = OUTPUT_LINE_MAX - s->len;
                        if (take > room) {
                                /* The line goes on past the buffer: log a
                                 * full piece (only now, so that a line of
                                 * exactly OUTPUT_LINE_MAX stays whole). */
                                memcpy(s->buf + s->len, data, room);
                                s->len = OUTPUT_LINE_MAX;
                                emit_line(o, s, s->buf, s->len);
                                s->len = 0;
                                data += room;
                                n -= room;
                                continue;
                        }
                        memcpy(s->buf + s->len, data, take);
                        s->len += take;
                        if (!nl)
                                return; /* all of the input is buffered */
                        emit_line(o, s, s->buf, s->len);
                        s->len = 0;
                }
                data += take + 1;
                n -= take + 1;
        }
}

void output_finish(struct output *o) {
        if (o->out.len > 0)
                emit_line(o, &o->out, o->out.buf, o->out.len);
        if (o->err.len > 0)
                emit_line(o, &o->err, o->err.buf, o->err.len);
        o->out.len = o->err.len = 0;
        report_dropped(o);
}
