/* Unit tests for base/lru: lookups, order of use, eviction of the least
 * recently used, pinned entries, removal and values that keep their
 * contents and alignment. */
#include "unit.h"

#include "base/lru.h"

#include <stdint.h>
#include <stdio.h>

struct val {
	uint64_t n;
	bool pin;
};

static bool val_pinned(const void *v)
{
	return ((const struct val *)v)->pin;
}

static void test_get_find_evict(void **state)
{
	struct lru t;
	struct val *v;
	bool created;
	char key[16];

	(void)state;
	lru_init(&t, 3, sizeof(struct val), NULL);
	assert_null(lru_find(&t, "a"));
	assert_null(lru_oldest(&t));
	v = lru_get(&t, "a", &created);
	assert_true(created);
	assert_int_equal(v->n, 0);
	assert_int_equal((uintptr_t)v % _Alignof(max_align_t), 0);
	v->n = 1;
	((struct val *)lru_get(&t, "b", NULL))->n = 2;
	((struct val *)lru_get(&t, "c", NULL))->n = 3;
	/* a is used again: b is now the least recently used */
	v = lru_get(&t, "a", &created);
	assert_false(created);
	assert_int_equal(v->n, 1);
	assert_int_equal(((struct val *)lru_oldest(&t))->n, 2);
	lru_get(&t, "d", NULL);
	assert_int_equal(lru_count(&t), 3);
	assert_null(lru_find(&t, "b"));
	assert_non_null(lru_find(&t, "a"));
	/* find does not reorder */
	assert_int_equal(((struct val *)lru_find(&t, "c"))->n, 3);
	assert_int_equal(((struct val *)lru_oldest(&t))->n, 3);
	lru_remove(&t, lru_find(&t, "c"));
	assert_null(lru_find(&t, "c"));
	assert_int_equal(lru_count(&t), 2);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		((struct val *)lru_get(&t, key, NULL))->n = (uint64_t)i;
	}
	assert_int_equal(lru_count(&t), 3);
	assert_int_equal(((struct val *)lru_find(&t, "k999"))->n, 999);
	assert_int_equal(((struct val *)lru_oldest(&t))->n, 997);
	lru_deinit(&t);
}

static void test_pinned(void **state)
{
	struct lru t;
	struct val *v;
	char key[16];

	(void)state;
	lru_init(&t, 2, sizeof(struct val), val_pinned);
	v = lru_get(&t, "pinned", NULL);
	v->pin = true;
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		lru_get(&t, key, NULL);
	}
	assert_non_null(lru_find(&t, "pinned"));
	assert_int_equal(lru_count(&t), 2);
	/* everything pinned: the table grows rather than lose one */
	((struct val *)lru_find(&t, "k9"))->pin = true;
	lru_get(&t, "more", NULL);
	assert_int_equal(lru_count(&t), 3);
	lru_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_find_evict),
		cmocka_unit_test(test_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
