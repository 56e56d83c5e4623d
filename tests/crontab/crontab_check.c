/* crontab_check - the reader's verdict on crontab files, one line each,
 * for the differential test against Debian's cron (test_cron_diff.py):
 *
 *   crontab_check system DIR     every file of a /etc/cron.d-like DIR
 *   crontab_check file PATH      one system-format file (/etc/crontab)
 *   crontab_check users DIR      a spool: each file the table of its name
 *   crontab_check entry PATH     the second entry of a system-format file:
 *                                "input<TAB>HEX" (its stdin; "-" for none),
 *                                then "env<TAB>NAME=value" per variable
 *   crontab_check entries PATH...  every entry of system-format files and
 *                                /etc/cron.d-like directories (in readdir
 *                                order), one line each:
 *                                "NAME<TAB>SCHEDULE<TAB>TZ<TAB>USER<TAB>FILE:LINE"
 *                                (TZ "-" without CRON_TZ); for the
 *                                move-from-cron test (tests/systemd/)
 *
 * Prints "NAME<TAB>VERDICT<TAB>DETAIL": VERDICT is "ok" (loaded without
 * errors; DETAIL the number of entries), "errors" (DETAIL the first),
 * "refused" (the file rules; DETAIL the reason) or "skipped" (a name a
 * cron.d directory does not read). */
#include "crontab.h"

#include <dirent.h>
#include <fcntl.h>

static void verdict(int dirfd, const char *name, const struct crontab_options *o) {
        struct crontab *c = NULL;
        char *why = NULL;
        int r = crontab_load(dirfd, name, NULL, o, &c, &why);
        if (r < 0)
                printf("%s\trefused\t%s\n", name, why ? why : strerror(-r));
        else if (c->n_errors > 0)
                printf("%s\terrors\t%s\n", name, c->errors[0]);
        else
                printf("%s\tok\t%zu\n", name, c->n_entries);
        crontab_free(c);
        free(why);
}

static void entries_of(int dirfd, const char *name, const char *display, const struct crontab_options *o) {
        struct crontab *c = NULL;
        if (crontab_load(dirfd, name, display, o, &c, NULL) < 0)
                return;
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct crontab_entry *e = &c->entries[i];
                printf("%s\t%s\t%s\t%s\t%s:%u\n", e->name, e->schedule, e->timezone ? e->timezone : "-", e->user,
                       display, e->line);
        }
        crontab_free(c);
}

static int entries(char **paths, const struct crontab_options *o) {
        for (char **p = paths; *p; p++) {
                DIR *d = opendir(*p);
                if (!d) {
                        entries_of(AT_FDCWD, *p, *p, o);
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        if (!crontab_dir_name_valid(de->d_name))
                                continue;
                        char *display = strdup_printf("%s/%s", *p, de->d_name);
                        if (!display)
                                return 1;
                        entries_of(dirfd(d), de->d_name, display, o);
                        free(display);
                }
                closedir(d);
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && streq(argv[1], "entries")) {
                struct crontab_options o = { .format = CRONTAB_SYSTEM, .lookup = crontab_lookup_passwd };
                return entries(argv + 2, &o);
        }
        if (argc != 3) {
                fprintf(stderr, "usage: crontab_check system|file|users|entry PATH, or entries PATH...\n");
                return 2;
        }
        struct crontab_options o = { .format = CRONTAB_SYSTEM, .lookup = crontab_lookup_passwd };
        if (streq(argv[1], "entry")) {
                struct crontab *c = NULL;
                char **env = NULL;
                if (crontab_load(AT_FDCWD, argv[2], NULL, &o, &c, NULL) < 0 || c->n_entries < 2 ||
                    crontab_entry_environment(&c->entries[1], &env) < 0)
                        return 1;
                printf("input\t");
                for (const char *i = c->entries[1].input; i && *i; i++)
                        printf("%02x", (unsigned char)*i);
                printf("%s\n", c->entries[1].input ? "" : "-");
                for (char **e = env; *e; e++)
                        printf("env\t%s\n", *e);
                strv_free(env);
                crontab_free(c);
                return 0;
        }
        if (streq(argv[1], "file")) {
                verdict(AT_FDCWD, argv[2], &o);
                return 0;
        }
        bool users = streq(argv[1], "users");
        DIR *d = opendir(argv[2]);
        if (!d) {
                perror(argv[2]);
                return 1;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                        continue;
                if (users) {
                        o.format = CRONTAB_USER;
                        o.user = de->d_name;
                } else if (!crontab_dir_name_valid(de->d_name)) {
                        printf("%s\tskipped\tname\n", de->d_name);
                        continue;
                }
                verdict(dirfd(d), de->d_name, &o);
        }
        closedir(d);
        return 0;
}
