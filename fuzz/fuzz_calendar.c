/* fuzz_calendar.c - fuzz target for calendar expressions; the harness and
 * its checks are fuzz_schedule.h's. Next may give up at a DST change
 * (-EDEADLK), as systemd does. */
#include "fuzz_schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = { NULL, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                     "Pacific/Chatham", "Asia/Kolkata" };

static const struct fuzz_schedule target = {
        .syntax = SCHEDULE_SYNTAX_CALENDAR,
        .max_size = 2048,
        .zones = zones,
        .n_zones = ELEMENTSOF(zones),
        .base_step = 7919,
        .base_max = 8000000000ULL,
        .deadlock_ok = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_schedule_one(&target, data, size);
}
