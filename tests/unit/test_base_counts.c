/* Unit tests for base/counts: ceilings per key, binary keys, entries that
 * go away at zero, and several threads counting at once. */
#include "unit.h"

#include "base/counts.h"

#include <pthread.h>

static void test_ceiling(void **state)
{
	struct counts *c = counts_new();
	const char bin[4] = { 'a', 0, 'b', 0 };

	(void)state;
	assert_true(counts_acquire(c, STR_LIT("x"), 2));
	assert_true(counts_acquire(c, STR_LIT("x"), 2));
	assert_false(counts_acquire(c, STR_LIT("x"), 2));
	assert_int_equal(counts_get(c, STR_LIT("x")), 2);
	/* other keys, a key with NUL bytes, no ceiling */
	assert_true(counts_acquire(c, str_make(bin, 4), 1));
	assert_false(counts_acquire(c, str_make(bin, 4), 1));
	assert_int_equal(counts_get(c, str_make(bin, 3)), 0);
	for (int i = 0; i < 1000; i++)
		assert_true(counts_acquire(c, STR_LIT("y"), 0));
	assert_int_equal(counts_get(c, STR_LIT("y")), 1000);
	counts_release(c, STR_LIT("x"));
	assert_true(counts_acquire(c, STR_LIT("x"), 2));
	counts_release(c, STR_LIT("x"));
	counts_release(c, STR_LIT("x"));
	assert_int_equal(counts_get(c, STR_LIT("x")), 0);
	counts_free(&c);
	assert_null(c);
}

static void *hammer(void *arg)
{
	struct counts *c = arg;

	for (int i = 0; i < 10000; i++) {
		assert_true(counts_acquire(c, STR_LIT("k"), 0));
		counts_release(c, STR_LIT("k"));
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct counts *c = counts_new();
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counts_get(c, STR_LIT("k")), 0);
	counts_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
