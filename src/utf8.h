/* utf8.h - UTF-8 validation, one character at a time, for the text evd
 * puts where a format demands UTF-8 (metric label values, mail headers,
 * JSON strings in strbuf.c).
 *
 * Pure functions, no state; callable from any thread. */
#pragma once

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 character at s[0..n), or 0 when
 * the bytes there are not one (a stray continuation byte, a truncated
 * sequence, an overlong form, a surrogate, a code point above U+10FFFF).
 * n must be > 0. */
size_t utf8_char_len(const char *s, size_t n);

/* The replacement character U+FFFD, for a byte utf8_char_len() refused. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"
