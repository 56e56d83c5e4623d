/* history.h - `evdctl history` and `evdctl log`: a job's past runs and a
 * run's output, read from the journal with sd-journal, from the fields evd
 * writes (log.c, scheduler.c's end-of-run entry, output.c). Needs no
 * running evd.
 *
 * Client-side only (evdctl); single-threaded; keeps no state. */
#pragma once

#include <stdbool.h>

/* Exit status of history_main() and log_main() when the journal holds no
 * entry for what was asked (no run of the job, no such run, or nothing
 * from evd at all, e.g. evd logs to the console). 0, 1 (error), 2
 * (usage) and 3 (a job name no job can have) as for every evdctl command:
 * the arguments are checked against the command table (ctlproto.h,
 * CTL_HISTORY and CTL_LOG), which also gives the usage line. */
#define HISTORY_EXIT_NOTHING 5

/* evdctl history JOB [-n N] [--json] [-D DIR]: argv[0] is "history";
 * json: the default for --json (evdctl's global --json before the
 * command). */
int history_main(int argc, char **argv, bool json);

/* evdctl log JOB [RUN] [-D DIR]: argv[0] is "log". */
int history_log_main(int argc, char **argv);
