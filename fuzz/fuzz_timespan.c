/* fuzz_timespan.c - fuzz target for systemd-style time spans.
 *
 * Input: one span ("1h 30min", "500ms", "infinity", ...). Checks: parsing
 * never crashes and fails only with -EINVAL or -ERANGE; a parsed span
 * formats to text that parses back to the same number of microseconds. */
#include "timespan.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char text[256], buf[TIMESPAN_MAX];
        usec_t u, again;
        int r;

        if (size >= sizeof text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;

        r = timespan_parse(text, &u);
        if (r < 0) {
                if (r != -EINVAL && r != -ERANGE)
                        abort();
                return 0;
        }
        timespan_format(buf, sizeof buf, u);
        r = timespan_parse(buf, &again);
        if (r < 0 || again != u) {
                fprintf(stderr, "\"%s\" -> %llu -> \"%s\" -> %d/%llu\n", text, (unsigned long long)u, buf, r,
                        (unsigned long long)again);
                abort();
        }
        return 0;
}
