/* Unit tests for storage quotas in the store: store_user_usage() sums the
 * message sizes of one user over every mailbox (copies count, expunged
 * messages do not, other users never), and STORE_REQ_USER_SET_QUOTA. */
#include "test_store_util.h"

static const char msg_a[] = "Subject: a\r\n\r\nshort\r\n";
static const char msg_b[] = "Subject: b\r\n\r\na somewhat longer body\r\n";

struct fixture {
	struct tstore t;
	int64_t bob, carol;
};

static void setup(struct fixture *f)
{
	tstore_init(&f->t, 0);
	tstore_domain(&f->t, "example.com");
	f->bob = tstore_user(&f->t, "bob@example.com");
	f->carol = tstore_user(&f->t, "carol@example.com");
}

static void deliver(struct fixture *f, int64_t user, int64_t mailbox_id,
		    const char *text)
{
	struct store_target target = { .user_id = user,
				       .mailbox_id = mailbox_id };
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = text;
	req.u.deliver.size = strlen(text);
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	tstore_ok(&f->t, &req);
}

static uint64_t usage(struct fixture *f, int64_t user)
{
	const char *error = NULL;
	uint64_t bytes = 12345;

	if (store_user_usage(f->t.reader, user, &bytes, &error) != 0)
		fail_msg("store_user_usage: %s", error);
	return bytes;
}

static uint64_t quota_of(struct fixture *f, const char *address)
{
	struct store_user user;
	const char *error;

	assert_int_equal(store_user_by_address(f->t.reader, &f->t.arena,
					       address, &user, &error), 1);
	return user.quota;
}

static struct store_result *set_quota(struct fixture *f, int64_t user,
				      uint64_t quota)
{
	struct store_req req = { .type = STORE_REQ_USER_SET_QUOTA };

	req.u.user_quota.user_id = user;
	req.u.user_quota.quota = quota;
	return tstore_do(&f->t, &req);
}

static void test_usage_sums_messages(void **state)
{
	struct fixture f;
	int64_t archive;
	struct store_mailbox mb;
	const char *error;

	(void)state;
	setup(&f);
	/* a new user, and one that does not exist, use nothing */
	assert_int_equal(usage(&f, f.bob), 0);
	assert_int_equal(usage(&f, 999), 0);

	deliver(&f, f.bob, 0, msg_a);
	assert_int_equal(usage(&f, f.bob), strlen(msg_a));
	deliver(&f, f.bob, 0, msg_b);
	assert_int_equal(store_mailbox_by_name(f.t.reader, &f.t.arena, f.bob,
					       "Archive", &mb, &error), 1);
	archive = mb.id;
	deliver(&f, f.bob, archive, msg_b);
	/* every mailbox counts, and the same text twice counts twice */
	assert_int_equal(usage(&f, f.bob),
			 strlen(msg_a) + 2 * strlen(msg_b));
	/* another user's mail is not bob's */
	deliver(&f, f.carol, 0, msg_a);
	assert_int_equal(usage(&f, f.carol), strlen(msg_a));
	assert_int_equal(usage(&f, f.bob),
			 strlen(msg_a) + 2 * strlen(msg_b));
	tstore_deinit(&f.t);
}

static void test_usage_after_expunge(void **state)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req req = { .type = STORE_REQ_EXPUNGE };
	struct fixture f;

	(void)state;
	setup(&f);
	deliver(&f, f.bob, 0, msg_a);
	deliver(&f, f.bob, 0, msg_b);
	assert_int_equal(usage(&f, f.bob), strlen(msg_a) + strlen(msg_b));
	req.u.expunge.mailbox_id = tstore_inbox(&f.t, f.bob);
	req.u.expunge.uids = &all;
	req.u.expunge.n_uids = 1;
	tstore_ok(&f.t, &req);
	assert_int_equal(usage(&f, f.bob), 0);
	tstore_deinit(&f.t);
}

static void test_set_quota(void **state)
{
	struct store_result *res;
	struct fixture f;

	(void)state;
	setup(&f);
	assert_int_equal(quota_of(&f, "bob@example.com"), 0);

	res = set_quota(&f, f.bob, 5ULL << 30);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_int_equal(quota_of(&f, "bob@example.com"), 5ULL << 30);
	/* only bob's changed */
	assert_int_equal(quota_of(&f, "carol@example.com"), 0);

	/* 0 removes it */
	res = set_quota(&f, f.bob, 0);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_int_equal(quota_of(&f, "bob@example.com"), 0);

	res = set_quota(&f, 999, 100);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such user"));
	store_result_free(&res);

	res = set_quota(&f, f.bob, UINT64_MAX);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_int_equal(quota_of(&f, "bob@example.com"), 0);

	/* the quota given at creation is kept too */
	{
		struct store_req req = { .type = STORE_REQ_USER_ADD };

		req.u.user_add.address = "dave@example.com";
		req.u.user_add.quota = 1000;
		tstore_ok(&f.t, &req);
	}
	assert_int_equal(quota_of(&f, "dave@example.com"), 1000);
	tstore_deinit(&f.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_sums_messages),
		cmocka_unit_test(test_usage_after_expunge),
		cmocka_unit_test(test_set_quota),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
