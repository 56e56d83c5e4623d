/* schedule.c - the schedule front end: dispatches to the calendar and cron
 * leaves, which know nothing of each other. Owns only the tagged handle.
 * Threads: see schedule.h. */
#include "schedule.h"

#include "calendar.h"
#include "cron.h"
#include "tz.h"

struct schedule {
        enum schedule_syntax syntax;
        union {
                struct calendar_spec *calendar;
                struct cron_spec *cron;
        };
};

int schedule_parse(enum schedule_syntax syntax, const char *text, struct schedule **ret, char **ret_error) {
        struct schedule *s;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->syntax = syntax;
        switch (syntax) {
        case SCHEDULE_SYNTAX_CALENDAR: r = calendar_parse(text, &s->calendar, ret_error); break;
        case SCHEDULE_SYNTAX_CRON: r = cron_parse(text, &s->cron, ret_error); break;
        default: r = -EINVAL;
        }
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int schedule_next(const struct schedule *sched, const char *tz, usec_t after, usec_t *ret) {
        if (!sched || !ret)
                return -EINVAL;
        if (sched->syntax == SCHEDULE_SYNTAX_CRON)
                return cron_next(sched->cron, tz, after, ret);
        return calendar_next(sched->calendar, tz, after, ret);
}

int schedule_normalize(const struct schedule *sched, char **ret) {
        if (sched->syntax == SCHEDULE_SYNTAX_CRON)
                return cron_normalize(sched->cron, ret);
        return calendar_normalize(sched->calendar, ret);
}

const char *schedule_timezone(const struct schedule *sched) {
        if (!sched || sched->syntax != SCHEDULE_SYNTAX_CALENDAR)
                return NULL;
        return calendar_timezone(sched->calendar);
}

bool schedule_is_reboot(const struct schedule *sched) {
        return sched && sched->syntax == SCHEDULE_SYNTAX_CRON && cron_is_reboot(sched->cron);
}

struct schedule *schedule_free(struct schedule *sched) {
        if (!sched)
                return NULL;
        if (sched->syntax == SCHEDULE_SYNTAX_CRON)
                cron_free(sched->cron);
        else
                calendar_free(sched->calendar);
        free(sched);
        return NULL;
}

bool schedule_timezone_valid(const char *tz) {
        return tz_zone_valid(tz);
}
