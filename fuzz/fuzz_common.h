/* fuzz_common.h - helpers shared by the fuzz targets: split an input into
 * NUL-terminated lines. Header-only, for fuzz/ only. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Copies data into a NUL-terminated buffer and splits it at '\n' into at most
 * max_lines lines (the last keeps any further newlines). Returns the buffer
 * to free, or NULL. */
static inline char *fuzz_split_lines(const uint8_t *data, size_t size, char **lines, size_t max_lines,
                                     size_t *ret_n) {
        char *buf = malloc(size + 1);
        size_t n = 0;

        if (!buf)
                return NULL;
        memcpy(buf, data, size);
        buf[size] = 0;
        for (char *p = buf; n < max_lines;) {
                lines[n++] = p;
                char *nl = n < max_lines ? strchr(p, '\n') : NULL;
                if (!nl)
                        break;
                *nl = 0;
                p = nl + 1;
        }
        *ret_n = n;
        return buf;
}
