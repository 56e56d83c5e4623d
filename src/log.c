/* log.c - daemon messages and job output to the journal or stderr.
 *
 * The target is chosen once at start-up (log_setup) before any thread
 * exists; after that the module only reads it, so no lock is needed: each
 * message is a single sd_journal_sendv() or writev() call, both of which are
 * thread-safe and keep lines whole.
 *
 * A message the journal refuses (sd_journal_sendv() fails: no buffer space,
 * a message journald cannot take) is written to stderr as a console line
 * instead: under systemd that is the journal's stream, so the text still
 * arrives, without the fields, rather than vanishing. With no journald at
 * all, sd_journal_sendv() drops messages and reports success: so
 * --log-target=journal checks for journald's socket at start and uses
 * stderr without it (auto only picks the journal under systemd). Errors
 * carry ERRNO= as systemd's own messages do. */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

static bool use_journal;
static atomic_int max_level = LOG_INFO;

static const char *const level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* libsystemd sends to this socket and, when it does not exist, drops
 * messages and reports success ("fail silently if the journal is not
 * available"): so look before choosing the journal. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static bool journal_reachable(void) {
        struct stat st;
        return stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

void log_setup(enum log_target target) {
        switch (target) {
        case LOG_TARGET_JOURNAL:
                use_journal = journal_reachable();
                if (!use_journal)
                        fprintf(stderr, "warning: the journal is not reachable (no socket %s); "
                                        "logging to stderr instead\n", JOURNAL_SOCKET);
                break;
        case LOG_TARGET_CONSOLE:
                use_journal = false;
                break;
        default:
                use_journal = stderr_is_journal();
        }
}

int log_target_from_string(const char *s) {
        if (streq(s, "auto"))
                return LOG_TARGET_AUTO;
        if (streq(s, "journal"))
                return LOG_TARGET_JOURNAL;
        if (streq(s, "console"))
                return LOG_TARGET_CONSOLE;
        return -EINVAL;
}

int log_level_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int)i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warn"))
                return LOG_WARNING;
        return -EINVAL;
}

void log_set_max_level(int level) { atomic_store(&max_level, level); }
int log_get_max_level(void) { return atomic_load(&max_level); }
bool log_is_journal(void) { return use_journal; }

static char node_field[160]; /* "EVD_NODE=..." or "" (log_set_node) */

void log_set_node(const char *node) {
        snprintf(node_field, sizeof node_field, "EVD_NODE=%s", node);
}

/* Writes one entry: text of length n, with optional job/run/stream fields
 * and extra "KEY=value" fields. */
static void emit(int level, const char *job, uint64_t run, const char *stream,
                 char *const *fields, const char *text, size_t n) {
        char prio[16], run_field[40], prefix[256];

        if (level > atomic_load(&max_level))
                return;

        if (use_journal) {
                struct iovec iov[32];
                size_t k = 0;
                char *msg = malloc(n + 9);
                char *jobf = NULL;
                char *streamf = NULL;

                if (!msg)
                        return;
                memcpy(msg, "MESSAGE=", 8);
                memcpy(msg + 8, text, n);
                iov[k++] = (struct iovec){ msg, n + 8 };
                snprintf(prio, sizeof prio, "PRIORITY=%d", level);
                iov[k++] = (struct iovec){ prio, strlen(prio) };
                iov[k++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=evd", 21 };
                if (job) {
                        jobf = strdup_printf("EVD_JOB=%s", job);
                        if (jobf)
                                iov[k++] = (struct iovec){ jobf, strlen(jobf) };
                }
                if (run > 0) {
                        snprintf(run_field, sizeof run_field, "EVD_RUN=%llu", (unsigned long long)run);
                        iov[k++] = (struct iovec){ run_field, strlen(run_field) };
                }
                if (job && node_field[0])
                        iov[k++] = (struct iovec){ node_field, strlen(node_field) };
                if (stream) {
                        streamf = strdup_printf("EVD_STREAM=%s", stream);
                        if (streamf)
                                iov[k++] = (struct iovec){ streamf, strlen(streamf) };
                }
                for (size_t i = 0; fields && fields[i] && k < ELEMENTSOF(iov); i++)
                        iov[k++] = (struct iovec){ fields[i], strlen(fields[i]) };
                int r = sd_journal_sendv(iov, (int)k);
                free(msg);
                free(jobf);
                free(streamf);
                if (r >= 0)
                        return;
                /* Not sent: fall back to a plain line on stderr. */
        }

        if (job && run > 0)
                snprintf(prefix, sizeof prefix, "%s: %s[%llu]: ", level_names[level & 7], job,
                         (unsigned long long)run);
        else if (job)
                snprintf(prefix, sizeof prefix, "%s: %s: ", level_names[level & 7], job);
        else
                snprintf(prefix, sizeof prefix, "%s: ", level_names[level & 7]);
        struct iovec iov[3] = {
                { prefix, strlen(prefix) },
                { (char *)text, n },
                { (char *)"\n", 1 },
        };
        /* One writev per line: lines from different threads never interleave. */
        (void)!writev(STDERR_FILENO, iov, 3);
}

int log_internal(int level, int error, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (level <= atomic_load(&max_level)) {
                va_start(ap, fmt);
                int n = vsnprintf(buf, sizeof buf, fmt, ap);
                va_end(ap);
                if (n < 0)
                        n = 0;
                size_t len = MIN((size_t)n, sizeof buf - 1);
                char errno_field[32];
                char *fields[] = { errno_field, NULL };
                if (error != 0 && len < sizeof buf - 1) {
                        int m = snprintf(buf + len, sizeof buf - len, ": %s", strerror(abs(error)));
                        if (m > 0)
                                len = MIN(len + (size_t)m, sizeof buf - 1);
                }
                snprintf(errno_field, sizeof errno_field, "ERRNO=%d", abs(error));
                emit(level, NULL, 0, NULL, error != 0 ? fields : NULL, buf, len);
        }
        errno = saved;
        return error == 0 ? 0 : -abs(error);
}

void log_job(int level, const char *job, uint64_t run, char *const *fields, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        if (level > atomic_load(&max_level))
                return;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        emit(level, job, run, NULL, fields, buf, MIN((size_t)n, sizeof buf - 1));
}

void log_job_output(int level, const char *job, uint64_t run, const char *stream, const char *text,
                    size_t n) {
        emit(level, job, run, stream, NULL, text, n);
}
