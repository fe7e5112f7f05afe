/* Unit tests for delivery_quota.c: whether a message fits a user's quota
 * (full, SIZE= past it, no quota) and the filter that leaves full users out
 * of an alias expansion, keeping the others in order. */
#include "test_store_util.h"
#include "delivery/delivery.h"

struct fixture {
	struct tstore t;
	int64_t alice, bob, carol;
};

static void set_quota(struct fixture *f, int64_t user, uint64_t quota)
{
	struct store_req req = { .type = STORE_REQ_USER_SET_QUOTA };

	req.u.user_quota.user_id = user;
	req.u.user_quota.quota = quota;
	tstore_ok(&f->t, &req);
}

/* A message of exactly size bytes in user's INBOX. */
static void fill(struct fixture *f, int64_t user, size_t size)
{
	struct store_target target = { .user_id = user };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	char *data = xmalloc(size);

	memset(data, 'x', size);
	req.u.deliver.data = data;
	req.u.deliver.size = size;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	tstore_ok(&f->t, &req);
	free(data);
}

static void setup(struct fixture *f)
{
	static const char *const team[] = {
		"alice@example.com", "bob@example.com", "carol@example.com",
		"x@remote.net",
	};
	static const char *const pair[] = {
		"alice@example.com", "bob@example.com",
	};
	struct store_req req = { .type = STORE_REQ_ALIAS_ADD };

	tstore_init(&f->t, 0);
	tstore_domain(&f->t, "example.com");
	f->alice = tstore_user(&f->t, "alice@example.com");
	f->bob = tstore_user(&f->t, "bob@example.com");
	f->carol = tstore_user(&f->t, "carol@example.com");
	req.u.alias.address = "team@example.com";
	req.u.alias.targets = team;
	req.u.alias.n_targets = ARRAY_SIZE(team);
	tstore_ok(&f->t, &req);
	req.u.alias.address = "pair@example.com";
	req.u.alias.targets = pair;
	req.u.alias.n_targets = ARRAY_SIZE(pair);
	tstore_ok(&f->t, &req);
}

static int fits(struct fixture *f, int64_t user, uint64_t quota,
		uint64_t size, uint64_t *usage_r)
{
	const char *error = NULL;
	int ret = delivery_quota_fits(f->t.reader, user, quota, size, usage_r,
				      &error);

	if (ret < 0)
		fail_msg("delivery_quota_fits: %s", error);
	return ret;
}

static void test_fits(void **state)
{
	struct fixture f;
	uint64_t usage;

	(void)state;
	setup(&f);
	fill(&f, f.alice, 600);
	/* no quota: fits whatever the size, usage not read */
	assert_int_equal(fits(&f, f.alice, 0, 1ULL << 40, &usage), 1);
	assert_int_equal(usage, 0);
	/* below the quota: fits up to exactly the room left */
	assert_int_equal(fits(&f, f.alice, 1000, 0, &usage), 1);
	assert_int_equal(usage, 600);
	assert_int_equal(fits(&f, f.alice, 1000, 400, &usage), 1);
	assert_int_equal(fits(&f, f.alice, 1000, 401, &usage), 0);
	/* full (exactly at, or past the quota): nothing fits */
	assert_int_equal(fits(&f, f.alice, 600, 0, &usage), 0);
	assert_int_equal(fits(&f, f.alice, 500, 0, &usage), 0);
	tstore_deinit(&f.t);
}

static void test_filter_alias(void **state)
{
	struct delivery_resolution res;
	const char *error;
	struct fixture f;

	(void)state;
	setup(&f);
	set_quota(&f, f.bob, 1000);
	set_quota(&f, f.carol, 5000);
	fill(&f, f.bob, 1000);
	fill(&f, f.carol, 4000);

	/* without a size only bob (full) is left out; the others keep
	 * their order, bob is moved after them */
	delivery_resolve(f.t.reader, &f.t.arena, "team@example.com", &res);
	assert_int_equal(res.status, DELIVERY_MIXED);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 0, &error), 1);
	assert_int_equal(res.n_locals, 2);
	assert_int_equal(res.locals[0].user_id, f.alice);
	assert_int_equal(res.locals[1].user_id, f.carol);
	assert_int_equal(res.locals[2].user_id, f.bob);
	assert_string_equal(res.locals[2].address, "bob@example.com");
	assert_int_equal(res.status, DELIVERY_MIXED);

	/* a declared size past carol's room leaves her out too */
	delivery_resolve(f.t.reader, &f.t.arena, "team@example.com", &res);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 1500, &error), 2);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f.alice);
	assert_int_equal(res.n_remotes, 1);

	/* every local full, a remote left: the remote stays */
	set_quota(&f, f.alice, 1);
	fill(&f, f.alice, 10);
	delivery_resolve(f.t.reader, &f.t.arena, "team@example.com", &res);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 0, &error), 2);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f.carol);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 2000, &error), 1);
	assert_int_equal(res.n_locals, 0);
	assert_int_equal(res.status, DELIVERY_REMOTE);

	/* nothing left at all: the caller refuses the recipient */
	delivery_resolve(f.t.reader, &f.t.arena, "pair@example.com", &res);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 0, &error), 2);
	assert_int_equal(res.n_locals, 0);
	assert_int_equal(res.n_remotes, 0);

	/* a user without quota is never left out */
	set_quota(&f, f.bob, 0);
	delivery_resolve(f.t.reader, &f.t.arena, "bob@example.com", &res);
	assert_int_equal(res.locals[0].quota, 0);
	assert_int_equal(delivery_quota_filter(f.t.reader, &res, 1ULL << 40,
					       &error), 0);
	assert_int_equal(res.n_locals, 1);
	tstore_deinit(&f.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_filter_alias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
