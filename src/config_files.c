/* config_files.c - the files of a configuration: opening each one safely,
 * reading it whole, and the [include] globs.
 *
 * Owns: the checks made before a file is read. Every file is opened
 * O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks the daemon) and must be a
 * regular file; a file already read (same device and inode) is skipped.
 * config_load() (p->check_permissions) also checks the file's owner (root
 * or evd's euid) and mode (not group/other writable), as cron does, and
 * every directory on the way to it, walking from "/" one component at a
 * time (openat O_PATH|O_NOFOLLOW): each must be owned by root (or evd's
 * euid) and not writable by group or others, except a sticky directory
 * owned by root (/tmp): there others may add names but not replace the
 * root-owned one the walk goes through next, which is checked in turn. A
 * symbolic link on the way is followed only from a directory that passed
 * the check and only when it is owned by root (or evd's euid), since a
 * sticky directory lets others add links; its target is walked and checked
 * the same way. The file itself must not be a link.
 * The file is then opened from the checked directory's descriptor, so what
 * was checked is what is read. Without the walk a glob through a directory
 * others can write would pull in files from directories they cannot read.
 *
 * Thread: the loading thread, for its own parser. glob()'s error callback
 * reports through a thread-local pointer. */
#include "config_parser.h"

#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <sys/stat.h>

/* ---- files --------------------------------------------------------------- */

/* The walk to a file's directory (see the top of the file). */
struct walk {
        struct parser *p;
        const char *path; /* the file, for messages */
        unsigned seq;
        int fd;           /* the directory reached */
        char *shown;      /* its path as walked, for messages */
        unsigned links;
};

/* Checks the directory w->fd (path w->shown); false after an error. */
static bool walk_check(struct walk *w) {
        char e[128], *dir = NULL;
        struct stat st;
        bool ok = false;

        if (fstat(w->fd, &st) < 0) {
                config_error(w->p, w->path, w->seq, 0, "cannot open: %s", config_errstr(errno, e));
                return false;
        }
        bool sticky_root = (st.st_mode & S_ISVTX) && st.st_uid == 0;
        dir = config_escape(w->shown[0] ? w->shown : "/");
        if (!dir)
                config_oom(w->p);
        else if (st.st_uid != 0 && st.st_uid != geteuid())
                config_error(w->p, w->path, w->seq, 0, "refusing to read: directory %s is owned by uid %u, not by root",
                             dir, (unsigned)st.st_uid);
        else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_root)
                config_error(w->p, w->path, w->seq, 0,
                             "refusing to read: directory %s is writable by group or others (run chmod go-w %s)", dir,
                             dir);
        else
                ok = true;
        free(dir);
        return ok;
}

/* Moves the walk to "/" (for an absolute path or link target). */
static bool walk_root(struct walk *w) {
        char e[128];
        safe_close(w->fd);
        w->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        w->shown[0] = 0;
        if (w->fd < 0) {
                config_error(w->p, w->path, w->seq, 0, "cannot open: %s", config_errstr(errno, e));
                return false;
        }
        return walk_check(w);
}

/* A symbolic link `name` in the (checked) directory: its target goes in
 * front of what is left to walk. */
static bool walk_link(struct walk *w, int fd, char **rest) {
        char e[128], target[PATH_MAX];
        ssize_t n = readlinkat(fd, "", target, sizeof target - 1);

        if (++w->links > 40 || n < 0) {
                config_error(w->p, w->path, w->seq, 0, "cannot open: %s", config_errstr(n < 0 ? errno : ELOOP, e));
                return false;
        }
        target[n] = 0;
        char *r = strdup_printf("%s/%s", target, *rest);
        if (!r) {
                config_oom(w->p);
                return false;
        }
        free(*rest);
        *rest = r;
        return target[0] == '/' ? walk_root(w) : true;
}

/* A link's owner: root or evd's euid, as for directories. A sticky
 * directory passes the check but lets others add names, links included. */
static bool walk_link_owner(struct walk *w, const char *name, const struct stat *st) {
        if (st->st_uid == 0 || st->st_uid == geteuid())
                return true;
        char *link = strdup_printf("%s/%s", w->shown, name), *shown = link ? config_escape(link) : NULL;
        if (!shown)
                config_oom(w->p);
        else
                config_error(w->p, w->path, w->seq, 0,
                             "refusing to read: symbolic link %s is owned by uid %u, not by root", shown,
                             (unsigned)st->st_uid);
        free(link);
        free(shown);
        return false;
}

/* One component: into it (checked), or through it if a link. */
static bool walk_step(struct walk *w, const char *name, char **rest) {
        char e[128];
        struct stat st;
        int fd = openat(w->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st) < 0) {
                config_error(w->p, w->path, w->seq, 0, "cannot open: %s", config_errstr(errno, e));
                safe_close(fd);
                return false;
        }
        if (S_ISLNK(st.st_mode)) {
                bool ok = walk_link_owner(w, name, &st) && walk_link(w, fd, rest);
                safe_close(fd);
                return ok;
        }
        if (!S_ISDIR(st.st_mode)) {
                config_error(w->p, w->path, w->seq, 0, "cannot open: %s", config_errstr(ENOTDIR, e));
                safe_close(fd);
                return false;
        }
        safe_close(w->fd);
        w->fd = fd;
        if (streq(name, "..")) {
                char *slash = strrchr(w->shown, '/');
                if (slash)
                        *slash = 0;
        } else {
                char *s = strdup_printf("%s/%s", w->shown, name);
                if (!s) {
                        config_oom(w->p);
                        return false;
                }
                free(w->shown);
                w->shown = s;
        }
        return walk_check(w);
}

/* Opens the directory of `path` (its "dirname") through a checked walk;
 * returns its descriptor or -1 (the error reported). */
static int open_dir_checked(struct parser *p, const char *path, unsigned seq) {
        struct walk w = { .p = p, .path = path, .seq = seq, .fd = -EBADF };
        char *rest = NULL, cwd[PATH_MAX];
        const char *slash = strrchr(path, '/');
        int r = -1;

        if (path[0] == '/')
                rest = strndup(path, (size_t)(slash - path));
        else if (!getcwd(cwd, sizeof cwd)) {
                config_error(p, path, seq, 0, "cannot open: %s", config_errstr(errno, (char[128]){ 0 }));
                return -1;
        } else
                rest = slash ? strdup_printf("%s/%.*s", cwd, (int)(slash - path), path) : strdup(cwd);
        w.shown = strdup("");
        if (!rest || !w.shown) {
                config_oom(p);
                goto out;
        }
        if (!walk_root(&w))
                goto out;
        while (rest[0]) {
                size_t n = strcspn(rest, "/");
                char *name = strndup(rest, n);
                if (!name) {
                        config_oom(p);
                        goto out;
                }
                memmove(rest, rest + n + (rest[n] ? 1 : 0), strlen(rest + n + (rest[n] ? 1 : 0)) + 1);
                bool ok = n == 0 || streq(name, ".") || walk_step(&w, name, &rest);
                free(name);
                if (!ok)
                        goto out;
        }
        r = w.fd;
        w.fd = -EBADF;
out:
        safe_close(w.fd);
        free(w.shown);
        free(rest);
        return r;
}

/* Opens one file, as config_load_string() too does (no owner or mode
 * checks) or through open_dir_checked(). -1 after an error. */
static int open_file(struct parser *p, const char *path, unsigned seq) {
        const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
        const char *slash = strrchr(path, '/');
        char e[128];
        int fd;

        if (!p->check_permissions)
                fd = open(path, flags);
        else {
                _cleanup_(closep) int dfd = open_dir_checked(p, path, seq);
                if (dfd < 0)
                        return -1;
                fd = openat(dfd, slash ? slash + 1 : path, flags);
        }
        if (fd < 0) {
                if (errno == ELOOP)
                        config_error(p, path, seq, 0, "refusing to read: a symbolic link");
                else if (errno == ENOMEM)
                        config_oom(p);
                else
                        config_error(p, path, seq, 0, "cannot open: %s", config_errstr(errno, e));
        }
        return fd;
}

/* Owner and mode of a file (config_load() only); false after an error. */
static bool file_check(struct parser *p, const char *path, unsigned seq, const struct stat *st) {
        bool ok = true;
        if (st->st_uid != 0 && st->st_uid != geteuid()) {
                config_error(p, path, seq, 0, "refusing to read: owned by uid %u, not by root", (unsigned)st->st_uid);
                ok = false;
        }
        if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                char *name = config_escape(path);
                if (!name) {
                        config_oom(p);
                        return false;
                }
                config_error(p, path, seq, 0, "refusing to read: writable by group or others (run chmod go-w %s)",
                             name);
                free(name);
                ok = false;
        }
        return ok;
}

/* Opens, checks and parses one file. */
void config_load_file(struct parser *p, const char *path, bool included) {
        unsigned seq = p->n_file_seq++;
        _cleanup_(closep) int fd = open_file(p, path, seq);
        struct stat st;
        char e[128];

        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0) {
                config_error(p, path, seq, 0, "cannot open: %s", config_errstr(errno, e));
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                config_error(p, path, seq, 0, "refusing to read: not a regular file");
                return;
        }
        for (size_t i = 0; i < p->n_files; i++)
                if (p->files[i].dev == st.st_dev && p->files[i].ino == st.st_ino)
                        return; /* read already */
        struct file_id *f = reallocarray(p->files, p->n_files + 1, sizeof(*f));
        if (!f) {
                config_oom(p);
                return;
        }
        p->files = f;
        p->files[p->n_files++] = (struct file_id){ st.st_dev, st.st_ino };
        if (p->check_permissions && !file_check(p, path, seq, &st))
                return;

        char *data = NULL;
        size_t size = 0;
        int r = read_full_fd(fd, st.st_size > 0 && st.st_size < (1 << 30) ? (size_t)st.st_size : 4096, SIZE_MAX - 1,
                             &data, &size);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                config_error(p, path, seq, 0, "cannot read: %s", config_errstr(-r, e));
        else
                config_parse_text(p, path, seq, included, data, size);
        free(data);
}

struct glob_failure {
        char path[256];
        int error;
};
/* For glob's errfunc, which has no user pointer: per thread, so that two
 * loads at once do not meet. */
static _Thread_local struct glob_failure *glob_failure;

static int glob_error(const char *path, int error) {
        if (error != ENOENT && error != ENOTDIR && glob_failure && glob_failure->error == 0) {
                snprintf(glob_failure->path, sizeof glob_failure->path, "%s", path);
                glob_failure->error = error;
        }
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void config_load_includes(struct parser *p) {
        char q[QBUF_SIZE], e[128];

        for (size_t i = 0; i < p->n_includes && !p->failure && !p->too_many; i++) {
                const struct include *inc = &p->includes[i];
                struct glob_failure gf = { .error = 0 };
                glob_t g = { 0 };

                glob_failure = &gf;
                int r = glob(inc->pattern, 0, glob_error, &g);
                glob_failure = NULL;
                if (r == GLOB_NOSPACE) {
                        globfree(&g);
                        config_oom(p);
                        return;
                }
                if (gf.error)
                        config_error(p, inc->file, inc->file_seq, inc->line, "cannot read %s for files=: %s",
                                     config_quote(q, gf.path), config_errstr(gf.error, e));
                if (r == 0) {
                        qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), strcmp_ptr);
                        for (size_t k = 0; k < g.gl_pathc && !p->failure && !p->too_many; k++)
                                config_load_file(p, g.gl_pathv[k], true);
                }
                globfree(&g);
        }
}

