/* Unit tests for config.c: every error with its exact PATH:LINE, defaults,
 * the environment rule, command splitting, includes, permission checks and
 * line limits on real files, golden files (tests/data/config/NAME.conf ->
 * NAME.expected: the errors, or config_format()'s dump), the format round
 * trip, and the shipped conf/evd.conf.
 *
 * Golden files are compared exactly; EVD_UPDATE_GOLDEN=1 rewrites the
 * .expected files instead (review the diff before committing). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedule.h"
#include "config.h"
#include "etcd.h"

/* ---- helpers ------------------------------------------------------------ */

static struct config *load_ok(const char *text) {
        struct config *c = NULL;
        char **errors = NULL;
        int r = config_load_string(text, "t.conf", &c, &errors);
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "unexpected error: %s\n", *e);
        ck_assert_int_eq(r, 0);
        ck_assert_ptr_null(errors);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Joins a strv with newlines (each line ends in one). */
static char *join(char **v) {
        size_t n = 1;
        for (char **e = v; e && *e; e++)
                n += strlen(*e) + 1;
        char *s = malloc(n), *p = s;
        ck_assert_ptr_nonnull(s);
        for (char **e = v; e && *e; e++)
                p = stpcpy(stpcpy(p, *e), "\n");
        *p = 0;
        return s;
}

/* Loads text as `name` and checks that it fails with exactly these
 * errors (newline-separated, each line ending in "\n"). */
static void expect_errors_named(const char *text, const char *name, const char *expected) {
        struct config *c = NULL;
        char **errors = NULL;
        int r = config_load_string(text, name, &c, &errors);
        char *got = join(errors);
        if (r != -EINVAL || !streq(got, expected))
                fprintf(stderr, "--- input:\n%s\n--- expected:\n%s--- got (r=%d):\n%s", text, expected, r, got);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(got, expected);
        free(got);
        strv_free(errors);
}

static void expect_errors(const char *text, const char *expected) {
        expect_errors_named(text, "t.conf", expected);
}

static char *make_dir(void) {
        char tmpl[] = "/tmp/evd-test-config-XXXXXX";
        char *d = mkdtemp(tmpl);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(chmod(d, 0755), 0);
        return strdup(d);
}

static char *path_in(const char *dir, const char *name) {
        char *p = strdup_printf("%s/%s", dir, name);
        ck_assert_ptr_nonnull(p);
        return p;
}

static void write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, data, size), 0);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        close(fd);
}

static void write_text(const char *path, const char *text) {
        write_file(path, text, strlen(text), 0644);
}

/* config_load() on a real file: 0 and the config, or the errors joined. */
static int load_file(const char *path, struct config **ret, char **ret_errors) {
        char **errors = NULL;
        int r = config_load(path, ret, &errors);
        *ret_errors = join(errors);
        strv_free(errors);
        return r;
}

static void expect_file_errors(const char *path, const char *expected) {
        struct config *c = NULL;
        char *got = NULL;
        int r = load_file(path, &c, &got);
        if (r != -EINVAL || !streq(got, expected))
                fprintf(stderr, "--- %s expected:\n%s--- got (r=%d):\n%s", path, expected, r, got);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(got, expected);
        free(got);
}

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t n = 0;
        ck_assert_int_ge(getdelim(&buf, &n, 0, f), 0);
        fclose(f);
        return buf;
}

static void rm_rf(const char *dir) {
        char *cmd = strdup_printf("rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
}

#define JOB_NAME_MAX_TEST 128
#define JOB "[job:j]\ncommand = /bin/true\nevery = 1min\n"

/* ---- values --------------------------------------------------------------- */

START_TEST(test_defaults) {
        struct config *c = load_ok("[job:j]\ncommand = /bin/true\nevery = 1min\n");
        ck_assert_str_eq(c->path, "t.conf");
        ck_assert_uint_eq(c->workers, 4);
        ck_assert_uint_eq(c->shutdown_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->kill_grace, 5 * USEC_PER_SEC);
        ck_assert_ptr_null(c->state_directory);
        ck_assert_ptr_null(c->control_group);
        ck_assert_uint_eq(c->n_jobs, 1);

        const struct job_def *d = c->jobs[0];
        ck_assert_ptr_eq(d->config, c);
        ck_assert_uint_eq(c->refcount, 1);
        ck_assert_uint_eq(d->extras->limit_nofile, 0);
        ck_assert_str_eq(d->name, "j");
        ck_assert_str_eq(d->file, "t.conf");
        ck_assert_uint_eq(d->line, 1);
        ck_assert_str_eq(d->command, "/bin/true");
        ck_assert_uint_eq(strv_length(d->argv), 1);
        ck_assert_str_eq(d->argv[0], "/bin/true");
        ck_assert(!d->shell);
        ck_assert_int_eq(d->schedule, SCHEDULE_EVERY);
        ck_assert_uint_eq(d->every, USEC_PER_MINUTE);
        ck_assert_ptr_null(d->schedule_text);
        ck_assert_ptr_null(d->calendar);
        ck_assert_ptr_null(d->extras->timezone);
        ck_assert_uint_eq(d->jitter, 0);
        ck_assert(!d->persistent);
        ck_assert_uint_eq(d->timeout, USEC_INFINITY);
        ck_assert_int_eq(d->overlap, OVERLAP_SKIP);
        ck_assert_uint_eq(d->retries, 0);
        ck_assert_uint_eq(d->retry_delay, 30 * USEC_PER_SEC);
        ck_assert_ptr_null(d->extras->user);
        ck_assert_ptr_null(d->extras->group);
        ck_assert_ptr_null(d->extras->home);
        ck_assert_ptr_null(d->extras->working_directory);
        ck_assert_ptr_null(d->extras->environment);
        ck_assert(!d->extras->nice_set);
        ck_assert(d->enabled);
        config_free(c);

        /* No jobs at all is a valid configuration. */
        c = load_ok("");
        ck_assert_uint_eq(c->n_jobs, 0);
        config_free(c);
        c = load_ok("[daemon]\n");
        ck_assert_uint_eq(c->n_jobs, 0);
        config_free(c);
        ck_assert_ptr_null(config_free(NULL));
}
END_TEST

START_TEST(test_all_keys) {
        struct config *c = load_ok("[daemon]\n"
                                   "workers = 1024\n"
                                   "shutdown_timeout = infinity\n"
                                   "kill_grace = 0\n"
                                   "state_directory = /var/lib/x\n"
                                   "control_group = root\n"
                                   "[job:a.b-c_D9]\n"
                                   "command = /bin/echo hi\n"
                                   "calendar = Mon..Fri *-*-* 02:30:00\n"
                                   "timezone = Europe/Berlin\n"
                                   "jitter = 2min\n"
                                   "persistent = yes\n"
                                   "timeout = 1h 30min\n"
                                   "overlap = replace\n"
                                   "retries = 1000\n"
                                   "retry_delay = 500ms\n"
                                   "user = root\n"
                                   "group = daemon\n"
                                   "working_directory = /srv\n"
                                   "environment = LANG=C.UTF-8\n"
                                   "nice = -20\n"
                                   "limit_nofile = 1048576\n"
                                   "enabled = false\n"
                                   "[job:cron]\n"
                                   "command = x\n"
                                   "cron = 30 2 * * 1-5\n"
                                   "nice = 19\n"
                                   "limit_nofile = 1\n"
                                   "user = root\n"
                                   "overlap = queue\n"
                                   "[job:par]\n"
                                   "command = x\n"
                                   "cron = @reboot\n"
                                   "overlap = parallel\n"
                                   "group = root\n"
                                   "timeout = infinity\n");
        ck_assert_uint_eq(c->workers, 1024);
        ck_assert_uint_eq(c->shutdown_timeout, USEC_INFINITY);
        ck_assert_uint_eq(c->kill_grace, 0);
        ck_assert_str_eq(c->state_directory, "/var/lib/x");
        ck_assert_str_eq(c->control_group, "root");
        ck_assert_uint_eq(c->control_gid, 0);
        ck_assert_uint_eq(c->n_jobs, 3);

        const struct job_def *d = config_find_job(c, "a.b-c_D9");
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(d->schedule, SCHEDULE_CALENDAR);
        ck_assert_str_eq(d->schedule_text, "Mon..Fri *-*-* 02:30:00");
        ck_assert_ptr_nonnull(d->calendar);
        ck_assert_str_eq(d->extras->timezone, "Europe/Berlin");
        ck_assert_uint_eq(d->jitter, 2 * USEC_PER_MINUTE);
        ck_assert(d->persistent);
        ck_assert_uint_eq(d->timeout, 90 * USEC_PER_MINUTE);
        ck_assert_int_eq(d->overlap, OVERLAP_REPLACE);
        ck_assert_uint_eq(d->retries, 1000);
        ck_assert_uint_eq(d->retry_delay, 500 * USEC_PER_MSEC);
        ck_assert_str_eq(d->extras->user, "root");
        ck_assert_uint_eq(d->extras->uid, 0);
        ck_assert_str_eq(d->extras->group, "daemon");
        ck_assert_uint_eq(d->extras->gid, 1); /* group= wins over the user's primary group */
        ck_assert_str_eq(d->extras->home, "/root");
        ck_assert_ptr_nonnull(d->extras->shell_path);
        ck_assert_str_eq(d->extras->working_directory, "/srv");
        ck_assert_uint_eq(strv_length(d->extras->environment), 1);
        ck_assert_str_eq(d->extras->environment[0], "LANG=C.UTF-8");
        ck_assert(d->extras->nice_set);
        ck_assert_int_eq(d->extras->nice, -20);
        ck_assert_uint_eq(d->extras->limit_nofile, 1048576);
        ck_assert(!d->enabled);

        d = config_find_job(c, "cron");
        ck_assert_int_eq(d->schedule, SCHEDULE_CRON);
        ck_assert_str_eq(d->schedule_text, "30 2 * * 1-5");
        ck_assert_int_eq(d->extras->nice, 19);
        ck_assert_uint_eq(d->extras->limit_nofile, 1);
        ck_assert_uint_eq(d->extras->gid, 0); /* the user's primary group */
        ck_assert_int_eq(d->overlap, OVERLAP_QUEUE);

        d = config_find_job(c, "par");
        ck_assert(schedule_is_reboot(d->calendar));
        ck_assert_int_eq(d->overlap, OVERLAP_PARALLEL);
        ck_assert_ptr_null(d->extras->user);
        ck_assert_str_eq(d->extras->group, "root");
        ck_assert_uint_eq(d->timeout, USEC_INFINITY);
        ck_assert_uint_eq(d->extras->limit_nofile, 0); /* the default */
        ck_assert_ptr_null(config_find_job(c, "nope"));
        ck_assert_ptr_null(config_find_job(c, "a"));
        config_free(c);
}
END_TEST

START_TEST(test_command_split) {
        struct config *c = load_ok("[job:a]\n"
                                   "command = /bin/echo 'a b' \"c \\\"d\\\"\" e\\ f ;comment\n"
                                   "every = 1s\n"
                                   "[job:b]\n"
                                   "command = echo $HOME | tr a b;x\n"
                                   "every = 1s\n"
                                   "shell = yes\n" /* after command: order does not matter */
                                   "[job:c]\n"
                                   "shell = no\n"
                                   "command = a;b\n"
                                   "every = 1s\n");
        const struct job_def *d = config_find_job(c, "a");
        ck_assert_str_eq(d->command, "/bin/echo 'a b' \"c \\\"d\\\"\" e\\ f");
        ck_assert_uint_eq(strv_length(d->argv), 4);
        ck_assert_str_eq(d->argv[0], "/bin/echo");
        ck_assert_str_eq(d->argv[1], "a b");
        ck_assert_str_eq(d->argv[2], "c \"d\"");
        ck_assert_str_eq(d->argv[3], "e f");

        d = config_find_job(c, "b");
        ck_assert(d->shell);
        ck_assert_uint_eq(strv_length(d->argv), 3);
        ck_assert_str_eq(d->argv[0], "/bin/sh");
        ck_assert_str_eq(d->argv[1], "-c");
        ck_assert_str_eq(d->argv[2], "echo $HOME | tr a b;x");

        d = config_find_job(c, "c");
        ck_assert_uint_eq(strv_length(d->argv), 1);
        ck_assert_str_eq(d->argv[0], "a;b");
        config_free(c);

        /* A shell command is not split, so its quotes need not balance. */
        c = load_ok("[job:a]\ncommand = echo \"it's\nshell = on\nevery = 1s\n");
        ck_assert_str_eq(c->jobs[0]->argv[2], "echo \"it's");
        config_free(c);
}
END_TEST

START_TEST(test_environment) {
        struct config *c = load_ok("[job:j]\n"
                                   "command = x\n"
                                   "every = 1s\n"
                                   "environment = A=1 B=2 _u=3\n"
                                   "environment = A=3 \"C=x y\" D= E=a=b\n"
                                   "environment = B='q' ; B=ignored: a comment\n");
        const struct job_def *d = c->jobs[0];
        ck_assert_uint_eq(strv_length(d->extras->environment), 6);
        /* A later assignment replaces the earlier one in its place. */
        ck_assert_str_eq(d->extras->environment[0], "A=3");
        ck_assert_str_eq(d->extras->environment[1], "B=q");
        ck_assert_str_eq(d->extras->environment[2], "_u=3");
        ck_assert_str_eq(d->extras->environment[3], "C=x y");
        ck_assert_str_eq(d->extras->environment[4], "D=");
        ck_assert_str_eq(d->extras->environment[5], "E=a=b");
        ck_assert_ptr_null(d->extras->environment[6]);
        config_free(c);

        /* "A" is not a prefix match for "AB". */
        c = load_ok("[job:j]\ncommand = x\nevery = 1s\nenvironment = AB=1\nenvironment = A=2\n");
        ck_assert_uint_eq(strv_length(c->jobs[0]->extras->environment), 2);
        config_free(c);
}
END_TEST

/* A job's environment is bounded (CONFIG_ENVIRONMENT_MAX): each assignment
 * searches the list, and a 1 MiB value must not make loading quadratic. */
START_TEST(test_environment_limit) {
        for (unsigned extra = 0; extra <= 1; extra++) {
                unsigned n = CONFIG_ENVIRONMENT_MAX + extra;
                size_t size = 64 + (size_t)n * 16;
                char *text = malloc(size), *p = text;
                ck_assert_ptr_nonnull(text);
                p += sprintf(p, "[job:j]\ncommand = x\nevery = 1s\nenvironment =");
                for (unsigned i = 0; i < n; i++)
                        p += sprintf(p, " V%u=%u", i, i);
                strcpy(p, "\n");
                if (extra == 0) {
                        struct config *c = load_ok(text);
                        ck_assert_uint_eq(strv_length(c->jobs[0]->extras->environment), CONFIG_ENVIRONMENT_MAX);
                        config_free(c);
                } else
                        expect_errors(text, "t.conf:4: too many environment variables in [job:j] (at most 4096)\n");
                free(text);
        }
}
END_TEST

START_TEST(test_lexical) {
        /* Comments, inline comments, blank and indented lines, CRLF, a BOM,
         * a job name longer than inih's 50-byte section buffer. */
        static const char name[] = "a123456789b123456789c123456789d123456789e123456789f123456789";
        char *text = strdup_printf("\xef\xbb\xbf# comment\r\n"
                                   "; comment\r\n"
                                   "\r\n"
                                   "   [job:%s]   ; the job\r\n"
                                   "\tcommand = /bin/echo x#y ;comment\r\n"
                                   "  every=1h;x\r\n"
                                   "every2 ;= x\r\n",
                                   name);
        struct config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load_string(text, "t.conf", &c, &errors), -EINVAL);
        char *got = join(errors);
        /* "every2 ;= x" has no "=" before its comment; "1h;x" is not a span. */
        ck_assert_str_eq(got, "t.conf:6: invalid time span \"1h;x\" for every= in [job:"
                              "a123456789b123456789c123456789d123456789e123456789f123456789]\n"
                              "t.conf:7: syntax error: expected \"key = value\" or \"[section]\"\n");
        free(got);
        strv_free(errors);
        free(text);

        text = strdup_printf("\xef\xbb\xbf[job:%s]\r\n\tcommand = /bin/echo x#y ;comment\r\n  every=1h ;x\r\n", name);
        c = load_ok(text);
        ck_assert_str_eq(c->jobs[0]->name, name);
        ck_assert_str_eq(c->jobs[0]->command, "/bin/echo x#y");
        ck_assert_uint_eq(c->jobs[0]->every, USEC_PER_HOUR);
        ck_assert_uint_eq(c->jobs[0]->line, 1);
        config_free(c);
        free(text);

        /* Values in messages are quoted, escaped and cut. */
        char value[204] = "\"\\\t";
        memset(value + 3, 'a', 200);
        value[203] = 0;
        text = strdup_printf("[job:x]\ncommand = x\nevery = %s\n", value);
        char *expected = strdup_printf("t.conf:3: invalid time span \"\\\"\\\\\\x09%.97s...\" for every= in [job:x]\n",
                                       value + 3);
        expect_errors(text, expected);
        free(expected);
        free(text);

        /* The longest job name. */
        char big[JOB_NAME_MAX_TEST + 1];
        memset(big, 'n', sizeof big - 1);
        big[sizeof big - 1] = 0;
        text = strdup_printf("[job:%s]\ncommand = x\nevery = 1s\n", big);
        c = load_ok(text);
        ck_assert_str_eq(c->jobs[0]->name, big);
        config_free(c);
        free(text);
}
END_TEST

/* ---- errors ----------------------------------------------------------------- */

static const struct {
        const char *text;
        const char *errors;
} error_cases[] = {
        /* structure */
        { "workers = 4\n", "t.conf:1: key \"workers\" before any section\n" },
        { "[daemons]\nworkers = 4\n",
          "t.conf:1: unknown section [daemons] (expected [daemon], [include], [crontabs] or [job:NAME])\n" },
        { "[Daemon]\n", "t.conf:1: unknown section [Daemon] (expected [daemon], [include], [crontabs] or [job:NAME])\n" },
        { "[job:backup]\ncomand = /bin/true\ncommand = /bin/true\nevery = 1h\n",
          "t.conf:2: unknown key \"comand\" in [job:backup]\n" },
        { "[daemon]\nWorkers = 4\n", "t.conf:2: unknown key \"Workers\" in [daemon]\n" },
        { "[daemon]\ncommand = x\n", "t.conf:2: unknown key \"command\" in [daemon]\n" },
        { "[include]\nworkers = 1\n", "t.conf:2: unknown key \"workers\" in [include]\n" },
        { "[daemon]\nworkers = 4\n\nworkers = 5\n",
          "t.conf:4: duplicate key \"workers\" in [daemon] (first given at line 2)\n" },
        { "[job:j]\ncommand = a\nevery = 1s\ncommand = b\n",
          "t.conf:4: duplicate key \"command\" in [job:j] (first given at line 2)\n" },
        { "[daemon]\n[daemon]\nworkers = x\n", "t.conf:2: [daemon] given twice (first at line 1)\n" },
        { JOB "[job:j]\ncommand = y\n", "t.conf:4: job \"j\" is already defined at t.conf:1\n" },
        { "[job:]\n", "t.conf:1: missing job name in [job:]\n" },
        { "[job:a b]\ncommand = x\n",
          "t.conf:1: invalid job name \"a b\": use only letters, digits, \"_\", \".\" and \"-\"\n" },
        { "[job:a/b]\n", "t.conf:1: invalid job name \"a/b\": use only letters, digits, \"_\", \".\" and \"-\"\n" },
        { "[job:"
          "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
          "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnn]\n",
          "t.conf:1: job name too long (129 characters, at most 128)\n" },
        /* syntax */
        { "[daemon]\nworkers 4\nkill_grace = 1s\nfoo\n",
          "t.conf:2: syntax error: expected \"key = value\" or \"[section]\"\n"
          "t.conf:4: syntax error: expected \"key = value\" or \"[section]\"\n" },
        { "[daemon]\nworkers: 4\n", "t.conf:2: syntax error: expected \"key = value\" or \"[section]\"\n" },
        { "[daemon]\n= 4\n", "t.conf:2: syntax error: missing key before \"=\"\n" },
        { "[daemon]\nworkers ;= 4\n", "t.conf:2: syntax error: expected \"key = value\" or \"[section]\"\n" },
        { "[daemon\nworkers = x\n", "t.conf:1: syntax error: section header without \"]\"\n" },
        { "[daemon ;]\n", "t.conf:1: syntax error: section header without \"]\"\n" },
        { "[daemon] workers = 4\n", "t.conf:1: syntax error: text after the section header\n" },
        { "[daemon];x\n", "t.conf:1: syntax error: text after the section header\n" },
        { "[daemon] # x\n", "t.conf:1: syntax error: text after the section header\n" },
        { "[ daemon ]\n", "t.conf:1: unknown section [ daemon ] (expected [daemon], [include], [crontabs] or [job:NAME])\n" },
        { "[a\tb\"]\n", "t.conf:1: unknown section [a\\x09b\\\"] (expected [daemon], [include], [crontabs] or [job:NAME])\n" },
        /* a job's keys */
        { "[job:j]\nevery = 1s\n\n[job:k]\ncommand = x\nevery = 1s\n", "t.conf:1: missing command= in [job:j]\n" },
        { "[job:j]\ncommand = x\n", "t.conf:1: no schedule in [job:j]: set one of every=, calendar=, cron=\n" },
        { "[job:j]\nnice = 99\ncommand = x\n",
          "t.conf:1: no schedule in [job:j]: set one of every=, calendar=, cron=\n"
          "t.conf:2: invalid value \"99\" for nice= in [job:j] (must be -20..19)\n" },
        { "[job:j]\ncommand = x\nevery = 1h\ncalendar = daily\ncron = @daily\n",
          "t.conf:4: calendar= and every= (line 3) both given in [job:j]: use exactly one of every=, calendar=, "
          "cron=\n"
          "t.conf:5: cron= and every= (line 3) both given in [job:j]: use exactly one of every=, calendar=, "
          "cron=\n" },
        { "[job:j]\ncommand = x\ncron = @daily\nevery = 1h\n",
          "t.conf:4: every= and cron= (line 3) both given in [job:j]: use exactly one of every=, calendar=, "
          "cron=\n" },
        { "[job:j]\ntimezone = UTC\ncommand = x\nevery = 1h\n",
          "t.conf:2: timezone= needs calendar= or cron= in [job:j], not every=\n" },
        { "[job:j]\ncommand = x\ncalendar = daily\ntimezone = Mars/Olympus_Mons\n",
          "t.conf:4: unknown time zone \"Mars/Olympus_Mons\" for timezone= in [job:j]\n" },
        { "[job:j]\ncommand = x\ncalendar = daily Europe/Berlin\ntimezone = Asia/Tokyo\n",
          "t.conf:4: timezone= \"Asia/Tokyo\" conflicts with the zone \"Europe/Berlin\" named in calendar= in "
          "[job:j]\n" },
        { "[job:j]\ncommand = x\ncalendar = *-*-* 02:00 UTC\ntimezone = Europe/Berlin\n",
          "t.conf:4: timezone= \"Europe/Berlin\" conflicts with the zone \"UTC\" named in calendar= in [job:j]\n" },
        { "[job:x]\ncommand = x\nevery = 5 parsecs\n",
          "t.conf:3: invalid time span \"5 parsecs\" for every= in [job:x]\n" },
        { "[job:x]\ncommand = x\nevery = 0\n",
          "t.conf:3: invalid time span \"0\" for every= in [job:x] (must be more than 0)\n" },
        { "[job:x]\ncommand = x\nevery = infinity\n",
          "t.conf:3: invalid time span \"infinity\" for every= in [job:x] (must be finite)\n" },
        { "[job:x]\ncommand = x\nevery = 101y\n",
          "t.conf:3: time span \"101y\" too long for every= in [job:x] (at most 100y)\n" },
        { "[job:x]\ncommand = x\nevery = 99999999999999999999999s\n",
          "t.conf:3: time span \"99999999999999999999999s\" too long for every= in [job:x] (at most 100y)\n" },
        { "[job:x]\ncommand = x\nevery = -5s\n", "t.conf:3: invalid time span \"-5s\" for every= in [job:x]\n" },
        { "[job:x]\ncommand = x\nevery = 1s\ntimeout = 0\n",
          "t.conf:4: invalid time span \"0\" for timeout= in [job:x] (must be more than 0; \"infinity\" means "
          "none)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\njitter = infinity\n",
          "t.conf:4: invalid time span \"infinity\" for jitter= in [job:x] (must be finite)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nretry_delay = 0s\n",
          "t.conf:4: invalid time span \"0s\" for retry_delay= in [job:x] (must be more than 0)\n" },
        { "[daemon]\nkill_grace = infinity\nshutdown_timeout = 2 fortnights\n",
          "t.conf:2: invalid time span \"infinity\" for kill_grace= in [daemon] (must be finite)\n"
          "t.conf:3: invalid time span \"2 fortnights\" for shutdown_timeout= in [daemon]\n" },
        { "[job:x]\ncommand = x\ncalendar = Mon..Fry 02:00\n",
          "t.conf:3: invalid calendar expression \"Mon..Fry 02:00\" for calendar= in [job:x]: expected a weekday\n" },
        { "[job:x]\ncommand = x\ncron = 1 2 3\n",
          "t.conf:3: invalid cron expression \"1 2 3\" for cron= in [job:x]: fewer than five fields\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nshell = maybe\npersistent = 2\nenabled = Yes please\n",
          "t.conf:4: invalid boolean \"maybe\" for shell= in [job:x] (yes or no)\n"
          "t.conf:5: invalid boolean \"2\" for persistent= in [job:x] (yes or no)\n"
          "t.conf:6: invalid boolean \"Yes please\" for enabled= in [job:x] (yes or no)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\noverlap = kill\n",
          "t.conf:4: invalid overlap policy \"kill\" for overlap= in [job:x] (skip, queue, parallel or replace)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nretries = 1001\n",
          "t.conf:4: invalid value \"1001\" for retries= in [job:x] (must be 0..1000)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nretries = -1\n",
          "t.conf:4: invalid value \"-1\" for retries= in [job:x] (must be 0..1000)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nlimit_nofile = 0\n",
          "t.conf:4: invalid value \"0\" for limit_nofile= in [job:x] (must be 1..1048576)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nlimit_nofile = 1048577\n",
          "t.conf:4: invalid value \"1048577\" for limit_nofile= in [job:x] (must be 1..1048576)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nlimit_nofile = infinity\n",
          "t.conf:4: invalid number \"infinity\" for limit_nofile= in [job:x]\n" },
        { "[daemon]\nlimit_nofile = 5\n", "t.conf:2: unknown key \"limit_nofile\" in [daemon]\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nnice = -21\n",
          "t.conf:4: invalid value \"-21\" for nice= in [job:x] (must be -20..19)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nnice = +5\n", "t.conf:4: invalid number \"+5\" for nice= in [job:x]\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nnice = 1 0\n",
          "t.conf:4: invalid number \"1 0\" for nice= in [job:x]\n" },
        { "[daemon]\nworkers = 0\n", "t.conf:2: invalid value \"0\" for workers= in [daemon] (must be 1..1024)\n" },
        { "[daemon]\nworkers = 1025\n",
          "t.conf:2: invalid value \"1025\" for workers= in [daemon] (must be 1..1024)\n" },
        { "[daemon]\nworkers = 4x\n", "t.conf:2: invalid number \"4x\" for workers= in [daemon]\n" },
        { "[daemon]\nworkers = 0x10\n", "t.conf:2: invalid number \"0x10\" for workers= in [daemon]\n" },
        { "[daemon]\nworkers = 99999999999999999999999\n",
          "t.conf:2: invalid value \"99999999999999999999999\" for workers= in [daemon] (must be 1..1024)\n" },
        { "[daemon]\nworkers = -\n", "t.conf:2: invalid number \"-\" for workers= in [daemon]\n" },
        { "[daemon]\nstate_directory = var/lib/evd\n",
          "t.conf:2: invalid path \"var/lib/evd\" for state_directory= in [daemon] (must be absolute)\n" },
        { "[daemon]\ncontrol_group = no-such-group-evd\n",
          "t.conf:2: unknown group \"no-such-group-evd\" for control_group= in [daemon]\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nworking_directory = srv\n",
          "t.conf:4: invalid path \"srv\" for working_directory= in [job:x] (must be absolute)\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nuser = no-such-user-evd\ngroup = no-such-group-evd\n",
          "t.conf:4: unknown user \"no-such-user-evd\" for user= in [job:x]\n"
          "t.conf:5: unknown group \"no-such-group-evd\" for group= in [job:x]\n" },
        { "[job:x]\ncommand = echo \"unbalanced\nevery = 1s\n",
          "t.conf:2: invalid command \"echo \\\"unbalanced\" for command= in [job:x]: unbalanced double quote\n" },
        { "[job:x]\ncommand = echo \\\nevery = 1s\n",
          "t.conf:2: invalid command \"echo \\\\\" for command= in [job:x]: trailing backslash\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nenvironment = A=1 1B=2 C 'D\n",
          "t.conf:4: invalid environment= \"A=1 1B=2 C 'D\" in [job:x]: unbalanced single quote\n" },
        { "[job:x]\ncommand = x\nevery = 1s\nenvironment = A=1 1B=2 C =x A-B=1\n",
          "t.conf:4: invalid assignment \"1B=2\" for environment= in [job:x] (expected KEY=VALUE, KEY of "
          "letters, digits and \"_\")\n"
          "t.conf:4: invalid assignment \"C\" for environment= in [job:x] (expected KEY=VALUE, KEY of letters, "
          "digits and \"_\")\n"
          "t.conf:4: invalid assignment \"=x\" for environment= in [job:x] (expected KEY=VALUE, KEY of "
          "letters, digits and \"_\")\n"
          "t.conf:4: invalid assignment \"A-B=1\" for environment= in [job:x] (expected KEY=VALUE, KEY of "
          "letters, digits and \"_\")\n" },
        { "[job:x]\ncommand =\nevery = ;nothing\n",
          "t.conf:2: empty value for command= in [job:x]\nt.conf:3: empty value for every= in [job:x]\n" },
        { "[include]\nfiles =\n", "t.conf:2: empty value for files= in [include]\n" },
        /* the keys of a section whose header is an error are not checked */
        { "[job:a b]\ncomand = x\n[foo]\nbar = 1\n[daemon]\nworkers = 2\n",
          "t.conf:1: invalid job name \"a b\": use only letters, digits, \"_\", \".\" and \"-\"\n"
          "t.conf:2: unknown key \"comand\" in [job:a b]\n"
          "t.conf:3: unknown section [foo] (expected [daemon], [include], [crontabs] or [job:NAME])\n" },
        /* a section with a bad header still has its values checked */
        { "[job:x y]\ncommand = \"open\nevery = 5 parsecs\n",
          "t.conf:1: invalid job name \"x y\": use only letters, digits, \"_\", \".\" and \"-\"\n"
          "t.conf:2: invalid command \"\\\"open\" for command= in [job:x y]: unbalanced double quote\n"
          "t.conf:3: invalid time span \"5 parsecs\" for every= in [job:x y]\n" },
        /* errors come in line order, also those found at the end of a section */
        { "[job:j]\nfoo = 1\n[job:k]\nbar = 2\nevery = 1s\n",
          "t.conf:1: missing command= in [job:j]\n"
          "t.conf:1: no schedule in [job:j]: set one of every=, calendar=, cron=\n"
          "t.conf:2: unknown key \"foo\" in [job:j]\n"
          "t.conf:3: missing command= in [job:k]\n"
          "t.conf:4: unknown key \"bar\" in [job:k]\n" },
};

START_TEST(test_errors) {
        expect_errors(error_cases[_i].text, error_cases[_i].errors);
}
END_TEST

START_TEST(test_too_many_errors) {
        size_t n = 150;
        char *text = malloc(n * 8 + 16), *p = text;
        ck_assert_ptr_nonnull(text);
        p = stpcpy(p, "[daemon]\n");
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, "junk\n");
        struct config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load_string(text, "t.conf", &c, &errors), -EINVAL);
        ck_assert_uint_eq(strv_length(errors), 101);
        ck_assert_str_eq(errors[0], "t.conf:2: syntax error: expected \"key = value\" or \"[section]\"");
        ck_assert_str_eq(errors[99], "t.conf:101: syntax error: expected \"key = value\" or \"[section]\"");
        ck_assert_str_eq(errors[100], "t.conf: too many errors, only the first 100 are shown");
        strv_free(errors);
        free(text);
}
END_TEST

START_TEST(test_errors_appended) {
        /* *errors is appended to, and NULL errors are allowed. */
        char **errors = NULL;
        struct config *c = NULL;
        ck_assert_int_eq(strv_push(&errors, "earlier"), 0);
        ck_assert_int_eq(config_load_string("x\n", "t.conf", &c, &errors), -EINVAL);
        ck_assert_uint_eq(strv_length(errors), 2);
        ck_assert_str_eq(errors[0], "earlier");
        strv_free(errors);
        ck_assert_int_eq(config_load_string("x\n", "t.conf", &c, NULL), -EINVAL);
        ck_assert_ptr_null(c);
}
END_TEST

/* ---- job definitions ------------------------------------------------------------- */

START_TEST(test_job_defs) {
        struct config *a = load_ok("[job:e]\ncommand = x\nevery = 1h\n"
                                   "[job:c]\ncommand = x\ncalendar = daily\ntimezone = UTC\n"
                                   "[job:r]\ncommand = x\ncron = 0 * * * *\n"),
                      *b = load_ok("[job:e]\ncommand = y\nevery = 1h\nretries = 3\n"
                                   "[job:c]\ncommand = x\ncalendar = daily\n"
                                   "[job:r]\ncommand = x\ncron = 0 * * * *\njitter = 1s\n");
        ck_assert_str_eq(a->jobs[0]->name, "c"); /* sorted by name */
        ck_assert_str_eq(a->jobs[1]->name, "e");
        ck_assert_str_eq(a->jobs[2]->name, "r");
        /* The command and retries do not matter; the zone and jitter do. */
        ck_assert(job_def_same_schedule(config_find_job(a, "e"), config_find_job(b, "e")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "c"), config_find_job(b, "c")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "r"), config_find_job(b, "r")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "e"), config_find_job(a, "c")));
        ck_assert(job_def_same_schedule(config_find_job(a, "r"), config_find_job(a, "r")));

        struct config *c = load_ok("[job:e]\ncommand = x\nevery = 2h\n[job:f]\ncommand = x\nevery = 1h\n"
                                   "persistent = yes\n[job:g]\ncommand = x\nevery = 1h\nenabled = no\n"
                                   "[job:r]\ncommand = x\ncron = 0 */2 * * *\n");
        ck_assert(!job_def_same_schedule(config_find_job(a, "e"), config_find_job(c, "e")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "e"), config_find_job(c, "f")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "e"), config_find_job(c, "g")));
        ck_assert(!job_def_same_schedule(config_find_job(a, "r"), config_find_job(c, "r")));

        /* A reference outlives its configuration. */
        struct job_def *d = job_def_ref(a->jobs[1]);
        ck_assert_uint_eq(d->config->refcount, 2);
        config_free(a);
        ck_assert_uint_eq(d->config->refcount, 1);
        ck_assert_str_eq(d->argv[0], "x");
        ck_assert_ptr_null(job_def_unref(d));
        ck_assert_ptr_null(job_def_unref(NULL));
        ck_assert_ptr_null(job_def_ref(NULL));
        config_free(b);
        config_free(c);

        ck_assert_str_eq(overlap_policy_to_string(OVERLAP_SKIP), "skip");
        ck_assert_str_eq(overlap_policy_to_string(OVERLAP_QUEUE), "queue");
        ck_assert_str_eq(overlap_policy_to_string(OVERLAP_PARALLEL), "parallel");
        ck_assert_str_eq(overlap_policy_to_string(OVERLAP_REPLACE), "replace");
}
END_TEST

/* A run of jobs with the same command= stores its text and argv once;
 * a different command, or shell= that differs, breaks the run. */
START_TEST(test_command_shared) {
        struct config *c = load_ok("[job:a]\ncommand = /bin/echo x\nevery = 1s\n"
                                   "[job:b]\ncommand = /bin/echo x\nevery = 2s\n"
                                   "[job:c]\ncommand = /bin/echo x\nevery = 2s\nshell = yes\n"
                                   "[job:d]\ncommand = /bin/echo x\nevery = 2s\nshell = yes\n"
                                   "[job:e]\ncommand = /bin/echo y\nevery = 2s\n"
                                   "[job:f]\ncommand = /bin/echo x\nevery = 2s\n");
        const struct job_def *d[6];

        for (size_t i = 0; i < 6; i++)
                d[i] = config_find_job(c, (char[]){ (char)('a' + i), 0 });
        ck_assert_ptr_eq(d[0]->command, d[1]->command);
        ck_assert_ptr_eq(d[0]->argv, d[1]->argv);
        ck_assert_ptr_eq(d[1]->command, d[2]->command);
        ck_assert_ptr_ne(d[1]->argv, d[2]->argv); /* shell= differs */
        ck_assert_str_eq(d[2]->argv[0], "/bin/sh");
        ck_assert_ptr_eq(d[2]->argv, d[3]->argv);
        ck_assert_ptr_eq(d[3]->argv[2], d[3]->command);
        ck_assert_str_eq(d[4]->argv[1], "y");
        ck_assert_ptr_ne(d[5]->argv, d[0]->argv); /* not the job before */
        ck_assert_str_eq(d[5]->argv[1], "x");
        ck_assert_str_eq(d[1]->argv[0], "/bin/echo");
        config_free(c);
}
END_TEST

/* The keys most jobs leave alone (timezone=, user=, group=,
 * working_directory=, environment=, nice=, limit_nofile=) are one block that
 * jobs share: every job that sets none of them one block, consecutive jobs
 * that set the same ones another; a job that differs, or comes after one
 * that differs, its own. A definition is 112 bytes. */
START_TEST(test_exec_shared) {
        struct config *c = load_ok("[job:a]\ncommand = x\nevery = 1s\n"
                                   "[job:b]\ncommand = x\nevery = 1s\n"
                                   "[job:c]\ncommand = x\nevery = 1s\nuser = root\nenvironment = A=1\nnice = 3\n"
                                   "[job:d]\ncommand = x\nevery = 1s\nuser = root\nenvironment = A=1\nnice = 3\n"
                                   "[job:e]\ncommand = x\nevery = 1s\nuser = root\nenvironment = A=2\nnice = 3\n"
                                   "[job:f]\ncommand = x\nevery = 1s\nuser = root\nenvironment = A=1\nnice = 3\n"
                                   "[job:g]\ncommand = x\nevery = 1s\nlimit_nofile = 10\n"
                                   "[job:h]\ncommand = x\nevery = 1s\n"
                                   "[job:i]\ncommand = x\ncalendar = daily\ntimezone = Europe/Berlin\n"
                                   "[job:j]\ncommand = x\ncalendar = daily\ntimezone = Europe/Berlin\n");
        const struct job_def *d[10];

        for (size_t i = 0; i < 10; i++)
                d[i] = config_find_job(c, (char[]){ (char)('a' + i), 0 });
        ck_assert_ptr_eq(d[0]->extras, d[1]->extras);
        ck_assert_ptr_eq(d[0]->extras, d[7]->extras);
        ck_assert_ptr_null(d[0]->extras->user);
        ck_assert_ptr_null(d[0]->extras->environment);
        ck_assert(!d[0]->extras->nice_set);
        ck_assert_ptr_eq(d[2]->extras, d[3]->extras);
        ck_assert_ptr_ne(d[3]->extras, d[4]->extras);
        ck_assert_ptr_ne(d[4]->extras, d[5]->extras);
        ck_assert_str_eq(d[4]->extras->environment[0], "A=2");
        ck_assert_str_eq(d[5]->extras->environment[0], "A=1");
        ck_assert_ptr_eq(d[2]->extras->user, d[5]->extras->user);
        ck_assert_int_eq(d[5]->extras->nice, 3);
        ck_assert(d[5]->extras->nice_set);
        ck_assert_uint_eq(d[6]->extras->limit_nofile, 10);
        ck_assert_ptr_ne(d[6]->extras, d[0]->extras);
        ck_assert_uint_eq(d[0]->extras->limit_nofile, 0);
        ck_assert_ptr_null(d[0]->extras->timezone);
        ck_assert_str_eq(d[8]->extras->timezone, "Europe/Berlin");
        ck_assert_ptr_eq(d[8]->extras, d[9]->extras);
        ck_assert_ptr_ne(d[8]->extras, d[0]->extras);
        ck_assert_uint_le(sizeof(struct job_def), 112);
        config_free(c);
}
END_TEST

/* The definitions are one array; strings many jobs share are stored once;
 * a shell job's argv[2] is its command; a reference holds the whole
 * configuration. */
START_TEST(test_packed) {
        struct config *c = load_ok("[job:a]\ncommand = /bin/echo x\nevery = 1s\nuser = root\n"
                                   "working_directory = /srv\nenvironment = LANG=C X=1\n"
                                   "[job:b]\ncommand = /bin/echo y\nevery = 1s\nuser = root\n"
                                   "working_directory = /srv\nenvironment = X=1 LANG=C\n"
                                   "[job:c]\ncommand = echo a | cat\nshell = yes\nevery = 1s\n"
                                   "[job:d]\ncommand = x\ncalendar = daily\n[job:e]\ncommand = x\ncalendar = daily\n"
                                   "[job:f]\ncommand = x\ncron = 0 0 * * *\n[job:g]\ncommand = x\ncalendar = hourly\n");
        const struct job_def *a = config_find_job(c, "a"), *b = config_find_job(c, "b"), *sh = config_find_job(c, "c");

        ck_assert_ptr_eq(a, &c->defs[0]);
        ck_assert_ptr_eq(b, &c->defs[1]);
        ck_assert_ptr_eq(sh, &c->defs[2]);
        ck_assert_ptr_eq(a->extras->user, b->extras->user);
        ck_assert_ptr_eq(a->extras->home, b->extras->home);
        ck_assert_ptr_eq(a->extras->working_directory, b->extras->working_directory);
        ck_assert_ptr_eq(a->file, b->file);
        ck_assert_ptr_eq(a->argv[0], b->argv[0]);
        ck_assert_ptr_eq(a->extras->environment[0], b->extras->environment[1]); /* LANG=C */
        ck_assert_ptr_eq(a->extras->environment[1], b->extras->environment[0]); /* X=1 */
        ck_assert_ptr_ne(a->argv[1], b->argv[1]);
        ck_assert_ptr_eq(sh->argv[2], sh->command);
        ck_assert_ptr_null(sh->argv[3]);

        /* An expression given twice is parsed once. */
        const struct job_def *d = config_find_job(c, "d"), *e = config_find_job(c, "e"), *f = config_find_job(c, "f"),
                             *g = config_find_job(c, "g");
        ck_assert_ptr_eq(d->calendar, e->calendar);
        ck_assert_ptr_ne(d->calendar, f->calendar);
        ck_assert_ptr_ne(d->calendar, g->calendar);
        ck_assert_uint_eq(c->n_schedules, 1); /* the cron one: calendar ones are in the arena */
        ck_assert_uint_gt(schedule_flat_size(d->calendar), 0);
        ck_assert_uint_eq(schedule_flat_size(f->calendar), 0);

        struct job_def *ref = job_def_ref(c->jobs[2]);
        ck_assert_uint_eq(c->refcount, 2);
        ck_assert_ptr_null(config_free(c));
        ck_assert_str_eq(ref->argv[2], "echo a | cat");
        ck_assert_ptr_null(job_def_unref(ref));
}
END_TEST

START_TEST(test_many_jobs) {
        /* 20000 jobs, in reverse order: the table and the sort scale. */
        size_t n = 20000;
        char *text = malloc(n * 64), *p = text;
        ck_assert_ptr_nonnull(text);
        for (size_t i = n; i-- > 0;)
                p += sprintf(p, "[job:j%05zu]\ncommand = /bin/true\nevery = %zus\n", i, i + 1);
        struct config *c = load_ok(text);
        ck_assert_uint_eq(c->n_jobs, n);
        for (size_t i = 0; i < n; i++) {
                char name[16];
                snprintf(name, sizeof name, "j%05zu", i);
                const struct job_def *d = config_find_job(c, name);
                ck_assert_ptr_nonnull(d);
                ck_assert_uint_eq(d->every, (i + 1) * USEC_PER_SEC);
                ck_assert_ptr_eq(c->jobs[i], d);
        }
        config_free(c);

        /* A duplicate among them is found. */
        p += sprintf(p, "[job:j12345]\ncommand = x\nevery = 1s\n");
        char **errors = NULL;
        ck_assert_int_eq(config_load_string(text, "t.conf", &c, &errors), -EINVAL);
        ck_assert_uint_eq(strv_length(errors), 1);
        ck_assert_str_eq(errors[0], "t.conf:60001: job \"j12345\" is already defined at t.conf:22963");
        strv_free(errors);
        free(text);
}
END_TEST

/* ---- files --------------------------------------------------------------------- */

START_TEST(test_includes) {
        char *dir = make_dir(), *main_path = path_in(dir, "evd.conf"), *sub = path_in(dir, "evd.d"),
             *a = path_in(dir, "evd.d/a.conf"), *b = path_in(dir, "evd.d/b.conf"), *other = path_in(dir, "other");
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(mkdir(other, 0755), 0);
        char *abs_pattern = strdup_printf("%s/*.inc", other), *c1 = path_in(other, "one.inc");
        char *text = strdup_printf("[daemon]\nworkers = 2\n[include]\nfiles = evd.d/*.conf\n"
                                   "files = evd.d/none-*.conf\n[include]\nfiles = %s\nfiles = *.conf\n" JOB,
                                   abs_pattern);
        write_text(main_path, text);
        write_text(b, "[job:b]\ncommand = /bin/b\nevery = 1s\n");
        write_text(a, "# a\n[job:a]\ncommand = /bin/a\nevery = 1s\n[job:a2]\ncommand = /bin/a2\nevery = 2s\n");
        write_text(c1, "[job:one]\ncommand = /bin/one\nevery = 1s\n");

        struct config *c = NULL;
        char *errs = NULL;
        ck_assert_int_eq(load_file(main_path, &c, &errs), 0);
        ck_assert_str_eq(errs, "");
        free(errs);
        ck_assert_uint_eq(c->workers, 2);
        ck_assert_uint_eq(c->n_jobs, 5); /* *.conf matched evd.conf itself: read once only */
        const struct job_def *d = config_find_job(c, "a2");
        ck_assert_str_eq(d->file, a);
        ck_assert_uint_eq(d->line, 5);
        ck_assert_str_eq(config_find_job(c, "one")->file, c1);
        ck_assert_str_eq(config_find_job(c, "j")->file, main_path);
        config_free(c);

        /* Errors name the included file; files are read sorted; a job
         * defined twice names both places; [daemon] is refused there. */
        write_text(b, "[job:a]\ncommand = /bin/b\nevery = 1s\n[daemon]\nworkers = 3\n[include]\n");
        write_text(a, "[job:j]\ncomand = /bin/a\nevery = 1s\n[job:a]\ncommand = /bin/a\nevery = 1s\n");
        write_text(c1, "[job:one]\ncommand = /bin/one\nevery = 1 parsec\n");
        char *expected = strdup_printf(
                "%s:1: job \"j\" is already defined at %s:9\n"
                "%s:2: unknown key \"comand\" in [job:j]\n"
                "%s:1: job \"a\" is already defined at %s:4\n"
                "%s:4: [daemon] is not allowed in an included file, only [job:NAME]\n"
                "%s:6: [include] is not allowed in an included file, only [job:NAME]\n"
                "%s:3: invalid time span \"1 parsec\" for every= in [job:one]\n",
                a, main_path, a, b, a, b, b, c1);
        /* a.conf's job "j" is a duplicate: its keys are still checked (one
         * run of evd -t shows every error), but it is not "missing" any. */
        expect_file_errors(main_path, expected);
        free(expected);

        /* An include naming a directory. */
        write_text(main_path, "[include]\nfiles = evd.d\n");
        expected = strdup_printf("%s: refusing to read: not a regular file\n", sub);
        expect_file_errors(main_path, expected);
        free(expected);

        /* Relative globs are relative to the including file, not to the
         * working directory; config_load_string() does the same with its name. */
        write_text(a, "[job:a]\ncommand = /bin/a\nevery = 1s\n");
        write_text(main_path, "[include]\nfiles = evd.d/a.conf\n");
        ck_assert_int_eq(chdir("/"), 0);
        ck_assert_int_eq(load_file(main_path, &c, &errs), 0);
        ck_assert_uint_eq(c->n_jobs, 1);
        config_free(c);
        free(errs);
        ck_assert_int_eq(config_load_string("[include]\nfiles = evd.d/a.conf\n", main_path, &c, NULL), 0);
        ck_assert_uint_eq(c->n_jobs, 1);
        config_free(c);

        /* Glob characters in the including file's directory are not a
         * pattern. */
        char *weird = path_in(dir, "we[ir]d*"), *weird_main = path_in(weird, "evd.conf"),
             *weird_inc = path_in(weird, "inc.conf");
        ck_assert_int_eq(mkdir(weird, 0755), 0);
        write_text(weird_main, "[include]\nfiles = *.conf\nfiles = i?c.conf\n");
        write_text(weird_inc, "[job:weird]\ncommand = /bin/true\nevery = 1s\n");
        ck_assert_int_eq(load_file(weird_main, &c, &errs), 0);
        ck_assert_str_eq(errs, "");
        ck_assert_uint_eq(c->n_jobs, 1);
        ck_assert_str_eq(c->jobs[0]->file, weird_inc);
        config_free(c);
        free(errs);
        free(weird);
        free(weird_main);
        free(weird_inc);

        rm_rf(dir);
        free(dir);
        free(main_path);
        free(sub);
        free(a);
        free(b);
        free(other);
        free(abs_pattern);
        free(c1);
        free(text);
}
END_TEST

START_TEST(test_permissions) {
        char *dir = make_dir(), *p = path_in(dir, "evd.conf"), *link = path_in(dir, "link.conf"),
             *inc = path_in(dir, "inc.conf"), *fifo = path_in(dir, "fifo.conf"), *expected;
        struct config *c = NULL;
        char *errs = NULL;

        write_text(p, JOB);
        ck_assert_int_eq(load_file(p, &c, &errs), 0);
        config_free(c);
        free(errs);

        /* Missing: one error. */
        char *missing = path_in(dir, "missing.conf");
        expected = strdup_printf("%s: cannot open: No such file or directory\n", missing);
        expect_file_errors(missing, expected);
        free(expected);
        free(missing);

        /* Group or world writable. */
        ck_assert_int_eq(chmod(p, 0664), 0);
        expected = strdup_printf("%s: refusing to read: writable by group or others (run chmod go-w %s)\n", p, p);
        expect_file_errors(p, expected);
        free(expected);
        ck_assert_int_eq(chmod(p, 0646), 0);
        expected = strdup_printf("%s: refusing to read: writable by group or others (run chmod go-w %s)\n", p, p);
        expect_file_errors(p, expected);
        free(expected);
        /* ... but config_load_string() makes no such checks. */
        ck_assert_int_eq(config_load_string("[include]\nfiles = evd.conf\n", link, &c, NULL), 0);
        ck_assert_uint_eq(c->n_jobs, 1);
        config_free(c);
        ck_assert_int_eq(chmod(p, 0600), 0);

        /* A symbolic link, and an include that is one. */
        ck_assert_int_eq(symlink(p, link), 0);
        expected = strdup_printf("%s: refusing to read: a symbolic link\n", link);
        expect_file_errors(link, expected);
        free(expected);
        write_text(inc, "[include]\nfiles = link.conf\n");
        expect_file_errors(inc, expected = strdup_printf("%s: refusing to read: a symbolic link\n", link));
        free(expected);

        /* Not a regular file: a directory, a FIFO (which must not block). */
        expected = strdup_printf("%s: refusing to read: not a regular file\n", dir);
        expect_file_errors(dir, expected);
        free(expected);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        expected = strdup_printf("%s: refusing to read: not a regular file\n", fifo);
        expect_file_errors(fifo, expected);
        free(expected);

        /* Owned by someone else (needs root to chown). */
        if (geteuid() == 0) {
                ck_assert_int_eq(chown(p, 65534, 65534), 0);
                expected = strdup_printf("%s: refusing to read: owned by uid 65534, not by root\n", p);
                expect_file_errors(p, expected);
                free(expected);
                ck_assert_int_eq(chmod(p, 0666), 0);
                expected = strdup_printf("%s: refusing to read: owned by uid 65534, not by root\n"
                                         "%s: refusing to read: writable by group or others (run chmod go-w %s)\n",
                                         p, p, p);
                expect_file_errors(p, expected);
                free(expected);
                /* The same for an included file. */
                write_text(inc, "[include]\nfiles = evd.conf\n");
                expected = strdup_printf("%s: refusing to read: owned by uid 65534, not by root\n"
                                         "%s: refusing to read: writable by group or others (run chmod go-w %s)\n",
                                         p, p, p);
                expect_file_errors(inc, expected);
                free(expected);
        } else
                fprintf(stderr, "test_permissions: not root, owner checks not tested\n");

        rm_rf(dir);
        free(dir);
        free(p);
        free(link);
        free(inc);
        free(fifo);
}
END_TEST

/* Loading path gives one job. */
static void expect_one_job(const char *path) {
        struct config *c = NULL;
        char *errs = NULL;
        ck_assert_int_eq(load_file(path, &c, &errs), 0);
        ck_assert_uint_eq(c->n_jobs, 1);
        config_free(c);
        free(errs);
}

/* Loading path fails on the directory dir on the way to file. */
static void expect_dir_writable(const char *path, const char *file, const char *dir) {
        char *expected = strdup_printf("%s: refusing to read: directory %s is writable by group or others (run "
                                       "chmod go-w %s)\n", file, dir, dir);
        expect_file_errors(path, expected);
        free(expected);
}

/* Every directory on the way to a file is checked too (config_load only):
 * owned by root or evd's euid, not writable by group or others unless
 * sticky and owned by root; a link is followed only from a checked
 * directory. File names in messages have control characters escaped. */
START_TEST(test_directories) {
        char *dir = make_dir(), *main_conf = path_in(dir, "evd.conf"), *sub = path_in(dir, "conf.d"),
             *inc = path_in(dir, "conf.d/a.conf"), *open_dir = path_in(dir, "open"),
             *open_link = path_in(dir, "open/link"), *real_link = path_in(dir, "link.d"), *expected;

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        write_text(inc, "[job:inc]\ncommand = /bin/true\nevery = 1min\n");
        write_text(main_conf, "[include]\nfiles = conf.d/*.conf\n");
        expect_one_job(main_conf);

        /* An included file's directory writable by group or others. */
        ck_assert_int_eq(chmod(sub, 0775), 0);
        expect_dir_writable(main_conf, inc, sub);
        ck_assert_int_eq(chmod(sub, 0757), 0);
        expect_dir_writable(main_conf, inc, sub);
        ck_assert_int_eq(chmod(sub, 0755), 0);

        /* The main file's directory: every directory up to "/". */
        ck_assert_int_eq(chmod(dir, 0775), 0);
        expect_dir_writable(main_conf, main_conf, dir);
        ck_assert_int_eq(chmod(dir, 0755), 0);

        /* A link from a checked directory is followed (its target checked);
         * one in a directory others can write is not reached. */
        ck_assert_int_eq(symlink("conf.d", real_link), 0);
        write_text(main_conf, "[include]\nfiles = link.d/*.conf\n");
        expect_one_job(main_conf);
        ck_assert_int_eq(chmod(sub, 0775), 0);
        char *through = path_in(dir, "link.d/a.conf");
        expect_dir_writable(main_conf, through, sub);
        free(through);
        ck_assert_int_eq(chmod(sub, 0755), 0);
        ck_assert_int_eq(mkdir(open_dir, 0755), 0);
        ck_assert_int_eq(chmod(open_dir, 0777), 0);
        ck_assert_int_eq(symlink(sub, open_link), 0);
        write_text(main_conf, "[include]\nfiles = open/link/*.conf\n");
        through = path_in(dir, "open/link/a.conf");
        expect_dir_writable(main_conf, through, open_dir);
        free(through);

        /* Sticky and owned by root, as /tmp: others cannot replace the
         * names in it, so it passes; owned by anyone else it does not. */
        if (geteuid() == 0) {
                ck_assert_int_eq(chmod(open_dir, 01777), 0);
                expect_one_job(main_conf);
                /* ... but a link in it must be owned by root: others may add
                 * names there. (Read as the main file: glob() itself is
                 * refused such a link by the kernel's protected_symlinks.) */
                ck_assert_int_eq(lchown(open_link, 65534, 65534), 0);
                through = path_in(dir, "open/link/a.conf");
                expected = strdup_printf("%s: refusing to read: symbolic link %s is owned by uid 65534, not by "
                                         "root\n", through, open_link);
                expect_file_errors(through, expected);
                free(expected);
                free(through);
                ck_assert_int_eq(chown(open_dir, 65534, 65534), 0);
                through = path_in(dir, "open/link/a.conf");
                expected = strdup_printf("%s: refusing to read: directory %s is owned by uid 65534, not by root\n",
                                         through, open_dir);
                expect_file_errors(main_conf, expected);
                free(expected);
                free(through);
        } else
                fprintf(stderr, "test_directories: not root, sticky and owner checks not tested\n");

        /* A control character in a file name is escaped in messages. */
        char *esc = path_in(dir, "conf.d/b\x1b[31m.conf"), *shown = path_in(dir, "conf.d/b\\x1b[31m.conf");
        write_text(esc, "[job:b]\n");
        write_text(main_conf, "[include]\nfiles = conf.d/*.conf\n");
        expected = strdup_printf("%s:1: missing command= in [job:b]\n%s:1: no schedule in [job:b]: set one of "
                                 "every=, calendar=, cron=\n", shown, shown);
        expect_file_errors(main_conf, expected);
        free(expected);
        ck_assert_int_eq(chmod(esc, 0664), 0);
        expected = strdup_printf("%s: refusing to read: writable by group or others (run chmod go-w %s)\n", shown,
                                 shown);
        expect_file_errors(main_conf, expected);
        free(expected);
        expect_errors_named("[job:x]\ncommand = x\nevery = 1s\nenabled = maybe\n", "t\x1b]0;x\a.conf",
                            "t\\x1b]0;x\\x07.conf:4: invalid boolean \"maybe\" for enabled= in [job:x] (yes or no)\n");
        free(esc);
        free(shown);

        rm_rf(dir);
        free(dir);
        free(main_conf);
        free(sub);
        free(inc);
        free(open_dir);
        free(open_link);
        free(real_link);
}
END_TEST

/* config_load() runs on a helper thread while the loop runs, and a second
 * reload may start while one is parsed: two loads at once must not meet
 * (under TSan a shared static or an inih option set per load is a reported
 * race). One thread loads a file with includes, the others a text with
 * users, groups, the environment, calendar and cron expressions and time
 * zones, and one with errors; each result must be what the same load gives
 * alone. */
struct load_thread {
        const char *path;
        const char *text; /* NULL: load the file path */
        char *expected;
        int failures;
};

/* The format of the configuration, or its errors. */
static char *load_result(const struct load_thread *t) {
        struct config *c = NULL;
        char **errors = NULL, *out = NULL;
        int r = t->text ? config_load_string(t->text, t->path, &c, &errors) : config_load(t->path, &c, &errors);
        if (r == 0)
                ck_assert_int_eq(config_format(c, 0, &out), 0);
        else
                out = join(errors);
        strv_free(errors);
        config_free(c);
        return out;
}

static void *load_thread_run(void *arg) {
        struct load_thread *t = arg;
        for (int i = 0; i < 40; i++) {
                char *out = load_result(t);
                if (!streq(out, t->expected))
                        t->failures++;
                free(out);
        }
        return NULL;
}

START_TEST(test_concurrent_loads) {
        static const char text[] = "[daemon]\ncontrol_group = root\n"
                                   "[job:a]\ncommand = /bin/echo a\ncalendar = Mon..Fri *-*-* 02:30\n"
                                   "timezone = Europe/Berlin\nuser = root\n"
                                   "[job:b]\ncommand = b\ncron = 30 2 * * 1-5\ngroup = daemon\n"
                                   "environment = A=1 B=2\n";
        static const char bad[] = "[job:bad]\ncommand = x\nevery = 0\nuser = no-such-user-here\n"
                                  "[job:z]\ncommand = x\ncalendar = *-*-* 02:30\ntimezone = Mars/Olympus\n";
        char *dir = make_dir(), *main_conf = path_in(dir, "evd.conf"), *sub = path_in(dir, "conf.d"),
             *inc = path_in(dir, "conf.d/a.conf");
        struct load_thread t[3] = {
                { .path = main_conf },
                { .path = "s.conf", .text = text },
                { .path = "bad.conf", .text = bad },
        };
        pthread_t th[3];

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        write_text(inc, "[job:inc]\ncommand = /bin/true\ncalendar = *:0/5 UTC\nuser = root\n");
        write_text(main_conf, "[include]\nfiles = conf.d/*.conf\n[job:m]\ncommand = m\nevery = 1h\n");
        for (int i = 0; i < 3; i++)
                t[i].expected = load_result(&t[i]);
        ck_assert(strstr(t[0].expected, "[job:inc]"));
        ck_assert(strstr(t[1].expected, "[job:b]"));
        ck_assert(strstr(t[2].expected, "unknown user"));
        ck_assert(strstr(t[2].expected, "unknown time zone"));

        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(pthread_create(&th[i], NULL, load_thread_run, &t[i]), 0);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(pthread_join(th[i], NULL), 0);
                ck_assert_int_eq(t[i].failures, 0);
                free(t[i].expected);
        }
        rm_rf(dir);
        free(dir);
        free(main_conf);
        free(sub);
        free(inc);
}
END_TEST

START_TEST(test_long_lines_and_nul) {
        char *dir = make_dir(), *p = path_in(dir, "evd.conf"), *expected;
        size_t limit = 1024 * 1024;
        char *text = malloc(2 * limit + 256);
        ck_assert_ptr_nonnull(text);

        /* A 64 KiB value, and a line of exactly the limit, are read whole. */
        size_t n = (size_t)sprintf(text, "[job:a]\nevery = 1s\ncommand = /bin/echo ");
        memset(text + n, 'x', 65536);
        n += 65536;
        n += (size_t)sprintf(text + n, "\n[job:b]\nevery = 1s\n");
        size_t start = n;
        n += (size_t)sprintf(text + n, "command = /bin/echo ");
        memset(text + n, 'y', limit - (n - start));
        n = start + limit;
        n += (size_t)sprintf(text + n, "\n");
        write_file(p, text, n, 0644);
        struct config *c = NULL;
        char *errs = NULL;
        ck_assert_int_eq(load_file(p, &c, &errs), 0);
        free(errs);
        ck_assert_uint_eq(strlen(config_find_job(c, "a")->argv[1]), 65536);
        ck_assert_uint_eq(strlen(config_find_job(c, "b")->command), limit - strlen("command = "));
        config_free(c);

        /* One byte more is an error at its line, and never split: the rest
         * of the line is not taken for another line. The key counts as
         * given, so there is no "missing command=" after it. */
        text[n - 1] = 'y';
        n += (size_t)sprintf(text + n, "\n[daemon]\nworkers = 0\n");
        write_file(p, text, n, 0644);
        expected = strdup_printf("%s:6: line too long (%zu bytes, at most %zu)\n"
                                 "%s:8: invalid value \"0\" for workers= in [daemon] (must be 1..1024)\n",
                                 p, limit + 1, limit, p);
        expect_file_errors(p, expected);
        free(expected);

        /* A too long section header: its keys are not applied to the
         * previous section. */
        n = (size_t)sprintf(text, "[daemon]\n[job:");
        memset(text + n, 'z', limit);
        n += limit;
        n += (size_t)sprintf(text + n, "]\nworkers = 1\ncommand = x\n");
        write_file(p, text, n, 0644);
        expected = strdup_printf("%s:2: line too long (%zu bytes, at most %zu)\n", p, limit + 6, limit);
        expect_file_errors(p, expected);
        free(expected);

        /* NUL bytes, each reported at its line. */
        static const char nul[] = "[job:a]\ncommand = /bin/true\0x\nevery = 1s\n\0\n";
        write_file(p, nul, sizeof nul - 1, 0644);
        expected = strdup_printf("%s:2: NUL byte in the line\n%s:4: NUL byte in the line\n", p, p);
        expect_file_errors(p, expected);
        free(expected);

        /* A last line without a newline, and an empty file. */
        write_text(p, "[job:a]\ncommand = /bin/true\nevery = 1s");
        ck_assert_int_eq(load_file(p, &c, &errs), 0);
        ck_assert_uint_eq(c->jobs[0]->every, USEC_PER_SEC);
        config_free(c);
        free(errs);
        write_text(p, "");
        ck_assert_int_eq(load_file(p, &c, &errs), 0);
        ck_assert_uint_eq(c->n_jobs, 0);
        config_free(c);
        free(errs);

        rm_rf(dir);
        free(dir);
        free(p);
        free(text);
}
END_TEST

/* ---- golden files, round trip, the shipped example -------------------------------- */

/* The text config_format() gives for text, or its errors. */
static char *golden_output(const char *text, const char *name) {
        struct config *c = NULL;
        char **errors = NULL, *out = NULL;
        int r = config_load_string(text, name, &c, &errors);
        if (r == -EINVAL)
                out = join(errors);
        else {
                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(config_format(c, CONFIG_FORMAT_ORIGIN, &out), 0);
        }
        strv_free(errors);
        config_free(c);
        return out;
}

/* config_format() output parses back to a configuration that formats the
 * same. */
static void check_round_trip(const char *text, const char *name) {
        struct config *c = NULL, *again = NULL;
        char **errors = NULL, *out = NULL, *out2 = NULL;
        if (config_load_string(text, name, &c, NULL) < 0)
                return;
        ck_assert_int_eq(config_format(c, 0, &out), 0);
        int r = config_load_string(out, "formatted.conf", &again, &errors);
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "%s: formatted output: %s\n", name, *e);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(config_format(again, 0, &out2), 0);
        ck_assert_str_eq(out, out2);
        free(out);
        free(out2);
        config_free(c);
        config_free(again);
}

/* [daemon] metrics_file: an absolute path naming a file; formatted back. */
START_TEST(test_metrics_file) {
        struct config *c = load_ok("[daemon]\nmetrics_file = /var/lib/prometheus/node-exporter/evd.prom\n");
        ck_assert_str_eq(c->metrics_file, "/var/lib/prometheus/node-exporter/evd.prom");
        char *out = NULL;
        ck_assert_int_eq(config_format(c, 0, &out), 0);
        ck_assert_ptr_nonnull(strstr(out, "metrics_file = /var/lib/prometheus/node-exporter/evd.prom\n"));
        free(out);
        config_free(c);
        check_round_trip("[daemon]\nmetrics_file = /tmp/a b/evd.prom\n", "metrics.conf");
        c = load_ok("[daemon]\nworkers = 2\n");
        ck_assert_ptr_null(c->metrics_file);
        config_free(c);

        static const char *const bad[][2] = {
                { "evd.prom", "must be absolute" },
                { "/var/lib/node-exporter/", "must name a file" },
                { "/var/lib/node-exporter/.", "must name a file" },
                { "/var/lib/..", "must name a file" },
                { "/", "must name a file" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *text = strdup_printf("[daemon]\nmetrics_file = %s\n", bad[i][0]);
                char **errors = NULL;
                c = NULL;
                ck_assert_int_eq(config_load_string(text, "t.conf", &c, &errors), -EINVAL);
                ck_assert_ptr_nonnull(errors);
                ck_assert_msg(startswith(errors[0], "t.conf:2: ") && strstr(errors[0], bad[i][1]), "%s: %s",
                              bad[i][0], errors[0]);
                strv_free(errors);
                free(text);
        }
}
END_TEST

START_TEST(test_format_round_trip) {
        /* Words that need care to be written back: trailing and inner
         * blanks, a ";" after a blank (inih's comment), quotes, backslashes,
         * an empty value, control characters. */
        static const char text[] = "[job:j]\n"
                                   "command =;/bin/echo 'it''s' \"a;b\"\n"
                                   "every = 1s\n"
                                   "environment = \"A=x \" B=a\\ \\;b \"C=it's\" D='\\' E= F='\tx;' G=\"$`\"\n"
                                   "environment = H=\x01\x7f\xc3\xa9 I=\\;\n";
        struct config *c = load_ok(text);
        char **env = c->jobs[0]->extras->environment;
        ck_assert_uint_eq(strv_length(env), 9);
        ck_assert_str_eq(env[0], "A=x ");
        ck_assert_str_eq(env[1], "B=a ;b");
        ck_assert_str_eq(env[2], "C=it's");
        ck_assert_str_eq(env[3], "D=\\");
        ck_assert_str_eq(env[4], "E=");
        ck_assert_str_eq(env[5], "F=\tx;");
        ck_assert_str_eq(env[6], "G=$`");
        ck_assert_str_eq(env[7], "H=\x01\x7f\xc3\xa9");
        ck_assert_str_eq(env[8], "I=;");
        char *out = NULL;
        ck_assert_int_eq(config_format(c, 0, &out), 0);
        ck_assert_ptr_nonnull(strstr(out, "\nenvironment = 'A=x ' B=a' '\\;b C=it\\'s D=\\\\ E= F='\t'x\\; "
                                          "G=\\$\\` H=\\\x01\\\x7f\xc3\xa9 I=\\;\n"));
        free(out);
        config_free(c);
        check_round_trip(text, "t.conf");
}
END_TEST

/* The alert keys: a job's own laid over [daemon]'s (wherever [daemon]
 * is), an empty value turning a default off, blocks shared. */
START_TEST(test_alert_keys) {
        static const char text[] = "[job:a]\ncommand = /bin/true\nevery = 1h\non_recovery = /bin/rec 'x y'\n"
                                   "[daemon]\non_failure = /bin/fail\nmail_to = root, ops@example.com\nalert = every\n"
                                   "[job:b]\ncommand = /bin/true\nevery = 1h\non_failure =\nmail_to =\n"
                                   "[job:c]\ncommand = /bin/true\nevery = 1h\nmail_on = output\n"
                                   "[job:d]\ncommand = /bin/true\nevery = 2h\nmail_on = output\n"
                                   "[job:e]\ncommand = /bin/true\nevery = 2h\n";
        struct config *c = load_ok(text);
        struct job_alerts a;
        job_def_alerts(c->jobs[0], &a);
        ck_assert_str_eq(a.on_failure.argv[0], "/bin/fail");
        ck_assert_str_eq(a.on_recovery.argv[1], "x y");
        ck_assert_uint_eq(strv_length(a.mail_to_list), 2);
        ck_assert_int_eq(a.alert, ALERT_MODE_EVERY);
        ck_assert_int_eq(a.mail_on, MAIL_ON_FAILURE);
        ck_assert(job_def_has_alerts(c->jobs[0]));
        job_def_alerts(c->jobs[1], &a);
        ck_assert_ptr_null(a.on_failure.argv);
        ck_assert_ptr_null(a.mail_to_list);
        ck_assert(!job_def_has_alerts(c->jobs[1]));
        ck_assert_ptr_eq(c->jobs[2]->extras->alerts, c->jobs[3]->extras->alerts);
        job_def_alerts(c->jobs[2], &a);
        ck_assert_int_eq(a.mail_on, MAIL_ON_OUTPUT);
        ck_assert_ptr_null(c->jobs[4]->extras->alerts);
        ck_assert(job_def_has_alerts(c->jobs[4]));
        ck_assert_str_eq(config_sendmail_argv(c)[0], "/usr/sbin/sendmail");
        config_free(c);

        /* No alert key anywhere: nothing to do for any job. */
        c = load_ok("[job:x]\ncommand = /bin/true\nevery = 1h\n");
        ck_assert(!job_def_has_alerts(c->jobs[0]));
        config_free(c);

        /* A control character (CR) in an address is refused with its line. */
        expect_errors("[job:x]\ncommand = /bin/true\nevery = 1h\nmail_to = root\rBcc: x@example.com\n",
                      "t.conf:4: invalid address list \"root\\x0dBcc: x@example.com\" for mail_to= in [job:x]: "
                      "a line break in the address list\n");
}
END_TEST

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_golden) {
        const char *data = EVD_TEST_DATA "/config";
        DIR *d = opendir(data);
        ck_assert_msg(d != NULL, "%s: %s", data, strerror(errno));
        char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n > 5 && streq(de->d_name + n - 5, ".conf"))
                        ck_assert_int_eq(strv_push(&names, de->d_name), 0);
        }
        closedir(d);
        size_t n = strv_length(names);
        ck_assert_uint_ge(n, 5);
        qsort(names, n, sizeof(char *), name_cmp);

        /* Names as given, includes relative to the data directory. */
        ck_assert_int_eq(chdir(data), 0);
        bool update = getenv("EVD_UPDATE_GOLDEN") && streq(getenv("EVD_UPDATE_GOLDEN"), "1");
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                char *text = read_text(names[i]);
                ck_assert_msg(text != NULL, "%s: %s", names[i], strerror(errno));
                char *out = golden_output(text, names[i]);
                char *exp_name = strdup_printf("%.*s.expected", (int)strlen(names[i]) - 5, names[i]);
                if (update) {
                        FILE *f = fopen(exp_name, "we");
                        ck_assert_ptr_nonnull(f);
                        fputs(out, f);
                        fclose(f);
                }
                char *expected = read_text(exp_name);
                if (!expected || !streq(expected, out)) {
                        fprintf(stderr, "golden %s: mismatch\n--- %s:\n%s--- got:\n%s", names[i], exp_name,
                                expected ? expected : "(missing)\n", out);
                        failed++;
                }
                check_round_trip(text, names[i]);
                free(expected);
                free(exp_name);
                free(out);
                free(text);
        }
        strv_free(names);
        ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(test_shipped_example) {
        const char *path = EVD_SOURCE_DIR "/conf/evd.conf";
        char *text = read_text(path);
        ck_assert_msg(text != NULL, "the shipped example %s cannot be read: %s", path, strerror(errno));
        struct config *c = NULL;
        char **errors = NULL;
        int r = config_load_string(text, path, &c, &errors);
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "%s\n", *e);
        ck_assert_msg(r == 0, "the shipped example %s does not parse (%d errors)", path, (int)strv_length(errors));
        ck_assert_uint_ge(c->n_jobs, 1);
        for (size_t i = 0; i < c->n_jobs; i++)
                ck_assert_ptr_nonnull(c->jobs[i]->argv);
        check_round_trip(text, path);
        config_free(c);
        free(text);
}
END_TEST

/* ---- [cluster] and the cluster keys (issue 12) ------------------------------------ */

START_TEST(test_cluster) {
        static const char job_once[] = "[job:j]\ncommand = x\nevery = 1s\ncluster = once\n";
        if (!etcd_available()) {
                /* Built without etcd: both are clear errors, local is fine. */
                expect_errors("[cluster]\netcd = http://127.0.0.1:2379\n",
                              "t.conf:1: [cluster] needs etcd support, but this evd was built without it "
                              "(libcurl and json-c)\n");
                expect_errors(job_once, "t.conf:4: cluster = once in [job:j] needs etcd support, but this evd "
                                        "was built without it (libcurl and json-c)\n");
                config_free(load_ok("[job:j]\ncommand = x\nevery = 1s\ncluster = local\n"));
                return;
        }
        struct config *c = load_ok("[job:a]\ncommand = x\nevery = 1s\ncluster = once\n"
                                   "cluster_unreachable = run\ncluster_history = 1h\n"
                                   "[cluster]\netcd = http://10.0.0.1, https://[::1]:2380/\nname = prod\n"
                                   "node = web-1\nlease = 6s\n"
                                   "[job:b]\ncommand = x\nevery = 1s\n");
        ck_assert_ptr_nonnull(c->cluster);
        ck_assert_str_eq(c->cluster->endpoints[0], "http://10.0.0.1:2379");
        ck_assert_str_eq(c->cluster->endpoints[1], "https://[::1]:2380");
        ck_assert_ptr_null(c->cluster->endpoints[2]);
        ck_assert_str_eq(c->cluster->name, "prod");
        ck_assert_str_eq(c->cluster->node, "web-1");
        ck_assert_uint_eq(c->cluster->lease, 6 * USEC_PER_SEC);
        const struct job_def *a = config_find_job(c, "a"), *b = config_find_job(c, "b");
        ck_assert(job_def_cluster_once(a));
        ck_assert_int_eq(a->extras->cluster_unreachable, CLUSTER_UNREACHABLE_RUN);
        ck_assert_uint_eq(job_def_cluster_history(a), USEC_PER_HOUR);
        ck_assert(!job_def_cluster_once(b));
        ck_assert_uint_eq(job_def_cluster_history(b), CLUSTER_HISTORY_DEFAULT);
        config_free(c);
        check_round_trip("[cluster]\netcd = http://127.0.0.1:2379\nnode = n1\nca_file = /etc/passwd\n"
                         "[job:a]\ncommand = x\ncalendar = daily\ncluster = once\ncluster_history = 2d\n",
                         "t.conf");

        /* Defaults: name "default", node the host name, lease 10s. */
        c = load_ok("[cluster]\netcd = http://127.0.0.1:2379\n");
        char host[256] = "";
        ck_assert_int_eq(gethostname(host, sizeof host - 1), 0);
        ck_assert_str_eq(c->cluster->node, host);
        ck_assert_str_eq(c->cluster->name, "default");
        ck_assert_uint_eq(c->cluster->lease, CLUSTER_LEASE_DEFAULT);
        config_free(c);

        expect_errors(job_once, "t.conf:4: cluster = once in [job:j] needs a [cluster] section\n");
        expect_errors("[cluster]\netcd = http://x:99999\n",
                      "t.conf:2: invalid etcd= in [cluster]: bad etcd endpoint \"http://x:99999\": port out of range "
                      "(1-65535)\n");
        expect_errors("[cluster]\nname = a/b\n",
                      "t.conf:1: missing etcd= in [cluster]\n"
                      "t.conf:2: invalid name \"a/b\" for name= in [cluster]: use only letters, digits, \"_\", "
                      "\".\" and \"-\"\n");
        expect_errors("[cluster]\netcd = http://h\nca_file = /nonexistent/ca.pem\nlease = 1500ms\n",
                      "t.conf:3: cannot read \"/nonexistent/ca.pem\" for ca_file= in [cluster]: No such file or "
                      "directory\n"
                      "t.conf:4: invalid lease \"1500ms\" for lease= in [cluster] (whole seconds, 2s..1d)\n");
        expect_errors("[cluster]\netcd = http://h\ncert_file = /etc/passwd\n",
                      "t.conf:1: cert_file= and key_file= in [cluster] go together\n");
        /* TLS files are regular files: a directory or a device is not one
         * (and a FIFO would block the open). */
        expect_errors("[cluster]\netcd = http://h\nca_file = /\n",
                      "t.conf:3: cannot read \"/\" for ca_file= in [cluster]: not a regular file\n");
        expect_errors("[cluster]\netcd = http://h\nca_file = /dev/null\n",
                      "t.conf:3: cannot read \"/dev/null\" for ca_file= in [cluster]: not a regular file\n");
        expect_errors("[cluster]\netcd = http://h\n[cluster]\netcd = http://h\n",
                      "t.conf:3: [cluster] given twice (first at line 1)\n");
        expect_errors("[job:j]\ncommand = x\nevery = 1s\ncluster_unreachable = maybe\n",
                      "t.conf:4: invalid value \"maybe\" for cluster_unreachable= in [job:j] (skip or run)\n");
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_alert_keys);
        tcase_add_test(tc, test_exec_shared);
        tcase_add_test(tc, test_command_shared);
        tcase_add_test(tc, test_all_keys);
        tcase_add_test(tc, test_command_split);
        tcase_add_test(tc, test_environment);
        tcase_add_test(tc, test_environment_limit);
        tcase_add_test(tc, test_lexical);
        tcase_add_loop_test(tc, test_errors, 0, (int)ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_too_many_errors);
        tcase_add_test(tc, test_errors_appended);
        tcase_add_test(tc, test_job_defs);
        tcase_add_test(tc, test_packed);
        tcase_add_test(tc, test_many_jobs);
        tcase_add_test(tc, test_includes);
        tcase_add_test(tc, test_permissions);
        tcase_add_test(tc, test_directories);
        tcase_add_test(tc, test_concurrent_loads);
        tcase_add_test(tc, test_long_lines_and_nul);
        tcase_add_test(tc, test_format_round_trip);
        tcase_add_test(tc, test_metrics_file);
        tcase_add_test(tc, test_golden);
        tcase_add_test(tc, test_shipped_example);
        tcase_add_test(tc, test_cluster);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
