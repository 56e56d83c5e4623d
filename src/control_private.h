/* control_private.h - what the control socket's files share (control.c,
 * control_deferred.c): a connection, a parsed request, the handlers' type.
 * Not for other modules: they use control.h. Main thread only. */
#pragma once

#include "control.h"
#include "ctlproto.h"
#include "scheduler.h"
#include "strbuf.h"

/* A handler's answer when the reply comes later (reload). */
#define REPLY_DEFERRED (-1)

struct control_client {
        struct loop_source source;
        struct control *ctl;
        struct timer deadline;
        struct control_client *next, *prev;
        uid_t uid;
        bool read_eof;          /* the request ended with EOF, not a newline */
        bool waiting;           /* for a deferred reply (reload) */
        bool json;              /* the request asked for JSON */
        char in[CONTROL_REQUEST_MAX];
        size_t in_len;
        char *out;
        size_t out_len, out_off;
        char *body;             /* a big body sent after out, not copied into it (metrics) */
        size_t body_len, body_off;
};

/* One parsed request, as the handlers see it. */
struct request {
        struct sched *sched;
        struct control *ctl;            /* NULL outside a connection */
        struct control_client *client;  /* NULL outside a connection */
        const struct ctl_command *cmd;
        char **args;                    /* after the command's name */
        size_t n_args;
        bool json;
        struct job_view job;            /* when the first argument names a job */
        struct strbuf *out;
};

typedef int (*handler_fn)(struct request *r);

/* control.c */
/* Queues the reply (code, body) to cl and ends its request; false when
 * cl was dropped (freed) for want of memory. */
bool control_client_reply(struct control_client *cl, int code, const char *body);

/* control_deferred.c */
int control_handle_reload(struct request *r);
int control_handle_metrics(struct request *r);
int control_handle_cluster(struct request *r);
#ifdef EVD_TEST_HOOKS
bool control_test_hooks_enabled(void);
int control_handle_test_stall(struct request *r);
int control_handle_test_clock_step(struct request *r);
#endif
