/* arena.c - bump allocation in chunks, and interned strings.
 *
 * Owns: the chunks of one arena (a list, the newest first) and, for an
 * intern table, an open-addressing hash set of pointers into an arena.
 *
 * Design: chunks grow from 1 KiB, doubling, to 64 KiB, so a small
 * configuration costs little and a large one a chunk header per 64 KiB;
 * a request larger than that gets a chunk of its own, put behind the
 * current one so that the current one goes on being filled. The intern
 * table is only needed while a configuration is parsed and is freed after
 * it; the arena is freed with its owner. Any thread, one at a time per
 * arena. */
#include "arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 1024u
#define CHUNK_MAX 65536u

struct arena_chunk {
        struct arena_chunk *next;
        size_t size, used;
        _Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t size, size_t align) {
        struct arena_chunk *c = a->chunks;

        if (c) {
                size_t at = (c->used + align - 1) & ~(align - 1);
                if (at <= c->size && size <= c->size - at) {
                        c->used = at + size;
                        a->used += size;
                        return c->data + at;
                }
        }
        size_t n = !c ? CHUNK_MIN : c->size >= CHUNK_MAX / 2 ? CHUNK_MAX : c->size * 2;
        bool own = size > n;
        if (own)
                n = size;
        if (n > SIZE_MAX - sizeof(*c))
                return NULL;
        struct arena_chunk *nc = calloc(1, sizeof(*nc) + n);
        if (!nc)
                return NULL;
        nc->size = n;
        nc->used = size;
        a->allocated += sizeof(*nc) + n;
        a->used += size;
        if (own && c) {
                nc->next = c->next;
                c->next = nc;
        } else {
                nc->next = c;
                a->chunks = nc;
        }
        return nc->data;
}

char *arena_strdup(struct arena *a, const char *s) {
        size_t n = strlen(s) + 1;
        char *d = arena_alloc(a, n, 1);
        if (d)
                memcpy(d, s, n);
        return d;
}

void arena_done(struct arena *a) {
        for (struct arena_chunk *c = a->chunks, *next; c; c = next) {
                next = c->next;
                free(c);
        }
        *a = (struct arena){ 0 };
}

struct slot {
        size_t hash;
        char *s; /* NULL: empty */
};

struct arena_intern {
        struct slot *slots;
        size_t n_slots, n_used;
};

struct arena_intern *arena_intern_new(void) {
        return calloc(1, sizeof(struct arena_intern));
}

struct arena_intern *arena_intern_free(struct arena_intern *t) {
        if (t) {
                free(t->slots);
                free(t);
        }
        return NULL;
}

static size_t hash(const char *s) {
        size_t h = 14695981039346656037ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

/* The slot of s (hash h), or the empty one where it goes. The hash is
 * kept in the slot so that a probe rarely reads another string. */
static struct slot *slot_find(struct slot *slots, size_t n, size_t h, const char *s) {
        size_t i = h & (n - 1);
        while (slots[i].s && (slots[i].hash != h || strcmp(slots[i].s, s) != 0))
                i = (i + 1) & (n - 1);
        return &slots[i];
}

static int grow(struct arena_intern *t) {
        size_t n = t->n_slots ? t->n_slots * 2 : 64;
        struct slot *slots = calloc(n, sizeof(*slots));
        if (!slots)
                return -1;
        for (size_t i = 0; i < t->n_slots; i++)
                if (t->slots[i].s) {
                        size_t k = t->slots[i].hash & (n - 1);
                        while (slots[k].s)
                                k = (k + 1) & (n - 1);
                        slots[k] = t->slots[i];
                }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

char *arena_intern(struct arena_intern *t, struct arena *a, const char *s) {
        if ((t->n_used + 1) * 2 > t->n_slots && grow(t) < 0)
                return NULL;
        size_t h = hash(s);
        struct slot *e = slot_find(t->slots, t->n_slots, h, s);
        if (!e->s) {
                e->s = arena_strdup(a, s);
                if (!e->s)
                        return NULL;
                e->hash = h;
                t->n_used++;
        }
        return e->s;
}
