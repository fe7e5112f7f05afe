/* Unit tests for store_msg_changed_since(): what an IMAP view reads to catch
 * up from its highest modseq: new messages, flag changes, and with
 * store_expunged_since() the expunges, in UID order. */
#include "test_store_util.h"

static const char msg_text[] =
	"From: Alice <alice@example.org>\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob.\r\n";

struct fixture {
	struct tstore t;
	int64_t user, inbox, archive;
};

static void deliver(struct fixture *f)
{
	struct store_target target = { .user_id = f->user };
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	tstore_ok(&f->t, &req);
}

static int64_t mailbox(struct fixture *f, const char *name,
		       uint64_t *modseq_r)
{
	struct store_mailbox mb;
	const char *error;

	assert_int_equal(store_mailbox_by_name(f->t.reader, &f->t.arena,
					       f->user, name, &mb, &error), 1);
	if (modseq_r != NULL)
		*modseq_r = mb.highestmodseq;
	return mb.id;
}

static void set_flags(struct fixture *f, uint32_t lo, uint32_t hi,
		      uint32_t flags, const char *keyword)
{
	struct store_uid_range range = { lo, hi };
	struct store_req req = { .type = STORE_REQ_SET_FLAGS };

	req.u.set_flags.mailbox_id = f->inbox;
	req.u.set_flags.uids = &range;
	req.u.set_flags.n_uids = 1;
	req.u.set_flags.op = STORE_FLAGS_ADD;
	req.u.set_flags.flags = flags;
	req.u.set_flags.keywords = keyword != NULL ? &keyword : NULL;
	req.u.set_flags.n_keywords = keyword != NULL ? 1 : 0;
	tstore_ok(&f->t, &req);
}

static void expunge(struct fixture *f, uint32_t uid)
{
	struct store_uid_range range = { uid, uid };
	struct store_req req = { .type = STORE_REQ_EXPUNGE };

	req.u.expunge.mailbox_id = f->inbox;
	req.u.expunge.uids = &range;
	req.u.expunge.n_uids = 1;
	tstore_ok(&f->t, &req);
}

static int changed(struct fixture *f, uint64_t since, struct store_msg **m_r)
{
	const char *error;
	int n = store_msg_changed_since(f->t.reader, &f->t.arena, f->inbox,
					since, m_r, &error);

	if (n < 0)
		fail_msg("store_msg_changed_since: %s", error);
	return n;
}

static void test_changed_since(void **state)
{
	struct fixture f;
	struct store_msg *m;
	uint32_t *uids;
	uint64_t base, after_flags, now;
	const char *error;
	int n;

	(void)state;
	tstore_init(&f.t, 0);
	tstore_domain(&f.t, "example.com");
	f.user = tstore_user(&f.t, "bob@example.com");
	f.inbox = mailbox(&f, "INBOX", NULL);
	for (int i = 0; i < 5; i++)
		deliver(&f);
	mailbox(&f, "INBOX", &base);

	/* Nothing changed since the highest modseq. */
	assert_int_equal(changed(&f, base, &m), 0);
	/* Everything is newer than modseq 0, in UID order. */
	assert_int_equal(changed(&f, 0, &m), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(m[i].uid, (uint32_t)i + 1);

	/* A flag change on 2 and 4 (keyword on 4), then a new message. */
	set_flags(&f, 2, 2, STORE_FLAG_SEEN, NULL);
	set_flags(&f, 4, 4, 0, "work");
	mailbox(&f, "INBOX", &after_flags);
	deliver(&f);
	n = changed(&f, base, &m);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].uid, 2);
	assert_int_equal(m[0].flags, STORE_FLAG_SEEN);
	assert_true(m[0].modseq > base);
	assert_int_equal(m[1].uid, 4);
	assert_string_equal(m[1].keywords, "work");
	assert_int_equal(m[2].uid, 6);
	assert_string_equal(m[2].keywords, "");
	/* From a later point only the newest shows. */
	n = changed(&f, after_flags, &m);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].uid, 6);

	/* An expunged message is not listed; store_expunged_since has it. */
	mailbox(&f, "INBOX", &base);
	expunge(&f, 2);
	assert_int_equal(changed(&f, base, &m), 0);
	assert_int_equal(store_expunged_since(f.t.reader, &f.t.arena, f.inbox,
					      base, &uids, &error), 1);
	assert_int_equal(uids[0], 2);
	mailbox(&f, "INBOX", &now);
	assert_true(now > base);
	assert_int_equal(changed(&f, now, &m), 0);

	/* Another mailbox's changes are not listed. */
	f.archive = mailbox(&f, "Archive", NULL);
	assert_true(f.archive != f.inbox);
	assert_int_equal(store_msg_changed_since(f.t.reader, &f.t.arena,
						 f.archive, 0, &m, &error), 0);
	tstore_deinit(&f.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changed_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
