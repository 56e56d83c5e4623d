/* Unit tests for heap.c: order, removal from any slot, re-keying, ties in
 * insertion order, and a randomized model check against a sorted array. */
#include <check.h>
#include <stdlib.h>

#include "heap.h"

START_TEST(test_order) {
        struct heap h = { 0 };
        struct heap_node n[100];
        for (int i = 0; i < 100; i++) {
                heap_node_init(&n[i]);
                ck_assert_int_eq(heap_insert(&h, &n[i], (usec_t)((i * 37) % 100)), 0);
        }
        ck_assert(heap_verify(&h));
        for (usec_t want = 0; want < 100; want++) {
                struct heap_node *t = heap_top(&h);
                ck_assert_ptr_nonnull(t);
                ck_assert_uint_eq(t->key, want);
                heap_remove(&h, t);
                ck_assert(!heap_node_linked(t));
                ck_assert(heap_verify(&h));
        }
        ck_assert_ptr_null(heap_top(&h));
        heap_done(&h);
}
END_TEST

START_TEST(test_ties_fifo) {
        struct heap h = { 0 };
        struct heap_node n[10];
        for (int i = 0; i < 10; i++) {
                heap_node_init(&n[i]);
                heap_insert(&h, &n[i], 5);
        }
        for (int i = 0; i < 10; i++) {
                ck_assert_ptr_eq(heap_top(&h), &n[i]);
                heap_remove(&h, &n[i]);
        }
        heap_done(&h);
}
END_TEST

START_TEST(test_update_and_remove_middle) {
        struct heap h = { 0 };
        struct heap_node n[50];
        for (int i = 0; i < 50; i++) {
                heap_node_init(&n[i]);
                heap_insert(&h, &n[i], (usec_t)i * 10);
        }
        heap_update(&h, &n[40], 1);      /* decrease */
        ck_assert_ptr_eq(heap_top(&h), &n[0]);
        heap_remove(&h, &n[0]);
        ck_assert_ptr_eq(heap_top(&h), &n[40]);
        heap_update(&h, &n[40], 10000);  /* increase */
        ck_assert_ptr_eq(heap_top(&h), &n[1]);
        heap_remove(&h, &n[25]);         /* from the middle */
        heap_remove(&h, &n[25]);         /* twice is a no-op */
        ck_assert(heap_verify(&h));
        ck_assert_uint_eq(heap_size(&h), 48);
        heap_done(&h);
        ck_assert(!heap_node_linked(&n[3]));
}
END_TEST

static int cmp_usec(const void *a, const void *b) {
        usec_t x = *(const usec_t *)a, y = *(const usec_t *)b;
        return x < y ? -1 : x > y;
}

START_TEST(test_random_model) {
        enum { N = 2000 };
        static struct heap_node n[N];
        struct heap h = { 0 };
        unsigned seed = 12345;
        for (int i = 0; i < N; i++)
                heap_node_init(&n[i]);
        for (int step = 0; step < 200000; step++) {
                int i = rand_r(&seed) % N;
                int op = rand_r(&seed) % 3;
                if (op == 0)
                        heap_remove(&h, &n[i]);
                else
                        heap_update(&h, &n[i], (usec_t)(rand_r(&seed) % 5000));
                if (step % 5000 == 0)
                        ck_assert(heap_verify(&h));
        }
        ck_assert(heap_verify(&h));
        /* Popping yields the sorted multiset of keys of linked nodes. */
        usec_t *keys = malloc(N * sizeof(usec_t));
        size_t k = 0;
        for (int i = 0; i < N; i++)
                if (heap_node_linked(&n[i]))
                        keys[k++] = n[i].key;
        ck_assert_uint_eq(k, heap_size(&h));
        qsort(keys, k, sizeof(usec_t), cmp_usec);
        for (size_t i = 0; i < k; i++) {
                struct heap_node *t = heap_top(&h);
                ck_assert_uint_eq(t->key, keys[i]);
                heap_remove(&h, t);
        }
        free(keys);
        heap_done(&h);
}
END_TEST

/* Ties stay in insertion order across the wrap of the 32-bit sequence. */
START_TEST(test_ties_across_seq_wrap) {
        struct heap h = { .next_seq = UINT32_MAX - 4 };
        struct heap_node n[10];
        for (int i = 0; i < 10; i++) {
                heap_node_init(&n[i]);
                heap_insert(&h, &n[i], 7);
        }
        ck_assert(heap_verify(&h));
        for (int i = 0; i < 10; i++) {
                ck_assert_ptr_eq(heap_top(&h), &n[i]);
                heap_remove(&h, &n[i]);
        }
        heap_done(&h);
}
END_TEST

static bool is_even_key(const struct heap_node *n, void *ud) {
        (void)ud;
        return n->key % 2 == 0;
}

/* heap_min_where: the least matching node, looking below the few that do
 * not match; NULL when too many do not match above it. */
START_TEST(test_min_where) {
        struct heap h = { 0 };
        struct heap_node n[200];
        for (int i = 0; i < 200; i++) {
                heap_node_init(&n[i]);
                heap_insert(&h, &n[i], (usec_t)(1000 + i * 2)); /* even keys */
        }
        /* Make the three smallest keys odd: 1, 3, 5. */
        heap_update(&h, &n[0], 1);
        heap_update(&h, &n[1], 3);
        heap_update(&h, &n[2], 5);
        struct heap_node *m = heap_min_where(&h, is_even_key, NULL);
        usec_t want = USEC_INFINITY;
        for (int i = 0; i < 200; i++)
                if (n[i].key % 2 == 0 && n[i].key < want)
                        want = n[i].key;
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->key, want);
        /* 20 odd keys below every even one: more than it may expand. */
        for (int i = 0; i < 20; i++)
                heap_update(&h, &n[i], (usec_t)(2 * i + 1));
        ck_assert_ptr_null(heap_min_where(&h, is_even_key, NULL));
        heap_done(&h);
        ck_assert_ptr_null(heap_min_where(&h, is_even_key, NULL));
}
END_TEST

/* heap_verify_slice sees a broken slot inside its slice, wrapping. */
START_TEST(test_verify_slice) {
        struct heap h = { 0 };
        struct heap_node n[50];
        for (int i = 0; i < 50; i++) {
                heap_node_init(&n[i]);
                heap_insert(&h, &n[i], (usec_t)i);
        }
        ck_assert(heap_verify_slice(&h, 45, 10));
        h.items[3]->key = 1000000; /* breaks the order below slot 3 */
        ck_assert(!heap_verify(&h));
        ck_assert(!heap_verify_slice(&h, 45, 40)); /* 45..49, 0..34: wraps over slot 3's children */
        h.items[3]->key = 3;
        ck_assert(heap_verify(&h));
        heap_done(&h);
}
END_TEST

int main(void) {
        Suite *s = suite_create("heap");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_order);
        tcase_add_test(tc, test_ties_fifo);
        tcase_add_test(tc, test_update_and_remove_middle);
        tcase_add_test(tc, test_random_model);
        tcase_add_test(tc, test_ties_across_seq_wrap);
        tcase_add_test(tc, test_min_where);
        tcase_add_test(tc, test_verify_slice);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
