/* crontab.c - the crontab reader (crontab.h): Debian cron's crontab(5)
 * text in, entries out. Pure: no descriptors; users only through the
 * caller's lookup callback.
 *
 * Rules (from Debian's cron(8) and crontab(5)):
 * - Blank lines, and lines whose first non-blank character is "#", are
 *   ignored. A comment after an entry is part of the command.
 * - "name = value" (blanks around "=" optional; the name may be quoted or
 *   empty) sets the environment of the lines below. A value in single or
 *   double quotes keeps its leading blanks but not its trailing ones, and
 *   must end with its quote: "x" y, "x and 'x" make the line no assignment
 *   (so an entry, and an error). That is what Debian's cron does
 *   (tests/crontab/test_cron_diff.py), though crontab(5) says quotes keep
 *   trailing blanks too. SHELL, MAILTO and CRON_TZ are also kept as
 *   fields. A line that does not parse as an assignment is an entry.
 * - CRON_TZ is the zone of the entries below it, as issue 11 asks (and
 *   cronie does); Debian's cron ignores it for scheduling
 *   (test_cron_diff.py shows it).
 * - An entry is five time fields, or one of the macros, then (system
 *   format) the user, then the command: the rest of the line. The time
 *   fields are checked by schedule_parse(SCHEDULE_SYNTAX_CRON).
 * - In the command, "\%" is a literal "%"; the first unescaped "%" ends
 *   the command and the rest is its standard input, each further unescaped
 *   "%" a newline; cron ends that input with a newline when it lacks one.
 * - A last line without a newline is refused (cron does not run it), and so
 *   are lines with NUL bytes or longer than CRONTAB_LINE_MAX, and commands
 *   (the text after the user field, "%" input included) of more than
 *   CRONTAB_COMMAND_MAX bytes, as cron refuses them. Only spaces and tabs
 *   are blanks: a "\r" (a file with DOS line ends) is not, so "\r\n"
 *   lines are errors, as in cron.
 *
 * Invariants: work is linear in the text (plus one sort of the names);
 * the distinct VAR= names in effect are bounded by ASSIGNMENTS_MAX, so an
 * assignment's search for its name is bounded too; entries share one
 * snapshot of the assignments per run of entries between VAR= lines.
 *
 * Threads: any. */
#include "crontab.h"

#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>

#define ASSIGNMENTS_MAX 256
#define NAME_BASE_MAX 64

static const char *const macros[] = { "@reboot",  "@yearly", "@annually", "@monthly",
                                      "@weekly",  "@daily",  "@midnight", "@hourly" };

struct parser {
        struct crontab *c;
        const struct crontab_options *o;
        char **assign;   /* current assignments, "NAME=value" */
        bool dirty;      /* assign changed since the last snapshot */
        char *cache_user, *cache_home; /* last successful lookup */
        bool oom;
};

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static void perror_line(struct parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void perror_line(struct parser *p, unsigned line, const char *fmt, ...) {
        struct crontab *c = p->c;
        c->n_errors++;
        if (c->n_errors > CRONTAB_ERRORS_MAX)
                return;
        va_list ap;
        char *msg = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        char *full = r < 0 ? NULL : strdup_printf("%s:%u: %s", c->path, line, msg);
        free(msg);
        if (!full || strv_push(&c->errors, full) < 0)
                p->oom = true;
        free(full);
}

static const char *assign_get(char *const *v, const char *name) {
        size_t n = strlen(name);
        for (; v && *v; v++)
                if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
                        return *v + n + 1;
        return NULL;
}

/* Sets NAME=value in p->assign, replacing an earlier one of that name. */
static int assign_set(struct parser *p, unsigned line, const char *name, size_t nlen, const char *val,
                      size_t vlen) {
        char *kv = malloc(nlen + vlen + 2);
        if (!kv)
                return -ENOMEM;
        memcpy(kv, name, nlen);
        kv[nlen] = '=';
        memcpy(kv + nlen + 1, val, vlen);
        kv[nlen + 1 + vlen] = 0;
        size_t n = 0;
        for (char **v = p->assign; v && *v; v++, n++)
                if (strncmp(*v, kv, nlen + 1) == 0) {
                        free(*v);
                        *v = kv;
                        p->dirty = true;
                        return 0;
                }
        if (n >= ASSIGNMENTS_MAX) {
                perror_line(p, line, "too many environment variables (at most %d names)", ASSIGNMENTS_MAX);
                free(kv);
                return 0;
        }
        int r = strv_push(&p->assign, kv);
        free(kv);
        p->dirty = true;
        return r;
}

/* Tries the line as "name = value". Returns 1 (an assignment, applied), 0
 * (not one), or -ENOMEM. Follows Vixie cron's load_env(). */
static int parse_assignment(struct parser *p, unsigned line, const char *s, size_t len) {
        const char *end = s + len, *name, *name_end;
        while (s < end && is_blank(*s))
                s++;
        if (s < end && (*s == '"' || *s == '\'')) {
                char q = *s++;
                name = s;
                while (s < end && *s != q)
                        s++;
                if (s == end)
                        return 0;
                name_end = s++;
        } else {
                name = s;
                while (s < end && !is_blank(*s) && *s != '=')
                        s++;
                name_end = s;
        }
        while (s < end && is_blank(*s))
                s++;
        if (s == end || *s != '=')
                return 0;
        s++;
        while (s < end && is_blank(*s))
                s++;
        while (end > s && is_blank(end[-1]))
                end--;
        if (s < end && (*s == '"' || *s == '\'')) {
                /* A quoted value ends with its quote, or the line is no
                 * assignment; blanks before the closing quote are dropped
                 * all the same (Debian's cron does both). */
                if (end - s < 2 || end[-1] != *s)
                        return 0;
                s++;
                end--;
                while (end > s && is_blank(end[-1]))
                        end--;
        }
        if (memchr(name, '=', (size_t)(name_end - name))) {
                perror_line(p, line, "invalid environment variable name (contains \"=\")");
                return 1;
        }
        return assign_set(p, line, name, (size_t)(name_end - name), s, (size_t)(end - s)) < 0 ? -ENOMEM : 1;
}

/* Splits the command at the first unescaped %: *ret_cmd ("\%" -> "%") and
 * *ret_input (NULL when there is no %; "%" -> newline, ending in one). */
static int split_percent(const char *s, size_t len, char **ret_cmd, char **ret_input) {
        char *cmd = malloc(len + 1), *in = NULL;
        size_t n = 0, i = 0;
        if (!cmd)
                return -ENOMEM;
        for (; i < len; i++) {
                if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%')
                        cmd[n++] = s[++i];
                else if (s[i] == '%')
                        break;
                else
                        cmd[n++] = s[i];
        }
        cmd[n] = 0;
        if (i < len) {
                in = malloc(len - i + 2);
                if (!in) {
                        free(cmd);
                        return -ENOMEM;
                }
                n = 0;
                for (i++; i < len; i++) {
                        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%')
                                in[n++] = s[++i];
                        else
                                in[n++] = s[i] == '%' ? '\n' : s[i];
                }
                if (n > 0 && in[n - 1] != '\n')
                        in[n++] = '\n';
                in[n] = 0;
        }
        *ret_cmd = cmd;
        *ret_input = in;
        return 0;
}

/* Next blank-separated word of [*s, end): sets *w, *wlen; false at the end. */
static bool next_word(const char **s, const char *end, const char **w, size_t *wlen) {
        const char *p = *s;
        while (p < end && is_blank(*p))
                p++;
        if (p == end)
                return false;
        *w = p;
        while (p < end && !is_blank(*p))
                p++;
        *wlen = (size_t)(p - *w);
        *s = p;
        return true;
}

/* The home of user through the lookup (one-entry cache). Returns 0 (and
 * *ret_home borrowed, NULL without a lookup), -ENOENT, other -errno. */
static int lookup_user(struct parser *p, const char *user, const char **ret_home) {
        if (!p->o->lookup) {
                *ret_home = NULL;
                return 0;
        }
        if (p->cache_user && streq(p->cache_user, user)) {
                *ret_home = p->cache_home;
                return 0;
        }
        char *home = NULL;
        int r = p->o->lookup(user, &home, p->o->userdata);
        if (r < 0)
                return r;
        char *u = strdup(user);
        if (!u) {
                free(home);
                return -ENOMEM;
        }
        free(p->cache_user);
        free(p->cache_home);
        p->cache_user = u;
        p->cache_home = home;
        *ret_home = home;
        return 0;
}

static char *const *snapshot(struct parser *p) {
        struct crontab *c = p->c;
        if (!p->dirty && c->n_snapshots > 0)
                return c->snapshots[c->n_snapshots - 1];
        char **copy = p->assign ? strv_copy(p->assign) : calloc(1, sizeof(char *));
        if (!copy)
                return NULL;
        char ***s = realloc(c->snapshots, (c->n_snapshots + 1) * sizeof *s);
        if (!s) {
                strv_free(copy);
                return NULL;
        }
        c->snapshots = s;
        c->snapshots[c->n_snapshots++] = copy;
        p->dirty = false;
        return copy;
}

static int push_entry(struct parser *p, struct crontab_entry *e) {
        struct crontab *c = p->c;
        /* Doubling growth: linear over the file. */
        if ((c->n_entries & (c->n_entries - 1)) == 0) {
                size_t cap = c->n_entries ? c->n_entries * 2 : 8;
                struct crontab_entry *n = realloc(c->entries, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->entries = n;
        }
        c->entries[c->n_entries++] = *e;
        return 0;
}

static void entry_done(struct crontab_entry *e) {
        free(e->name);
        free(e->schedule);
        schedule_free(e->sched);
        free(e->user);
        free(e->command);
        free(e->input);
        free(e->home);
}

/* Parses the time fields (or macro) at *s into e->schedule and e->sched.
 * Returns 0, -EINVAL (error reported), -ENOMEM. */
static int parse_when(struct parser *p, unsigned line, const char **s, const char *end, struct crontab_entry *e) {
        const char *w;
        size_t wl;
        char buf[CRONTAB_LINE_MAX + 8];
        size_t n = 0;

        if (!next_word(s, end, &w, &wl))
                return -EINVAL;
        if (*w == '@') {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(macros); i++)
                        ok = ok || (strlen(macros[i]) == wl && strncasecmp(macros[i], w, wl) == 0);
                if (!ok) {
                        perror_line(p, line, "unknown macro \"%.*s\" (expected @reboot, @yearly, @annually, "
                                    "@monthly, @weekly, @daily, @midnight or @hourly)", (int)MIN(wl, 64), w);
                        return -EINVAL;
                }
                memcpy(buf, w, wl);
                n = wl;
                for (size_t i = 0; i < n; i++)
                        buf[i] = (char)tolower((unsigned char)buf[i]);
        } else {
                for (int f = 0; f < 5; f++) {
                        if (f > 0 && !next_word(s, end, &w, &wl)) {
                                perror_line(p, line, "expected five time fields, found %d", f);
                                return -EINVAL;
                        }
                        if (f > 0)
                                buf[n++] = ' ';
                        memcpy(buf + n, w, wl);
                        n += wl;
                }
        }
        buf[n] = 0;
        char *why = NULL;
        int r = schedule_parse(SCHEDULE_SYNTAX_CRON, buf, &e->sched, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                perror_line(p, line, "%s", why ? why : "invalid time fields");
                free(why);
                return -EINVAL;
        }
        e->schedule = strdup(buf);
        return e->schedule ? 0 : -ENOMEM;
}

/* Parses one entry line. Returns 0 (added or error reported) or -ENOMEM. */
static int parse_entry(struct parser *p, unsigned line, const char *s, size_t len) {
        const char *end = s + len, *w;
        size_t wl;
        struct crontab_entry e = { .line = line };
        const char *home = NULL;
        int r = parse_when(p, line, &s, end, &e);
        if (r < 0)
                goto done;
        if (p->o->format == CRONTAB_SYSTEM) {
                if (!next_word(&s, end, &w, &wl)) {
                        perror_line(p, line, "no user and command after the time fields");
                        r = -EINVAL;
                        goto done;
                }
                e.user = strndup(w, wl);
        } else
                e.user = strdup(p->o->user);
        if (!e.user) {
                r = -ENOMEM;
                goto done;
        }
        while (s < end && is_blank(*s))
                s++;
        if (s == end) {
                perror_line(p, line, "no command");
                r = -EINVAL;
                goto done;
        }
        if ((size_t)(end - s) > CRONTAB_COMMAND_MAX) {
                perror_line(p, line, "command longer than %u bytes", CRONTAB_COMMAND_MAX);
                r = -EINVAL;
                goto done;
        }
        r = lookup_user(p, e.user, &home);
        if (r == -ENOMEM)
                goto done;
        if (r < 0) {
                if (r == -ENOENT)
                        perror_line(p, line, "unknown user \"%s\"", e.user);
                else
                        perror_line(p, line, "cannot look up user \"%s\": %s", e.user, strerror(-r));
                goto done;
        }
        if (home && !(e.home = strdup(home))) {
                r = -ENOMEM;
                goto done;
        }
        r = split_percent(s, (size_t)(end - s), &e.command, &e.input);
        if (r < 0)
                goto done;
        e.assignments = snapshot(p);
        if (!e.assignments) {
                r = -ENOMEM;
                goto done;
        }
        e.shell = assign_get(e.assignments, "SHELL");
        if (!e.shell)
                e.shell = "/bin/sh";
        e.mailto = assign_get(e.assignments, "MAILTO");
        e.timezone = assign_get(e.assignments, "CRON_TZ");
        if (e.timezone && !schedule_timezone_valid(e.timezone)) {
                perror_line(p, line, "unknown time zone CRON_TZ=%s", e.timezone);
                r = -EINVAL;
                goto done;
        }
        r = push_entry(p, &e);
        if (r >= 0)
                return 0;
done:
        entry_done(&e);
        return r == -ENOMEM ? r : 0;
}

static int parse_line(struct parser *p, unsigned line, const char *s, size_t len, bool last) {
        size_t i = 0;
        while (i < len && is_blank(s[i]))
                i++;
        if (i == len || s[i] == '#')
                return 0;
        if (memchr(s, 0, len)) {
                perror_line(p, line, "NUL byte in the line");
                return 0;
        }
        if (len > CRONTAB_LINE_MAX) {
                perror_line(p, line, "line longer than %u bytes", CRONTAB_LINE_MAX);
                return 0;
        }
        if (last) {
                perror_line(p, line, "no newline at the end of the file: the last line is ignored, as cron "
                            "ignores it");
                return 0;
        }
        int r = parse_assignment(p, line, s, len);
        if (r != 0)
                return r < 0 ? r : 0;
        return parse_entry(p, line, s, len);
}

static uint64_t fnv1a(uint64_t h, const char *s) {
        /* The terminating NUL is hashed too: fields cannot run together. */
        do {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        } while (*s++);
        return h;
}

static uint32_t entry_digest(const struct crontab_entry *e) {
        uint64_t h = 0xcbf29ce484222325ULL;
        h = fnv1a(h, e->schedule);
        h = fnv1a(h, e->user);
        h = fnv1a(h, e->command);
        h = fnv1a(h, e->input ? "1" : "0");
        h = fnv1a(h, e->input ? e->input : "");
        for (char *const *a = e->assignments; a && *a; a++)
                h = fnv1a(h, *a);
        return (uint32_t)(h ^ (h >> 32));
}

struct name_slot {
        uint32_t digest;
        size_t index;
};

static int slot_cmp(const void *a, const void *b) {
        const struct name_slot *x = a, *y = b;
        if (x->digest != y->digest)
                return x->digest < y->digest ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Names every entry "BASE-XXXXXXXX"; entries with the same digest get
 * "-2", "-3", ... in file order. One sort: O(n log n). */
static int name_entries(struct crontab *c) {
        const char *base = strrchr(c->path, '/');
        char b[NAME_BASE_MAX + 1];
        size_t n = 0;
        base = base ? base + 1 : c->path;
        for (; *base && n < NAME_BASE_MAX; base++) {
                char ch = *base;
                b[n++] = (isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '-') ? ch : '_';
        }
        b[n] = 0;
        if (n == 0)
                strcpy(b, "crontab");
        if (c->n_entries == 0)
                return 0;
        _cleanup_(freep) struct name_slot *slots = calloc(c->n_entries, sizeof *slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_entries; i++)
                slots[i] = (struct name_slot){ entry_digest(&c->entries[i]), i };
        qsort(slots, c->n_entries, sizeof *slots, slot_cmp);
        unsigned repeat = 1;
        for (size_t i = 0; i < c->n_entries; i++) {
                repeat = i > 0 && slots[i - 1].digest == slots[i].digest ? repeat + 1 : 1;
                struct crontab_entry *e = &c->entries[slots[i].index];
                e->name = repeat == 1 ? strdup_printf("%s-%08x", b, (unsigned)slots[i].digest)
                                      : strdup_printf("%s-%08x-%u", b, (unsigned)slots[i].digest, repeat);
                if (!e->name)
                        return -ENOMEM;
        }
        return 0;
}

int crontab_parse(const char *path, const char *text, size_t size, const struct crontab_options *options,
                  struct crontab **ret) {
        if (!path || (!text && size) || !options || !ret ||
            (options->format == CRONTAB_USER && (!options->user || !*options->user)))
                return -EINVAL;
        if (size > CRONTAB_SIZE_MAX)
                return -EFBIG;
        _cleanup_(crontab_freep) struct crontab *c = calloc(1, sizeof *c);
        if (!c || !(c->path = strdup(path)))
                return -ENOMEM;
        struct parser p = { .c = c, .o = options };
        int r = 0;
        unsigned line = 0;
        for (size_t off = 0; off < size && r >= 0;) {
                const char *s = text + off;
                const char *nl = memchr(s, '\n', size - off);
                size_t len = nl ? (size_t)(nl - s) : size - off;
                line++;
                r = parse_line(&p, line, s, len, !nl);
                off += len + 1;
        }
        if (r >= 0 && p.oom)
                r = -ENOMEM;
        if (r >= 0)
                r = name_entries(c);
        strv_free(p.assign);
        free(p.cache_user);
        free(p.cache_home);
        if (r < 0)
                return r;
        *ret = c;
        c = NULL;
        return 0;
}

struct crontab *crontab_free(struct crontab *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_entries; i++)
                entry_done(&c->entries[i]);
        free(c->entries);
        for (size_t i = 0; i < c->n_snapshots; i++)
                strv_free(c->snapshots[i]);
        free(c->snapshots);
        strv_free(c->errors);
        free(c->path);
        free(c);
        return NULL;
}

static int env_put(char ***env, const char *name, const char *value) {
        char *kv = strdup_printf("%s=%s", name, value);
        if (!kv)
                return -ENOMEM;
        size_t n = strlen(name);
        for (char **v = *env; v && *v; v++)
                if (strncmp(*v, kv, n + 1) == 0) {
                        free(*v);
                        *v = kv;
                        return 0;
                }
        int r = strv_push(env, kv);
        free(kv);
        return r;
}

int crontab_entry_environment(const struct crontab_entry *e, char ***ret) {
        _cleanup_(strv_freep) char **env = NULL;
        if (env_put(&env, "SHELL", "/bin/sh") < 0 || env_put(&env, "PATH", "/usr/bin:/bin") < 0 ||
            (e->home && env_put(&env, "HOME", e->home) < 0))
                return -ENOMEM;
        for (char *const *a = e->assignments; a && *a; a++) {
                const char *eq = strchr(*a, '=');
                _cleanup_(freep) char *name = strndup(*a, (size_t)(eq - *a));
                if (!name || env_put(&env, name, eq + 1) < 0)
                        return -ENOMEM;
        }
        if (env_put(&env, "LOGNAME", e->user) < 0)
                return -ENOMEM;
        *ret = env;
        env = NULL;
        return 0;
}

int crontab_lookup_passwd(const char *user, char **ret_home, void *userdata) {
        (void)userdata;
        struct passwd pw, *pwp = NULL;
        char buf[16384];
        int e = getpwnam_r(user, &pw, buf, sizeof buf, &pwp);
        if (e != 0)
                return -e;
        if (!pwp)
                return -ENOENT;
        if (ret_home) {
                char *h = strdup(pw.pw_dir ? pw.pw_dir : "/");
                if (!h)
                        return -ENOMEM;
                *ret_home = h;
        }
        return 0;
}
