/* heap.c - 4-ary min-heap with back-pointers (see heap.h).
 *
 * Why 4-ary: half the depth of a binary heap, and the four children of a
 * node sit in one or two cache lines of the pointer array; sift-down does a
 * few more comparisons per level but touches fewer levels (libev's choice). */
#include "heap.h"

#define ARITY 4

static bool less(const struct heap_node *a, const struct heap_node *b) {
        if (a->key != b->key)
                return a->key < b->key;
        return heap_seq_before(a->seq, b->seq);
}

static void place(struct heap *h, size_t i, struct heap_node *node) {
        h->items[i] = node;
        node->idx = (uint32_t)i;
}

static void sift_up(struct heap *h, size_t i) {
        struct heap_node *node = h->items[i];
        while (i > 0) {
                size_t parent = (i - 1) / ARITY;
                if (!less(node, h->items[parent]))
                        break;
                place(h, i, h->items[parent]);
                i = parent;
        }
        place(h, i, node);
}

static void sift_down(struct heap *h, size_t i) {
        struct heap_node *node = h->items[i];
        for (;;) {
                size_t first = i * ARITY + 1, best = HEAP_NONE;
                if (first >= h->n)
                        break;
                size_t last = MIN(first + ARITY, h->n);
                best = first;
                for (size_t c = first + 1; c < last; c++)
                        if (less(h->items[c], h->items[best]))
                                best = c;
                if (!less(h->items[best], node))
                        break;
                place(h, i, h->items[best]);
                i = best;
        }
        place(h, i, node);
}

int heap_insert(struct heap *h, struct heap_node *node, usec_t key) {
        if (h->n >= HEAP_NONE - 1)
                return -E2BIG;
        if (h->n == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 16;
                struct heap_node **items = realloc(h->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                h->items = items;
                h->cap = cap;
        }
        node->key = key;
        node->seq = h->next_seq++;
        place(h, h->n++, node);
        sift_up(h, node->idx);
        return 0;
}

void heap_remove(struct heap *h, struct heap_node *node) {
        size_t i = node->idx;
        if (i == HEAP_NONE)
                return;
        node->idx = HEAP_NONE;
        h->n--;
        if (i == h->n)
                return;
        place(h, i, h->items[h->n]);
        /* The moved node may need to go either way. */
        if (i > 0 && less(h->items[i], h->items[(i - 1) / ARITY]))
                sift_up(h, i);
        else
                sift_down(h, i);
}

int heap_update(struct heap *h, struct heap_node *node, usec_t key) {
        if (node->idx == HEAP_NONE)
                return heap_insert(h, node, key);
        usec_t old = node->key;
        node->key = key;
        node->seq = h->next_seq++;
        if (key < old)
                sift_up(h, node->idx);
        else
                sift_down(h, node->idx);
        return 0;
}

void heap_done(struct heap *h) {
        for (size_t i = 0; i < h->n; i++)
                h->items[i]->idx = HEAP_NONE;
        free(h->items);
        *h = (struct heap){ 0 };
}

static bool slot_ok(const struct heap *h, size_t i) {
        return h->items[i]->idx == i && !(i > 0 && less(h->items[i], h->items[(i - 1) / ARITY]));
}

bool heap_verify(const struct heap *h) {
        return heap_verify_slice(h, 0, h->n);
}

bool heap_verify_slice(const struct heap *h, size_t from, size_t n) {
        if (h->n > h->cap || (h->n > 0 && !h->items))
                return false;
        for (size_t k = 0; k < n && k < h->n; k++)
                if (!slot_ok(h, (from + k) % h->n))
                        return false;
        return true;
}

struct heap_node *heap_min_where(const struct heap *h, bool (*match)(const struct heap_node *n, void *ud),
                                 void *ud) {
        /* Frontier of slots still to look at; each non-matching node adds
         * its children. Matching nodes are candidates (their subtrees are
         * not smaller than them). */
        size_t todo[1 + 16 * ARITY], n_todo = 0, expanded = 0;
        struct heap_node *best = NULL;
        if (h->n == 0)
                return NULL;
        todo[n_todo++] = 0;
        while (n_todo > 0) {
                size_t i = todo[--n_todo];
                struct heap_node *node = h->items[i];
                if (match(node, ud)) {
                        if (!best || less(node, best))
                                best = node;
                        continue;
                }
                if (++expanded > 16)
                        return NULL;
                for (size_t c = i * ARITY + 1; c <= i * ARITY + ARITY && c < h->n; c++)
                        todo[n_todo++] = c;
        }
        return best;
}
