/* strbuf.h - a growable string for building replies and tables, with JSON
 * string escaping. Out-of-memory is sticky: after a failed append the
 * buffer stays valid, `oom` is set, and later appends are no-ops.
 * Not thread-safe (one owner). */
#pragma once

#include "util.h"

struct strbuf {
        char *s;
        size_t len, cap;
        bool oom;
};

void strbuf_append(struct strbuf *b, const char *s, size_t n);
static inline void strbuf_puts(struct strbuf *b, const char *s) { strbuf_append(b, s, strlen(s)); }
void strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Appends s as a JSON string literal, quotes included. */
void strbuf_json_string(struct strbuf *b, const char *s);
/* Appends s padded with spaces to width columns (cut with "…" if longer). */
void strbuf_column(struct strbuf *b, const char *s, size_t width);
void strbuf_done(struct strbuf *b);
/* Gives up ownership of the string (never NULL unless oom). */
char *strbuf_steal(struct strbuf *b);
