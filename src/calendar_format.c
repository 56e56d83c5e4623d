/* calendar_format.c - the normalised form of a calendar expression, as
 * systemd-analyze calendar prints it ("Normalized form"). Pure: no
 * process-wide state (the local zone abbreviation was kept when parsing).
 * Any thread. */
#include "calendar.h"
#include "calendar_private.h"

#include <stdio.h>


static void format_weekdays(FILE *f, int bits) {
        static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
        bool comma = false;
        int from = -1, x;

        /* runs of three or more days as "a..b", of two as "a,b" */
        for (x = 0; x <= 7; x++) {
                bool on = x < 7 && (bits & (1 << x));
                if (on && from < 0) {
                        if (comma)
                                fputc(',', f);
                        comma = true;
                        fputs(days[x], f);
                        from = x;
                } else if (!on && from >= 0) {
                        if (x > from + 1) {
                                fputs(x > from + 2 ? ".." : ",", f);
                                fputs(days[x - 1], f);
                        }
                        from = -1;
                }
        }
}

static void format_chain(FILE *f, int width, struct cal_chain chain, bool usec) {
        const struct cal_chain *c = &chain;
        int d = usec ? (int)USEC_PER_SEC : 1;

        if (c->n == 0) {
                fputc('*', f);
                return;
        }
        /* seconds: one "0/1" element covers every second, whatever else is listed */
        for (size_t i = 0; usec && i < c->n; i++)
                if (c->v[i].start == 0 && c->v[i].stop < 0 && c->v[i].repeat == d) {
                        fputc('*', f);
                        return;
                }
        for (size_t i = 0; i < c->n; i++) {
                const struct cal_comp *x = &c->v[i];
                if (i > 0)
                        fputc(',', f);
                fprintf(f, "%0*d", width, x->start / d);
                if (x->start % d > 0)
                        fprintf(f, ".%06d", x->start % d);
                if (x->stop > 0)
                        fprintf(f, "..%0*d", width, x->stop / d);
                if (x->stop % d > 0)
                        fprintf(f, ".%06d", x->stop % d);
                if (x->repeat > 0 && !(x->stop > 0 && x->repeat == d))
                        fprintf(f, "/%d", x->repeat / d);
                if (x->repeat % d > 0)
                        fprintf(f, ".%06d", x->repeat % d);
        }
}

int calendar_normalize(const struct calendar_spec *c, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (c->weekdays > 0 && c->weekdays < WEEKDAYS_ALL) {
                format_weekdays(f, c->weekdays);
                fputc(' ', f);
        }
        format_chain(f, 4, cal_chain(c, CAL_YEAR), false);
        fputc('-', f);
        format_chain(f, 2, cal_chain(c, CAL_MONTH), false);
        fputc(c->end_of_month ? '~' : '-', f);
        format_chain(f, 2, cal_chain(c, CAL_DAY), false);
        fputc(' ', f);
        format_chain(f, 2, cal_chain(c, CAL_HOUR), false);
        fputc(':', f);
        format_chain(f, 2, cal_chain(c, CAL_MINUTE), false);
        fputc(':', f);
        format_chain(f, 2, cal_chain(c, CAL_USEC), true);
        if (c->utc)
                fputs(" UTC", f);
        else if (cal_timezone(c))
                fprintf(f, " %s", cal_timezone(c));
        else if (cal_dst_name(c))
                fprintf(f, " %s", cal_dst_name(c));
        return memstream_finish(f, &buf, ret);
}

