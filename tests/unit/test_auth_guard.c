/* Unit tests for auth/auth_guard with a fake clock: the delay per source,
 * what a success forgets, the pending places, /64 sources, exemption,
 * decay and the bound on records. */
#include "unit.h"

#include "auth/auth_guard.h"

#include <stdio.h>

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct auth_guard *new_guard(unsigned max_pending, size_t max_entries)
{
	struct auth_guard_settings set = {
		.delay_ms = 100,
		.max_delay_ms = 1000,
		.max_pending = max_pending,
		.quiet_ms = 60000,
		.max_entries = max_entries,
	};
	struct auth_guard *g = auth_guard_new(&set);

	fake_now = 5000;
	auth_guard_set_clock(g, fake_clock, NULL);
	return g;
}

/* The delay the next attempt from ip gets (its pending place given back). */
static unsigned next_delay(struct auth_guard *g, const char *ip)
{
	struct auth_guard_ticket t;
	unsigned delay;
	enum auth_guard_verdict v = auth_guard_ask(g, ip, &delay, &t);

	assert_int_not_equal(v, AUTH_GUARD_REFUSE);
	assert_int_equal(v == AUTH_GUARD_WAIT, delay > 0);
	auth_guard_done(g, &t);
	return delay;
}

static void test_delay_grows_and_caps(void **state)
{
	struct auth_guard *g = new_guard(4, 100);
	static const unsigned want[] = { 100, 200, 400, 800, 1000, 1000 };

	(void)state;
	assert_int_equal(next_delay(g, "192.0.2.1"), 0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		/* Failures at different users all count for the source. */
		char user[32];

		snprintf(user, sizeof(user), "victim%zu@example.org", i);
		auth_guard_failed(g, "192.0.2.1", user);
		assert_int_equal(next_delay(g, "192.0.2.1"), want[i]);
	}
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 6);
	assert_int_equal(next_delay(g, "192.0.2.2"), 0);
	auth_guard_free(&g);
	assert_null(g);
}

static void test_cap_is_bounded(void **state)
{
	struct auth_guard_settings set = { .delay_ms = 1000,
					   .max_delay_ms = 60000 };
	struct auth_guard *g = auth_guard_new(&set);

	(void)state;
	for (int i = 0; i < 40; i++)
		auth_guard_failed(g, "192.0.2.1", "x");
	assert_int_equal(next_delay(g, "192.0.2.1"), AUTH_GUARD_MAX_DELAY_MS);
	auth_guard_free(&g);
}

static void test_success_forgets_only_that_user(void **state)
{
	struct auth_guard *g = new_guard(4, 100);

	(void)state;
	for (int i = 0; i < 5; i++)
		auth_guard_failed(g, "192.0.2.1", "victim@example.org");
	auth_guard_failed(g, "192.0.2.1", "Own@Example.org");
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 6);
	/* The attacker logs in to its own account: only its own typo is
	 * forgotten, the guesses at the victim still count. */
	auth_guard_succeeded(g, "192.0.2.1", "own@example.ORG");
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 5);
	assert_int_equal(next_delay(g, "192.0.2.1"), 1000);
	/* A success from another source forgets nothing here. */
	auth_guard_succeeded(g, "192.0.2.9", "victim@example.org");
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 5);
	/* The victim's own success from the source explains those. */
	auth_guard_succeeded(g, "192.0.2.1", "victim@example.org");
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 0);
	assert_int_equal(next_delay(g, "192.0.2.1"), 0);
	auth_guard_free(&g);
}

static void test_pending_places(void **state)
{
	struct auth_guard *g = new_guard(2, 100);
	struct auth_guard_ticket t[3];
	unsigned delay;

	(void)state;
	/* Without failures nobody waits, however many ask. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[0]),
				 AUTH_GUARD_GO);
		assert_false(t[0].pending);
		auth_guard_done(g, &t[0]);
	}
	auth_guard_failed(g, "192.0.2.1", "a");
	assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[0]),
			 AUTH_GUARD_WAIT);
	assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[1]),
			 AUTH_GUARD_WAIT);
	assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[2]),
			 AUTH_GUARD_REFUSE);
	assert_false(t[2].pending);
	/* a refusal waits as long: it comes back no faster than a check */
	assert_int_equal(delay, 100);
	/* Another source has places of its own. */
	assert_int_equal(next_delay(g, "192.0.2.2"), 0);
	auth_guard_done(g, &t[0]);
	auth_guard_done(g, &t[0]);	/* idempotent */
	assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[2]),
			 AUTH_GUARD_WAIT);
	assert_int_equal(auth_guard_ask(g, "192.0.2.1", &delay, &t[0]),
			 AUTH_GUARD_REFUSE);
	auth_guard_done(g, &t[1]);
	auth_guard_done(g, &t[2]);
	auth_guard_free(&g);
}

static void test_sources(void **state)
{
	struct auth_guard *g = new_guard(4, 100);
	char src[AUTH_GUARD_SOURCE_MAX];

	(void)state;
	auth_guard_source("2001:db8:1:2:aaaa::1", src);
	assert_string_equal(src, "2001:db8:1:2::/64");
	auth_guard_source("::ffff:192.0.2.7", src);
	assert_string_equal(src, "192.0.2.7");
	auth_guard_source("192.0.2.7", src);
	assert_string_equal(src, "192.0.2.7");
	auth_guard_source("unix", src);
	assert_string_equal(src, "unix");
	/* Every address of a /64 counts against the same record. */
	auth_guard_failed(g, "2001:db8:1:2::1", "u");
	auth_guard_failed(g, "2001:db8:1:2:ffff::9", "u");
	assert_int_equal(next_delay(g, "2001:db8:1:2:1234::5"), 200);
	assert_int_equal(next_delay(g, "2001:db8:1:3::1"), 0);
	auth_guard_failed(g, "::ffff:192.0.2.7", "u");
	assert_int_equal(next_delay(g, "192.0.2.7"), 100);
	auth_guard_free(&g);
}

static void test_exempt(void **state)
{
	struct cidr *nets;
	struct str bad;
	int n = cidr_list_parse(str_c("10.0.0.0/8"), &nets, &bad);
	struct auth_guard_settings set = { .exempt = nets,
					   .n_exempt = (size_t)n };
	struct auth_guard *g;

	(void)state;
	assert_int_equal(n, 1);
	g = auth_guard_new(&set);
	free(nets);	/* the guard keeps its copy */
	for (int i = 0; i < 10; i++) {
		auth_guard_failed(g, "10.1.2.3", "u");
		auth_guard_failed(g, "192.0.2.1", "u");
	}
	assert_int_equal(next_delay(g, "10.1.2.3"), 0);
	assert_int_not_equal(next_delay(g, "192.0.2.1"), 0);
	auth_guard_free(&g);
}

static void test_decay(void **state)
{
	struct auth_guard *g = new_guard(4, 100);

	(void)state;
	auth_guard_failed(g, "192.0.2.1", "u");
	auth_guard_failed(g, "192.0.2.1", "u");
	fake_now += 59999;
	assert_int_equal(next_delay(g, "192.0.2.1"), 200);
	/* A failure restarts the quiet period and keeps doubling. */
	auth_guard_failed(g, "192.0.2.1", "u");
	fake_now += 59999;
	assert_int_equal(next_delay(g, "192.0.2.1"), 400);
	fake_now += 1;
	assert_int_equal(next_delay(g, "192.0.2.1"), 0);
	assert_int_equal(auth_guard_count(g, NULL), 0);
	/* The decayed user record does not take failures from a later run
	 * when it succeeds. */
	auth_guard_failed(g, "192.0.2.1", "other");
	auth_guard_succeeded(g, "192.0.2.1", "u");
	assert_int_equal(auth_guard_failures(g, "192.0.2.1"), 1);
	auth_guard_free(&g);
}

static void test_bounded(void **state)
{
	struct auth_guard *g = new_guard(4, 8);
	struct auth_guard_ticket t;
	char ip[32];
	size_t users;
	unsigned delay;

	(void)state;
	/* A source with a pending place survives eviction. */
	auth_guard_failed(g, "10.0.0.255", "u");
	assert_int_equal(auth_guard_ask(g, "10.0.0.255", &delay, &t),
			 AUTH_GUARD_WAIT);
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250);
		auth_guard_failed(g, ip, "u");
	}
	assert_true(auth_guard_count(g, &users) <= 9);
	assert_true(users <= 8);
	assert_int_equal(auth_guard_failures(g, "10.0.3.249"), 1);
	assert_int_equal(auth_guard_failures(g, "10.0.0.255"), 1);
	auth_guard_done(g, &t);
	auth_guard_free(&g);
}

/* Checks in flight: max_pending of one source at once before the first
 * failure is known, then BUSY; other sources and exempt ones are not
 * affected; end is idempotent. */
static void test_checks_in_flight(void **unused)
{
	struct auth_guard *g = new_guard(2, 0);
	struct auth_guard_ticket t[3] = { 0 }, other = { 0 }, probe;
	unsigned delay;

	(void)unused;
	auth_guard_check_begin(g, "10.0.0.1", &t[0]);
	assert_int_equal(auth_guard_ask(g, "10.0.0.1", &delay, &probe),
			 AUTH_GUARD_GO);
	auth_guard_check_begin(g, "10.0.0.1", &t[1]);
	assert_int_equal(auth_guard_ask(g, "10.0.0.1", &delay, &probe),
			 AUTH_GUARD_BUSY);
	assert_int_equal(delay, AUTH_GUARD_BUSY_RETRY_MS);
	assert_int_equal(auth_guard_ask(g, "10.0.0.2", &delay, &probe),
			 AUTH_GUARD_GO);
	auth_guard_check_begin(g, "10.0.0.2", &other);
	/* One fails: now the failure delay rules. */
	auth_guard_failed(g, "10.0.0.1", "u");
	auth_guard_check_end(g, &t[0]);
	auth_guard_check_end(g, &t[0]);
	assert_int_equal(auth_guard_ask(g, "10.0.0.1", &delay, &t[2]),
			 AUTH_GUARD_WAIT);
	assert_int_equal(delay, 100);
	auth_guard_done(g, &t[2]);
	auth_guard_check_end(g, &t[1]);
	auth_guard_check_end(g, &other);
	/* The records of sources without failures went with their checks. */
	assert_int_equal(auth_guard_count(g, NULL), 1);
	auth_guard_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_grows_and_caps),
		cmocka_unit_test(test_cap_is_bounded),
		cmocka_unit_test(test_success_forgets_only_that_user),
		cmocka_unit_test(test_pending_places),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_decay),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_checks_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
