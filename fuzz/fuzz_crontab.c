/* fuzz_crontab.c - fuzz target for the crontab reader (crontab.h).
 *
 * Input: a whole crontab; the first byte picks the format (odd: user
 * format, as "alice"; even: system format) and is not part of the text.
 * Checks: parsing never crashes or leaks and fails only with -ENOMEM /
 * -EFBIG; every error starts with "PATH:"; entries plus errors never
 * outnumber the lines; every name is a valid job name ([A-Za-z0-9_.-]+, at
 * most 128 characters) and unique; every schedule parses again; a comment
 * line put in front of the text changes no name (the names are stable). No
 * user lookup: the machine's passwd database is never read. */
#include "crontab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH "/etc/cron.d/fuzz"

static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 128)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '.' || *s == '-'))
                        return false;
        return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check(const struct crontab *c, size_t lines) {
        if (c->n_entries + c->n_errors > lines)
                abort();
        for (char **e = c->errors; e && *e; e++)
                if (strncmp(*e, PATH ":", strlen(PATH ":")) != 0)
                        abort();
        char **names = calloc(c->n_entries + 1, sizeof *names);
        if (!names)
                return;
        for (size_t i = 0; i < c->n_entries; i++) {
                const struct crontab_entry *e = &c->entries[i];
                if (!name_ok(e->name) || !e->command || !e->user || !e->shell)
                        abort();
                struct schedule *s = NULL;
                if (schedule_parse(SCHEDULE_SYNTAX_CRON, e->schedule, &s, NULL) == -EINVAL)
                        abort();
                schedule_free(s);
                names[i] = e->name;
        }
        qsort(names, c->n_entries, sizeof *names, cmp_str);
        for (size_t i = 1; i < c->n_entries; i++)
                if (streq(names[i - 1], names[i]))
                        abort();
        free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 65536)
                return 0;
        const struct crontab_options o = {
                .format = data[0] & 1 ? CRONTAB_USER : CRONTAB_SYSTEM,
                .user = "alice",
        };
        const char *text = (const char *)data + 1;
        size--;
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
                lines += text[i] == '\n';

        struct crontab *c = NULL;
        int r = crontab_parse(PATH, text, size, &o, &c);
        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                abort();
        check(c, lines);

        /* A comment in front: the same entries under the same names. */
        char *shifted = malloc(size + 8);
        struct crontab *d = NULL;
        if (shifted) {
                memcpy(shifted, "# new\n", 6);
                memcpy(shifted + 6, text, size);
                if (crontab_parse(PATH, shifted, size + 6, &o, &d) == 0) {
                        if (d->n_entries != c->n_entries)
                                abort();
                        for (size_t i = 0; i < c->n_entries; i++)
                                if (!streq(c->entries[i].name, d->entries[i].name) ||
                                    d->entries[i].line != c->entries[i].line + 1)
                                        abort();
                }
        }
        crontab_free(d);
        free(shifted);
        crontab_free(c);
        return 0;
}
