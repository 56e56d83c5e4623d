/* control.h - the control socket that evdctl talks to.
 *
 * Protocol (version 1), one request per connection:
 *   client: one line, at most CONTROL_REQUEST_MAX bytes:
 *           COMMAND [ARG...] [--json]      (words separated by spaces)
 *   server: "EVD/1 CODE\n" then the reply body, then it closes.
 * CODE is the exit status evdctl should use (0 ok, 1 error, 2 usage,
 * 3 no such job). The body is text for people, or JSON with --json (an
 * error too: {"error": MESSAGE, "code": CODE}). Replies to requests that
 * could not be parsed (too long, control bytes) and refusals are text.
 *
 * Served from the main loop without ever blocking it: every socket is
 * non-blocking, each client has a small fixed request buffer and a
 * deadline (CONTROL_CLIENT_TIMEOUT), and at most CONTROL_MAX_CLIENTS are
 * served at once (the rest wait in the listen backlog). A client that
 * sends garbage gets an error reply and is dropped. One user other than
 * root holds at most CONTROL_MAX_PER_USER connections, and the last
 * CONTROL_ROOT_SLOTS slots are root's: a client over either limit gets
 * "too many connections" at once and is closed, so a member of
 * control_group cannot make root's evdctl wait.
 *
 * A client's life: reading its request line -> handled (the command table
 * of ctlproto.h, a handler in control.c) -> writing the reply -> closed.
 * `reload` is answered when the scheduler has applied or refused the new
 * configuration (sched_reload_request): meanwhile the client waits without
 * a deadline, and is forgotten (the reload still happens) if it hangs up.
 *
 * Access: the socket is created 0660, owned by root and the configured
 * control_group (given to the socket again after a reload changes it);
 * each client's credentials (SO_PEERCRED, SO_PEERGROUPS, however many
 * groups) are checked again: root, the daemon's own user, and members of
 * control_group are served, everyone else is refused. The socket's
 * directory must not be writable by others unless it is sticky (like
 * /tmp): else someone could swap the socket for a link to another file
 * between bind() and the chown; evd refuses to start there.
 *
 * A lock file next to the socket (PATH.lock, flock) makes a second evd on
 * the same socket refuse to start. Main thread only. */
#pragma once

#include <sys/types.h>

#include "loop.h"
#include "timer.h"

#define CONTROL_REQUEST_MAX 4096
#define CONTROL_MAX_CLIENTS 64
#define CONTROL_ROOT_SLOTS 8
#define CONTROL_MAX_PER_USER 8
#define CONTROL_CLIENT_TIMEOUT (5 * USEC_PER_SEC)
#define CONTROL_ACCEPT_RETRY (250 * USEC_PER_MSEC)

struct sched;
struct control_client;

struct control {
        struct loop_source listen;
        struct loop *loop;
        struct sched *sched;
        struct timer_clock clock;       /* CLOCK_BOOTTIME: client deadlines, accept retry */
        char *path;
        int lock_fd;
        gid_t socket_gid;               /* the group the socket was given */
        struct control_client *clients;
        size_t n_clients;
        bool accept_paused;
        /* accept() ran out of descriptors (or memory): the listener is
         * left alone until accept_retry fires, so a readable listener
         * cannot spin the loop. */
        bool accept_backoff;
        bool accept_failing;    /* since the last accept that worked (logged once) */
        struct timer accept_retry;
        uint64_t accepted, refused, requests, bad_requests, timeouts, accept_failures, over_limit;
};

/* Binds the socket. -EADDRINUSE when another evd holds it (logged). */
int control_open(struct control *c, struct loop *l, struct sched *s, const char *path);
void control_close(struct control *c);
/* Builds the reply to one request line, outside any connection (SIGUSR1's
 * dump, tests): every command but reload. Returns the exit code;
 * *ret_body is malloc'd. */
int control_handle(struct sched *s, const char *request, char **ret_body);
