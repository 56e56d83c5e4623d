/* heap.h - a 4-ary min-heap of deadlines with index back-pointers.
 *
 * Nodes are embedded in their owners (intrusive), so inserting and removing
 * never allocates per event once the array has grown. Each node knows its
 * slot, which makes removal and re-keying O(log n). Ties are broken by
 * insertion order (a 32-bit sequence number compared modulo 2^32, exact
 * for two nodes armed fewer than 2^31 insertions apart), so timers due at
 * the same instant run in the order they were armed. A node is 16 bytes:
 * it is embedded twice in every job.
 *
 * Pure data structure: no descriptors, not thread-safe (main thread only). */
#pragma once

#include "util.h"

#define HEAP_NONE UINT32_MAX

struct heap_node {
        usec_t key;
        uint32_t seq;
        uint32_t idx;           /* HEAP_NONE when not in a heap */
};

struct heap {
        struct heap_node **items;
        size_t n, cap;          /* n < HEAP_NONE */
        uint32_t next_seq;
};

/* a was inserted (or re-keyed) before b, modulo 2^32. */
static inline bool heap_seq_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

static inline void heap_node_init(struct heap_node *node) { node->idx = HEAP_NONE; }
static inline bool heap_node_linked(const struct heap_node *node) { return node->idx != HEAP_NONE; }

/* Inserts node (which must not be linked) with the given key; -ENOMEM. */
int heap_insert(struct heap *h, struct heap_node *node, usec_t key);
/* Removes node if linked; a no-op otherwise. */
void heap_remove(struct heap *h, struct heap_node *node);
/* Changes a linked node's key (or inserts an unlinked one). */
int heap_update(struct heap *h, struct heap_node *node, usec_t key);
static inline struct heap_node *heap_top(const struct heap *h) { return h->n ? h->items[0] : NULL; }
static inline size_t heap_size(const struct heap *h) { return h->n; }
void heap_done(struct heap *h);
/* Checks the heap property and every back-pointer; true if sound. */
bool heap_verify(const struct heap *h);
/* The same for the n slots from `from` (wrapping): a slice of a big heap. */
bool heap_verify_slice(const struct heap *h, size_t from, size_t n);
/* The least node for which match() is true. Only the children of nodes
 * that do not match are searched, so this is O(k) for k non-matching
 * nodes above the answer: cheap when few nodes do not match (at most 16
 * are expanded; NULL if that is not enough or nothing matches). */
struct heap_node *heap_min_where(const struct heap *h, bool (*match)(const struct heap_node *n, void *ud),
                                 void *ud);
