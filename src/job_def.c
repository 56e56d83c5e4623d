/* job_def.c - job definitions: made while a configuration is parsed, then
 * one array per configuration, counted through their configuration.
 *
 * Owns: the definitions' table while parsing (p->defs, in file order, and a
 * hash table of indices into it that finds a job defined twice), the checks
 * that need all of a job's keys (job_finish), the final sort by name, and
 * job_def_ref/unref, job_def_same_schedule.
 *
 * Invariants: a definition lives in its configuration's defs[] (scratch
 * definitions, whose section header was an error, live in the parser and
 * are dropped); its strings and vectors are in the configuration's arena;
 * its parsed schedule is in config->schedules, each expression parsed once
 * and shared by the jobs that give the same text in the same syntax
 * (struct schedule is immutable), freed with the configuration.
 * job_def_ref() counts on d->config: a configuration is freed when its last
 * reference goes, so a run that holds a definition across a reload holds
 * the whole old configuration until it ends.
 *
 * Thread: the parse functions run on the loading thread, for its own
 * parser; job_def_ref/unref only on the main thread (plain counter). */
#include "config_parser.h"

#include "schedule.h"

struct job_def *job_def_ref(struct job_def *d) {
        if (d)
                d->config->refcount++;
        return d;
}

struct job_def *job_def_unref(struct job_def *d) {
        if (d)
                config_free(d->config);
        return NULL;
}

bool job_def_same_schedule(const struct job_def *a, const struct job_def *b) {
        if (a->schedule != b->schedule)
                return false;
        if (a->schedule == SCHEDULE_EVERY ? a->every != b->every : !streq_ptr(a->schedule_text, b->schedule_text))
                return false;
        return streq_ptr(a->extras->timezone, b->extras->timezone) && a->jitter == b->jitter && a->persistent == b->persistent &&
               a->enabled == b->enabled && a->extras->cluster == b->extras->cluster; /* cluster: `every`'s clock */
}

const char *overlap_policy_to_string(enum overlap_policy p) {
        switch (p) {
        case OVERLAP_SKIP:
                return "skip";
        case OVERLAP_QUEUE:
                return "queue";
        case OVERLAP_PARALLEL:
                return "parallel";
        case OVERLAP_REPLACE:
                return "replace";
        }
        return "?";
}

/* ---- the table while parsing ----------------------------------------------- */

static size_t name_hash(const char *s) {
        size_t h = 14695981039346656037ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

const struct job_def *job_table_find(const struct parser *p, const char *name) {
        if (p->n_table == 0)
                return NULL;
        for (size_t i = name_hash(name) & (p->n_table - 1);; i = (i + 1) & (p->n_table - 1)) {
                if (!p->table[i])
                        return NULL;
                if (streq(p->defs[p->table[i] - 1].name, name))
                        return &p->defs[p->table[i] - 1];
        }
}

static void table_put(const struct parser *p, size_t *table, size_t n, size_t index) {
        size_t i = name_hash(p->defs[index].name) & (n - 1);
        while (table[i])
                i = (i + 1) & (n - 1);
        table[i] = index + 1;
}

/* Room for one more definition in defs[] and the table. */
static int table_grow(struct parser *p) {
        if (p->n_defs == p->n_alloc_defs) {
                size_t n = p->n_alloc_defs ? p->n_alloc_defs * 2 : 16;
                struct job_def *d = reallocarray(p->defs, n, sizeof(*d));
                if (!d)
                        return -ENOMEM;
                p->defs = d;
                p->n_alloc_defs = n;
        }
        if ((p->n_defs + 1) * 2 > p->n_table) {
                size_t n = p->n_table ? p->n_table * 2 : 64;
                size_t *t = calloc(n, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < p->n_defs; i++)
                        table_put(p, t, n, i);
                free(p->table);
                p->table = t;
                p->n_table = n;
        }
        return 0;
}

bool job_name_valid(const char *name, size_t n, char *bad) {
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-')) {
                        if (bad)
                                *bad = c;
                        return false;
                }
        }
        return true;
}

/* A job's section begins. A scratch job (its header was an error) has its
 * keys still checked, into a definition that is then dropped, so one run
 * of evd -t shows every error in the file. */
/* The extras of every job that sets none of their keys. */
static const struct job_extras job_extras_none = {};

void job_begin(struct parser *p, const char *name, bool scratch) {
        struct job_def *d = &p->scratch;

        if (!scratch) {
                if (table_grow(p) < 0) {
                        config_oom(p);
                        return;
                }
                d = &p->defs[p->n_defs];
        }
        *d = (struct job_def){
                .config = p->config,
                .line = p->line,
                .schedule = SCHEDULE_EVERY,
                .timeout = USEC_INFINITY,
                .overlap = OVERLAP_SKIP,
                .retry_delay = 30 * USEC_PER_SEC,
                .enabled = true,
                .extras = &job_extras_none,
        };
        p->extras = (struct job_extras){};
        d->name = config_strdup_unique(p, name);
        d->file = (char *)p->path;
        if (!d->name)
                return;
        if (!scratch) {
                table_put(p, p->table, p->n_table, p->n_defs);
                p->n_defs++;
        }
        p->job = d;
        p->job_scratch = scratch;
        p->section = SEC_JOB;
}

/* The definition made just before d (in file order), or NULL. */
static const struct job_def *job_previous(const struct parser *p, const struct job_def *d) {
        if (p->n_defs < 2 || d != &p->defs[p->n_defs - 1])
                return NULL;
        return &p->defs[p->n_defs - 2];
}

char *job_command_dup(struct parser *p, const char *value) {
        const struct job_def *prev = job_previous(p, p->job);
        if (prev && prev->command && streq(prev->command, value))
                return prev->command;
        return config_strdup_unique(p, value);
}

/* argv from command= (and shell=), in the arena; the previous job's when it
 * has the same command (runs of jobs that run one program at different
 * times: their argv is stored once). */
static void job_argv(struct parser *p, struct job_def *d) {
        const struct job_def *prev = job_previous(p, d);
        char q[QBUF_SIZE], **argv = NULL;
        const char *why = NULL;

        if (prev && prev->argv && prev->shell == d->shell && prev->command == d->command) {
                d->argv = prev->argv;
                return;
        }
        if (d->shell) {
                /* The command is in the arena already: not copied again. */
                char **v = arena_alloc(&p->config->arena, 4 * sizeof(*v), _Alignof(char *));
                if (!v) {
                        config_oom(p);
                        return;
                }
                v[0] = config_strdup(p, "/bin/sh");
                v[1] = config_strdup(p, "-c");
                v[2] = d->command;
                if (v[0] && v[1])
                        d->argv = v;
                return;
        }
        int r = split_command(d->command, &argv, &why);
        if (r == -ENOMEM)
                config_oom(p);
        else if (r < 0)
                lerror(p, config_key_seen(p, "command"), "invalid command %s for command= in [job:%s]: %s",
                       config_quote(q, d->command), d->name, why ? why : "cannot split");
        else
                d->argv = config_strv(p, argv, true);
        strv_free(argv);
}

/* The expression's own zone would win over timezone=: say so rather than
 * ignore it. calendar keeps "UTC" as a flag, which only its normalised form
 * shows. */
static void job_check_zone(struct parser *p, const struct job_def *d) {
        const char *zone = schedule_timezone(d->calendar);
        char q[QBUF_SIZE], q2[QBUF_SIZE], *norm = NULL;

        if (!zone) {
                if (schedule_normalize(d->calendar, &norm) < 0) {
                        config_oom(p);
                        return;
                }
                size_t n = strlen(norm);
                if (n >= 4 && streq(norm + n - 4, " UTC"))
                        zone = "UTC";
        }
        if (zone && !streq(d->extras->timezone, zone))
                lerror(p, config_key_seen(p, "timezone"),
                       "timezone= %s conflicts with the zone %s named in %s= in [job:%s]", config_quote(q, d->extras->timezone),
                       config_quote(q2, zone), d->schedule == SCHEDULE_CRON ? "cron" : "calendar", d->name);
        free(norm);
}

static bool env_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

/* Everything but the environment. Strings are interned: equal is one pointer. */
static bool extras_equal(const struct job_extras *a, const struct job_extras *b) {
        return a->timezone == b->timezone && a->user == b->user && a->group == b->group && a->home == b->home &&
               a->shell_path == b->shell_path && a->working_directory == b->working_directory &&
               a->uid == b->uid && a->gid == b->gid && a->limit_nofile == b->limit_nofile &&
               a->nice == b->nice && a->nice_set == b->nice_set && a->cluster == b->cluster &&
               a->cluster_unreachable == b->cluster_unreachable && a->cluster_history == b->cluster_history;
}

/* d's extras from p->extras and p->environment: the shared default, the
 * previous job's when equal, or a new one in the arena. */
static void job_extras_finish(struct parser *p, struct job_def *d) {
        const struct job_extras *last = p->extras_last;
        struct job_extras *x;

        if (!p->environment && extras_equal(&p->extras, &job_extras_none)) {
                d->extras = &job_extras_none;
                return;
        }
        if (last && extras_equal(&p->extras, last) && env_equal(p->environment, last->environment)) {
                d->extras = last;
                return;
        }
        x = arena_alloc(&p->config->arena, sizeof(*x), _Alignof(struct job_extras));
        if (!x) {
                config_oom(p);
                return;
        }
        *x = p->extras;
        if (p->environment && !(x->environment = config_strv(p, p->environment, false)))
                return;
        d->extras = p->extras_last = x;
}

void job_finish(struct parser *p) {
        struct job_def *d = p->job;
        unsigned every = config_key_seen(p, "every"), calendar = config_key_seen(p, "calendar"),
                 cron = config_key_seen(p, "cron"), timezone = config_key_seen(p, "timezone");

        job_extras_finish(p, d);
        p->environment = strv_free(p->environment);
        if (p->extras.cluster == CLUSTER_ONCE && p->n_cluster_once++ == 0) {
                p->cluster_once_path = p->path;
                p->cluster_once_seq = p->file_seq;
                p->cluster_once_line = config_key_seen(p, "cluster");
                p->cluster_once_job = strdup(d->name);
                if (!p->cluster_once_job)
                        config_oom(p);
        }
        /* A section whose header was an error has been reported once: no
         * "missing" errors for it, only those of the keys it has. */
        if (!config_key_seen(p, "command") && !p->job_scratch)
                lerror(p, p->section_line, "missing command= in [job:%s]", d->name);
        else if (d->command)
                job_argv(p, d);

        if (!every && !calendar && !cron) {
                if (!p->job_scratch)
                        lerror(p, p->section_line, "no schedule in [job:%s]: set one of every=, calendar=, cron=",
                               d->name);
        } else if (timezone && every && !calendar && !cron)
                lerror(p, timezone, "timezone= needs calendar= or cron= in [job:%s], not every=", d->name);
        else if (d->extras->timezone && d->calendar)
                job_check_zone(p, d);
}

/* ---- schedules shared ---------------------------------------------------------- */

struct shared_schedule {
        const char *text; /* interned: equal texts are one pointer; NULL: empty slot */
        bool cron;
        bool in_arena;    /* copied into the arena (calendar): not freed on its own */
        struct schedule *schedule;
};

static size_t schedule_slot(const struct shared_schedule *t, size_t n, const char *text, bool cron) {
        size_t i = (((uintptr_t)text >> 3) * 11400714819323198485ULL + cron) & (n - 1);
        while (t[i].text && !(t[i].text == text && t[i].cron == cron))
                i = (i + 1) & (n - 1);
        return i;
}

struct schedule *job_schedule_find(const struct parser *p, const char *text, bool cron) {
        if (p->n_schedules_table == 0)
                return NULL;
        return p->schedules[schedule_slot(p->schedules, p->n_schedules_table, text, cron)].schedule;
}

int job_schedule_add(struct parser *p, const char *text, bool cron, struct schedule **s) {
        size_t flat = schedule_flat_size(*s);
        void *mem = NULL;

        if (flat > 0 && !(mem = arena_alloc(&p->config->arena, flat, 8)))
                return -ENOMEM;
        if ((p->n_schedules + 1) * 2 > p->n_schedules_table) {
                size_t n = p->n_schedules_table ? p->n_schedules_table * 2 : 64;
                struct shared_schedule *t = calloc(n, sizeof(*t));
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < p->n_schedules_table; i++)
                        if (p->schedules[i].text)
                                t[schedule_slot(t, n, p->schedules[i].text, p->schedules[i].cron)] = p->schedules[i];
                free(p->schedules);
                p->schedules = t;
                p->n_schedules_table = n;
        }
        if (mem) {
                struct schedule *copy = schedule_flat_copy(*s, mem);
                schedule_free(*s);
                *s = copy;
        }
        p->schedules[schedule_slot(p->schedules, p->n_schedules_table, text, cron)] =
                (struct shared_schedule){ text, cron, mem != NULL, *s };
        p->n_schedules++;
        return 0;
}

/* The schedules not in the arena into the configuration, which frees them. */
static int schedules_finish(struct parser *p) {
        struct config *c = p->config;
        size_t k = 0, n = 0;

        for (size_t i = 0; i < p->n_schedules_table; i++)
                n += p->schedules[i].text && !p->schedules[i].in_arena;
        c->schedules = arena_alloc(&c->arena, MAX(n, 1) * sizeof(*c->schedules), _Alignof(struct schedule *));
        if (!c->schedules)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_schedules_table; i++)
                if (p->schedules[i].text && !p->schedules[i].in_arena)
                        c->schedules[k++] = p->schedules[i].schedule;
        c->n_schedules = k;
        free(p->schedules);
        p->schedules = NULL;
        p->n_schedules = p->n_schedules_table = 0;
        return 0;
}

/* ---- the final table ---------------------------------------------------------- */

static int def_cmp(const void *a, const void *b) {
        return strcmp(((const struct job_def *)a)->name, ((const struct job_def *)b)->name);
}

int job_table_finish(struct parser *p) {
        struct config *c = p->config;
        size_t n = p->n_defs;

        if (n > 0)
                qsort(p->defs, n, sizeof(*p->defs), def_cmp);
        c->jobs = arena_alloc(&c->arena, MAX(n, 1) * sizeof(*c->jobs), _Alignof(struct job_def *));
        if (!c->jobs || schedules_finish(p) < 0)
                return -ENOMEM;
        if (n > 0 && n < p->n_alloc_defs) {
                struct job_def *d = reallocarray(p->defs, n, sizeof(*d));
                if (d)
                        p->defs = d;
        }
        for (size_t i = 0; i < n; i++)
                c->jobs[i] = &p->defs[i];
        c->defs = p->defs;
        c->n_jobs = n;
        p->defs = NULL;
        p->n_defs = p->n_alloc_defs = 0;
        return 0;
}

void job_table_free(struct parser *p) {
        for (size_t i = 0; i < p->n_schedules_table; i++)
                if (!p->schedules[i].in_arena)
                        schedule_free(p->schedules[i].schedule);
        free(p->schedules);
        p->schedules = NULL;
        p->n_schedules = p->n_schedules_table = 0;
        free(p->defs);
        free(p->table);
        p->defs = NULL;
        p->table = NULL;
        p->n_defs = p->n_alloc_defs = p->n_table = 0;
}
