/* Unit tests for store/: migrations, every request type, readers,
 * single-instance blobs, UIDs and modseqs, aliases and sub-addressing. */
#include "test_store_util.h"
#include "queue/queue_store.h"

#include <time.h>

static const char msg_text[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.com\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob.\r\n";

static struct store_result *deliver(struct tstore *t,
				    const struct store_target *targets,
				    size_t n, uint32_t flags)
{
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.meta.envelope = "(\"env\")";
	req.u.deliver.meta.bodystructure = "(\"text\" \"plain\")";
	req.u.deliver.meta.body = "(\"text\" \"plain\" body)";
	req.u.deliver.meta.parts = "\x01\x02\x00\x03";
	req.u.deliver.meta.parts_size = 4;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.flags = flags;
	req.u.deliver.targets = targets;
	req.u.deliver.n_targets = n;
	return tstore_do(t, &req);
}

static uint32_t deliver_one(struct tstore *t, int64_t user_id, uint32_t flags)
{
	struct store_target target = { .user_id = user_id };
	struct store_result *res = deliver(t, &target, 1, flags);
	uint32_t uid;

	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 1);
	uid = res->assigned[0].uid;
	store_result_free(&res);
	return uid;
}

static void test_migrate_and_reopen(void **state)
{
	struct tstore t;
	const char *error;
	int version;

	(void)state;
	tstore_init(&t, 0);
	/* every migration ran (2 is the search index) */
	version = store_schema_version(t.store);
	assert_true(version >= 2);
	tstore_domain(&t, "example.com");
	tstore_close(&t);

	/* Opening again migrates nothing and keeps the data. */
	tstore_open_at(&t, 0);
	assert_int_equal(store_schema_version(t.store), version);
	assert_int_equal(store_domain_exists(t.reader, "EXAMPLE.com", &error), 1);
	assert_int_equal(store_domain_exists(t.reader, "example.net", &error), 0);
	tstore_deinit(&t);
}

static void test_unknown_driver(void **state)
{
	struct store_settings set = { .driver = "nosuch", .path = "/tmp/x" };
	char *error = NULL;

	(void)state;
	assert_null(store_open(&set, &error));
	assert_non_null(strstr(error, "nosuch"));
	free(error);
}

static void test_domains_and_users(void **state)
{
	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };
	struct store_result *res;
	struct store_mailbox *boxes;
	struct store_user user, *users;
	const char **domains;
	const char *error;
	struct tstore t;
	int64_t uid;
	int n;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	tstore_domain(&t, "example.org");
	req.u.domain.name = "Example.COM";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "already exists"));
	store_result_free(&res);
	n = store_domain_list(t.reader, &t.arena, &domains, &error);
	assert_int_equal(n, 2);
	assert_string_equal(domains[0], "example.com");
	assert_string_equal(domains[1], "example.org");

	/* A user needs a known domain. */
	req = (struct store_req){ .type = STORE_REQ_USER_ADD };
	req.u.user_add.address = "eve@nowhere.test";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "unknown domain"));
	store_result_free(&res);

	uid = tstore_user(&t, "bob@example.com");
	assert_true(uid > 0);
	assert_int_equal(store_user_by_address(t.reader, &t.arena,
					       "Bob@Example.com", &user, &error), 1);
	assert_int_equal(user.id, uid);
	assert_string_equal(user.address, "bob@example.com");
	assert_string_equal(user.password_hash, "$y$hash");
	assert_string_equal(user.scram_sha256, "");
	assert_false(user.disabled);
	res = tstore_do(&t, &req);	/* eve still has no domain */
	store_result_free(&res);
	req.u.user_add.address = "BOB@example.com";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "already exists"));
	store_result_free(&res);

	/* The default mailboxes, subscribed, with their special-use. */
	n = store_mailbox_list(t.reader, &t.arena, uid, &boxes, &error);
	assert_int_equal(n, 6);
	for (int i = 0; i < n; i++) {
		assert_true(boxes[i].subscribed);
		assert_int_equal(boxes[i].uidnext, 1);
		assert_int_equal(boxes[i].messages, 0);
		if (strcmp(boxes[i].name, "INBOX") == 0)
			assert_string_equal(boxes[i].special_use, "");
		else if (strcmp(boxes[i].name, "Sent") == 0)
			assert_string_equal(boxes[i].special_use, "\\Sent");
		else if (strcmp(boxes[i].name, "Junk") == 0)
			assert_string_equal(boxes[i].special_use, "\\Junk");
		for (int j = 0; j < i; j++)
			assert_int_not_equal(boxes[i].uidvalidity,
					     boxes[j].uidvalidity);
	}

	req = (struct store_req){ .type = STORE_REQ_USER_SET_PASSWORD };
	req.u.user_password.user_id = uid;
	req.u.user_password.password_hash = "$y$new";
	req.u.user_password.scram_sha256 = "SCRAM";
	tstore_ok(&t, &req);
	assert_int_equal(store_user_by_address(t.reader, &t.arena,
					       "bob@example.com", &user, &error), 1);
	assert_string_equal(user.password_hash, "$y$new");
	assert_string_equal(user.scram_sha256, "SCRAM");
	req.u.user_password.user_id = uid + 1000;
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);

	tstore_user(&t, "alice@example.com");
	n = store_user_list(t.reader, &t.arena, &users, &error);
	assert_int_equal(n, 2);
	assert_string_equal(users[0].address, "alice@example.com");
	assert_string_equal(users[1].address, "bob@example.com");

	/* A domain with users stays. */
	req = (struct store_req){ .type = STORE_REQ_DOMAIN_DEL };
	req.u.domain.name = "example.com";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "users"));
	store_result_free(&res);

	deliver_one(&t, uid, 0);
	req = (struct store_req){ .type = STORE_REQ_USER_DEL };
	req.u.user_del.user_id = uid;
	tstore_ok(&t, &req);
	assert_int_equal(store_user_by_address(t.reader, &t.arena,
					       "bob@example.com", &user, &error), 0);
	assert_int_equal(store_mailbox_list(t.reader, &t.arena, uid, &boxes,
					    &error), 0);
	assert_int_equal(store_blob_count(t.reader, &error), 0);
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such user"));
	store_result_free(&res);

	req = (struct store_req){ .type = STORE_REQ_DOMAIN_DEL };
	req.u.domain.name = "example.org";
	tstore_ok(&t, &req);
	assert_int_equal(store_domain_exists(t.reader, "example.org", &error), 0);
	tstore_deinit(&t);
}

static void test_aliases(void **state)
{
	static const char *const sales[] = { "alice@example.com", "bob@example.com" };
	static const char *const catchall[] = { "postmaster@example.com" };
	struct store_req req = { .type = STORE_REQ_ALIAS_ADD };
	const char **targets, **addrs;
	struct store_result *res;
	const char *error;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	req.u.alias.address = "sales@example.com";
	req.u.alias.targets = sales;
	req.u.alias.n_targets = 2;
	tstore_ok(&t, &req);
	req.u.alias.address = "@example.com";
	req.u.alias.targets = catchall;
	req.u.alias.n_targets = 1;
	tstore_ok(&t, &req);

	assert_int_equal(store_alias_lookup(t.reader, &t.arena,
					    "Sales@example.com", &targets,
					    &error), 2);
	assert_string_equal(targets[0], "alice@example.com");
	assert_string_equal(targets[1], "bob@example.com");
	assert_int_equal(store_alias_lookup(t.reader, &t.arena,
					    "anyone@example.com", &targets,
					    &error), 1);
	assert_string_equal(targets[0], "postmaster@example.com");
	assert_int_equal(store_alias_lookup(t.reader, &t.arena,
					    "anyone@example.org", &targets,
					    &error), 0);
	assert_int_equal(store_alias_list(t.reader, &t.arena, &addrs, &targets,
					  &error), 3);
	assert_string_equal(addrs[0], "@example.com");
	assert_string_equal(addrs[1], "sales@example.com");

	/* Remove one target, then the rest. */
	req = (struct store_req){ .type = STORE_REQ_ALIAS_DEL };
	req.u.alias.address = "sales@example.com";
	req.u.alias.targets = sales;
	req.u.alias.n_targets = 1;
	tstore_ok(&t, &req);
	assert_int_equal(store_alias_lookup(t.reader, &t.arena,
					    "sales@example.com", &targets,
					    &error), 1);
	assert_string_equal(targets[0], "bob@example.com");
	req.u.alias.n_targets = 0;
	tstore_ok(&t, &req);
	/* now the catch-all answers for sales@ too */
	assert_int_equal(store_alias_lookup(t.reader, &t.arena,
					    "sales@example.com", &targets,
					    &error), 1);
	assert_string_equal(targets[0], "postmaster@example.com");
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such alias"));
	store_result_free(&res);
	tstore_deinit(&t);
}

static void test_resolve_subaddress(void **state)
{
	struct store_user user;
	const char *error, *tag;
	struct tstore t;
	int64_t bob;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	tstore_user(&t, "a+b@example.com");

	assert_int_equal(store_user_resolve(t.reader, &t.arena,
					    "BOB@example.com", &user, &tag,
					    &error), 1);
	assert_int_equal(user.id, bob);
	assert_null(tag);
	assert_int_equal(store_user_resolve(t.reader, &t.arena,
					    "bob+lists@example.com", &user,
					    &tag, &error), 1);
	assert_int_equal(user.id, bob);
	assert_string_equal(tag, "lists");
	/* An exact address with a '+' wins over sub-addressing. */
	assert_int_equal(store_user_resolve(t.reader, &t.arena,
					    "a+b@example.com", &user, &tag,
					    &error), 1);
	assert_string_equal(user.address, "a+b@example.com");
	assert_null(tag);
	assert_int_equal(store_user_resolve(t.reader, &t.arena,
					    "carol+x@example.com", &user, &tag,
					    &error), 0);
	assert_int_equal(store_user_resolve(t.reader, &t.arena,
					    "+x@example.com", &user, &tag,
					    &error), 0);
	tstore_deinit(&t);
}

static void test_deliver_uids_and_modseq(void **state)
{
	struct store_msg_meta meta, *metas;
	struct store_mailbox mb;
	struct store_msg *msgs;
	uint32_t *uids;
	struct store_result *res;
	struct store_target bad = { .mailbox_id = 999999 };
	const char *error, *data;
	size_t size;
	struct tstore t;
	int64_t bob, inbox;
	uint64_t last_modseq = 0;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, bob);
	for (uint32_t i = 1; i <= 3; i++) {
		struct store_target target = { .user_id = bob };

		res = deliver(&t, &target, 1, i == 2 ? STORE_FLAG_SEEN : 0);
		assert_int_equal(res->status, 0);
		assert_int_equal(res->assigned[0].uid, i);
		assert_int_equal(res->assigned[0].mailbox_id, inbox);
		assert_true(res->assigned[0].modseq > last_modseq);
		last_modseq = res->assigned[0].modseq;
		store_result_free(&res);
	}
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob, "inbox",
					       &mb, &error), 1);
	assert_int_equal(mb.id, inbox);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.unseen, 2);
	assert_int_equal(mb.highestmodseq, last_modseq);
	/* STATUS RECENT counts the messages above a UID. */
	{
		uint32_t count = 99;

		assert_int_equal(store_msg_count_above(t.reader, inbox, 0,
						       &count, &error), 0);
		assert_int_equal(count, 3);
		assert_int_equal(store_msg_count_above(t.reader, inbox, 2,
						       &count, &error), 0);
		assert_int_equal(count, 1);
		assert_int_equal(store_msg_count_above(t.reader, inbox, 3,
						       &count, &error), 0);
		assert_int_equal(count, 0);
	}

	assert_int_equal(store_msg_list(t.reader, &t.arena, inbox, &msgs,
					&error), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(msgs[i].uid, (uint32_t)i + 1);
		assert_int_equal(msgs[i].size, sizeof(msg_text) - 1);
		assert_int_equal(msgs[i].internal_date, 1700000000);
	}
	assert_int_equal(msgs[1].flags, STORE_FLAG_SEEN);
	assert_true(msgs[0].modseq < msgs[2].modseq);

	assert_int_equal(store_blob_get(t.reader, &t.arena, msgs[0].blob_id,
					&data, &size, &error), 1);
	assert_int_equal(size, sizeof(msg_text) - 1);
	assert_memory_equal(data, msg_text, size);
	assert_int_equal(store_msg_meta(t.reader, &t.arena, inbox, 2, &meta,
					&error), 1);
	assert_string_equal(meta.envelope, "(\"env\")");
	assert_string_equal(meta.bodystructure, "(\"text\" \"plain\")");
	assert_int_equal(meta.parts_size, 4);
	assert_memory_equal(meta.parts, "\x01\x02\x00\x03", 4);
	assert_int_equal(store_msg_meta(t.reader, &t.arena, inbox, 9, &meta,
					&error), 0);

	/* The same metadata in runs: bounded by the range and by max, in
	 * UID order, inside one reader snapshot. */
	assert_int_equal(store_reader_begin(t.reader, &error), 0);
	assert_int_equal(store_msg_meta_range(t.reader, &t.arena, inbox, 2, 9,
					      10, &uids, &metas, &error), 2);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 3);
	assert_string_equal(metas[0].envelope, "(\"env\")");
	assert_int_equal(metas[1].parts_size, 4);
	assert_memory_equal(metas[1].parts, "\x01\x02\x00\x03", 4);
	assert_int_equal(store_msg_meta_range(t.reader, &t.arena, inbox, 1, 3,
					      1, &uids, &metas, &error), 1);
	assert_int_equal(uids[0], 1);
	assert_int_equal(store_msg_meta_range(t.reader, &t.arena, inbox, 4, 9,
					      10, &uids, &metas, &error), 0);
	store_reader_end(t.reader);

	/* A bad target fails the whole delivery and leaves no blob. */
	res = deliver(&t, &bad, 1, 0);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such mailbox"));
	store_result_free(&res);
	assert_int_equal(store_blob_count(t.reader, &error), 3);
	tstore_deinit(&t);
}

/* A junk delivery goes to the \Junk mailbox whatever its name, else to
 * one named Junk, else to a Junk created with \Junk in the same write;
 * a plain one still goes to the INBOX. */
static void test_deliver_junk(void **state)
{
	struct store_req req;
	struct store_mailbox mb;
	struct store_result *res;
	struct store_target targets[2];
	const char *error;
	struct tstore t;
	int64_t bob, carol, junk, spam;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	carol = tstore_user(&t, "carol@example.com");
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob, "Junk",
					       &mb, &error), 1);
	assert_string_equal(mb.special_use, "\\Junk");
	junk = mb.id;
	targets[0] = (struct store_target){ .user_id = bob, .junk = true };
	targets[1] = (struct store_target){ .user_id = carol, .junk = true };
	res = deliver(&t, targets, 2, 0);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->assigned[0].mailbox_id, junk);
	assert_int_equal(res->assigned[0].uid, 1);
	assert_int_not_equal(res->assigned[1].mailbox_id, tstore_inbox(&t, carol));
	store_result_free(&res);
	assert_int_equal(deliver_one(&t, bob, 0), 1);	/* INBOX's first */

	/* renamed, it keeps its special-use and the spam */
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_RENAME };
	req.u.mailbox_rename.mailbox_id = junk;
	req.u.mailbox_rename.new_name = "Spam";
	tstore_ok(&t, &req);
	/* a plain "Junk" beside it does not win over the \Junk one */
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_CREATE };
	req.u.mailbox_create.user_id = bob;
	req.u.mailbox_create.name = "Junk";
	spam = tstore_ok(&t, &req);
	res = deliver(&t, targets, 1, 0);
	assert_int_equal(res->assigned[0].mailbox_id, junk);
	assert_int_equal(res->assigned[0].uid, 2);
	store_result_free(&res);
	/* without a \Junk mailbox the one named Junk takes it */
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_DELETE };
	req.u.mailbox_delete.mailbox_id = junk;
	tstore_ok(&t, &req);
	res = deliver(&t, targets, 1, 0);
	assert_int_equal(res->assigned[0].mailbox_id, spam);
	store_result_free(&res);
	/* and without either one is made, subscribed, with \Junk */
	req.u.mailbox_delete.mailbox_id = spam;
	tstore_ok(&t, &req);
	res = deliver(&t, targets, 1, 0);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->assigned[0].uid, 1);
	store_result_free(&res);
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob, "Junk",
					       &mb, &error), 1);
	assert_string_equal(mb.special_use, "\\Junk");
	assert_true(mb.subscribed);
	assert_int_equal(mb.messages, 1);
	tstore_deinit(&t);
}

/* MULTIAPPEND: chained deliveries get consecutive UIDs, reported in chain
 * order; when one fails, none of them is stored. */
static void test_deliver_chain_all_or_none(void **state)
{
	struct store_req reqs[3];
	struct store_target good, bad = { .mailbox_id = 999999 };
	struct store_msg *msgs;
	struct store_result *res;
	const char *error;
	struct tstore t;
	int64_t bob, inbox;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, bob);
	good = (struct store_target){ .user_id = bob, .mailbox_id = inbox };
	for (int i = 0; i < 3; i++) {
		reqs[i] = (struct store_req){ .type = STORE_REQ_DELIVER };
		reqs[i].u.deliver.data = msg_text;
		reqs[i].u.deliver.size = sizeof(msg_text) - 1;
		reqs[i].u.deliver.targets = &good;
		reqs[i].u.deliver.n_targets = 1;
		reqs[i].u.deliver.flags = i == 1 ? STORE_FLAG_SEEN : 0;
		reqs[i].u.deliver.next = i < 2 ? &reqs[i + 1] : NULL;
	}
	res = tstore_do(&t, &reqs[0]);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(res->assigned[i].uid, i + 1);
		assert_int_equal(res->assigned[i].mailbox_id, inbox);
	}
	store_result_free(&res);

	/* The last of three fails: the first two do not stay either. */
	reqs[2].u.deliver.targets = &bad;
	res = tstore_do(&t, &reqs[0]);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such mailbox"));
	store_result_free(&res);
	assert_int_equal(store_msg_list(t.reader, &t.arena, inbox, &msgs,
					&error), 3);
	assert_int_equal(store_blob_count(t.reader, &error), 3);

	/* The UIDs the failed chain took are not reused or skipped oddly:
	 * the next delivery gets the next UID after the committed ones. */
	assert_int_equal(deliver_one(&t, bob, 0), 4);
	tstore_deinit(&t);
}

static struct store_result *expunge(struct tstore *t, int64_t mailbox_id,
				    uint32_t lo, uint32_t hi)
{
	struct store_uid_range range = { lo, hi };
	struct store_req req = { .type = STORE_REQ_EXPUNGE };

	req.u.expunge.mailbox_id = mailbox_id;
	req.u.expunge.uids = &range;
	req.u.expunge.n_uids = 1;
	return tstore_do(t, &req);
}

static void test_single_instance_blob(void **state)
{
	struct store_target targets[3] = { { 0 } };
	struct store_result *res;
	struct store_mailbox mb;
	const char *error, *data;
	uint32_t *uids;
	size_t size;
	int64_t inbox[3], blob;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	targets[0].user_id = tstore_user(&t, "a@example.com");
	targets[1].user_id = tstore_user(&t, "b@example.com");
	targets[2].user_id = tstore_user(&t, "c@example.com");
	for (int i = 0; i < 3; i++) {
		inbox[i] = tstore_inbox(&t, targets[i].user_id);
		targets[i].mailbox_id = 0;
	}
	res = deliver(&t, targets, 3, 0);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 3);
	blob = res->id;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(res->assigned[i].mailbox_id, inbox[i]);
		assert_int_equal(res->assigned[i].uid, 1);
	}
	store_result_free(&res);
	assert_int_equal(store_blob_count(t.reader, &error), 1);

	for (int i = 0; i < 2; i++) {
		res = expunge(&t, inbox[i], 1, UINT32_MAX);
		assert_int_equal(res->status, 0);
		assert_int_equal(res->n_uids, 1);
		assert_int_equal(res->uids[0], 1);
		store_result_free(&res);
		assert_int_equal(store_blob_count(t.reader, &error), 1);
	}
	assert_int_equal(store_blob_get(t.reader, &t.arena, blob, &data, &size,
					&error), 1);
	assert_memory_equal(data, msg_text, size);

	res = expunge(&t, inbox[2], 1, 1);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_int_equal(store_blob_count(t.reader, &error), 0);
	assert_int_equal(store_blob_get(t.reader, &t.arena, blob, &data, &size,
					&error), 0);

	/* The expunge is recorded for QRESYNC and the counters follow. */
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, inbox[2], &mb,
					     &error), 1);
	assert_int_equal(mb.messages, 0);
	assert_int_equal(mb.unseen, 0);
	assert_int_equal(mb.uidnext, 2);
	assert_int_equal(store_expunged_since(t.reader, &t.arena, inbox[2], 1,
					      &uids, &error), 1);
	assert_int_equal(uids[0], 1);
	assert_int_equal(store_expunged_since(t.reader, &t.arena, inbox[2],
					      mb.highestmodseq, &uids, &error), 0);
	/* Expunging nothing succeeds and changes nothing. */
	res = expunge(&t, inbox[2], 1, 10);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_uids, 0);
	store_result_free(&res);
	tstore_deinit(&t);
}

static struct store_result *set_flags(struct tstore *t, int64_t mailbox_id,
				      enum store_flags_op op, uint32_t flags,
				      const char *const *kw, size_t n_kw,
				      uint64_t unchangedsince)
{
	struct store_uid_range range = { 1, UINT32_MAX };
	struct store_req req = { .type = STORE_REQ_SET_FLAGS };

	req.u.set_flags.mailbox_id = mailbox_id;
	req.u.set_flags.uids = &range;
	req.u.set_flags.n_uids = 1;
	req.u.set_flags.op = op;
	req.u.set_flags.flags = flags;
	req.u.set_flags.keywords = kw;
	req.u.set_flags.n_keywords = n_kw;
	req.u.set_flags.unchangedsince = unchangedsince;
	return tstore_do(t, &req);
}

static void test_flags(void **state)
{
	static const char *const kw1[] = { "$Junk", "work" };
	static const char *const kw2[] = { "WORK" };
	struct store_uid_range one = { 2, 2 };
	struct store_req req = { .type = STORE_REQ_SET_FLAGS };
	struct store_result *res;
	struct store_mailbox mb;
	struct store_msg *msgs;
	const char *error;
	struct tstore t;
	int64_t bob, inbox;
	uint64_t modseq;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, bob);
	deliver_one(&t, bob, 0);
	deliver_one(&t, bob, 0);

	res = set_flags(&t, inbox, STORE_FLAGS_ADD,
			STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, kw1, 2, 0);
	assert_int_equal(res->status, 0);
	modseq = res->modseq;
	store_result_free(&res);
	assert_int_equal(store_msg_list(t.reader, &t.arena, inbox, &msgs,
					&error), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(msgs[i].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		assert_string_equal(msgs[i].keywords, "$Junk work");
		assert_int_equal(msgs[i].modseq, modseq);
	}
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, inbox, &mb,
					     &error), 1);
	assert_int_equal(mb.unseen, 0);
	assert_int_equal(mb.highestmodseq, modseq);

	/* Adding what is there changes nothing, not even the modseq. */
	res = set_flags(&t, inbox, STORE_FLAGS_ADD, STORE_FLAG_SEEN, kw2, 1, 0);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->modseq, 0);
	store_result_free(&res);

	/* Keywords compare case-insensitively. */
	res = set_flags(&t, inbox, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, kw2, 1, 0);
	assert_int_equal(res->status, 0);
	assert_true(res->modseq > modseq);
	modseq = res->modseq;
	store_result_free(&res);
	assert_int_equal(store_msg_list(t.reader, &t.arena, inbox, &msgs,
					&error), 2);
	assert_int_equal(msgs[0].flags, STORE_FLAG_FLAGGED);
	assert_string_equal(msgs[0].keywords, "$Junk");
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, inbox, &mb,
					     &error), 1);
	assert_int_equal(mb.unseen, 2);

	/* UNCHANGEDSINCE: message 2 moves on, then a STORE conditional on
	 * the old modseq skips it and reports it. */
	req.u.set_flags.mailbox_id = inbox;
	req.u.set_flags.uids = &one;
	req.u.set_flags.n_uids = 1;
	req.u.set_flags.op = STORE_FLAGS_ADD;
	req.u.set_flags.flags = STORE_FLAG_ANSWERED;
	tstore_ok(&t, &req);
	res = set_flags(&t, inbox, STORE_FLAGS_REPLACE, STORE_FLAG_DELETED,
			NULL, 0, modseq);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_uids, 1);
	assert_int_equal(res->uids[0], 2);
	store_result_free(&res);
	assert_int_equal(store_msg_list(t.reader, &t.arena, inbox, &msgs,
					&error), 2);
	assert_int_equal(msgs[0].flags, STORE_FLAG_DELETED);
	assert_string_equal(msgs[0].keywords, "");
	assert_int_equal(msgs[1].flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED);

	req.u.set_flags.mailbox_id = 424242;
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	tstore_deinit(&t);
}

/* Whether name is among the user's subscriptions. */
static bool subscribed(struct tstore *t, int64_t user_id, const char *name)
{
	const char **names, *error = NULL;
	int n = store_subscriptions(t->reader, &t->arena, user_id, &names,
				    &error);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static void test_mailboxes(void **state)
{
	struct store_req req = { .type = STORE_REQ_MAILBOX_CREATE };
	struct store_result *res;
	struct store_mailbox mb;
	const char *error;
	struct tstore t;
	int64_t bob, work, inbox;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	bob = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, bob);
	req.u.mailbox_create.user_id = bob;
	req.u.mailbox_create.name = "Work";
	work = tstore_ok(&t, &req);
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "exists"));
	store_result_free(&res);
	req.u.mailbox_create.name = "inbox";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);

	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob, "Work",
					       &mb, &error), 1);
	assert_int_equal(mb.id, work);
	assert_false(mb.subscribed);
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob, "work",
					       &mb, &error), 0);

	req = (struct store_req){ .type = STORE_REQ_MAILBOX_RENAME };
	req.u.mailbox_rename.mailbox_id = work;
	req.u.mailbox_rename.new_name = "Sent";
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	req.u.mailbox_rename.new_name = "Projects";
	tstore_ok(&t, &req);
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, bob,
					       "Projects", &mb, &error), 1);
	assert_int_equal(mb.id, work);

	req = (struct store_req){ .type = STORE_REQ_MAILBOX_SUBSCRIBE };
	req.u.mailbox_subscribe.mailbox_id = work;
	req.u.mailbox_subscribe.subscribed = true;
	tstore_ok(&t, &req);
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, work, &mb,
					     &error), 1);
	assert_true(mb.subscribed);
	assert_int_equal(mb.recent_uid, 0);

	/* \Recent's mark only rises, and is no change of the mailbox. */
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_RECENT };
	req.u.mailbox_recent.mailbox_id = work;
	req.u.mailbox_recent.uid = 5;
	tstore_ok(&t, &req);
	req.u.mailbox_recent.uid = 3;
	tstore_ok(&t, &req);
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, work, &mb,
					     &error), 1);
	assert_int_equal(mb.recent_uid, 5);
	assert_true(mb.highestmodseq <= 1);
	req.u.mailbox_recent.mailbox_id = work + 1000;	/* gone: fine */
	tstore_ok(&t, &req);

	req = (struct store_req){ .type = STORE_REQ_MAILBOX_DELETE };
	req.u.mailbox_delete.mailbox_id = inbox;
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	req.u.mailbox_delete.mailbox_id = work;
	tstore_ok(&t, &req);
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, work, &mb,
					     &error), 0);
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such mailbox"));
	store_result_free(&res);

	/* The subscription outlives its mailbox (RFC 3501 6.3.6) until
	 * it is taken out by name; a new mailbox of that name is
	 * subscribed again. */
	assert_true(subscribed(&t, bob, "Projects"));
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_CREATE };
	req.u.mailbox_create.user_id = bob;
	req.u.mailbox_create.name = "Projects";
	work = tstore_ok(&t, &req);
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, work, &mb,
					     &error), 1);
	assert_true(mb.subscribed);
	/* a rename takes the subscription along */
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_RENAME };
	req.u.mailbox_rename.mailbox_id = work;
	req.u.mailbox_rename.new_name = "Later";
	tstore_ok(&t, &req);
	assert_false(subscribed(&t, bob, "Projects"));
	assert_true(subscribed(&t, bob, "Later"));
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_DELETE };
	req.u.mailbox_delete.mailbox_id = work;
	tstore_ok(&t, &req);
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_SUBSCRIBE };
	req.u.mailbox_subscribe.user_id = bob;
	req.u.mailbox_subscribe.name = "Later";
	req.u.mailbox_subscribe.subscribed = false;
	tstore_ok(&t, &req);
	assert_false(subscribed(&t, bob, "Later"));
	req.u.mailbox_subscribe.mailbox_id = work;	/* gone */
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	tstore_deinit(&t);
}

static void test_queue(void **state)
{
	static const struct queue_rcpt rcpts[] = {
		{ .address = "carol@remote.test",
		  .orcpt = "rfc822;carol@remote.test", .notify = "SUCCESS,FAILURE" },
		{ .address = "dave@remote.test" },
	};
	const struct queue_new out = {
		.sender = "alice@example.com", .envid = "ENV1", .ret = "HDRS",
		.rcpts = rcpts, .n_rcpts = 2,
	};
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct queue_req qreq;
	struct queue_entry q, *list;
	struct store_target target = { 0 };
	struct store_result *res;
	const char *error;
	struct tstore t;
	int64_t qid;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	target.user_id = tstore_user(&t, "bob@example.com");
	target.mailbox_id = 0;
	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	queue_store_attach(&req, &out);
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, 0);
	assert_true(res->queue_id > 0);
	qid = res->queue_id;
	store_result_free(&res);
	assert_int_equal(store_blob_count(t.reader, &error), 1);

	assert_int_equal(queue_store_get(t.reader, &t.arena, qid, &q, &error), 1);
	assert_string_equal(q.sender, "alice@example.com");
	assert_string_equal(q.envid, "ENV1");
	assert_string_equal(q.ret, "HDRS");
	assert_string_equal(q.state, "queued");
	assert_int_equal(q.n_rcpts, 2);
	assert_string_equal(q.rcpts[0].address, "carol@remote.test");
	assert_string_equal(q.rcpts[0].orcpt, "rfc822;carol@remote.test");
	assert_string_equal(q.rcpts[0].notify, "SUCCESS,FAILURE");
	assert_string_equal(q.rcpts[1].orcpt, "");

	queue_req_init(&qreq, QUEUE_REQ_UPDATE);
	qreq.u.update.id = qid;
	qreq.u.update.state = "deferred";
	qreq.u.update.attempts = 1;
	qreq.u.update.next_try = 1800000000;
	qreq.u.update.last_error = "451 try later";
	tstore_ok(&t, &qreq.req);
	assert_int_equal(queue_store_list(t.reader, &t.arena, &list, &error), 1);
	assert_string_equal(list[0].state, "deferred");
	assert_int_equal(list[0].attempts, 1);
	assert_int_equal(list[0].next_try, 1800000000);
	assert_string_equal(list[0].last_error, "451 try later");
	assert_int_equal(list[0].n_rcpts, 2);

	/* The blob lives while the INBOX copy does. */
	queue_req_init(&qreq, QUEUE_REQ_DELETE);
	qreq.u.del.id = qid;
	tstore_ok(&t, &qreq.req);
	assert_int_equal(queue_store_get(t.reader, &t.arena, qid, &q, &error), 0);
	assert_int_equal(store_blob_count(t.reader, &error), 1);
	res = expunge(&t, tstore_inbox(&t, target.user_id), 1, 1);
	store_result_free(&res);
	assert_int_equal(store_blob_count(t.reader, &error), 0);
	res = tstore_do(&t, &qreq.req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	tstore_deinit(&t);
}

struct bulk {
	struct task_queue *q;
	int done;
	int failed;
};

static void bulk_done(void *arg, struct store_result *res)
{
	struct bulk *b = arg;

	b->done++;
	b->failed += res->status != 0;
	store_result_free(&res);
}

static void test_msg_list_10000(void **state)
{
	enum { N = 10000 };
	struct store_target target = { 0 };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct bulk b = { .q = task_queue_new() };
	struct store_msg *msgs;
	struct timespec t0, t1;
	const char *error;
	struct tstore t;
	double ms;
	int n;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	target.user_id = tstore_user(&t, "bob@example.com");
	target.mailbox_id = 0;
	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	for (int i = 0; i < N; i++)
		store_submit(t.store, &req, b.q, bulk_done, &b);
	while (b.done < N)
		task_queue_run(b.q);
	assert_int_equal(b.failed, 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = store_msg_list(t.reader, &t.arena, tstore_inbox(&t, target.user_id),
			   &msgs, &error);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(msgs[i].uid, (uint32_t)i + 1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("store_msg_list of %d messages: %.2f ms\n", N, ms);
	/* generous even under ASan; typically a few ms */
	assert_true(ms < 1000.0);
	task_queue_free(&b.q);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_and_reopen),
		cmocka_unit_test(test_unknown_driver),
		cmocka_unit_test(test_domains_and_users),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_resolve_subaddress),
		cmocka_unit_test(test_deliver_uids_and_modseq),
		cmocka_unit_test(test_deliver_chain_all_or_none),
		cmocka_unit_test(test_deliver_junk),
		cmocka_unit_test(test_single_instance_blob),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_mailboxes),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_msg_list_10000),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
