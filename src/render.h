/* render.h - the control socket's replies as text for people and as JSON,
 * from the scheduler's view (sched_view.h). Every JSON string goes through
 * strbuf_json_string(), so every reply is valid UTF-8 JSON whatever bytes
 * a command, a file name or a request held. Main thread only (it reads
 * the scheduler). */
#pragma once

#include "sched_view.h"
#include "strbuf.h"

struct control;
struct loop;

/* Realtime t as a JSON string "YYYY-MM-DDTHH:MM:SS+HH:MM" (local zone). */
void render_json_time(struct strbuf *b, usec_t t);
/* "YYYY-MM-DD HH:MM:SS ZONE", or "-" for 0 and USEC_INFINITY. */
const char *render_time_long(usec_t t, char *buf, size_t size);
/* The job's schedule as shown: "every 5min", the calendar expression, or
 * "cron EXPR" (whole: no length limit). */
void render_schedule(struct strbuf *b, const struct job_def *d);

void render_list(const struct sched *s, bool json, struct strbuf *b);
/* One job; next[0..n_next) are its next run times. */
void render_job(const struct job_view *v, const usec_t *next, size_t n_next, bool json, struct strbuf *b);
/* evd's summary and every job (each with its next run only: the armed
 * deadline, so a status of many jobs computes no schedule). */
void render_status(const struct sched *s, bool json, struct strbuf *b);
/* ctl may be NULL (SIGUSR1's dump). */
void render_stats(const struct sched *s, const struct loop *l, const struct control *ctl, bool json,
                  struct strbuf *b);
/* Turns a text error in *b into {"error": TEXT, "code": code}. */
void render_json_error(struct strbuf *b, int code);
