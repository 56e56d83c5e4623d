/* fuzz_cron.c - fuzz target for cron expressions.
 *
 * Input: "EXPRESSION\nZONE\nBASE" (the last two optional; BASE in seconds
 * since the epoch). Checks: parsing never crashes; the normalised form
 * parses again to itself; next elapses are minute-aligned, strictly
 * increasing and after the base; @reboot never elapses. */
#include "schedule.h"
#include "fuzz_common.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = { NULL, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                     "Pacific/Chatham" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct schedule *spec = NULL, *again = NULL;
        char *lines[3], *err = NULL, *norm = NULL, *norm2 = NULL;
        size_t n;
        int r;

        if (size > 1024)
                return 0;
        char *buf = fuzz_split_lines(data, size, lines, 3, &n);
        if (!buf)
                return 0;

        const char *zone = n >= 2 && *lines[1] ? lines[1] : zones[size % ELEMENTSOF(zones)];
        usec_t base = 1774000000ULL * USEC_PER_SEC + (usec_t)size * 104729 * USEC_PER_SEC;
        if (n >= 3) {
                char *e;
                unsigned long long v = strtoull(lines[2], &e, 10);
                if (e != lines[2] && v < 7000000000ULL)
                        base = v * USEC_PER_SEC + (usec_t)(size % 1000);
        }

        r = schedule_parse(SCHEDULE_SYNTAX_CRON, lines[0], &spec, &err);
        if (r < 0) {
                if (r == -EINVAL && !err)
                        abort();
                goto out;
        }
        if (schedule_normalize(spec, &norm) < 0)
                goto out;
        if (schedule_parse(SCHEDULE_SYNTAX_CRON, norm, &again, NULL) < 0) {
                fprintf(stderr, "normalised form \"%s\" of \"%s\" does not parse\n", norm, lines[0]);
                abort();
        }
        if (schedule_normalize(again, &norm2) < 0)
                goto out;
        if (strcmp(norm, norm2) != 0 || schedule_is_reboot(spec) != schedule_is_reboot(again))
                abort();

        usec_t t = base;
        for (int i = 0; i < 3; i++) {
                usec_t next;
                r = schedule_next(spec, zone, t, &next);
                if (r < 0) {
                        if (r != -ENOENT && r != -EINVAL)
                                abort();
                        break;
                }
                if (schedule_is_reboot(spec) || next <= t || next % USEC_PER_SEC != 0)
                        abort();
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
