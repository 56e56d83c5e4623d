/* config_parser.h - what the parts of the configuration parser share while
 * one configuration is loaded: config.c (files, includes, permission
 * checks, the reader, sections, errors), config_keys.c (the key table and
 * its parsers) and job_def.c (job definitions). Internal to them: no other
 * module includes it.
 *
 * Thread: a struct parser lives on the stack of one config_load() call and
 * is touched only by the thread running that load; nothing here is
 * process-wide, so loads on two threads at once do not meet. */
#pragma once

#include "config.h"

#define LINE_LIMIT (1024 * 1024)
#define MAX_ERRORS 100
#define JOB_NAME_MAX 128
#define QUOTE_MAX 100 /* characters of a value quoted in a message */
#define QBUF_SIZE (QUOTE_MAX * 4 + 8)
#define SPAN_MAX (100ULL * 31557600ULL * USEC_PER_SEC)
#define SECTION_DISPLAY_MAX (JOB_NAME_MAX + QUOTE_MAX * 4 + 16)

enum section_kind {
        SEC_NONE,    /* before the first section */
        SEC_IGNORED, /* a section whose header was an error: its keys are skipped */
        SEC_DAEMON,
        SEC_INCLUDE,
        SEC_JOB,
        SEC_CLUSTER,
};
#define SEC_BIT(s) (1u << (s))

struct parser;
struct config_key;
struct shared_schedule;

/* A key's parser: checks value, reports any error (lerror, with the key's
 * name and the section as today's messages have them) and stores the
 * result at field (the row's offset into the section's struct). */
typedef void (*config_key_parser)(struct parser *p, const struct config_key *k, const char *value, void *field);

/* Row flags. */
#define KEY_REPEATABLE 1u /* may be given more than once in a section */
#define KEY_ZERO 2u       /* spans: 0 allowed */
#define KEY_INFINITY 4u   /* spans: "infinity" allowed */
#define KEY_EXTRAS 8u       /* offset is into struct job_extras (p->extras), not struct job_def */

/* One row per key. `sections` is a mask of SEC_BIT()s: a key may be
 * allowed in several sections. Its field is in struct config for
 * [daemon], in struct job_def for [job:NAME] (see config_key_field());
 * min/max bound numbers; `what` and `values` describe an enum (values
 * NULL-terminated, the index is the stored value). */
struct config_key {
        const char *name;
        unsigned sections;
        config_key_parser parse;
        size_t offset;
        long min, max;
        unsigned flags;
        const char *what;
        const char *const *values;
};

/* At most this many rows (the size of parser.seen[]). */
#define CONFIG_KEYS_MAX 64

struct error {
        unsigned file_seq; /* order of the file it is about */
        unsigned line;     /* 0: about the whole file */
        size_t seq;        /* order of detection, for a stable sort */
        char *message;
};

struct include {
        char *pattern; /* resolved against the including file's directory */
        char *file;
        unsigned line;
        unsigned file_seq;
};

struct file_id {
        dev_t dev;
        ino_t ino;
};

struct parser {
        struct config *config;
        bool check_permissions;
        int failure; /* a negative errno other than -EINVAL (out of memory) */

        struct error *errors;
        size_t n_errors, n_alloc_errors;
        bool too_many;

        struct file_id *files;
        size_t n_files;
        unsigned n_file_seq;

        /* The file being read. */
        const char *path; /* interned in the config's arena */
        unsigned file_seq;
        bool included;
        const char *data;
        size_t size, pos;
        unsigned line;

        /* The section being read. */
        enum section_kind section;
        char *section_name; /* as written between the brackets */
        char section_display[SECTION_DISPLAY_MAX]; /* "[NAME]" for messages */
        unsigned section_line;
        unsigned seen[CONFIG_KEYS_MAX]; /* line of each row's first occurrence in this section */
        struct job_def *job;            /* SEC_JOB: in defs[], or &scratch */
        struct job_def scratch;         /* a job checked, then discarded: its header was an error */
        struct job_extras extras;       /* SEC_JOB: the job's keys of struct job_extras, shared at its end */
        const struct job_extras *extras_last; /* the last job's block, for the next one to share */
        bool job_scratch;
        char **environment;             /* the job's environment= so far (heap; packed at its end) */
        unsigned daemon_line;           /* first [daemon], 0: none yet */
        unsigned cluster_line;          /* first [cluster], 0: none yet */
        /* The first job with cluster = once, for the check that needs the
         * whole file ([cluster] may come after it). */
        const char *cluster_once_path;
        unsigned cluster_once_seq, cluster_once_line, n_cluster_once;
        char *cluster_once_job;

        struct job_def *defs; /* the definitions, in file order (grows while parsing) */
        size_t n_defs, n_alloc_defs;
        size_t *table; /* open addressing by name: index + 1 into defs, 0 empty */
        size_t n_table;

        struct arena_intern *intern; /* strings shared by many jobs, while parsing */
        struct shared_schedule *schedules; /* open addressing by (interned text, syntax) */
        size_t n_schedules, n_schedules_table;

        struct include *includes;
        size_t n_includes;
};

/* config.c */
void config_oom(struct parser *p);
void config_error(struct parser *p, const char *path, unsigned file_seq, unsigned line, const char *fmt, ...)
        _printf_(5, 6);
/* An error at a line of the file being read. */
#define lerror(p, line, ...) config_error((p), (p)->path, (p)->file_seq, (line), __VA_ARGS__)
/* s for a message: control characters, quotes and backslashes escaped, cut
 * after QUOTE_MAX characters, in double quotes (config_quote) or not. */
const char *config_quote_marks(char buf[static QBUF_SIZE], const char *s, bool marks);
const char *config_quote(char buf[static QBUF_SIZE], const char *s);
/* A copy of s in the configuration's arena (shared with an equal string
 * copied before), or NULL (out of memory, noted). */
char *config_strdup(struct parser *p, const char *s);
/* The same, not shared: for strings that are rarely equal (job names,
 * commands, schedules), which would only fill the intern table. */
char *config_strdup_unique(struct parser *p, const char *s);
/* A NULL-terminated copy of v in the arena: its strings shared, but for an
 * argv only the first (the program; the arguments are rarely equal). */
char **config_strv(struct parser *p, char *const *v, bool argv);
/* files= in [include]: a glob, relative to the including file's directory. */
void config_include_add(struct parser *p, const char *value);

/* A copy of s with control characters as \xNN (a file name in a message
 * must not reach a terminal raw); NULL when out of memory. */
char *config_escape(const char *s);
/* strerror_r(), thread-safe. */
const char *config_errstr(int e, char buf[static 128]);
/* Parses one file's text (data, size) as file number file_seq. */
void config_parse_text(struct parser *p, const char *path, unsigned file_seq, bool included, const char *data,
                       size_t size);

/* config_files.c */
/* Opens, checks and parses one file. */
void config_load_file(struct parser *p, const char *path, bool included);
/* Reads the files p->includes match, in order. */
void config_load_includes(struct parser *p);

/* config_keys.c */
/* [cluster]: the checks at its end (etcd= given) and at the end of the
 * load (cluster = once needs [cluster]). */
void config_cluster_section_end(struct parser *p);
void config_cluster_finish(struct parser *p);
extern const struct config_key config_keys[];
extern const size_t config_n_keys;
/* The row of key `name` allowed in section s, or -1. */
int config_key_find(enum section_kind s, const char *name, size_t len);
/* The line where the row called `name` was first given in the section
 * being read, 0 if not given. */
unsigned config_key_seen(const struct parser *p, const char *name);
/* Parses value for row i in the section being read. */
void config_key_apply(struct parser *p, size_t i, const char *value);

/* job_def.c */
bool job_name_valid(const char *name, size_t n, char *bad);
const struct job_def *job_table_find(const struct parser *p, const char *name);
/* command='s text in the arena: the previous job's when equal (commands are
 * rarely equal to any other job's but often to the one before; an arena
 * string is not interned). NULL when out of memory (reported). */
char *job_command_dup(struct parser *p, const char *value);

/* A new definition with the defaults appended to p->defs (and its table),
 * made the section's job; or a scratch one, dropped at the section's end. */
void job_begin(struct parser *p, const char *name, bool scratch);
/* The checks that need all of a job's keys, at the end of its section. */
void job_finish(struct parser *p);
/* The schedule parsed before from this text (interned: compared by
 * pointer) in this syntax, or NULL. */
struct schedule *job_schedule_find(const struct parser *p, const char *text, bool cron);
/* Remembers *s (taking it) for text; a calendar expression is moved into
 * the arena, *s then the copy. -ENOMEM (*s not taken). */
int job_schedule_add(struct parser *p, const char *text, bool cron, struct schedule **s);
/* Sorts p->defs by name into p->config (defs, jobs), taking them and the
 * schedules. */
int job_table_finish(struct parser *p);
void job_table_free(struct parser *p);
