/* config_format.c - a configuration written back as a file.
 *
 * Owns: config_format(). The text parses back to the same configuration
 * (golden tests, `evd -t` dumps and the fuzzer's round trip rely on it):
 * [daemon] and every job sorted by name, includes merged in, every key
 * with its value, defaults included, plus comments with what was derived
 * (argv, the normalised schedule, uid and gid).
 *
 * Thread: any; reads an immutable configuration. */
#include "config.h"

#include <ctype.h>

#include "schedule.h"
#include "timespan.h"

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

/* The alert keys given in one section (an empty value turns a default off). */
static void put_alerts(FILE *f, const struct job_alerts *a) {
        static const char *const modes[] = { "change", "every" }, *const mail_on[] = { "failure", "output", "always" };
        const struct { const char *key, *value; } strings[] = {
                { "on_failure", a->on_failure.command }, { "on_recovery", a->on_recovery.command },
                { "hook_user", a->hook_user.name }, { "mail_to", a->mail_to }, { "mail_from", a->mail_from },
        };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                if (!strings[i].value)
                        continue;
                if (!*strings[i].value)
                        fprintf(f, "%s =\n", strings[i].key);
                else
                        put_string(f, strings[i].key, strings[i].value);
        }
        if (a->hook_user.name && *a->hook_user.name)
                fprintf(f, "# hook uid %u, gid %u\n", (unsigned)a->hook_user.uid, (unsigned)a->hook_user.gid);
        if (a->alert >= 0)
                fprintf(f, "alert = %s\n", modes[a->alert]);
        if (a->mail_on >= 0)
                fprintf(f, "mail_on = %s\n", mail_on[a->mail_on]);
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
        if (d->extras->timezone)
                put_string(f, "timezone", d->extras->timezone);
        put_span(f, "jitter", d->jitter);
        fprintf(f, "persistent = %s\n", d->persistent ? "yes" : "no");
        put_span(f, "timeout", d->timeout);
        fprintf(f, "overlap = %s\n", overlap_policy_to_string(d->overlap));
        fprintf(f, "retries = %u\n", d->retries);
        put_span(f, "retry_delay", d->retry_delay);
        if (d->extras->user) {
                fprintf(f, "# uid %u, home %s\n", (unsigned)d->extras->uid, d->extras->home ? d->extras->home : "");
                put_string(f, "user", d->extras->user);
        }
        if (d->extras->group)
                put_string(f, "group", d->extras->group);
        if (d->extras->user || d->extras->group)
                fprintf(f, "# gid %u\n", (unsigned)d->extras->gid);
        if (d->extras->working_directory)
                put_string(f, "working_directory", d->extras->working_directory);
        if (d->extras->environment && *d->extras->environment) {
                fputs("environment =", f);
                for (char **e = d->extras->environment; *e; e++) {
                        fputc(' ', f);
                        put_word(f, *e);
                }
                fputc('\n', f);
        }
        if (d->extras->nice_set)
                fprintf(f, "nice = %d\n", d->extras->nice);
        if (d->extras->limit_nofile)
                fprintf(f, "limit_nofile = %u\n", d->extras->limit_nofile);
        fprintf(f, "enabled = %s\n", d->enabled ? "yes" : "no");
        if (d->extras->alerts)
                put_alerts(f, d->extras->alerts);
}

/* [crontabs]: its keys (the jobs it makes are read again from the tables,
 * so they are listed as comments only). */
static void put_crontabs(FILE *f, const struct config *c) {
        const struct config_crontabs *t = c->crontabs;
        fputs("\n[crontabs]\n", f);
        for (char **s = t->system; s && *s; s++) {
                fputs("system = ", f);
                put_word(f, *s);
                fputc('\n', f);
        }
        if (t->users)
                put_string(f, "users", t->users);
        put_span(f, "timeout", t->defaults.timeout == 0 ? USEC_INFINITY : t->defaults.timeout);
        fprintf(f, "overlap = %s\n", overlap_policy_to_string(t->defaults.overlap));
        put_span(f, "jitter", t->defaults.jitter);
        fprintf(f, "retries = %u\n", t->defaults.retries);
        put_span(f, "retry_delay", t->defaults.retry_delay);
        if (t->alerts_given)
                put_alerts(f, &t->alerts);
        for (size_t i = 0; i < c->n_jobs; i++)
                if (c->jobs[i]->extras->crontab)
                        fprintf(f, "# job %s from %s:%u\n", c->jobs[i]->name, c->jobs[i]->file, c->jobs[i]->line);
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
        if (c->crontabs)
                put_crontabs(f, c);
        if (c->alert_defaults)
                put_alerts(f, c->alert_defaults);
        if (c->sendmail)
                put_string(f, "sendmail", c->sendmail);
        for (size_t i = 0; i < c->n_jobs; i++)
                if (!c->jobs[i]->extras->crontab)
                        put_job(f, c->jobs[i], flags);
        return memstream_finish(f, &buf, ret);
}
