/* evdctl.c - the evd client: main() and a table of subcommands.
 *
 * For now only `evdctl calendar`, which needs no daemon: it parses calendar
 * and cron expressions and prints their normalised form and next elapses,
 * like `systemd-analyze calendar`. The control-socket commands join the
 * table later.
 *
 * Exit status: 0 success, 1 error, 2 usage. Single-threaded: it may set $TZ
 * for --timezone. */
#include "calendar.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>

#define EXIT_USAGE 2

struct command {
        const char *name;
        const char *args;
        const char *summary;
        int (*run)(int argc, char **argv);
};

static int cmd_calendar(int argc, char **argv);

static const struct command commands[] = {
        { "calendar", "[--iterations N] [--base-time TIME] [--timezone TZ] [--json] EXPR...",
          "show the normalised form and next elapses of calendar or cron:EXPR expressions", cmd_calendar },
};

static void usage(FILE *f) {
        fprintf(f, "Usage: evdctl [--help] [--version] COMMAND [ARGS...]\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args, commands[i].summary);
        fprintf(f, "\nSee evdctl(1).\n");
}

/* ---------- calendar ---------- */

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                case '\b': fputs("\\b", f); break;
                case '\f': fputs("\\f", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
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
        _cleanup_(calendar_freep) struct calendar_spec *spec = NULL;
        _cleanup_(freep) char *error = NULL, *norm = NULL;
        bool cron = startswith(expr, "cron:");
        usec_t now = now_usec(CLOCK_REALTIME), next = base;
        int r;

        r = cron ? calendar_parse_cron(expr + 5, &spec, &error) : calendar_parse(expr, &spec, &error);
        if (r < 0) {
                fprintf(stderr, "evdctl: %s\n", error ? error : strerror(-r));
                return r;
        }
        r = calendar_normalize(spec, &norm);
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
                if (calendar_is_reboot(spec))
                        printf(", \"reboot\": true");
                printf(", \"next\": [");
        } else {
                printf("%16s %s\n", "Original form:", expr);
                printf("%16s %s%s\n", "Normalized form:", cron ? "cron:" : "", norm);
        }

        for (unsigned i = 0; i < iterations; i++) {
                char buf[256];
                r = calendar_next(spec, tz, next, &next);
                if (r == -ENOENT) {
                        if (i == 0 && !json)
                                printf("%16s %s\n", "Next elapse:",
                                       calendar_is_reboot(spec) ? "never (runs once when evd starts)" : "never");
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
        bool json = false;
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
                if (!calendar_timezone_valid(tz)) {
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

/* ---------- main ---------- */

int main(int argc, char **argv) {
        int i;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                }
                if (streq(argv[i], "--version")) {
                        printf("evdctl %s\n", EVD_VERSION);
                        return 0;
                }
                if (streq(argv[i], "--")) {
                        i++;
                        break;
                }
                fprintf(stderr, "evdctl: unknown option \"%s\"\n", argv[i]);
                usage(stderr);
                return EXIT_USAGE;
        }
        if (i >= argc) {
                fprintf(stderr, "evdctl: no command given\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        for (size_t k = 0; k < ELEMENTSOF(commands); k++)
                if (streq(argv[i], commands[k].name))
                        return commands[k].run(argc - i, argv + i);
        fprintf(stderr, "evdctl: unknown command \"%s\"\n", argv[i]);
        usage(stderr);
        return EXIT_USAGE;
}
