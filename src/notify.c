/* notify.c - sd_notify wrappers (see notify.h).
 *
 * sd_notifyf() is used for every message with a variable part: sd_notify()
 * with a format string would send the '%' verbatim. */
#include "notify.h"

#include <systemd/sd-daemon.h>

static char *last_status;

static void remember(const char *status) {
        free(last_status);
        last_status = status ? strdup(status) : NULL;
}

void notify_ready(const char *status) {
        if (status) {
                sd_notifyf(0, "READY=1\nSTATUS=%s", status);
                remember(status);
        } else
                sd_notify(0, "READY=1");
}

void notify_reloading(void) {
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration...",
                   (unsigned long long)now_usec(CLOCK_MONOTONIC));
        remember(NULL);
}

void notify_stopping(void) {
        sd_notify(0, "STOPPING=1\nSTATUS=Shutting down...");
        remember(NULL);
}

void notify_extend_timeout(usec_t usec) {
        sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
}

void notify_status(const char *status) {
        if (last_status && streq(last_status, status))
                return;
        sd_notifyf(0, "STATUS=%s", status);
        remember(status);
}

usec_t notify_watchdog_usec(void) {
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}

void notify_watchdog(void) {
        sd_notify(0, "WATCHDOG=1");
}
