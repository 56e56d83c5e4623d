/* crontab_import.c - a crontab turned into evd.conf sections
 * (crontab_import.h), for `evdctl import-crontab`.
 *
 * Each entry becomes
 *
 *   [job:NAME]                          the reader's stable name
 *   cron = SCHEDULE
 *   user = USER
 *   shell = yes
 *   command = exec 'SHELL' -c 'COMMAND'
 *   environment = 'SHELL=...' 'PATH=...' 'VAR=value' ...
 *   timezone = CRON_TZ
 *
 * so the command runs exactly as cron runs it: through the crontab's SHELL
 * with "-c" and the text up to the first unescaped "%" (evd's own /bin/sh
 * only execs it), with cron's environment (SHELL, PATH=/usr/bin:/bin unless
 * set, the VAR= lines in effect; HOME and LOGNAME come from evd's user=,
 * as from cron's passwd entry; evd also sets USER, which cron does not).
 * A "%" standard input is fed by printf:
 *
 *   command = printf '%b' 'LINE1\nLINE2\n' | exec 'SHELL' -c 'COMMAND'
 *
 * where the input is escaped for %b (backslash as "\\", newline as "\n",
 * any other byte outside printable ASCII as "\0ooo"), so the bytes arrive
 * unchanged and the value stays on one line. The pipeline's status is the
 * command's.
 *
 * A command with a control character (a "\r" of DOS line ends) is made by
 * printf the same way: -c "$(printf '%b' 'ESCAPED')".
 *
 * Quoting: every word is single-quoted ("'" as '\'') and every ";" is
 * written '\;' outside the quotes: evd.conf takes ";" after a blank as the
 * start of a comment, and the shell reads '\;' as a literal ";".
 *
 * Threads: any. */
#include "crontab_import.h"

#include "crontab.h"
#include "strbuf.h"

#include <ctype.h>
#include <fcntl.h>

/* Appends s single-quoted for the shell, safe in an evd.conf value. */
static void put_quoted(struct strbuf *b, const char *s) {
        strbuf_puts(b, "'");
        for (; *s; s++) {
                if (*s == '\'')
                        strbuf_puts(b, "'\\''");
                else if (*s == ';')
                        strbuf_puts(b, "'\\;'");
                else
                        strbuf_append(b, s, 1);
        }
        strbuf_puts(b, "'");
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
                        return true;
        return false;
}

/* Appends input escaped for printf's %b, then quoted. */
static void put_input(struct strbuf *b, const char *input) {
        struct strbuf e = { 0 };
        for (const unsigned char *s = (const unsigned char *)input; *s; s++) {
                char oct[8];
                if (*s == '\\')
                        strbuf_puts(&e, "\\\\");
                else if (*s == '\n')
                        strbuf_puts(&e, "\\n");
                else if (*s < 0x20 || *s >= 0x7f) {
                        snprintf(oct, sizeof oct, "\\0%03o", *s);
                        strbuf_puts(&e, oct);
                } else
                        strbuf_append(&e, (const char *)s, 1);
        }
        put_quoted(b, e.s ? e.s : "");
        b->oom = b->oom || e.oom;
        strbuf_done(&e);
}

static bool env_name_ok(const char *kv) {
        const char *eq = strchr(kv, '=');
        if (eq == kv || !(isalpha((unsigned char)kv[0]) || kv[0] == '_'))
                return false;
        for (const char *s = kv; s < eq; s++)
                if (!(isalnum((unsigned char)*s) || *s == '_'))
                        return false;
        return true;
}

/* Prints one entry's section. Returns the number of things left out. */
static unsigned put_entry(const struct crontab *c, const struct crontab_entry *e, FILE *out, FILE *err) {
        unsigned left = 0;
        struct strbuf b = { 0 };
        if (has_control(e->shell)) {
                fprintf(err, "%s:%u: not converted: SHELL has a control character\n", c->path, e->line);
                return 1;
        }
        fprintf(out, "\n; %s:%u\n[job:%s]\ncron = %s\nuser = %s\nshell = yes\n", c->path, e->line, e->name,
                e->schedule, e->user);
        if (e->input) {
                strbuf_puts(&b, "printf '%b' ");
                put_input(&b, e->input);
                strbuf_puts(&b, " | ");
        }
        strbuf_puts(&b, "exec ");
        put_quoted(&b, e->shell);
        strbuf_puts(&b, " -c ");
        if (has_control(e->command)) {
                /* A "\r" (DOS line ends) or other control byte cannot stand
                 * in an evd.conf line: printf makes it (the command has no
                 * newline, so $(...) strips nothing). */
                strbuf_puts(&b, "\"$(printf '%b' ");
                put_input(&b, e->command);
                strbuf_puts(&b, ")\"");
        } else
                put_quoted(&b, e->command);
        if (b.oom) {
                strbuf_done(&b);
                fprintf(err, "%s:%u: out of memory\n", c->path, e->line);
                return 1;
        }
        fprintf(out, "command = %s\n", b.s);
        strbuf_done(&b);

        /* cron's environment without HOME and LOGNAME: evd sets them
         * from user=, as cron does from the passwd entry (the entry's home
         * is only there when the crontab set HOME=). */
        struct crontab_entry copy = *e;
        copy.home = NULL;
        _cleanup_(strv_freep) char **env = NULL;
        if (crontab_entry_environment(&copy, &env) < 0) {
                fprintf(err, "%s:%u: out of memory\n", c->path, e->line);
                return left + 1;
        }
        for (char **v = env; *v; v++) {
                if (startswith(*v, "LOGNAME="))
                        continue;
                if (has_control(*v)) {
                        fprintf(err, "%s:%u: environment variable \"%.*s\" not converted: its value has a "
                                "control character\n", c->path, e->line, (int)(strchr(*v, '=') - *v), *v);
                        left++;
                        continue;
                }
                if (!env_name_ok(*v)) {
                        fprintf(err, "%s:%u: environment variable \"%.*s\" not converted: evd takes names of "
                                "letters, digits and \"_\"\n", c->path, e->line,
                                (int)(strchr(*v, '=') - *v), *v);
                        left++;
                        continue;
                }
                strbuf_puts(&b, " ");
                put_quoted(&b, *v);
        }
        if (b.oom) {
                fprintf(err, "%s:%u: out of memory\n", c->path, e->line);
                left++;
        } else
                fprintf(out, "environment =%s\n", b.s ? b.s : "");
        strbuf_done(&b);
        if (e->timezone)
                fprintf(out, "timezone = %s\n", e->timezone);
        return left;
}

int crontab_import(const char *path, const char *user, FILE *out, FILE *err) {
        const struct crontab_options o = {
                .format = user ? CRONTAB_USER : CRONTAB_SYSTEM,
                .user = user,
                .lookup = crontab_lookup_passwd,
        };
        /* Blocking: "-" is standard input, often a pipe. */
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(freep) char *text = NULL;
        _cleanup_(crontab_freep) struct crontab *c = NULL;
        size_t size = 0;
        int r = fd < 0 ? -errno : crontab_read_fd(fd, &text, &size);
        if (r >= 0)
                r = crontab_parse(path, text, size, &o, &c);
        if (r < 0) {
                fprintf(err, "%s: %s\n", path, r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
                return r;
        }
        unsigned left = 0;
        const char *mailto = NULL;
        fprintf(out, "; evd.conf sections converted from %s (%s) by evdctl import-crontab\n", path,
                user ? "a user crontab" : "a system crontab");
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct crontab_entry *e = &c->entries[i];
                left += put_entry(c, e, out, err);
                if (e->mailto && *e->mailto && !streq_ptr(mailto, e->mailto)) {
                        fprintf(err, "%s:%u: MAILTO=%s not converted: evd does not mail output yet; it is in "
                                "the journal (EVD_JOB=%s)\n", path, e->line, e->mailto, e->name);
                        mailto = e->mailto;
                        left++;
                }
        }
        for (char **m = c->errors; m && *m; m++)
                fprintf(err, "%s\n", *m);
        if (c->n_errors > CRONTAB_ERRORS_MAX)
                fprintf(err, "%s: %zu more errors\n", path, c->n_errors - CRONTAB_ERRORS_MAX);
        return c->n_errors > 0 || left > 0 ? 1 : 0;
}

int crontab_import_main(int argc, char **argv) {
        const char *user = NULL, *path = NULL;
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--user") && i + 1 < argc)
                        user = argv[++i];
                else if (startswith(argv[i], "--user="))
                        user = argv[i] + strlen("--user=");
                else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        printf("Usage: evdctl import-crontab [--user USER] FILE\n");
                        return 0;
                } else if (!path && (argv[i][0] != '-' || streq(argv[i], "-")))
                        path = argv[i];
                else
                        path = NULL, argc = -1;
        }
        if (!path || argc < 0 || (user && !*user)) {
                fprintf(stderr, "Usage: evdctl import-crontab [--user USER] FILE\n");
                return 2;
        }
        if (streq(path, "-"))
                path = "/dev/stdin";
        return crontab_import(path, user, stdout, stderr) == 0 ? 0 : 1;
}
