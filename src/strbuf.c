/* strbuf.c - see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

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

/* The length of the valid UTF-8 sequence at p (1..4), or 0 when it is not
 * one: overlong forms, surrogates and code points above U+10FFFF are not. */
static size_t utf8_sequence(const unsigned char *p) {
        size_t n;
        unsigned min;
        uint32_t cp;
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2, min = 0x80, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3, min = 0x800, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4, min = 0x10000, cp = p[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

void strbuf_json_string(struct strbuf *b, const char *s) {
        strbuf_append(b, "\"", 1);
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                char esc[8];
                size_t n = utf8_sequence(p);
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
