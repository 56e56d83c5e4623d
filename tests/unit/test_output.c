/* Unit tests for output.c: line splitting across reads, over-long lines in
 * pieces, escaping of binary and invalid UTF-8, and the rate limit. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "output.h"

struct captured {
        char **lines;
        int *levels;
        size_t n;
};

static void sink(void *userdata, int level, const char *stream, const char *text, size_t n) {
        struct captured *c = userdata;
        c->lines = realloc(c->lines, (c->n + 1) * sizeof(char *));
        c->levels = realloc(c->levels, (c->n + 1) * sizeof(int));
        c->lines[c->n] = strndup(text, n);
        c->levels[c->n] = level;
        c->n++;
}

static void setup(struct output *o, struct captured *c) {
        *c = (struct captured){ 0 };
        output_init(o, "job", 1);
        o->sink = sink;
        o->userdata = c;
}

static void release(struct captured *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->lines[i]);
        free(c->lines);
        free(c->levels);
}

START_TEST(test_lines_across_reads) {
        struct output o;
        struct captured c;
        setup(&o, &c);
        output_feed(&o, &o.out, "hel", 3);
        output_feed(&o, &o.out, "lo\nwor", 6);
        output_feed(&o, &o.err, "err line\n", 9);
        output_feed(&o, &o.out, "ld\n\nlast", 8);
        output_finish(&o);
        ck_assert_uint_eq(c.n, 5);
        ck_assert_str_eq(c.lines[0], "hello");
        ck_assert_str_eq(c.lines[1], "err line");
        ck_assert_int_eq(c.levels[1], LOG_WARNING);
        ck_assert_str_eq(c.lines[2], "world");
        ck_assert_int_eq(c.levels[2], LOG_INFO);
        ck_assert_str_eq(c.lines[3], "");
        ck_assert_str_eq(c.lines[4], "last");
        release(&c);
}
END_TEST

START_TEST(test_long_line_in_pieces) {
        struct output o;
        struct captured c;
        size_t big = 3 * OUTPUT_LINE_MAX + 100;
        char *data = malloc(big);
        memset(data, 'a', big);
        setup(&o, &c);
        /* Fed in odd-sized chunks, no newline at all. */
        for (size_t off = 0; off < big; off += 1000)
                output_feed(&o, &o.out, data + off, MIN((size_t)1000, big - off));
        output_finish(&o);
        ck_assert_uint_eq(c.n, 4);
        for (int i = 0; i < 3; i++)
                ck_assert_uint_eq(strlen(c.lines[i]), OUTPUT_LINE_MAX);
        ck_assert_uint_eq(strlen(c.lines[3]), 100);
        release(&c);

        /* A line of exactly OUTPUT_LINE_MAX bytes plus newline is one line. */
        setup(&o, &c);
        output_feed(&o, &o.out, data, OUTPUT_LINE_MAX);
        output_feed(&o, &o.out, "\nnext\n", 6);
        output_finish(&o);
        ck_assert_uint_eq(c.n, 2);
        ck_assert_str_eq(c.lines[1], "next");
        release(&c);
        free(data);
}
END_TEST

START_TEST(test_escaping) {
        char out[64];
        ck_assert_uint_eq(output_make_safe(out, "a\tb", 3), 3);
        ck_assert_str_eq(out, "a\tb");
        output_make_safe(out, "x\001y\x7f", 4);
        ck_assert_str_eq(out, "x\\x01y\\x7f");
        output_make_safe(out, "caf\xc3\xa9", 5); /* valid UTF-8 kept */
        ck_assert_str_eq(out, "caf\xc3\xa9");
        output_make_safe(out, "\xc3(\xff", 3); /* invalid sequences escaped */
        ck_assert_str_eq(out, "\\xc3(\\xff");
        output_make_safe(out, "\xe0\x80\xaf", 3); /* overlong */
        ck_assert_str_eq(out, "\\xe0\\x80\\xaf");
        output_make_safe(out, "a\0b", 3);
        ck_assert_str_eq(out, "a\\x00b");
}
END_TEST

/* Valid UTF-8 that terminals act on: C1 controls (a CSI U+009B would start
 * an escape sequence on the console) and bidirectional overrides and
 * isolates (they reorder what follows). Each byte is escaped; the printable
 * characters around them, and their neighbours in the ranges, are kept. */
START_TEST(test_escaping_c1_and_bidi) {
        char out[128];
        output_make_safe(out, "a\xc2\x9b" "31mb", 7); /* U+009B CSI */
        ck_assert_str_eq(out, "a\\xc2\\x9b" "31mb");
        output_make_safe(out, "\xc2\x80\xc2\x9f", 4); /* U+0080, U+009F */
        ck_assert_str_eq(out, "\\xc2\\x80\\xc2\\x9f");
        output_make_safe(out, "\xc2\xa0\xc2\xa9", 4); /* U+00A0, U+00A9: printable */
        ck_assert_str_eq(out, "\xc2\xa0\xc2\xa9");
        output_make_safe(out, "x\xe2\x80\xaey", 5); /* U+202E RIGHT-TO-LEFT OVERRIDE */
        ck_assert_str_eq(out, "x\\xe2\\x80\\xaey");
        output_make_safe(out, "\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9", 9); /* U+202A, U+2066, U+2069 */
        ck_assert_str_eq(out, "\\xe2\\x80\\xaa\\xe2\\x81\\xa6\\xe2\\x81\\xa9");
        output_make_safe(out, "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa", 12);
        /* U+2029, U+202F, U+2065, U+206A: outside the ranges, kept */
        ck_assert_str_eq(out, "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
        /* The worst case still fits the documented 4*n+1 bytes. */
        ck_assert_uint_eq(output_make_safe(out, "\xe2\x80\xae", 3), 12);
}
END_TEST

START_TEST(test_rate_limit) {
        struct output o;
        struct captured c;
        setup(&o, &c);
        o.limits = (struct output_limits){ .lines_burst = 100, .lines_per_sec = 0.001,
                                           .bytes_burst = 1e9, .bytes_per_sec = 1e9 };
        o.line_tokens = 100;
        for (int i = 0; i < 1000; i++)
                output_feed(&o, &o.out, "line\n", 5);
        output_finish(&o);
        /* 100 lines, then one report of what was dropped. */
        ck_assert_uint_eq(c.n, 101);
        ck_assert_uint_eq(o.total_dropped_lines, 900);
        ck_assert_ptr_nonnull(strstr(c.lines[100], "900 lines"));
        ck_assert_ptr_nonnull(strstr(c.lines[100], "dropped"));
        release(&c);
}
END_TEST

/* The tail kept for alerts: bounded, from a line start, raw bytes, lines
 * the rate limit dropped included, both streams in order. */
START_TEST(test_tail_bounds) {
        struct output o;
        struct captured c;
        struct output_tail t;
        char line[64], *s;
        size_t n;

        setup(&o, &c);
        ck_assert_int_eq(output_tail_init(&t, 100), 0);
        o.tail = &t;
        o.limits.lines_burst = 2;
        o.limits.lines_per_sec = 0.001;
        o.line_tokens = 2;
        output_feed(&o, &o.out, "one\n", 4);
        output_feed(&o, &o.err, "two\x01\n", 5);
        output_feed(&o, &o.out, "three", 5);
        output_finish(&o);
        s = output_tail_take(&t, &n);
        ck_assert_str_eq(s, "one\ntwo\x01\nthree\n");
        ck_assert_uint_eq(n, 15);
        free(s);
        ck_assert_ptr_null(output_tail_take(&t, &n)); /* emptied */

        /* 1,000 numbered lines through a 100-byte ring: the last whole ones. */
        for (int i = 0; i < 1000; i++) {
                int k = snprintf(line, sizeof line, "line %04d\n", i);
                output_feed(&o, &o.out, line, (size_t)k);
        }
        s = output_tail_take(&t, &n);
        ck_assert_uint_le(n, 100);
        ck_assert_uint_eq(n % 10, 0);
        ck_assert_uint_eq(n, 90);
        ck_assert_str_eq(s + n - 10, "line 0999\n");
        ck_assert_int_eq(strncmp(s, "line 0991\n", 10), 0);
        free(s);

        /* One line longer than the ring: its end. */
        char big[300];
        memset(big, 'x', sizeof big);
        big[299] = 'y';
        output_tail_add(&t, big, sizeof big);
        s = output_tail_take(&t, &n);
        ck_assert_uint_eq(n, 100);
        ck_assert_int_eq(s[98], 'y');
        ck_assert_int_eq(s[99], '\n');
        free(s);
        output_tail_done(&t);
        output_tail_done(NULL);
        release(&c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("output");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_lines_across_reads);
        tcase_add_test(tc, test_long_line_in_pieces);
        tcase_add_test(tc, test_escaping);
        tcase_add_test(tc, test_escaping_c1_and_bidi);
        tcase_add_test(tc, test_rate_limit);
        tcase_add_test(tc, test_tail_bounds);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
