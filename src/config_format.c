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
        if (d->extras->cluster == CLUSTER_ONCE)
                fputs("cluster = once\n", f);
        if (d->extras->cluster_unreachable == CLUSTER_UNREACHABLE_RUN)
                fputs("cluster_unreachable = run\n", f);
        if (d->extras->cluster_history)
                put_span(f, "cluster_history", d->extras->cluster_history);
        fprintf(f, "enabled = %s\n", d->enabled ? "yes" : "no");
}

static void put_cluster(FILE *f, const struct cluster_config *c) {
        fputs("\n[cluster]\n", f);
        put_string(f, "etcd", c->etcd);
        fputs("# endpoints:", f);
        for (char **e = c->endpoints; e && *e; e++)
                fprintf(f, " %s", *e);
        fputc('\n', f);
        put_string(f, "name", c->name);
        put_string(f, "node", c->node);
        put_span(f, "lease", c->lease);
        if (c->ca_file)
                put_string(f, "ca_file", c->ca_file);
        if (c->cert_file)
                put_string(f, "cert_file", c->cert_file);
        if (c->key_file)
                put_string(f, "key_file", c->key_file);
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
        if (c->cluster)
                put_cluster(f, c->cluster);
        for (size_t i = 0; i < c->n_jobs; i++)
                put_job(f, c->jobs[i], flags);
        return memstream_finish(f, &buf, ret);
}
