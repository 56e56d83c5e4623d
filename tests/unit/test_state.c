/* Unit tests for state.c: parsing (damaged input is a warning, never a
 * failure), the atomic write, the writer thread, and the checks of the
 * state directory (trust, lock). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"

START_TEST(test_parse) {
        struct state s;
        char **warn = NULL;
        const char *text = "evd-state 1\n"
                           "# comment\n"
                           "job b 200 0\n"
                           "job a 100 1\n"
                           "job broken x 0\n"
                           "job c 5 7\n"
                           "garbage\n"
                           "job b 300 0\n";
        ck_assert_int_eq(state_parse(text, strlen(text), &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_str_eq(s.entries[0].name, "a");
        ck_assert(s.entries[0].paused);
        const struct state_entry *b = state_find(&s, "b");
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(b->last_start, 300); /* the later line wins */
        ck_assert_ptr_null(state_find(&s, "c"));
        ck_assert_uint_eq(strv_length(warn), 3);
        strv_free(warn);
        state_done(&s);

        warn = NULL;
        ck_assert_int_eq(state_parse("something else\njob a 1 0\n", 24, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 0);
        ck_assert_uint_eq(strv_length(warn), 1);
        strv_free(warn);
        state_done(&s);
        ck_assert_int_eq(state_parse("", 0, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 0);
}
END_TEST

/* Issue 10: the dead-man fields. An older file (none) loads as "never
 * seen"; a newer file's unknown fields are skipped silently; a damaged
 * field damages its line only; every field survives a round trip. */
START_TEST(test_deadman_fields) {
        struct state s;
        char **warn = NULL;
        const char *text = "evd-state 1\n"
                           "job old 100 1\n"
                           "job new 0 0 success=7 seen=3 count=8 overdue=9 future=abc\n"
                           "job bad1 0 0 success=x\n"
                           "job bad2 0 0 seen\n"
                           "job bad3 0 0  seen=1\n"
                           "job bad4 0 0 seen=\n";
        ck_assert_int_eq(state_parse(text, strlen(text), &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_uint_eq(strv_length(warn), 4);
        const struct state_entry *o = state_find(&s, "old"), *n = state_find(&s, "new");
        ck_assert(o && o->paused && o->last_start == 100);
        ck_assert(o->first_seen == 0 && o->last_success == 0 && o->count_from == 0 && o->overdue_since == 0);
        ck_assert(n && !n->paused);
        ck_assert_uint_eq(n->last_success, 7);
        ck_assert_uint_eq(n->first_seen, 3);
        ck_assert_uint_eq(n->count_from, 8);
        ck_assert_uint_eq(n->overdue_since, 9);
        strv_free(warn);

        /* Round trip: formatted and parsed back, equal. */
        char *buf = NULL;
        size_t len = 0, cap = 0;
        const struct state_entry e[] = {
                { .name = "a", .last_start = 5, .paused = true },
                { .name = "b", .last_success = 1764756000000000ULL, .first_seen = 1764000000000000ULL,
                  .count_from = 1764756000000001ULL, .overdue_since = 0 },
                { .name = "c", .first_seen = 1, .count_from = 1, .overdue_since = UINT64_MAX - 1 },
        };
        for (size_t i = 0; i < 3; i++)
                ck_assert_int_eq(state_format_entry(&buf, &len, &cap, &e[i]), 0);
        struct state t;
        warn = NULL;
        ck_assert_int_eq(state_parse(buf, len, &t, &warn), 0);
        ck_assert_msg(warn == NULL, "%s in %s", warn ? warn[0] : "", buf);
        ck_assert_uint_eq(t.n, 3);
        for (size_t i = 0; i < 3; i++) {
                const struct state_entry *x = state_find(&t, e[i].name);
                ck_assert_ptr_nonnull(x);
                ck_assert(x->last_start == e[i].last_start && x->paused == e[i].paused);
                ck_assert(x->last_success == e[i].last_success && x->first_seen == e[i].first_seen);
                ck_assert(x->count_from == e[i].count_from && x->overdue_since == e[i].overdue_since);
        }
        /* A job without the check writes the old line, as an older evd reads it. */
        ck_assert_ptr_nonnull(strstr(buf, "job a 5 1\n"));
        free(buf);
        state_done(&t);
        state_done(&s);
}
END_TEST

static char *make_dir(void) {
        char tmpl[] = "/tmp/evd-test-state-XXXXXX";
        char *d = mkdtemp(tmpl);
        ck_assert_ptr_nonnull(d);
        return strdup(d);
}

START_TEST(test_roundtrip_and_missing) {
        char *dir = make_dir();
        struct state s;
        char **warn = NULL;
        ck_assert_int_eq(state_load(dir, &s, &warn), 0); /* missing file: empty */
        ck_assert_uint_eq(s.n, 0);

        char *buf = NULL;
        size_t len = 0, cap = 0;
        struct state_entry e1 = { .name = "x", .last_start = 42, .paused = false };
        struct state_entry e2 = { .name = "y.z-1", .last_start = 1700000000000000ULL, .paused = true };
        ck_assert_int_eq(state_format_entry(&buf, &len, &cap, &e1), 0);
        ck_assert_int_eq(state_format_entry(&buf, &len, &cap, &e2), 0);
        ck_assert_int_eq(state_write(dir, buf, len), 0);
        free(buf);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_uint_eq(state_find(&s, "y.z-1")->last_start, 1700000000000000ULL);
        ck_assert(state_find(&s, "y.z-1")->paused);
        ck_assert_ptr_null(warn);
        state_done(&s);

        /* No temporary file is left behind. */
        char *tmp = NULL;
        ck_assert_int_ge(asprintf(&tmp, "%s/.state.tmp", dir), 0);
        ck_assert_int_ne(access(tmp, F_OK), 0);

        /* A truncated (damaged) file loads what is intact. */
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        FILE *f = fopen(path, "w");
        fputs("evd-state 1\njob x 42 0\njob y 17", f);
        fclose(f);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 1); /* "job y 17" lacks a field: skipped */
        ck_assert_uint_eq(strv_length(warn), 1);
        state_done(&s);
        strv_free(warn);
        warn = NULL;

        /* The writer thread writes the newest snapshot. */
        struct state_writer w;
        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        for (int i = 0; i < 100; i++) {
                char *t = NULL;
                int n = asprintf(&t, "evd-state 1\njob n %d 0\n", i);
                state_writer_submit(&w, t, (size_t)n);
        }
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_uint_eq(s.entries[0].last_start, 99);
        state_done(&s);

        unlink(path);
        rmdir(dir);
        free(path);
        free(tmp);
        free(dir);
}
END_TEST

START_TEST(test_write_failure_keeps_old) {
        char *dir = make_dir();
        ck_assert_int_eq(state_write(dir, "evd-state 1\njob a 1 0\n", 22), 0);
        char *sub = NULL;
        ck_assert_int_ge(asprintf(&sub, "%s/nonexistent", dir), 0);
        ck_assert_int_lt(state_write(sub, "evd-state 1\n", 12), 0);
        /* A directory where the temporary file should go makes the write fail. */
        char *tmp = NULL;
        ck_assert_int_ge(asprintf(&tmp, "%s/.state.tmp", dir), 0);
        ck_assert_int_eq(mkdir(tmp, 0700), 0);
        ck_assert_int_lt(state_write(dir, "evd-state 1\njob b 2 0\n", 22), 0);
        struct state s;
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_str_eq(s.entries[0].name, "a");
        state_done(&s);
        rmdir(tmp);
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        unlink(path);
        rmdir(dir);
        free(path);
        free(tmp);
        free(sub);
        free(dir);
}
END_TEST

/* Once no job is paused or persistent any more, the writer gets an empty
 * snapshot: it must still replace the file, or the last "paused" would come
 * back at the next start. */
START_TEST(test_writer_empty_snapshot) {
        char *dir = make_dir();
        struct state_writer w;
        struct state s;
        char *path = NULL;

        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        state_writer_submit(&w, strdup("evd-state 1\njob a 5 1\n"), 22);
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 1);
        state_done(&s);

        ck_assert_int_eq(state_writer_start(&w, dir), 0);
        state_writer_submit(&w, NULL, 0);
        state_writer_stop(&w);
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 0);
        state_done(&s);

        ck_assert_int_ge(asprintf(&path, "%s/state", dir), 0);
        unlink(path);
        rmdir(dir);
        free(path);
        free(dir);
}
END_TEST

/* The C library's qsort is replaced, in this test program only, by one
 * that is deliberately unstable: equal elements come out in reverse
 * order (an insertion sort that moves an element past its equals). C
 * does not promise stability; state_parse must not rely on it. */
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        char *b = base, tmp[256];
        ck_assert_uint_le(size, sizeof tmp);
        for (size_t i = 1; i < n; i++) {
                size_t j = i;
                memcpy(tmp, b + i * size, size);
                while (j > 0 && cmp(b + (j - 1) * size, tmp) >= 0) {
                        memcpy(b + j * size, b + (j - 1) * size, size);
                        j--;
                }
                memcpy(b + j * size, tmp, size);
        }
}

START_TEST(test_duplicates_later_line_wins) {
        char text[4096] = "evd-state 1\n";
        size_t len = strlen(text);
        /* a, b and c each seen ten times, interleaved: the last line of
         * each name must win whatever order the sort leaves equal names. */
        for (int i = 0; i < 30; i++)
                len += (size_t)snprintf(text + len, sizeof text - len, "job %c %d %d\n", "abc"[i % 3], i, i == 29);
        struct state s;
        char **warn = NULL;
        ck_assert_int_eq(state_parse(text, len, &s, &warn), 0);
        ck_assert_ptr_null(warn);
        ck_assert_uint_eq(s.n, 3);
        ck_assert_uint_eq(state_find(&s, "a")->last_start, 27);
        ck_assert_uint_eq(state_find(&s, "b")->last_start, 28);
        ck_assert_uint_eq(state_find(&s, "c")->last_start, 29);
        ck_assert(state_find(&s, "c")->paused);
        ck_assert(!state_find(&s, "a")->paused);
        state_done(&s);
}
END_TEST

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

static void write_file(const char *path, const char *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
        close(fd);
}

/* A NUL byte is damage on one line: a warning naming that line, and the
 * lines after it are still read. */
START_TEST(test_nul_byte) {
        static const char text[] = "evd-state 1\njob a 1 0\njob b\0 2 0\njob c 3 1\n";
        struct state s;
        char **warn = NULL;
        ck_assert_int_eq(state_parse(text, sizeof text - 1, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert_ptr_nonnull(state_find(&s, "a"));
        ck_assert_ptr_nonnull(state_find(&s, "c"));
        ck_assert_uint_eq(strv_length(warn), 1);
        ck_assert_str_eq(warn[0], "state line 3: contains a NUL byte, ignored");
        strv_free(warn);
        warn = NULL;
        state_done(&s);

        char *dir = make_dir(), *path = path_in(dir, "state");
        write_file(path, text, sizeof text - 1);
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert(state_find(&s, "c")->paused);
        ck_assert_uint_eq(strv_length(warn), 1);
        ck_assert_ptr_nonnull(strstr(warn[0], "line 3"));
        strv_free(warn);
        state_done(&s);
        unlink(path);
        rmdir(dir);
        free(path);
        free(dir);
}
END_TEST

/* A file planted as .state.tmp is never written through: a hard link to
 * another file keeps that file intact, a FIFO does not block the write. */
START_TEST(test_temp_created_exclusively) {
        char *dir = make_dir(), *victim = path_in(dir, "victim"), *tmp = path_in(dir, ".state.tmp"),
             *path = path_in(dir, "state");
        struct state s;

        write_file(victim, "precious\n", 9);
        ck_assert_int_eq(link(victim, tmp), 0);
        ck_assert_int_eq(state_write(dir, "evd-state 1\njob a 1 0\n", 22), 0);
        char buf[64] = "";
        int fd = open(victim, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, buf, sizeof buf - 1), 9);
        close(fd);
        ck_assert_str_eq(buf, "precious\n");
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_uint_eq(s.n, 1);
        state_done(&s);

        ck_assert_int_eq(mkfifo(tmp, 0600), 0);
        ck_assert_int_eq(state_write(dir, "evd-state 1\njob b 2 0\n", 22), 0);
        ck_assert_int_eq(state_load(dir, &s, NULL), 0);
        ck_assert_ptr_nonnull(state_find(&s, "b"));
        state_done(&s);
        ck_assert_int_ne(access(tmp, F_OK), 0);

        /* A FIFO named state: loading neither blocks nor reads it. */
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        char **warn = NULL;
        ck_assert_int_eq(state_load(dir, &s, &warn), 0);
        ck_assert_uint_eq(s.n, 0);
        ck_assert_uint_eq(strv_length(warn), 1);
        strv_free(warn);

        unlink(path);
        unlink(victim);
        rmdir(dir);
        free(path);
        free(tmp);
        free(victim);
        free(dir);
}
END_TEST

static int acquire(const char *dir, char **msg) {
        *msg = NULL;
        int r = state_dir_acquire(dir, msg);
        if (r >= 0)
                ck_assert_ptr_null(*msg);
        else
                ck_assert_ptr_nonnull(*msg);
        return r;
}

/* Untrusted directories are refused (-EPERM), trusted ones created,
 * checked and locked; a second process is refused (-EBUSY), naming us. */
START_TEST(test_dir_acquire) {
        char *top = make_dir(), *dir = path_in(top, "state"), *msg;

        /* The parent chain here: / and /tmp (root, sticky) and top (ours). */
        ck_assert_int_eq(chmod(top, 0777), 0);
        ck_assert_int_eq(acquire(dir, &msg), -EPERM);
        ck_assert_ptr_nonnull(strstr(msg, "writable by group or others"));
        ck_assert_int_ne(access(dir, F_OK), 0); /* nothing created under it */
        free(msg);
        ck_assert_int_eq(chmod(top, 0755), 0);

        ck_assert_int_eq(mkdir(dir, 0700), 0);
        ck_assert_int_eq(chmod(dir, 01777), 0); /* sticky is fine above, not here */
        ck_assert_int_eq(acquire(dir, &msg), -EPERM);
        free(msg);
        ck_assert_int_eq(chmod(dir, 0720), 0);
        ck_assert_int_eq(acquire(dir, &msg), -EPERM);
        free(msg);
        ck_assert_int_eq(rmdir(dir), 0);

        if (geteuid() == 0) {
                ck_assert_int_eq(mkdir(dir, 0755), 0);
                ck_assert_int_eq(chown(dir, 12345, 12345), 0);
                ck_assert_int_eq(acquire(dir, &msg), -EPERM);
                ck_assert_ptr_nonnull(strstr(msg, "owned by uid 12345"));
                free(msg);
                ck_assert_int_eq(rmdir(dir), 0);
                /* Another user's symbolic link on the way. */
                char *link = path_in(top, "link");
                ck_assert_int_eq(symlink(top, link), 0);
                ck_assert_int_eq(lchown(link, 12345, 12345), 0);
                char *via = path_in(link, "state");
                ck_assert_int_eq(acquire(via, &msg), -EPERM);
                ck_assert_ptr_nonnull(strstr(msg, "symbolic link owned by uid 12345"));
                free(msg);
                unlink(link);
                free(via);
                free(link);
        }

        /* Missing: created, locked. */
        int fd = acquire(dir, &msg);
        ck_assert_int_ge(fd, 0);
        struct stat st;
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char *m = NULL, want[64];
                int r = state_dir_acquire(dir, &m);
                snprintf(want, sizeof want, "(pid %d)", (int)getppid());
                _exit(r == -EBUSY && m && strstr(m, "in use by another evd") && strstr(m, want) ? 0 : 1);
        }
        int status;
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* Released with its descriptor: the next evd may start. */
        close(fd);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                char *m = NULL;
                _exit(state_dir_acquire(dir, &m) >= 0 ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        rmdir(dir);
        rmdir(top);
        free(dir);
        free(top);
}
END_TEST

int main(void) {
        Suite *s = suite_create("state");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_deadman_fields);
        tcase_add_test(tc, test_roundtrip_and_missing);
        tcase_add_test(tc, test_write_failure_keeps_old);
        tcase_add_test(tc, test_writer_empty_snapshot);
        tcase_add_test(tc, test_duplicates_later_line_wins);
        tcase_add_test(tc, test_nul_byte);
        tcase_add_test(tc, test_temp_created_exclusively);
        tcase_add_test(tc, test_dir_acquire);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
