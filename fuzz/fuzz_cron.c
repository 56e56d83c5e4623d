/* fuzz_cron.c - fuzz target for cron expressions; the harness and its checks
 * are fuzz_schedule.h's. Besides: elapses fall on whole seconds (minutes,
 * or the instant a DST gap ends), and @reboot never elapses. */
#include "fuzz_schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = { NULL, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                     "Pacific/Chatham" };

static bool elapse_ok(const struct schedule *s, usec_t next) {
        return !schedule_is_reboot(s) && next % USEC_PER_SEC == 0;
}

static const struct fuzz_schedule target = {
        .syntax = SCHEDULE_SYNTAX_CRON,
        .max_size = 1024,
        .zones = zones,
        .n_zones = ELEMENTSOF(zones),
        .base_step = 104729,
        .base_max = 7000000000ULL,
        .elapse_ok = elapse_ok,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return fuzz_schedule_one(&target, data, size);
}
