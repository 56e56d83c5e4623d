/* Unit tests for the scheduler's reload interface (sched_reload.c) with a
 * real loop, pool and helper thread: a request made while a parse runs is
 * answered by the next parse (which reads the file as it is then), a
 * forgotten waiter is never called, the reload hook runs after an applied
 * reload only, shutdown answers waiters with -ESHUTDOWN and discards the
 * running parse; and the job view and counters control reads. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"

static char dir[64], path[128];

static void write_conf(const char *text) {
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        chmod(tmp, 0644);
        ck_assert_int_eq(rename(tmp, path), 0);
}

static const char *const conf_a = "[job:alpha]\ncommand = true\nevery = 1h\n";
static const char *const conf_b = "[job:alpha]\ncommand = true\nevery = 1h\n[job:beta]\ncommand = true\nevery = 2h\n";
static const char *const conf_bad = "[job:alpha]\ncommand = true\nevery = soon\n";

struct waiter {
        int calls, r;
        size_t n_errors, n_jobs;
        struct sched *s;
        bool rewrite;           /* write conf_bad when called */
        bool quit;              /* quit the loop when called */
};

static void done(void *userdata, int r, char **errors) {
        struct waiter *w = userdata;
        w->calls++;
        w->r = r;
        w->n_errors = strv_length(errors);
        w->n_jobs = sched_job_count(w->s);
        if (w->rewrite)
                write_conf(conf_bad);
        if (w->quit)
                loop_quit(w->s->loop);
}

static int hook_calls;
static void hook(void *ud, const struct config *c) {
        (void)ud;
        (void)c;
        hook_calls++;
}

static struct loop loop;
static struct sched sched;

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/evd-test-sched-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/evd.conf", dir);
        write_conf(conf_a);
        struct config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load(path, &c, &errors), 0);
        ck_assert_int_eq(loop_init(&loop), 0);
        ck_assert_int_eq(sched_init(&sched, &loop, c, path), 0);
        ck_assert_int_eq(sched_start(&sched), 0);
        hook_calls = 0;
        sched_set_reload_hook(&sched, hook, NULL);
}

static void teardown(void) {
        sched_done(&sched);
        loop_done(&loop);
        unlink(path);
        rmdir(dir);
}

START_TEST(test_coalesced_waiters) {
        struct waiter a = { .s = &sched, .rewrite = true }, b = { .s = &sched, .quit = true },
                      c = { .s = &sched };
        write_conf(conf_b);
        ck_assert_int_eq(sched_reload_request(&sched, done, &a), 0);
        /* Asked while a's parse runs: served by one more parse, after a's
         * callback wrote a broken file. c goes away before. */
        ck_assert_int_eq(sched_reload_request(&sched, done, &b), 0);
        ck_assert_int_eq(sched_reload_request(&sched, done, &c), 0);
        sched_reload_forget(&sched, &c);
        ck_assert_int_eq(loop_run(&loop), 0);
        ck_assert_int_eq(a.calls, 1);
        ck_assert_int_eq(a.r, 0);
        ck_assert_uint_eq(a.n_jobs, 2);
        ck_assert_int_eq(b.calls, 1);
        ck_assert_int_eq(b.r, -EINVAL);
        ck_assert_uint_ge(b.n_errors, 1);
        ck_assert_uint_eq(b.n_jobs, 2); /* the refused file changed nothing */
        ck_assert_int_eq(c.calls, 0);
        ck_assert_int_eq(hook_calls, 1);
        struct sched_counters k;
        sched_get_counters(&sched, &k);
        ck_assert_uint_eq(k.reloads, 2);
        ck_assert_uint_eq(k.reload_failures, 1);
        ck_assert_uint_eq(k.n_jobs, 2);
        struct job_view v;
        ck_assert_int_eq(sched_job_view(&sched, "beta", &v), 0);
        ck_assert_str_eq(v.state, "idle");
        ck_assert(v.next_run != USEC_INFINITY);
        ck_assert_uint_eq(v.n_runs, 0);
        ck_assert_str_eq(v.last_result, "");
        ck_assert_int_eq(sched_job_view(&sched, "gamma", &v), -ENOENT);
        sched_job_view_at(&sched, 0, &v);
        ck_assert_str_eq(v.def->name, "alpha");
        usec_t next[3];
        ck_assert_uint_eq(sched_job_next_elapses(&sched, "beta", next, 3), 3);
        ck_assert_uint_eq(next[1] - next[0], 2 * USEC_PER_HOUR);
        ck_assert_ptr_eq(sched_config(&sched), sched.config);
}
END_TEST

static struct waiter again_w;
static void done_then_again(void *userdata, int r, char **errors) {
        done(userdata, r, errors);
        write_conf(conf_bad); /* what the parse for the new request must see */
        ck_assert_int_eq(sched_reload_request(again_w.s, done, &again_w), 0);
}

/* A waiter's callback asks again: a new parse serves it. */
START_TEST(test_request_from_callback) {
        struct waiter x = { .s = &sched };
        again_w = (struct waiter){ .s = &sched, .quit = true };
        write_conf(conf_b);
        ck_assert_int_eq(sched_reload_request(&sched, done_then_again, &x), 0);
        ck_assert_int_eq(loop_run(&loop), 0);
        ck_assert_int_eq(x.calls, 1);
        ck_assert_int_eq(again_w.calls, 1);
        ck_assert_int_eq(x.r, 0);
        ck_assert_int_eq(again_w.r, -EINVAL);
        ck_assert_uint_eq(sched.stats.reloads, 2);
        ck_assert_uint_eq(sched.reloader.n_waiters, 0);
}
END_TEST

START_TEST(test_shutdown_while_parsing) {
        struct waiter a = { .s = &sched };
        write_conf(conf_b);
        ck_assert_int_eq(sched_reload_request(&sched, done, &a), 0);
        sched_shutdown(&sched); /* no run: the loop quits at once */
        ck_assert_int_eq(a.calls, 1);
        ck_assert_int_eq(a.r, -ESHUTDOWN);
        ck_assert_int_eq(sched_reload_request(&sched, done, &a), -ESHUTDOWN);
        /* The parse ends: its result comes to the loop and is dropped (the
         * loop has quit, so dispatch its source by hand). */
        struct pollfd p = { .fd = sched.reloader.source.fd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 30000), 1);
        sched.reloader.source.callback(&sched.reloader.source, EPOLLIN);
        ck_assert(!sched.reloader.parsing);
        ck_assert_int_eq(a.calls, 1);
        ck_assert_uint_eq(sched_job_count(&sched), 1); /* the parsed file was not applied */
        ck_assert_int_eq(hook_calls, 0);
}
END_TEST

int main(void) {
        log_set_max_level(LOG_WARNING);
        Suite *s = suite_create("sched");
        TCase *tc = tcase_create("reload");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_coalesced_waiters);
        tcase_add_test(tc, test_request_from_callback);
        tcase_add_test(tc, test_shutdown_while_parsing);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
