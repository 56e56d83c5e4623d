/* mail.h - the failure mail of a run, as cron users expect it: composed as
 * an RFC 5322 message and handed to `SENDMAIL -t -oi`.
 *
 * Composition (mail_parse_addresses, mail_compose) is pure: no descriptors,
 * no clocks (the caller passes the date), so it is tested on fixtures and
 * may run on any thread. mail_send() blocks for as long as the sendmail
 * command runs (bounded by its timeout): call it from a worker thread,
 * never from evd's main thread, whose reaper of orphans (waitpid(-1)) would
 * take the sendmail process from it.
 *
 * Safety of what evd does not control (job names, host names, result texts,
 * addresses, the run's output): no value can add or end a header (header
 * values are printable ASCII or RFC 2047 encoded-words; CR, LF and other
 * control characters never reach a header), and the body is
 * quoted-printable, so the output can contain any bytes, lines of any
 * length, a "." line or a "From " line without ending the message (with
 * -oi a lone dot does not end it anyway; QP encodes it too, for MTAs that
 * are called without -oi by a wrapper), being mangled by mbox delivery
 * (">From ") or forging a header (the body starts after the blank line,
 * which evd writes itself). */
#pragma once

#include "util.h"

/* At most this much of a run's output goes into a mail: its last bytes,
 * from a line start, with a note saying how much was cut. */
#define MAIL_OUTPUT_MAX (64u * 1024u)

/* A bounded amount of the sendmail command's stderr is kept for the error. */
#define MAIL_STDERR_MAX 2048u

struct mail_facts {
        const char *job;
        uint64_t run;
        const char *host;
        const char *result;      /* the kind: exit-code, signal, timeout, spawn-failed, overdue, success */
        const char *result_text; /* what evd logged, e.g. "exit status 1" */
        int exit_status;         /* < 0: none (killed, not started) */
        usec_t duration;
        unsigned attempt;
        usec_t start;        /* CLOCK_REALTIME; 0: unknown */
        usec_t last_success; /* CLOCK_REALTIME; 0: never */
        usec_t date;         /* the message's Date:, CLOCK_REALTIME */
        const char *from;    /* an address (mail_from); NULL: root, qualified by the MTA as cron's
                              * mail is. Written as "evd <ADDRESS>". */
        char *const *to;     /* from mail_parse_addresses(), at least one */
        const char *output;  /* the run's output, any bytes; may be NULL */
        size_t output_len;
        uint64_t nonce; /* makes Message-ID unique with run and date (e.g. random) */
};

/* Parses "a@b, c@d" (comma-separated addresses; a bare local part such as
 * "root" is allowed and qualified by the MTA; no display names). Returns 0
 * with a NULL-terminated vector, or -EINVAL with a message naming the
 * problem (an empty entry, a newline or other control character, an
 * address that is not local@domain) in err. */
int mail_parse_addresses(const char *s, char ***ret, char *err, size_t err_size);

/* Builds the whole message (headers, blank line, body; LF line ends as
 * sendmail expects on its stdin). Returns 0 and a malloc'd string, or
 * -EINVAL (no recipient, or a from that is not one address as
 * mail_parse_addresses() takes them) / -ENOMEM. */
int mail_compose(const struct mail_facts *f, char **ret);

/* Runs argv (the sendmail command; "-t" and "-oi" are appended) in a new
 * session with the message on its stdin and waits for it up to timeout
 * (USEC_INFINITY: no limit). After the timeout its process group is
 * killed (SIGKILL) and reaped. Returns 0 when it exited 0; otherwise
 * -errno and, in *ret_error, a malloc'd one-line description (cannot run
 * it, its exit status or signal with the start of its stderr, or the
 * timeout). Descriptors are CLOEXEC; no zombie is left. */
int mail_send(char *const *argv, const char *message, usec_t timeout, char **ret_error);
