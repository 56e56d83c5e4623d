/* strbuf.c - see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

#include "utf8.h"

static bool reserve(struct strbuf *b, size_t extra) {
        if (b->oom)
                return false;
        if (b->len + extra + 1 <= b->cap)
                return true;
        size_t cap = MAX(b->cap * 2, b->len + extra + 64);
        char *s = realloc(b->s, cap);
        if (!s) {
                b->oom = true;
                return false;
        }
        b->s = s;
        b->cap = cap;
        return true;
}

void strbuf_append(struct strbuf *b, const char *s, size_t n) {
        if (!reserve(b, n))
                return;
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...) {
        va_list ap;
        char small[256];
        va_start(ap, fmt);
        int n = vsnprintf(small, sizeof small, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof small) {
                strbuf_append(b, small, (size_t)n);
                return;
        }
        if (!reserve(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

void strbuf_json_string(struct strbuf *b, const char *s) {
        const unsigned char *end = (const unsigned char *)s + strlen(s);
        strbuf_append(b, "\"", 1);
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                char esc[8];
                size_t n = utf8_char_len((const char *)p, (size_t)(end - p));
                switch (*p) {
                case '"':
                        strbuf_append(b, "\\\"", 2);
                        break;
                case '\\':
                        strbuf_append(b, "\\\\", 2);
                        break;
                case '\n':
                        strbuf_append(b, "\\n", 2);
                        break;
                case '\t':
                        strbuf_append(b, "\\t", 2);
                        break;
                case '\r':
                        strbuf_append(b, "\\r", 2);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f || n == 0) {
                                /* A control character, or a byte that is not
                                 * UTF-8 (Latin-1 text, a stray 0xff): as the
                                 * code point of the same number, so the output
                                 * is valid UTF-8 and the byte still visible. */
                                snprintf(esc, sizeof esc, "\\u%04x", *p);
                                strbuf_append(b, esc, 6);
                                n = 1;
                        } else
                                strbuf_append(b, (const char *)p, n);
                }
                p += n ? n : 1;
        }
        strbuf_append(b, "\"", 1);
}

void strbuf_column(struct strbuf *b, const char *s, size_t width) {
        size_t n = strlen(s);
        if (n > width && width >= 1) {
                strbuf_append(b, s, width - 1);
                strbuf_puts(b, "\xe2\x80\xa6"); /* … */
                return;
        }
        strbuf_append(b, s, n);
        for (size_t i = n; i < width; i++)
                strbuf_append(b, " ", 1);
}

void strbuf_done(struct strbuf *b) {
        free(b->s);
        *b = (struct strbuf){ 0 };
}

char *strbuf_steal(struct strbuf *b) {
        char *s = b->oom ? NULL : b->s;
        if (!s && !b->oom)
                s = strdup("");
        if (b->oom)
                free(b->s);
        *b = (struct strbuf){ 0 };
        return s;
}
