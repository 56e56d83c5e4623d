/* evdctl.c - the evd client: main() and a table of subcommands.
 *
 * Four commands need no daemon (no CTL_DAEMON in the table): `evdctl
 * calendar` parses calendar and cron expressions and prints their
 * normalised form and next elapses, like `systemd-analyze calendar`;
 * `history` and `log` read the journal (history.c); `import-crontab`
 * converts a crontab (crontab_import.c). Every other command is one
 * request on evd's control socket (protocol in control.h): evdctl checks
 * the arguments, sends
 * "COMMAND ARGS [--json]", and prints the reply's body: on stdout when it
 * succeeded (or is JSON), on stderr otherwise. The daemon renders the text
 * and the JSON, so evdctl and evd never disagree on a format.
 *
 * The commands, their argument counts and usage come from the table evd
 * uses too (ctlproto.h). Global options (--socket, --json, --timeout,
 * --help) may come before or after the command. Exit status: 0 success, 1 error, 2 usage, 3 no such job, 4 evd
 * not reachable (no socket, nobody listening, or no reply in time).
 * Single-threaded: it may set $TZ for --timezone. */
#include "schedule.h"
#include "ctlclient.h"
#include "history.h"
#include "ctlproto.h"
#include "crontab_import.h"
#include "strbuf.h"
#include "timespan.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>

#define EXIT_ERROR 1
#define EXIT_USAGE CTL_EXIT_USAGE
#define EXIT_NO_JOB CTL_EXIT_NO_JOB
#define EXIT_UNREACHABLE 4

/* How long to wait for evd (connecting, sending, and its reply) unless
 * --timeout says otherwise: a reload of a large configuration is the
 * slowest request. */
#define REQUEST_TIMEOUT (60 * USEC_PER_SEC)

/* Global options, set by main() before a command runs. */
static const char *arg_socket;
static bool arg_json;
static usec_t arg_timeout = REQUEST_TIMEOUT;

static int cmd_calendar(int argc, char **argv);

/* What evdctl offers: the table's commands but the test hooks. */
static bool offered(const struct ctl_command *c) {
        return c->name && !(c->flags & CTL_TEST_HOOK);
}

static void usage(FILE *f) {
        fprintf(f, "Usage: evdctl [OPTIONS] COMMAND [ARGS...]\n\n"
                   "Control evd, the job scheduler, through its control socket.\n\nCommands:\n");
        for (size_t i = 0; i < _CTL_COMMAND_MAX; i++)
                if (offered(&ctl_commands[i]))
                        fprintf(f, "  %s%s%s\n      %s\n", ctl_commands[i].name, *ctl_commands[i].args ? " " : "",
                                ctl_commands[i].args, ctl_commands[i].summary);
        fprintf(f, "\nOptions (before or after the command):\n"
                   "  -s, --socket PATH  evd's control socket (default $EVD_SOCKET,\n"
                   "                     else /run/evd/control.sock)\n"
                   "  -j, --json         machine-readable output (JSON)\n"
                   "  -t, --timeout SPAN give up when evd has not answered within SPAN\n"
                   "                     (\"5s\", \"2min\"; default 60s)\n"
                   "  -h, --help         show this help\n"
                   "      --version      show evdctl's version\n\n"
                   "Exit status: 0 success, 1 error, 2 usage, 3 no such job, 4 evd not reachable.\n"
                   "See evdctl(1).\n");
}

/* ---------- calendar ---------- */

/* Through the JSON writer evd uses: what is not UTF-8 is escaped. */
static void json_string(FILE *f, const char *s) {
        struct strbuf b = { 0 };
        strbuf_json_string(&b, s);
        fputs(b.s && !b.oom ? b.s : "\"\"", f);
        strbuf_done(&b);
}

static bool parse_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if ((*p)[i] < '0' || (*p)[i] > '9')
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static bool parse_frac_usec(const char **p, long *ret) {
        long v = 0;
        int n = 0;
        if (**p != '.') {
                *ret = 0;
                return true;
        }
        (*p)++;
        for (; **p >= '0' && **p <= '9'; (*p)++, n++)
                if (n < 6)
                        v = v * 10 + (**p - '0');
        if (n == 0)
                return false;
        for (; n < 6; n++)
                v *= 10;
        *ret = v;
        return true;
}

/* TIME: "now", "@EPOCH[.frac]", "YYYY-MM-DD[ HH:MM[:SS[.frac]]]" in the zone
 * in use, or ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.frac]]" with "Z" or "+HH:MM". */
static int parse_time_arg(const char *s, usec_t *ret) {
        struct tm tm = { .tm_isdst = -1 };
        const char *p = s;
        long frac = 0;
        time_t t;

        if (streq(s, "now")) {
                *ret = now_usec(CLOCK_REALTIME);
                return 0;
        }
        if (*s == '@') {
                char *e;
                errno = 0;
                if (s[1] < '0' || s[1] > '9')
                        return -EINVAL;
                unsigned long long v = strtoull(s + 1, &e, 10);
                p = e;
                if (errno > 0 || !parse_frac_usec(&p, &frac) || *p != 0 || v > UINT64_MAX / USEC_PER_SEC - 1)
                        return -EINVAL;
                *ret = (usec_t)v * USEC_PER_SEC + (usec_t)frac;
                return 0;
        }
        if (!parse_digits(&p, 4, &tm.tm_year) || *p++ != '-' || !parse_digits(&p, 2, &tm.tm_mon) ||
            *p++ != '-' || !parse_digits(&p, 2, &tm.tm_mday))
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
                return -EINVAL;
        bool iso = false;
        if (*p == ' ' || *p == 'T') {
                iso = *p == 'T';
                p++;
                if (!parse_digits(&p, 2, &tm.tm_hour) || *p++ != ':' || !parse_digits(&p, 2, &tm.tm_min))
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (!parse_digits(&p, 2, &tm.tm_sec) || !parse_frac_usec(&p, &frac))
                                return -EINVAL;
                }
                if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
                        return -EINVAL;
        }
        long offset = 0;
        bool has_offset = false;
        if (iso && (*p == 'Z' || *p == 'z')) {
                has_offset = true;
                p++;
        } else if (iso && (*p == '+' || *p == '-')) {
                int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
                if (!parse_digits(&p, 2, &oh))
                        return -EINVAL;
                if (*p == ':')
                        p++;
                if (*p && !parse_digits(&p, 2, &om))
                        return -EINVAL;
                if (oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600L + om * 60L);
                has_offset = true;
        }
        if (*p != 0)
                return -EINVAL;
        if (has_offset)
                t = timegm(&tm) - offset;
        else
                t = mktime(&tm);
        if (t < 0)
                return -ERANGE;
        *ret = (usec_t)t * USEC_PER_SEC + (usec_t)frac;
        return 0;
}

static void format_plain(char *buf, size_t size, usec_t u, bool utc) {
        time_t t = (time_t)(u / USEC_PER_SEC);
        struct tm tm;
        char a[64], z[64];

        if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
                snprintf(buf, size, "(out of range)");
                return;
        }
        strftime(a, sizeof a, "%a %Y-%m-%d %H:%M:%S", &tm);
        if (utc)
                snprintf(z, sizeof z, "UTC");
        else
                strftime(z, sizeof z, "%Z", &tm);
        if (u % USEC_PER_SEC)
                snprintf(buf, size, "%s.%06llu %s", a, (unsigned long long)(u % USEC_PER_SEC), z);
        else
                snprintf(buf, size, "%s %s", a, z);
}

static void format_iso(char *buf, size_t size, usec_t u) {
        time_t t = (time_t)(u / USEC_PER_SEC);
        struct tm tm;
        char a[64], frac[16] = "", off[64];

        if (!localtime_r(&t, &tm)) {
                snprintf(buf, size, "?");
                return;
        }
        strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%S", &tm);
        if (u % USEC_PER_SEC)
                snprintf(frac, sizeof frac, ".%06llu", (unsigned long long)(u % USEC_PER_SEC));
        long g = tm.tm_gmtoff, ag = g < 0 ? -g : g;
        if (ag % 60)
                snprintf(off, sizeof off, "%c%02ld:%02ld:%02ld", g < 0 ? '-' : '+', ag / 3600, ag / 60 % 60, ag % 60);
        else
                snprintf(off, sizeof off, "%c%02ld:%02ld", g < 0 ? '-' : '+', ag / 3600, ag / 60 % 60);
        snprintf(buf, size, "%s%s%s", a, frac, off);
}

static void format_relative(char *buf, size_t size, usec_t when, usec_t now) {
        static const struct {
                const char *one, *many;
                usec_t usec;
        } units[] = {
                { " year", " years", 31557600 * USEC_PER_SEC }, { " month", " months", 2629800 * USEC_PER_SEC },
                { " day", " days", USEC_PER_DAY },               { "h", "h", USEC_PER_HOUR },
                { "min", "min", USEC_PER_MINUTE },              { "s", "s", USEC_PER_SEC },
        };
        usec_t d = when >= now ? when - now : now - when;
        size_t n = 0;
        int parts = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && parts < 2 && n < size; i++) {
                if (d < units[i].usec)
                        continue;
                unsigned long long k = d / units[i].usec;
                n += (size_t)snprintf(buf + n, size - n, "%s%llu%s", parts ? " " : "", k,
                                      k == 1 ? units[i].one : units[i].many);
                d %= units[i].usec;
                parts++;
        }
        if (parts == 0)
                snprintf(buf, size, "now");
        else if (n < size)
                snprintf(buf + n, size - n, when >= now ? " left" : " ago");
}

/* The zone in use never differs from UTC (no offset, no DST rules). */
static bool in_utc(void) {
        tzset();
        return timezone == 0 && daylight == 0;
}

static int show_one(const char *expr, const char *tz, usec_t base, unsigned iterations, bool json) {
        _cleanup_(schedule_freep) struct schedule *spec = NULL;
        _cleanup_(freep) char *error = NULL, *norm = NULL;
        bool cron = startswith(expr, "cron:");
        usec_t now = now_usec(CLOCK_REALTIME), next = base;
        int r;

        r = schedule_parse(cron ? SCHEDULE_SYNTAX_CRON : SCHEDULE_SYNTAX_CALENDAR, cron ? expr + 5 : expr, &spec,
                           &error);
        if (r < 0) {
                fprintf(stderr, "evdctl: %s\n", error ? error : strerror(-r));
                return r;
        }
        r = schedule_normalize(spec, &norm);
        if (r < 0) {
                fprintf(stderr, "evdctl: %s: %s\n", expr, strerror(-r));
                return r;
        }

        if (json) {
                printf("{\"expression\": ");
                json_string(stdout, expr);
                printf(", \"normalized\": ");
                if (cron) {
                        _cleanup_(freep) char *s = strdup_printf("cron:%s", norm);
                        if (!s)
                                return -ENOMEM;
                        json_string(stdout, s);
                } else
                        json_string(stdout, norm);
                if (schedule_is_reboot(spec))
                        printf(", \"reboot\": true");
                printf(", \"next\": [");
        } else {
                printf("%16s %s\n", "Original form:", expr);
                printf("%16s %s%s\n", "Normalized form:", cron ? "cron:" : "", norm);
        }

        for (unsigned i = 0; i < iterations; i++) {
                char buf[256];
                r = schedule_next(spec, tz, next, &next);
                if (r == -ENOENT) {
                        if (i == 0 && !json)
                                printf("%16s %s\n", "Next elapse:",
                                       schedule_is_reboot(spec) ? "never (runs once when evd starts)" : "never");
                        r = 0;
                        break;
                }
                if (r < 0) {
                        if (json) {
                                printf("], \"error\": ");
                                json_string(stdout, strerror(-r));
                                printf("}\n");
                        }
                        fprintf(stderr, "evdctl: cannot compute the next elapse of \"%s\": %s\n", expr,
                                r == -EDEADLK ? "the search got stuck at a daylight saving time change" : strerror(-r));
                        return r;
                }
                if (json) {
                        format_iso(buf, sizeof buf, next);
                        printf("%s\"%s\"", i ? ", " : "", buf);
                        continue;
                }
                char label[32];
                if (i == 0)
                        snprintf(label, sizeof label, "Next elapse:");
                else
                        snprintf(label, sizeof label, "Iteration #%u:", i + 1);
                format_plain(buf, sizeof buf, next, false);
                printf("%16s %s\n", label, buf);
                if (!in_utc()) {
                        format_plain(buf, sizeof buf, next, true);
                        printf("%16s %s\n", "(in UTC):", buf);
                }
                format_relative(buf, sizeof buf, next, now);
                printf("%16s %s\n", "From now:", buf);
        }
        if (json)
                printf("]}\n");
        return 0;
}

static void calendar_usage(FILE *f) {
        fprintf(f,
                "Usage: evdctl calendar [OPTIONS] EXPR...\n\n"
                "Show the normalised form and the next elapses of calendar expressions\n"
                "(systemd.time syntax) and cron expressions (prefixed with \"cron:\").\n\n"
                "  -n, --iterations N   show N elapses (default 1)\n"
                "  -b, --base-time TIME compute elapses after TIME (default now): @EPOCH,\n"
                "                       \"YYYY-MM-DD HH:MM[:SS]\" or ISO 8601 with an offset\n"
                "  -z, --timezone TZ    evaluate and show times in zone TZ\n"
                "  -j, --json           one JSON object per expression and line\n"
                "  -h, --help           show this help\n");
}

static int cmd_calendar(int argc, char **argv) {
        static const struct option options[] = {
                { "iterations", required_argument, NULL, 'n' },
                { "base-time", required_argument, NULL, 'b' },
                { "timezone", required_argument, NULL, 'z' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *base_arg = NULL, *tz = NULL;
        unsigned long iterations = 1;
        bool json = arg_json;
        usec_t base;
        int c, ret = 0;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "n:b:z:jh", options, NULL)) >= 0) {
                switch (c) {
                case 'n': {
                        char *e;
                        errno = 0;
                        iterations = strtoul(optarg, &e, 10);
                        if (errno > 0 || *e || e == optarg || optarg[0] == '-' || iterations < 1 ||
                            iterations > 100000) {
                                fprintf(stderr, "evdctl calendar: bad --iterations \"%s\" (1..100000)\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 'b': base_arg = optarg; break;
                case 'z': tz = optarg; break;
                case 'j': json = true; break;
                case 'h': calendar_usage(stdout); return 0;
                default:
                        if (optopt)
                                fprintf(stderr, "evdctl calendar: bad or incomplete option -%c\n", optopt);
                        else
                                fprintf(stderr, "evdctl calendar: unknown option \"%s\"\n", argv[optind - 1]);
                        calendar_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "evdctl calendar: no expression given\n");
                calendar_usage(stderr);
                return EXIT_USAGE;
        }
        if (tz) {
                if (!schedule_timezone_valid(tz)) {
                        fprintf(stderr, "evdctl calendar: unknown time zone \"%s\"\n", tz);
                        return EXIT_USAGE;
                }
                /* the zone in use for parsing base times, abbreviations and output */
                if (setenv("TZ", tz, 1) < 0) {
                        perror("evdctl: setenv");
                        return 1;
                }
        }
        tzset();
        if (base_arg) {
                if (parse_time_arg(base_arg, &base) < 0) {
                        fprintf(stderr, "evdctl calendar: bad --base-time \"%s\"\n", base_arg);
                        return EXIT_USAGE;
                }
        } else
                base = now_usec(CLOCK_REALTIME);

        for (int i = optind; i < argc; i++) {
                if (!json && i > optind)
                        putchar('\n');
                if (show_one(argv[i], tz, base, (unsigned)iterations, json) < 0)
                        ret = 1;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                perror("evdctl: stdout");
                return 1;
        }
        return ret;
}

/* ---------- daemon commands ---------- */

static void command_usage(FILE *f, const struct ctl_command *c) {
        fprintf(f, "Usage: evdctl [--socket PATH] [--json] %s%s%s\n      %s\n", c->name, *c->args ? " " : "", c->args,
                c->summary);
}

static int report_unreachable(const char *path, int r) {
        char span[TIMESPAN_MAX];
        switch (r) {
        case -EACCES:
        case -EPERM:
                fprintf(stderr,
                        "evdctl: cannot use evd at %s: %s (only root and members of evd's control_group may use it)\n",
                        path, strerror(-r));
                return EXIT_ERROR;
        case -ETIMEDOUT:
                fprintf(stderr, "evdctl: evd at %s did not answer within %s (see --timeout)\n", path,
                        timespan_format(span, sizeof span, arg_timeout));
                return EXIT_UNREACHABLE;
        case -EPROTO:
                fprintf(stderr, "evdctl: unexpected reply from %s (is it evd's control socket?)\n", path);
                return EXIT_ERROR;
        case -ENAMETOOLONG:
                fprintf(stderr, "evdctl: socket path too long: %s\n", path);
                return EXIT_USAGE;
        case -ENOMEM:
                fprintf(stderr, "evdctl: out of memory\n");
                return EXIT_ERROR;
        default:
                fprintf(stderr, "evdctl: cannot reach evd at %s: %s (is evd running?)\n", path, strerror(-r));
                return EXIT_UNREACHABLE;
        }
}

/* Sends the request and prints the reply. The reply's code is the exit
 * status; a failure's text goes to stderr, JSON always to stdout. */
static int daemon_request(const char *request) {
        const char *path = arg_socket ? arg_socket : ctl_default_socket();
        _cleanup_(freep) char *body = NULL;
        int code = 0;

        int r = ctl_request(path, request, arg_timeout, &code, &body);
        if (r < 0)
                return report_unreachable(path, r);
        if (code < 0 || code > EXIT_NO_JOB)
                code = EXIT_ERROR;
        size_t len = strlen(body);
        if (code == 0 || (arg_json && body[0] == '{')) {
                if (fwrite(body, 1, len, stdout) != len || fflush(stdout) != 0) {
                        fprintf(stderr, "evdctl: stdout: %s\n", strerror(errno));
                        return EXIT_ERROR;
                }
                return code;
        }
        /* One line: "evdctl: " and it. Several (reload errors, as
         * PATH:LINE: message): as they are. */
        char *nl = strchr(body, '\n');
        bool one_line = !nl || nl[1] == '\0';
        fprintf(stderr, "%s%s%s", one_line ? "evdctl: " : "", body, len && body[len - 1] == '\n' ? "" : "\n");
        return code;
}

static int run_daemon_command(const struct ctl_command *c, char **args, size_t n_args) {
        int k = ctl_check_args(c, args, n_args);
        if (k != 0) {
                if (k == EXIT_USAGE)
                        command_usage(stderr, c);
                return k;
        }

        struct strbuf req = { 0 };
        strbuf_puts(&req, c->name);
        for (size_t i = 0; i < n_args; i++) {
                strbuf_puts(&req, " ");
                strbuf_puts(&req, args[i]);
        }
        if (arg_json)
                strbuf_puts(&req, " --json");
        if (req.oom) {
                strbuf_done(&req);
                fprintf(stderr, "evdctl: out of memory\n");
                return EXIT_ERROR;
        }
        int r = daemon_request(req.s);
        strbuf_done(&req);
        return r;
}

/* The commands evdctl does alone; they parse their own options and check
 * their arguments against the table. argv[0] is the command's name. */
static int run_client_command(const struct ctl_command *c, int argc, char **argv) {
        switch (c->id) {
        case CTL_CALENDAR:
                return cmd_calendar(argc, argv);
        case CTL_HISTORY:
                return history_main(argc, argv, arg_json);
        case CTL_LOG:
                return history_log_main(argc, argv);
        case CTL_IMPORT_CRONTAB:
                return crontab_import_main(argc, argv);
        default:
                fprintf(stderr, "evdctl: %s is not a command evdctl runs by itself\n", c->name);
                return EXIT_ERROR;
        }
}

/* ---------- main ---------- */

/* A global option at argv[*i]: OPT_TAKEN (and *i advanced past its
 * argument), OPT_NONE when argv[*i] is not one, OPT_HELP, OPT_VERSION, or
 * OPT_BAD (reported) for a missing argument. */
enum { OPT_NONE, OPT_TAKEN, OPT_HELP, OPT_VERSION, OPT_BAD };

static int global_option(int argc, char **argv, int *i) {
        const char *a = argv[*i];
        if (streq(a, "-j") || streq(a, "--json")) {
                arg_json = true;
                return OPT_TAKEN;
        }
        if (streq(a, "-s") || streq(a, "--socket")) {
                if (*i + 1 >= argc || !*argv[*i + 1]) {
                        fprintf(stderr, "evdctl: %s needs a path\n", a);
                        return OPT_BAD;
                }
                arg_socket = argv[++*i];
                return OPT_TAKEN;
        }
        if (startswith(a, "--socket=")) {
                arg_socket = a + strlen("--socket=");
                if (!*arg_socket) {
                        fprintf(stderr, "evdctl: --socket needs a path\n");
                        return OPT_BAD;
                }
                return OPT_TAKEN;
        }
        if (streq(a, "-t") || streq(a, "--timeout") || startswith(a, "--timeout=")) {
                const char *v = startswith(a, "--timeout=") ? a + strlen("--timeout=") : NULL;
                if (!v && *i + 1 < argc)
                        v = argv[++*i];
                usec_t t;
                if (!v || timespan_parse(v, &t) < 0 || t == 0 || t == USEC_INFINITY) {
                        fprintf(stderr, "evdctl: %s needs a time span such as 5s or 2min, not \"%s\"\n", a,
                                v ? v : "");
                        return OPT_BAD;
                }
                arg_timeout = t;
                return OPT_TAKEN;
        }
        if (streq(a, "-h") || streq(a, "--help"))
                return OPT_HELP;
        if (streq(a, "--version"))
                return OPT_VERSION;
        return OPT_NONE;
}

int main(int argc, char **argv) {
        const struct ctl_command *cmd = NULL;
        int i;

        for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
                if (streq(argv[i], "--")) {
                        i++;
                        break;
                }
                switch (global_option(argc, argv, &i)) {
                case OPT_TAKEN: continue;
                case OPT_HELP: usage(stdout); return 0;
                case OPT_VERSION: printf("evdctl %s\n", EVD_VERSION); return 0;
                case OPT_BAD: usage(stderr); return EXIT_USAGE;
                default:
                        fprintf(stderr, "evdctl: unknown option \"%s\"\n", argv[i]);
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                fprintf(stderr, "evdctl: no command given\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        cmd = ctl_command_find(argv[i]);
        if (!cmd || !offered(cmd)) {
                fprintf(stderr, "evdctl: unknown command \"%s\"\n", argv[i]);
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!(cmd->flags & CTL_DAEMON))
                return run_client_command(cmd, argc - i, argv + i);

        /* The rest: the command's words, with global options allowed among
         * them; after "--" everything is a word. */
        _cleanup_(freep) char **args = calloc((size_t)argc, sizeof(char *));
        size_t n_args = 0;
        bool words_only = false;
        if (!args) {
                fprintf(stderr, "evdctl: out of memory\n");
                return EXIT_ERROR;
        }
        for (i++; i < argc; i++) {
                if (!words_only && cmd->id == CTL_METRICS && streq(argv[i], "--openmetrics")) {
                        args[n_args++] = argv[i]; /* the command's own option, sent as a word */
                        continue;
                }
                if (!words_only && argv[i][0] == '-' && argv[i][1]) {
                        if (streq(argv[i], "--")) {
                                words_only = true;
                                continue;
                        }
                        switch (global_option(argc, argv, &i)) {
                        case OPT_TAKEN: continue;
                        case OPT_HELP: command_usage(stdout, cmd); return 0;
                        case OPT_VERSION: printf("evdctl %s\n", EVD_VERSION); return 0;
                        case OPT_BAD: command_usage(stderr, cmd); return EXIT_USAGE;
                        default:
                                fprintf(stderr, "evdctl %s: unknown option \"%s\"\n", cmd->name, argv[i]);
                                command_usage(stderr, cmd);
                                return EXIT_USAGE;
                        }
                }
                args[n_args++] = argv[i];
        }
        return run_daemon_command(cmd, args, n_args);
}
