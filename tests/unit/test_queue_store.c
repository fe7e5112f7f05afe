/* Unit tests for the outbound queue's persistence (queue/queue_store.c,
 * through the store writer's extension interface): per-recipient state, the due
 * list, delivery results (entry and blob gone when nothing is pending, the
 * DSN in the same transaction), hold/release/retry/flush, the retry_now
 * mark and the runner's held look-ups. */
#include "test_store_util.h"
#include "queue/queue_store.h"

#include <time.h>

static const char msg_text[] =
	"From: Alice <alice@example.com>\r\n"
	"To: carol@remote.test, dave@remote.test, erin@other.test\r\n"
	"Subject: plans\r\n"
	"\r\n"
	"See you.\r\n";

static const char dsn_text[] =
	"From: MAILER-DAEMON@example.com\r\n"
	"Subject: Undelivered Mail Returned to Sender\r\n"
	"\r\n"
	"report\r\n";

static const struct queue_rcpt three[] = {
	{ .address = "carol@remote.test", .orcpt = "rfc822;carol@remote.test",
	  .notify = "SUCCESS,FAILURE" },
	{ .address = "dave@remote.test" },
	{ .address = "erin@other.test", .notify = "NEVER" },
};

/* Queue msg_text for three remote recipients (no local copy). */
static int64_t enqueue(struct tstore *t, const char *sender)
{
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct queue_new out = { .sender = sender, .rcpts = three,
				 .n_rcpts = ARRAY_SIZE(three) };
	struct store_result *res;
	int64_t id;

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = time(NULL);
	queue_store_attach(&req, &out);
	res = tstore_do(t, &req);
	assert_int_equal(res->status, 0);
	id = res->queue_id;
	assert_true(id > 0);
	store_result_free(&res);
	return id;
}

static int due(struct tstore *t, int64_t now, struct queue_entry **e_r)
{
	const char *error;
	int n = queue_store_due(t->reader, &t->arena, now, 0, e_r, &error);

	if (n < 0)
		fail_msg("queue_store_due: %s", error);
	return n;
}

static struct store_result *control(struct tstore *t, int64_t id,
				    enum queue_op op, int64_t now)
{
	struct queue_req req;

	queue_req_init(&req, QUEUE_REQ_CONTROL);
	req.u.control.id = id;
	req.u.control.op = op;
	req.u.control.now = now;
	return tstore_do(t, &req.req);
}

static void test_fresh_entry(void **state)
{
	struct queue_entry q, *list;
	const char *error;
	struct tstore t;
	int64_t id, before = time(NULL);

	(void)state;
	tstore_init(&t, 0);
	id = enqueue(&t, "alice@example.com");
	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 1);
	assert_true(q.created >= before && q.created <= time(NULL));
	assert_int_equal(q.next_try, q.created);
	assert_false(q.held);
	assert_false(q.delay_notified);
	assert_int_equal(q.n_rcpts, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(q.rcpts[i].idx, i);
		assert_string_equal(q.rcpts[i].state, "pending");
		assert_string_equal(q.rcpts[i].status, "");
		assert_string_equal(q.rcpts[i].diagnostic, "");
		assert_string_equal(q.rcpts[i].remote_mta, "");
	}
	assert_string_equal(q.rcpts[2].notify, "NEVER");

	/* Due from its creation on, not before. */
	assert_int_equal(due(&t, q.created - 1, &list), 0);
	assert_int_equal(due(&t, q.created, &list), 1);
	assert_int_equal(list[0].id, id);
	assert_int_equal(list[0].n_rcpts, 3);
	assert_int_equal(queue_store_get(t.reader, &t.arena, id + 1, &q, &error), 0);
	tstore_deinit(&t);
}

static void test_results(void **state)
{
	const struct queue_rcpt_result first[] = {
		{ .idx = 0, .state = "sent", .status = "2.0.0",
		  .diagnostic = "250 2.0.0 ok", .remote_mta = "mx1.remote.test" },
		{ .idx = 1, .state = "failed", .status = "5.1.1",
		  .diagnostic = "550 5.1.1 no such user",
		  .remote_mta = "mx1.remote.test" },
		{ .idx = 2, .state = "pending", .status = "4.4.1",
		  .diagnostic = "connection refused" },
	};
	const struct queue_rcpt_result last[] = {
		{ .idx = 2, .state = "sent", .status = "2.0.0",
		  .remote_mta = "mx.other.test" },
	};
	struct queue_req req;
	struct queue_entry q, *list;
	const char *error;
	struct tstore t;
	int64_t id, now = time(NULL);

	(void)state;
	queue_req_init(&req, QUEUE_REQ_RESULT);
	tstore_init(&t, 0);
	id = enqueue(&t, "alice@example.com");
	assert_int_equal(store_blob_count(t.reader, &error), 1);

	req.u.result.id = id;
	req.u.result.rcpts = first;
	req.u.result.n_rcpts = ARRAY_SIZE(first);
	req.u.result.attempts = 1;
	req.u.result.next_try = now + 300;
	req.u.result.last_error = "connection refused";
	req.u.result.delay_notified = true;
	tstore_ok(&t, &req.req);

	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 1);
	assert_int_equal(q.attempts, 1);
	assert_int_equal(q.next_try, now + 300);
	assert_string_equal(q.last_error, "connection refused");
	assert_true(q.delay_notified);
	assert_int_equal(q.n_rcpts, 3);	/* get shows every recipient */
	assert_string_equal(q.rcpts[0].state, "sent");
	assert_string_equal(q.rcpts[0].remote_mta, "mx1.remote.test");
	assert_string_equal(q.rcpts[1].state, "failed");
	assert_string_equal(q.rcpts[1].status, "5.1.1");
	assert_string_equal(q.rcpts[1].diagnostic, "550 5.1.1 no such user");
	assert_string_equal(q.rcpts[2].state, "pending");
	assert_string_equal(q.rcpts[2].diagnostic, "connection refused");
	assert_string_equal(q.rcpts[2].remote_mta, "");

	/* The due list carries only the pending recipient. */
	assert_int_equal(due(&t, now + 299, &list), 0);
	assert_int_equal(due(&t, now + 300, &list), 1);
	assert_int_equal(list[0].n_rcpts, 1);
	assert_int_equal(list[0].rcpts[0].idx, 2);
	assert_string_equal(list[0].rcpts[0].address, "erin@other.test");

	/* The last pending recipient done: entry and blob are gone. */
	req.u.result.rcpts = last;
	req.u.result.n_rcpts = 1;
	req.u.result.attempts = 2;
	tstore_ok(&t, &req.req);
	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 0);
	assert_int_equal(queue_store_list(t.reader, &t.arena, &list, &error), 0);
	assert_int_equal(store_blob_count(t.reader, &error), 0);

	/* A result for an entry deleted meanwhile fails. */
	struct store_result *res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such queue entry"));
	store_result_free(&res);
	tstore_deinit(&t);
}

static void test_result_errors(void **state)
{
	const struct queue_rcpt_result bad_idx[] = {
		{ .idx = 0, .state = "sent" },
		{ .idx = 7, .state = "sent" },
	};
	const struct queue_rcpt_result bad_state[] = {
		{ .idx = 0, .state = "done" },
	};
	struct queue_req req;
	struct queue_entry q;
	struct store_result *res;
	const char *error;
	struct tstore t;
	int64_t id;

	(void)state;
	queue_req_init(&req, QUEUE_REQ_RESULT);
	tstore_init(&t, 0);
	id = enqueue(&t, "alice@example.com");
	req.u.result.id = id;
	req.u.result.rcpts = bad_idx;
	req.u.result.n_rcpts = 2;
	req.u.result.attempts = 5;
	res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such queue recipient"));
	store_result_free(&res);
	/* Nothing of the failed request stayed. */
	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 1);
	assert_string_equal(q.rcpts[0].state, "pending");
	assert_int_equal(q.attempts, 0);

	req.u.result.rcpts = bad_state;
	req.u.result.n_rcpts = 1;
	res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	tstore_deinit(&t);
}

static void test_result_with_dsn(void **state)
{
	const struct queue_rcpt_result all_failed[] = {
		{ .idx = 0, .state = "failed", .status = "5.1.1" },
		{ .idx = 1, .state = "failed", .status = "5.1.1" },
		{ .idx = 2, .state = "failed", .status = "5.1.1" },
	};
	const struct queue_rcpt bounce_rcpt[] = {
		{ .address = "zoe@far.test" },
	};
	const struct queue_new bounce = { .sender = "", .rcpts = bounce_rcpt,
					  .n_rcpts = 1 };
	struct queue_req req;
	struct store_req dsn = { .type = STORE_REQ_DELIVER };
	struct store_target target = { 0 };
	struct queue_entry q, *list;
	struct store_msg *msgs;
	struct store_result *res;
	const char *error;
	struct tstore t;
	int64_t id, alice;

	(void)state;
	queue_req_init(&req, QUEUE_REQ_RESULT);
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	alice = tstore_user(&t, "alice@example.com");
	id = enqueue(&t, "alice@example.com");

	/* A report whose delivery fails takes the result down with it. */
	target.mailbox_id = 999999;
	dsn.u.deliver.data = dsn_text;
	dsn.u.deliver.size = sizeof(dsn_text) - 1;
	dsn.u.deliver.targets = &target;
	dsn.u.deliver.n_targets = 1;
	req.u.result.id = id;
	req.u.result.rcpts = all_failed;
	req.u.result.n_rcpts = 3;
	req.u.result.attempts = 1;
	req.u.result.dsn = &dsn;
	res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 1);
	assert_string_equal(q.rcpts[0].state, "pending");

	/* The bounce lands in the local sender's INBOX with the result. */
	target.mailbox_id = 0;
	target.user_id = alice;
	res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 1);
	assert_int_equal(res->queue_id, 0);
	store_result_free(&res);
	assert_int_equal(queue_store_get(t.reader, &t.arena, id, &q, &error), 0);
	assert_int_equal(store_msg_list(t.reader, &t.arena, tstore_inbox(&t, alice),
					&msgs, &error), 1);
	assert_int_equal(msgs[0].size, sizeof(dsn_text) - 1);
	assert_int_equal(store_blob_count(t.reader, &error), 1);

	/* A remote sender's bounce is a new entry from the null sender. */
	id = enqueue(&t, "zoe@far.test");
	dsn.u.deliver.n_targets = 0;
	queue_store_attach(&dsn, &bounce);
	req.u.result.id = id;
	res = tstore_do(&t, &req.req);
	assert_int_equal(res->status, 0);
	assert_true(res->queue_id > id);
	store_result_free(&res);
	assert_int_equal(queue_store_list(t.reader, &t.arena, &list, &error), 1);
	assert_string_equal(list[0].sender, "");
	assert_int_equal(list[0].n_rcpts, 1);
	assert_string_equal(list[0].rcpts[0].address, "zoe@far.test");
	tstore_deinit(&t);
}

static void test_control(void **state)
{
	struct queue_entry q, *list;
	struct store_result *res;
	const char *error;
	struct tstore t;
	int64_t a, b, now;

	(void)state;
	tstore_init(&t, 0);
	a = enqueue(&t, "alice@example.com");
	b = enqueue(&t, "alice@example.com");
	now = time(NULL) + 10;

	res = control(&t, a, QUEUE_OP_HOLD, now);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->id, 1);
	store_result_free(&res);
	assert_int_equal(queue_store_get(t.reader, &t.arena, a, &q, &error), 1);
	assert_true(q.held);
	assert_int_equal(due(&t, now, &list), 1);
	assert_int_equal(list[0].id, b);

	/* Held entries are not flushed. */
	res = control(&t, 0, QUEUE_OP_HOLD, now);
	assert_int_equal(res->id, 2);
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 0);
	res = control(&t, b, QUEUE_OP_RELEASE, now);
	assert_int_equal(res->id, 1);
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 1);
	assert_int_equal(list[0].id, b);
	res = control(&t, 0, QUEUE_OP_RELEASE, now);
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 2);

	/* Push both into the future, then retry one and flush all. */
	struct queue_req up;

	queue_req_init(&up, QUEUE_REQ_UPDATE);
	up.u.update.state = "queued";
	up.u.update.attempts = 3;
	up.u.update.next_try = now + 3600;
	up.u.update.id = a;
	tstore_ok(&t, &up.req);
	up.u.update.id = b;
	tstore_ok(&t, &up.req);
	assert_int_equal(due(&t, now, &list), 0);
	res = control(&t, b, QUEUE_OP_RETRY, now);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 1);
	assert_int_equal(list[0].id, b);
	assert_int_equal(list[0].next_try, now);
	res = control(&t, 0, QUEUE_OP_RETRY, now);
	assert_int_equal(res->id, 1);	/* only a was in the future */
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 2);
	assert_int_equal(queue_store_get(t.reader, &t.arena, a, &q, &error), 1);
	assert_int_equal(q.attempts, 3);	/* retry keeps the count */

	res = control(&t, b + 100, QUEUE_OP_HOLD, now);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "no such queue entry"));
	store_result_free(&res);
	tstore_deinit(&t);
}

static void test_due_limit_order(void **state)
{
	struct queue_req up;
	struct queue_entry *list;
	const char *error;
	struct tstore t;
	int64_t ids[4], now = time(NULL) + 5000;

	(void)state;
	queue_req_init(&up, QUEUE_REQ_UPDATE);
	tstore_init(&t, 0);
	for (int i = 0; i < 4; i++) {
		ids[i] = enqueue(&t, "alice@example.com");
		up.u.update.id = ids[i];
		up.u.update.state = "queued";
		up.u.update.next_try = now - 10 * (i + 1);	/* last is oldest */
		tstore_ok(&t, &up.req);
	}
	assert_int_equal(queue_store_due(t.reader, &t.arena, now, 3, &list,
					 &error), 3);
	assert_int_equal(list[0].id, ids[3]);
	assert_int_equal(list[1].id, ids[2]);
	assert_int_equal(list[2].id, ids[1]);
	tstore_deinit(&t);
}

/* queue retry/flush mark the entries they make due (retry_now), a result
 * clears the mark; the runner's held look-ups see holds, releases and
 * deleted entries. */
static void test_retry_now_and_held(void **state)
{
	const struct queue_rcpt_result deferred[] = {
		{ .idx = 0, .state = "pending", .status = "4.4.1" },
	};
	struct queue_req req;
	struct queue_entry q, *list;
	struct store_result *res;
	const char *error;
	int64_t *ids;
	struct tstore t;
	int64_t a, b, now;

	(void)state;
	queue_req_init(&req, QUEUE_REQ_RESULT);
	tstore_init(&t, 0);
	a = enqueue(&t, "alice@example.com");
	b = enqueue(&t, "alice@example.com");
	/* after the entries' next_try (their arrival): "b was due already"
	 * below even when a second passes while the store opens */
	now = time(NULL);
	assert_int_equal(queue_store_get(t.reader, &t.arena, a, &q, &error), 1);
	assert_false(q.retry_now);

	/* deferred, then flushed: due now and marked */
	req.u.result.id = a;
	req.u.result.rcpts = deferred;
	req.u.result.n_rcpts = 1;
	req.u.result.attempts = 1;
	req.u.result.next_try = now + 600;
	req.u.result.last_error = "refused";
	tstore_ok(&t, &req.req);
	res = control(&t, 0, QUEUE_OP_RETRY, now);
	assert_int_equal(res->id, 1);	/* b was due already */
	store_result_free(&res);
	assert_int_equal(due(&t, now, &list), 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(list[i].retry_now, list[i].id == a);
	/* the next result clears it */
	req.u.result.attempts = 2;
	tstore_ok(&t, &req.req);
	assert_int_equal(queue_store_get(t.reader, &t.arena, a, &q, &error), 1);
	assert_false(q.retry_now);
	assert_int_equal(q.attempts, 2);
	/* retry of one entry marks it too */
	res = control(&t, a, QUEUE_OP_RETRY, now);
	store_result_free(&res);
	assert_int_equal(queue_store_get(t.reader, &t.arena, a, &q, &error), 1);
	assert_true(q.retry_now);

	/* held look-ups */
	assert_int_equal(queue_store_held(t.reader, a, &error), 0);
	assert_int_equal(queue_store_held_ids(t.reader, &t.arena, &ids, &error),
			 0);
	res = control(&t, b, QUEUE_OP_HOLD, now);
	store_result_free(&res);
	res = control(&t, a, QUEUE_OP_HOLD, now);
	store_result_free(&res);
	assert_int_equal(queue_store_held(t.reader, a, &error), 1);
	assert_int_equal(queue_store_held_ids(t.reader, &t.arena, &ids, &error),
			 2);
	assert_int_equal(ids[0], a);
	assert_int_equal(ids[1], b);
	res = control(&t, a, QUEUE_OP_RELEASE, now);
	store_result_free(&res);
	assert_int_equal(queue_store_held(t.reader, a, &error), 0);
	assert_int_equal(queue_store_held_ids(t.reader, &t.arena, &ids, &error),
			 1);
	assert_int_equal(ids[0], b);
	/* an entry that is gone may not be sent either */
	struct queue_req del;

	queue_req_init(&del, QUEUE_REQ_DELETE);
	del.u.del.id = a;
	tstore_ok(&t, &del.req);
	assert_int_equal(queue_store_held(t.reader, a, &error), 1);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_entry),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_result_errors),
		cmocka_unit_test(test_result_with_dsn),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_due_limit_order),
		cmocka_unit_test(test_retry_now_and_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
