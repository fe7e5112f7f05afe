/* Unit tests for base/arena. */
#include "unit.h"

#include "base/arena.h"

static void test_alloc_alignment_and_big_blocks(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 128);
	for (int i = 0; i < 100; i++) {
		char *p = arena_alloc(&a, (size_t)i + 1);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 'x', (size_t)i + 1);
	}
	char *big = arena_zalloc(&a, 100000);
	assert_int_equal(big[99999], 0);
	char *after = arena_strdup(&a, "still small");
	assert_string_equal(after, "still small");
	assert_true(a.total >= 100000);
	arena_clear(&a);
	assert_int_equal(a.total, 0);
	assert_string_equal(arena_printf(&a, "%s-%d", "n", 7), "n-7");
	struct str s = arena_str(&a, STR_LIT("view"));
	assert_int_equal(s.n, 4);
	assert_int_equal(s.p[4], '\0');
	arena_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_alignment_and_big_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
