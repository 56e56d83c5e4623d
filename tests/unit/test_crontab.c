/* Unit tests for crontab.c and crontab_file.c: Debian cron's crontab(5)
 * rules, the stable names, the bounds, and the file-level rules. */
#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "crontab.h"

/* Users known to these tests (the callback the reader takes). */
static int fake_lookup(const char *user, char **ret_home, void *userdata) {
        (void)userdata;
        const char *home = streq(user, "root") ? "/root" : streq(user, "alice") ? "/home/alice" : NULL;
        if (!home)
                return -ENOENT;
        if (ret_home && !(*ret_home = strdup(home)))
                return -ENOMEM;
        return 0;
}

static const struct crontab_options sys_opts = { .format = CRONTAB_SYSTEM, .lookup = fake_lookup };
static const struct crontab_options sys_nolookup = { .format = CRONTAB_SYSTEM };
static const struct crontab_options user_opts = { .format = CRONTAB_USER, .user = "alice", .lookup = fake_lookup };

static struct crontab *parse(const char *path, const char *text, const struct crontab_options *o) {
        struct crontab *c = NULL;
        int r = crontab_parse(path, text, strlen(text), o, &c);
        ck_assert_msg(r == 0, "parse failed: %d", r);
        return c;
}

static void assert_errors(const struct crontab *c, size_t n, const char *const *substr) {
        for (size_t i = 0; i < c->n_errors && i < 8; i++)
                fprintf(stderr, "  error: %s\n", c->errors[i]);
        ck_assert_uint_eq(c->n_errors, n);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(strstr(c->errors[i], substr[i]), "error %zu \"%s\" lacks \"%s\"", i, c->errors[i],
                              substr[i]);
}

START_TEST(test_system_format) {
        _cleanup_(crontab_freep) struct crontab *c =
                parse("/etc/cron.d/sysstat",
                      "# comment\n\n   \t# indented comment\n"
                      "5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n"
                      "59 23 * * *\troot\t  echo a # not a comment  \n"
                      "@reboot alice /bin/true\n",
                      &sys_opts);
        assert_errors(c, 0, NULL);
        ck_assert_uint_eq(c->n_entries, 3);
        const struct crontab_entry *e = &c->entries[0];
        ck_assert_uint_eq(e->line, 4);
        ck_assert_str_eq(e->schedule, "5-55/10 * * * *");
        ck_assert_str_eq(e->user, "root");
        ck_assert_str_eq(e->command, "command -v debian-sa1 > /dev/null && debian-sa1 1 1");
        ck_assert_ptr_null(e->input);
        ck_assert_str_eq(e->shell, "/bin/sh");
        ck_assert_ptr_null(e->mailto);
        ck_assert_ptr_null(e->timezone);
        ck_assert_str_eq(e->home, "/root");
        ck_assert_str_eq(c->entries[1].schedule, "59 23 * * *");
        ck_assert_str_eq(c->entries[1].command, "echo a # not a comment  ");
        ck_assert_str_eq(c->entries[2].schedule, "@reboot");
        ck_assert(schedule_is_reboot(c->entries[2].sched));
        ck_assert_str_eq(c->entries[2].user, "alice");
        ck_assert_str_eq(c->entries[2].home, "/home/alice");
}
END_TEST

START_TEST(test_user_format) {
        _cleanup_(crontab_freep) struct crontab *c =
                parse("/var/spool/cron/crontabs/alice", "*/5 * * * * root echo hi\n@daily   ls\n", &user_opts);
        assert_errors(c, 0, NULL);
        ck_assert_uint_eq(c->n_entries, 2);
        /* No user field: "root" is the first word of the command. */
        ck_assert_str_eq(c->entries[0].user, "alice");
        ck_assert_str_eq(c->entries[0].command, "root echo hi");
        ck_assert_str_eq(c->entries[1].command, "ls");
        struct crontab *x = NULL;
        const struct crontab_options no_user = { .format = CRONTAB_USER };
        ck_assert_int_eq(crontab_parse("x", "", 0, &no_user, &x), -EINVAL);
}
END_TEST

START_TEST(test_macros) {
        static const char *const m[] = { "@reboot", "@yearly", "@annually", "@monthly", "@weekly",
                                         "@daily",  "@midnight", "@hourly", "@DAILY" };
        for (size_t i = 0; i < ELEMENTSOF(m); i++) {
                char text[128];
                snprintf(text, sizeof text, "%s root true\n", m[i]);
                _cleanup_(crontab_freep) struct crontab *c = parse("t", text, &sys_opts);
                assert_errors(c, 0, NULL);
                ck_assert_uint_eq(c->n_entries, 1);
                usec_t next = 0;
                int r = schedule_next(c->entries[0].sched, "UTC", 1700000000ULL * USEC_PER_SEC, &next);
                ck_assert_int_eq(r, i == 0 ? -ENOENT : 0);
        }
        _cleanup_(crontab_freep) struct crontab *c = parse("t", "@sometimes root true\n@ root x\n", &sys_opts);
        assert_errors(c, 2, (const char *const[]){ "t:1: unknown macro \"@sometimes\"", "t:2: unknown macro" });
}
END_TEST

START_TEST(test_environment) {
        _cleanup_(crontab_freep) struct crontab *c =
                parse("t",
                      "0 1 * * * root before\n"
                      "SHELL=/bin/bash\n"
                      "  PATH = /usr/local/bin:/usr/bin  \n"
                      "A=\"  spaced  \"\n"
                      "B='single'\n"
                      "C=plain \t \n"
                      "\"Q N\"=quoted name\n"
                      "MAILTO=\"\"\n"
                      "CRON_TZ=Europe/Berlin\n"
                      "HOME=/srv\n"
                      "LOGNAME=mallory\n"
                      "0 2 * * * root after\n"
                      "A=changed\n"
                      "0 3 * * * alice last\n",
                      &sys_opts);
        assert_errors(c, 0, NULL);
        ck_assert_uint_eq(c->n_entries, 3);
        const struct crontab_entry *e0 = &c->entries[0], *e1 = &c->entries[1], *e2 = &c->entries[2];
        ck_assert_str_eq(e0->shell, "/bin/sh");
        ck_assert_ptr_null(e0->assignments[0]);
        ck_assert_str_eq(e1->shell, "/bin/bash");
        ck_assert_str_eq(e1->mailto, "");
        ck_assert_str_eq(e1->timezone, "Europe/Berlin");
        char **env = NULL;
        ck_assert_int_eq(crontab_entry_environment(e1, &env), 0);
        static const char *const want[] = { "SHELL=/bin/bash", "PATH=/usr/local/bin:/usr/bin",
                                            "HOME=/srv", "A=  spaced", "B=single", "C=plain",
                                            "Q N=quoted name", "MAILTO=", "CRON_TZ=Europe/Berlin",
                                            "LOGNAME=root", NULL };
        for (size_t i = 0; want[i]; i++) {
                ck_assert_msg(env[i], "missing %s", want[i]);
                ck_assert_str_eq(env[i], want[i]);
        }
        ck_assert_ptr_null(env[ELEMENTSOF(want) - 1]);
        strv_free(env);
        /* Later assignments apply to the lines below only; HOME from the
         * lookup unless set. */
        ck_assert_int_eq(crontab_entry_environment(e0, &env), 0);
        ck_assert_str_eq(env[0], "SHELL=/bin/sh");
        ck_assert_str_eq(env[1], "PATH=/usr/bin:/bin");
        ck_assert_str_eq(env[2], "HOME=/root");
        strv_free(env);
        ck_assert_str_eq(e2->assignments[2], "A=changed");
        /* Entries between the same VAR= lines share one snapshot. */
        ck_assert_ptr_ne(e0->assignments, e1->assignments);

        /* A quoted value must end with its quote (else the line is an
         * entry, and wrong); an empty name is an assignment. */
        _cleanup_(crontab_freep) struct crontab *d =
                parse("t", "G = \"x\" y\nH=\"x\nI='x\"\nJ=''\n=x\n0 1 * * * root a\n0 2 * * * root b\n",
                      &sys_opts);
        assert_errors(d, 3, (const char *const[]){ "t:1: ", "t:2: ", "t:3: " });
        ck_assert_uint_eq(d->n_entries, 2);
        ck_assert_str_eq(d->entries[0].assignments[0], "J=");
        ck_assert_str_eq(d->entries[0].assignments[1], "=x");
        ck_assert_ptr_eq(d->entries[0].assignments, d->entries[1].assignments);
}
END_TEST

START_TEST(test_percent) {
        _cleanup_(crontab_freep) struct crontab *c =
                parse("t",
                      "0 22 * * 1-5 root mail -s \"It's 10pm\" joe%Joe,%%Where are your kids?%\n"
                      "* * * * * root date +\\%Y-\\%m-\\%d\n"
                      "* * * * * root cat%a\\%b%c\n"
                      "* * * * * root cat%\n"
                      "* * * * * root printf 'a\\\\b'\n",
                      &sys_opts);
        assert_errors(c, 0, NULL);
        ck_assert_str_eq(c->entries[0].command, "mail -s \"It's 10pm\" joe");
        ck_assert_str_eq(c->entries[0].input, "Joe,\n\nWhere are your kids?\n");
        ck_assert_str_eq(c->entries[1].command, "date +%Y-%m-%d");
        ck_assert_ptr_null(c->entries[1].input);
        ck_assert_str_eq(c->entries[2].command, "cat");
        ck_assert_str_eq(c->entries[2].input, "a%b\nc\n");
        ck_assert_str_eq(c->entries[3].input, "");
        ck_assert_str_eq(c->entries[4].command, "printf 'a\\\\b'");
}
END_TEST

START_TEST(test_bad_lines) {
        _cleanup_(crontab_freep) struct crontab *c =
                parse("/etc/cron.d/odd",
                      "60 * * * * root bad-minute\n"
                      "0 24 * * * root bad-hour\n"
                      "* * * * root too-few\n"
                      "0 0 * * *\n"
                      "0 0 * * * root\n"
                      "0 0 * * * bob unknown-user\n"
                      "0 0 32 * * root bad-day\n"
                      "0 0 * 13 * root bad-month\n"
                      "0 0 * * 8 root bad-weekday\n"
                      "CRON_TZ=Mars/Olympus\n"
                      "0 0 * * * root bad-zone\n"
                      "CRON_TZ=UTC\n"
                      "garbage\n"
                      "1 2 3 4 5 root good\n",
                      &sys_opts);
        static const char *const want[] = {
                "/etc/cron.d/odd:1: ", "/etc/cron.d/odd:2: ", "/etc/cron.d/odd:3: ",
                "/etc/cron.d/odd:4: no user and command", "/etc/cron.d/odd:5: no command",
                "/etc/cron.d/odd:6: unknown user \"bob\"", "/etc/cron.d/odd:7: ", "/etc/cron.d/odd:8: ",
                "/etc/cron.d/odd:9: ", "/etc/cron.d/odd:11: unknown time zone CRON_TZ=Mars/Olympus",
                "/etc/cron.d/odd:13: expected five time fields, found 1",
        };
        assert_errors(c, ELEMENTSOF(want), want);
        ck_assert_uint_eq(c->n_entries, 1);
        ck_assert_str_eq(c->entries[0].command, "good");
        ck_assert_uint_eq(c->entries[0].line, 14);
        /* Without a lookup, users are not checked. */
        _cleanup_(crontab_freep) struct crontab *d = parse("t", "0 0 * * * bob x\n", &sys_nolookup);
        assert_errors(d, 0, NULL);
        ck_assert_ptr_null(d->entries[0].home);
}
END_TEST

START_TEST(test_no_final_newline) {
        _cleanup_(crontab_freep) struct crontab *c = parse("t", "0 0 * * * root a\n0 1 * * * root b", &sys_opts);
        assert_errors(c, 1, (const char *const[]){ "t:2: no newline at the end of the file" });
        ck_assert_uint_eq(c->n_entries, 1);
        /* A trailing comment or blank line without a newline is harmless. */
        _cleanup_(crontab_freep) struct crontab *d = parse("t", "0 0 * * * root a\n# end", &sys_opts);
        assert_errors(d, 0, NULL);
}
END_TEST

START_TEST(test_nul_and_long_lines) {
        static const char text[] = "0 0 * * * root a\0b\n0 1 * * * root ok\n";
        struct crontab *c = NULL;
        ck_assert_int_eq(crontab_parse("t", text, sizeof text - 1, &sys_opts, &c), 0);
        assert_errors(c, 1, (const char *const[]){ "t:1: NUL byte" });
        ck_assert_uint_eq(c->n_entries, 1);
        crontab_free(c);

        size_t n = CRONTAB_LINE_MAX + 100;
        char *big = malloc(n + 64);
        ck_assert_ptr_nonnull(big);
        strcpy(big, "0 0 * * * root echo ");
        memset(big + strlen(big), 'x', n);
        strcpy(big + n, "\n0 1 * * * root ok\n");
        c = parse("t", big, &sys_opts);
        assert_errors(c, 1, (const char *const[]){ "t:1: line longer than" });
        ck_assert_uint_eq(c->n_entries, 1);
        crontab_free(c);
        free(big);
}
END_TEST

START_TEST(test_cron_limits) {
        /* As Debian's cron (tests/crontab/test_cron_diff.py): "\r" is not a
         * blank, commands are at most 998 bytes, stdin included. */
        char text[4000];
        snprintf(text, sizeof text, "0 0 * * * root a\r\n\r\n0 1 * * * root echo %0993d\n"
                 "0 1 * * * root echo %0994d\n0 1 * * * root cat%%%0995d\n", 0, 0, 0);
        _cleanup_(crontab_freep) struct crontab *c = parse("t", text, &sys_opts);
        assert_errors(c, 3, (const char *const[]){ "t:2: expected five time fields, found 1",
                                                   "t:4: command longer than 998 bytes",
                                                   "t:5: command longer than 998 bytes" });
        ck_assert_uint_eq(c->n_entries, 2);
        ck_assert_str_eq(c->entries[0].command, "a\r");
        ck_assert_uint_eq(strlen(c->entries[1].command), 998);
}
END_TEST

static bool name_valid(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.' || *s == '-'))
                        return false;
        return true;
}

START_TEST(test_names_stable) {
        _cleanup_(crontab_freep) struct crontab *a =
                parse("/etc/cron.d/php", "0 1 * * * root one\n0 2 * * * root two\n", &sys_opts);
        _cleanup_(crontab_freep) struct crontab *b = parse(
                "/etc/cron.d/php", "# new comment\n0 0 * * * root zero\n0 1 * * * root one\n\n0 2 * * * root two\n",
                &sys_opts);
        ck_assert(startswith(a->entries[0].name, "php-"));
        ck_assert_uint_eq(strlen(a->entries[0].name), strlen("php-") + 8);
        ck_assert_str_eq(a->entries[0].name, b->entries[1].name);
        ck_assert_str_eq(a->entries[1].name, b->entries[2].name);
        ck_assert_str_ne(a->entries[0].name, a->entries[1].name);
        /* Any of schedule, user, command, stdin, environment changes it. */
        static const char *const variants[] = {
                "0 1 * * * root one\n", "0 1 * * * alice one\n", "0 1 * * * root one \n",
                "0 1 * * * root one%\n", "X=1\n0 1 * * * root one\n", "0 1 * * * root one%in\n",
        };
        for (size_t i = 1; i < ELEMENTSOF(variants); i++) {
                _cleanup_(crontab_freep) struct crontab *v = parse("/etc/cron.d/php", variants[i], &sys_opts);
                ck_assert_str_ne(v->entries[0].name, a->entries[0].name);
        }
        /* Odd base names give valid job names. */
        _cleanup_(crontab_freep) struct crontab *o = parse("/tmp/we ird:näme", "0 1 * * * root one\n", &sys_opts);
        ck_assert_msg(name_valid(o->entries[0].name), "%s", o->entries[0].name);
        ck_assert(startswith(o->entries[0].name, "we_ird_n"));
}
END_TEST

START_TEST(test_names_repeated) {
        _cleanup_(crontab_freep) struct crontab *c = parse(
                "crontab", "0 1 * * * root same\n0 2 * * * root other\n0 1 * * * root same\n0 1 * * * root same\n",
                &sys_opts);
        ck_assert_uint_eq(c->n_entries, 4);
        char want[64];
        snprintf(want, sizeof want, "%s-2", c->entries[0].name);
        ck_assert_str_eq(c->entries[2].name, want);
        snprintf(want, sizeof want, "%s-3", c->entries[0].name);
        ck_assert_str_eq(c->entries[3].name, want);
        for (size_t i = 0; i < c->n_entries; i++)
                ck_assert(name_valid(c->entries[i].name));
}
END_TEST

START_TEST(test_bounds) {
        /* 100,000 entry lines (about 2.4 MB) and 1 MB in a single
         * comment-free file load; a file past the limit is refused. */
        size_t n = 100000, cap = n * 40;
        char *t = malloc(cap), *p = t;
        ck_assert_ptr_nonnull(t);
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%zu %zu * * * root job %zu\n", i % 60, i % 24, i);
        _cleanup_(crontab_freep) struct crontab *c = NULL;
        ck_assert_int_eq(crontab_parse("big", t, (size_t)(p - t), &sys_opts, &c), 0);
        ck_assert_uint_eq(c->n_entries, n);
        ck_assert_uint_eq(c->n_errors, 0);
        free(t);

        /* 1 MB of assignments to many names: bounded, errors counted. */
        cap = 1024 * 1024;
        t = malloc(cap + 1);
        p = t;
        for (size_t i = 0; (size_t)(p - t) < cap - 32; i++)
                p += sprintf(p, "V%zu=x\n", i);
        _cleanup_(crontab_freep) struct crontab *d = NULL;
        ck_assert_int_eq(crontab_parse("vars", t, (size_t)(p - t), &sys_opts, &d), 0);
        ck_assert_uint_gt(d->n_errors, CRONTAB_ERRORS_MAX);
        ck_assert_uint_eq(strv_length(d->errors), CRONTAB_ERRORS_MAX);
        ck_assert(strstr(d->errors[0], "vars:257: too many environment variables"));
        free(t);

        struct crontab *x = NULL;
        char *huge = calloc(1, (size_t)CRONTAB_SIZE_MAX + 1);
        ck_assert_int_eq(crontab_parse("huge", huge, (size_t)CRONTAB_SIZE_MAX + 1, &sys_opts, &x), -EFBIG);
        free(huge);
}
END_TEST

START_TEST(test_garbage) {
        unsigned seed = 12345;
        char buf[4096];
        for (int round = 0; round < 2000; round++) {
                size_t n = (size_t)(rand_r(&seed) % sizeof buf);
                for (size_t i = 0; i < n; i++) {
                        int k = rand_r(&seed) % 8;
                        /* Biased toward the characters the syntax cares about. */
                        buf[i] = k == 0 ? "\n%\\@*=\"' \t/,-0123456789"[rand_r(&seed) % 24] : (char)rand_r(&seed);
                }
                struct crontab *c = NULL;
                int r = crontab_parse("garbage", buf, n, round % 2 ? &sys_opts : &user_opts, &c);
                ck_assert_int_eq(r, 0);
                for (size_t i = 0; i < c->n_entries; i++)
                        ck_assert(name_valid(c->entries[i].name));
                crontab_free(c);
        }
}
END_TEST

START_TEST(test_dir_names) {
        static const char *const good[] = { "sysstat", "e2scrub_all", "php", "popularity-contest", "A1" };
        static const char *const bad[] = { "", "php.dpkg-old", "x~", ".hidden", "a b", "#x#", "x.bak", "ü" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(crontab_dir_name_valid(good[i]), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!crontab_dir_name_valid(bad[i]), "%s", bad[i]);
}
END_TEST

START_TEST(test_allow_deny) {
        ck_assert(crontab_user_allowed("alice", NULL, NULL));
        ck_assert(crontab_user_allowed("alice", NULL, "bob\n"));
        ck_assert(!crontab_user_allowed("alice", NULL, "bob\n  alice \ncarol"));
        ck_assert(!crontab_user_allowed("alice", "bob\n", NULL));
        ck_assert(crontab_user_allowed("alice", "bob\nalice\n", NULL));
        /* allow wins over deny; root is always allowed. */
        ck_assert(crontab_user_allowed("alice", "alice\n", "alice\n"));
        ck_assert(!crontab_user_allowed("alice", "", ""));
        ck_assert(crontab_user_allowed("root", "", "root\n"));
        ck_assert(!crontab_user_allowed("ali", NULL, "alice\nali\n"));
        ck_assert(crontab_user_allowed("ali", NULL, "alice\n"));
}
END_TEST


/* Real files of Debian packages (tests/data/crontabs/README). */
struct real_entry {
        const char *file, *schedule, *user, *command, *path;
};

START_TEST(test_real_files) {
        static const struct real_entry want[] = {
                { "crontab", "17 * * * *", "root", "cd / && run-parts --report /etc/cron.hourly", NULL },
                { "crontab", "25 6 * * *", "root",
                  "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", NULL },
                { "crontab", "47 6 * * 7", "root",
                  "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }", NULL },
                { "crontab", "52 6 1 * *", "root",
                  "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }",
                  "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin" },
                { "e2scrub_all", "30 3 * * 0", "root",
                  "test -e /run/systemd/system || SERVICE_MODE=1 "
                  "/usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron", NULL },
                { "e2scrub_all", "10 3 * * *", "root",
                  "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r", NULL },
                { "php", "09,39 * * * *", "root",
                  "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
                  "/usr/lib/php/sessionclean; fi", NULL },
                { "popularity-contest", "6 11 * * *", "root",
                  "test -x /etc/cron.daily/popularity-contest && /etc/cron.daily/popularity-contest --crond",
                  "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin" },
                { "sysstat", "5-55/10 * * * *", "root", "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                  "PATH=/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin" },
                { "sysstat", "59 23 * * *", "root", "command -v debian-sa1 > /dev/null && debian-sa1 60 2",
                  "PATH=/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin" },
        };
        size_t k = 0;
        static const char *const files[] = { "crontab", "e2scrub_all", "php", "popularity-contest", "sysstat" };
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                char path[512];
                snprintf(path, sizeof path, "%s/crontabs/%s", EVD_TEST_DATA, files[f]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ck_assert_int_ge(fd, 0);
                char *text = NULL;
                size_t size = 0;
                ck_assert_int_eq(crontab_read_fd(fd, &text, &size), 0);
                close(fd);
                _cleanup_(crontab_freep) struct crontab *c = NULL;
                ck_assert_int_eq(crontab_parse(path, text, size, &sys_opts, &c), 0);
                free(text);
                assert_errors(c, 0, NULL);
                for (size_t i = 0; i < c->n_entries; i++, k++) {
                        const struct crontab_entry *e = &c->entries[i];
                        ck_assert_uint_lt(k, ELEMENTSOF(want));
                        ck_assert_str_eq(want[k].file, files[f]);
                        ck_assert_str_eq(e->schedule, want[k].schedule);
                        ck_assert_str_eq(e->user, want[k].user);
                        ck_assert_str_eq(e->command, want[k].command);
                        ck_assert_ptr_null(e->input);
                        ck_assert_str_eq(e->shell, "/bin/sh");
                        ck_assert(startswith(e->name, files[f]));
                        if (want[k].path) {
                                char **env = NULL;
                                ck_assert_int_eq(crontab_entry_environment(e, &env), 0);
                                ck_assert_str_eq(env[1], want[k].path);
                                strv_free(env);
                        }
                }
        }
        ck_assert_uint_eq(k, ELEMENTSOF(want));
}
END_TEST

/* File-level rules: need root to give files other owners. */
static char tmpdir[64];

static void setup_dir(void) {
        strcpy(tmpdir, "/tmp/test_crontab.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text, mode_t mode, uid_t uid) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        ck_assert_int_eq(fchmod(fd, mode), 0);
        ck_assert_int_eq(fchown(fd, uid, (gid_t)-1), 0);
        close(fd);
}

/* Loads tmpdir/name; returns the error (0 on success) and checks the
 * reason contains want. */
static int load(const char *name, const struct crontab_options *o, const char *want) {
        int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
        struct crontab *c = NULL;
        char *why = NULL;
        int r = crontab_load(dfd, name, NULL, o, &c, &why);
        close(dfd);
        if (r == 0) {
                ck_assert_ptr_null(why);
                ck_assert_ptr_nonnull(c);
                ck_assert_uint_eq(c->n_entries, 1);
                ck_assert_msg(!want, "%s loaded, expected \"%s\"", name, want);
        } else {
                ck_assert_ptr_nonnull(why);
                ck_assert_msg(want && strstr(why, want), "%s: \"%s\" lacks \"%s\"", name, why, want ? want : "");
                ck_assert(startswith(why, name));
        }
        crontab_free(c);
        free(why);
        return r;
}

static uid_t nobody_uid(void) {
        struct passwd *pw = getpwnam("nobody");
        ck_assert_ptr_nonnull(pw);
        return pw->pw_uid;
}

START_TEST(test_file_system_rules) {
        if (geteuid() != 0)
                return; /* the owner rules need root (tests/unit run as root in CI) */
        static const char *const line = "0 0 * * * root true\n";
        uid_t nobody = nobody_uid();
        write_file("good", line, 0644, 0);
        ck_assert_int_eq(load("good", &sys_opts, NULL), 0);
        write_file("gw", line, 0664, 0);
        ck_assert_int_eq(load("gw", &sys_opts, "writable by group or others"), -EPERM);
        write_file("ow", line, 0646, 0);
        ck_assert_int_eq(load("ow", &sys_opts, "writable by group or others"), -EPERM);
        write_file("notroot", line, 0644, nobody);
        ck_assert_int_eq(load("notroot", &sys_opts, "not owned by root"), -EPERM);

        char a[256], b[256];
        snprintf(a, sizeof a, "%s/good", tmpdir);
        snprintf(b, sizeof b, "%s/hard", tmpdir);
        ck_assert_int_eq(link(a, b), 0);
        ck_assert_int_eq(load("good", &sys_opts, "more than one hard link"), -EPERM);
        ck_assert_int_eq(unlink(b), 0);

        /* Symlinks: followed when the link and its target are root's. */
        snprintf(b, sizeof b, "%s/link", tmpdir);
        ck_assert_int_eq(symlink(a, b), 0);
        ck_assert_int_eq(load("link", &sys_opts, NULL), 0);
        ck_assert_int_eq(lchown(b, nobody, (gid_t)-1), 0);
        ck_assert_int_eq(load("link", &sys_opts, "symbolic link not owned by root"), -EPERM);
        snprintf(a, sizeof a, "%s/notroot", tmpdir);
        snprintf(b, sizeof b, "%s/link2", tmpdir);
        ck_assert_int_eq(symlink(a, b), 0);
        ck_assert_int_eq(load("link2", &sys_opts, "not owned by root"), -EPERM);
        snprintf(a, sizeof a, "%s/loop1", tmpdir);
        snprintf(b, sizeof b, "%s/loop2", tmpdir);
        ck_assert_int_eq(symlink(a, b), 0);
        ck_assert_int_eq(symlink(b, a), 0);
        ck_assert_int_eq(load("loop1", &sys_opts, "too many levels of symbolic links"), -ELOOP);

        /* Not regular: a FIFO (must not block), a directory; missing. */
        snprintf(a, sizeof a, "%s/fifo", tmpdir);
        ck_assert_int_eq(mkfifo(a, 0644), 0);
        ck_assert_int_eq(load("fifo", &sys_opts, "not a regular file"), -EPERM);
        snprintf(a, sizeof a, "%s/dir", tmpdir);
        ck_assert_int_eq(mkdir(a, 0755), 0);
        ck_assert_int_eq(load("dir", &sys_opts, "not a regular file"), -EPERM);
        ck_assert_int_eq(load("missing", &sys_opts, "No such file"), -ENOENT);

        /* Too big: refused without being read. */
        write_file("big", "", 0644, 0);
        snprintf(a, sizeof a, "%s/big", tmpdir);
        ck_assert_int_eq(truncate(a, (off_t)CRONTAB_SIZE_MAX + 1), 0);
        ck_assert_int_eq(load("big", &sys_opts, "larger than 4 MiB"), -EFBIG);
}
END_TEST

/* The text crontab_load_text() returns is kept by the configuration
 * for every table: it must not carry the read buffer's slack. */
START_TEST(test_load_text_fits) {
        if (geteuid() != 0)
                return; /* system tables must be root's */
        write_file("small", "0 0 * * * root true\n", 0644, 0);
        int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
        char *text = NULL, *why = NULL;
        size_t size = 0;
        ck_assert_int_eq(crontab_load_text(dfd, "small", NULL, &sys_opts, &text, &size, &why), 0);
        close(dfd);
        ck_assert_uint_eq(size, 20);
        ck_assert_msg(malloc_usable_size(text) < 256, "a 20-byte table holds %zu bytes",
                      malloc_usable_size(text));
        free(text);
        free(why);
}
END_TEST

START_TEST(test_file_user_rules) {
        if (geteuid() != 0)
                return;
        uid_t nobody = nobody_uid();
        /* The passwd database decides (no lookup callback). */
        const struct crontab_options o = { .format = CRONTAB_USER, .user = "nobody" };
        static const char *const line = "0 0 * * * true\n";
        write_file("nobody", line, 0600, nobody);
        ck_assert_int_eq(load("nobody", &o, NULL), 0);
        struct passwd *bin = getpwnam("bin");
        ck_assert_ptr_nonnull(bin);
        write_file("nobody", line, 0600, bin->pw_uid);
        ck_assert_int_eq(load("nobody", &o, "owned neither by root nor by the user \"nobody\""), -EPERM);
        /* Root's files are loaded too, as Debian's cron does. */
        write_file("nobody", line, 0600, 0);
        ck_assert_int_eq(load("nobody", &o, NULL), 0);
        write_file("nobody", line, 0640, nobody);
        ck_assert_int_eq(load("nobody", &o, "mode is not 0600"), -EPERM);
        write_file("real", line, 0600, nobody);
        char a[256], b[256];
        snprintf(a, sizeof a, "%s/real", tmpdir);
        snprintf(b, sizeof b, "%s/nobody", tmpdir);
        ck_assert_int_eq(unlink(b), 0);
        ck_assert_int_eq(symlink(a, b), 0);
        ck_assert_int_eq(load("nobody", &o, "symbolic link"), -EPERM);
        const struct crontab_options ghost = { .format = CRONTAB_USER, .user = "no-such-user-evd" };
        write_file("no-such-user-evd", line, 0600, 0);
        ck_assert_int_eq(load("no-such-user-evd", &ghost, "unknown user \"no-such-user-evd\""), -ENOENT);
        /* A lookup callback that does not know the user refuses it too. */
        const struct crontab_options cb = { .format = CRONTAB_USER, .user = "nobody", .lookup = fake_lookup };
        ck_assert_int_eq(load("real", &cb, "unknown user \"nobody\""), -ENOENT);
}
END_TEST

static TCase *file_tcase(void) {
        TCase *tc = tcase_create("file");
        tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
        tcase_add_test(tc, test_file_system_rules);
        tcase_add_test(tc, test_file_user_rules);
        tcase_add_test(tc, test_load_text_fits);
        return tc;
}

int main(void) {
        Suite *s = suite_create("crontab");
        TCase *tc = tcase_create("reader");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_system_format);
        tcase_add_test(tc, test_user_format);
        tcase_add_test(tc, test_macros);
        tcase_add_test(tc, test_environment);
        tcase_add_test(tc, test_percent);
        tcase_add_test(tc, test_bad_lines);
        tcase_add_test(tc, test_no_final_newline);
        tcase_add_test(tc, test_nul_and_long_lines);
        tcase_add_test(tc, test_cron_limits);
        tcase_add_test(tc, test_names_stable);
        tcase_add_test(tc, test_names_repeated);
        tcase_add_test(tc, test_bounds);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_dir_names);
        tcase_add_test(tc, test_allow_deny);
        tcase_add_test(tc, test_real_files);
        suite_add_tcase(s, tc);
        suite_add_tcase(s, file_tcase());
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
