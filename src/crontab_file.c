/* crontab_file.c - the file-level rules Debian's cron applies before it
 * reads a crontab (crontab.h): which names of a /etc/cron.d-like
 * directory are read, owner, mode, links, symlinks, size;
 * /etc/cron.allow and /etc/cron.deny.
 *
 * crontab_load() checks the descriptor it reads (fstat after open), so a
 * file replaced between the check and the read cannot slip through; the
 * symlink rule needs one lstat-like fstatat() of the name first, and a
 * name that is not a regular file (through a link, its target) is refused
 * before it is opened, since opening a device can have effects. Files are
 * opened O_NONBLOCK (a FIFO never blocks) and read up to
 * CRONTAB_SIZE_MAX + 1 bytes, so a huge file is refused without being read
 * whole.
 *
 * Threads: any (getpwnam_r only). */
#include "crontab.h"

#include <ctype.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>

bool crontab_dir_name_valid(const char *name) {
        if (!name || !*name)
                return false;
        for (const char *s = name; *s; s++)
                if (!isascii((unsigned char)*s) || !(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
                        return false;
        return true;
}

/* True if user is on a line of text (blanks around it ignored). */
static bool listed(const char *text, const char *user) {
        size_t ul = strlen(user);
        for (const char *s = text; *s;) {
                const char *nl = strchr(s, '\n');
                const char *end = nl ? nl : s + strlen(s);
                while (s < end && isspace((unsigned char)*s))
                        s++;
                const char *e = end;
                while (e > s && isspace((unsigned char)e[-1]))
                        e--;
                if ((size_t)(e - s) == ul && memcmp(s, user, ul) == 0)
                        return true;
                s = nl ? nl + 1 : end;
        }
        return false;
}

bool crontab_user_allowed(const char *user, const char *allow_text, const char *deny_text) {
        if (!user)
                return false;
        if (streq(user, "root"))
                return true;
        if (allow_text)
                return listed(allow_text, user);
        if (deny_text)
                return !listed(deny_text, user);
        return true;
}

static int refuse(char **ret_reason, int r, const char *display, const char *fmt, const char *arg) {
        if (ret_reason) {
                _cleanup_(freep) char *why = strdup_printf(fmt, arg ? arg : "");
                *ret_reason = why ? strdup_printf("%s: %s", display, why) : NULL;
        }
        return r;
}


int crontab_read_fd(int fd, char **ret, size_t *ret_size) {
        return read_full_fd(fd, 4096, CRONTAB_SIZE_MAX, ret, ret_size);
}

static int user_uid(const struct crontab_options *o, uid_t *ret) {
        /* The lookup callback has no uid: with one, it only decides whether
         * the user exists; the uid comes from the passwd database. */
        if (o->lookup) {
                int r = o->lookup(o->user, NULL, o->userdata);
                if (r < 0)
                        return r;
        }
        struct passwd pw, *pwp = NULL;
        char buf[16384];
        int e = getpwnam_r(o->user, &pw, buf, sizeof buf, &pwp);
        if (e != 0)
                return -e;
        if (!pwp)
                return -ENOENT;
        *ret = pw.pw_uid;
        return 0;
}

/* The owner/mode/link rules on the opened file. */
static int check_stat(const struct stat *st, const struct crontab_options *o, uid_t owner, const char *display,
                      char **ret_reason) {
        if (!S_ISREG(st->st_mode))
                return refuse(ret_reason, -EPERM, display, "not a regular file%s", NULL);
        if (st->st_uid != owner && st->st_uid != 0)
                return refuse(ret_reason, -EPERM, display,
                              o->format == CRONTAB_SYSTEM ? "not owned by root%s"
                                                          : "owned neither by root nor by the user \"%s\" it is named after",
                              o->format == CRONTAB_SYSTEM ? NULL : o->user);
        if (o->format == CRONTAB_SYSTEM && (st->st_mode & (S_IWGRP | S_IWOTH)))
                return refuse(ret_reason, -EPERM, display, "writable by group or others%s", NULL);
        if (o->format == CRONTAB_USER && (st->st_mode & 07777) != 0600)
                return refuse(ret_reason, -EPERM, display, "mode is not 0600%s", NULL);
        if (st->st_nlink != 1)
                return refuse(ret_reason, -EPERM, display, "more than one hard link%s", NULL);
        return 0;
}

int crontab_load_text(int dirfd, const char *name, const char *display, const struct crontab_options *options,
                      char **ret_text, size_t *ret_size, char **ret_reason) {
        if (!name || !options || !ret_text || !ret_size || (options->format == CRONTAB_USER && (!options->user || !*options->user)))
                return -EINVAL;
        display = display ? display : name;
        uid_t owner = 0;
        int r;
        if (options->format == CRONTAB_USER) {
                r = user_uid(options, &owner);
                if (r == -ENOENT)
                        return refuse(ret_reason, r, display, "unknown user \"%s\"", options->user);
                if (r < 0)
                        return refuse(ret_reason, r, display, "cannot look up user \"%s\"", options->user);
        }
        struct stat lst;
        if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                return refuse(ret_reason, -errno, display, "%s", strerror(errno));
        if (S_ISLNK(lst.st_mode)) {
                /* Debian: symlinks in the system tables if both the link and
                 * its target are owned by root; none in the spool. */
                if (options->format == CRONTAB_USER)
                        return refuse(ret_reason, -EPERM, display, "a symbolic link%s", NULL);
                if (lst.st_uid != 0)
                        return refuse(ret_reason, -EPERM, display, "a symbolic link not owned by root%s", NULL);
        }
        /* Nothing but a regular file is opened: opening a device can
         * have effects (a watchdog, a tape). fstat() below checks again
         * what was opened. */
        struct stat target = lst;
        if (S_ISLNK(lst.st_mode) && fstatat(dirfd, name, &target, 0) < 0)
                return refuse(ret_reason, -errno, display, "%s",
                              errno == ELOOP ? "too many levels of symbolic links" : strerror(errno));
        if (!S_ISREG(target.st_mode))
                return refuse(ret_reason, -EPERM, display, "not a regular file%s", NULL);
        int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        if (options->format == CRONTAB_USER)
                flags |= O_NOFOLLOW;
        _cleanup_(closep) int fd = openat(dirfd, name, flags);
        if (fd < 0) {
                int e = errno;
                return refuse(ret_reason, -e, display, "%s",
                              e == ELOOP ? "too many levels of symbolic links" : strerror(e));
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return refuse(ret_reason, -errno, display, "%s", strerror(errno));
        r = check_stat(&st, options, owner, display, ret_reason);
        if (r < 0)
                return r;
        if ((uint64_t)st.st_size > CRONTAB_SIZE_MAX)
                return refuse(ret_reason, -EFBIG, display, "larger than %s", "4 MiB");
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        r = crontab_read_fd(fd, &text, &size);
        if (r == -EFBIG)
                return refuse(ret_reason, r, display, "larger than %s", "4 MiB");
        if (r < 0)
                return refuse(ret_reason, r, display, "%s", strerror(-r));
        /* Callers keep the text as long as their configuration: without the
         * read buffer's slack (at least 4 KiB), or 10,000 one-line tables
         * would hold 40 MB. */
        char *fit = realloc(text, size ? size : 1);
        if (fit)
                text = fit;
        *ret_text = text;
        *ret_size = size;
        text = NULL;
        return 0;
}

int crontab_load(int dirfd, const char *name, const char *display, const struct crontab_options *options,
                 struct crontab **ret, char **ret_reason) {
        if (!name || !ret)
                return -EINVAL;
        display = display ? display : name;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        int r = crontab_load_text(dirfd, name, display, options, &text, &size, ret_reason);
        if (r < 0)
                return r;
        r = crontab_parse(display, text, size, options, ret);
        if (r < 0)
                return refuse(ret_reason, r, display, "%s", strerror(-r));
        return 0;
}
