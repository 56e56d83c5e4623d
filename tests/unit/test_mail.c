/* Unit tests for mail.c's composition: address lists, header injection
 * attempts from every value evd does not control, long and UTF-8 subjects
 * as RFC 2047 encoded-words, and the quoted-printable body with its output
 * bound. Sending through a real MTA is tests/alerts/test_mail.py. */
#include <check.h>

#include "mail.h"
#include "strbuf.h"

static char **addrs(const char *s) {
        char **v = NULL, err[256];
        ck_assert_msg(mail_parse_addresses(s, &v, err, sizeof err) == 0, "%s: %s", s, err);
        return v;
}

static void bad_addrs(const char *s, const char *want) {
        char **v = NULL, err[256] = "";
        ck_assert_int_eq(mail_parse_addresses(s, &v, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(err, want), "%s: error \"%s\" lacks \"%s\"", s, err, want);
}

START_TEST(test_addresses) {
        char **v = addrs("a@b.example, c.d+x@e-f.example ,root");
        ck_assert_int_eq(strv_length(v), 3);
        ck_assert_str_eq(v[0], "a@b.example");
        ck_assert_str_eq(v[1], "c.d+x@e-f.example");
        ck_assert_str_eq(v[2], "root");
        strv_free(v);
        bad_addrs("a@b,,c@d", "entry 2 of the address list is empty");
        bad_addrs("a@b,", "entry 2 of the address list is empty");
        bad_addrs("", "entry 1 of the address list is empty");
        bad_addrs("a@b\nBcc: victim@x", "line break");
        bad_addrs("a@b\rc", "line break");
        bad_addrs("a@b\tc\x01", "control character");
        bad_addrs("Ops <ops@x>", "\"Ops <ops@x>\" is not a mail address");
        bad_addrs("a@@b", "not a mail address");
        bad_addrs("a@b..c", "not a mail address");
        bad_addrs("@b", "not a mail address");
        bad_addrs("a@", "not a mail address");
        bad_addrs(".a@b", "not a mail address");
        bad_addrs("a@-b.c", "not a mail address");
        bad_addrs("a b@c", "not a mail address");
}
END_TEST

static char *compose(struct mail_facts *f) {
        char *m = NULL;
        ck_assert_int_eq(mail_compose(f, &m), 0);
        return m;
}

static struct mail_facts facts(char **to) {
        return (struct mail_facts){
                .job = "backup", .run = 42, .host = "web-1", .result = "exit-code",
                .result_text = "exit status 3", .exit_status = 3, .duration = 1500 * USEC_PER_MSEC,
                .attempt = 2, .start = 1700000000 * USEC_PER_SEC, .last_success = 0,
                .date = 1700000002 * USEC_PER_SEC, .to = to, .nonce = 0xabc,
                .output = "line one\nline two\n", .output_len = 18,
        };
}

/* The header block: every line is a "Name: value" or a continuation, all
 * printable ASCII, and the names are exactly the expected ones. */
static void check_headers(const char *m) {
        static const char *const names[] = { "From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                                              "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
                                              "X-Evd-Job", "X-Evd-Run", "X-Evd-Result" };
        const char *end = strstr(m, "\n\n");
        ck_assert_ptr_nonnull(end);
        size_t seen = 0;
        for (const char *p = m; p < end + 1;) {
                const char *nl = strchr(p, '\n');
                ck_assert_msg(nl - p <= 78, "header line too long: %.*s", (int)(nl - p), p);
                for (const char *q = p; q < nl; q++)
                        ck_assert_msg(*q >= 0x20 && *q <= 0x7e, "byte %02x in a header", (unsigned char)*q);
                if (*p != ' ') {
                        ck_assert_uint_lt(seen, ELEMENTSOF(names));
                        size_t k = strlen(names[seen]);
                        ck_assert_msg(!strncmp(p, names[seen], k) && p[k] == ':', "header %zu is %.*s", seen,
                                      (int)(nl - p), p);
                        seen++;
                }
                p = nl + 1;
        }
        ck_assert_uint_eq(seen, ELEMENTSOF(names));
}

static int b64val(char c) {
        const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(t, c);
        return p && c ? (int)(p - t) : -1;
}

/* The decoded value of header name (encoded-words and folding undone). */
static char *header_value(const char *m, const char *name) {
        struct strbuf b = { 0 };
        size_t k = strlen(name);
        const char *p = m;
        while (strncmp(p, name, k) || p[k] != ':')
                p = strchr(p, '\n') + 1;
        p += k + 2;
        for (;;) {
                const char *nl = strchr(p, '\n');
                if (!strncmp(p, "=?UTF-8?B?", 10)) {
                        const char *e = strstr(p + 10, "?=");
                        ck_assert_ptr_nonnull(e);
                        ck_assert_int_le(e + 2 - p, 75);
                        unsigned acc = 0;
                        int bits = 0;
                        for (const char *q = p + 10; q < e && *q != '='; q++) {
                                ck_assert_int_ge(b64val(*q), 0);
                                acc = acc << 6 | (unsigned)b64val(*q);
                                bits += 6;
                                if (bits >= 8) {
                                        char c = (char)(acc >> (bits - 8));
                                        strbuf_append(&b, &c, 1);
                                        bits -= 8;
                                }
                        }
                } else
                        strbuf_append(&b, p, (size_t)(nl - p));
                if (nl[1] != ' ')
                        break;
                p = nl + 2;
        }
        strbuf_puts(&b, "");
        return strbuf_steal(&b);
}

static size_t last_body_len;

/* The body with quoted-printable undone (its length in last_body_len: the
 * output may hold NUL bytes). */
static char *body_decoded(const char *m) {
        struct strbuf b = { 0 };
        const char *p = strstr(m, "\n\n") + 2;
        for (; *p; p++) {
                if (*p == '=' && p[1] == '\n') {
                        p++;
                        continue;
                }
                if (*p == '=') {
                        char hex[3] = { p[1], p[2], 0 };
                        char c = (char)strtol(hex, NULL, 16);
                        strbuf_append(&b, &c, 1);
                        p += 2;
                        continue;
                }
                strbuf_append(&b, p, 1);
        }
        last_body_len = b.len;
        strbuf_puts(&b, "");
        return strbuf_steal(&b);
}

START_TEST(test_plain) {
        char **to = addrs("ops@example.com, root");
        struct mail_facts f = facts(to);
        char *m = compose(&f);
        check_headers(m);
        ck_assert_ptr_nonnull(strstr(m, "From: evd <root>\n"));
        ck_assert_ptr_nonnull(strstr(m, "To: ops@example.com,\n root\n"));
        ck_assert_ptr_nonnull(strstr(m, "Subject: [evd] backup on web-1: exit status 3\n"));
        ck_assert_ptr_nonnull(strstr(m, "Date: Tue, 14 Nov 2023 22:13:22 +0000\n"));
        ck_assert_ptr_nonnull(strstr(m, "Message-ID: <evd.42.1700000002000000.abc@web-1>\n"));
        ck_assert_ptr_nonnull(strstr(m, "Auto-Submitted: auto-generated\n"));
        ck_assert_ptr_nonnull(strstr(m, "X-Evd-Job: backup\nX-Evd-Run: 42\n"));
        char *body = body_decoded(m);
        ck_assert_ptr_nonnull(strstr(body, "Job:          backup\n"));
        ck_assert_ptr_nonnull(strstr(body, "Exit status:  3\n"));
        ck_assert_ptr_nonnull(strstr(body, "Started:      2023-11-14T22:13:20Z\n"));
        ck_assert_ptr_nonnull(strstr(body, "Last success: never\n"));
        ck_assert_ptr_nonnull(strstr(body, "\nOutput:\n\nline one\nline two\n"));
        free(body);
        free(m);
        strv_free(to);
}
END_TEST

START_TEST(test_injection) {
        char **to = addrs("ops@example.com");
        struct mail_facts f = facts(to);
        f.job = "evil\r\nBcc: victim@example.com\r\n\r\nforged body";
        f.host = "host\nX-Injected: 1";
        f.result_text = "exit status 1\nSubject: forged";
        f.output = "Subject: forged\r\n\r\n.\r\n.\nFrom someone\n=?UTF-8?B?Zm9v?=\n \n\x00\x1b[31m\n";
        f.output_len = 60;
        char *m = compose(&f);
        check_headers(m);
        /* No header but the expected ones: check_headers() counted them;
         * and no line of the message forges one. */
        char *hdr = strndup(m, (size_t)(strstr(m, "\n\n") - m + 1));
        ck_assert_ptr_null(strstr(hdr, "\nBcc:"));
        ck_assert_ptr_null(strstr(hdr, "\nX-Injected:"));
        ck_assert_ptr_null(strstr(hdr, "\nSubject: forged"));
        free(hdr);
        /* The facts in the body are one line each. */
        ck_assert_ptr_nonnull(strstr(m, "\nJob:          evil  Bcc: victim@example.com    forged body\n"));
        /* Output lines cannot end the message or be taken for an mbox
         * separator. */
        ck_assert_ptr_null(strstr(m, "\n.\n"));
        ck_assert_ptr_null(strstr(m, "\nFrom "));
        ck_assert_ptr_null(strchr(m, '\r'));
        char *subject = header_value(m, "Subject");
        ck_assert_str_eq(subject, "[evd] evil  Bcc: victim@example.com    forged body on host X-Injected: 1: "
                                  "exit status 1 Subject: forged");
        free(subject);
        char *job = header_value(m, "X-Evd-Job");
        ck_assert_str_eq(job, "evil  Bcc: victim@example.com    forged body");
        free(job);
        char *body = body_decoded(m);
        ck_assert(memmem(body, last_body_len, f.output, f.output_len));
        free(body);
        free(m);
        strv_free(to);
}
END_TEST

/* Composes f's mail, checks its header block, and compares header name's
 * decoded value with want. */
static void check_decoded(const struct mail_facts *f, const char *name, const char *want) {
        char *m = NULL;
        ck_assert_int_eq(mail_compose(f, &m), 0);
        check_headers(m);
        char *v = header_value(m, name);
        ck_assert_str_eq(v, want);
        free(v);
        free(m);
}

START_TEST(test_subjects) {
        char **to = addrs("root");
        struct mail_facts f = facts(to);
        char name[300], want[400];
        memset(name, 'x', sizeof name - 1);
        name[sizeof name - 1] = '\0';
        f.job = name;
        snprintf(want, sizeof want, "[evd] %s on web-1: exit status 3", name);
        check_decoded(&f, "Subject", want);

        f.job = "sauvegarde-été-日本語-🙂";
        f.host = "hôte";
        check_decoded(&f, "Subject", "[evd] sauvegarde-été-日本語-🙂 on hôte: exit status 3");

        /* Text that is not UTF-8 arrives as U+FFFD, still encoded. */
        f.job = "bad\xff\xfe";
        f.host = "h";
        check_decoded(&f, "X-Evd-Job", "bad\xef\xbf\xbd\xef\xbf\xbd");
        strv_free(to);
}
END_TEST

START_TEST(test_output_bounds) {
        char **to = addrs("root");
        struct mail_facts f = facts(to);
        size_t n = 3 * MAIL_OUTPUT_MAX;
        char *out = malloc(n);
        for (size_t i = 0; i < n; i++)
                out[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
        memcpy(out + n - 9, "THE-END\n", 8);
        out[n - 1] = '\n';
        f.output = out;
        f.output_len = n;
        char *m = compose(&f);
        check_headers(m);
        /* Every encoded line fits 76 characters. */
        for (const char *p = strstr(m, "\n\n") + 2; *p;) {
                const char *nl = strchr(p, '\n');
                ck_assert_int_le(nl - p, 76);
                p = nl + 1;
        }
        char *body = body_decoded(m);
        const char *o = strstr(body, "\nOutput (the last ");
        ck_assert_ptr_nonnull(o);
        size_t kept = strlen(strstr(o, "\n\n") + 2);
        ck_assert_uint_le(kept, MAIL_OUTPUT_MAX);
        ck_assert_uint_gt(kept, MAIL_OUTPUT_MAX - 100);
        ck_assert_ptr_nonnull(strstr(body, "THE-END\n"));
        free(body);
        free(m);

        /* One long line without line ends: still cut to the bound. */
        memset(out, 'z', n);
        m = compose(&f);
        body = body_decoded(m);
        kept = strlen(strstr(strstr(body, "\nOutput (the last "), "\n\n") + 2);
        ck_assert_uint_eq(kept, MAIL_OUTPUT_MAX + 1); /* and the added line end */
        free(body);
        free(m);
        free(out);
        strv_free(to);
}
END_TEST

START_TEST(test_bad_envelope) {
        char *none[] = { NULL };
        struct mail_facts f = facts(none);
        char *m = NULL;
        ck_assert_int_eq(mail_compose(&f, &m), -EINVAL);
        ck_assert_ptr_null(m);

        char **to = addrs("root");
        f = facts(to);
        static const char *const bad_from[] = { "evd@x\r\nBcc: victim@x", "Evd <evd@x>", "", "a@b, c@d" };
        for (size_t i = 0; i < ELEMENTSOF(bad_from); i++) {
                f.from = bad_from[i];
                ck_assert_int_eq(mail_compose(&f, &m), -EINVAL);
                ck_assert_ptr_null(m);
        }
        f.from = "evd@host.example";
        m = compose(&f);
        ck_assert(startswith(m, "From: evd <evd@host.example>\n"));
        free(m);
        strv_free(to);
}
END_TEST

int main(void) {
        Suite *s = suite_create("mail");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_addresses);
        tcase_add_test(tc, test_plain);
        tcase_add_test(tc, test_injection);
        tcase_add_test(tc, test_subjects);
        tcase_add_test(tc, test_output_bounds);
        tcase_add_test(tc, test_bad_envelope);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
