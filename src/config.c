/* config.c - /etc/evd.conf and its includes into a new, immutable struct
 * config.
 *
 * Owns: the parse of one configuration (the main file, then every file its
 * [include] globs match): files, permission checks, the reader that feeds
 * inih, sections, errors; the struct config and its lifetime. The keys and
 * their parsers are in config_keys.c, job definitions in job_def.c, the
 * text form in config_format.c, files and their checks in config_files.c;
 * config_parser.h is what they share.
 *
 * Invariants: a struct config is returned only when no error was found; it
 * and its job definitions are never changed afterwards; config->jobs is
 * sorted by name and names are unique. Every error is "PATH:LINE: message"
 * (or "PATH: message" for a whole file), control characters in PATH
 * escaped as \xNN; errors are handed back in file order (main file first,
 * then each included file as read) and by line within a file, and at most
 * MAX_ERRORS of them, then one "too many errors".
 *
 * Thread: config_load() and config_load_string() run on any thread, two at
 * once included: all state is in the struct parser on the caller's stack
 * and the configuration it builds. inih's options are process globals, set
 * once (pthread_once) to the same values and never changed; user and group
 * lookups are the _r variants; glob()'s error callback reports through a
 * thread-local pointer; strerror_r, never strerror. schedule_parse() and
 * the other schedule functions called here are thread-safe (schedule.h);
 * schedule_next() is never called from here.
 * Counting references (config_free, job_def_ref/unref) is main thread only.
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
 * - Files, their permission checks (the directories on the way included)
 *   and the include globs: config_files.c.
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
 * - Memory: the definitions are one array; every string and vector is in
 *   the configuration's arena. Strings many jobs share (file names, users,
 *   groups, time zones, directories, environment entries, programs) are
 *   stored once; names, commands and arguments, rarely equal, are copied
 *   without a look-up. A shell job's argv[2] is its command. An expression
 *   given again (same text and syntax) is parsed once and shared.
 *   bench/config_bytes.c measures the heap per job: for 100,000 calendar
 *   jobs on distinct seconds 811 bytes before this layout, 593 after (272
 *   of them the parsed expression, struct schedule); sharing 24 hourly
 *   expressions, 811 before and 296 after.
 * - user= and group= are resolved when the configuration is loaded; each
 *   run looks the user up again (spawn.c) and fails if it was deleted or
 *   its uid changed since, until a reload reports it here.
 *   working_directory= is only checked to be absolute; whether it exists is
 *   found out when a run starts. */
#include "config_parser.h"

#include <ctype.h>
#include <ini.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "etcd.h"
#include "schedule.h"

/* ---- errors ------------------------------------------------------------ */

void config_oom(struct parser *p) {
        if (p->failure == 0)
                p->failure = -ENOMEM;
}

const char *config_errstr(int e, char buf[static 128]) {
        return strerror_r(e, buf, 128);
}

/* s with control characters as \xNN (a file name in a message must not
 * reach a terminal raw); NULL when out of memory. */
char *config_escape(const char *s) {
        size_t n = 0;
        for (const char *c = s; *c; c++)
                n += (unsigned char)*c < 0x20 || *c == 0x7f ? 4 : 1;
        char *r = malloc(n + 1), *o = r;
        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c < 0x20 || c == 0x7f)
                        o += sprintf(o, "\\x%02x", c);
                else
                        *o++ = (char)c;
        }
        *o = 0;
        return r;
}

static void error_push(struct parser *p, unsigned file_seq, unsigned line, char *full) {
        if (p->n_errors == p->n_alloc_errors) {
                size_t n = p->n_alloc_errors ? p->n_alloc_errors * 2 : 8;
                struct error *e = reallocarray(p->errors, n, sizeof(*e));
                if (!e) {
                        free(full);
                        config_oom(p);
                        return;
                }
                p->errors = e;
                p->n_alloc_errors = n;
        }
        p->errors[p->n_errors] = (struct error){ file_seq, line, p->n_errors, full };
        p->n_errors++;
}

void config_error(struct parser *p, const char *path, unsigned file_seq, unsigned line, const char *fmt, ...) {
        char *msg = NULL, *full = NULL, *name;
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
        name = config_escape(path);
        if (msg && name)
                full = line > 0 ? strdup_printf("%s:%u: %s", name, line, msg) : strdup_printf("%s: %s", name, msg);
        free(msg);
        free(name);
        if (!full) {
                config_oom(p);
                return;
        }
        error_push(p, file_seq, line, full);
}

const char *config_quote_marks(char buf[static QBUF_SIZE], const char *s, bool marks) {
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

const char *config_quote(char buf[static QBUF_SIZE], const char *s) {
        return config_quote_marks(buf, s, true);
}

/* ---- the arena ------------------------------------------------------------- */

char *config_strdup(struct parser *p, const char *s) {
        char *r = arena_intern(p->intern, &p->config->arena, s);
        if (!r)
                config_oom(p);
        return r;
}

char *config_strdup_unique(struct parser *p, const char *s) {
        char *r = arena_strdup(&p->config->arena, s);
        if (!r)
                config_oom(p);
        return r;
}

char **config_strv(struct parser *p, char *const *v, bool argv) {
        size_t n = strv_length(v);
        char **r = arena_alloc(&p->config->arena, (n + 1) * sizeof(*r), _Alignof(char *));
        if (!r) {
                config_oom(p);
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                if (!(r[i] = i == 0 || !argv ? config_strdup(p, v[i]) : config_strdup_unique(p, v[i])))
                        return NULL;
        return r;
}

/* ---- sections ----------------------------------------------------------- */

/* Ends the current section: the checks that need all of a job's keys. */
static void section_end(struct parser *p) {
        if (p->section == SEC_JOB && p->job)
                job_finish(p);
        if (p->section == SEC_CLUSTER)
                config_cluster_section_end(p);
        p->environment = strv_free(p->environment);
        p->job_scratch = false;
        p->job = NULL;
        free(p->section_name);
        p->section_name = NULL;
        p->section = SEC_NONE;
        memset(p->seen, 0, sizeof(p->seen));
}

/* [daemon] or [include]. */
static void section_main(struct parser *p) {
        bool daemon = p->section_name[0] == 'd';
        if (p->included)
                lerror(p, p->line, "[%s] is not allowed in an included file, only [job:NAME]", p->section_name);
        else if (daemon && p->daemon_line)
                lerror(p, p->line, "[daemon] given twice (first at line %u)", p->daemon_line);
        else {
                p->section = daemon ? SEC_DAEMON : SEC_INCLUDE;
                if (daemon)
                        p->daemon_line = p->line;
        }
}

/* [cluster] (issue 12): once, in the main file, in a build with etcd. */
static void section_cluster(struct parser *p) {
        if (!etcd_available())
                lerror(p, p->line, "[cluster] needs etcd support, but this evd was built without it (libcurl and json-c)");
        else if (p->included)
                lerror(p, p->line, "[cluster] is not allowed in an included file, only [job:NAME]");
        else if (p->cluster_line)
                lerror(p, p->line, "[cluster] given twice (first at line %u)", p->cluster_line);
        else if (!(p->config->cluster = arena_alloc(&p->config->arena, sizeof(struct cluster_config),
                                                    _Alignof(struct cluster_config))))
                config_oom(p);
        else {
                *p->config->cluster = (struct cluster_config){ 0 };
                p->section = SEC_CLUSTER;
                p->cluster_line = p->line;
        }
}

static void section_job(struct parser *p, const char *job) {
        char q[QBUF_SIZE];
        size_t n = strlen(job);
        const struct job_def *other;
        char *file;

        if (n == 0)
                lerror(p, p->line, "missing job name in [job:]");
        else if (n > JOB_NAME_MAX)
                lerror(p, p->line, "job name too long (%zu characters, at most %d)", n, JOB_NAME_MAX);
        else if (!job_name_valid(job, n, NULL))
                lerror(p, p->line, "invalid job name %s: use only letters, digits, \"_\", \".\" and \"-\"",
                       config_quote(q, job));
        else if ((other = job_table_find(p, job))) {
                file = config_escape(other->file);
                if (!file) {
                        config_oom(p);
                        return;
                }
                lerror(p, p->line, "job \"%s\" is already defined at %s:%u", job, file, other->line);
                free(file);
        } else {
                job_begin(p, job, false);
                return;
        }
        job_begin(p, job, true);
}

static void section_begin(struct parser *p, const char *name, size_t len) {
        char q[QBUF_SIZE];

        section_end(p);
        p->section_name = strndup(name, len);
        if (!p->section_name) {
                config_oom(p);
                return;
        }
        snprintf(p->section_display, sizeof p->section_display, "[%s]", p->section_name);
        p->section_line = p->line;
        p->section = SEC_IGNORED;

        if (streq(p->section_name, "daemon") || streq(p->section_name, "include"))
                section_main(p);
        else if (streq(p->section_name, "cluster"))
                section_cluster(p);
        else if (!startswith(p->section_name, "job:"))
                lerror(p, p->line, "unknown section [%s] (expected [daemon], [include] or [job:NAME])",
                       config_quote_marks(q, p->section_name, false));
        else
                section_job(p, p->section_name + 4);
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

void config_include_add(struct parser *p, const char *value) {
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
        struct include *n = pattern ? reallocarray(p->includes, p->n_includes + 1, sizeof(*n)) : NULL;
        char *file = n ? strdup(p->path) : NULL;
        if (n)
                p->includes = n;
        if (!file) {
                free(pattern);
                config_oom(p);
                return;
        }
        p->includes[p->n_includes++] = (struct include){ pattern, file, p->line, p->file_seq };
}

static int handler(void *user, const char *section_ignored UNUSED, const char *name, const char *value) {
        struct parser *p = user;
        char q[QBUF_SIZE];
        const char *sec = p->section_display;

        if (p->section == SEC_IGNORED || p->failure)
                return 1;
        if (p->section == SEC_NONE) {
                lerror(p, p->line, "key %s before any section", config_quote(q, name));
                return 1;
        }
        int k = config_key_find(p->section, name, strlen(name));
        if (k < 0) {
                lerror(p, p->line, "unknown key %s in %s", config_quote(q, name), sec);
                return 1;
        }
        if (p->seen[k] && !(config_keys[k].flags & KEY_REPEATABLE)) {
                lerror(p, p->line, "duplicate key \"%s\" in %s (first given at line %u)", name, sec, p->seen[k]);
                return 1;
        }
        if (!value || !*value)
                lerror(p, p->line, "empty value for %s= in %s", name, sec);
        else
                config_key_apply(p, (size_t)k, value);
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
        int k = config_key_find(p->section, s + i, j - i);
        if (k >= 0 && !p->seen[k])
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

void config_parse_text(struct parser *p, const char *path, unsigned file_seq, bool included, const char *data,
                       size_t size) {
        static pthread_once_t ini_once = PTHREAD_ONCE_INIT;
        size_t errors_before = p->n_errors;

        p->path = config_strdup(p, path);
        if (!p->path)
                return;
        p->file_seq = file_seq;
        p->included = included;
        p->data = data;
        p->size = size;
        p->pos = 0;
        p->line = 0;
        p->section = SEC_NONE;

        pthread_once(&ini_once, ini_setup);
        int r = ini_parse_stream(reader, p, handler, p);
        section_end(p);
        if (r == -2)
                config_oom(p);
        else if (r > 0 && p->n_errors == errors_before)
                lerror(p, (unsigned)r, "syntax error");
        p->path = NULL;
        p->data = NULL;
}

/* ---- the configuration ---------------------------------------------------- */

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        if (c->refcount == 0)
                abort(); /* unbalanced unref: a programming error */
        if (--c->refcount > 0)
                return NULL;
        for (size_t i = 0; i < c->n_schedules; i++)
                schedule_free(c->schedules[i]);
        free(c->defs);
        arena_done(&c->arena);
        free(c);
        return NULL;
}

static int error_cmp(const void *a, const void *b) {
        const struct error *x = a, *y = b;
        if (x->file_seq != y->file_seq)
                return x->file_seq < y->file_seq ? -1 : 1;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the errors to the caller (appending to *errors); r, or -ENOMEM. */
static int errors_done(struct parser *p, int r, char ***errors) {
        if (p->n_errors > 1)
                qsort(p->errors, p->n_errors, sizeof(*p->errors), error_cmp);
        for (size_t i = 0; i < p->n_errors; i++) {
                if (errors && r != -ENOMEM && strv_push(errors, p->errors[i].message) < 0)
                        r = -ENOMEM;
                free(p->errors[i].message);
        }
        free(p->errors);
        if (p->too_many && errors && r != -ENOMEM) {
                char *name = config_escape(p->config && p->config->path ? p->config->path : "?");
                char *m = name ? strdup_printf("%s: too many errors, only the first %d are shown", name, MAX_ERRORS)
                               : NULL;
                if (!m || strv_push(errors, m) < 0)
                        r = -ENOMEM;
                free(name);
                free(m);
        }
        return r;
}

/* Hands the errors over and frees the parser; returns r, or -ENOMEM. */
static int parser_done(struct parser *p, int r, char ***errors) {
        r = errors_done(p, r, errors);
        job_table_free(p);
        for (size_t i = 0; i < p->n_includes; i++) {
                free(p->includes[i].pattern);
                free(p->includes[i].file);
        }
        free(p->includes);
        free(p->files);
        free(p->section_name);
        strv_free(p->environment);
        free(p->cluster_once_job);
        arena_intern_free(p->intern);
        config_free(p->config);
        return r;
}

static int config_load_internal(const char *path, const char *text, struct config **ret, char ***errors) {
        struct parser p = { .check_permissions = text == NULL };

        p.config = calloc(1, sizeof(*p.config));
        if (!p.config)
                return -ENOMEM;
        *p.config = (struct config){
                .refcount = 1,
                .workers = 4,
                .shutdown_timeout = 30 * USEC_PER_SEC,
                .kill_grace = 5 * USEC_PER_SEC,
        };
        p.intern = arena_intern_new();
        if (!p.intern || !(p.config->path = config_strdup(&p, path)))
                return parser_done(&p, -ENOMEM, errors);

        if (text) {
                unsigned seq = p.n_file_seq++;
                config_parse_text(&p, path, seq, false, text, strlen(text));
        } else
                config_load_file(&p, path, false);
        if (!p.failure)
                config_load_includes(&p);
        if (!p.failure)
                config_cluster_finish(&p);

        if (p.failure)
                return parser_done(&p, p.failure, errors);
        if (p.n_errors > 0 || p.too_many)
                return parser_done(&p, -EINVAL, errors);
        if (job_table_finish(&p) < 0)
                return parser_done(&p, -ENOMEM, errors);
        *ret = p.config;
        p.config = NULL;
        return parser_done(&p, 0, NULL);
}

/* A large file leaves the parse's scratch (the definitions' table while it
 * grew, the intern and schedule tables, inih's lines) free in malloc's heap:
 * about 17 bytes a job, which glibc keeps mapped. malloc_trim() gives those
 * pages back (RSS is what an administrator sees), once per load; a load is
 * rare, and the trim took 0.3 ms after 100,000 jobs. */
int config_load(const char *path, struct config **ret, char ***errors) {
        int r = config_load_internal(path, NULL, ret, errors);
        malloc_trim(0);
        return r;
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
