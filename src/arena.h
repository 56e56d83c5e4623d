/* arena.h - a bump allocator for data that lives exactly as long as its
 * owner (a configuration's strings and vectors), and an intern table that
 * stores equal strings once in an arena.
 *
 * Nothing is freed before the whole arena: allocations are never given
 * back one by one. An arena and an intern table belong to one owner and
 * are used by one thread at a time (no locking, no process-wide state). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
        struct arena_chunk *chunks; /* the newest first */
        size_t used;                /* bytes handed out, all chunks */
        size_t allocated;           /* bytes of the chunks */
};

/* size bytes aligned to align (a power of two, at most 16); NULL when out
 * of memory. Zero-filled. */
void *arena_alloc(struct arena *a, size_t size, size_t align);
char *arena_strdup(struct arena *a, const char *s);
/* Frees every chunk; a is empty (and reusable) afterwards. */
void arena_done(struct arena *a);

struct arena_intern;

struct arena_intern *arena_intern_new(void);
struct arena_intern *arena_intern_free(struct arena_intern *t);
/* The copy of s in a that t knows of, made now if there is none; NULL when
 * out of memory. */
char *arena_intern(struct arena_intern *t, struct arena *a, const char *s);
