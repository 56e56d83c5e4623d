/* schedule.c - the schedule front end: dispatches to the calendar and cron
 * leaves, which know nothing of each other. Owns only the tagged handle (a tagged pointer, see below).
 * Threads: see schedule.h. */
#include "schedule.h"

#include "calendar.h"
#include "cron.h"
#include "tz.h"

/* A struct schedule is never allocated: a handle is the leaf's own spec
 * pointer, with bit 0 set for cron (malloc()'s results are aligned to at
 * least 8, so bit 0 of a spec is always clear). That saves an allocation
 * per distinct expression: 100,000 of them in bench figure 4. */
#define SCHEDULE_TAG_CRON ((uintptr_t)1)

static bool is_cron(const struct schedule *s) {
        return ((uintptr_t)s & SCHEDULE_TAG_CRON) != 0;
}

static struct calendar_spec *as_calendar(const struct schedule *s) {
        return (struct calendar_spec *)(uintptr_t)s;
}

static struct cron_spec *as_cron(const struct schedule *s) {
        return (struct cron_spec *)((uintptr_t)s & ~SCHEDULE_TAG_CRON);
}

int schedule_parse(enum schedule_syntax syntax, const char *text, struct schedule **ret, char **ret_error) {
        struct calendar_spec *cal;
        struct cron_spec *cron;
        int r;

        switch (syntax) {
        case SCHEDULE_SYNTAX_CALENDAR:
                r = calendar_parse(text, &cal, ret_error);
                if (r < 0)
                        return r;
                *ret = (struct schedule *)(uintptr_t)cal;
                return 0;
        case SCHEDULE_SYNTAX_CRON:
                r = cron_parse(text, &cron, ret_error);
                if (r < 0)
                        return r;
                *ret = (struct schedule *)((uintptr_t)cron | SCHEDULE_TAG_CRON);
                return 0;
        default:
                return -EINVAL;
        }
}

int schedule_next(const struct schedule *sched, const char *tz, usec_t after, usec_t *ret) {
        if (!sched || !ret)
                return -EINVAL;
        if (is_cron(sched))
                return cron_next(as_cron(sched), tz, after, ret);
        return calendar_next(as_calendar(sched), tz, after, ret);
}

int schedule_normalize(const struct schedule *sched, char **ret) {
        if (is_cron(sched))
                return cron_normalize(as_cron(sched), ret);
        return calendar_normalize(as_calendar(sched), ret);
}

const char *schedule_timezone(const struct schedule *sched) {
        if (!sched || is_cron(sched))
                return NULL;
        return calendar_timezone(as_calendar(sched));
}

bool schedule_is_reboot(const struct schedule *sched) {
        return sched && is_cron(sched) && cron_is_reboot(as_cron(sched));
}

struct schedule *schedule_free(struct schedule *sched) {
        if (!sched)
                return NULL;
        if (is_cron(sched))
                cron_free(as_cron(sched));
        else
                calendar_free(as_calendar(sched));
        return NULL;
}

size_t schedule_flat_size(const struct schedule *sched) {
        if (!sched || is_cron(sched))
                return 0;
        return calendar_size(as_calendar(sched));
}

struct schedule *schedule_flat_copy(const struct schedule *sched, void *mem) {
        memcpy(mem, as_calendar(sched), calendar_size(as_calendar(sched)));
        return (struct schedule *)mem;
}

bool schedule_timezone_valid(const char *tz) {
        return tz_zone_valid(tz);
}
