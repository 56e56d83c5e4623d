/* ctlclient.c - see ctlclient.h. Non-blocking I/O with one deadline for
 * the whole exchange (poll), connect() included: a unix socket's connect
 * fails with EAGAIN when the listener's backlog is full (it never
 * completes later), so it is tried again, a little later each time, until
 * the deadline. */
#include "ctlclient.h"

#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "strbuf.h"

const char *ctl_default_socket(void) {
        const char *e = getenv("EVD_SOCKET");
        return e && *e ? e : "/run/evd/control.sock";
}

static int wait_for(int fd, short events, usec_t deadline) {
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int n = poll(&p, 1, (int)((deadline - now + 999) / 1000));
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

/* Connects a non-blocking socket to sa before deadline. */
static int connect_until(const struct sockaddr_un *sa, usec_t deadline, int *ret_fd) {
        usec_t pause = 5 * USEC_PER_MSEC;
        for (;;) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return -errno;
                if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) {
                        *ret_fd = fd;
                        return 0;
                }
                int r = -errno;
                safe_close(fd);
                if (r != -EAGAIN && r != -EINTR)
                        return r;
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                usec_t d = MIN(pause, deadline - now);
                struct timespec ts = { .tv_sec = (time_t)(d / USEC_PER_SEC),
                                       .tv_nsec = (long)(d % USEC_PER_SEC * 1000) };
                (void)nanosleep(&ts, NULL);
                pause = MIN(pause * 2, 200 * USEC_PER_MSEC);
        }
}

int ctl_request(const char *socket_path, const char *request, usec_t timeout, int *ret_code, char **ret_body) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct strbuf reply = { 0 };
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        int r;

        if (strlen(socket_path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);
        _cleanup_(closep) int fd = -1;
        r = connect_until(&sa, deadline, &fd);
        if (r < 0)
                return r;

        char *line = strdup_printf("%s\n", request);
        if (!line)
                return -ENOMEM;
        size_t len = strlen(line), off = 0;
        while (off < len) {
                r = wait_for(fd, POLLOUT, deadline);
                if (r < 0)
                        goto fail;
                ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        /* The daemon may have replied (and closed) already,
                         * e.g. to refuse us: read what it said. */
                        break;
                }
                off += (size_t)n;
        }
        free(line);
        line = NULL;
        for (;;) {
                char buf[16384];
                r = wait_for(fd, POLLIN, deadline);
                if (r < 0)
                        goto fail;
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == ECONNRESET)
                                break;
                        r = -errno;
                        goto fail;
                }
                if (n == 0)
                        break;
                strbuf_append(&reply, buf, (size_t)n);
                if (reply.oom) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        /* "EVD/1 CODE\n": parsed by hand, as sscanf's "\n" would also eat
         * the body's leading blanks. */
        const char *p = reply.s ? reply.s : "";
        int code = 0, digits = 0;
        if (!startswith(p, "EVD/1 ")) {
                r = -EPROTO;
                goto fail;
        }
        for (p += strlen("EVD/1 "); *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
                code = code * 10 + (*p - '0');
        if (digits == 0 || *p != '\n') {
                r = -EPROTO;
                goto fail;
        }
        *ret_code = code;
        *ret_body = strdup(p + 1);
        strbuf_done(&reply);
        return *ret_body ? 0 : -ENOMEM;
fail:
        free(line);
        strbuf_done(&reply);
        return r;
}
