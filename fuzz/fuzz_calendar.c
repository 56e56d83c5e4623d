/* fuzz_calendar.c - fuzz target for calendar expressions.
 *
 * Input: "EXPRESSION\nZONE\nBASE" (the last two optional; BASE in seconds
 * since the epoch). Checks: parsing never crashes; an expression that parses
 * normalises to a form that parses again and normalises to itself; next
 * elapses are strictly increasing and after the base; an unknown zone is
 * -EINVAL, never a crash. */
#include "schedule.h"
#include "fuzz_common.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = { NULL, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                     "Pacific/Chatham", "Asia/Kolkata" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct schedule *spec = NULL, *again = NULL;
        char *lines[3], *err = NULL, *norm = NULL, *norm2 = NULL;
        size_t n;
        int r;

        if (size > 2048)
                return 0;
        char *buf = fuzz_split_lines(data, size, lines, 3, &n);
        if (!buf)
                return 0;

        const char *zone = n >= 2 && *lines[1] ? lines[1] : zones[size % ELEMENTSOF(zones)];
        usec_t base = 1774000000ULL * USEC_PER_SEC + (usec_t)size * 7919 * USEC_PER_SEC;
        if (n >= 3) {
                char *e;
                unsigned long long v = strtoull(lines[2], &e, 10);
                if (e != lines[2] && v < 8000000000ULL)
                        base = v * USEC_PER_SEC + (usec_t)(size % 1000);
        }

        r = schedule_parse(SCHEDULE_SYNTAX_CALENDAR, lines[0], &spec, &err);
        if (r < 0) {
                if (r == -EINVAL && !err)
                        abort(); /* every syntax error comes with a message */
                goto out;
        }
        if (schedule_normalize(spec, &norm) < 0)
                goto out;
        r = schedule_parse(SCHEDULE_SYNTAX_CALENDAR, norm, &again, NULL);
        if (r < 0) {
                fprintf(stderr, "normalised form \"%s\" of \"%s\" does not parse\n", norm, lines[0]);
                abort();
        }
        if (schedule_normalize(again, &norm2) < 0)
                goto out;
        if (strcmp(norm, norm2) != 0) {
                fprintf(stderr, "\"%s\" normalises to \"%s\", that to \"%s\"\n", lines[0], norm, norm2);
                abort();
        }

        usec_t t = base;
        for (int i = 0; i < 3; i++) {
                usec_t next;
                r = schedule_next(spec, zone, t, &next);
                if (r < 0) {
                        if (r != -ENOENT && r != -EINVAL && r != -EDEADLK)
                                abort();
                        break;
                }
                if (next <= t) {
                        fprintf(stderr, "\"%s\": elapse %llu not after %llu\n", lines[0], (unsigned long long)next,
                                (unsigned long long)t);
                        abort();
                }
                t = next;
        }
out:
        free(norm);
        free(norm2);
        free(err);
        schedule_free(spec);
        schedule_free(again);
        free(buf);
        return 0;
}
