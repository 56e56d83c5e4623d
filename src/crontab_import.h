/* crontab_import.h - `evdctl import-crontab`: a crontab turned into the
 * equivalent evd.conf [job:NAME] sections.
 *
 * Threads: any (it reads one file and writes to the given streams). */
#pragma once

#include <stdio.h>

/* Reads the crontab at path (system format when user is NULL: the sixth
 * field is the user; else the table of user) and prints one [job:NAME]
 * section per entry to out, in file order; what it could not convert (a
 * refused line, MAILTO, an environment name evd does not take)
 * goes to err, one "PATH:LINE: ..." line each. The owner and mode rules of
 * crontab_load() do not apply: the file may be a copy. Users must exist on
 * this machine (evd resolves user= when it loads the output).
 *
 * Returns 0 when every line was converted, 1 when something was left out
 * (out still holds the rest), or -errno when the file cannot be read
 * (reported on err). */
int crontab_import(const char *path, const char *user, FILE *out, FILE *err);

/* `evdctl import-crontab [--user USER] FILE` (argv[0] is "import-crontab"):
 * returns evdctl's exit status: 0 all converted, 1 something left out or
 * the file unreadable, 2 usage. */
int crontab_import_main(int argc, char **argv);
