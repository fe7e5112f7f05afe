/* Unit tests for base/rate_table with a fake clock: the burst and the
 * even refill, costs above one, retry times, independent keys, the bound
 * on entries, threads counting at once, and base/cidr's client source. */
#include "unit.h"

#include "base/cidr.h"
#include "base/rate_table.h"

#include <pthread.h>
#include <stdio.h>

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct rate_table *new_table(size_t max)
{
	struct rate_table *t = rate_table_new(max);

	fake_now = 1000000;
	rate_table_set_clock(t, fake_clock, NULL);
	return t;
}

static void test_burst_then_refill(void **state)
{
	struct rate_table *t = new_table(100);
	unsigned retry;

	(void)state;
	/* 6 per minute: all six at once, the seventh refused */
	for (int i = 0; i < 6; i++)
		assert_true(rate_table_take(t, "a", 1, 6, 60000, NULL));
	assert_false(rate_table_take(t, "a", 1, 6, 60000, &retry));
	assert_int_equal(retry, 10000);
	/* one comes back every 10 s, no sooner */
	fake_now += 9999;
	assert_false(rate_table_take(t, "a", 1, 6, 60000, &retry));
	assert_int_equal(retry, 1);
	fake_now += 1;
	assert_true(rate_table_take(t, "a", 1, 6, 60000, NULL));
	assert_false(rate_table_take(t, "a", 1, 6, 60000, NULL));
	/* a quiet minute fills the bucket again, and no more than full */
	fake_now += 10 * 60000;
	for (int i = 0; i < 6; i++)
		assert_true(rate_table_take(t, "a", 1, 6, 60000, NULL));
	assert_false(rate_table_take(t, "a", 1, 6, 60000, NULL));
	rate_table_free(&t);
	assert_null(t);
}

static void test_cost_and_keys(void **state)
{
	struct rate_table *t = new_table(100);
	unsigned retry;

	(void)state;
	assert_true(rate_table_take(t, "a", 70, 100, 60000, NULL));
	/* 40 more would go over: refused whole, nothing counted */
	assert_false(rate_table_take(t, "a", 40, 100, 60000, &retry));
	assert_true(retry > 0);
	assert_true(rate_table_take(t, "a", 30, 100, 60000, NULL));
	assert_false(rate_table_take(t, "a", 1, 100, 60000, NULL));
	/* another key has its own allowance */
	assert_true(rate_table_take(t, "b", 100, 100, 60000, NULL));
	/* more than the limit never fits */
	assert_false(rate_table_take(t, "c", 101, 100, 60000, &retry));
	assert_int_equal(retry, UINT32_MAX);
	/* limit 0 is no limit and keeps nothing */
	for (int i = 0; i < 1000; i++)
		assert_true(rate_table_take(t, "d", 5, 0, 60000, NULL));
	assert_int_equal(rate_table_count(t), 2);
	rate_table_free(&t);
}

static void test_limit_not_dividing_period(void **state)
{
	struct rate_table *t = new_table(10);
	int n = 0;

	(void)state;
	/* 7 per minute, over ten minutes: 7 at once and 70 more */
	for (int s = 0; s < 600; s++, fake_now += 1000)
		while (rate_table_take(t, "k", 1, 7, 60000, NULL))
			n++;
	assert_int_equal(n, 7 + 69);
	rate_table_free(&t);
}

static void test_bounded(void **state)
{
	struct rate_table *t = new_table(50);
	char key[32];

	(void)state;
	/* an attacker with many sources: the table stays at its bound */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "198.51.%d.%d", i / 256, i % 256);
		assert_true(rate_table_take(t, key, 1, 3, 60000, NULL));
	}
	assert_int_equal(rate_table_count(t), 50);
	/* the most recent ones are still counted */
	assert_true(rate_table_take(t, key, 2, 3, 60000, NULL));
	assert_false(rate_table_take(t, key, 1, 3, 60000, NULL));
	rate_table_free(&t);
}

struct thread_arg {
	struct rate_table *t;
	int taken;
};

static void *taker(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 20000; i++)
		if (rate_table_take(a->t, "shared", 1, 5000, 60000, NULL))
			a->taken++;
	return NULL;
}

static void test_threads(void **state)
{
	struct rate_table *t = new_table(10);
	struct thread_arg args[4];
	pthread_t th[4];
	int total = 0;

	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .t = t };
		pthread_create(&th[i], NULL, taker, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += args[i].taken;
	}
	/* the clock stands still: exactly the burst, whoever took it */
	assert_int_equal(total, 5000);
	rate_table_free(&t);
}

static void test_cidr_source(void **state)
{
	char src[CIDR_SOURCE_MAX];

	(void)state;
	cidr_source("2001:db8:1:2:aaaa::1", 64, src);
	assert_string_equal(src, "2001:db8:1:2::/64");
	cidr_source("2001:db8:1:2:aaaa::1", 48, src);
	assert_string_equal(src, "2001:db8:1::/48");
	cidr_source("2001:db8:1:2:aaaa::1", 56, src);
	assert_string_equal(src, "2001:db8:1::/56");
	cidr_source("2001:db8:1:2ff:aaaa::1", 60, src);
	assert_string_equal(src, "2001:db8:1:2f0::/60");
	cidr_source("2001:db8:1:2:aaaa::1", 128, src);
	assert_string_equal(src, "2001:db8:1:2:aaaa::1");
	cidr_source("::ffff:192.0.2.7", 64, src);
	assert_string_equal(src, "192.0.2.7");
	cidr_source("192.0.2.7", 64, src);
	assert_string_equal(src, "192.0.2.7");
	cidr_source("unix", 64, src);
	assert_string_equal(src, "unix");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_cost_and_keys),
		cmocka_unit_test(test_limit_not_dividing_period),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_cidr_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
