/* bare_ini.c - the floor under `evd -t`: read FILE with inih and a
 * handler that only counts sections and keys (no validation, no
 * calendar parsing, no allocation). Prints seconds and counts.
 *
 * usage: bare_ini FILE */
#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct counts {
        long sections, keys;
        char last[64];
};

static int handler(void *user, const char *section, const char *name, const char *value) {
        struct counts *c = user;
        (void)name;
        (void)value;
        if (strncmp(c->last, section, sizeof c->last - 1) != 0) {
                c->sections++;
                snprintf(c->last, sizeof c->last, "%s", section);
        }
        c->keys++;
        return 1;
}

int main(int argc, char **argv) {
        if (argc != 2)
                return 2;
        struct counts c = { 0 };
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int r = ini_parse(argv[1], handler, &c);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r != 0) {
                fprintf(stderr, "bare_ini: %s: error at line %d\n", argv[1], r);
                return 1;
        }
        printf("%.6f s %ld sections %ld keys\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
               c.sections, c.keys);
        return 0;
}
