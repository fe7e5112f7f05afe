/* Unit tests for the writer-extension interface (store/store_txn.h): a
 * STORE_REQ_EXT runs in the batch transaction, in its own savepoint: one
 * that fails rolls back only its own writes, the others of its batch
 * commit; one that succeeds is durable only with its batch's commit; a
 * store request it applies through store_txn_apply() is all or none with
 * its own work. */
#include "test_store_util.h"
#include "store/store_txn.h"
#include "base/task_queue.h"
#include "db/db.h"

#include <poll.h>
#include <pthread.h>

static const char sql_domain_insert[] =
	"INSERT INTO domains(name) VALUES(?1)";

/* What an ext request does: insert its domain, then (fail) fail; or
 * (block) wait until the test lets it go, to hold the writer so that the
 * requests submitted meanwhile make up one batch. */
struct ext_work {
	struct store_req req;
	const char *domain;	/* NULL: insert nothing */
	bool fail;
	bool block;
	bool nested;		/* add nested_domain by store_txn_apply */
	const char *nested_domain;
	struct store_result *result;	/* the completion's */
	bool done;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;

static int ext_run(struct store_txn *t, const void *arg,
		   struct store_result *res, const char **error_r)
{
	const struct ext_work *w = arg;
	struct store_conn *c = store_txn_conn(t);

	(void)res;
	if (w->block) {
		pthread_mutex_lock(&gate_lock);
		gate_entered = true;
		pthread_cond_broadcast(&gate_cond);
		while (!gate_open)
			pthread_cond_wait(&gate_cond, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
	}
	if (w->domain != NULL) {
		struct db_stmt *st = store_stmt(c, sql_domain_insert, error_r);

		if (st == NULL)
			return -1;
		db_bind_cstr(st, 1, w->domain);
		if (store_run(c, st, error_r) < 0)
			return -1;
	}
	if (w->nested) {
		struct store_req add = { .type = STORE_REQ_DOMAIN_ADD };
		struct store_result sub = { 0 };

		add.u.domain.name = w->nested_domain;
		if (store_txn_apply(t, &add, &sub, error_r) < 0)
			return -1;
	}
	if (w->fail) {
		*error_r = store_db_fail(c, "ext: asked to fail");
		return -1;
	}
	return 0;
}

static void ext_init(struct ext_work *w)
{
	w->req.type = STORE_REQ_EXT;
	w->req.u.ext.fn = ext_run;
	w->req.u.ext.arg = w;
}

static void ext_done(void *arg, struct store_result *result)
{
	struct ext_work *w = arg;

	w->result = result;
	w->done = true;
}

static void wait_done(struct task_queue *q, struct ext_work *const *v,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		while (!v[i]->done) {
			struct pollfd pfd = { .fd = task_queue_fd(q),
					      .events = POLLIN };

			assert_true(poll(&pfd, 1, 10000) > 0);
			task_queue_run(q);
		}
	}
}

/* Submit the blocker, then (while the writer holds it) the others, which
 * the writer takes as one batch once the blocker is let go. */
static void run_batch(struct tstore *t, struct ext_work *blocker,
		      struct ext_work *const *v, size_t n)
{
	struct task_queue *q = task_queue_new();
	struct ext_work *b[] = { blocker };

	gate_open = gate_entered = false;
	store_submit(t->store, &blocker->req, q, ext_done, blocker);
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (size_t i = 0; i < n; i++)
		store_submit(t->store, &v[i]->req, q, ext_done, v[i]);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	wait_done(q, b, 1);
	wait_done(q, v, n);
	task_queue_free(&q);
}

static bool domain_exists(struct tstore *t, const char *name)
{
	const char *error;
	int ret = store_domain_exists(t->reader, name, &error);

	assert_true(ret >= 0);
	return ret == 1;
}

static void test_failure_rolls_back_only_itself(void **state)
{
	struct ext_work blocker = { .block = true };
	struct ext_work bad = { .domain = "bad.test", .fail = true };
	struct ext_work good = { .domain = "good.test" };
	struct ext_work later = { .domain = "later.test" };
	struct ext_work *v[] = { &bad, &good, &later };
	struct store_stats before, after;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	ext_init(&blocker);
	ext_init(&bad);
	ext_init(&good);
	ext_init(&later);
	store_get_stats(t.store, &before);
	run_batch(&t, &blocker, v, ARRAY_SIZE(v));
	store_get_stats(t.store, &after);
	/* the blocker's batch, then one for the three */
	assert_int_equal(after.commits - before.commits, 2);
	assert_int_equal(after.requests - before.requests, 4);
	assert_int_equal(after.failed - before.failed, 1);

	assert_int_equal(bad.result->status, -1);
	assert_non_null(strstr(bad.result->error, "asked to fail"));
	assert_int_equal(good.result->status, 0);
	assert_int_equal(later.result->status, 0);
	assert_false(domain_exists(&t, "bad.test"));
	assert_true(domain_exists(&t, "good.test"));
	assert_true(domain_exists(&t, "later.test"));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		store_result_free(&v[i]->result);
	store_result_free(&blocker.result);
	tstore_deinit(&t);
}

static void test_success_commits_with_batch(void **state)
{
	struct db_fault *fault = db_fault_new();
	struct ext_work blocker = { .block = true };
	struct ext_work ext = { .domain = "ext.test" };
	struct store_req plain_req = { .type = STORE_REQ_DOMAIN_ADD };
	struct ext_work *v[] = { &ext };
	struct store_result *res;
	struct tstore t;

	(void)state;
	tstore_init_fault(&t, 0, fault);
	ext_init(&blocker);
	ext_init(&ext);
	/* the blocker's batch commits; the next one's commit fails */
	db_fault_fail_commit(fault, 2);
	run_batch(&t, &blocker, v, ARRAY_SIZE(v));
	assert_int_equal(blocker.result->status, 0);
	assert_int_equal(ext.result->status, -1);
	assert_non_null(strstr(ext.result->error, "store commit failed"));
	assert_false(domain_exists(&t, "ext.test"));
	store_result_free(&ext.result);
	store_result_free(&blocker.result);

	/* as it runs again, it is durable with its batch */
	ext.done = false;
	blocker.done = false;
	run_batch(&t, &blocker, v, ARRAY_SIZE(v));
	assert_int_equal(ext.result->status, 0);
	assert_true(domain_exists(&t, "ext.test"));
	store_result_free(&ext.result);
	store_result_free(&blocker.result);

	/* the store's own requests go on around it */
	plain_req.u.domain.name = "plain.test";
	res = tstore_do(&t, &plain_req);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	tstore_close(&t);
	/* and it is there after a reopen */
	tstore_open_at(&t, 0);
	assert_true(domain_exists(&t, "ext.test"));
	assert_true(domain_exists(&t, "plain.test"));
	tstore_deinit(&t);
	db_fault_free(&fault);
}

static void test_nested_apply_all_or_none(void **state)
{
	struct ext_work both = { .domain = "one.test", .nested = true,
				 .nested_domain = "two.test" };
	struct ext_work none = { .domain = "three.test", .nested = true,
				 .nested_domain = "four.test", .fail = true };
	struct ext_work dup = { .nested = true, .nested_domain = "one.test" };
	struct store_result *res;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	ext_init(&both);
	ext_init(&none);
	ext_init(&dup);
	res = tstore_do(&t, &both.req);
	assert_int_equal(res->status, 0);
	store_result_free(&res);
	assert_true(domain_exists(&t, "one.test"));
	assert_true(domain_exists(&t, "two.test"));

	/* its own failure after the nested request takes both back */
	res = tstore_do(&t, &none.req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_false(domain_exists(&t, "three.test"));
	assert_false(domain_exists(&t, "four.test"));

	/* a nested request's failure is the ext's */
	res = tstore_do(&t, &dup.req);
	assert_int_equal(res->status, -1);
	store_result_free(&res);
	assert_true(domain_exists(&t, "one.test"));
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_rolls_back_only_itself),
		cmocka_unit_test(test_success_commits_with_batch),
		cmocka_unit_test(test_nested_apply_all_or_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
