/* Unit tests for spawn.c: a child's way from clone to execve. The worker
 * is not suspended, so each test waits for the status pipe as run.c does:
 * success (EOF), a failing step reported with its errno, the PATH search
 * in the child's working directory, the job's RLIMIT_NOFILE, and a child
 * killed before its result was read. Needs nothing but /bin/sh. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "spawn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct outcome {
        int result;             /* spawn_child_result() */
        const char *step;
        int code, status;       /* of the extras'd program */
};

/* Spawns def and waits (at most 10 s) for its extras and then its exit. */
static struct outcome spawn_and_wait(const struct job_def *def) {
        struct outcome o = { .result = -EAGAIN };
        struct spawn_prep prep = { 0 };
        struct spawn_child *c = NULL;
        const char *step = NULL;

        ck_assert_int_eq(spawn_prepare(def, 1, &prep, &step), 0);
        int devnull = spawn_devnull();
        ck_assert_int_ge(devnull, 0);
        ck_assert_int_eq(spawn_start(def, &prep, devnull, devnull, devnull, &c, &step), 0);
        ck_assert_ptr_null(prep.path); /* taken over by the child */
        for (int i = 0; i < 100 && o.result == -EAGAIN; i++) {
                struct pollfd pfd = { .fd = c->status_fd, .events = POLLIN };
                (void)poll(&pfd, 1, 100);
                o.result = spawn_child_result(c, &o.step);
        }
        if (o.result == 0) {
                siginfo_t si = { 0 };
                int pidfd = spawn_child_take_pidfd(c);
                ck_assert_int_eq(waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED), 0);
                o.code = si.si_code;
                o.status = si.si_status;
                close(pidfd);
        } else if (o.result != -EAGAIN)
                ck_assert(spawn_child_reaped(c));
        spawn_child_free(c);
        return o;
}

/* A job's rarely-set keys (struct job_extras), set per test before its job starts. */
static struct job_extras extras;

static struct job_def shell_job(char *script) {
        static char *argv[4];
        argv[0] = "/bin/sh", argv[1] = "-c", argv[2] = script, argv[3] = NULL;
        extras = (struct job_extras){};
        return (struct job_def){ .name = "t", .argv = argv, .timeout = USEC_INFINITY, .extras = &extras };
}

START_TEST(test_exec_and_exit_status) {
        struct job_def def = shell_job("exit 7");
        struct outcome o = spawn_and_wait(&def);
        ck_assert_int_eq(o.result, 0);
        ck_assert_int_eq(o.code, CLD_EXITED);
        ck_assert_int_eq(o.status, 7);
}
END_TEST

START_TEST(test_failing_step_reported) {
        struct job_def def = shell_job("exit 0");
        extras.working_directory = "/nonexistent-evd-test-dir";
        struct outcome o = spawn_and_wait(&def);
        ck_assert_int_eq(o.result, -ENOENT);
        ck_assert_str_eq(o.step, "chdir");

        char *argv[] = { "/nonexistent-evd-test-program", NULL };
        extras = (struct job_extras){};
        def = (struct job_def){ .name = "t", .argv = argv, .extras = &extras };
        o = spawn_and_wait(&def);
        ck_assert_int_eq(o.result, -ENOENT);
        ck_assert_str_eq(o.step, "execve");
}
END_TEST

/* A relative PATH entry is relative to the job's working directory (the
 * child looks the name up after its chdir), not to this process's. */
START_TEST(test_path_search_in_working_directory) {
        char dir[] = "/tmp/evd-test-spawn-XXXXXX", prog[64];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(prog, sizeof prog, "%s/evd-test-prog", dir);
        FILE *f = fopen(prog, "w");
        ck_assert_ptr_nonnull(f);
        fputs("#!/bin/sh\nexit 5\n", f);
        fclose(f);
        ck_assert_int_eq(chmod(prog, 0755), 0);

        char *argv[] = { "evd-test-prog", NULL };
        char *env[] = { "PATH=/nonexistent:.", NULL };
        extras = (struct job_extras){ .environment = env, .working_directory = dir };
        struct job_def def = { .name = "t", .argv = argv, .extras = &extras };
        struct outcome o = spawn_and_wait(&def);
        ck_assert_int_eq(o.result, 0);
        ck_assert_int_eq(o.status, 5);

        extras.working_directory = "/"; /* not there */
        o = spawn_and_wait(&def);
        ck_assert_int_eq(o.result, -ENOENT);
        ck_assert_str_eq(o.step, "executable lookup");

        unlink(prog);
        rmdir(dir);
}
END_TEST

START_TEST(test_nofile_limit) {
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max < 2048)
                return; /* the cases below need a hard limit above 1024 */
        char buf[128];
        struct job_def def = shell_job("[ \"$(ulimit -Sn)\" = 1024 ]");
        ck_assert_int_eq(spawn_and_wait(&def).status, 0);
        def = shell_job("[ \"$(ulimit -Sn)\" = 77 ]");
        extras.limit_nofile = 77;
        ck_assert_int_eq(spawn_and_wait(&def).status, 0);
        /* Never above the hard limit. */
        snprintf(buf, sizeof buf, "[ \"$(ulimit -Sn)\" = %llu ]", (unsigned long long)rl.rlim_max);
        def = shell_job(buf);
        extras.limit_nofile = (unsigned long)rl.rlim_max + 1;
        ck_assert_int_eq(spawn_and_wait(&def).status, 0);
}
END_TEST

START_TEST(test_kill_and_free) {
        struct job_def def = shell_job("extras sleep 30");
        struct spawn_prep prep = { 0 };
        struct spawn_child *c = NULL;
        const char *step = NULL;
        ck_assert_int_eq(spawn_prepare(&def, 1, &prep, &step), 0);
        ck_assert_int_eq(spawn_start(&def, &prep, spawn_devnull(), spawn_devnull(), spawn_devnull(), &c, &step), 0);
        pid_t pid = c->pid;
        (void)spawn_child_kill(c, 10 * USEC_PER_SEC);
        ck_assert(spawn_child_reaped(c));
        ck_assert_int_eq(kill(pid, 0) < 0 && errno == ESRCH, 1);
        spawn_child_free(c);

        /* Freed without a result: the child is killed first. */
        ck_assert_int_eq(spawn_prepare(&def, 1, &prep, &step), 0);
        ck_assert_int_eq(spawn_start(&def, &prep, spawn_devnull(), spawn_devnull(), spawn_devnull(), &c, &step), 0);
        pid = c->pid;
        spawn_child_free(c);
        ck_assert_int_eq(kill(pid, 0) < 0 && errno == ESRCH, 1);
}
END_TEST

int main(void) {
        Suite *s = suite_create("spawn");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_exec_and_exit_status);
        tcase_add_test(tc, test_failing_step_reported);
        tcase_add_test(tc, test_path_search_in_working_directory);
        tcase_add_test(tc, test_nofile_limit);
        tcase_add_test(tc, test_kill_and_free);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
