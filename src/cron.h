/* cron.h - five-field cron expressions (Vixie cron), a leaf of the schedule
 * front end (schedule.h): parse, normalise, next elapse. Other modules use
 * schedule.h.
 *
 * Threads: parsing and normalising are pure; cron_next() evaluates local
 * time through tz_run() (tz.h), serialised. */
#pragma once

#include "util.h"

struct cron_spec;

/* Five fields ("30 2 * * 1-5") or a macro (@hourly, @daily, @midnight,
 * @weekly, @monthly, @yearly, @annually, @reboot). Returns 0, or -EINVAL
 * and (when ret_error is non-NULL) a malloc'd human message. */
int cron_parse(const char *text, struct cron_spec **ret, char **ret_error);

/* The expression with canonical spacing, or the macro. 0 or -ENOMEM. */
int cron_normalize(const struct cron_spec *spec, char **ret);

/* True for "@reboot", which never elapses. */
bool cron_is_reboot(const struct cron_spec *spec);

/* Next elapse strictly after `after`; see schedule_next(). */
int cron_next(const struct cron_spec *spec, const char *tz, usec_t after, usec_t *ret);

struct cron_spec *cron_free(struct cron_spec *spec);
