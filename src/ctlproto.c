/* ctlproto.c - the command table (see ctlproto.h). */
#include "ctlproto.h"

#include <stdio.h>
#include <string.h>

const struct ctl_command ctl_commands[_CTL_COMMAND_MAX] = {
        [CTL_LIST] = { CTL_LIST, "list", 0, 0, CTL_DAEMON | CTL_JSON, "",
                       "the jobs: schedule, state, last run, result, next run" },
        [CTL_STATUS] = { CTL_STATUS, "status", 0, 1, CTL_DAEMON | CTL_JSON | CTL_TAKES_JOB, "[JOB]",
                         "evd's summary and every job's details, or one job's" },
        [CTL_RUN] = { CTL_RUN, "run", 1, 1, CTL_DAEMON | CTL_JSON | CTL_TAKES_JOB, "JOB",
                      "start JOB now (its overlap= policy applies)" },
        [CTL_NEXT] = { CTL_NEXT, "next", 1, 2, CTL_DAEMON | CTL_JSON | CTL_TAKES_JOB, "JOB [N]",
                       "JOB's next N run times (default 1, at most 100)" },
        [CTL_PAUSE] = { CTL_PAUSE, "pause", 1, 1, CTL_DAEMON | CTL_JSON | CTL_TAKES_JOB, "JOB",
                        "skip JOB's scheduled runs until resumed (kept across restarts)" },
        [CTL_RESUME] = { CTL_RESUME, "resume", 1, 1, CTL_DAEMON | CTL_JSON | CTL_TAKES_JOB, "JOB",
                         "schedule JOB's runs again" },
        [CTL_RELOAD] = { CTL_RELOAD, "reload", 0, 0, CTL_DAEMON | CTL_JSON, "",
                         "re-read the configuration; on errors keep the running one" },
        [CTL_STATS] = { CTL_STATS, "stats", 0, 0, CTL_DAEMON | CTL_JSON, "",
                        "evd's counters: runs, failures, loop events, requests" },
        [CTL_CALENDAR] = { CTL_CALENDAR, "calendar", 0, 0, CTL_JSON,
                           "[--iterations N] [--base-time TIME] [--timezone TZ] EXPR...",
                           "next elapses of calendar and cron:EXPR expressions (needs no evd)" },
        [CTL_HISTORY] = { CTL_HISTORY, "history", 1, 1, CTL_JSON | CTL_TAKES_JOB, "JOB [-n N] [-D DIR]",
                          "JOB's last N runs (default 10) from the journal (needs no evd)" },
        [CTL_LOG] = { CTL_LOG, "log", 1, 2, CTL_TAKES_JOB, "JOB [RUN] [-D DIR]",
                      "the output of JOB's last run (or run RUN) from the journal (needs no evd)" },
        [CTL_IMPORT_CRONTAB] = { CTL_IMPORT_CRONTAB, "import-crontab", 1, 1, 0, "[--user USER] FILE",
                                 "print a crontab's entries as evd.conf sections (needs no evd)" },
#ifdef EVD_TEST_HOOKS /* a build without them carries not even their names */
        [CTL_TEST_STALL] = { CTL_TEST_STALL, "test-stall", 1, 1, CTL_DAEMON | CTL_TEST_HOOK, "SECONDS",
                             "block evd's main loop (watchdog tests)" },
        [CTL_TEST_CLOCK_STEP] = { CTL_TEST_CLOCK_STEP, "test-clock-step", 1, 1, CTL_DAEMON | CTL_TEST_HOOK,
                                  "SECONDS", "step evd's view of the wall clock (clock tests)" },
#endif
        [CTL_CLUSTER] = { CTL_CLUSTER, "cluster", 0, 0, CTL_DAEMON | CTL_JSON, "",
                          "the cluster's nodes with live leases and the etcd endpoints' health" },
};

const struct ctl_command *ctl_command_find(const char *name) {
        for (size_t i = 0; i < _CTL_COMMAND_MAX; i++)
                if (ctl_commands[i].name && strcmp(ctl_commands[i].name, name) == 0)
                        return &ctl_commands[i];
        return NULL;
}

bool ctl_job_name_valid(const char *s) {
        if (!*s || strlen(s) > 255)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '.' || *s == '-'))
                        return false;
        return true;
}

bool ctl_parse_count(const char *s, unsigned *ret) {
        unsigned v = 0;
        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (unsigned)(*s - '0');
                if (v > CTL_NEXT_MAX)
                        return false;
        }
        if (v == 0)
                return false;
        *ret = v;
        return true;
}

int ctl_check_args(const struct ctl_command *c, char *const *args, size_t n) {
        unsigned count;
        if (n < c->min_args || n > c->max_args) {
                fprintf(stderr, "evdctl %s: %s\n", c->name,
                        n > c->max_args ? "too many arguments"
                        : (c->flags & CTL_TAKES_JOB) ? "a job name is needed" : "an argument is missing");
                return CTL_EXIT_USAGE;
        }
        if ((c->flags & CTL_TAKES_JOB) && n > 0 && !ctl_job_name_valid(args[0])) {
                fprintf(stderr, "evdctl: no such job: %s (job names are made of A-Z a-z 0-9 _ . -)\n", args[0]);
                return CTL_EXIT_NO_JOB;
        }
        if (c->id == CTL_NEXT && n == 2 && !ctl_parse_count(args[1], &count)) {
                fprintf(stderr, "evdctl %s: N must be a number from 1 to %d, not \"%s\"\n", c->name, CTL_NEXT_MAX,
                        args[1]);
                return CTL_EXIT_USAGE;
        }
        return 0;
}
