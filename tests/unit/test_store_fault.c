/* Unit tests for the store's rollback on a database error half-way through
 * a request, through the db test double (db_fault): a delivery to two
 * mailboxes and a remote recipient, and a MOVE, fail at each of their
 * statements in turn, and a commit fails; every time the store is as it
 * was (no message, blob, queue entry, UID or modseq left over), and the
 * next request succeeds as if the failures had never been. */
#include "test_store_util.h"
#include "queue/queue_store.h"
#include "db/db.h"

static const char msg_text[] =
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.com>\r\n"
	"Subject: hello\r\n"
	"\r\n"
	"Hi Bob.\r\n";

struct fixture {
	struct tstore t;
	struct db_fault *fault;
	int64_t user, inbox, archive;
};

/* What a failed request must leave as it was. */
struct snapshot {
	struct store_mailbox inbox, archive;
	int n_inbox, n_archive, blobs, queued;
	uint32_t inbox_uids[16];
};

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
	f->fault = db_fault_new();
	tstore_init_fault(&f->t, 0, f->fault);
	tstore_domain(&f->t, "example.com");
	f->user = tstore_user(&f->t, "bob@example.com");
	f->inbox = mailbox(f, "INBOX");
	f->archive = mailbox(f, "Archive");
}

static void teardown(struct fixture *f)
{
	tstore_deinit(&f->t);
	db_fault_free(&f->fault);
}

static void snap(struct fixture *f, struct snapshot *s)
{
	struct queue_entry *entries;
	struct store_msg *msgs;
	const char *error;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_mailbox_by_id(f->t.reader, &f->t.arena,
					     f->inbox, &s->inbox, &error), 1);
	assert_int_equal(store_mailbox_by_id(f->t.reader, &f->t.arena,
					     f->archive, &s->archive, &error), 1);
	s->n_inbox = store_msg_list(f->t.reader, &f->t.arena, f->inbox, &msgs,
				    &error);
	assert_true(s->n_inbox >= 0 && s->n_inbox <= 16);
	for (int i = 0; i < s->n_inbox; i++)
		s->inbox_uids[i] = msgs[i].uid;
	s->n_archive = store_msg_list(f->t.reader, &f->t.arena, f->archive,
				      &msgs, &error);
	s->blobs = store_blob_count(f->t.reader, &error);
	s->queued = queue_store_list(f->t.reader, &f->t.arena, &entries,
				     &error);
	assert_true(s->n_archive >= 0 && s->blobs >= 0 && s->queued >= 0);
}

static void assert_mailbox_same(const struct store_mailbox *a,
				const struct store_mailbox *b)
{
	assert_int_equal(a->uidnext, b->uidnext);
	assert_int_equal(a->highestmodseq, b->highestmodseq);
	assert_int_equal(a->messages, b->messages);
	assert_int_equal(a->unseen, b->unseen);
}

static void assert_same(const struct snapshot *a, const struct snapshot *b)
{
	assert_mailbox_same(&a->inbox, &b->inbox);
	assert_mailbox_same(&a->archive, &b->archive);
	assert_int_equal(a->n_inbox, b->n_inbox);
	assert_int_equal(a->n_archive, b->n_archive);
	assert_int_equal(a->blobs, b->blobs);
	assert_int_equal(a->queued, b->queued);
	assert_memory_equal(a->inbox_uids, b->inbox_uids,
			    sizeof(a->inbox_uids));
}

/* To INBOX and Archive, and to a remote recipient (a queue entry). */
static struct store_result *deliver(struct fixture *f)
{
	struct store_target targets[] = {
		{ .user_id = f->user },
		{ .user_id = f->user, .mailbox_id = f->archive },
	};
	static const struct queue_rcpt rcpt = {
		.address = "carol@example.net", .orcpt = "", .notify = "",
	};
	static const struct queue_new out = {
		.sender = "alice@example.org", .rcpts = &rcpt, .n_rcpts = 1,
	};
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.meta.envelope = "(NIL \"hello\")";
	req.u.deliver.meta.bodystructure = "(\"TEXT\" \"PLAIN\")";
	req.u.deliver.meta.body = "(\"TEXT\" \"PLAIN\")";
	req.u.deliver.targets = targets;
	req.u.deliver.n_targets = ARRAY_SIZE(targets);
	queue_store_attach(&req, &out);
	return tstore_do(&f->t, &req);
}

static struct store_result *move_all(struct fixture *f)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req req = { .type = STORE_REQ_COPY };

	req.u.copy.src_mailbox_id = f->inbox;
	req.u.copy.dst_mailbox_id = f->archive;
	req.u.copy.uids = &all;
	req.u.copy.n_uids = 1;
	req.u.copy.move = true;
	return tstore_do(&f->t, &req);
}

static void expect_injected(struct store_result **res)
{
	assert_int_equal((*res)->status, -1);
	assert_non_null(strstr((*res)->error, "injected failure"));
	store_result_free(res);
}

/* Run request once to count its statements, then fail it at each one,
 * the store unchanged every time; returns the statements counted. */
static unsigned fail_each_statement(struct fixture *f,
				    struct store_result *(*request)(struct fixture *),
				    const struct snapshot *before)
{
	struct store_result *res;
	struct snapshot now;
	unsigned n = 0;

	for (unsigned k = 1;; k++) {
		db_fault_fail_statement(f->fault, k);
		res = request(f);
		if (res->status == 0) {
			/* k is past its last statement: it ran whole */
			n = db_fault_statements(f->fault);
			db_fault_fail_statement(f->fault, 0);
			store_result_free(&res);
			break;
		}
		expect_injected(&res);
		snap(f, &now);
		assert_same(before, &now);
		assert_true(k < 1000);
	}
	return n;
}

static void test_deliver_fails_at_each_statement(void **state)
{
	struct store_result *res;
	struct snapshot before, after;
	struct fixture f;
	unsigned n;

	(void)state;
	setup(&f);
	res = deliver(&f);	/* a first one, so the next has neighbours */
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	snap(&f, &before);

	/* blob, bytes, index queue, two mailboxes (counters, row), queue
	 * entry and recipient */
	n = fail_each_statement(&f, deliver, &before);
	assert_true(n >= 9);
	/* the delivery that ran whole got the next UIDs: the failed ones
	 * used none */
	snap(&f, &after);
	assert_int_equal(after.inbox.uidnext, before.inbox.uidnext + 1);
	assert_int_equal(after.archive.uidnext, before.archive.uidnext + 1);
	assert_int_equal(after.inbox.highestmodseq,
			 before.inbox.highestmodseq + 1);
	assert_int_equal(after.blobs, before.blobs + 1);
	assert_int_equal(after.queued, before.queued + 1);
	teardown(&f);
}

static void test_move_fails_at_each_statement(void **state)
{
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req expunge = { .type = STORE_REQ_EXPUNGE };
	struct queue_entry *entries;
	struct store_result *res;
	struct snapshot before, after;
	struct fixture f;
	const char *error;
	unsigned n;

	(void)state;
	setup(&f);
	for (int i = 0; i < 3; i++) {
		res = deliver(&f);
		assert_int_equal(res->status, 0);
		store_result_free(&res);
	}
	snap(&f, &before);
	n = fail_each_statement(&f, move_all, &before);
	/* per message: a copy, a blob reference, a delete, an expunge log,
	 * a blob unreference */
	assert_true(n >= 3 * 5);
	snap(&f, &after);
	assert_int_equal(after.n_inbox, 0);
	assert_int_equal(after.n_archive, 6);

	/* No failed MOVE left a blob reference behind: once the queue and
	 * Archive let go of them, every blob is gone. */
	assert_int_equal(queue_store_list(f.t.reader, &f.t.arena, &entries,
					  &error), 3);
	for (int i = 0; i < 3; i++) {
		struct queue_req del;

		queue_req_init(&del, QUEUE_REQ_DELETE);
		del.u.del.id = entries[i].id;
		tstore_ok(&f.t, &del.req);
	}
	expunge.u.expunge.mailbox_id = f.archive;
	expunge.u.expunge.uids = &all;
	expunge.u.expunge.n_uids = 1;
	tstore_ok(&f.t, &expunge);
	assert_int_equal(store_blob_count(f.t.reader, &error), 0);
	teardown(&f);
}

static void test_commit_fails(void **state)
{
	struct store_result *res;
	struct snapshot before, now;
	struct fixture f;

	(void)state;
	setup(&f);
	snap(&f, &before);
	db_fault_fail_commit(f.fault, 1);
	res = deliver(&f);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "store commit failed"));
	assert_non_null(strstr(res->error, "injected failure"));
	store_result_free(&res);
	snap(&f, &now);
	assert_same(&before, &now);

	res = deliver(&f);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->assigned[0].uid, before.inbox.uidnext);
	store_result_free(&res);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_fails_at_each_statement),
		cmocka_unit_test(test_move_fails_at_each_statement),
		cmocka_unit_test(test_commit_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
