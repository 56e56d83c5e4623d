/* config.c - /etc/evd.conf and its includes into a new, immutable struct
 * config.
 *
 * Owns: the parse of one configuration (the main file, then every file its
 * [include] globs match), the resulting struct config and its reference
 * counted job definitions.
 *
 * Invariants: a struct config is returned only when no error was found; it
 * and its job definitions are never changed afterwards; config->jobs is
 * sorted by name and names are unique. Every error is "PATH:LINE: message"
 * (or "PATH: message" for a whole file), errors are handed back in file
 * order (main file first, then each included file as read) and by line
 * within a file, and at most MAX_ERRORS of them, then one "too many errors".
 *
 * Thread: loading is main-thread only. inih is configured through process
 * globals (ini_max_line, ini_use_stack, ...) that this module sets on every
 * load, getpwnam()/getgrnam() are not reentrant, and glob()'s error callback
 * reports through a static pointer: never load two configurations at once.
 * job_def_ref/unref are main-thread only as well (plain counters).
 *
 * Design decisions:
 * - inih reads through our own reader (ini_parse_stream), which hands it one
 *   whole line at a time and counts lines, so the handler knows the line
 *   without INI_HANDLER_LINENO (Debian's build has none). The reader also
 *   classifies each line with exactly inih's rules and reports syntax errors
 *   itself (every one of them, with its line; inih only returns the first),
 *   lines longer than LINE_LIMIT and NUL bytes. Such a line reaches inih as
 *   an empty line, so it is never split or half-applied.
 * - The reader, not inih, tracks sections: inih copies the section name into
 *   a 50-byte buffer, which would truncate [job:NAME] for names over 45
 *   characters. The handler ignores inih's section argument.
 * - inih options are set explicitly (no multi-line values: an indented line
 *   is an ordinary line; ";" and "#" start a comment at line start; ";"
 *   after white space starts an inline comment; "key: value" is not
 *   accepted, only "key = value"; a UTF-8 byte order mark on line 1 is
 *   skipped).
 * - Includes are read after the main file, in the order of their files=
 *   lines, each glob's matches sorted with strcmp (not the locale). A file
 *   already read (same device and inode, e.g. the main file matched by its
 *   own glob, or two overlapping globs) is skipped silently.
 * - Files are opened O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks the
 *   daemon) and must be regular files; config_load() also checks owner
 *   (root or evd's euid) and mode (not group/other writable), as cron does.
 * - Keys and section names are case-sensitive. An empty value is an error
 *   for every key. [daemon] may appear once; [include] any number of times.
 *   Of a job's keys only environment= may repeat.
 * - Spans that must be finite (every, jitter, retry_delay, kill_grace) and
 *   finite timeout/shutdown_timeout are at most SPAN_MAX (100 years), so the
 *   scheduler's arithmetic never overflows. timeout=0 and every=0 are errors.
 * - timezone= with every= is an error, and so is a timezone= that differs
 *   from a zone named inside the calendar expression (which would win).
 * - The parse is linear in the number of jobs: a hash table finds a job
 *   defined twice, one sort orders config->jobs at the end.
 * - user= and group= are resolved when the configuration is loaded; each
 *   run looks the user up again (spawn.c) and fails if it was deleted or
 *   its uid changed since, until a reload reports it here.
 *   working_directory= is only checked to be absolute; whether it exists is
 *   found out when a run starts.
 * - config_format() writes a configuration back as a file that parses to
 *   the same configuration; golden tests and the fuzzer rely on it. */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "schedule.h"
#include "timespan.h"

#define LINE_LIMIT (1024 * 1024)
#define MAX_ERRORS 100
#define JOB_NAME_MAX 128
#define QUOTE_MAX 100 /* characters of a value quoted in a message */
#define QBUF_SIZE (QUOTE_MAX * 4 + 8)
#define SPAN_MAX (100ULL * 31557600ULL * USEC_PER_SEC)

enum section_kind {
        SEC_NONE,    /* before the first section */
        SEC_IGNORED, /* a section whose header was an error: its keys are skipped */
        SEC_DAEMON,
        SEC_INCLUDE,
        SEC_JOB,
};

enum key_id {
        /* [daemon] */
        K_WORKERS,
        K_SHUTDOWN_TIMEOUT,
        K_KILL_GRACE,
        K_STATE_DIRECTORY,
        K_CONTROL_GROUP,
        /* [include] */
        K_FILES,
        /* [job:NAME] */
        K_COMMAND,
        K_SHELL,
        K_EVERY,
        K_CALENDAR,
        K_CRON,
        K_TIMEZONE,
        K_JITTER,
        K_PERSISTENT,
        K_TIMEOUT,
        K_OVERLAP,
        K_RETRIES,
        K_RETRY_DELAY,
        K_USER,
        K_GROUP,
        K_WORKING_DIRECTORY,
        K_ENVIRONMENT,
        K_NICE,
        K_LIMIT_NOFILE,
        K_ENABLED,
        _K_MAX,
};

static const struct key_def {
        const char *name;
        enum section_kind section;
        bool repeatable;
} keys[_K_MAX] = {
        [K_WORKERS] = { "workers", SEC_DAEMON, false },
        [K_SHUTDOWN_TIMEOUT] = { "shutdown_timeout", SEC_DAEMON, false },
        [K_KILL_GRACE] = { "kill_grace", SEC_DAEMON, false },
        [K_STATE_DIRECTORY] = { "state_directory", SEC_DAEMON, false },
        [K_CONTROL_GROUP] = { "control_group", SEC_DAEMON, false },
        [K_FILES] = { "files", SEC_INCLUDE, true },
        [K_COMMAND] = { "command", SEC_JOB, false },
        [K_SHELL] = { "shell", SEC_JOB, false },
        [K_EVERY] = { "every", SEC_JOB, false },
        [K_CALENDAR] = { "calendar", SEC_JOB, false },
        [K_CRON] = { "cron", SEC_JOB, false },
        [K_TIMEZONE] = { "timezone", SEC_JOB, false },
        [K_JITTER] = { "jitter", SEC_JOB, false },
        [K_PERSISTENT] = { "persistent", SEC_JOB, false },
        [K_TIMEOUT] = { "timeout", SEC_JOB, false },
        [K_OVERLAP] = { "overlap", SEC_JOB, false },
        [K_RETRIES] = { "retries", SEC_JOB, false },
        [K_RETRY_DELAY] = { "retry_delay", SEC_JOB, false },
        [K_USER] = { "user", SEC_JOB, false },
        [K_GROUP] = { "group", SEC_JOB, false },
        [K_WORKING_DIRECTORY] = { "working_directory", SEC_JOB, false },
        [K_ENVIRONMENT] = { "environment", SEC_JOB, true },
        [K_NICE] = { "nice", SEC_JOB, false },
        [K_LIMIT_NOFILE] = { "limit_nofile", SEC_JOB, false },
        [K_ENABLED] = { "enabled", SEC_JOB, false },
};

struct error {
        unsigned file_seq; /* order of the file it is about */
        unsigned line;     /* 0: about the whole file */
        size_t seq;        /* order of detection, for a stable sort */
        char *message;
};

struct include {
        char *pattern; /* resolved against the including file's directory */
        char *file;
        unsigned line;
        unsigned file_seq;
};

struct file_id {
        dev_t dev;
        ino_t ino;
};

struct parser {
        struct config *config;
        bool check_permissions;
        int failure; /* a negative errno other than -EINVAL (out of memory) */

        struct error *errors;
        size_t n_errors, n_alloc_errors;
        bool too_many;

        struct file_id *files;
        size_t n_files;
        unsigned n_file_seq;

        /* The file being read. */
        const char *path;
        unsigned file_seq;
        bool included;
        const char *data;
        size_t size, pos;
        unsigned line;

        /* The section being read. */
        enum section_kind section;
        char *section_name; /* as written between the brackets */
        unsigned section_line;
        unsigned seen[_K_MAX]; /* line of each key's first occurrence in this section */
        struct job_def *job;   /* SEC_JOB */
        bool job_scratch;      /* job is checked, then discarded: its header was an error */
        unsigned daemon_line;  /* first [daemon], 0: none yet */

        struct job_def **jobs;
        size_t n_jobs, n_alloc_jobs;
        struct job_def **table; /* open addressing by name */
        size_t n_table;

        struct include *includes;
        size_t n_includes;
};

/* ---- errors ------------------------------------------------------------ */

static void oom(struct parser *p) {
        if (p->failure == 0)
                p->failure = -ENOMEM;
}

static void error_add(struct parser *p, const char *path, unsigned file_seq, unsigned line, const char *fmt, ...)
        _printf_(5, 6);

static void error_add(struct parser *p, const char *path, unsigned file_seq, unsigned line, const char *fmt, ...) {
        char *msg = NULL, *full;
        va_list ap;

        if (p->too_many)
                return;
        if (p->n_errors >= MAX_ERRORS) {
                p->too_many = true;
                return;
        }
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg) {
                oom(p);
                return;
        }
        full = line > 0 ? strdup_printf("%s:%u: %s", path, line, msg) : strdup_printf("%s: %s", path, msg);
        free(msg);
        if (!full) {
                oom(p);
                return;
        }
        if (p->n_errors == p->n_alloc_errors) {
                size_t n = p->n_alloc_errors ? p->n_alloc_errors * 2 : 8;
                struct error *e = realloc(p->errors, n * sizeof(*e));
                if (!e) {
                        free(full);
                        oom(p);
                        return;
                }
                p->errors = e;
                p->n_alloc_errors = n;
        }
        p->errors[p->n_errors] = (struct error){ file_seq, line, p->n_errors, full };
        p->n_errors++;
}

/* An error at a line of the file being read. */
#define lerror(p, line, ...) error_add((p), (p)->path, (p)->file_seq, (line), __VA_ARGS__)

/* Quotes s for a message: control characters, quotes and backslashes
 * escaped, cut after QUOTE_MAX characters, in double quotes if marks. */
static const char *quote_marks(char buf[static QBUF_SIZE], const char *s, bool marks) {
        size_t n = 0, i;
        if (marks)
                buf[n++] = '"';
        for (i = 0; s[i] && i < QUOTE_MAX; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        buf[n++] = '\\';
                        buf[n++] = (char)c;
                } else if (c < 0x20 || c == 0x7f)
                        n += (size_t)sprintf(buf + n, "\\x%02x", c);
                else
                        buf[n++] = (char)c;
        }
        if (s[i]) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        if (marks)
                buf[n++] = '"';
        buf[n] = 0;
        return buf;
}

static const char *quote(char buf[static QBUF_SIZE], const char *s) {
        return quote_marks(buf, s, true);
}

/* ---- job definitions ---------------------------------------------------- */

struct job_def *job_def_ref(struct job_def *d) {
        if (d)
                d->refcount++;
        return d;
}

struct job_def *job_def_unref(struct job_def *d) {
        if (!d)
                return NULL;
        if (d->refcount == 0)
                abort(); /* unbalanced unref: a programming error */
        if (--d->refcount > 0)
                return NULL;
        free(d->name);
        free(d->file);
        free(d->command);
        strv_free(d->argv);
        free(d->schedule_text);
        schedule_free(d->calendar);
        free(d->timezone);
        free(d->user);
        free(d->group);
        free(d->home);
        free(d->shell_path);
        free(d->working_directory);
        strv_free(d->environment);
        free(d);
        return NULL;
}

bool job_def_same_schedule(const struct job_def *a, const struct job_def *b) {
        if (a->schedule != b->schedule)
                return false;
        if (a->schedule == SCHEDULE_EVERY ? a->every != b->every : !streq_ptr(a->schedule_text, b->schedule_text))
                return false;
        return streq_ptr(a->timezone, b->timezone) && a->jitter == b->jitter && a->persistent == b->persistent &&
               a->enabled == b->enabled;
}

const char *overlap_policy_to_string(enum overlap_policy p) {
        switch (p) {
        case OVERLAP_SKIP:
                return "skip";
        case OVERLAP_QUEUE:
                return "queue";
        case OVERLAP_PARALLEL:
                return "parallel";
        case OVERLAP_REPLACE:
                return "replace";
        }
        return "?";
}

static int overlap_policy_from_string(const char *s) {
        for (int i = OVERLAP_SKIP; i <= OVERLAP_REPLACE; i++)
                if (streq(s, overlap_policy_to_string((enum overlap_policy)i)))
                        return i;
        return -EINVAL;
}

/* ---- the job table while parsing ---------------------------------------- */

static size_t name_hash(const char *s) {
        size_t h = 14695981039346656037ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static struct job_def *table_find(const struct parser *p, const char *name) {
        if (p->n_table == 0)
                return NULL;
        for (size_t i = name_hash(name) & (p->n_table - 1);; i = (i + 1) & (p->n_table - 1)) {
                if (!p->table[i])
                        return NULL;
                if (streq(p->table[i]->name, name))
                        return p->table[i];
        }
}

static void table_put(struct job_def **table, size_t n, struct job_def *d) {
        size_t i = name_hash(d->name) & (n - 1);
        while (table[i])
                i = (i + 1) & (n - 1);
        table[i] = d;
}

/* Appends d (taking the reference) to the list and the table. */
static int jobs_add(struct parser *p, struct job_def *d) {
        if (p->n_jobs == p->n_alloc_jobs) {
                size_t n = p->n_alloc_jobs ? p->n_alloc_jobs * 2 : 16;
                struct job_def **j = realloc(p->jobs, n * sizeof(*j));
                if (!j)
                        return -ENOMEM;
                p->jobs = j;
                p->n_alloc_jobs = n;
        }
        if ((p->n_jobs + 1) * 2 > p->n_table) {
                size_t n = p->n_table ? p->n_table * 2 : 64;
                struct job_def **t = calloc(n, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < p->n_jobs; i++)
                        table_put(t, n, p->jobs[i]);
                free(p->table);
                p->table = t;
                p->n_table = n;
        }
        p->jobs[p->n_jobs++] = d;
        table_put(p->table, p->n_table, d);
        return 0;
}

/* ---- sections ----------------------------------------------------------- */

static bool job_name_valid_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-';
}

/* A new definition with the defaults, or NULL (out of memory, noted). */
static struct job_def *job_def_new(struct parser *p, const char *name) {
        struct job_def *d = calloc(1, sizeof(*d));
        if (!d) {
                oom(p);
                return NULL;
        }
        *d = (struct job_def){
                .refcount = 1,
                .line = p->line,
                .schedule = SCHEDULE_EVERY,
                .timeout = USEC_INFINITY,
                .overlap = OVERLAP_SKIP,
                .retry_delay = 30 * USEC_PER_SEC,
                .enabled = true,
        };
        d->name = strdup(name);
        d->file = strdup(p->path);
        if (!d->name || !d->file) {
                job_def_unref(d);
                oom(p);
                return NULL;
        }
        return d;
}

/* The header of a job section was an error (bad or duplicate name): its
 * keys are still checked, into a definition that is then dropped, so one
 * run of evd -t shows every error in the file. */
static void job_scratch(struct parser *p, const char *name) {
        struct job_def *d = job_def_new(p, name);
        if (!d)
                return;
        p->job = d;
        p->job_scratch = true;
        p->section = SEC_JOB;
}

static void job_finish(struct parser *p) {
        struct job_def *d = p->job;
        const unsigned *seen = p->seen;
        char q[QBUF_SIZE];

        /* A section whose header was an error has been reported once: no
         * "missing" errors for it, only those of the keys it has. */
        if (!seen[K_COMMAND] && !p->job_scratch)
                lerror(p, p->section_line, "missing command= in [job:%s]", d->name);
        else if (d->command && !d->argv) {
                if (d->shell) {
                        char *argv[] = { (char *)"/bin/sh", (char *)"-c", d->command, NULL };
                        d->argv = strv_copy(argv);
                        if (!d->argv) {
                                oom(p);
                                return;
                        }
                } else {
                        const char *why = NULL;
                        int r = split_command(d->command, &d->argv, &why);
                        if (r == -ENOMEM) {
                                oom(p);
                                return;
                        }
                        if (r < 0)
                                lerror(p, seen[K_COMMAND], "invalid command %s for command= in [job:%s]: %s",
                                       quote(q, d->command), d->name, why ? why : "cannot split");
                }
        }

        if (!seen[K_EVERY] && !seen[K_CALENDAR] && !seen[K_CRON]) {
                if (!p->job_scratch)
                        lerror(p, p->section_line, "no schedule in [job:%s]: set one of every=, calendar=, cron=",
                               d->name);
        }
        else if (seen[K_TIMEZONE] && seen[K_EVERY] && !seen[K_CALENDAR] && !seen[K_CRON])
                lerror(p, seen[K_TIMEZONE], "timezone= needs calendar= or cron= in [job:%s], not every=", d->name);
        else if (d->timezone && d->calendar) {
                /* The expression's own zone would win: say so rather than
                 * ignore timezone=. calendar keeps "UTC" as a flag, which
                 * only its normalised form shows. */
                const char *zone = schedule_timezone(d->calendar);
                char *norm = NULL;
                if (!zone) {
                        if (schedule_normalize(d->calendar, &norm) < 0) {
                                oom(p);
                                return;
                        }
                        size_t n = strlen(norm);
                        if (n >= 4 && streq(norm + n - 4, " UTC"))
                                zone = "UTC";
                }
                if (zone && !streq(d->timezone, zone)) {
                        char q2[QBUF_SIZE];
                        lerror(p, seen[K_TIMEZONE], "timezone= %s conflicts with the zone %s named in %s= in [job:%s]",
                               quote(q, d->timezone), quote(q2, zone),
                               d->schedule == SCHEDULE_CRON ? "cron" : "calendar", d->name);
                }
                free(norm);
        }
}

/* Ends the current section: the checks that need all of a job's keys. */
static void section_end(struct parser *p) {
        if (p->section == SEC_JOB && p->job)
                job_finish(p);
        if (p->job_scratch)
                job_def_unref(p->job);
        p->job_scratch = false;
        p->job = NULL;
        free(p->section_name);
        p->section_name = NULL;
        p->section = SEC_NONE;
        memset(p->seen, 0, sizeof(p->seen));
}

static void section_begin(struct parser *p, const char *name, size_t len) {
        char q[QBUF_SIZE];

        section_end(p);
        p->section_name = strndup(name, len);
        if (!p->section_name) {
                oom(p);
                return;
        }
        p->section_line = p->line;
        p->section = SEC_IGNORED;

        if (streq(p->section_name, "daemon") || streq(p->section_name, "include")) {
                bool daemon = p->section_name[0] == 'd';
                if (p->included)
                        lerror(p, p->line, "[%s] is not allowed in an included file, only [job:NAME]",
                               p->section_name);
                else if (daemon && p->daemon_line)
                        lerror(p, p->line, "[daemon] given twice (first at line %u)", p->daemon_line);
                else {
                        p->section = daemon ? SEC_DAEMON : SEC_INCLUDE;
                        if (daemon)
                                p->daemon_line = p->line;
                }
                return;
        }
        if (!startswith(p->section_name, "job:")) {
                lerror(p, p->line, "unknown section [%s] (expected [daemon], [include] or [job:NAME])",
                       quote_marks(q, p->section_name, false));
                return;
        }

        const char *job = p->section_name + 4;
        size_t n = strlen(job);
        if (n == 0) {
                lerror(p, p->line, "missing job name in [job:]");
                job_scratch(p, job);
                return;
        }
        if (n > JOB_NAME_MAX) {
                lerror(p, p->line, "job name too long (%zu characters, at most %d)", n, JOB_NAME_MAX);
                job_scratch(p, job);
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!job_name_valid_char(job[i])) {
                        lerror(p, p->line,
                               "invalid job name %s: use only letters, digits, \"_\", \".\" and \"-\"",
                               quote(q, job));
                        job_scratch(p, job);
                        return;
                }
        const struct job_def *other = table_find(p, job);
        if (other) {
                lerror(p, p->line, "job \"%s\" is already defined at %s:%u", job, other->file, other->line);
                job_scratch(p, job);
                return;
        }

        struct job_def *d = job_def_new(p, job);
        if (!d)
                return;
        if (jobs_add(p, d) < 0) {
                job_def_unref(d);
                oom(p);
                return;
        }
        p->job = d;
        p->section = SEC_JOB;
}

/* ---- values ------------------------------------------------------------- */

/* Strict decimal integer: optional '-', digits, nothing else. */
static int parse_int(const char *s, long min, long max, long *ret) {
        const char *p = s;
        char *end;

        if (*p == '-')
                p++;
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        for (const char *c = p; *c; c++)
                if (!isdigit((unsigned char)*c))
                        return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static char *section_display(const struct parser *p, char *buf, size_t size) {
        snprintf(buf, size, "[%s]", p->section_name);
        return buf;
}

/* Sets *target to a copy of value; false (and oom) on failure. */
static bool set_string(struct parser *p, char **target, const char *value) {
        char *s = strdup(value);
        if (!s) {
                oom(p);
                return false;
        }
        free(*target);
        *target = s;
        return true;
}

static bool env_key_valid(const char *s, size_t n) {
        if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
                        return false;
        return true;
}

static void env_assign(struct parser *p, char ***env, const char *word) {
        size_t klen = (size_t)(strchr(word, '=') - word);
        for (char **e = *env; e && *e; e++)
                if (strncmp(*e, word, klen + 1) == 0) {
                        set_string(p, e, word);
                        return;
                }
        if (strv_push(env, word) < 0)
                oom(p);
}

static int parse_span(struct parser *p, enum key_id k, const char *value, const char *sec, bool allow_zero,
                      bool allow_infinity, usec_t *ret) {
        char q[QBUF_SIZE];
        usec_t u;
        int r = timespan_parse(value, &u);

        if (r == -ERANGE || (r == 0 && u != USEC_INFINITY && u > SPAN_MAX)) {
                lerror(p, p->line, "time span %s too long for %s= in %s (at most 100y)", quote(q, value),
                       keys[k].name, sec);
                return -EINVAL;
        }
        if (r < 0) {
                lerror(p, p->line, "invalid time span %s for %s= in %s", quote(q, value), keys[k].name, sec);
                return -EINVAL;
        }
        if (u == USEC_INFINITY && !allow_infinity) {
                lerror(p, p->line, "invalid time span %s for %s= in %s (must be finite)", quote(q, value),
                       keys[k].name, sec);
                return -EINVAL;
        }
        if (u == 0 && !allow_zero) {
                lerror(p, p->line, "invalid time span %s for %s= in %s (must be more than 0%s)", quote(q, value),
                       keys[k].name, sec, allow_infinity ? "; \"infinity\" means none" : "");
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

static int parse_number(struct parser *p, enum key_id k, const char *value, const char *sec, long min, long max,
                        long *ret) {
        char q[QBUF_SIZE];
        int r = parse_int(value, min, max, ret);
        if (r == -ERANGE)
                lerror(p, p->line, "invalid value %s for %s= in %s (must be %ld..%ld)", quote(q, value), keys[k].name,
                       sec, min, max);
        else if (r < 0)
                lerror(p, p->line, "invalid number %s for %s= in %s", quote(q, value), keys[k].name, sec);
        return r;
}

static int parse_bool(struct parser *p, enum key_id k, const char *value, const char *sec, bool *ret) {
        char q[QBUF_SIZE];
        int r = parse_boolean(value);
        if (r < 0) {
                lerror(p, p->line, "invalid boolean %s for %s= in %s (yes or no)", quote(q, value), keys[k].name,
                       sec);
                return r;
        }
        *ret = r > 0;
        return 0;
}

static bool absolute_path(struct parser *p, enum key_id k, const char *value, const char *sec) {
        char q[QBUF_SIZE];
        if (value[0] == '/')
                return true;
        lerror(p, p->line, "invalid path %s for %s= in %s (must be absolute)", quote(q, value), keys[k].name, sec);
        return false;
}

/* Glob metacharacters in a directory name escaped, so that only the
 * pattern written in files= is a pattern. */
static char *glob_escape(const char *s) {
        char *r = malloc(strlen(s) * 2 + 1), *o = r;
        if (!r)
                return NULL;
        for (; *s; s++) {
                if (strchr("*?[]\\", *s))
                        *o++ = '\\';
                *o++ = *s;
        }
        *o = 0;
        return r;
}

static void include_add(struct parser *p, const char *value) {
        char *pattern;
        const char *slash = strrchr(p->path, '/');

        if (value[0] == '/' || !slash)
                pattern = strdup(value);
        else {
                char *dir = strndup(p->path, (size_t)(slash - p->path) + 1), *esc = dir ? glob_escape(dir) : NULL;
                pattern = esc ? strdup_printf("%s%s", esc, value) : NULL;
                free(dir);
                free(esc);
        }
        struct include *n = pattern ? realloc(p->includes, (p->n_includes + 1) * sizeof(*n)) : NULL;
        char *file = n ? strdup(p->path) : NULL;
        if (n)
                p->includes = n;
        if (!file) {
                free(pattern);
                oom(p);
                return;
        }
        p->includes[p->n_includes++] = (struct include){ pattern, file, p->line, p->file_seq };
}

static void daemon_key(struct parser *p, enum key_id k, const char *value, const char *sec) {
        struct config *c = p->config;
        char q[QBUF_SIZE];
        long n;

        switch (k) {
        case K_WORKERS:
                if (parse_number(p, k, value, sec, 1, 1024, &n) >= 0)
                        c->workers = (unsigned)n;
                break;
        case K_SHUTDOWN_TIMEOUT:
                (void)parse_span(p, k, value, sec, true, true, &c->shutdown_timeout);
                break;
        case K_KILL_GRACE:
                (void)parse_span(p, k, value, sec, true, false, &c->kill_grace);
                break;
        case K_STATE_DIRECTORY:
                if (absolute_path(p, k, value, sec))
                        set_string(p, &c->state_directory, value);
                break;
        case K_CONTROL_GROUP: {
                errno = 0;
                struct group *g = getgrnam(value);
                if (!g) {
                        lerror(p, p->line, "unknown group %s for control_group= in %s", quote(q, value), sec);
                        break;
                }
                c->control_gid = g->gr_gid;
                set_string(p, &c->control_group, value);
                break;
        }
        default:
                abort();
        }
}

static void job_key(struct parser *p, enum key_id k, const char *value, const char *sec) {
        struct job_def *d = p->job;
        char q[QBUF_SIZE];
        char *why = NULL;
        long n;
        int r;

        switch (k) {
        case K_COMMAND:
                set_string(p, &d->command, value);
                break;
        case K_SHELL:
                (void)parse_bool(p, k, value, sec, &d->shell);
                break;
        case K_EVERY:
        case K_CALENDAR:
        case K_CRON: {
                static const enum key_id sched[] = { K_EVERY, K_CALENDAR, K_CRON };
                for (size_t i = 0; i < ELEMENTSOF(sched); i++)
                        if (sched[i] != k && p->seen[sched[i]]) {
                                lerror(p, p->line,
                                       "%s= and %s= (line %u) both given in %s: use exactly one of every=, "
                                       "calendar=, cron=",
                                       keys[k].name, keys[sched[i]].name, p->seen[sched[i]], sec);
                                return;
                        }
                if (k == K_EVERY) {
                        if (parse_span(p, k, value, sec, false, false, &d->every) >= 0)
                                d->schedule = SCHEDULE_EVERY;
                        break;
                }
                struct schedule *spec = NULL;
                r = schedule_parse(k == K_CALENDAR ? SCHEDULE_SYNTAX_CALENDAR : SCHEDULE_SYNTAX_CRON, value, &spec,
                                   &why);
                if (r == -ENOMEM) {
                        oom(p);
                        break;
                }
                if (r < 0) {
                        /* calendar's message repeats the expression: keep only the reason. */
                        char *prefix = strdup_printf("invalid %s expression \"%s\": ", keys[k].name, value);
                        const char *reason = why;
                        if (prefix && why && startswith(why, prefix))
                                reason = why + strlen(prefix);
                        lerror(p, p->line, "invalid %s expression %s for %s= in %s%s%s", keys[k].name,
                               quote(q, value), keys[k].name, sec, reason ? ": " : "", reason ? reason : "");
                        free(prefix);
                        break;
                }
                if (!set_string(p, &d->schedule_text, value)) {
                        schedule_free(spec);
                        break;
                }
                d->calendar = spec;
                d->schedule = k == K_CALENDAR ? SCHEDULE_CALENDAR : SCHEDULE_CRON;
                break;
        }
        case K_TIMEZONE:
                if (!schedule_timezone_valid(value))
                        lerror(p, p->line, "unknown time zone %s for timezone= in %s", quote(q, value), sec);
                else
                        set_string(p, &d->timezone, value);
                break;
        case K_JITTER:
                (void)parse_span(p, k, value, sec, true, false, &d->jitter);
                break;
        case K_PERSISTENT:
                (void)parse_bool(p, k, value, sec, &d->persistent);
                break;
        case K_TIMEOUT:
                (void)parse_span(p, k, value, sec, false, true, &d->timeout);
                break;
        case K_OVERLAP:
                r = overlap_policy_from_string(value);
                if (r < 0)
                        lerror(p, p->line,
                               "invalid overlap policy %s for overlap= in %s (skip, queue, parallel or replace)",
                               quote(q, value), sec);
                else
                        d->overlap = (enum overlap_policy)r;
                break;
        case K_RETRIES:
                if (parse_number(p, k, value, sec, 0, 1000, &n) >= 0)
                        d->retries = (unsigned)n;
                break;
        case K_RETRY_DELAY:
                (void)parse_span(p, k, value, sec, false, false, &d->retry_delay);
                break;
        case K_USER: {
                errno = 0;
                struct passwd *pw = getpwnam(value);
                if (!pw) {
                        lerror(p, p->line, "unknown user %s for user= in %s", quote(q, value), sec);
                        break;
                }
                d->uid = pw->pw_uid;
                if (!d->group)
                        d->gid = pw->pw_gid;
                if (set_string(p, &d->home, pw->pw_dir) && set_string(p, &d->shell_path, pw->pw_shell))
                        set_string(p, &d->user, value);
                break;
        }
        case K_GROUP: {
                errno = 0;
                struct group *g = getgrnam(value);
                if (!g) {
                        lerror(p, p->line, "unknown group %s for group= in %s", quote(q, value), sec);
                        break;
                }
                d->gid = g->gr_gid;
                set_string(p, &d->group, value);
                break;
        }
        case K_WORKING_DIRECTORY:
                if (absolute_path(p, k, value, sec))
                        set_string(p, &d->working_directory, value);
                break;
        case K_ENVIRONMENT: {
                char **words = NULL;
                const char *err = NULL;
                r = split_command(value, &words, &err);
                if (r == -ENOMEM) {
                        oom(p);
                        break;
                }
                if (r < 0) {
                        lerror(p, p->line, "invalid environment= %s in %s: %s", quote(q, value), sec,
                               err ? err : "cannot split");
                        break;
                }
                for (char **w = words; *w; w++) {
                        const char *eq = strchr(*w, '=');
                        /* Each assignment searches the list for its key:
                         * bounded, so a huge value cannot make a reload
                         * quadratic. Far more than any job needs. */
                        if (strv_length(d->environment) >= CONFIG_ENVIRONMENT_MAX) {
                                lerror(p, p->line, "too many environment variables in %s (at most %u)", sec,
                                       CONFIG_ENVIRONMENT_MAX);
                                break;
                        }
                        if (!eq || !env_key_valid(*w, (size_t)(eq - *w)))
                                lerror(p, p->line,
                                       "invalid assignment %s for environment= in %s (expected KEY=VALUE, KEY "
                                       "of letters, digits and \"_\")",
                                       quote(q, *w), sec);
                        else
                                env_assign(p, &d->environment, *w);
                }
                strv_free(words);
                break;
        }
        case K_NICE:
                if (parse_number(p, k, value, sec, -20, 19, &n) >= 0) {
                        d->nice = (int)n;
                        d->nice_set = true;
                }
                break;
        case K_LIMIT_NOFILE: /* the run's soft RLIMIT_NOFILE; spawn caps it at the hard limit */
                if (parse_number(p, k, value, sec, 1, 1L << 20, &n) >= 0)
                        d->limit_nofile = (unsigned long)n;
                break;
        case K_ENABLED:
                (void)parse_bool(p, k, value, sec, &d->enabled);
                break;
        default:
                abort();
        }
        free(why);
}

static int handler(void *user, const char *section_ignored, const char *name, const char *value) {
        struct parser *p = user;
        char q[QBUF_SIZE];
        char sec[JOB_NAME_MAX + QUOTE_MAX * 4 + 16];
        enum key_id k;

        if (p->section == SEC_IGNORED || p->failure)
                return 1;
        if (p->section == SEC_NONE) {
                lerror(p, p->line, "key %s before any section", quote(q, name));
                return 1;
        }
        section_display(p, sec, sizeof sec);
        for (k = 0; k < _K_MAX; k++)
                if (keys[k].section == p->section && streq(keys[k].name, name))
                        break;
        if (k == _K_MAX) {
                lerror(p, p->line, "unknown key %s in %s", quote(q, name), sec);
                return 1;
        }
        if (p->seen[k] && !keys[k].repeatable) {
                lerror(p, p->line, "duplicate key \"%s\" in %s (first given at line %u)", name, sec, p->seen[k]);
                return 1;
        }
        if (!value || !*value) {
                lerror(p, p->line, "empty value for %s= in %s", name, sec);
                if (!p->seen[k])
                        p->seen[k] = p->line;
                return 1;
        }

        switch (p->section) {
        case SEC_DAEMON:
                daemon_key(p, k, value, sec);
                break;
        case SEC_INCLUDE:
                include_add(p, value);
                break;
        case SEC_JOB:
                job_key(p, k, value, sec);
                break;
        default:
                abort();
        }
        if (!p->seen[k])
                p->seen[k] = p->line;
        return 1;
}

/* ---- the reader ----------------------------------------------------------- */

static bool is_space(char c) {
        return isspace((unsigned char)c);
}

/* Looks at one line (without its newline) as inih will, and reports what
 * inih would not: syntax errors. Returns true to hand the line to inih
 * (a key = value line), false to hand it an empty line instead. Section
 * headers are handled here (see the top of the file). */
static bool line_classify(struct parser *p, const char *s, size_t len) {
        size_t i = 0, j;
        bool was_space = false;

        while (i < len && is_space(s[i]))
                i++;
        if (i == len || s[i] == ';' || s[i] == '#')
                return false;

        if (s[i] == '[') {
                for (j = i + 1; j < len; j++) {
                        if (s[j] == ']' || (was_space && s[j] == ';'))
                                break;
                        was_space = is_space(s[j]);
                }
                if (j == len || s[j] != ']') {
                        lerror(p, p->line, "syntax error: section header without \"]\"");
                        section_end(p);
                        p->section = SEC_IGNORED; /* do not apply its keys to the previous section */
                        return false;
                }
                size_t k = j + 1;
                while (k < len && is_space(s[k]))
                        k++;
                if (k < len && !(s[k] == ';' && k > j + 1)) {
                        lerror(p, p->line, "syntax error: text after the section header");
                        section_end(p);
                        p->section = SEC_IGNORED;
                        return false;
                }
                section_begin(p, s + i + 1, j - i - 1);
                return false;
        }

        for (j = i; j < len; j++) {
                if (s[j] == '=' || s[j] == ':' || (was_space && s[j] == ';'))
                        break;
                was_space = is_space(s[j]);
        }
        if (j == len || s[j] != '=') {
                lerror(p, p->line, "syntax error: expected \"key = value\" or \"[section]\"");
                return false;
        }
        if (j == i) {
                lerror(p, p->line, "syntax error: missing key before \"=\"");
                return false;
        }
        return true;
}

/* A line refused whole (too long, NUL byte) is still a key or a section
 * header: take note of which, so that the error is not followed by
 * "missing command=" or by its section's keys applied to the previous one. */
static void line_dropped(struct parser *p, const char *s, size_t len) {
        size_t i = 0, j;

        while (i < len && is_space(s[i]))
                i++;
        if (i < len && s[i] == '[') {
                section_end(p);
                p->section = SEC_IGNORED;
                return;
        }
        if (p->section < SEC_DAEMON)
                return;
        for (j = i; j < len && j - i <= 64 && s[j] != '=' && s[j] != 0; j++)
                ;
        if (j == len || s[j] != '=')
                return;
        while (j > i && is_space(s[j - 1]))
                j--;
        for (enum key_id k = 0; k < _K_MAX; k++)
                if (keys[k].section == p->section && strlen(keys[k].name) == j - i &&
                    memcmp(keys[k].name, s + i, j - i) == 0 && !p->seen[k])
                        p->seen[k] = p->line;
}

static char *reader(char *str, int num, void *stream) {
        struct parser *p = stream;

        if (p->pos >= p->size || p->too_many || p->failure)
                return NULL;

        const char *s = p->data + p->pos;
        const char *nl = memchr(s, '\n', p->size - p->pos);
        size_t len = nl ? (size_t)(nl - s) : p->size - p->pos;
        p->pos += len + (nl ? 1 : 0);
        p->line++;

        strcpy(str, "\n");
        if (len > LINE_LIMIT) {
                lerror(p, p->line, "line too long (%zu bytes, at most %d)", len, LINE_LIMIT);
                line_dropped(p, s, len);
                return str;
        }
        if (memchr(s, 0, len)) {
                lerror(p, p->line, "NUL byte in the line");
                line_dropped(p, s, len);
                return str;
        }
        if (p->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
                s += 3;
                len -= 3;
        }
        if (len + 2 > (size_t)num)
                abort(); /* ini_max_line was not set up */
        if (line_classify(p, s, len)) {
                memcpy(str, s, len);
                str[len] = '\n';
                str[len + 1] = 0;
        }
        return str;
}

static void ini_setup(void) {
        ini_use_stack = false;
        ini_allow_realloc = false;
        /* Without the stack and realloc, inih's one line buffer is
         * ini_initial_alloc bytes: the longest line, its newline and a NUL. */
        ini_initial_alloc = LINE_LIMIT + 2;
        ini_max_line = LINE_LIMIT + 2;
        ini_allow_multiline = false;
        ini_allow_bom = false;
        ini_allow_inline_comments = true;
        ini_inline_comment_prefixes = (char *)";";
        ini_start_comment_prefixes = (char *)";#";
        ini_stop_on_first_error = false;
        ini_allow_no_value = false;
}

/* Parses one file's text. */
static void parse_text(struct parser *p, const char *path, unsigned file_seq, bool included, const char *data,
                       size_t size) {
        size_t errors_before = p->n_errors;

        p->path = path;
        p->file_seq = file_seq;
        p->included = included;
        p->data = data;
        p->size = size;
        p->pos = 0;
        p->line = 0;
        p->section = SEC_NONE;

        ini_setup();
        int r = ini_parse_stream(reader, p, handler, p);
        section_end(p);
        if (r == -2)
                oom(p);
        else if (r > 0 && p->n_errors == errors_before)
                lerror(p, (unsigned)r, "syntax error");
        p->path = NULL;
        p->data = NULL;
}

/* ---- files --------------------------------------------------------------- */

static int read_all(int fd, size_t hint, char **ret, size_t *ret_size) {
        size_t n = 0, alloc = hint + 1;
        char *buf = malloc(alloc);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (n == alloc) {
                        if (alloc > SIZE_MAX / 2) {
                                free(buf);
                                return -EFBIG;
                        }
                        char *b = realloc(buf, alloc * 2);
                        if (!b) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = b;
                        alloc *= 2;
                }
                ssize_t k = read(fd, buf + n, alloc - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        free(buf);
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        *ret = buf;
        *ret_size = n;
        return 0;
}

/* Opens, checks and parses one file. */
static void load_file(struct parser *p, const char *path, bool included) {
        unsigned seq = p->n_file_seq++;
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;

        if (fd < 0) {
                if (errno == ELOOP)
                        error_add(p, path, seq, 0, "refusing to read: a symbolic link");
                else if (errno == ENOMEM)
                        oom(p);
                else
                        error_add(p, path, seq, 0, "cannot open: %s", strerror(errno));
                return;
        }
        if (fstat(fd, &st) < 0) {
                error_add(p, path, seq, 0, "cannot open: %s", strerror(errno));
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                error_add(p, path, seq, 0, "refusing to read: not a regular file");
                return;
        }
        for (size_t i = 0; i < p->n_files; i++)
                if (p->files[i].dev == st.st_dev && p->files[i].ino == st.st_ino)
                        return; /* read already */
        struct file_id *f = realloc(p->files, (p->n_files + 1) * sizeof(*f));
        if (!f) {
                oom(p);
                return;
        }
        p->files = f;
        p->files[p->n_files++] = (struct file_id){ st.st_dev, st.st_ino };

        if (p->check_permissions) {
                bool bad = false;
                if (st.st_uid != 0 && st.st_uid != geteuid()) {
                        error_add(p, path, seq, 0, "refusing to read: owned by uid %u, not by root",
                                  (unsigned)st.st_uid);
                        bad = true;
                }
                if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                        error_add(p, path, seq, 0,
                                  "refusing to read: writable by group or others (run chmod go-w %s)", path);
                        bad = true;
                }
                if (bad)
                        return;
        }

        char *data = NULL;
        size_t size = 0;
        int r = read_all(fd, st.st_size > 0 && st.st_size < (1 << 30) ? (size_t)st.st_size : 4096, &data, &size);
        if (r == -ENOMEM) {
                oom(p);
                return;
        }
        if (r < 0) {
                error_add(p, path, seq, 0, "cannot read: %s", strerror(-r));
                return;
        }
        parse_text(p, path, seq, included, data, size);
        free(data);
}

struct glob_failure {
        char path[256];
        int error;
};
static struct glob_failure *glob_failure; /* for glob's errfunc, which has no user pointer */

static int glob_error(const char *path, int error) {
        if (error != ENOENT && error != ENOTDIR && glob_failure && glob_failure->error == 0) {
                snprintf(glob_failure->path, sizeof glob_failure->path, "%s", path);
                glob_failure->error = error;
        }
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_includes(struct parser *p) {
        char q[QBUF_SIZE];

        for (size_t i = 0; i < p->n_includes && !p->failure && !p->too_many; i++) {
                const struct include *inc = &p->includes[i];
                struct glob_failure gf = { .error = 0 };
                glob_t g = { 0 };

                glob_failure = &gf;
                int r = glob(inc->pattern, 0, glob_error, &g);
                glob_failure = NULL;
                if (r == GLOB_NOSPACE) {
                        globfree(&g);
                        oom(p);
                        return;
                }
                if (gf.error)
                        error_add(p, inc->file, inc->file_seq, inc->line, "cannot read %s for files=: %s",
                                  quote(q, gf.path), strerror(gf.error));
                if (r == 0) {
                        qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), strcmp_ptr);
                        for (size_t k = 0; k < g.gl_pathc && !p->failure && !p->too_many; k++)
                                load_file(p, g.gl_pathv[k], true);
                }
                globfree(&g);
        }
}

/* ---- the configuration ---------------------------------------------------- */

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_jobs; i++)
                job_def_unref(c->jobs[i]);
        free(c->jobs);
        free(c->path);
        free(c->state_directory);
        free(c->control_group);
        free(c);
        return NULL;
}

static int job_cmp(const void *a, const void *b) {
        return strcmp((*(struct job_def *const *)a)->name, (*(struct job_def *const *)b)->name);
}

static int error_cmp(const void *a, const void *b) {
        const struct error *x = a, *y = b;
        if (x->file_seq != y->file_seq)
                return x->file_seq < y->file_seq ? -1 : 1;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the errors to the caller (appending to *errors) and frees the
 * parser; returns r, or -ENOMEM. */
static int parser_done(struct parser *p, int r, char ***errors) {
        if (p->n_errors > 1)
                qsort(p->errors, p->n_errors, sizeof(*p->errors), error_cmp);
        for (size_t i = 0; i < p->n_errors; i++) {
                if (errors && r != -ENOMEM && strv_push(errors, p->errors[i].message) < 0)
                        r = -ENOMEM;
                free(p->errors[i].message);
        }
        free(p->errors);
        if (p->too_many && errors && r != -ENOMEM) {
                char *m = strdup_printf("%s: too many errors, only the first %d are shown",
                                        p->config ? p->config->path : "?", MAX_ERRORS);
                if (!m || strv_push(errors, m) < 0)
                        r = -ENOMEM;
                free(m);
        }
        for (size_t i = 0; i < p->n_jobs; i++)
                job_def_unref(p->jobs[i]);
        free(p->jobs);
        free(p->table);
        for (size_t i = 0; i < p->n_includes; i++) {
                free(p->includes[i].pattern);
                free(p->includes[i].file);
        }
        free(p->includes);
        free(p->files);
        free(p->section_name);
        config_free(p->config);
        return r;
}

static int config_load_internal(const char *path, const char *text, struct config **ret, char ***errors) {
        struct parser p = { .check_permissions = text == NULL };
        int r;

        p.config = calloc(1, sizeof(*p.config));
        if (!p.config)
                return -ENOMEM;
        *p.config = (struct config){
                .workers = 4,
                .shutdown_timeout = 30 * USEC_PER_SEC,
                .kill_grace = 5 * USEC_PER_SEC,
        };
        p.config->path = strdup(path);
        if (!p.config->path)
                return parser_done(&p, -ENOMEM, errors);

        if (text) {
                unsigned seq = p.n_file_seq++;
                parse_text(&p, path, seq, false, text, strlen(text));
        } else
                load_file(&p, path, false);
        if (!p.failure)
                load_includes(&p);

        if (p.failure)
                return parser_done(&p, p.failure, errors);
        if (p.n_errors > 0 || p.too_many)
                return parser_done(&p, -EINVAL, errors);

        if (p.n_jobs > 0)
                qsort(p.jobs, p.n_jobs, sizeof(*p.jobs), job_cmp);
        p.config->jobs = p.jobs;
        p.config->n_jobs = p.n_jobs;
        p.jobs = NULL;
        p.n_jobs = 0;
        *ret = p.config;
        p.config = NULL;
        r = parser_done(&p, 0, NULL);
        return r;
}

int config_load(const char *path, struct config **ret, char ***errors) {
        return config_load_internal(path, NULL, ret, errors);
}

int config_load_string(const char *text, const char *name, struct config **ret, char ***errors) {
        return config_load_internal(name, text, ret, errors);
}

const struct job_def *config_find_job(const struct config *c, const char *name) {
        size_t lo = 0, hi = c->n_jobs;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(name, c->jobs[mid]->name);
                if (r == 0)
                        return c->jobs[mid];
                if (r < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* ---- formatting ------------------------------------------------------------ */

/* A word as split_command() reads it back: white space in single quotes
 * (a backslash before a trailing blank would be cut off by inih with the
 * blank), other characters that are not plainly safe after a backslash. A
 * ";" thus never follows white space, so inih never takes it for a
 * comment, and the line never ends in white space. */
static void put_word(FILE *f, const char *w) {
        if (!*w || !w[strcspn(w, "';\\")]) {
                bool blank = false;
                for (const char *c = w; *c; c++)
                        blank = blank || isspace((unsigned char)*c);
                if (blank || !*w) {
                        fprintf(f, "'%s'", w); /* the readable form, when it is safe */
                        return;
                }
        }
        for (; *w; w++) {
                unsigned char c = (unsigned char)*w;
                if (isspace(c))
                        fprintf(f, "'%c'", c);
                else {
                        if (!(isalnum(c) || c >= 0x80 || strchr("_=./:,+@%-", c)))
                                fputc('\\', f);
                        fputc(c, f);
                }
        }
}

/* "key = value", but "key =;value" for a value that starts with ";": after
 * a blank, inih would take it for a comment. */
static void put_string(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s =%s%s\n", key, value[0] == ';' ? "" : " ", value);
}

static void put_span(FILE *f, const char *key, usec_t u) {
        char buf[TIMESPAN_MAX];
        fprintf(f, "%s = %s\n", key, timespan_format(buf, sizeof buf, u));
}

static void put_job(FILE *f, const struct job_def *d, unsigned flags) {
        fprintf(f, "\n[job:%s]\n", d->name);
        if (flags & CONFIG_FORMAT_ORIGIN)
                fprintf(f, "# from %s:%u\n", d->file, d->line);
        fputs("# argv:", f);
        for (char **a = d->argv; a && *a; a++) {
                fputc(' ', f);
                put_word(f, *a);
        }
        fputc('\n', f);
        put_string(f, "command", d->command);
        fprintf(f, "shell = %s\n", d->shell ? "yes" : "no");
        switch (d->schedule) {
        case SCHEDULE_EVERY:
                put_span(f, "every", d->every);
                break;
        case SCHEDULE_CALENDAR:
        case SCHEDULE_CRON: {
                char *norm = NULL;
                if (d->calendar && schedule_normalize(d->calendar, &norm) >= 0)
                        fprintf(f, "# normalized: %s\n", norm);
                free(norm);
                put_string(f, d->schedule == SCHEDULE_CRON ? "cron" : "calendar", d->schedule_text);
                break;
        }
        }
        if (d->timezone)
                put_string(f, "timezone", d->timezone);
        put_span(f, "jitter", d->jitter);
        fprintf(f, "persistent = %s\n", d->persistent ? "yes" : "no");
        put_span(f, "timeout", d->timeout);
        fprintf(f, "overlap = %s\n", overlap_policy_to_string(d->overlap));
        fprintf(f, "retries = %u\n", d->retries);
        put_span(f, "retry_delay", d->retry_delay);
        if (d->user) {
                fprintf(f, "# uid %u, home %s\n", (unsigned)d->uid, d->home ? d->home : "");
                put_string(f, "user", d->user);
        }
        if (d->group)
                put_string(f, "group", d->group);
        if (d->user || d->group)
                fprintf(f, "# gid %u\n", (unsigned)d->gid);
        if (d->working_directory)
                put_string(f, "working_directory", d->working_directory);
        if (d->environment && *d->environment) {
                fputs("environment =", f);
                for (char **e = d->environment; *e; e++) {
                        fputc(' ', f);
                        put_word(f, *e);
                }
                fputc('\n', f);
        }
        if (d->nice_set)
                fprintf(f, "nice = %d\n", d->nice);
        fprintf(f, "enabled = %s\n", d->enabled ? "yes" : "no");
}

int config_format(const struct config *c, unsigned flags, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fputs("[daemon]\n", f);
        fprintf(f, "workers = %u\n", c->workers);
        put_span(f, "shutdown_timeout", c->shutdown_timeout);
        put_span(f, "kill_grace", c->kill_grace);
        if (c->state_directory)
                put_string(f, "state_directory", c->state_directory);
        if (c->control_group) {
                fprintf(f, "# gid %u\n", (unsigned)c->control_gid);
                put_string(f, "control_group", c->control_group);
        }
        for (size_t i = 0; i < c->n_jobs; i++)
                put_job(f, c->jobs[i], flags);
        return memstream_finish(f, &buf, ret);
}
