/* Unit tests for auth/auth_cache (fake clock) and auth/auth_worker: a
 * success is remembered for the TTL and only against the credentials it
 * was checked with (a new password hash, new SCRAM keys or a disabled
 * account miss at once), failures are never remembered, the size bound
 * evicts the entry unused longest, and the worker verifies off the
 * caller's thread and answers a cached password without a hash. */
#include "unit.h"

#include "auth/auth_cache.h"
#include "auth/auth_password.h"
#include "auth/auth_worker.h"
#include "base/task_queue.h"

#include <stdio.h>

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct auth_cache *new_cache(unsigned ttl_ms, size_t max)
{
	struct auth_cache *c = auth_cache_new(ttl_ms, max);

	fake_now = 1000;
	auth_cache_set_clock(c, fake_clock, NULL);
	return c;
}

static struct auth_credentials cred_of(const char *address, const char *hash)
{
	struct auth_credentials cred = {
		.address = (char *)address,
		.password_hash = (char *)hash,
		.scram_sha256 = (char *)"SCRAM-SHA-256$4096:c2FsdA==$a:b",
	};

	return cred;
}

static void test_hit_and_ttl(void **unused)
{
	struct auth_cache *c = new_cache(60000, 0);
	struct auth_credentials cred = cred_of("bob@x.org", "$y$hash1");

	(void)unused;
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	auth_cache_add(c, "bob@x.org", "pw", &cred);
	assert_true(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	/* Another password, another user name: misses. */
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw2", &cred));
	assert_false(auth_cache_lookup(c, "bob@x.org", "PW", &cred));
	assert_false(auth_cache_lookup(c, "alice@x.org", "pw", &cred));
	fake_now += 59999;
	assert_true(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	fake_now += 1;
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	/* The stale entry went. */
	assert_int_equal(auth_cache_count(c), 0);
	auth_cache_free(&c);
	assert_null(c);
}

static void test_credentials_change_invalidates(void **unused)
{
	struct auth_cache *c = new_cache(60000, 0);
	struct auth_credentials cred = cred_of("bob@x.org", "$y$hash1");
	struct auth_credentials changed = cred_of("bob@x.org", "$y$hash2");
	struct auth_credentials rescram = cred;
	struct auth_credentials disabled = cred;

	(void)unused;
	rescram.scram_sha256 = (char *)"SCRAM-SHA-256$4096:c2FsdA==$c:d";
	disabled.disabled = true;
	auth_cache_add(c, "bob@x.org", "pw", &cred);
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &disabled));
	/* A disabled account misses but does not drop the entry... */
	assert_true(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	/* ...a changed password does, for good. */
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &changed));
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	auth_cache_add(c, "bob@x.org", "pw", &cred);
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &rescram));
	/* Disabled accounts are never added. */
	auth_cache_add(c, "bob@x.org", "pw", &disabled);
	assert_int_equal(auth_cache_count(c), 0);
	auth_cache_free(&c);
}

static void test_bound_and_off(void **unused)
{
	struct auth_cache *c = new_cache(60000, 8);
	struct auth_credentials cred = cred_of("bob@x.org", "$y$hash1");
	char pw[32];

	(void)unused;
	for (int i = 0; i < 100; i++) {
		snprintf(pw, sizeof(pw), "pw%d", i);
		auth_cache_add(c, "bob@x.org", pw, &cred);
		if (i == 0)
			continue;
		/* pw0 stays in use: the others go first. */
		assert_true(auth_cache_lookup(c, "bob@x.org", "pw0", &cred));
	}
	assert_int_equal(auth_cache_count(c), 8);
	assert_true(auth_cache_lookup(c, "bob@x.org", "pw99", &cred));
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw50", &cred));
	auth_cache_clear(c);
	assert_int_equal(auth_cache_count(c), 0);
	auth_cache_free(&c);

	c = new_cache(0, 0);	/* ttl 0: off */
	auth_cache_add(c, "bob@x.org", "pw", &cred);
	assert_false(auth_cache_lookup(c, "bob@x.org", "pw", &cred));
	auth_cache_free(&c);
}

/* ---- the worker ---- */

/* A check and its completion counter: done gets the check, the first
 * member. */
struct counted_check {
	struct auth_check check;
	int done;
};

static void check_done(void *arg)
{
	((struct counted_check *)arg)->done++;
}

static int run_check(struct auth_worker *w, struct task_queue *q,
		     const char *hash, bool disabled, int found,
		     const char *password, bool *cached_r)
{
	struct counted_check cc = { 0 };
	int result;

	cc.check.user = xstrdup("bob@x.org");
	cc.check.password = xstrdup(password);
	cc.check.found = found;
	if (found > 0) {
		cc.check.cred.address = xstrdup("bob@x.org");
		cc.check.cred.password_hash = xstrdup(hash);
		cc.check.cred.disabled = disabled;
	}
	auth_check_submit(w, &cc.check, q, check_done);
	/* Never before submit returns. */
	assert_int_equal(cc.done, 0);
	while (cc.done == 0)
		(void)task_queue_run(q);
	result = cc.check.result;
	*cached_r = cc.check.cached;
	if (result == 1)
		assert_string_equal(cc.check.address, "bob@x.org");
	else
		assert_null(cc.check.address);
	auth_check_clear(&cc.check);
	return result;
}

static void test_worker(void **unused)
{
	struct auth_worker_settings set = { .threads = 2, .cache_ttl_ms = 60000 };
	struct auth_worker *w = auth_worker_new(&set);
	struct task_queue *q = task_queue_new();
	char *hash = auth_password_hash("right pw");
	char *hash2 = auth_password_hash("new pw");
	bool cached;

	(void)unused;
	assert_int_equal(auth_worker_threads(w), 2);
	assert_int_equal(run_check(w, q, hash, false, 1, "wrong", &cached), 0);
	assert_false(cached);
	assert_int_equal(auth_cache_count(auth_worker_cache(w)), 0);
	assert_int_equal(run_check(w, q, hash, false, 1, "right pw", &cached), 1);
	assert_false(cached);
	assert_int_equal(run_check(w, q, hash, false, 1, "right pw", &cached), 1);
	assert_true(cached);
	/* The password changed: the old one fails at once. */
	assert_int_equal(run_check(w, q, hash2, false, 1, "right pw", &cached), 0);
	assert_false(cached);
	assert_int_equal(run_check(w, q, hash2, false, 1, "new pw", &cached), 1);
	/* Disabled, unknown, lookup failure. */
	assert_int_equal(run_check(w, q, hash2, true, 1, "new pw", &cached), 0);
	assert_int_equal(run_check(w, q, NULL, false, 0, "new pw", &cached), 0);
	assert_int_equal(run_check(w, q, NULL, false, -1, "new pw", &cached), -1);
	/* After a drain checks still complete (on the caller). */
	auth_worker_drain(w);
	assert_int_equal(run_check(w, q, hash, false, 1, "wrong", &cached), 0);
	free(hash);
	free(hash2);
	auth_worker_free(&w);
	assert_null(w);
	task_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_ttl),
		cmocka_unit_test(test_credentials_change_invalidates),
		cmocka_unit_test(test_bound_and_off),
		cmocka_unit_test(test_worker),
	};

	auth_password_set_cost(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
