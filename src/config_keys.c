/* config_keys.c - the keys of evd.conf: one table row per key (name,
 * sections, parser, offset, limits, flags), as systemd's conf-parser, and
 * the small parsers the rows share.
 *
 * Owns: config_keys[] and the parsers. A parser checks one value, reports
 * any error with the key's name and section ("PATH:LINE: ... for KEY= in
 * [SECTION]"), and stores the result at the row's offset into the
 * section's struct: struct config for [daemon], struct job_def for
 * [job:NAME]. A row's sections are a mask, so a key may be allowed in
 * several sections (a new section, e.g. [cluster], is a new SEC_ kind with
 * its struct in key_target()); a job's key with a [daemon] default puts
 * its [daemon] value in a struct job_def of defaults (see key_target()),
 * with the same offset and parser. Adding a key is one row here (and its
 * man page text and config_format() line).
 *
 * Thread: any thread, for its own struct parser. User and group lookups
 * use the reentrant getpwnam_r()/getgrnam_r() with buffers on the heap
 * (sized from sysconf, grown on ERANGE). */
#include "config_parser.h"

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/stat.h>

#include "mail.h"
#include "etcd.h"
#include "schedule.h"
#include "timespan.h"

/* ---- lookups --------------------------------------------------------------- */

/* getpwnam_r()/getgrnam_r() with a heap buffer: 0 and *ret, -ENOENT, or
 * -ENOMEM. buf is the caller's to free. */
static int lookup_user(const char *name, struct passwd *pw, char **buf, struct passwd **ret) {
        long n = sysconf(_SC_GETPW_R_SIZE_MAX);
        size_t size = n > 0 ? (size_t)n : 1024;
        for (;;) {
                char *b = realloc(*buf, size);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                int r = getpwnam_r(name, pw, b, size, ret);
                if (r == ERANGE && size < (1u << 20)) {
                        size *= 2;
                        continue;
                }
                if (r == ENOMEM)
                        return -ENOMEM;
                return r == 0 && *ret ? 0 : -ENOENT;
        }
}

static int lookup_group(const char *name, gid_t *ret) {
        long n = sysconf(_SC_GETGR_R_SIZE_MAX);
        size_t size = n > 0 ? (size_t)n : 1024;
        char *buf = NULL;
        for (;;) {
                char *b = realloc(buf, size);
                if (!b) {
                        free(buf);
                        return -ENOMEM;
                }
                buf = b;
                struct group gr, *g = NULL;
                int r = getgrnam_r(name, &gr, buf, size, &g);
                if (r == ERANGE && size < (1u << 20)) {
                        size *= 2;
                        continue;
                }
                if (r == 0 && g)
                        *ret = g->gr_gid;
                free(buf);
                if (r == ENOMEM)
                        return -ENOMEM;
                return r == 0 && g ? 0 : -ENOENT;
        }
}

/* ---- shared parsers -------------------------------------------------------- */

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

static int number(struct parser *p, const struct config_key *k, const char *value, long *ret) {
        char q[QBUF_SIZE];
        int r = parse_int(value, k->min, k->max, ret);
        if (r == -ERANGE)
                lerror(p, p->line, "invalid value %s for %s= in %s (must be %ld..%ld)", config_quote(q, value),
                       k->name, p->section_display, k->min, k->max);
        else if (r < 0)
                lerror(p, p->line, "invalid number %s for %s= in %s", config_quote(q, value), k->name,
                       p->section_display);
        return r;
}

static void parse_unsigned(struct parser *p, const struct config_key *k, const char *value, void *field) {
        long n;
        if (number(p, k, value, &n) >= 0)
                *(unsigned *)field = (unsigned)n;
}

static void parse_span(struct parser *p, const struct config_key *k, const char *value, void *field) {
        const char *sec = p->section_display;
        char q[QBUF_SIZE];
        usec_t u;
        int r = timespan_parse(value, &u);

        if (r == -ERANGE || (r == 0 && u != USEC_INFINITY && u > SPAN_MAX))
                lerror(p, p->line, "time span %s too long for %s= in %s (at most 100y)", config_quote(q, value),
                       k->name, sec);
        else if (r < 0)
                lerror(p, p->line, "invalid time span %s for %s= in %s", config_quote(q, value), k->name, sec);
        else if (u == USEC_INFINITY && !(k->flags & KEY_INFINITY))
                lerror(p, p->line, "invalid time span %s for %s= in %s (must be finite)", config_quote(q, value),
                       k->name, sec);
        else if (u == 0 && !(k->flags & KEY_ZERO))
                lerror(p, p->line, "invalid time span %s for %s= in %s (must be more than 0%s)",
                       config_quote(q, value), k->name, sec,
                       k->flags & KEY_INFINITY ? "; \"infinity\" means none" : "");
        else
                *(usec_t *)field = u;
}

static void parse_bool(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        int r = parse_boolean(value);
        if (r < 0)
                lerror(p, p->line, "invalid boolean %s for %s= in %s (yes or no)", config_quote(q, value), k->name,
                       p->section_display);
        else
                *(bool *)field = r > 0;
}

static void parse_string(struct parser *p, const struct config_key *k UNUSED, const char *value, void *field) {
        char *s = config_strdup(p, value);
        if (s)
                *(char **)field = s;
}

/* command=: stored once for a run of jobs with the same (job_command_dup). */
static void parse_command(struct parser *p, const struct config_key *k UNUSED, const char *value, void *field) {
        char *s = job_command_dup(p, value);
        if (s)
                *(char **)field = s;
}

static void parse_path(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        if (value[0] != '/')
                lerror(p, p->line, "invalid path %s for %s= in %s (must be absolute)", config_quote(q, value),
                       k->name, p->section_display);
        else
                parse_string(p, k, value, field);
}

/* An absolute path naming a file (not a directory: no trailing slash).
 * Whether its directory exists is not checked here: node_exporter's
 * textfile directory may appear later; a failing write is a warning of
 * the running evd (sched_metrics.c). */
static void parse_metrics_file(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        size_t n = strlen(value);
        if (value[0] == '/' && (value[n - 1] == '/' || (n >= 2 && streq(value + n - 2, "/.")) ||
                                (n >= 3 && streq(value + n - 3, "/.."))))
                lerror(p, p->line, "invalid path %s for %s= in %s (must name a file, not a directory)",
                       config_quote(q, value), k->name, p->section_display);
        else
                parse_path(p, k, value, field);
}

/* k->values names the enum's values (the stored int is the index). */
static void parse_enum(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE], list[256];
        size_t n = 0, at = 0;

        for (; k->values[n]; n++)
                if (streq(k->values[n], value)) {
                        *(int *)field = (int)n;
                        return;
                }
        list[0] = 0;
        for (size_t i = 0; i < n; i++)
                at += (size_t)snprintf(list + at, sizeof list - MIN(at, sizeof list), "%s%s",
                                       i == 0 ? "" : i + 1 == n ? " or " : ", ", k->values[i]);
        lerror(p, p->line, "invalid %s %s for %s= in %s (%s)", k->what, config_quote(q, value), k->name,
               p->section_display, list);
}

/* ---- parsers of one key ---------------------------------------------------- */

/* A group's name into field, its gid into *gid. */
static void group_key(struct parser *p, const struct config_key *k, const char *value, void *field, gid_t *gid) {
        char q[QBUF_SIZE];
        int r = lookup_group(value, gid);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                lerror(p, p->line, "unknown group %s for %s= in %s", config_quote(q, value), k->name,
                       p->section_display);
        else
                parse_string(p, k, value, field);
}

static void parse_control_group(struct parser *p, const struct config_key *k, const char *value, void *field) {
        group_key(p, k, value, field, &p->config->control_gid);
}

static void parse_files(struct parser *p, const struct config_key *k UNUSED, const char *value, void *field UNUSED) {
        config_include_add(p, value);
}

static void schedule_error(struct parser *p, const struct config_key *k, const char *value, const char *why) {
        /* The parser's message repeats the expression: keep only the reason. */
        char q[QBUF_SIZE], *prefix = strdup_printf("invalid %s expression \"%s\": ", k->name, value);
        const char *reason = why;
        if (prefix && why && startswith(why, prefix))
                reason = why + strlen(prefix);
        lerror(p, p->line, "invalid %s expression %s for %s= in %s%s%s", k->name, config_quote(q, value), k->name,
               p->section_display, reason ? ": " : "", reason ? reason : "");
        free(prefix);
}

/* every=, calendar= and cron=: exactly one of them. An expression given
 * again (same text, same syntax) is parsed once and shared. */
static void parse_schedule(struct parser *p, const struct config_key *k, const char *value, void *field UNUSED) {
        static const char *const names[] = { "every", "calendar", "cron" };
        struct job_def *d = p->job;
        char *why = NULL;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                unsigned line = config_key_seen(p, names[i]);
                if (line && !streq(names[i], k->name)) {
                        lerror(p, p->line,
                               "%s= and %s= (line %u) both given in %s: use exactly one of every=, calendar=, cron=",
                               k->name, names[i], line, p->section_display);
                        return;
                }
        }
        if (streq(k->name, "every")) {
                usec_t u = USEC_INFINITY;
                parse_span(p, k, value, &u);
                if (u != USEC_INFINITY) {
                        d->every = u;
                        d->schedule = SCHEDULE_EVERY;
                }
                return;
        }
        bool cron = streq(k->name, "cron");
        char *text = config_strdup(p, value);
        if (!text)
                return;
        struct schedule *spec = job_schedule_find(p, text, cron);
        if (!spec) {
                int r = schedule_parse(cron ? SCHEDULE_SYNTAX_CRON : SCHEDULE_SYNTAX_CALENDAR, value, &spec, &why);
                if (r == -ENOMEM) {
                        config_oom(p);
                        return;
                }
                if (r < 0) {
                        schedule_error(p, k, value, why);
                        free(why);
                        return;
                }
                if (job_schedule_add(p, text, cron, &spec) < 0) {
                        schedule_free(spec);
                        config_oom(p);
                        return;
                }
        }
        d->schedule_text = text;
        d->calendar = spec;
        d->schedule = cron ? SCHEDULE_CRON : SCHEDULE_CALENDAR;
}

static void parse_timezone(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        if (!schedule_timezone_valid(value))
                lerror(p, p->line, "unknown time zone %s for %s= in %s", config_quote(q, value), k->name,
                       p->section_display);
        else
                parse_string(p, k, value, field);
}

/* value looked up as a user for key k: 0 with *found (valid while *buf,
 * the caller's to free, lives), or < 0, reported. */
static int user_key(struct parser *p, const struct config_key *k, const char *value, struct passwd *pw,
                    char **buf, struct passwd **found) {
        char q[QBUF_SIZE];
        int r = lookup_user(value, pw, buf, found);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                lerror(p, p->line, "unknown user %s for %s= in %s", config_quote(q, value), k->name,
                       p->section_display);
        return r;
}

static void parse_user(struct parser *p, const struct config_key *k, const char *value, void *field) {
        struct job_extras *d = &p->extras;
        struct passwd pw, *found = NULL;
        char *buf = NULL;

        if (user_key(p, k, value, &pw, &buf, &found) >= 0) {
                d->uid = found->pw_uid;
                if (!d->group)
                        d->gid = found->pw_gid;
                d->home = config_strdup(p, found->pw_dir);
                d->shell_path = config_strdup(p, found->pw_shell);
                if (d->home && d->shell_path)
                        parse_string(p, k, value, field);
        }
        free(buf);
}

static void parse_group(struct parser *p, const struct config_key *k, const char *value, void *field) {
        group_key(p, k, value, field, &p->extras.gid);
}

static bool env_key_valid(const char *s, size_t n) {
        if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
                        return false;
        return true;
}

/* KEY=VALUE into the job's list: a later assignment of a key wins. */
static void env_assign(struct parser *p, const char *word) {
        size_t klen = (size_t)(strchr(word, '=') - word);
        for (char **e = p->environment; e && *e; e++)
                if (strncmp(*e, word, klen + 1) == 0) {
                        char *s = strdup(word);
                        if (!s) {
                                config_oom(p);
                                return;
                        }
                        free(*e);
                        *e = s;
                        return;
                }
        if (strv_push(&p->environment, word) < 0)
                config_oom(p);
}

/* The list is kept on the heap while the section is read (assignments
 * replace earlier ones) and packed into the arena at its end. */
static void parse_environment(struct parser *p, const struct config_key *k, const char *value, void *field UNUSED) {
        const char *sec = p->section_display, *err = NULL;
        char q[QBUF_SIZE], **words = NULL;
        int r = split_command(value, &words, &err);

        if (r == -ENOMEM) {
                config_oom(p);
                return;
        }
        if (r < 0) {
                lerror(p, p->line, "invalid %s= %s in %s: %s", k->name, config_quote(q, value), sec,
                       err ? err : "cannot split");
                return;
        }
        for (char **w = words; *w; w++) {
                const char *eq = strchr(*w, '=');
                /* Each assignment searches the list for its key: bounded,
                 * so a huge value cannot make a reload quadratic. Far more
                 * than any job needs. */
                if (strv_length(p->environment) >= CONFIG_ENVIRONMENT_MAX) {
                        lerror(p, p->line, "too many environment variables in %s (at most %u)", sec,
                               CONFIG_ENVIRONMENT_MAX);
                        break;
                }
                if (!eq || !env_key_valid(*w, (size_t)(eq - *w)))
                        lerror(p, p->line,
                               "invalid assignment %s for %s= in %s (expected KEY=VALUE, KEY of letters, digits "
                               "and \"_\")",
                               config_quote(q, *w), k->name, sec);
                else
                        env_assign(p, *w);
        }
        strv_free(words);
}

static void parse_nice(struct parser *p, const struct config_key *k, const char *value, void *field) {
        long n;
        if (number(p, k, value, &n) >= 0) {
                *(int *)field = (int)n;
                p->extras.nice_set = true;
        }
}

/* expect_success_within=: a finite span, more than 0, at most
 * CONFIG_EXPECT_SUCCESS_MAX. */
static void parse_expect_span(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        usec_t u = 0;
        parse_span(p, k, value, &u);
        if (u > CONFIG_EXPECT_SUCCESS_MAX)
                lerror(p, p->line, "time span %s too long for %s= in %s (at most 10y)", config_quote(q, value),
                       k->name, p->section_display);
        else if (u > 0)
                *(usec_t *)field = u;
}

/* [crontabs] system=: files or directories, split like command=. */
static void parse_crontab_system(struct parser *p, const struct config_key *k UNUSED, const char *value,
                                 void *field UNUSED) {
        config_crontabs_system(p, value);
}

/* ---- alert keys (struct job_alerts; see config.h) ------------------------- */

/* on_failure=, on_recovery=: split like command= (never through a shell,
 * whatever shell= says); empty: no hook (turns a [daemon] default off). */
static void parse_hook(struct parser *p, const struct config_key *k, const char *value, void *field) {
        struct alert_hook *h = field;
        const char *why = NULL;
        char q[QBUF_SIZE], **argv = NULL;

        if (!*value) {
                h->command = config_strdup(p, "");
                h->argv = NULL;
                return;
        }
        int r = split_command(value, &argv, &why);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0 || !argv[0])
                lerror(p, p->line, "invalid command %s for %s= in %s: %s", config_quote(q, value), k->name,
                       p->section_display, why ? why : "empty");
        else {
                h->argv = config_strv(p, argv, true);
                h->command = config_strdup(p, value);
        }
        strv_free(argv);
}

/* hook_user=: empty means the job's own user (turns a [daemon] default off). */
static void parse_hook_user(struct parser *p, const struct config_key *k, const char *value, void *field) {
        struct alert_user *u = field;
        struct passwd pw, *found = NULL;
        char *buf = NULL;

        if (!*value) {
                *u = (struct alert_user){ .name = config_strdup(p, "") };
                return;
        }
        if (user_key(p, k, value, &pw, &buf, &found) >= 0)
                *u = (struct alert_user){
                        .name = config_strdup(p, value), .home = config_strdup(p, found->pw_dir),
                        .shell_path = config_strdup(p, found->pw_shell), .uid = found->pw_uid, .gid = found->pw_gid,
                };
        free(buf);
}

/* mail_to=: a comma-separated list (mail_parse_addresses: no empty entry,
 * no control character); empty: no mail. The list follows the text in
 * struct job_alerts. */
static void parse_mail_to(struct parser *p, const struct config_key *k, const char *value, void *field) {
        struct job_alerts *a = (struct job_alerts *)((char *)field - offsetof(struct job_alerts, mail_to));
        char q[QBUF_SIZE], err[256], **list = NULL;

        if (!*value) {
                a->mail_to = config_strdup(p, "");
                a->mail_to_list = NULL;
                return;
        }
        int r = mail_parse_addresses(value, &list, err, sizeof err);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                lerror(p, p->line, "invalid address list %s for %s= in %s: %s", config_quote(q, value), k->name,
                       p->section_display, err);
        else {
                a->mail_to_list = config_strv(p, list, false);
                a->mail_to = config_strdup(p, value);
        }
        strv_free(list);
}

static void parse_mail_from(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE], err[256], **list = NULL;
        int r = mail_parse_addresses(value, &list, err, sizeof err);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0 || strv_length(list) != 1)
                lerror(p, p->line, "invalid address %s for %s= in %s: %s", config_quote(q, value), k->name,
                       p->section_display, r < 0 ? err : "one address");
        else
                parse_string(p, k, value, field);
        strv_free(list);
}

/* sendmail= in [daemon]: a command split like command=, called with
 * "-t -oi" appended. */
static void parse_sendmail(struct parser *p, const struct config_key *k, const char *value, void *field UNUSED) {
        struct alert_hook h = { 0 };
        char q[QBUF_SIZE];
        if (!*value) {
                lerror(p, p->line, "invalid command %s for %s= in %s: empty", config_quote(q, value), k->name,
                       p->section_display);
                return;
        }
        parse_hook(p, k, value, &h);
        if (h.argv) {
                p->config->sendmail = h.command;
                p->config->sendmail_argv = h.argv;
        }
}

/* ---- [cluster] and the cluster keys of a job (issue 12) -------------------- */

/* The section's struct, made when [cluster] begins (config.c). */
static struct cluster_config *cluster_target(struct parser *p) {
        return p->config->cluster;
}

static void parse_etcd(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char **urls = NULL, *why = NULL;
        int r = etcd_url_parse_list(value, &urls, &why);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                lerror(p, p->line, "invalid %s= in %s: %s", k->name, p->section_display, why ? why : "bad list");
        else {
                struct cluster_config *c = cluster_target(p);
                c->endpoints = config_strv(p, urls, false);
                parse_string(p, k, value, field);
        }
        strv_free(urls);
        free(why);
}

/* name= and node=: they are parts of etcd keys, so a job name's letters. */
static void parse_cluster_word(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        size_t n = strlen(value);
        if (n > JOB_NAME_MAX || !job_name_valid(value, n, NULL))
                lerror(p, p->line, "invalid %s %s for %s= in %s: use only letters, digits, \"_\", \".\" and \"-\"",
                       k->name, config_quote(q, value), k->name, p->section_display);
        else
                parse_string(p, k, value, field);
}

static void parse_lease(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE];
        usec_t u = 0;
        parse_span(p, k, value, &u);
        if (u == 0)
                return;
        if (u % USEC_PER_SEC != 0 || u < 2 * USEC_PER_SEC || u > USEC_PER_DAY)
                lerror(p, p->line, "invalid lease %s for %s= in %s (whole seconds, 2s..1d)", config_quote(q, value),
                       k->name, p->section_display);
        else
                *(usec_t *)field = u;
}

/* ca_file=, cert_file=, key_file=: absolute, and readable now (evd reads
 * them when it connects; an error at load names the line). */
static void parse_tls_file(struct parser *p, const struct config_key *k, const char *value, void *field) {
        char q[QBUF_SIZE], e[128];
        if (value[0] != '/') {
                parse_path(p, k, value, field);
                return;
        }
        /* O_NONBLOCK: a FIFO planted there must not hang the parse. */
        int fd = open(value, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                lerror(p, p->line, "cannot read %s for %s= in %s: %s", config_quote(q, value), k->name,
                       p->section_display, config_errstr(errno, e));
                if (fd >= 0)
                        close(fd);
                return;
        }
        close(fd);
        if (!S_ISREG(st.st_mode))
                lerror(p, p->line, "cannot read %s for %s= in %s: not a regular file", config_quote(q, value),
                       k->name, p->section_display);
        else
                parse_string(p, k, value, field);
}

static const char *const cluster_names[] = { "local", "once", NULL };
static const char *const unreachable_names[] = { "skip", "run", NULL };

static void parse_cluster_mode(struct parser *p, const struct config_key *k, const char *value, void *field) {
        int mode = -1;
        parse_enum(p, k, value, &mode);
        if (mode == CLUSTER_ONCE && !etcd_available())
                lerror(p, p->line, "cluster = once in %s needs etcd support, but this evd was built without it "
                       "(libcurl and json-c)", p->section_display);
        else if (mode >= 0)
                *(int *)field = mode;
}

/* ---- the table ------------------------------------------------------------- */

static const char *const overlap_names[] = { "skip", "queue", "parallel", "replace", NULL };
static const char *const alert_mode_names[] = { "change", "every", NULL };
static const char *const mail_on_names[] = { "failure", "output", "always", NULL };

#define CLUSTER SEC_BIT(SEC_CLUSTER)
#define K(f) offsetof(struct cluster_config, f)
#define DAEMON SEC_BIT(SEC_DAEMON)
#define INCLUDE SEC_BIT(SEC_INCLUDE)
#define JOB SEC_BIT(SEC_JOB)
#define C(f) offsetof(struct config, f)
#define J(f) offsetof(struct job_def, f)
#define X(f) offsetof(struct job_extras, f)
#define CRONTABS SEC_BIT(SEC_CRONTABS)
#define T(f) offsetof(struct config_crontabs, f)
#define AL(f) offsetof(struct job_alerts, f)

const struct config_key config_keys[] = {
        { "workers", DAEMON, parse_unsigned, C(workers), 1, 1024, 0, NULL, NULL },
        { "shutdown_timeout", DAEMON, parse_span, C(shutdown_timeout), 0, 0, KEY_ZERO | KEY_INFINITY, NULL, NULL },
        { "kill_grace", DAEMON, parse_span, C(kill_grace), 0, 0, KEY_ZERO, NULL, NULL },
        { "state_directory", DAEMON, parse_path, C(state_directory), 0, 0, 0, NULL, NULL },
        { "control_group", DAEMON, parse_control_group, C(control_group), 0, 0, 0, NULL, NULL },
        { "files", INCLUDE, parse_files, 0, 0, 0, KEY_REPEATABLE, NULL, NULL },
        { "command", JOB, parse_command, J(command), 0, 0, 0, NULL, NULL },
        { "shell", JOB, parse_bool, J(shell), 0, 0, 0, NULL, NULL },
        { "every", JOB, parse_schedule, 0, 0, 0, 0, NULL, NULL },
        { "calendar", JOB, parse_schedule, 0, 0, 0, 0, NULL, NULL },
        { "cron", JOB, parse_schedule, 0, 0, 0, 0, NULL, NULL },
        { "timezone", JOB, parse_timezone, X(timezone), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "jitter", JOB, parse_span, J(jitter), 0, 0, KEY_ZERO, NULL, NULL },
        { "persistent", JOB, parse_bool, J(persistent), 0, 0, 0, NULL, NULL },
        { "timeout", JOB, parse_span, J(timeout), 0, 0, KEY_INFINITY, NULL, NULL },
        { "overlap", JOB, parse_enum, J(overlap), 0, 0, 0, "overlap policy", overlap_names },
        { "retries", JOB, parse_unsigned, J(retries), 0, 1000, 0, NULL, NULL },
        { "retry_delay", JOB, parse_span, J(retry_delay), 0, 0, 0, NULL, NULL },
        { "user", JOB, parse_user, X(user), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "group", JOB, parse_group, X(group), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "working_directory", JOB, parse_path, X(working_directory), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "environment", JOB, parse_environment, 0, 0, 0, KEY_REPEATABLE, NULL, NULL },
        { "nice", JOB, parse_nice, X(nice), -20, 19, KEY_EXTRAS, NULL, NULL },
        { "limit_nofile", JOB, parse_unsigned, X(limit_nofile), 1, CONFIG_LIMIT_NOFILE_MAX, KEY_EXTRAS, NULL, NULL },
        { "enabled", JOB, parse_bool, J(enabled), 0, 0, 0, NULL, NULL },
        { "expect_success_within", JOB, parse_expect_span, X(expect_success_within), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "system", CRONTABS, parse_crontab_system, 0, 0, 0, KEY_REPEATABLE, NULL, NULL },
        { "users", CRONTABS, parse_path, T(users), 0, 0, 0, NULL, NULL },
        { "timeout", CRONTABS, parse_span, J(timeout), 0, 0, KEY_ZERO | KEY_INFINITY | KEY_CRONTAB_JOB, NULL, NULL },
        { "overlap", CRONTABS, parse_enum, J(overlap), 0, 0, KEY_CRONTAB_JOB, "overlap policy", overlap_names },
        { "jitter", CRONTABS, parse_span, J(jitter), 0, 0, KEY_ZERO | KEY_CRONTAB_JOB, NULL, NULL },
        { "retries", CRONTABS, parse_unsigned, J(retries), 0, 1000, KEY_CRONTAB_JOB, NULL, NULL },
        { "retry_delay", CRONTABS, parse_span, J(retry_delay), 0, 0, KEY_CRONTAB_JOB, NULL, NULL },
        { "on_failure", DAEMON | JOB, parse_hook, AL(on_failure), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "on_recovery", DAEMON | JOB, parse_hook, AL(on_recovery), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "alert", DAEMON | JOB, parse_enum, AL(alert), 0, 0, KEY_ALERTS, "alert mode", alert_mode_names },
        { "hook_user", DAEMON | JOB, parse_hook_user, AL(hook_user), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "mail_to", DAEMON | JOB, parse_mail_to, AL(mail_to), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "mail_on", DAEMON | JOB, parse_enum, AL(mail_on), 0, 0, KEY_ALERTS, "mail_on value", mail_on_names },
        { "mail_from", DAEMON | JOB, parse_mail_from, AL(mail_from), 0, 0, KEY_ALERTS, NULL, NULL },
        { "sendmail", DAEMON, parse_sendmail, 0, 0, 0, 0, NULL, NULL },
        { "metrics_file", DAEMON, parse_metrics_file, C(metrics_file), 0, 0, 0, NULL, NULL },
        { "etcd", CLUSTER, parse_etcd, K(etcd), 0, 0, 0, NULL, NULL },
        { "name", CLUSTER, parse_cluster_word, K(name), 0, 0, 0, NULL, NULL },
        { "node", CLUSTER, parse_cluster_word, K(node), 0, 0, 0, NULL, NULL },
        { "lease", CLUSTER, parse_lease, K(lease), 0, 0, 0, NULL, NULL },
        { "ca_file", CLUSTER, parse_tls_file, K(ca_file), 0, 0, 0, NULL, NULL },
        { "cert_file", CLUSTER, parse_tls_file, K(cert_file), 0, 0, 0, NULL, NULL },
        { "key_file", CLUSTER, parse_tls_file, K(key_file), 0, 0, 0, NULL, NULL },
        { "cluster", JOB, parse_cluster_mode, X(cluster), 0, 0, KEY_EXTRAS, "cluster mode", cluster_names },
        { "cluster_unreachable", JOB, parse_enum, X(cluster_unreachable), 0, 0, KEY_EXTRAS, "value", unreachable_names },
        { "cluster_history", JOB, parse_span, X(cluster_history), 0, 0, KEY_EXTRAS, NULL, NULL },
        { "on_failure", CRONTABS, parse_hook, AL(on_failure), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "on_recovery", CRONTABS, parse_hook, AL(on_recovery), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "alert", CRONTABS, parse_enum, AL(alert), 0, 0, KEY_ALERTS, "alert mode", alert_mode_names },
        { "hook_user", CRONTABS, parse_hook_user, AL(hook_user), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "mail_to", CRONTABS, parse_mail_to, AL(mail_to), 0, 0, KEY_ALERTS | KEY_EMPTY, NULL, NULL },
        { "mail_on", CRONTABS, parse_enum, AL(mail_on), 0, 0, KEY_ALERTS, "mail_on value", mail_on_names },
        { "mail_from", CRONTABS, parse_mail_from, AL(mail_from), 0, 0, KEY_ALERTS, NULL, NULL },
};
const size_t config_n_keys = ELEMENTSOF(config_keys);
_Static_assert(ELEMENTSOF(config_keys) <= CONFIG_KEYS_MAX, "parser.seen[] is too small");
_Static_assert(sizeof(enum overlap_policy) == sizeof(int), "overlap is stored as an int");
_Static_assert(sizeof(enum alert_mode) == sizeof(int) && sizeof(enum mail_on) == sizeof(int),
               "alert= and mail_on= are stored as ints");

int config_key_find(enum section_kind s, const char *name, size_t len) {
        for (size_t i = 0; i < config_n_keys; i++)
                if ((config_keys[i].sections & SEC_BIT(s)) && strlen(config_keys[i].name) == len &&
                    memcmp(config_keys[i].name, name, len) == 0)
                        return (int)i;
        return -1;
}

unsigned config_key_seen(const struct parser *p, const char *name) {
        int i = config_key_find(p->section, name, strlen(name));
        return i < 0 ? 0 : p->seen[i];
}

/* [daemon]'s block of alert keys, made on its first one (NULL: out of memory). */
static struct job_alerts *daemon_alerts(struct parser *p) {
        struct config *c = p->config;
        if (!c->alert_defaults) {
                c->alert_defaults = arena_alloc(&c->arena, sizeof(struct job_alerts), _Alignof(struct job_alerts));
                if (!c->alert_defaults) {
                        config_oom(p);
                        return NULL;
                }
                *c->alert_defaults = (struct job_alerts){ .alert = -1, .mail_on = -1 };
        }
        return c->alert_defaults;
}

/* The struct a row's offset is into, for the section being read. */
static void *key_target(struct parser *p, const struct config_key *k) {
        if (k->flags & KEY_ALERTS) {
                /* The alert keys: [daemon]'s defaults or the job's own block. */
                if (p->section == SEC_JOB) {
                        p->alerts_given = true;
                        return &p->alerts;
                }
                if (p->section == SEC_CRONTABS && p->config->crontabs) {
                        p->config->crontabs->alerts_given = true;
                        return &p->config->crontabs->alerts;
                }
                return p->section == SEC_DAEMON ? daemon_alerts(p) : NULL;
        }
        switch (p->section) {
        case SEC_DAEMON:
                /* The first key allowed in both [daemon] and [job:NAME] (a
                 * default for every job, e.g. on_failure=) adds a struct
                 * job_def of defaults to struct config, returned here when
                 * k->sections has SEC_JOB too, and copied in
                 * job_table_finish() into the jobs that did not set it. */
                return p->config;
        case SEC_JOB:
                return k->flags & KEY_EXTRAS ? (void *)&p->extras : (void *)p->job;
        case SEC_CLUSTER:
                return p->config->cluster;
        case SEC_CRONTABS:
                if (!p->config->crontabs)
                        return NULL; /* out of memory at the section's start */
                return k->flags & KEY_CRONTAB_JOB ? (void *)&p->config->crontabs->defaults
                                                  : (void *)p->config->crontabs;
        default:
                return NULL; /* [include]: files= keeps its own list */
        }
}

void config_key_apply(struct parser *p, size_t i, const char *value) {
        const struct config_key *k = &config_keys[i];
        char *base = key_target(p, k);
        if (!base && (k->flags & KEY_ALERTS))
                return; /* out of memory, noted */
        k->parse(p, k, value, base ? base + k->offset : NULL);
}
