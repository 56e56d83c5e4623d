/* tzwatch.c - see tzwatch.h. Re-reading the zone itself is tz.c's. */
#include "tzwatch.h"

#include <stddef.h>
#include <sys/inotify.h>
#include <time.h>

#include "log.h"
#include "tz.h"

#define ZONE_DIR "/etc"
#define ZONE_NAME "localtime"

static void tzwatch_dispatch(struct loop_source *s, uint32_t events) {
        struct tzwatch *w = (struct tzwatch *)((char *)s - offsetof(struct tzwatch, source));
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool hit = false;
        ssize_t n;

        while ((n = read(s->fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        if (ev->mask & IN_Q_OVERFLOW)
                                hit = true; /* events lost: maybe ours */
                        else if (ev->len > 0 && streq(ev->name, ZONE_NAME))
                                hit = true;
                        p += sizeof(*ev) + ev->len;
                }
        if (!hit)
                return;
        w->changes++;
        tz_reload_zone();
        log_notice("System time zone changed (now %s/%s); recomputing calendar deadlines", tzname[0], tzname[1]);
        if (w->changed)
                w->changed(w->userdata);
}

int tzwatch_init(struct tzwatch *w, struct loop *l, void (*changed)(void *userdata), void *userdata) {
        return tzwatch_init_dir(w, l, ZONE_DIR, changed, userdata);
}

int tzwatch_init_dir(struct tzwatch *w, struct loop *l, const char *dir, void (*changed)(void *userdata),
                     void *userdata) {
        *w = (struct tzwatch){ .loop = l, .changed = changed, .userdata = userdata };
        w->source.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->source.fd < 0)
                return -errno;
        /* The directory, not the file: the link is replaced by a rename. */
        if (inotify_add_watch(w->source.fd, dir,
                              IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR) < 0) {
                int r = -errno;
                w->source.fd = safe_close(w->source.fd);
                return r;
        }
        w->source.name = "tzwatch";
        w->source.callback = tzwatch_dispatch;
        int r = loop_add(l, &w->source, EPOLLIN);
        if (r < 0)
                w->source.fd = safe_close(w->source.fd);
        return r;
}

void tzwatch_done(struct tzwatch *w) {
        if (w->source.fd >= 0) {
                loop_remove(w->loop, &w->source);
                w->source.fd = safe_close(w->source.fd);
        }
}
