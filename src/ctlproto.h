/* ctlproto.h - the control protocol's command table, shared by evd (which
 * looks up a request's handler by its id) and evdctl (which checks the
 * arguments and prints usage from the same entries). The table also holds
 * evdctl's client-side commands (no CTL_DAEMON: calendar; history and
 * log, which read the journal; import-crontab), so that evdctl lists and checks every
 * command the same way; evd refuses them. See control.h for the wire
 * format. Constant data; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum ctl_command_id {
        CTL_LIST,
        CTL_STATUS,
        CTL_RUN,
        CTL_NEXT,
        CTL_PAUSE,
        CTL_RESUME,
        CTL_RELOAD,
        CTL_STATS,
        CTL_CALENDAR,
        CTL_HISTORY,
        CTL_LOG,
        CTL_IMPORT_CRONTAB,
        CTL_TEST_STALL,
        CTL_TEST_CLOCK_STEP,
        CTL_CLUSTER,
        _CTL_COMMAND_MAX,
};

enum {
        CTL_DAEMON = 1u << 0,    /* a request to evd (else evdctl does it alone) */
        CTL_JSON = 1u << 1,      /* --json gives JSON */
        CTL_TAKES_JOB = 1u << 2, /* the first argument, when given, names a job */
        CTL_TEST_HOOK = 1u << 3, /* EVD_TEST_HOOKS builds only; not offered by evdctl */
};

/* Exit statuses (and the wire's reply codes) for a usage error and for a
 * job that does not exist. */
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_NO_JOB 3

/* The limit of `next JOB N`. */
#define CTL_NEXT_MAX 100

struct ctl_command {
        enum ctl_command_id id;
        const char *name;
        unsigned min_args, max_args;    /* words after the name */
        unsigned flags;
        const char *args;               /* usage: "JOB [N]" */
        const char *summary;            /* usage: one line */
};

extern const struct ctl_command ctl_commands[_CTL_COMMAND_MAX];

/* NULL when name is no command. */
const struct ctl_command *ctl_command_find(const char *name);
/* Job names are [A-Za-z0-9_.-]+, at most 255 bytes (SPEC.md). */
bool ctl_job_name_valid(const char *s);
/* `next`'s N: a decimal from 1 to CTL_NEXT_MAX. */
bool ctl_parse_count(const char *s, unsigned *ret);
/* evdctl's check of the words after a command's name (its arguments,
 * options taken out) against the command's entry: their number, the form
 * of a job name, next's N. 0 when they are fine; else reports the problem
 * on stderr ("evdctl NAME: ..." or "evdctl: no such job: ...") and returns
 * CTL_EXIT_USAGE (the caller then prints the command's usage) or
 * CTL_EXIT_NO_JOB. */
int ctl_check_args(const struct ctl_command *c, char *const *args, size_t n);
