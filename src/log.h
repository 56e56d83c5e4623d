/* log.h - daemon messages and job output, to the journal (native protocol,
 * with structured fields) or as plain lines on stderr.
 *
 * Thread-safe: workers log job output directly; every message is written
 * with one write(2)/sd_journal_sendv() call, so lines never interleave.
 *
 * Console format (stderr, --log-target=console), one line per message:
 *     LEVEL: MESSAGE
 * LEVEL is the syslog name: emerg alert crit err warning notice info debug.
 * Job messages read "JOB[RUN]: ...", e.g.
 *     info: backup[7]: started (pid 4242)
 *     info: backup[7]: hello            (a stdout line)
 *     warning: backup[7]: oops          (a stderr line)
 *     info: backup[7]: finished: exit status 0 after 12ms
 *     err: backup[7]: failed: exit status 3 after 1.2s
 * Configuration errors read "PATH:LINE: message". */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#include "util.h"

enum log_target {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_CONSOLE,
};

/* Chooses the target; AUTO means journal when stderr is the journal stream
 * ($JOURNAL_STREAM matches stderr's device and inode), console otherwise. */
void log_setup(enum log_target target);
int log_target_from_string(const char *s);   /* -EINVAL if unknown */
int log_level_from_string(const char *s);    /* "err", "info", ...; -EINVAL */
void log_set_max_level(int level);            /* default LOG_INFO */
int log_get_max_level(void);
bool log_is_journal(void);

/* Daemon messages. Returns -abs(error) when error != 0, else 0, so callers
 * can `return log_error_errno(r, "...")`. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);
#define log_debug(...)   log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)

/* A message about one job (and run, when run > 0): carries EVD_JOB= and
 * EVD_RUN= plus any extra "KEY=value" fields (NULL-terminated list, may be
 * NULL). Prefixes the console line with "JOB[RUN]: ". */
void log_job(int level, const char *job, uint64_t run, char *const *fields,
             const char *fmt, ...) _printf_(5, 6);

/* [cluster] (issue 12): every job message and output line then carries
 * EVD_NODE=node too. Call once before the threads that log start (the
 * field is read without a lock). */
void log_set_node(const char *node);

/* One line of a run's output (text of length n, not NUL-terminated, already
 * made safe for the journal). stream is "stdout" or "stderr". */
void log_job_output(int level, const char *job, uint64_t run, const char *stream,
                    const char *text, size_t n);
