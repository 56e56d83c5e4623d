/* history.c - a job's runs and a run's output from the journal (see
 * history.h).
 *
 * Which entries: SYSLOG_IDENTIFIER=evd (every entry evd writes natively
 * carries it, whether evd runs under systemd or not) and EVD_JOB=NAME; a
 * run is the entries with one EVD_RUN= id (unique across restarts, see
 * scheduler.c). A run's end is the entry with EVD_DURATION_USEC=: its
 * EVD_EXIT_STATUS= or EVD_EXIT_SIGNAL=, EVD_ATTEMPT=, the message ("failed:
 * exit status 3 after 2s", "... (timed out)") and journald's own
 * _HOSTNAME. The actual start is the end's timestamp less the duration
 * (both measured by evd around the child's life). The scheduled start
 * comes from EVD_SCHEDULED_USEC= (the instant the run was scheduled for,
 * see scheduler.c); entries of an evd older than that field show "-"
 * (null in JSON).
 *
 * history walks backwards from the journal's tail and stops after N ends,
 * so its cost follows N, not the journal's size. A run that started and
 * has no end yet is shown as running. log finds the run (the last one by
 * default), then reads that run's entries forwards and prints the lines
 * that carry EVD_STREAM= (the job's stdout and stderr), as they were.
 *
 * A journal rotated or vacuumed while it is read: sd-journal keeps the
 * files it opened mapped, so an entry is either read whole or not at all;
 * an entry that cannot be read (a file truncated under us) is skipped, and
 * a failing step ends the walk with a warning and what was found so far. */
#include "history.h"

#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "ctlproto.h"
#include "strbuf.h"
#include "timespan.h"

#define HISTORY_MAX_N 10000

struct run_row {
        unsigned long long run;
        bool ended;
        usec_t end, duration, scheduled;
        unsigned attempt;
        int exit_status; /* -1: none */
        char *signal;
        char *result;
        char *message;
        char *host;
};

static void run_row_done(struct run_row *r) {
        free(r->signal);
        free(r->result);
        free(r->message);
        free(r->host);
}

/* The value of field (without "FIELD=") of the current entry, malloc'd, or
 * NULL when the entry has none. */
static char *field(sd_journal *j, const char *name) {
        const void *d;
        size_t n, k = strlen(name);
        if (sd_journal_get_data(j, name, &d, &n) < 0 || n <= k)
                return NULL;
        return strndup((const char *)d + k + 1, n - k - 1);
}

static bool field_u64(sd_journal *j, const char *name, unsigned long long *ret) {
        _cleanup_(freep) char *v = field(j, name);
        char *end;
        if (!v || !*v)
                return false;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end)
                return false;
        *ret = x;
        return true;
}

static bool is_privileged_reader(void) {
        if (geteuid() == 0)
                return true;
        static const char *const groups[] = { "systemd-journal", "adm" };
        gid_t list[256];
        int n = getgroups(ELEMENTSOF(list), list);
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                struct group *g = getgrnam(groups[i]);
                if (!g)
                        continue;
                if (g->gr_gid == getegid())
                        return true;
                for (int k = 0; k < n; k++)
                        if (list[k] == g->gr_gid)
                                return true;
        }
        return false;
}

/* Says why nothing was found; returns the exit status. */
static int report_nothing(sd_journal *j, const char *what) {
        bool any = false;
        sd_journal_flush_matches(j);
        if (sd_journal_add_match(j, "SYSLOG_IDENTIFIER=evd", 0) >= 0 && sd_journal_seek_tail(j) >= 0)
                any = sd_journal_previous(j) > 0;
        if (!any && !is_privileged_reader()) {
                fprintf(stderr, "evdctl: no entries from evd in the journal you may read: evd's entries are in "
                                "the system journal, readable by root and the members of the systemd-journal "
                                "and adm groups\n");
                return EXIT_FAILURE;
        }
        if (!any)
                fprintf(stderr, "evdctl: the journal has no entries from evd at all: does evd log to the "
                                "journal? (under systemd it does; --log-target=console sends its lines to "
                                "stderr instead)\n");
        else
                fprintf(stderr, "evdctl: the journal has no %s\n", what);
        return HISTORY_EXIT_NOTHING;
}

static int open_journal(const char *directory, sd_journal **ret) {
        int r = directory ? sd_journal_open_directory(ret, directory, 0)
                          : sd_journal_open(ret, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                fprintf(stderr, "evdctl: cannot open the journal%s%s: %s\n", directory ? " in " : "",
                        directory ? directory : "", strerror(-r));
        return r;
}

static int add_job_matches(sd_journal *j, const char *job) {
        _cleanup_(freep) char *m = strdup_printf("EVD_JOB=%s", job);
        if (!m)
                return -ENOMEM;
        int r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=evd", 0);
        if (r >= 0)
                r = sd_journal_add_match(j, m, 0);
        return r;
}

/* The result kind of an end entry, from its fields and message. */
static const char *result_kind(int exit_status, const char *signal, const char *message) {
        if (message && strstr(message, "(timed out)"))
                return "timeout";
        if (message && strstr(message, "failed to start"))
                return "spawn-failed";
        if (message && strstr(message, "(cancelled)"))
                return "cancelled";
        if (signal)
                return "signal";
        return exit_status == 0 ? "success" : "exit-code";
}

static void read_end(sd_journal *j, struct run_row *row) {
        unsigned long long v;
        uint64_t ts = 0;
        row->ended = true;
        if (sd_journal_get_realtime_usec(j, &ts) >= 0)
                row->end = ts;
        if (field_u64(j, "EVD_DURATION_USEC", &v))
                row->duration = v;
        if (field_u64(j, "EVD_ATTEMPT", &v))
                row->attempt = (unsigned)v;
        if (field_u64(j, "EVD_SCHEDULED_USEC", &v))
                row->scheduled = v;
        row->exit_status = field_u64(j, "EVD_EXIT_STATUS", &v) && v < 256 ? (int)v : -1;
        row->signal = field(j, "EVD_EXIT_SIGNAL");
        row->message = field(j, "MESSAGE");
        row->host = field(j, "_HOSTNAME");
        _cleanup_(freep) char *kind = field(j, "EVD_RESULT"); /* when evd writes it */
        row->result = strdup(kind ? kind : result_kind(row->exit_status, row->signal, row->message));
}

/* Walks back from the tail collecting up to n runs, newest first. */
static int collect_runs(sd_journal *j, unsigned n, struct run_row *rows, unsigned *ret_n) {
        unsigned k = 0;
        int r = sd_journal_seek_tail(j);
        while (r >= 0 && k < n) {
                r = sd_journal_previous(j);
                if (r <= 0)
                        break;
                unsigned long long run;
                if (!field_u64(j, "EVD_RUN", &run))
                        continue;
                struct run_row *seen = NULL;
                for (unsigned i = 0; i < k; i++)
                        if (rows[i].run == run)
                                seen = &rows[i];
                _cleanup_(freep) char *dur = field(j, "EVD_DURATION_USEC");
                if (dur && !seen) {
                        rows[k] = (struct run_row){ .run = run, .exit_status = -1 };
                        read_end(j, &rows[k++]);
                        continue;
                }
                if (seen)
                        continue;
                _cleanup_(freep) char *msg = field(j, "MESSAGE");
                if (msg && startswith(msg, "started (pid ")) {
                        uint64_t ts = 0;
                        (void)sd_journal_get_realtime_usec(j, &ts);
                        rows[k++] = (struct run_row){ .run = run, .end = ts, .exit_status = -1,
                                                      .result = strdup("running"), .host = field(j, "_HOSTNAME") };
                }
        }
        if (r < 0)
                fprintf(stderr, "evdctl: warning: reading the journal stopped early: %s\n", strerror(-r));
        *ret_n = k;
        return 0;
}

static void iso_time(char *buf, size_t size, usec_t t) {
        time_t s = (time_t)(t / USEC_PER_SEC);
        struct tm tm;
        if (!localtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
                snprintf(buf, size, "-");
        /* +0100 -> +01:00, as evdctl calendar prints it */
        size_t n = strlen(buf);
        if (n >= 5 && size > n + 1 && (buf[n - 5] == '+' || buf[n - 5] == '-')) {
                memmove(buf + n - 1, buf + n - 2, 3);
                buf[n - 2] = ':';
        }
}

/* A JSON string of s (strbuf escapes what is not UTF-8), or null. */
static void json_text(struct strbuf *b, const char *s) {
        if (s)
                strbuf_json_string(b, s);
        else
                strbuf_puts(b, "null");
}

static void print_runs(const char *job, struct run_row *rows, unsigned n, bool json) {
        struct strbuf b = { 0 };
        char t1[64], t2[64], dur[TIMESPAN_MAX], status[32];
        if (json)
                strbuf_puts(&b, "[");
        else
                strbuf_printf(&b, "%-18s %-25s %-25s %-10s %-12s %-7s %s\n", "RUN", "SCHEDULED", "STARTED",
                              "DURATION", "RESULT", "STATUS", "HOST");
        for (unsigned i = n; i-- > 0;) { /* oldest first */
                const struct run_row *r = &rows[i];
                usec_t start = r->ended ? r->end - MIN(r->duration, r->end) : r->end;
                iso_time(t1, sizeof t1, start);
                if (r->scheduled)
                        iso_time(t2, sizeof t2, r->scheduled);
                else
                        snprintf(t2, sizeof t2, "-");
                if (r->exit_status >= 0)
                        snprintf(status, sizeof status, "%d", r->exit_status);
                else
                        snprintf(status, sizeof status, "%s", r->signal ? r->signal : "-");
                if (!json) {
                        if (r->ended)
                                timespan_format(dur, sizeof dur, r->duration - r->duration % USEC_PER_MSEC);
                        else
                                snprintf(dur, sizeof dur, "-");
                        strbuf_printf(&b, "%-18llu %-25s %-25s %-10s %-12s %-7s %s\n", r->run, t2, t1, dur,
                                      r->result ? r->result : "?", status, r->host ? r->host : "-");
                        continue;
                }
                strbuf_printf(&b, "%s\n {\"job\":", i == n - 1 ? "" : ",");
                json_text(&b, job);
                strbuf_printf(&b, ",\"run\":%llu,\"scheduled\":", r->run);
                if (r->scheduled)
                        json_text(&b, t2);
                else
                        strbuf_puts(&b, "null");
                if (r->scheduled)
                        strbuf_printf(&b, ",\"scheduled_usec\":%llu", (unsigned long long)r->scheduled);
                else
                        strbuf_puts(&b, ",\"scheduled_usec\":null");
                strbuf_puts(&b, ",\"start\":");
                json_text(&b, t1);
                strbuf_printf(&b, ",\"start_usec\":%llu,\"duration_usec\":", (unsigned long long)start);
                if (r->ended)
                        strbuf_printf(&b, "%llu", (unsigned long long)r->duration);
                else
                        strbuf_puts(&b, "null");
                strbuf_puts(&b, ",\"result\":");
                json_text(&b, r->result ? r->result : "?");
                if (r->exit_status >= 0)
                        strbuf_printf(&b, ",\"exit_status\":%d", r->exit_status);
                else
                        strbuf_puts(&b, ",\"exit_status\":null");
                strbuf_puts(&b, ",\"signal\":");
                json_text(&b, r->signal);
                strbuf_printf(&b, ",\"attempt\":%u,\"host\":", r->attempt);
                json_text(&b, r->host);
                strbuf_puts(&b, ",\"message\":");
                json_text(&b, r->message);
                strbuf_puts(&b, "}");
        }
        if (json)
                strbuf_puts(&b, "\n]\n");
        if (b.s)
                fwrite(b.s, 1, b.len, stdout);
        strbuf_done(&b);
}

static void history_usage(FILE *f, const struct ctl_command *c) {
        fprintf(f, "Usage: evdctl %s%s %s\n      %s\n", (c->flags & CTL_JSON) ? "[--json] " : "", c->name, c->args,
                c->summary);
}

/* The options of history (n and json given) or log (NULL), then the
 * arguments, checked against the command's entry in the table
 * (ctlproto.h): -1 and *ret_optind when they are fine, else the exit
 * status (help printed, or the problem reported). */
static int parse_common(int argc, char **argv, const struct ctl_command *c, unsigned *n, bool *json,
                        const char **dir, int *ret_optind) {
        static const struct option opts[] = {
                { "lines", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'j' },
                { "directory", required_argument, NULL, 'D' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int k;
        optind = 1;
        while ((k = getopt_long(argc, argv, n ? "n:jD:h" : "D:h", opts, NULL)) >= 0) {
                char *end;
                switch (k) {
                case 'n':
                        if (!n)
                                goto bad;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || v == 0 || v > HISTORY_MAX_N || optarg[0] == '-') {
                                fprintf(stderr, "evdctl %s: -n wants a number from 1 to %d, not \"%s\"\n",
                                        c->name, HISTORY_MAX_N, optarg);
                                return CTL_EXIT_USAGE;
                        }
                        *n = (unsigned)v;
                        break;
                case 'j':
                        if (!json)
                                goto bad;
                        *json = true;
                        break;
                case 'D':
                        *dir = optarg;
                        break;
                case 'h':
                        history_usage(stdout, c);
                        return 0;
                default:
                        goto bad;
                }
        }
        k = ctl_check_args(c, argv + optind, (size_t)(argc - optind));
        if (k != 0) {
                if (k == CTL_EXIT_USAGE)
                        history_usage(stderr, c);
                return k;
        }
        *ret_optind = optind;
        return -1;
bad:
        history_usage(stderr, c);
        return CTL_EXIT_USAGE;
}

int history_main(int argc, char **argv, bool json) {
        unsigned n = 10;
        const char *dir = NULL;
        int idx, r;

        r = parse_common(argc, argv, &ctl_commands[CTL_HISTORY], &n, &json, &dir, &idx);
        if (r >= 0)
                return r;
        const char *job = argv[idx];
        sd_journal *j = NULL;
        if (open_journal(dir, &j) < 0)
                return EXIT_FAILURE;
        struct run_row *rows = calloc(n, sizeof *rows);
        unsigned k = 0;
        if (!rows || add_job_matches(j, job) < 0) {
                fprintf(stderr, "evdctl: out of memory\n");
                r = EXIT_FAILURE;
        } else {
                collect_runs(j, n, rows, &k);
                if (k == 0) {
                        _cleanup_(freep) char *what = strdup_printf("runs of job \"%s\"", job);
                        r = report_nothing(j, what ? what : "runs of that job");
                } else {
                        print_runs(job, rows, k, json);
                        r = fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
                }
        }
        for (unsigned i = 0; i < k; i++)
                run_row_done(&rows[i]);
        free(rows);
        sd_journal_close(j);
        return r;
}

/* The id of the job's last run (the newest entry with EVD_RUN=). */
static int last_run(sd_journal *j, unsigned long long *ret) {
        int r = sd_journal_seek_tail(j);
        while (r >= 0 && (r = sd_journal_previous(j)) > 0)
                if (field_u64(j, "EVD_RUN", ret))
                        return 1;
        return r;
}

int history_log_main(int argc, char **argv) {
        const char *dir = NULL;
        int idx, r;
        unsigned long long run = 0;

        r = parse_common(argc, argv, &ctl_commands[CTL_LOG], NULL, NULL, &dir, &idx);
        if (r >= 0)
                return r;
        const char *job = argv[idx];
        if (argc - idx == 2) {
                char *end;
                errno = 0;
                run = strtoull(argv[idx + 1], &end, 10);
                if (errno || *end || run == 0 || argv[idx + 1][0] == '-') {
                        fprintf(stderr, "evdctl log: \"%s\" is not a run id (see evdctl history %s)\n",
                                argv[idx + 1], job);
                        return CTL_EXIT_USAGE;
                }
        }
        sd_journal *j = NULL;
        if (open_journal(dir, &j) < 0)
                return EXIT_FAILURE;
        if (add_job_matches(j, job) < 0) {
                sd_journal_close(j);
                return EXIT_FAILURE;
        }
        if (run == 0 && last_run(j, &run) <= 0) {
                _cleanup_(freep) char *what = strdup_printf("runs of job \"%s\"", job);
                r = report_nothing(j, what ? what : "runs of that job");
                sd_journal_close(j);
                return r;
        }
        char m[64];
        snprintf(m, sizeof m, "EVD_RUN=%llu", run);
        bool found = false;
        r = sd_journal_add_match(j, m, 0);
        if (r >= 0)
                r = sd_journal_seek_head(j);
        while (r >= 0 && (r = sd_journal_next(j)) > 0) {
                found = true;
                const void *d;
                size_t len;
                if (sd_journal_get_data(j, "EVD_STREAM", &d, &len) < 0 ||
                    sd_journal_get_data(j, "MESSAGE", &d, &len) < 0)
                        continue;
                fwrite((const char *)d + 8, 1, len - 8, stdout);
                fputc('\n', stdout);
        }
        if (r < 0)
                fprintf(stderr, "evdctl: warning: reading the journal stopped early: %s\n", strerror(-r));
        if (!found) {
                _cleanup_(freep) char *what = strdup_printf("run %llu of job \"%s\"", run, job);
                r = report_nothing(j, what ? what : "such run");
        } else
                r = fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
        sd_journal_close(j);
        return r;
}
