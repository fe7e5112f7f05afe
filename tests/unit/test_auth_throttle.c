/* Unit tests for auth/auth_throttle with a fake clock. */
#include "unit.h"

#include "auth/auth_throttle.h"

#include <pthread.h>

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct auth_throttle *new_throttle(void)
{
	struct auth_throttle *t = auth_throttle_new(100, 1000);

	fake_now = 5000;
	auth_throttle_set_clock(t, fake_clock, NULL);
	auth_throttle_set_limits(t, 60000, 4);
	return t;
}

static void test_growth_cap_reset(void **state)
{
	struct auth_throttle *t = new_throttle();
	static const unsigned int want[] = { 100, 200, 400, 800, 1000, 1000 };

	(void)state;
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		auth_throttle_failed(t, "192.0.2.1");
		assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), want[i]);
	}
	/* Other clients are not affected. */
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.2"), 0);
	assert_int_equal(auth_throttle_delay_ms(t, "2001:db8::1"), 0);
	auth_throttle_failed(t, "2001:db8::1");
	assert_int_equal(auth_throttle_delay_ms(t, "2001:db8::1"), 100);
	auth_throttle_succeeded(t, "192.0.2.1");
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 0);
	assert_int_equal(auth_throttle_delay_ms(t, "2001:db8::1"), 100);
	assert_int_equal(auth_throttle_count(t), 1);
	auth_throttle_failed(t, "192.0.2.1");
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 100);
	auth_throttle_free(&t);
	assert_null(t);
}

static void test_decay(void **state)
{
	struct auth_throttle *t = new_throttle();

	(void)state;
	auth_throttle_failed(t, "192.0.2.1");
	auth_throttle_failed(t, "192.0.2.1");
	fake_now += 59999;
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 200);
	/* A failure restarts the quiet period and keeps doubling. */
	auth_throttle_failed(t, "192.0.2.1");
	fake_now += 59999;
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 400);
	fake_now += 1;
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 0);
	assert_int_equal(auth_throttle_count(t), 0);
	/* After decay the next failure starts from the initial delay. */
	auth_throttle_failed(t, "192.0.2.1");
	assert_int_equal(auth_throttle_delay_ms(t, "192.0.2.1"), 100);
	auth_throttle_free(&t);
}

static void test_bounded(void **state)
{
	struct auth_throttle *t = new_throttle();
	char ip[32];

	(void)state;
	auth_throttle_failed(t, "10.0.0.0");
	auth_throttle_failed(t, "10.0.0.0");
	for (int i = 1; i <= 3; i++) {
		fake_now++;
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		auth_throttle_failed(t, ip);
	}
	assert_int_equal(auth_throttle_count(t), 4);
	/* 10.0.0.0 fails again: it becomes the newest, 10.0.0.1 the oldest. */
	fake_now++;
	auth_throttle_failed(t, "10.0.0.0");
	fake_now++;
	auth_throttle_failed(t, "10.0.0.9");
	assert_int_equal(auth_throttle_count(t), 4);
	assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.1"), 0);
	assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.0"), 400);
	assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.2"), 100);
	assert_int_equal(auth_throttle_delay_ms(t, "10.0.0.9"), 100);
	/* Many more clients than the cap: never more than the cap kept. */
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		auth_throttle_failed(t, ip);
		assert_true(auth_throttle_count(t) <= 4);
	}
	assert_int_equal(auth_throttle_delay_ms(t, "198.51.100.999"), 100);
	auth_throttle_free(&t);
}

static void *hammer(void *arg)
{
	struct auth_throttle *t = arg;
	char ip[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i % 300);
		auth_throttle_failed(t, ip);
		(void)auth_throttle_delay_ms(t, ip);
		if (i % 7 == 0)
			auth_throttle_succeeded(t, ip);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct auth_throttle *t = auth_throttle_new(10, 80);
	pthread_t th[4];

	(void)state;
	auth_throttle_set_limits(t, 60000, 100);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, t), 0);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		pthread_join(th[i], NULL);
	assert_true(auth_throttle_count(t) <= 100);
	assert_true(auth_throttle_count(t) > 0);
	auth_throttle_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_cap_reset),
		cmocka_unit_test(test_decay),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
