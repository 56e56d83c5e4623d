/* config_bytes.c - heap bytes per job of a loaded configuration (the
 * config alone: no scheduler, no daemon).
 *
 * Builds the text of N calendar jobs like bench figure 4's (each on its
 * own second of the week, a command of about 30 characters, a calendar
 * expression of about 25, no user), loads it with config_load_string() and
 * prints the heap in use (mallinfo2: arenas and mmap()ed blocks) after the load minus before it, per
 * job, with the time the load took.
 *
 *   cc -O2 -I src -pthread -o config_bytes bench/config_bytes.c \
 *      build/libevdcore.a $(pkg-config --libs libsystemd inih) -lm
 *   ./config_bytes [N] [hourly] # N defaults to 100000
 *
 * With "hourly" the jobs share 24 expressions (*-*-* HH:00:00) instead:
 * a configuration parses each expression once and the jobs share it. */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

/* Heap in use: malloc's arenas and its mmap()ed blocks (a large array is
 * one of those). */
static size_t heap_used(void) {
        struct mallinfo2 m = mallinfo2();
        return m.uordblks + m.hblkhd;
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
        bool hourly = argc > 2 && strcmp(argv[2], "hourly") == 0;
        size_t size = 128 + (size_t)n * 128, at = 0;
        char *text = malloc(size);

        if (n <= 0 || n > 120960 || !text) {
                fprintf(stderr, "usage: config_bytes [N], N at most 120960 (a week in 5 s steps)\n");
                return 2;
        }
        at += (size_t)snprintf(text + at, size - at, "[daemon]\nworkers = 2\n\n");
        for (long i = 0; i < n; i++) {
                long s = hourly ? i % 24 * 3600 : 5 * i;
                at += (size_t)snprintf(text + at, size - at,
                                       "[job:filler%06ld]\ncommand = /usr/local/bin/report --quiet %06ld\n"
                                       "calendar = %s%s*-*-* %02ld:%02ld:%02ld UTC\n\n",
                                       i, i, hourly ? "" : days[s / 86400], hourly ? "" : " ", s / 3600 % 24,
                                       s / 60 % 60, s % 60);
        }

        struct config *c = NULL;
        char **errors = NULL;
        size_t before = heap_used();
        double t0 = now();
        int r = config_load_string(text, "bench.conf", &c, &errors);
        double dt = now() - t0;
        size_t after = heap_used();
        free(text);
        if (r < 0) {
                fprintf(stderr, "load failed: %s\n", errors && *errors ? *errors : strerror(-r));
                return 1;
        }
        printf("%zu jobs: %.0f bytes of heap per job (%.1f MB), loaded in %.3f s\n", c->n_jobs,
               (double)(after - before) / (double)c->n_jobs, (double)(after - before) / 1048576.0, dt);
        config_free(c);
        return 0;
}
