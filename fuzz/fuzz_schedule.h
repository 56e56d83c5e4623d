/* fuzz_schedule.h - the harness shared by the schedule fuzz targets
 * (fuzz_calendar.c, fuzz_cron.c): each target is a table of what differs.
 * Header-only, for fuzz/ only.
 *
 * Input: "EXPRESSION\nZONE\nBASE" (the last two optional; BASE in seconds
 * since the epoch). Checks: parsing never crashes and every syntax error
 * comes with a message; an expression that parses normalises to a form that
 * parses again and normalises to itself; next elapses are strictly
 * increasing and after the base, and pass the target's own check; an
 * unknown zone is -EINVAL, never a crash. */
#pragma once

#include <stdio.h>

#include "fuzz_common.h"
#include "schedule.h"

struct fuzz_schedule {
        enum schedule_syntax syntax;
        size_t max_size;                 /* longer inputs are skipped */
        const char *const *zones;        /* picked by size when the input names none */
        size_t n_zones;
        usec_t base_step;                /* default base: 1774000000 s + size * base_step s */
        unsigned long long base_max;     /* a BASE line at or above this is ignored */
        bool deadlock_ok;                /* -EDEADLK is a valid answer of next */
        bool (*elapse_ok)(const struct schedule *s, usec_t next); /* NULL: any */
};

static inline usec_t fuzz_schedule_base(const struct fuzz_schedule *f, char **lines, size_t n, size_t size) {
        usec_t base = 1774000000ULL * USEC_PER_SEC + (usec_t)size * f->base_step * USEC_PER_SEC;
        if (n >= 3) {
                char *e;
                unsigned long long v = strtoull(lines[2], &e, 10);
                if (e != lines[2] && v < f->base_max)
                        base = v * USEC_PER_SEC + (usec_t)(size % 1000);
        }
        return base;
}

/* Aborts unless norm parses again to itself (and to the same @reboot-ness). */
static inline void fuzz_schedule_reparse(const struct fuzz_schedule *f, const char *text,
                                         const struct schedule *spec, const char *norm) {
        struct schedule *again = NULL;
        char *norm2 = NULL;

        if (schedule_parse(f->syntax, norm, &again, NULL) < 0) {
                fprintf(stderr, "normalised form \"%s\" of \"%s\" does not parse\n", norm, text);
                abort();
        }
        if (schedule_normalize(again, &norm2) >= 0 &&
            (strcmp(norm, norm2) != 0 || schedule_is_reboot(spec) != schedule_is_reboot(again))) {
                fprintf(stderr, "\"%s\" normalises to \"%s\", that to \"%s\"\n", text, norm, norm2);
                abort();
        }
        free(norm2);
        schedule_free(again);
}

static inline void fuzz_schedule_elapses(const struct fuzz_schedule *f, const char *text,
                                         const struct schedule *spec, const char *zone, usec_t t) {
        for (int i = 0; i < 3; i++) {
                usec_t next;
                int r = schedule_next(spec, zone, t, &next);
                if (r < 0) {
                        if (r != -ENOENT && r != -EINVAL && !(r == -EDEADLK && f->deadlock_ok))
                                abort();
                        break;
                }
                if (next <= t || (f->elapse_ok && !f->elapse_ok(spec, next))) {
                        fprintf(stderr, "\"%s\": bad elapse %llu after %llu\n", text, (unsigned long long)next,
                                (unsigned long long)t);
                        abort();
                }
                t = next;
        }
}

static inline int fuzz_schedule_one(const struct fuzz_schedule *f, const uint8_t *data, size_t size) {
        struct schedule *spec = NULL;
        char *lines[3], *err = NULL, *norm = NULL;
        size_t n;
        int r;

        if (size > f->max_size)
                return 0;
        char *buf = fuzz_split_lines(data, size, lines, 3, &n);
        if (!buf)
                return 0;
        const char *zone = n >= 2 && *lines[1] ? lines[1] : f->zones[size % f->n_zones];
        usec_t base = fuzz_schedule_base(f, lines, n, size);

        r = schedule_parse(f->syntax, lines[0], &spec, &err);
        if (r < 0) {
                if (r == -EINVAL && !err)
                        abort(); /* every syntax error comes with a message */
                goto out;
        }
        if (schedule_normalize(spec, &norm) < 0)
                goto out;
        fuzz_schedule_reparse(f, lines[0], spec, norm);
        fuzz_schedule_elapses(f, lines[0], spec, zone, base);
out:
        free(norm);
        free(err);
        schedule_free(spec);
        free(buf);
        return 0;
}
