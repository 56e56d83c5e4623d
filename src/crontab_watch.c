/* crontab_watch.c - see crontab_watch.h.
 *
 * The watch set is small (two directories per configured path at most) and
 * made again from scratch on every update: simpler than tracking which
 * watch descriptor still stands for what, and O(paths), never O(files).
 * inotify gives one watch descriptor per inode, so two paths in one
 * directory (/etc/crontab and /etc/cron.d) share it: masks are added
 * (IN_MASK_ADD) and an event matches every entry with its descriptor. */
#include "crontab_watch.h"

#include <stddef.h>
#include <sys/inotify.h>

#include "log.h"

#define PARENT_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_ATTRIB | IN_ONLYDIR)
#define DIR_MASK (PARENT_MASK | IN_DELETE_SELF | IN_MOVE_SELF)

static int rewatch(struct crontab_watch *w);

static void fired(struct timer *t, usec_t now) {
        struct crontab_watch *w = (struct crontab_watch *)((char *)t - offsetof(struct crontab_watch, debounce));
        (void)now;
        w->changes++;
        (void)rewatch(w); /* the same paths: a directory may have come or gone */
        if (w->changed)
                w->changed(w->userdata);
}

static bool entry_matches(const struct crontab_watch *w, int wd, const char *name) {
        for (size_t i = 0; i < w->n_entries; i++)
                if (w->entries[i].wd == wd && (!w->entries[i].name || streq(w->entries[i].name, name)))
                        return true;
        return false;
}

static void dispatch(struct loop_source *s, uint32_t events) {
        struct crontab_watch *w = (struct crontab_watch *)((char *)s - offsetof(struct crontab_watch, source));
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool hit = false;
        ssize_t n;
        (void)events;

        while ((n = read(s->fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        w->events++;
                        if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
                                hit = true; /* events lost, or a watched directory went */
                        else if (entry_matches(w, ev->wd, ev->len > 0 ? ev->name : ""))
                                hit = true;
                        p += sizeof(*ev) + ev->len;
                }
        /* Not pushed back by later events: a stream of writes still leads
         * to a reload within the debounce (and one more after it). */
        if (hit && !timer_active(&w->debounce))
                (void)timer_start(w->clock, &w->debounce, now_usec(w->clock->clock) + CRONTAB_WATCH_DEBOUNCE);
}

void crontab_watch_init(struct crontab_watch *w, struct loop *l, struct timer_clock *clock,
                        void (*changed)(void *userdata), void *userdata) {
        *w = (struct crontab_watch){
                .source = { .fd = -EBADF, .name = "crontabs", .callback = dispatch },
                .loop = l,
                .clock = clock,
                .changed = changed,
                .userdata = userdata,
        };
        timer_init(&w->debounce, fired);
}

/* Frees entries[0..n); removes their watches that no entry of w still
 * has (a watch stays while it is needed: no moment without it). */
static void entries_drop(struct crontab_watch *w, struct crontab_watch_entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool kept = false;
                for (size_t k = 0; k < w->n_entries && !kept; k++)
                        kept = w->entries[k].wd == entries[i].wd;
                /* Shared descriptors: removing one twice only fails (EINVAL). */
                if (!kept && w->source.fd >= 0)
                        (void)inotify_rm_watch(w->source.fd, entries[i].wd);
                free(entries[i].name);
        }
        free(entries);
}

/* Watches dir (for name, or every name); a missing dir is no error (its
 * parent's watch, if any, sees it come). */
static int watch_dir(struct crontab_watch *w, const char *dir, const char *name, uint32_t mask) {
        int wd = inotify_add_watch(w->source.fd, dir, mask | IN_MASK_ADD);
        if (wd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        struct crontab_watch_entry *e = reallocarray(w->entries, w->n_entries + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        w->entries = e;
        e[w->n_entries] = (struct crontab_watch_entry){ .wd = wd, .name = name ? strdup(name) : NULL };
        if (name && !e[w->n_entries].name)
                return -ENOMEM;
        w->n_entries++;
        return 0;
}

/* One configured path: its parent for its name, itself when a directory. */
static int watch_path(struct crontab_watch *w, const char *path) {
        const char *slash = strrchr(path, '/');
        _cleanup_(freep) char *trimmed = strdup(path);
        if (!trimmed)
                return -ENOMEM;
        /* "/etc/cron.d/" names "/etc/cron.d". */
        for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--)
                trimmed[n - 1] = 0;
        slash = strrchr(trimmed, '/');
        if (!slash)
                return -EINVAL;
        _cleanup_(freep) char *parent = slash == trimmed ? strdup("/") : strndup(trimmed, (size_t)(slash - trimmed));
        if (!parent)
                return -ENOMEM;
        int r = slash[1] ? watch_dir(w, parent, slash + 1, PARENT_MASK) : 0;
        if (r >= 0)
                r = watch_dir(w, trimmed, NULL, DIR_MASK);
        return r;
}

static int open_inotify(struct crontab_watch *w) {
        if (w->source.fd >= 0)
                return 0;
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return -errno;
        w->source.fd = fd;
        int r = loop_add(w->loop, &w->source, EPOLLIN);
        if (r < 0)
                w->source.fd = safe_close(w->source.fd);
        return r;
}

/* The watches for w->system and w->users, made anew. */
static int rewatch(struct crontab_watch *w) {
        struct crontab_watch_entry *old = w->entries;
        size_t n_old = w->n_entries;
        w->entries = NULL;
        w->n_entries = 0;
        int r = w->system || w->users ? open_inotify(w) : 0;
        for (char **p = w->system; p && *p && r >= 0; p++)
                r = watch_path(w, *p);
        if (r >= 0 && w->users)
                r = watch_path(w, w->users);
        entries_drop(w, old, n_old);
        if (r < 0)
                log_warning_errno(r, "Cannot watch the crontabs; changes take effect at the next reload");
        return r;
}

int crontab_watch_update(struct crontab_watch *w, const struct config_crontabs *c) {
        char **system = c && c->system ? strv_copy(c->system) : NULL;
        char *users = c && c->users ? strdup(c->users) : NULL;
        if ((c && c->system && !system) || (c && c->users && !users)) {
                strv_free(system);
                free(users);
                log_warning("Cannot watch the crontabs: out of memory; changes take effect at the next reload");
                return -ENOMEM;
        }
        strv_free(w->system);
        free(w->users);
        w->system = system;
        w->users = users;
        return rewatch(w);
}

void crontab_watch_done(struct crontab_watch *w) {
        timer_stop(&w->debounce);
        entries_drop(w, w->entries, w->n_entries);
        w->entries = NULL;
        w->n_entries = 0;
        strv_free(w->system);
        free(w->users);
        w->system = NULL;
        w->users = NULL;
        if (w->source.fd >= 0) {
                (void)loop_remove(w->loop, &w->source);
                w->source.fd = safe_close(w->source.fd);
        }
}
