/* mail.c - composing and sending a run's mail (see mail.h).
 *
 * Header values: a value made only of printable ASCII that fits a line and
 * does not contain "=?" is written as it is; anything else becomes RFC 2047
 * "B" encoded-words of UTF-8 (a byte that is not UTF-8 becomes U+FFFD,
 * control characters become spaces), each at most 75 characters, never
 * splitting a character, folded onto continuation lines. Addresses are
 * validated instead (mail_parse_addresses) and never encoded.
 *
 * The body is quoted-printable (RFC 2045 6.7): "=", bytes outside printable
 * ASCII, a space or tab before a line end, a "." alone or first on a line
 * and the "F" of a line starting "From " are encoded; lines are soft-broken
 * before 76 characters. LF is the line end; a CR in the output is encoded
 * (=0D), so a CRLF in the output cannot end the header block or a line. */
#include "mail.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <posix_spawn.h> /* found through -I src, see there */
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "strbuf.h"
#include "timespan.h"
#include "utf8.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* ---- addresses ---- */

static bool atext(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

/* local-part "@" domain (dot-atoms, labels of letters, digits, "-"), or a
 * bare local part. */
static bool valid_address(const char *s, size_t n) {
        size_t at = n;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '@') {
                        if (at != n)
                                return false;
                        at = i;
                }
        if (at == 0 || at + 1 == n || n > 254)
                return false;
        for (size_t i = 0; i < at; i++) {
                if (s[i] == '.') {
                        if (i == 0 || i + 1 == at || s[i + 1] == '.')
                                return false;
                } else if (!atext(s[i]))
                        return false;
        }
        if (at == n)
                return true;
        size_t label = 0;
        for (size_t i = at + 1; i <= n; i++) {
                char c = i < n ? s[i] : '.';
                if (c == '.') {
                        if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                                return false;
                        label = 0;
                } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')
                        label++;
                else
                        return false;
        }
        return true;
}

int mail_parse_addresses(const char *s, char ***ret, char *err, size_t err_size) {
        _cleanup_(strv_freep) char **v = NULL;
        size_t entry = 0;

        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                        snprintf(err, err_size, "%s in the address list",
                                 *p == '\n' || *p == '\r' ? "a line break" : "a control character");
                        return -EINVAL;
                }
        for (const char *p = s;; entry++) {
                const char *end = strchrnul(p, ',');
                const char *a = p, *b = end;
                while (a < b && (*a == ' ' || *a == '\t'))
                        a++;
                while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                        b--;
                if (a == b) {
                        snprintf(err, err_size, "entry %zu of the address list is empty", entry + 1);
                        return -EINVAL;
                }
                if (!valid_address(a, (size_t)(b - a))) {
                        snprintf(err, err_size, "\"%.*s\" is not a mail address (user@domain or a local user)",
                                 (int)MIN((size_t)(b - a), 200), a);
                        return -EINVAL;
                }
                _cleanup_(freep) char *copy = strndup(a, (size_t)(b - a));
                if (!copy || strv_push(&v, copy) < 0)
                        return -ENOMEM;
                if (!*end)
                        break;
                p = end + 1;
        }
        *ret = v;
        v = NULL;
        return 0;
}

/* ---- headers ---- */

static const char base64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct strbuf *b, const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                             (i + 2 < n ? s[i + 2] : 0);
                char q[4] = { base64_chars[v >> 18 & 63], base64_chars[v >> 12 & 63],
                              i + 1 < n ? base64_chars[v >> 6 & 63] : '=', i + 2 < n ? base64_chars[v & 63] : '=' };
                strbuf_append(b, q, 4);
        }
}

static bool header_plain(const char *v, size_t room) {
        size_t n = strlen(v);
        if (n > room || strstr(v, "=?"))
                return false;
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                        return false;
        return true;
}

/* The text of v made valid UTF-8 without control characters. */
static char *header_clean(const char *v) {
        struct strbuf c = { 0 };
        size_t n = strlen(v);
        for (size_t i = 0; i < n;) {
                size_t k = utf8_char_len(v + i, n - i);
                if (k == 0)
                        strbuf_puts(&c, UTF8_REPLACEMENT);
                else if (k == 1 && ((unsigned char)v[i] < 0x20 || v[i] == 0x7f))
                        strbuf_puts(&c, " ");
                else
                        strbuf_append(&c, v + i, k);
                i += k ? k : 1;
        }
        strbuf_puts(&c, ""); /* a string even when v is empty */
        return strbuf_steal(&c);
}

/* "Name: value\n", value written plainly or as folded encoded-words. */
static void put_header(struct strbuf *b, const char *name, const char *value) {
        strbuf_printf(b, "%s: ", name);
        if (header_plain(value, 76 - strlen(name) - 2)) {
                strbuf_printf(b, "%s\n", value);
                return;
        }
        _cleanup_(freep) char *v = header_clean(value);
        if (!v) {
                b->oom = true;
                return;
        }
        /* A line is at most 76 characters: on a continuation line 45 bytes
         * (60 base64 characters, 72 with "=?UTF-8?B?" and "?="); after
         * "Name: " on the first line, what is left. */
        size_t n = strlen(v), room = (76 - strlen(name) - 2 - 12) / 4 * 3;
        bool first = true;
        for (size_t i = 0; i < n || first;) {
                size_t chunk = 0;
                while (i + chunk < n) {
                        size_t k = utf8_char_len(v + i + chunk, n - i - chunk);
                        if (chunk + k > (first ? room : 45))
                                break;
                        chunk += k;
                }
                if (!first)
                        strbuf_puts(b, "\n ");
                strbuf_puts(b, "=?UTF-8?B?");
                put_base64(b, (const unsigned char *)v + i, chunk);
                strbuf_puts(b, "?=");
                i += chunk;
                first = false;
        }
        strbuf_puts(b, "\n");
}

static void format_rfc5322_date(char *buf, size_t size, usec_t t) {
        static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t s = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        gmtime_r(&s, &tm);
        snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void format_iso(char *buf, size_t size, usec_t t) {
        if (t == 0) {
                snprintf(buf, size, "never");
                return;
        }
        time_t s = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- body ---- */

struct qp {
        struct strbuf *b;
        size_t col;
};

/* Appends text as quoted-printable; LF is a hard line break. Whether a
 * character lands first on a line is decided after any soft break, so a
 * "." or "From " is encoded wherever a line starts. */
static void qp_text(struct qp *q, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bool at_eol = i + 1 == n || s[i + 1] == '\n';
                if (c == '\n') {
                        strbuf_puts(q->b, "\n");
                        q->col = 0;
                        continue;
                }
                bool enc = c == '=' || c > 0x7e || (c < 0x20 && c != '\t') || ((c == ' ' || c == '\t') && at_eol);
                if (q->col + (enc ? 3 : 1) > 75) {
                        strbuf_puts(q->b, "=\n");
                        q->col = 0;
                }
                if (q->col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && !memcmp(s + i, "From ", 5))))
                        enc = true;
                if (enc) {
                        char e[4];
                        snprintf(e, sizeof e, "=%02X", c);
                        strbuf_append(q->b, e, 3);
                        q->col += 3;
                } else {
                        strbuf_append(q->b, s + i, 1);
                        q->col++;
                }
        }
}

static void qp_printf(struct qp *q, const char *fmt, ...) _printf_(2, 3);
static void qp_printf(struct qp *q, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                q->b->oom = true;
                return;
        }
        qp_text(q, s, (size_t)n);
        free(s);
}

static void put_body(struct strbuf *b, const struct mail_facts *f) {
        struct qp q = { b, 0 };
        char start[64], last_ok[64], dur[TIMESPAN_MAX];
        format_iso(start, sizeof start, f->start);
        format_iso(last_ok, sizeof last_ok, f->last_success);
        timespan_format(dur, sizeof dur, f->duration);

        /* One line each, whatever the values hold. */
        _cleanup_(freep) char *job = header_clean(f->job), *host = header_clean(f->host),
                             *result = header_clean(f->result_text ? f->result_text : f->result),
                             *kind = header_clean(f->result);
        if (!job || !host || !result || !kind) {
                b->oom = true;
                return;
        }
        qp_printf(&q, "Job:          %s\n", job);
        qp_printf(&q, "Run:          %llu\n", (unsigned long long)f->run);
        qp_printf(&q, "Host:         %s\n", host);
        qp_printf(&q, "Result:       %s (%s)\n", result, kind);
        if (f->exit_status >= 0)
                qp_printf(&q, "Exit status:  %d\n", f->exit_status);
        qp_printf(&q, "Started:      %s\n", start);
        qp_printf(&q, "Duration:     %s\n", dur);
        qp_printf(&q, "Attempt:      %u\n", f->attempt);
        qp_printf(&q, "Last success: %s\n", last_ok);

        const char *out = f->output ? f->output : "";
        size_t n = f->output ? f->output_len : 0;
        if (n == 0) {
                qp_text(&q, "\n(no output)\n", 12);
                return;
        }
        size_t cut = 0;
        if (n > MAIL_OUTPUT_MAX) {
                cut = n - MAIL_OUTPUT_MAX;
                const char *nl = memchr(out + cut, '\n', n - cut);
                if (nl && (size_t)(nl - out) + 1 < n)
                        cut = (size_t)(nl - out) + 1; /* start on a whole line */
        }
        if (cut > 0)
                qp_printf(&q, "\nOutput (the last %zu bytes; %zu bytes before them were cut):\n\n", n - cut, cut);
        else
                qp_printf(&q, "\nOutput:\n\n");
        qp_text(&q, out + cut, n - cut);
        if (out[n - 1] != '\n')
                qp_text(&q, "\n", 1);
}

int mail_compose(const struct mail_facts *f, char **ret) {
        struct strbuf b = { 0 };
        char date[64];

        if (!f->to || !f->to[0] || (f->from && !valid_address(f->from, strlen(f->from))))
                return -EINVAL;
        strbuf_printf(&b, "From: evd <%s>\n", f->from ? f->from : "root");
        strbuf_puts(&b, "To: ");
        for (size_t i = 0; f->to[i]; i++)
                strbuf_printf(&b, "%s%s", i ? ",\n " : "", f->to[i]);
        strbuf_puts(&b, "\n");
        _cleanup_(freep) char *subject = strdup_printf("[evd] %s on %s: %s", f->job, f->host,
                                                       f->result_text ? f->result_text : f->result);
        if (!subject)
                return -ENOMEM;
        put_header(&b, "Subject", subject);
        format_rfc5322_date(date, sizeof date, f->date);
        strbuf_printf(&b, "Date: %s\n", date);
        /* Only digits and the validated host's letters: no job name here. */
        _cleanup_(freep) char *host = header_clean(f->host);
        if (!host)
                return -ENOMEM;
        for (char *p = host; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '.'))
                        *p = '-';
        strbuf_printf(&b, "Message-ID: <evd.%llu.%llu.%llx@%s>\n", (unsigned long long)f->run,
                      (unsigned long long)f->date, (unsigned long long)f->nonce, *host ? host : "localhost");
        strbuf_puts(&b, "MIME-Version: 1.0\n"
                        "Content-Type: text/plain; charset=UTF-8\n"
                        "Content-Transfer-Encoding: quoted-printable\n"
                        "Auto-Submitted: auto-generated\n");
        put_header(&b, "X-Evd-Job", f->job);
        strbuf_printf(&b, "X-Evd-Run: %llu\n", (unsigned long long)f->run);
        put_header(&b, "X-Evd-Result", f->result);
        strbuf_puts(&b, "\n");
        put_body(&b, f);
        if (b.oom) {
                strbuf_done(&b);
                return -ENOMEM;
        }
        *ret = strbuf_steal(&b);
        return 0;
}

/* ---- sending ---- */

struct sendmail_child {
        pid_t pid;
        int pidfd;
        int in_fd;  /* our end of its stdin: a socket, so that a write to a
                     * sendmail that died is EPIPE (MSG_NOSIGNAL), no SIGPIPE */
        int err_fd; /* its stdout and stderr */
};

static int sendmail_start(char *const *argv, struct sendmail_child *c, char **ret_error) {
        int in[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF };
        _cleanup_(strv_freep) char **args = strv_copy(argv);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        if (!args || strv_push(&args, "-t") < 0 || strv_push(&args, "-oi") < 0)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = -errno;
                goto out_fds;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        /* Its own session and so its own process group: the timeout kills
         * the MTA's helpers with it. */
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        extern char **environ;
        r = -posix_spawn(&c->pid, args[0], &fa, &attr, args, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r < 0) {
                *ret_error = strdup_printf("cannot run %s: %s", args[0], strerror(-r));
                goto out_fds;
        }
        c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
        if (c->pidfd < 0) { /* cannot happen for our own unreaped child; reap it anyway */
                r = -errno;
                (void)kill(-c->pid, SIGKILL);
                (void)waitpid(c->pid, NULL, 0);
                *ret_error = strdup_printf("pidfd_open: %s", strerror(-r));
                goto out_fds;
        }
        safe_close(in[1]);
        safe_close(err[1]);
        c->in_fd = in[0];
        c->err_fd = err[0];
        (void)fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
        (void)fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
        return 0;
out_fds:
        safe_close(in[0]);
        safe_close(in[1]);
        safe_close(err[0]);
        safe_close(err[1]);
        return r;
}

/* Turns the kept stderr into one printable line. */
static void one_line(char *s) {
        for (char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == ' ')
                s[--n] = '\0';
}

/* Feeds the message, collects stderr and waits for the exit, until the
 * deadline. Returns 0 when it exited (si filled), -ETIME at the deadline. */
static int sendmail_supervise(struct sendmail_child *c, const char *message, usec_t deadline, char *errbuf,
                              size_t *err_len, siginfo_t *si) {
        size_t msg_len = strlen(message), sent = 0;
        bool exited = false;

        for (;;) {
                struct pollfd p[3] = {
                        { c->pidfd, exited ? 0 : POLLIN, 0 },
                        { c->err_fd, POLLIN, 0 },
                        { c->in_fd, POLLOUT, 0 },
                };
                if (exited && c->err_fd < 0)
                        return 0;
                int timeout_ms = -1;
                if (deadline != USEC_INFINITY) {
                        usec_t now = now_usec(CLOCK_MONOTONIC);
                        if (now >= deadline)
                                return -ETIME;
                        timeout_ms = (int)MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (usec_t)INT32_MAX);
                }
                if (poll(p, 3, timeout_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[2].revents) {
                        ssize_t n = send(c->in_fd, message + sent, msg_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n > 0)
                                sent += (size_t)n;
                        /* Done, or it stopped reading (EPIPE): its exit status tells. */
                        if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == msg_len)
                                c->in_fd = safe_close(c->in_fd);
                }
                if (p[1].revents) {
                        char buf[4096];
                        ssize_t n = read(c->err_fd, buf, sizeof buf);
                        if (n > 0) {
                                size_t keep = MIN((size_t)n, MAIL_STDERR_MAX - *err_len);
                                memcpy(errbuf + *err_len, buf, keep); /* the rest is read and dropped */
                                *err_len += keep;
                        } else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                c->err_fd = safe_close(c->err_fd);
                }
                if (!exited && p[0].revents) {
                        si->si_pid = 0;
                        if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, si, WEXITED | WNOHANG) == 0 && si->si_pid != 0)
                                exited = true;
                        /* The helpers it left in the background may keep
                         * stderr open: do not wait for them. */
                        if (exited && c->err_fd >= 0) {
                                ssize_t n;
                                while (*err_len < MAIL_STDERR_MAX &&
                                       (n = read(c->err_fd, errbuf + *err_len, MAIL_STDERR_MAX - *err_len)) > 0)
                                        *err_len += (size_t)n;
                                c->err_fd = safe_close(c->err_fd);
                        }
                }
        }
}

int mail_send(char *const *argv, const char *message, usec_t timeout, char **ret_error) {
        struct sendmail_child c = { .pid = 0, .pidfd = -EBADF, .in_fd = -EBADF, .err_fd = -EBADF };
        char errbuf[MAIL_STDERR_MAX + 1];
        size_t err_len = 0;
        siginfo_t si = { 0 };
        char *why = NULL;

        if (!argv || !argv[0])
                return -EINVAL;
        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_usec(CLOCK_MONOTONIC) + timeout;
        int r = sendmail_start(argv, &c, &why);
        if (r < 0) {
                *ret_error = why ? why : strdup_printf("cannot run %s: %s", argv[0], strerror(-r));
                return r;
        }
        r = sendmail_supervise(&c, message, deadline, errbuf, &err_len, &si);
        errbuf[err_len] = '\0';
        one_line(errbuf);
        if (r < 0) {
                char span[TIMESPAN_MAX];
                (void)kill(-c.pid, SIGKILL);
                (void)syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, NULL, 0);
                (void)waitid((idtype_t)P_PIDFD, (id_t)c.pidfd, &si, WEXITED);
                if (r == -ETIME)
                        why = strdup_printf("%s did not finish within %s: killed%s%s", argv[0],
                                            timespan_format(span, sizeof span, timeout), *errbuf ? ": " : "", errbuf);
                else
                        why = strdup_printf("waiting for %s: %s", argv[0], strerror(-r));
        } else if (si.si_code == CLD_EXITED && si.si_status == 0)
                r = 0;
        else if (si.si_code == CLD_EXITED) {
                r = -EIO;
                why = strdup_printf("%s exited with status %d%s%s", argv[0], si.si_status, *errbuf ? ": " : "",
                                    errbuf);
        } else {
                r = -EIO;
                why = strdup_printf("%s was killed by signal %s%s%s", argv[0],
                                    sigabbrev_np(si.si_status) ? sigabbrev_np(si.si_status) : "?",
                                    *errbuf ? ": " : "", errbuf);
        }
        safe_close(c.pidfd);
        safe_close(c.in_fd);
        safe_close(c.err_fd);
        if (r < 0)
                *ret_error = why;
        return r;
}
