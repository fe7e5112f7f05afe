/* Unit tests for the store writer: group commit batches, completions on the
 * requester's thread, a failing request fails alone, a full disk, change
 * events, and close draining what was submitted. */
#include "test_store_util.h"

#include <pthread.h>

static const char small_msg[] = "Subject: x\r\n\r\nbody\r\n";

static void deliver_req(struct store_req *req, const struct store_target *tg,
			const void *data, size_t size)
{
	*req = (struct store_req){ .type = STORE_REQ_DELIVER };
	req->u.deliver.data = data;
	req->u.deliver.size = size;
	req->u.deliver.targets = tg;
	req->u.deliver.n_targets = 1;
}

/* ---- 200 requests from 4 threads ---- */

enum { THREADS = 4, PER_THREAD = 50 };

struct requester {
	struct tstore *t;
	struct task_queue *q;
	pthread_t self;
	struct store_target target;
	struct store_req req;
	int done, failed, wrong_thread;
};

static void requester_done(void *arg, struct store_result *res)
{
	struct requester *r = arg;

	r->done++;
	r->failed += res->status != 0;
	r->wrong_thread += !pthread_equal(pthread_self(), r->self);
	store_result_free(&res);
}

static void *requester_main(void *arg)
{
	struct requester *r = arg;

	r->self = pthread_self();
	for (int i = 0; i < PER_THREAD; i++)
		store_submit(r->t->store, &r->req, r->q, requester_done, r);
	while (r->done < PER_THREAD)
		task_queue_run(r->q);
	return NULL;
}

static void test_group_commit_batches(void **state)
{
	struct requester reqs[THREADS];
	pthread_t threads[THREADS];
	struct store_stats stats;
	struct store_mailbox mb;
	struct store_msg *msgs;
	const char *error;
	struct tstore t;
	int64_t user;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "bob@example.com");
	store_get_stats(t.store, &stats);
	assert_int_equal(stats.requests, 2);
	for (int i = 0; i < THREADS; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].t = &t;
		reqs[i].q = task_queue_new();
		reqs[i].target.user_id = user;
		deliver_req(&reqs[i].req, &reqs[i].target, small_msg,
			    sizeof(small_msg) - 1);
		assert_int_equal(pthread_create(&threads[i], NULL,
						requester_main, &reqs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(reqs[i].done, PER_THREAD);
		assert_int_equal(reqs[i].failed, 0);
		assert_int_equal(reqs[i].wrong_thread, 0);
		task_queue_free(&reqs[i].q);
	}
	store_get_stats(t.store, &stats);
	assert_int_equal(stats.requests, 2 + THREADS * PER_THREAD);
	print_message("%d requests in %d commits\n",
		      (int)stats.requests - 2, (int)stats.commits - 2);
	assert_true(stats.commits - 2 < stats.requests - 2);

	/* Every message got its own UID, 1..200. */
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, user,
					       "INBOX", &mb, &error), 1);
	assert_int_equal(mb.uidnext, THREADS * PER_THREAD + 1);
	assert_int_equal(store_msg_list(t.reader, &t.arena, mb.id, &msgs,
					&error), THREADS * PER_THREAD);
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		assert_int_equal(msgs[i].uid, (uint32_t)i + 1);
	tstore_deinit(&t);
}

/* ---- holding the writer so that requests pile into one batch ---- */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool closed;	/* the next change event blocks until opened */
	bool waiting;
};

static void gate_change(void *arg, int64_t user_id, int64_t mailbox_id,
			uint64_t modseq)
{
	struct gate *g = arg;

	(void)user_id;
	(void)mailbox_id;
	(void)modseq;
	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		g->waiting = true;
		pthread_cond_broadcast(&g->cond);
		while (g->closed)
			pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
}

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->closed = true;
	g->waiting = false;
}

/* Wait until the writer is blocked in the gate. */
static void gate_wait_blocked(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->waiting)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->closed = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_deinit(struct gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

struct outcome {
	int done;
	int status[8];
	char error[8][256];
};

struct slot {
	struct outcome *o;
	int i;
};

static void outcome_done(void *arg, struct store_result *res)
{
	struct slot *s = arg;

	s->o->status[s->i] = res->status;
	snprintf(s->o->error[s->i], sizeof(s->o->error[s->i]), "%s", res->error);
	s->o->done++;
	store_result_free(&res);
}

/* Runs reqs[1..n) in one batch: reqs[0] is committed first and holds the
 * writer in the gate while the others are submitted. */
static void run_one_batch(struct tstore *t, struct gate *g,
			  const struct store_req *reqs, int n,
			  struct outcome *o)
{
	struct task_queue *q = task_queue_new();
	struct store_stats before, after;
	struct slot slots[8];

	ASSERT(n <= 8);
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < n; i++)
		slots[i] = (struct slot){ o, i };
	store_submit(t->store, &reqs[0], q, outcome_done, &slots[0]);
	gate_wait_blocked(g);
	store_get_stats(t->store, &before);
	for (int i = 1; i < n; i++)
		store_submit(t->store, &reqs[i], q, outcome_done, &slots[i]);
	gate_open(g);
	while (o->done < n)
		task_queue_run(q);
	store_get_stats(t->store, &after);
	/* the n - 1 requests after the gate took exactly one commit */
	assert_int_equal(after.commits - before.commits, 1);
	assert_int_equal(after.requests - before.requests, (uint64_t)n - 1);
	task_queue_free(&q);
}

static void test_failing_request_fails_alone(void **state)
{
	struct store_target good = { 0 }, bad = { .mailbox_id = 987654 };
	struct store_req reqs[4];
	struct store_mailbox mb;
	struct outcome o;
	struct gate g;
	const char *error;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	good.user_id = tstore_user(&t, "bob@example.com");
	gate_init(&g);
	store_subscribe(t.store, gate_change, &g);
	for (int i = 0; i < 4; i++)
		deliver_req(&reqs[i], i == 2 ? &bad : &good, small_msg,
			    sizeof(small_msg) - 1);
	run_one_batch(&t, &g, reqs, 4, &o);
	assert_int_equal(o.status[0], 0);
	assert_int_equal(o.status[1], 0);
	assert_int_equal(o.status[2], -1);
	assert_non_null(strstr(o.error[2], "no such mailbox"));
	assert_int_equal(o.status[3], 0);
	/* 3 messages, 3 blobs: nothing of the failed one is left. */
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, good.user_id,
					       "INBOX", &mb, &error), 1);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(store_blob_count(t.reader, &error), 3);
	tstore_deinit(&t);
	gate_deinit(&g);
}

static void test_disk_full(void **state)
{
	enum { BIG = 2 * 1024 * 1024 };
	struct store_target tg = { 0 };
	struct store_req reqs[4];
	struct store_result *res;
	struct store_mailbox mb;
	struct store_msg *msgs;
	struct outcome o;
	struct gate g;
	const char *error;
	struct tstore t;
	char *big;

	(void)state;
	/* 128 pages of 4 KiB: room for the schema and small messages */
	tstore_init(&t, 128);
	tstore_domain(&t, "example.com");
	tg.user_id = tstore_user(&t, "bob@example.com");
	big = xmalloc(BIG);
	memset(big, 'x', BIG);

	deliver_req(&reqs[0], &tg, big, BIG);
	res = tstore_do(&t, &reqs[0]);
	assert_int_equal(res->status, -1);
	assert_non_null(strstr(res->error, "full"));
	store_result_free(&res);

	/* The store goes on working, also with a full request inside a
	 * batch of good ones. */
	gate_init(&g);
	store_subscribe(t.store, gate_change, &g);
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			deliver_req(&reqs[i], &tg, big, BIG);
		else
			deliver_req(&reqs[i], &tg, small_msg,
				    sizeof(small_msg) - 1);
	}
	run_one_batch(&t, &g, reqs, 4, &o);
	assert_int_equal(o.status[0], 0);
	assert_int_equal(o.status[1], 0);
	assert_int_equal(o.status[2], -1);
	assert_non_null(strstr(o.error[2], "full"));
	assert_int_equal(o.status[3], 0);

	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, tg.user_id,
					       "INBOX", &mb, &error), 1);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(store_msg_list(t.reader, &t.arena, mb.id, &msgs,
					&error), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(msgs[i].size, sizeof(small_msg) - 1);
	assert_int_equal(store_blob_count(t.reader, &error), 3);
	free(big);
	tstore_deinit(&t);
	gate_deinit(&g);
}

/* ---- change events ---- */

struct events {
	pthread_mutex_t lock;
	int n;
	int64_t user[16], mailbox[16];
	uint64_t modseq[16];
};

static void record_change(void *arg, int64_t user_id, int64_t mailbox_id,
			  uint64_t modseq)
{
	struct events *e = arg;

	pthread_mutex_lock(&e->lock);
	if (e->n < 16) {
		e->user[e->n] = user_id;
		e->mailbox[e->n] = mailbox_id;
		e->modseq[e->n] = modseq;
	}
	e->n++;
	pthread_mutex_unlock(&e->lock);
}

static void test_change_events(void **state)
{
	struct store_target tg[2] = { { 0 }, { 0 } };
	struct events ev = { .n = 0 };
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req req;
	struct store_result *res;
	int64_t inbox0, inbox1, box;
	struct tstore t;

	(void)state;
	pthread_mutex_init(&ev.lock, NULL);
	tstore_init(&t, 0);
	store_subscribe(t.store, record_change, &ev);
	tstore_domain(&t, "example.com");
	tg[0].user_id = tstore_user(&t, "a@example.com");
	tg[1].user_id = tstore_user(&t, "b@example.com");
	inbox0 = tstore_inbox(&t, tg[0].user_id);
	inbox1 = tstore_inbox(&t, tg[1].user_id);
	assert_int_equal(ev.n, 0);	/* adding users changes no mailbox content */

	deliver_req(&req, tg, small_msg, sizeof(small_msg) - 1);
	req.u.deliver.n_targets = 2;
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, 0);
	/* store_submit_wait returns after the events were published */
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.user[0], tg[0].user_id);
	assert_int_equal(ev.mailbox[0], inbox0);
	assert_int_equal(ev.modseq[0], res->assigned[0].modseq);
	assert_int_equal(ev.user[1], tg[1].user_id);
	assert_int_equal(ev.mailbox[1], inbox1);
	store_result_free(&res);

	req = (struct store_req){ .type = STORE_REQ_EXPUNGE };
	req.u.expunge.mailbox_id = inbox1;
	req.u.expunge.uids = &all;
	req.u.expunge.n_uids = 1;
	res = tstore_do(&t, &req);
	assert_int_equal(ev.n, 3);
	assert_int_equal(ev.mailbox[2], inbox1);
	assert_int_equal(ev.modseq[2], res->modseq);
	store_result_free(&res);

	req = (struct store_req){ .type = STORE_REQ_MAILBOX_CREATE };
	req.u.mailbox_create.user_id = tg[0].user_id;
	req.u.mailbox_create.name = "Old";
	box = tstore_ok(&t, &req);
	req = (struct store_req){ .type = STORE_REQ_MAILBOX_DELETE };
	req.u.mailbox_delete.mailbox_id = box;
	tstore_ok(&t, &req);
	assert_int_equal(ev.n, 4);
	assert_int_equal(ev.mailbox[3], box);
	assert_int_equal(ev.modseq[3], 0);

	/* A failed request publishes nothing. */
	res = tstore_do(&t, &req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_int_equal(ev.n, 4);
	tstore_deinit(&t);
	pthread_mutex_destroy(&ev.lock);
}

static void count_done(void *arg, struct store_result *res)
{
	int *n = arg;

	if (res->status == 0)
		(*n)++;
	store_result_free(&res);
}

static void test_close_drains(void **state)
{
	struct task_queue *q = task_queue_new();
	struct store_target tg = { 0 };
	struct store_req req;
	struct tstore t;
	const char *error;
	int ok = 0;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	tg.user_id = tstore_user(&t, "bob@example.com");
	deliver_req(&req, &tg, small_msg, sizeof(small_msg) - 1);
	for (int i = 0; i < 100; i++)
		store_submit(t.store, &req, q, count_done, &ok);
	tstore_close(&t);
	assert_int_equal(task_queue_run(q), 100);
	assert_int_equal(ok, 100);

	tstore_open_at(&t, 0);
	assert_int_equal(store_blob_count(t.reader, &error), 100);
	task_queue_free(&q);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_commit_batches),
		cmocka_unit_test(test_failing_request_fails_alone),
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_change_events),
		cmocka_unit_test(test_close_drains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
