/* notify.h - sd_notify messages to the service manager, and the watchdog.
 *
 * All no-ops when $NOTIFY_SOCKET is unset. Main thread only. */
#pragma once

#include "util.h"

void notify_ready(const char *status);
void notify_reloading(void);
void notify_stopping(void);
/* Asks the service manager for usec more time in the current state (the
 * stop timeout, while runs finish). */
void notify_extend_timeout(usec_t usec);
/* Sends STATUS= only when the text changed since the last call. */
void notify_status(const char *status);
/* The watchdog interval from $WATCHDOG_USEC (for this pid), or 0. */
usec_t notify_watchdog_usec(void);
void notify_watchdog(void);
