/* timespan.h - systemd.time(7) time spans: "500ms", "30s", "5min",
 * "1h 30min", "2d", "1w", plain numbers meaning seconds.
 *
 * Pure functions, any thread. */
#pragma once

#include "util.h"

/* Parses s into microseconds. "infinity" gives USEC_INFINITY. Returns 0,
 * -EINVAL for bad syntax, -ERANGE on overflow. */
int timespan_parse(const char *s, usec_t *ret);

/* Formats u as the shortest exact systemd-style span ("1h 30min", "500ms",
 * "0", "infinity") into buf; returns buf. */
char *timespan_format(char *buf, size_t size, usec_t u);

#define TIMESPAN_MAX 64
