/* config_crontab.c - [crontabs]: the machine's crontabs read into job
 * definitions of the configuration, next to evd.conf's jobs.
 *
 * Owns: struct config_crontabs (the section's keys, what was read) and the
 * mapping of a crontab entry (crontab.h) to a struct job_def:
 * - name: the reader's stable name (BASE-xxxxxxxx); file/line: the
 *   crontab's; a name evd.conf already has refuses the entry (a warning).
 * - argv: SHELL -c COMMAND, SHELL the crontab's (default /bin/sh). With a
 *   "%" standard input: /bin/sh -c 'printf %s "$2" | exec "$0" -c "$1"'
 *   SHELL COMMAND INPUT: the bytes reach the command's stdin unchanged
 *   (they are one argument, never parsed by a shell), and the pipeline's
 *   status is the command's. evd has no stdin key; this is the one place
 *   that needs one.
 * - user: the sixth field (system format) or the table's owner, with uid,
 *   gid, home and login shell from passwd; the run's working directory is
 *   the home, as cron's.
 * - environment: crontab_entry_environment() (SHELL=/bin/sh and
 *   PATH=/usr/bin:/bin unless set, HOME from passwd, the VAR= lines in
 *   effect, LOGNAME); spawn adds EVD_JOB/EVD_RUN and USER (cron sets no
 *   USER).
 * - MAILTO=ADDRESSES: the run's output is mailed there, as cron does
 *   (mail_to= ADDRESSES, mail_on = output unless [crontabs] sets
 *   mail_on=), through the alert module's mail; MAILTO="" turns mail off
 *   (also a mail_to= of [daemon] or [crontabs]). Without MAILTO cron mails
 *   the table's owner; evd mails only as [crontabs]' (or [daemon]'s)
 *   mail_to= and mail_on= say: a machine that never set up mail gets no
 *   mail to root it never reads, and the output is in the journal anyway.
 *   An invalid MAILTO is a warning; the entry loads, unmailed.
 * - on_failure, on_recovery, alert, hook_user, mail_to, mail_on,
 *   mail_from of [crontabs]: the alert keys of every entry (one shared
 *   block), laid over [daemon]'s as a job's own keys are.
 * - CRON_TZ: the job's time zone; @reboot: once per evd start
 *   (sched_arm.c), so an @reboot line added while evd runs first runs at
 *   the next start.
 * - timeout, overlap, jitter, retries, retry_delay: [crontabs]' values.
 *   Defaults are cron's behaviour: no timeout, overlap = parallel.
 *   timeout = 0 means none (the form the SPEC's example uses).
 * Rejected lines and refused files are warnings ("FILE:LINE: reason"),
 * never errors of the configuration: the rest of the table, the other
 * tables and evd.conf still load, as cron skips what it cannot read.
 *
 * Files: system= names files or directories; in a directory only names of
 * letters, digits, "_" and "-" are read (run-parts' rule, as Debian's
 * cron). users= is a directory of tables named after their users (names
 * starting with "." or "tmp." are skipped: crontab(1)'s temporary files).
 * The file rules are crontab_load_text()'s (owner, mode, links, size).
 * cron.allow and cron.deny are not consulted: Debian's cron daemon runs
 * every table in its spool, those files only govern crontab(1)
 * (tests/crontab/test_cron_diff.py).
 *
 * A table that still exists but cannot be read now (wrong owner or mode,
 * too large, unreadable) leaves the version the running configuration
 * (parser->base) read: its text is kept in the configuration and parsed
 * again, with a warning. A table that is gone (or whose user is) is
 * dropped.
 *
 * Thread: the loading thread, for its own parser; base is only read. */
#include "config_parser.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "crontab.h"
#include "mail.h"
#include "schedule.h"

/* The "%" stdin feeder (see the top of the file): $0 SHELL, $1 COMMAND, $2 INPUT. */
#define FEED_SCRIPT "printf %s \"$2\" | exec \"$0\" -c \"$1\""

struct loader {
        struct parser *p;
        struct config_crontabs *c;
        const struct config_crontabs *base; /* NULL: none */
        size_t hint;                        /* where the next base file likely is */
        const char *mailto;                 /* the table's last MAILTO looked at (entries under it share it) */
        const struct job_alerts *alerts;    /* its block */
};

void config_crontabs_begin(struct parser *p) {
        struct config_crontabs *c = calloc(1, sizeof(*c));
        if (!c) {
                config_oom(p);
                return;
        }
        c->defaults = (struct job_def){
                .timeout = USEC_INFINITY,
                .overlap = OVERLAP_PARALLEL,
                .retry_delay = 30 * USEC_PER_SEC,
                .enabled = true,
        };
        c->alerts = (struct job_alerts){ .alert = -1, .mail_on = -1 };
        p->config->crontabs = c;
}

void config_crontabs_system(struct parser *p, const char *value) {
        struct config_crontabs *c = p->config->crontabs;
        const char *why = NULL;
        char q[QBUF_SIZE], **words = NULL;
        int r = split_command(value, &words, &why);
        if (r == -ENOMEM) {
                config_oom(p);
                return;
        }
        if (r < 0) {
                lerror(p, p->line, "invalid system= %s in [crontabs]: %s", config_quote(q, value),
                       why ? why : "cannot split");
                return;
        }
        for (char **w = words; *w; w++)
                if ((*w)[0] != '/')
                        lerror(p, p->line, "invalid path %s for system= in [crontabs] (must be absolute)",
                               config_quote(q, *w));
                else if (strv_push(&c->system, *w) < 0)
                        config_oom(p);
        strv_free(words);
}

void config_crontabs_free(struct config_crontabs *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_files; i++) {
                free(c->files[i].path);
                free(c->files[i].user);
                free(c->files[i].text);
        }
        free(c->files);
        strv_free(c->system);
        strv_free(c->warnings);
        strv_free(c->news);
        free(c);
}

/* A warning; also in news unless it is about a table unchanged since
 * base (a reload then does not log it again). */
static void warn_at(struct loader *l, bool fresh, const char *fmt, ...) _printf_(3, 4);
static void warn_at(struct loader *l, bool fresh, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m || strv_push(&l->c->warnings, m) < 0 || (fresh && strv_push(&l->c->news, m) < 0))
                config_oom(l->p);
        free(m);
}
#define warn(l, ...) warn_at((l), true, __VA_ARGS__)

/* base's table of that path: usually the next one after the last found,
 * as both loads read in the same order. */
static const struct config_crontab_file *base_find(struct loader *l, const char *path) {
        size_t n = l->base ? l->base->n_files : 0;
        for (size_t k = 0; k < n; k++) {
                size_t i = (l->hint + k) % n;
                if (streq(l->base->files[i].path, path)) {
                        l->hint = i + 1;
                        return &l->base->files[i];
                }
        }
        return NULL;
}

/* uid, gid, home and login shell of user into p->extras. 0 or -errno. */
static int extras_user(struct parser *p, const char *user) {
        struct passwd pw, *found = NULL;
        char buf[16384];
        int e = getpwnam_r(user, &pw, buf, sizeof buf, &found);
        if (e != 0 || !found)
                return e ? -e : -ENOENT;
        p->extras.uid = found->pw_uid;
        p->extras.gid = found->pw_gid;
        p->extras.user = config_strdup(p, user);
        p->extras.home = config_strdup(p, found->pw_dir ? found->pw_dir : "/");
        p->extras.shell_path = config_strdup(p, found->pw_shell ? found->pw_shell : "");
        return 0;
}

static char **entry_argv(struct parser *p, const struct crontab_entry *e, char *command) {
        size_t n = e->input ? 7 : 4;
        char **v = arena_alloc(&p->config->arena, n * sizeof(*v), _Alignof(char *));
        if (!v) {
                config_oom(p);
                return NULL;
        }
        if (e->input) {
                v[0] = config_strdup(p, "/bin/sh");
                v[1] = config_strdup(p, "-c");
                v[2] = config_strdup(p, FEED_SCRIPT);
                v[3] = config_strdup(p, e->shell);
                v[4] = command;
                v[5] = config_strdup_unique(p, e->input);
                v[6] = NULL;
        } else {
                v[0] = config_strdup(p, e->shell);
                v[1] = config_strdup(p, "-c");
                v[2] = command;
                v[3] = NULL;
        }
        for (size_t i = 0; i + 1 < n; i++)
                if (!v[i])
                        return NULL;
        return v;
}

static struct schedule *entry_schedule(struct parser *p, const struct crontab_entry *e, char **ret_text) {
        char *text = config_strdup(p, e->schedule);
        if (!text)
                return NULL;
        struct schedule *s = job_schedule_find(p, text, true);
        if (!s) {
                char *why = NULL;
                if (schedule_parse(SCHEDULE_SYNTAX_CRON, e->schedule, &s, &why) < 0) {
                        free(why);
                        config_oom(p); /* the reader parsed it already: only memory can fail */
                        return NULL;
                }
                if (job_schedule_add(p, text, true, &s) < 0) {
                        schedule_free(s);
                        config_oom(p);
                        return NULL;
                }
        }
        *ret_text = text;
        return s;
}

/* The entry's alert keys: [crontabs]' with MAILTO laid over them (see
 * the top of the file); NULL when neither sets any. Entries under one
 * MAILTO share a block. */
static const struct job_alerts *entry_alerts(struct loader *l, const char *file, const struct crontab_entry *e,
                                             bool changed) {
        struct parser *p = l->p;
        const struct config_crontabs *c = l->c;
        if (!e->mailto)
                return c->alerts_given ? &c->alerts : NULL;
        if (l->mailto && streq(l->mailto, e->mailto))
                return l->alerts;
        l->mailto = e->mailto;
        l->alerts = c->alerts_given ? &c->alerts : NULL; /* also when MAILTO is invalid: one warning */
        struct job_alerts a = c->alerts;
        if (!*e->mailto) {
                a.mail_to = config_strdup(p, "");
                a.mail_to_list = NULL;
        } else {
                char err[256], **list = NULL;
                int r = mail_parse_addresses(e->mailto, &list, err, sizeof err);
                if (r == -ENOMEM) {
                        config_oom(p);
                        return NULL;
                }
                if (r < 0) {
                        warn_at(l, changed, "%s:%u: MAILTO=%s: %s; the output of the entries under it is not mailed",
                                file, e->line, e->mailto, err);
                        return l->alerts;
                }
                a.mail_to = config_strdup(p, e->mailto);
                a.mail_to_list = config_strv(p, list, false);
                strv_free(list);
                if (a.mail_on < 0)
                        a.mail_on = MAIL_ON_OUTPUT;
        }
        struct job_alerts *x = arena_alloc(&p->config->arena, sizeof(*x), _Alignof(struct job_alerts));
        if (!x || !a.mail_to) {
                config_oom(p);
                return NULL;
        }
        *x = a;
        l->alerts = x;
        return x;
}

/* One entry as a job definition. */
static void add_entry(struct loader *l, const char *file, const struct crontab_entry *e, bool changed) {
        struct parser *p = l->p;
        const struct job_def *other = job_table_find(p, e->name);
        if (other) {
                warn_at(l, changed, "%s:%u: entry not loaded: the job name \"%s\" is taken by %s:%u", file, e->line,
                        e->name, other->file, other->line);
                return;
        }
        p->extras = (struct job_extras){ .crontab = true };
        int r = extras_user(p, e->user);
        if (r < 0) {
                warn(l, "%s:%u: entry not loaded: cannot look up user \"%s\": %s", file, e->line, e->user,
                     strerror(-r));
                return;
        }
        struct job_extras x = p->extras;
        job_begin(p, e->name, false); /* resets p->extras */
        struct job_def *d = p->job;
        if (p->failure || !d)
                return;
        const struct job_def *t = &l->c->defaults;
        d->file = config_strdup(p, file);
        d->line = e->line;
        d->command = config_strdup_unique(p, e->command);
        d->timeout = t->timeout == 0 ? USEC_INFINITY : t->timeout;
        d->overlap = t->overlap;
        d->jitter = t->jitter;
        d->retries = t->retries;
        d->retry_delay = t->retry_delay;
        d->calendar = entry_schedule(p, e, &d->schedule_text);
        d->schedule = SCHEDULE_CRON;
        if (d->command)
                d->argv = entry_argv(p, e, d->command);
        x.timezone = e->timezone ? config_strdup(p, e->timezone) : NULL;
        x.alerts = entry_alerts(l, file, e, changed);
        p->extras = x;
        if (crontab_entry_environment(e, &p->environment) < 0)
                config_oom(p);
        job_extras_finish(p, d);
        p->environment = strv_free(p->environment);
        p->job = NULL;
        p->section = SEC_NONE;
        l->c->n_jobs++;
}

/* Parses a table's text and adds its entries; takes text. */
static void add_table(struct loader *l, const char *path, const char *user, char *text, size_t size, bool changed) {
        const struct crontab_options o = {
                .format = user ? CRONTAB_USER : CRONTAB_SYSTEM,
                .user = user,
                .lookup = crontab_lookup_passwd,
        };
        struct config_crontabs *c = l->c;
        _cleanup_(crontab_freep) struct crontab *ct = NULL;
        l->mailto = NULL; /* the last table's, freed with it */
        l->alerts = NULL;
        int r = crontab_parse(path, text, size, &o, &ct);
        struct config_crontab_file *f = r >= 0 ? reallocarray(c->files, c->n_files + 1, sizeof(*f)) : NULL;
        if (f)
                c->files = f;
        if (!f) {
                free(text);
                if (r == -ENOMEM || r >= 0)
                        config_oom(l->p);
                else
                        warn(l, "%s: %s", path, strerror(-r));
                return;
        }
        f = &c->files[c->n_files++];
        *f = (struct config_crontab_file){ .path = strdup(path), .user = user ? strdup(user) : NULL, .text = text,
                                           .size = size, .changed = changed };
        if (!f->path || (user && !f->user))
                config_oom(l->p);
        for (char **m = ct->errors; m && *m; m++)
                warn_at(l, changed, "%s", *m);
        if (ct->n_errors > CRONTAB_ERRORS_MAX)
                warn_at(l, changed, "%s: %zu more lines refused", path, ct->n_errors - CRONTAB_ERRORS_MAX);
        for (size_t i = 0; i < ct->n_entries && !l->p->failure; i++)
                add_entry(l, path, &ct->entries[i], changed);
}

/* A copy of base's version of the table at path, re-added (the table
 * cannot be read now); false when base has none. */
static bool keep_previous(struct loader *l, const struct config_crontab_file *prev) {
        if (!prev)
                return false;
        char *text = malloc(MAX(prev->size, 1));
        if (!text) {
                config_oom(l->p);
                return true;
        }
        memcpy(text, prev->text, prev->size);
        add_table(l, prev->path, prev->user, text, prev->size, false);
        return true;
}

/* One table: dirfd/name, shown as path. */
static void load_table(struct loader *l, int dirfd, const char *name, const char *path, const char *user,
                       bool listed) {
        const struct crontab_options o = {
                .format = user ? CRONTAB_USER : CRONTAB_SYSTEM,
                .user = user,
                .lookup = crontab_lookup_passwd,
        };
        char *text = NULL, *reason = NULL;
        size_t size = 0;
        const struct config_crontab_file *prev = base_find(l, path);
        int r = crontab_load_text(dirfd, name, path, &o, &text, &size, &reason);
        if (r == -ENOMEM)
                config_oom(l->p);
        else if (r == -ENOENT && !listed && !user)
                ; /* gone from its directory while it was read: removed */
        else if (r < 0) {
                bool kept = r != -ENOENT && keep_previous(l, prev);
                warn(l, "%s%s", reason ? reason : path,
                     kept ? "; its previous version keeps running" : r == -ENOENT ? "" : "; not loaded");
        } else {
                bool changed = !prev || prev->size != size || memcmp(prev->text, text, size) != 0 ||
                               !streq_ptr(prev->user, user);
                add_table(l, path, user, text, size, changed);
        }
        free(reason);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* base's tables in directory dir, re-added (dir cannot be read now). */
static void keep_previous_dir(struct loader *l, const char *dir) {
        size_t n = strlen(dir);
        for (size_t i = 0; l->base && i < l->base->n_files; i++) {
                const char *path = l->base->files[i].path;
                if (strncmp(path, dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/'))
                        keep_previous(l, &l->base->files[i]);
        }
}

static bool dir_name_read(const char *name, bool users) {
        if (users)
                return name[0] != '.' && !startswith(name, "tmp.");
        return crontab_dir_name_valid(name);
}

/* Every table in a directory, in name order. */
static void load_dir(struct loader *l, int dfd, const char *dir, bool users) {
        DIR *d = fdopendir(dfd);
        char **names = NULL;
        if (!d) {
                close(dfd);
                config_oom(l->p);
                return;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (dir_name_read(de->d_name, users) && strv_push(&names, de->d_name) < 0) {
                        config_oom(l->p);
                        break;
                }
        size_t n = strv_length(names);
        if (n > 1)
                qsort(names, n, sizeof(*names), strcmp_ptr);
        for (size_t i = 0; i < n && !l->p->failure; i++) {
                char *path = strdup_printf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
                if (!path) {
                        config_oom(l->p);
                        break;
                }
                load_table(l, dirfd(d), names[i], path, users ? names[i] : NULL, false);
                free(path);
        }
        strv_free(names);
        closedir(d);
}

/* A system= path (file or directory) or the users= directory. */
static void load_path(struct loader *l, const char *path, bool users) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NONBLOCK);
        if (fd >= 0) {
                load_dir(l, fd, path, users);
                return;
        }
        int e = errno;
        if (e == ENOTDIR && !users) {
                load_table(l, AT_FDCWD, path, path, NULL, true);
                return;
        }
        if (e == ENOENT) {
                warn(l, "%s: not found (read when it appears)", path);
                return;
        }
        if (!keep_previous(l, base_find(l, path)))
                keep_previous_dir(l, path);
        warn(l, "%s: cannot read the directory: %s%s", path, strerror(e),
             l->base ? "; its tables as read before keep running" : "");
}

void config_load_crontabs(struct parser *p) {
        struct loader l = { .p = p, .c = p->config->crontabs, .base = p->base ? p->base->crontabs : NULL };
        for (char **s = l.c->system; s && *s && !p->failure; s++)
                load_path(&l, *s, false);
        if (l.c->users && !p->failure)
                load_path(&l, l.c->users, true);
}
