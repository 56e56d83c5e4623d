/* bare_storm.c - the floor under evd's storm: THREADS threads share a
 * counter of N runs; each takes one, posix_spawns PROGRAM, waits for it
 * (waitpid on that pid, as a worker waits for its run), and takes the next.
 * Prints the seconds from the first spawn to the last reap.
 *
 * usage: bare_storm N THREADS PROGRAM */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static atomic_long remaining;
static const char *program;
static posix_spawnattr_t attr;

static void *worker(void *arg) {
        (void)arg;
        char *av[] = { (char *)program, NULL };
        while (atomic_fetch_sub(&remaining, 1) > 0) {
                pid_t pid;
                int r = posix_spawn(&pid, program, NULL, &attr, av, environ);
                if (r != 0) {
                        fprintf(stderr, "posix_spawn: %s\n", strerror(r));
                        exit(1);
                }
                while (waitpid(pid, NULL, 0) < 0)
                        ;
        }
        return NULL;
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: bare_storm N THREADS PROGRAM\n");
                return 2;
        }
        long n = atol(argv[1]);
        int threads = atoi(argv[2]);
        program = argv[3];
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        atomic_store(&remaining, n);

        pthread_t *t = calloc((size_t)threads, sizeof *t);
        double t0 = now();
        for (int i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, worker, NULL);
        for (int i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
        printf("%.6f\n", now() - t0);
        return 0;
}
