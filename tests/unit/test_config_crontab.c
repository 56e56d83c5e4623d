/* Unit tests for config_crontab.c: [crontabs] keys, crontab entries as job
 * definitions (name, file:line, argv, stdin, environment, user, zone,
 * [crontabs]' options), warnings that are not errors, name collisions,
 * user tables, and a reload's previous version of an unreadable table.
 * The tables are written to a temporary directory (never /etc). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "schedule.h"

static char dir[64];

static void write_file(const char *name, const char *text, mode_t mode) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static void make_dir(const char *name) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/evd-test-crontab.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* evd.conf text with DIR replaced by the temporary directory. */
static struct config *load(const char *conf, const struct config *base, char ***errors) {
        char text[4096], path[256], *o = text;
        for (const char *s = conf; *s; s++)
                if (strncmp(s, "DIR", 3) == 0) {
                        o += sprintf(o, "%s", dir);
                        s += 2;
                } else
                        *o++ = *s;
        *o = 0;
        snprintf(path, sizeof path, "%s/evd.conf", dir);
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        chmod(path, 0644);
        struct config *c = NULL;
        int r = config_load_base(path, base, &c, errors, NULL);
        for (char **e = errors ? *errors : NULL; e && *e; e++)
                fprintf(stderr, "  error: %s\n", *e);
        return r < 0 ? NULL : c;
}

static bool has_warning(const struct config *c, const char *substr) {
        for (char **w = c->crontabs->warnings; w && *w; w++)
                if (strstr(*w, substr))
                        return true;
        return false;
}

static const char *env_get(const struct job_def *d, const char *name) {
        size_t n = strlen(name);
        for (char **e = d->extras->environment; e && *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* The job defined at file:line, or NULL. */
static const struct job_def *job_at(const struct config *c, const char *file, unsigned line) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        for (size_t i = 0; i < c->n_jobs; i++)
                if (streq(c->jobs[i]->file, path) && c->jobs[i]->line == line)
                        return c->jobs[i];
        return NULL;
}

static const char system_table[] = "SHELL=/bin/bash\n"
                                   "FOO = bar baz\n"
                                   "17 * * * * root cd / && run-parts /etc/cron.hourly\n"
                                   "* * * * * root cat > /tmp/x%line one%line two\n"
                                   "not an entry\n"
                                   "CRON_TZ=Europe/Berlin\n"
                                   "@reboot root echo boot\n";

START_TEST(test_system_entries) {
        write_file("crontab", system_table, 0644);
        char **errors = NULL;
        struct config *c = load("[crontabs]\nsystem = DIR/crontab\ntimeout = 1h\nretries = 2\n"
                                "[job:mine]\ncommand = /bin/true\nevery = 1h\n",
                                NULL, &errors);
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_null(errors);
        ck_assert_uint_eq(c->n_jobs, 4);
        ck_assert_uint_eq(c->crontabs->n_jobs, 3);
        ck_assert(has_warning(c, "/crontab:5: "));
        ck_assert_uint_eq(strv_length(c->crontabs->warnings), 1);

        const struct job_def *d = job_at(c, "crontab", 3);
        ck_assert_ptr_nonnull(d);
        ck_assert(startswith(d->name, "crontab-"));
        ck_assert(d->extras->crontab);
        ck_assert_int_eq(d->schedule, SCHEDULE_CRON);
        ck_assert_str_eq(d->schedule_text, "17 * * * *");
        ck_assert_str_eq(d->command, "cd / && run-parts /etc/cron.hourly");
        ck_assert_str_eq(d->argv[0], "/bin/bash");
        ck_assert_str_eq(d->argv[1], "-c");
        ck_assert_str_eq(d->argv[2], d->command);
        ck_assert_ptr_null(d->argv[3]);
        ck_assert_str_eq(d->extras->user, "root");
        ck_assert_uint_eq(d->extras->uid, 0);
        ck_assert_ptr_null(d->extras->timezone);
        ck_assert_str_eq(env_get(d, "PATH"), "/usr/bin:/bin");
        ck_assert_str_eq(env_get(d, "SHELL"), "/bin/bash");
        ck_assert_str_eq(env_get(d, "FOO"), "bar baz");
        ck_assert_str_eq(env_get(d, "LOGNAME"), "root");
        ck_assert_ptr_nonnull(env_get(d, "HOME"));
        ck_assert_uint_eq(d->timeout, 3600 * USEC_PER_SEC);
        ck_assert_uint_eq(d->retries, 2);
        ck_assert_int_eq(d->overlap, OVERLAP_PARALLEL); /* cron's default */

        d = job_at(c, "crontab", 4); /* % input: fed by printf, the command through SHELL -c */
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(d->command, "cat > /tmp/x");
        ck_assert_str_eq(d->argv[0], "/bin/sh");
        ck_assert_str_eq(d->argv[3], "/bin/bash");
        ck_assert_str_eq(d->argv[4], "cat > /tmp/x");
        ck_assert_str_eq(d->argv[5], "line one\nline two\n");
        ck_assert_ptr_null(d->argv[6]);

        d = job_at(c, "crontab", 7);
        ck_assert_ptr_nonnull(d);
        ck_assert(schedule_is_reboot(d->calendar));
        ck_assert_str_eq(d->extras->timezone, "Europe/Berlin");
        ck_assert_ptr_nonnull(config_find_job(c, "mine"));
        ck_assert(!config_find_job(c, "mine")->extras->crontab);
        config_free(c);
}
END_TEST

/* The feeder really gives the command its input, byte for byte. */
START_TEST(test_stdin_feeder) {
        char text[512];
        snprintf(text, sizeof text, "* * * * * root cat > %s/out%%a\\%%b%%c 'd' \\\\n $HOME\n", dir);
        write_file("crontab", text, 0644);
        struct config *c = load("[crontabs]\nsystem = DIR/crontab\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 1);
        const struct job_def *d = c->jobs[0];
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open("/dev/null", O_RDONLY);
                dup2(fd, 0);
                execv(d->argv[0], d->argv);
                _exit(127);
        }
        int st = 0;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char path[256], got[256] = { 0 };
        snprintf(path, sizeof path, "%s/out", dir);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(got, 1, sizeof got - 1, f);
        fclose(f);
        ck_assert_uint_eq(n, strlen("a%b\nc 'd' \\\\n $HOME\n"));
        ck_assert_str_eq(got, "a%b\nc 'd' \\\\n $HOME\n");
        config_free(c);
}
END_TEST

START_TEST(test_directory_and_collision) {
        make_dir("cron.d");
        write_file("cron.d/sysstat", "5-55/10 * * * * root debian-sa1 1 1\n", 0644);
        write_file("cron.d/sysstat.dpkg-old", "5 * * * * root old\n", 0644);
        write_file("cron.d/loose", "5 * * * * root loose\n", 0664);
        struct config *c = load("[crontabs]\nsystem = DIR/cron.d\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 1);
        ck_assert(startswith(c->jobs[0]->name, "sysstat-"));
        ck_assert(has_warning(c, "loose: writable by group or others"));
        char name[160], conf[512];
        snprintf(name, sizeof name, "%s", c->jobs[0]->name);
        config_free(c);

        /* evd.conf's job keeps the name; the entry is refused, not fatal. */
        snprintf(conf, sizeof conf, "[crontabs]\nsystem = DIR/cron.d\n[job:%s]\ncommand = /bin/true\nevery = 1h\n",
                 name);
        c = load(conf, NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 1);
        ck_assert(!c->jobs[0]->extras->crontab);
        ck_assert(has_warning(c, "is taken by"));
        config_free(c);
}
END_TEST

START_TEST(test_user_tables) {
        make_dir("spool");
        write_file("spool/root", "MAILTO=\"\"\n0 3 * * * echo mine\n", 0600);
        write_file("spool/evd-no-such-user", "0 3 * * * echo theirs\n", 0600);
        write_file("spool/tmp.XXXXabc", "0 3 * * * echo temporary\n", 0600);
        struct config *c = load("[crontabs]\nusers = DIR/spool\noverlap = skip\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 1);
        const struct job_def *d = c->jobs[0];
        ck_assert(startswith(d->name, "root-"));
        ck_assert_str_eq(d->extras->user, "root");
        ck_assert_str_eq(d->command, "echo mine");
        ck_assert_int_eq(d->overlap, OVERLAP_SKIP);
        ck_assert(has_warning(c, "unknown user \"evd-no-such-user\""));
        ck_assert(!has_warning(c, "tmp."));
        config_free(c);

        /* Mode 0644 is refused in the spool. */
        write_file("spool/root", "0 3 * * * echo mine\n", 0644);
        c = load("[crontabs]\nusers = DIR/spool\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 0);
        ck_assert(has_warning(c, "mode is not 0600"));
        config_free(c);
}
END_TEST

/* A reload: an unreadable table keeps its previous version, a removed one
 * goes, an unchanged one says so. */
START_TEST(test_previous_version) {
        const char *conf = "[crontabs]\nsystem = DIR/crontab DIR/other\n";
        write_file("crontab", "0 1 * * * root one\n0 2 * * * root two\n", 0644);
        write_file("other", "0 3 * * * root three\n", 0644);
        struct config *base = load(conf, NULL, NULL);
        ck_assert_ptr_nonnull(base);
        ck_assert_uint_eq(base->n_jobs, 3);
        ck_assert(base->crontabs->files[0].changed);

        struct config *same = load(conf, base, NULL);
        ck_assert_ptr_nonnull(same);
        ck_assert(!same->crontabs->files[0].changed && !same->crontabs->files[1].changed);
        ck_assert_uint_eq(same->files_digest, base->files_digest);
        config_free(same);

        write_file("crontab", "0 1 * * * root one changed\n", 0666); /* refused: writable by others */
        char path[256];
        snprintf(path, sizeof path, "%s/other", dir);
        ck_assert_int_eq(unlink(path), 0);
        struct config *c = load(conf, base, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 2); /* the previous two; "other" is gone */
        ck_assert(has_warning(c, "previous version keeps running"));
        ck_assert_ptr_nonnull(job_at(c, "crontab", 2));
        ck_assert_str_eq(job_at(c, "crontab", 1)->command, "one");
        config_free(c);

        c = load(conf, NULL, NULL); /* no running version: not loaded */
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 0);
        config_free(c);
        config_free(base);
}
END_TEST

/* MAILTO mails the output (mail_on = output); "" turns mail off; the
 * alert keys of [crontabs] reach every entry; an invalid MAILTO warns. */
START_TEST(test_mailto_and_alerts) {
        write_file("crontab",
                   "0 1 * * * root none\n"
                   "MAILTO=ops@example.com, root\n"
                   "0 2 * * * root mailed\n"
                   "0 3 * * * root mailed too\n"
                   "MAILTO=\"\"\n"
                   "0 4 * * * root off\n"
                   "MAILTO=bad address\n"
                   "0 5 * * * root bad\n"
                   "0 6 * * * root bad too\n",
                   0644);
        struct config *c = load("[crontabs]\nsystem = DIR/crontab\non_failure = /bin/true hook\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->n_jobs, 6);
        ck_assert_uint_eq(strv_length(c->crontabs->warnings), 1); /* one for the two entries under it */
        struct job_alerts a;
        job_def_alerts(job_at(c, "crontab", 1), &a);
        ck_assert_ptr_null(a.mail_to_list);
        ck_assert_str_eq(a.on_failure.argv[0], "/bin/true");
        ck_assert_str_eq(a.on_failure.argv[1], "hook");

        const struct job_def *d = job_at(c, "crontab", 3);
        job_def_alerts(d, &a);
        ck_assert_ptr_nonnull(a.mail_to_list);
        ck_assert_str_eq(a.mail_to_list[0], "ops@example.com");
        ck_assert_str_eq(a.mail_to_list[1], "root");
        ck_assert_ptr_null(a.mail_to_list[2]);
        ck_assert_int_eq(a.mail_on, MAIL_ON_OUTPUT);
        ck_assert_ptr_nonnull(a.on_failure.argv);
        ck_assert_ptr_eq(d->extras->alerts, job_at(c, "crontab", 4)->extras->alerts); /* one block */

        job_def_alerts(job_at(c, "crontab", 6), &a);
        ck_assert_ptr_null(a.mail_to_list);
        ck_assert_str_eq(a.mail_to, "");

        job_def_alerts(job_at(c, "crontab", 8), &a);
        ck_assert_ptr_null(a.mail_to_list);
        ck_assert(has_warning(c, "crontab:8: MAILTO=bad address: "));
        config_free(c);

        /* [daemon] mail_to= with MAILTO="": off for that entry only. */
        c = load("[daemon]\nmail_to = admin@example.com\n[crontabs]\nsystem = DIR/crontab\nmail_on = always\n",
                 NULL, NULL);
        ck_assert_ptr_nonnull(c);
        job_def_alerts(job_at(c, "crontab", 1), &a);
        ck_assert_str_eq(a.mail_to_list[0], "admin@example.com");
        ck_assert_int_eq(a.mail_on, MAIL_ON_ALWAYS);
        job_def_alerts(job_at(c, "crontab", 6), &a);
        ck_assert_ptr_null(a.mail_to_list);
        job_def_alerts(job_at(c, "crontab", 3), &a);
        ck_assert_int_eq(a.mail_on, MAIL_ON_ALWAYS); /* [crontabs]' mail_on= wins over MAILTO's output */
        config_free(c);
}
END_TEST

START_TEST(test_section_errors) {
        char **errors = NULL;
        ck_assert_ptr_null(load("[crontabs]\nsystem = relative/path\n", NULL, &errors));
        ck_assert(strstr(errors[0], "must be absolute"));
        strv_free(errors);
        errors = NULL;
        ck_assert_ptr_null(load("[crontabs]\n[crontabs]\n", NULL, &errors));
        ck_assert(strstr(errors[0], "[crontabs] given twice"));
        strv_free(errors);
        errors = NULL;
        ck_assert_ptr_null(load("[crontabs]\nshell = yes\n", NULL, &errors));
        ck_assert(strstr(errors[0], "unknown key \"shell\" in [crontabs]"));
        strv_free(errors);
        errors = NULL;
        ck_assert_ptr_null(load("[crontabs]\noverlap = sometimes\n", NULL, &errors));
        ck_assert(strstr(errors[0], "invalid overlap policy"));
        strv_free(errors);
        /* A missing table is a warning: it is read when it appears. */
        struct config *c = load("[crontabs]\nsystem = DIR/nothing\ntimeout = 0\n", NULL, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert(has_warning(c, "nothing: not found"));
        ck_assert_uint_eq(c->crontabs->defaults.timeout, 0);
        config_free(c);
}
END_TEST

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "skip: crontab file rules need root-owned files\n");
                return 77;
        }
        Suite *s = suite_create("config_crontab");
        TCase *tc = tcase_create("core");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_system_entries);
        tcase_add_test(tc, test_stdin_feeder);
        tcase_add_test(tc, test_directory_and_collision);
        tcase_add_test(tc, test_user_tables);
        tcase_add_test(tc, test_previous_version);
        tcase_add_test(tc, test_mailto_and_alerts);
        tcase_add_test(tc, test_section_errors);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
