/* control.c - the control socket (see control.h): connections, access, and
 * one short handler per command of the table in ctlproto.h. Replies are
 * rendered by render.c from the scheduler's view (scheduler.h); nothing
 * here reads the scheduler's internals. With --json an error is a JSON
 * object too ({"error": ..., "code": N}), so a script always gets JSON on
 * stdout. A failed reload always names at least one PATH[:LINE] and why.
 * The commands answered later (reload, metrics, cluster) and the test
 * hooks are in control_deferred.c; control_private.h holds what they share. */
#include "control_private.h"

#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "ctlproto.h"
#include "log.h"
#include "render.h"
#include "scheduler.h"
#include "scheduler.h"
#include "strbuf.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define MAX_WORDS 8


static struct control *the_control; /* for stats outside a connection (SIGUSR1) */

/* ---- handlers: each returns the exit code (or REPLY_DEFERRED) ---- */

static int handle_list(struct request *r) {
        render_list(r->sched, r->json, r->out);
        return 0;
}


/* `status JOB` of a cluster job, once its last record was read from etcd
 * (on a cluster worker): what etcd says replaces what this node saw. */
static void status_cluster_done(void *userdata, int k, const char *job, const char *node, const char *result) {
        struct control_client *cl = userdata;
        struct strbuf b = { 0 };
        struct job_view v;
        usec_t next[3];
        int code = 0;
        cl->waiting = false;
        if (sched_job_view(cl->ctl->sched, job, &v) < 0) {
                strbuf_printf(&b, "no such job: %s\n", job);
                code = 3;
        } else {
                if (k > 0) {
                        v.cluster_node = node;
                        v.cluster_result = result;
                } else if (k < 0)
                        log_warning("status %s: %s; showing what this node saw", job, result);
                size_t n = sched_job_next_elapses(cl->ctl->sched, job, next, ELEMENTSOF(next));
                render_job(&v, next, n, cl->json, &b);
        }
        if (cl->json && code != 0)
                render_json_error(&b, code);
        control_client_reply(cl, code, b.s && !b.oom ? b.s : "out of memory\n");
        strbuf_done(&b);
        timer_clock_flush(&cl->ctl->clock);
}

static int handle_status(struct request *r) {
        if (r->n_args == 0) {
                render_status(r->sched, r->json, r->out);
                return 0;
        }
        if (r->client && job_def_cluster_once(r->job.def) &&
            sched_cluster_read_last(r->sched, r->job.def->name, status_cluster_done, r->client) >= 0) {
                r->client->waiting = true;
                return REPLY_DEFERRED;
        }
        usec_t next[3];
        size_t n = sched_job_next_elapses(r->sched, r->job.def->name, next, ELEMENTSOF(next));
        render_job(&r->job, next, n, r->json, r->out);
        return 0;
}

static int handle_stats(struct request *r) {
        struct control *ctl = r->ctl ? r->ctl : the_control;
        render_stats(r->sched, ctl ? ctl->loop : NULL, ctl, r->json, r->out);
        return 0;
}

/* Why `run` did what it did. A manual run ignores `paused`, so a skip
 * always comes from the overlap policy. */
static const char *run_outcome_detail(const struct job_def *d, enum start_outcome o) {
        switch (o) {
        case START_QUEUED:
                return d->overlap == OVERLAP_REPLACE ? " (the active run is being stopped, overlap=replace)"
                                                     : " (waits for the active run, overlap=queue)";
        case START_SKIPPED:
                return d->overlap == OVERLAP_QUEUE ? " (a run is active and one is already queued, overlap=queue)"
                                                   : " (a run is active, overlap=skip)";
        case START_REFUSED:
                return " (evd is shutting down, or the job was removed)";
        default:
                return "";
        }
}

static int handle_run(struct request *r) {
        const char *name = r->job.def->name;
        enum start_outcome o;
        if (sched_run_now(r->sched, name, &o) < 0) {
                strbuf_printf(r->out, "%s: not started: evd is shutting down\n", name);
                return 1;
        }
        if (r->json)
                strbuf_printf(r->out, "{\"job\":\"%s\",\"outcome\":\"%s\"}\n", name, start_outcome_to_string(o));
        else
                strbuf_printf(r->out, "%s: %s%s\n", name, start_outcome_to_string(o),
                              run_outcome_detail(r->job.def, o));
        return o == START_SKIPPED || o == START_REFUSED ? 1 : 0;
}

static int handle_next(struct request *r) {
        unsigned count = 1;
        if (r->n_args == 2 && !ctl_parse_count(r->args[1], &count)) {
                strbuf_printf(r->out, "next: N must be 1..%d\n", CTL_NEXT_MAX);
                return 2;
        }
        usec_t times[CTL_NEXT_MAX];
        size_t k = sched_job_next_elapses(r->sched, r->job.def->name, times, count);
        char t[64];
        if (r->json) {
                strbuf_puts(r->out, "{\"job\":");
                strbuf_json_string(r->out, r->job.def->name);
                strbuf_puts(r->out, ",\"next\":[");
                for (size_t i = 0; i < k; i++) {
                        if (i)
                                strbuf_puts(r->out, ",");
                        render_json_time(r->out, times[i]);
                }
                strbuf_puts(r->out, "]}\n");
                return 0;
        }
        for (size_t i = 0; i < k; i++)
                strbuf_printf(r->out, "%s\n", render_time_long(times[i], t, sizeof t));
        if (k == 0)
                strbuf_printf(r->out, "%s: no next run\n", r->job.def->name);
        return 0;
}

static int handle_pause(struct request *r) {
        bool pause = r->cmd->id == CTL_PAUSE;
        const char *name = r->job.def->name;
        int changed = sched_set_paused(r->sched, name, pause);
        if (r->json)
                strbuf_printf(r->out, "{\"job\":\"%s\",\"paused\":%s,\"changed\":%s}\n", name,
                              pause ? "true" : "false", changed > 0 ? "true" : "false");
        else
                strbuf_printf(r->out, "%s: %s%s\n", name, changed > 0 ? "" : "already ", pause ? "paused" : "resumed");
        return 0;
}

static const handler_fn handlers[_CTL_COMMAND_MAX] = {
        [CTL_LIST] = handle_list,     [CTL_STATUS] = handle_status, [CTL_RUN] = handle_run,
        [CTL_NEXT] = handle_next,     [CTL_PAUSE] = handle_pause,   [CTL_RESUME] = handle_pause,
        [CTL_RELOAD] = control_handle_reload, [CTL_STATS] = handle_stats,
        [CTL_METRICS] = control_handle_metrics,
        [CTL_CLUSTER] = control_handle_cluster,
#ifdef EVD_TEST_HOOKS
        [CTL_TEST_STALL] = control_handle_test_stall, [CTL_TEST_CLOCK_STEP] = control_handle_test_clock_step,
#endif
};

/* ---- parse -> lookup -> handler ---- */

static handler_fn lookup(const struct ctl_command *c) {
        if (!c || !(c->flags & CTL_DAEMON) || !handlers[c->id])
                return NULL;
#ifdef EVD_TEST_HOOKS
        if ((c->flags & CTL_TEST_HOOK) && !control_test_hooks_enabled())
                return NULL;
#endif
        return handlers[c->id];
}

/* Splits the line into r->args (the command's name first), and finds the
 * command and its job. Returns 0, or the exit code of an error in r->out. */
static int parse(struct request *r, char *line, char **words) {
        size_t n = 0;
        for (char *save = NULL, *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (streq(w, "--json"))
                        r->json = true;
                else if (n < MAX_WORDS)
                        words[n++] = w;
                else {
                        strbuf_puts(r->out, "too many arguments\n");
                        return 2;
                }
        }
        if (n == 0) {
                strbuf_puts(r->out, "empty request\n");
                return 2;
        }
        r->cmd = ctl_command_find(words[0]);
        r->args = words + 1;
        r->n_args = n - 1;
        if (!lookup(r->cmd))
                goto unknown;
        if (r->cmd->flags & CTL_TAKES_JOB) {
                if (r->n_args == 0 && r->cmd->min_args > 0) {
                        strbuf_printf(r->out, "%s: a job name is needed\n", words[0]);
                        return 2;
                }
                if (r->n_args > 0 && sched_job_view(r->sched, r->args[0], &r->job) < 0) {
                        strbuf_printf(r->out, "no such job: %s\n", r->args[0]);
                        return 3;
                }
        }
        if (r->n_args >= r->cmd->min_args && r->n_args <= r->cmd->max_args)
                return 0;
unknown:
        strbuf_printf(r->out, "unknown request \"%s\" (or wrong number of arguments)\n", words[0]);
        return 2;
}

/* Handles one request line; *ret_body gets the reply unless deferred. */
static int handle_request(struct sched *s, struct control *ctl, struct control_client *cl, const char *line,
                          char **ret_body) {
        struct strbuf b = { 0 };
        struct request r = { .sched = s, .ctl = ctl, .client = cl, .out = &b };
        char *words[MAX_WORDS];
        char *copy = strdup(line);
        int code;

        if (!copy) {
                *ret_body = strdup("out of memory\n");
                return 1;
        }
        code = parse(&r, copy, words);
        if (code == 0)
                code = lookup(r.cmd)(&r);
        free(copy);
        if (cl)
                cl->json = r.json;
        if (code == REPLY_DEFERRED) {
                strbuf_done(&b);
                *ret_body = NULL;
                return code;
        }
        /* An error asked for in JSON gets a JSON object too, so a script
         * reading stdout always has something to parse. */
        if (r.json && code != 0 && b.s && b.s[0] != '{')
                render_json_error(&b, code);
        *ret_body = strbuf_steal(&b);
        if (!*ret_body) {
                *ret_body = strdup("out of memory\n");
                code = 1;
        }
        return code;
}

int control_handle(struct sched *s, const char *request, char **ret_body) {
        return handle_request(s, NULL, NULL, request, ret_body);
}

/* ---- connections ---- */

static void client_free(struct control_client *cl) {
        struct control *ctl = cl->ctl;
        if (cl->waiting) {
                sched_reload_forget(ctl->sched, cl);
                sched_metrics_forget(ctl->sched, cl);
                sched_cluster_forget(ctl->sched, cl);
        }
        timer_stop(&cl->deadline);
        loop_remove(ctl->loop, &cl->source);
        safe_close(cl->source.fd);
        if (cl->prev)
                cl->prev->next = cl->next;
        else
                ctl->clients = cl->next;
        if (cl->next)
                cl->next->prev = cl->prev;
        ctl->n_clients--;
        free(cl->out);
        free(cl->body);
        free(cl);
        if (ctl->accept_paused && ctl->n_clients < CONTROL_MAX_CLIENTS) {
                ctl->accept_paused = false;
                if (!ctl->accept_backoff)
                        loop_modify(ctl->loop, &ctl->listen, EPOLLIN);
        }
}

/* False when the client was dropped (out of memory): cl is gone. */
bool control_client_reply(struct control_client *cl, int code, const char *body) {
        char *msg = strdup_printf("EVD/1 %d\n%s", code, body);
        if (!msg) {
                /* Out of memory: drop the client rather than leave it
                 * without a reply to send (it would be read again). */
                client_free(cl);
                return false;
        }
        free(cl->out);
        cl->out = msg;
        cl->out_len = strlen(msg);
        cl->out_off = 0;
        shutdown(cl->source.fd, SHUT_RD);
        loop_modify(cl->ctl->loop, &cl->source, EPOLLOUT);
        /* A deferred reply gets the whole deadline for its writing. */
        timer_start(&cl->ctl->clock, &cl->deadline, now_usec(CLOCK_BOOTTIME) + CONTROL_CLIENT_TIMEOUT);
        return true;
}

static void client_write(struct control_client *cl) {
        for (;;) {
                bool head = cl->out_off < cl->out_len;
                size_t left = head ? cl->out_len - cl->out_off : cl->body_len - cl->body_off;
                if (left == 0)
                        break;
                const char *p = head ? cl->out + cl->out_off : cl->body + cl->body_off;
                ssize_t n = send(cl->source.fd, p, left, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        break;
                }
                *(head ? &cl->out_off : &cl->body_off) += (size_t)n;
        }
        client_free(cl);
}

/* Reads the request line. Returns true when it is complete (NUL-terminated
 * in cl->in); false when more must come or the client is gone or answered. */
static bool client_read(struct control_client *cl) {
        struct control *ctl = cl->ctl;
        for (;;) {
                ssize_t n = recv(cl->source.fd, cl->in + cl->in_len, sizeof cl->in - cl->in_len, 0);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                client_free(cl);
                        return false;
                }
                if (n == 0) {
                        /* EOF without a full line: treat what came as the request. */
                        if (cl->in_len == 0) {
                                client_free(cl);
                                return false;
                        }
                        cl->read_eof = true;
                        break;
                }
                char *nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
                cl->in_len += (size_t)n;
                if (nl) {
                        cl->in_len = (size_t)(nl - cl->in);
                        break;
                }
                if (cl->in_len == sizeof cl->in) {
                        ctl->bad_requests++;
                        control_client_reply(cl, 2, "request too long\n");
                        return false;
                }
        }
        cl->in[cl->in_len] = '\0';
        if (cl->in_len > 0 && cl->in[cl->in_len - 1] == '\r')
                cl->in[--cl->in_len] = '\0';
        for (size_t i = 0; i < cl->in_len; i++)
                if ((unsigned char)cl->in[i] < 0x20 && cl->in[i] != '\t') {
                        ctl->bad_requests++;
                        control_client_reply(cl, 2, "malformed request\n");
                        return false;
                }
        return true;
}

static void client_dispatch_inner(struct control_client *cl, uint32_t events) {
        struct control *ctl = cl->ctl;

        if (cl->out) {
                client_write(cl);
                return;
        }
        if (cl->waiting) {
                /* Only a hang-up wakes a waiting client: it went away. */
                if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        client_free(cl);
                return;
        }
        if (!client_read(cl))
                return;
        ctl->requests++;
        char *body = NULL;
        int code = handle_request(ctl->sched, ctl, cl, cl->in, &body);
        if (code == REPLY_DEFERRED) {
                /* No deadline while evd works on it; a hang-up (when the
                 * client has not already shut down its side) drops it. */
                timer_stop(&cl->deadline);
                loop_modify(ctl->loop, &cl->source, cl->read_eof ? 0 : EPOLLRDHUP);
                return;
        }
        if (code == 2)
                ctl->bad_requests++;
        control_client_reply(cl, code, body ? body : "");
        free(body);
}

static void client_dispatch(struct loop_source *src, uint32_t events) {
        struct control_client *cl = container_of(src, struct control_client, source);
        struct control *ctl = cl->ctl;
        client_dispatch_inner(cl, events);
        timer_clock_flush(&ctl->clock);
}

static void accept_retry_fired(struct timer *t, usec_t now) {
        struct control *ctl = container_of(t, struct control, accept_retry);
        ctl->accept_backoff = false;
        if (!ctl->accept_paused)
                loop_modify(ctl->loop, &ctl->listen, EPOLLIN);
}

static void client_timeout(struct timer *t, usec_t now) {
        struct control_client *cl = container_of(t, struct control_client, deadline);
        cl->ctl->timeouts++;
        client_free(cl);
}

/* Whether gid is among the peer's supplementary groups (however many). */
static bool peer_in_group(int fd, gid_t gid) {
        gid_t small[64], *groups = small;
        socklen_t len = sizeof small;
        bool found = false;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
                /* ERANGE: len now says how much is needed. */
                if (errno != ERANGE || len == 0)
                        return false;
                groups = malloc(len);
                if (!groups)
                        return false;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
                        free(groups);
                        return false;
                }
        }
        for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
                found = groups[i] == gid;
        if (groups != small)
                free(groups);
        return found;
}

static bool peer_authorized(int fd, const struct ucred *cred, const struct config *cfg) {
        if (cred->uid == 0 || cred->uid == geteuid())
                return true;
        if (!cfg->control_group)
                return false;
        return cred->gid == cfg->control_gid || peer_in_group(fd, cfg->control_gid);
}

/* A client over its share of the slots (see control.h): true when it was
 * answered "too many connections" and closed. */
static bool over_limit(struct control *ctl, int fd, uid_t uid) {
        if (uid == 0)
                return false;
        size_t mine = 0;
        for (struct control_client *c = ctl->clients; c; c = c->next)
                mine += c->uid == uid;
        if (mine < CONTROL_MAX_PER_USER && ctl->n_clients < CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS)
                return false;
        char msg[160];
        int n = snprintf(msg, sizeof msg, "EVD/1 1\ntoo many connections to evd's control socket from uid %u; "
                                          "try again later\n", (unsigned)uid);
        /* A new socket's buffer takes it whole; if not, the client only
         * misses the reason. */
        (void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        ctl->over_limit++;
        return true;
}

static void accept_failed(struct control *ctl) {
        /* Out of descriptors or memory: the client stays in the backlog, the
         * listener stays readable. Stop watching it for a while instead of
         * spinning, and say so once per episode. */
        if (!ctl->accept_failing)
                log_warning_errno(errno, "Control socket: accept failed; trying again every %llums",
                                  (unsigned long long)(CONTROL_ACCEPT_RETRY / USEC_PER_MSEC));
        ctl->accept_failures++;
        ctl->accept_failing = true;
        ctl->accept_backoff = true;
        loop_modify(ctl->loop, &ctl->listen, 0);
        timer_start(&ctl->clock, &ctl->accept_retry, now_usec(CLOCK_BOOTTIME) + CONTROL_ACCEPT_RETRY);
}

static void client_new(struct control *ctl, int fd) {
        struct ucred cred = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || over_limit(ctl, fd, cred.uid)) {
                safe_close(fd);
                return;
        }
        struct control_client *cl = calloc(1, sizeof(*cl));
        if (!cl) {
                safe_close(fd);
                return;
        }
        cl->ctl = ctl;
        cl->uid = cred.uid;
        cl->source.fd = fd;
        cl->source.name = "control-client";
        cl->source.callback = client_dispatch;
        timer_init(&cl->deadline, client_timeout);
        cl->next = ctl->clients;
        if (ctl->clients)
                ctl->clients->prev = cl;
        ctl->clients = cl;
        ctl->n_clients++;
        if (loop_add(ctl->loop, &cl->source, EPOLLIN) < 0) {
                client_free(cl);
                return;
        }
        timer_start(&ctl->clock, &cl->deadline, now_usec(CLOCK_BOOTTIME) + CONTROL_CLIENT_TIMEOUT);
        if (!peer_authorized(fd, &cred, sched_config(ctl->sched))) {
                ctl->refused++;
                control_client_reply(cl, 1, "permission denied: only root and members of control_group may use evd's control socket\n");
        }
}

static void listen_dispatch(struct loop_source *src, uint32_t events) {
        struct control *ctl = container_of(src, struct control, listen);
        /* Bounded: a flood of refused clients cannot keep the loop here
         * (the listener, still readable, is dispatched again). */
        for (int i = 0; i < 4 * CONTROL_MAX_CLIENTS; i++) {
                if (ctl->n_clients >= CONTROL_MAX_CLIENTS) {
                        /* Leave the rest in the backlog until a slot frees. */
                        ctl->accept_paused = true;
                        loop_modify(ctl->loop, &ctl->listen, 0);
                        break;
                }
                int fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                accept_failed(ctl);
                        break;
                }
                ctl->accepted++;
                if (ctl->accept_failing) {
                        log_info("Control socket: accepting clients again");
                        ctl->accept_failing = false;
                }
                client_new(ctl, fd);
        }
        timer_clock_flush(&ctl->clock);
}

/* ---- the socket ---- */

/* The socket's group: control_group's, else evd's own. */
static gid_t wanted_gid(const struct config *c) {
        return c->control_group ? c->control_gid : getegid();
}

/* Gives the socket (never what a link there points to) to gid. */
static void socket_set_group(struct control *c, const struct config *cfg) {
        gid_t gid = wanted_gid(cfg);
        if (gid == c->socket_gid)
                return;
        if (fchownat(AT_FDCWD, c->path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) {
                log_warning_errno(errno, "Cannot give %s to group %s", c->path,
                                  cfg->control_group ? cfg->control_group : "root");
                return;
        }
        c->socket_gid = gid;
}

static void config_changed(void *userdata, const struct config *cfg) {
        struct control *c = userdata;
        gid_t old = c->socket_gid;
        socket_set_group(c, cfg);
        if (c->socket_gid != old)
                log_info("Control socket %s now belongs to group %s", c->path,
                         cfg->control_group ? cfg->control_group : "root");
}

/* Between bind() and the chown of the socket, whoever may write to its
 * directory could swap it for a link to another file. Refuse such a
 * directory unless it is sticky (then only we may rename our socket) and
 * owned by root or us. */
static int check_directory(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        struct stat st;
        if (!copy)
                return -ENOMEM;
        const char *dir = dirname(copy);
        if (stat(dir, &st) < 0)
                return log_error_errno(errno, "Cannot use the control socket's directory %s", dir);
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                log_error("Control socket directory %s belongs to uid %u, not to root or evd's user; "
                          "refusing to create the socket there", dir, (unsigned)st.st_uid);
                return -EPERM;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
                log_error("Control socket directory %s is writable by others (mode %04o) and not sticky; "
                          "refusing to create the socket there", dir, (unsigned)(st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

static int take_lock(struct control *c, const char *path) {
        _cleanup_(freep) char *lock = strdup_printf("%s.lock", path);
        int r;
        if (!lock)
                return -ENOMEM;
        c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (c->lock_fd < 0)
                return log_error_errno(errno, "Cannot open %s", lock);
        if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
                if (r == -EADDRINUSE)
                        log_error("Another evd is already running with control socket %s (%s is locked)", path, lock);
                else
                        log_error_errno(r, "Cannot lock %s", lock);
                return r;
        }
        return 0;
}

int control_open(struct control *c, struct loop *l, struct sched *s, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        *c = (struct control){ .loop = l, .sched = s, .lock_fd = -1, .listen.fd = -1, .clock.source.fd = -1,
                               .socket_gid = getegid() };
        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-ENAMETOOLONG, "Control socket path %s is too long", path);
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;
        r = check_directory(path);
        if (r < 0)
                return r;
        r = take_lock(c, path);
        if (r < 0)
                return r;
        r = timer_clock_init(&c->clock, l, CLOCK_BOOTTIME, "timer-control");
        if (r < 0)
                return log_error_errno(r, "Cannot create the control socket's timer");

        c->listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->listen.fd < 0)
                return log_error_errno(errno, "Cannot create the control socket");
        strcpy(sa.sun_path, path);
        /* A socket left there is stale (we hold the lock): remove it. Never
         * remove anything else: --socket /etc/evd.conf must not delete it. */
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        log_error("Control socket %s exists and is not a socket; not replacing it", path);
                        return -EEXIST;
                }
                (void)unlink(path);
        }
        mode_t old = umask(0117);
        r = bind(c->listen.fd, (struct sockaddr *)&sa, sizeof sa);
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Cannot bind the control socket %s", path);
        socket_set_group(c, sched_config(s));
        if (listen(c->listen.fd, 512) < 0)
                return log_error_errno(errno, "Cannot listen on %s", path);
        c->listen.name = "control";
        c->listen.callback = listen_dispatch;
        timer_init(&c->accept_retry, accept_retry_fired);
        r = loop_add(l, &c->listen, EPOLLIN);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the control socket");
        sched_set_reload_hook(s, config_changed, c);
        the_control = c;
        return 0;
}

void control_close(struct control *c) {
        if (the_control == c) {
                the_control = NULL;
                sched_set_reload_hook(c->sched, NULL, NULL);
        }
        timer_stop(&c->accept_retry);
        while (c->clients)
                client_free(c->clients);
        if (c->listen.fd >= 0) {
                loop_remove(c->loop, &c->listen);
                c->listen.fd = safe_close(c->listen.fd);
                if (c->path)
                        (void)unlink(c->path);
        }
        if (c->clock.source.fd >= 0)
                timer_clock_done(&c->clock);
        c->lock_fd = safe_close(c->lock_fd);
        free(c->path);
        c->path = NULL;
}
