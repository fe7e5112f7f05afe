/* Unit tests for STORE_REQ_COPY: UID mapping (COPYUID), MOVE with its
 * VANISHED log, copies into the same mailbox, missing UIDs, change events
 * and blob references. */
#include "test_store_util.h"

#include <pthread.h>

static const char msg_text[] =
	"From: Alice <alice@example.org>\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob.\r\n";

struct fixture {
	struct tstore t;
	int64_t user, inbox, archive, trash;
};

static void deliver(struct fixture *f, uint32_t flags, const char *keywords)
{
	struct store_target target = { .user_id = f->user };
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = 1700000000 + flags;
	req.u.deliver.flags = flags;
	req.u.deliver.keywords = keywords;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	tstore_ok(&f->t, &req);
}

static int64_t mailbox(struct fixture *f, const char *name)
{
	struct store_mailbox mb;
	const char *error;

	assert_int_equal(store_mailbox_by_name(f->t.reader, &f->t.arena,
					       f->user, name, &mb, &error), 1);
	return mb.id;
}

static void setup(struct fixture *f)
{
	tstore_init(&f->t, 0);
	tstore_domain(&f->t, "example.com");
	f->user = tstore_user(&f->t, "bob@example.com");
	f->inbox = mailbox(f, "INBOX");
	f->archive = mailbox(f, "Archive");
	f->trash = mailbox(f, "Trash");
}

static struct store_result *copy(struct fixture *f, int64_t src, int64_t dst,
				 const struct store_uid_range *uids,
				 size_t n_uids, bool move)
{
	struct store_req req = { .type = STORE_REQ_COPY };

	req.u.copy.src_mailbox_id = src;
	req.u.copy.dst_mailbox_id = dst;
	req.u.copy.uids = uids;
	req.u.copy.n_uids = n_uids;
	req.u.copy.move = move;
	return tstore_do(&f->t, &req);
}

static struct store_mailbox get_mailbox(struct fixture *f, int64_t id)
{
	struct store_mailbox mb;
	const char *error;

	assert_int_equal(store_mailbox_by_id(f->t.reader, &f->t.arena, id, &mb,
					     &error), 1);
	return mb;
}

static void test_copy_uid_mapping(void **state)
{
	struct store_uid_range uids[] = { { 4, 4 }, { 1, 2 }, { 9, 12 } };
	struct fixture f;
	struct store_result *res;
	struct store_mailbox mb;
	struct store_msg *msgs;
	const char *error;

	(void)state;
	setup(&f);
	for (int i = 0; i < 5; i++)
		deliver(&f, i == 3 ? STORE_FLAG_SEEN | STORE_FLAG_FLAGGED : 0,
			i == 3 ? "$Important" : NULL);
	/* Archive already has a message: the copies get UIDs after it */
	res = copy(&f, f.inbox, f.archive, &(struct store_uid_range){ 5, 5 },
		   1, false);
	assert_int_equal(res->status, 0);
	store_result_free(&res);

	res = copy(&f, f.inbox, f.archive, uids, ARRAY_SIZE(uids), false);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_uids, 3);
	assert_int_equal(res->n_assigned, 3);
	/* source UIDs ascending, destination UIDs in the same order */
	assert_int_equal(res->uids[0], 1);
	assert_int_equal(res->uids[1], 2);
	assert_int_equal(res->uids[2], 4);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(res->assigned[i].uid, 2 + i);
		assert_int_equal(res->assigned[i].mailbox_id, f.archive);
		assert_int_equal(res->assigned[i].modseq, res->modseq);
	}
	mb = get_mailbox(&f, f.archive);
	assert_int_equal(mb.messages, 4);
	assert_int_equal(mb.unseen, 3);
	assert_int_equal(mb.uidnext, 5);
	assert_int_equal(mb.highestmodseq, res->modseq);
	store_result_free(&res);

	/* flags, keywords and dates travel with the copy; the source is
	 * untouched */
	assert_int_equal(store_msg_list(f.t.reader, &f.t.arena, f.archive,
					&msgs, &error), 4);
	assert_int_equal(msgs[3].uid, 4);
	assert_int_equal(msgs[3].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(msgs[3].keywords, "$Important");
	assert_int_equal(msgs[3].internal_date,
			 1700000000 + (STORE_FLAG_SEEN | STORE_FLAG_FLAGGED));
	assert_int_equal(get_mailbox(&f, f.inbox).messages, 5);
	tstore_deinit(&f.t);
}

struct events {
	pthread_mutex_t lock;
	int64_t mailboxes[8];
	uint64_t modseqs[8];
	size_t n;
};

static void on_change(void *arg, int64_t user_id, int64_t mailbox_id,
		      uint64_t modseq)
{
	struct events *e = arg;

	(void)user_id;
	pthread_mutex_lock(&e->lock);
	if (e->n < ARRAY_SIZE(e->mailboxes)) {
		e->mailboxes[e->n] = mailbox_id;
		e->modseqs[e->n++] = modseq;
	}
	pthread_mutex_unlock(&e->lock);
}

static void test_move(void **state)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct events ev = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fixture f;
	struct store_result *res;
	struct store_mailbox before, mb;
	uint32_t *vanished;
	const char *error;

	(void)state;
	setup(&f);
	deliver(&f, 0, NULL);
	deliver(&f, STORE_FLAG_SEEN, NULL);
	deliver(&f, 0, NULL);
	before = get_mailbox(&f, f.inbox);
	store_subscribe(f.t.store, on_change, &ev);

	res = copy(&f, f.inbox, f.trash, &all, 1, true);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_uids, 3);
	assert_int_equal(res->assigned[2].uid, 3);

	/* the source is empty, its modseq moved on, and QRESYNC sees the
	 * moved messages as vanished */
	mb = get_mailbox(&f, f.inbox);
	assert_int_equal(mb.messages, 0);
	assert_int_equal(mb.unseen, 0);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(mb.highestmodseq, res->src_modseq);
	assert_true(res->src_modseq > before.highestmodseq);
	assert_int_equal(store_expunged_since(f.t.reader, &f.t.arena, f.inbox,
					      before.highestmodseq, &vanished,
					      &error), 3);
	assert_int_equal(vanished[0], 1);
	assert_int_equal(vanished[2], 3);
	mb = get_mailbox(&f, f.trash);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.unseen, 2);
	assert_int_equal(mb.highestmodseq, res->modseq);

	/* one change event for each mailbox, with its new modseq (the
	 * subscriber ran before the request completed) */
	pthread_mutex_lock(&ev.lock);
	assert_int_equal(ev.n, 2);
	for (size_t i = 0; i < 2; i++) {
		if (ev.mailboxes[i] == f.inbox)
			assert_int_equal(ev.modseqs[i], res->src_modseq);
		else if (ev.mailboxes[i] == f.trash)
			assert_int_equal(ev.modseqs[i], res->modseq);
		else
			fail_msg("event for mailbox %lld",
				 (long long)ev.mailboxes[i]);
	}
	pthread_mutex_unlock(&ev.lock);
	store_result_free(&res);
	/* the blobs moved, none was freed or copied */
	assert_int_equal(store_blob_count(f.t.reader, &error), 3);
	tstore_deinit(&f.t);
}

static void test_copy_same_mailbox_and_missing(void **state)
{
	struct store_uid_range one = { 1, 1 }, none = { 100, 200 };
	struct fixture f;
	struct store_result *res;
	struct store_msg *msgs;
	const char *error;

	(void)state;
	setup(&f);
	deliver(&f, STORE_FLAG_ANSWERED, NULL);
	deliver(&f, 0, NULL);

	res = copy(&f, f.inbox, f.inbox, &one, 1, false);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 1);
	assert_int_equal(res->assigned[0].uid, 3);
	store_result_free(&res);
	assert_int_equal(store_msg_list(f.t.reader, &f.t.arena, f.inbox, &msgs,
					&error), 3);
	assert_int_equal(msgs[2].flags, STORE_FLAG_ANSWERED);
	assert_int_equal(msgs[2].blob_id, msgs[0].blob_id);

	/* nothing to copy is not an error, and changes nothing */
	res = copy(&f, f.inbox, f.archive, &none, 1, false);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_uids, 0);
	assert_int_equal(res->n_assigned, 0);
	store_result_free(&res);
	assert_int_equal(get_mailbox(&f, f.archive).uidnext, 1);
	assert_int_equal(get_mailbox(&f, f.archive).highestmodseq, 1);

	/* a missing mailbox is */
	res = copy(&f, f.inbox, 9999, &one, 1, false);
	assert_int_equal(res->status, -1);
	assert_string_equal(res->error, "no such mailbox");
	store_result_free(&res);
	res = copy(&f, 9999, f.inbox, &one, 1, true);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_int_equal(get_mailbox(&f, f.inbox).messages, 3);
	tstore_deinit(&f.t);
}

static void expunge_all(struct fixture *f, int64_t mailbox_id)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req req = { .type = STORE_REQ_EXPUNGE };

	req.u.expunge.mailbox_id = mailbox_id;
	req.u.expunge.uids = &all;
	req.u.expunge.n_uids = 1;
	tstore_ok(&f->t, &req);
}

static void test_copy_blob_refcounts(void **state)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct fixture f;
	struct store_result *res;
	const char *error;

	(void)state;
	setup(&f);
	deliver(&f, 0, NULL);
	res = copy(&f, f.inbox, f.archive, &all, 1, false);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	res = copy(&f, f.archive, f.trash, &all, 1, true);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_int_equal(store_blob_count(f.t.reader, &error), 1);

	/* the blob lives until its last copy goes */
	expunge_all(&f, f.inbox);
	assert_int_equal(store_blob_count(f.t.reader, &error), 1);
	assert_int_equal(get_mailbox(&f, f.trash).messages, 1);
	expunge_all(&f, f.trash);
	assert_int_equal(store_blob_count(f.t.reader, &error), 0);
	tstore_deinit(&f.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_uid_mapping),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_copy_same_mailbox_and_missing),
		cmocka_unit_test(test_copy_blob_refcounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
