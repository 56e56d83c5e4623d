/* fuzz_config.c - fuzz target for the configuration parser.
 *
 * Input: the text of a configuration file. Checks: parsing never crashes or
 * leaks; a rejected text comes with at least one error, each naming the
 * file ("fuzz.conf:LINE: ..." or "fuzz.conf: ..."); an accepted one
 * formats (config_format) to a text that parses again and formats to the
 * same text, and every job has an argv and a name config_find_job() finds.
 *
 * Inputs that contain "[include]" are skipped: includes read the file
 * system, which would make the target depend on the machine. */
#include "config.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct config *c = NULL, *again = NULL;
        char **errors = NULL, **errors2 = NULL, *out = NULL, *out2 = NULL;
        int r;

        if (size > 65536 || memmem(data, size, "[include]", 9))
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0; /* an embedded NUL ends the text, as a C string */

        r = config_load_string(text, "fuzz.conf", &c, &errors);
        if (r < 0) {
                if (r == -EINVAL && strv_length(errors) == 0)
                        abort(); /* every rejection is explained */
                for (char **e = errors; e && *e; e++)
                        if (!startswith(*e, "fuzz.conf:")) {
                                fprintf(stderr, "error without its file: %s\n", *e);
                                abort();
                        }
                goto out;
        }
        for (size_t i = 0; i < c->n_jobs; i++)
                if (!c->jobs[i]->argv || !c->jobs[i]->argv[0] ||
                    config_find_job(c, c->jobs[i]->name) != c->jobs[i] ||
                    (i > 0 && strcmp(c->jobs[i - 1]->name, c->jobs[i]->name) >= 0))
                        abort();

        if (config_format(c, 0, &out) < 0)
                goto out;
        r = config_load_string(out, "formatted.conf", &again, &errors2);
        if (r == -ENOMEM)
                goto out;
        if (r < 0) {
                fprintf(stderr, "formatted configuration does not parse:\n%s\n", out);
                for (char **e = errors2; e && *e; e++)
                        fprintf(stderr, "%s\n", *e);
                abort();
        }
        if (config_format(again, 0, &out2) < 0)
                goto out;
        if (strcmp(out, out2) != 0) {
                fprintf(stderr, "formatting is not stable:\n%s\n---\n%s\n", out, out2);
                abort();
        }
out:
        free(out);
        free(out2);
        strv_free(errors);
        strv_free(errors2);
        config_free(c);
        config_free(again);
        free(text);
        return 0;
}
