/* tz.c - see tz.h.
 *
 * Why unset-then-set to re-read the zone: glibc's tzset() returns at once
 * when $TZ (less a leading ':') equals the value it last loaded, so setting
 * the same string again would keep the old zone. With $TZ unset it stats
 * /etc/localtime and re-reads it if it changed; setting ":/etc/localtime"
 * back then matches what is loaded and costs nothing.
 *
 * State (all under tz_lock): whether tz_setup() set $TZ, the abbreviations
 * of the process zone with the $TZ they were read under, and the last few
 * zone names tz_run() found valid. */
#include "tz.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define ZONE_TZ ":/etc/localtime"
#define ZONE_NAME_MAX 64

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static bool tz_ours;

static struct {
        bool valid;
        bool tz_set;                    /* $TZ was set when they were read */
        char tz[ZONE_NAME_MAX];         /* and its value */
        char names[2][TZ_ABBREV_MAX];
} abbrevs;

/* tz_zone_valid() opens the zone file (about 4 us): tz_run() remembers the
 * last few good names for a minute. */
static struct {
        char name[ZONE_NAME_MAX];
        usec_t checked;
} good_zones[8];
static unsigned good_zones_next;

bool tz_setup(void) {
        bool done = false;

        pthread_mutex_lock(&tz_lock);
        if (!getenv("TZ") && setenv("TZ", ZONE_TZ, 1) >= 0) {
                tzset();
                tz_ours = true;
                abbrevs.valid = false;
                done = true;
        }
        pthread_mutex_unlock(&tz_lock);
        return done;
}

void tz_reload_zone(void) {
        pthread_mutex_lock(&tz_lock);
        if (tz_ours) {
                (void)unsetenv("TZ");
                tzset();
                (void)setenv("TZ", ZONE_TZ, 1);
        }
        tzset();
        abbrevs.valid = false;
        pthread_mutex_unlock(&tz_lock);
}

bool tz_zone_valid(const char *zone) {
        char path[PATH_MAX];
        char magic[4];
        bool slash = false;
        struct stat st;
        int fd;
        ssize_t n;

        if (!zone || !*zone)
                return false;
        if (streq(zone, "UTC"))
                return true;
        if (zone[0] == '/')
                return false;
        for (const char *p = zone; *p; p++) {
                if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
                    !strchr("-_+/", *p))
                        return false;
                if (*p == '/') {
                        if (slash)
                                return false;
                        slash = true;
                } else
                        slash = false;
        }
        if (slash)
                return false;
        if (snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone) >= (int)sizeof path)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return false;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return false;
        }
        n = read(fd, magic, sizeof magic);
        close(fd);
        return n == (ssize_t)sizeof magic && memcmp(magic, "TZif", 4) == 0;
}

static void copy_name(char *dst, size_t size, const char *src) {
        size_t n = src ? strnlen(src, size - 1) : 0;
        memcpy(dst, src ? src : "", n);
        dst[n] = 0;
}

void tz_local_abbrevs(char ret[2][TZ_ABBREV_MAX]) {
        pthread_mutex_lock(&tz_lock);
        const char *tz = getenv("TZ");
        bool same = abbrevs.valid && abbrevs.tz_set == !!tz && (!tz || streq(abbrevs.tz, tz));
        if (!same) {
                tzset();
                for (size_t i = 0; i < 2; i++)
                        copy_name(abbrevs.names[i], TZ_ABBREV_MAX, tzname[i]);
                /* a $TZ too long to remember is read again next time */
                abbrevs.valid = !tz || strlen(tz) < sizeof abbrevs.tz;
                abbrevs.tz_set = !!tz;
                copy_name(abbrevs.tz, sizeof abbrevs.tz, tz);
        }
        memcpy(ret, abbrevs.names, sizeof abbrevs.names);
        pthread_mutex_unlock(&tz_lock);
}

/* Under tz_lock. */
static bool zone_known_good(const char *zone) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < ELEMENTSOF(good_zones); i++)
                if (good_zones[i].checked > 0 && now - good_zones[i].checked < USEC_PER_MINUTE &&
                    streq(good_zones[i].name, zone))
                        return true;
        if (!tz_zone_valid(zone))
                return false;
        if (strlen(zone) < sizeof good_zones[0].name) {
                unsigned k = good_zones_next++ % ELEMENTSOF(good_zones);
                strcpy(good_zones[k].name, zone);
                good_zones[k].checked = now;
        }
        return true;
}

/* Under tz_lock: fn in zone, $TZ restored to old (NULL: unset) after. */
struct tz_call {
        int (*fn)(const void *spec, usec_t after, usec_t *ret);
        const void *spec;
        usec_t after;
        usec_t *ret;
};

static int call(const struct tz_call *c) {
        return c->fn(c->spec, c->after, c->ret);
}

static int run_switched(const char *zone, const char *old, const struct tz_call *c) {
        _cleanup_(freep) char *saved = NULL, *colon = NULL;
        int r;

        if (old && !(saved = strdup(old)))
                return -ENOMEM;
        colon = strdup_printf(":%s", zone);
        if (!colon)
                return -ENOMEM;
        if (setenv("TZ", colon, 1) < 0)
                return -errno;
        tzset();
        r = call(c);
        if (saved)
                (void)setenv("TZ", saved, 1);
        else
                (void)unsetenv("TZ");
        tzset();
        return r;
}

int tz_run(const char *zone, int (*fn)(const void *spec, usec_t after, usec_t *ret), const void *spec,
           usec_t after, usec_t *ret) {
        const struct tz_call c = { .fn = fn, .spec = spec, .after = after, .ret = ret };
        int r;

        pthread_mutex_lock(&tz_lock);
        if (!zone)
                r = call(&c);
        else if (!zone_known_good(zone))
                r = -EINVAL;
        else {
                const char *old = getenv("TZ");
                if (old && (streq(old, zone) || (old[0] == ':' && streq(old + 1, zone))))
                        r = call(&c); /* already there */
                else
                        r = run_switched(zone, old, &c);
        }
        pthread_mutex_unlock(&tz_lock);
        return r;
}
