/* Unit tests for the store's cross-node pieces (store_bus.c,
 * store_nodes.c): the change bus payload read back, and, when
 * POSTHORN_TEST_PGSQL holds a connection string
 * (tests/integration/test_db_pgsql.py sets it), two stores on one
 * PostgreSQL database in this process as two nodes: a delivery through
 * one is a change event of the other's subscribers (once: a node does
 * not hear its own twice), and the maildrop lock holds between them. On
 * SQLite: one node, its own events only, every lock granted. */
#include "test_store_util.h"
#include "store/store_int.h"
#include "store/store_nodes.h"
#include "db/db.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* ---- the payload ---- */

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_change v[64];
	size_t n;
};

static struct seen *seen_new(void)
{
	struct seen *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return s;
}

static void seen_free(struct seen *s)
{
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void seen_add(void *arg, const struct store_change *c)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	if (s->n < ARRAY_SIZE(s->v))
		s->v[s->n++] = *c;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void test_parse(void **state)
{
	static const char two[] = "posthorn1 77\n3 10 500\n-4 9223372036854775807 18446744073709551615\n";
	struct seen *s = seen_new();

	(void)state;
	assert_int_equal(store_bus_parse(STR_LIT(two), 1, seen_add, s), 2);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[0].user_id, 3);
	assert_int_equal(s->v[0].mailbox_id, 10);
	assert_int_equal(s->v[0].modseq, 500);
	assert_int_equal(s->v[1].user_id, -4);
	assert_int_equal(s->v[1].mailbox_id, INT64_MAX);
	assert_true(s->v[1].modseq == UINT64_MAX);
	/* our own: counted, not reported */
	assert_int_equal(store_bus_parse(STR_LIT(two), 77, seen_add, s), 2);
	assert_int_equal(s->n, 2);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5\n"), 1, seen_add, s), 0);
	/* not ours, or broken */
	assert_int_equal(store_bus_parse(STR_LIT(""), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn2 5\n1 2 3\n"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 x\n1 2 3\n"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5\n1 2\n"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5\n1 2 3"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5\n1 2 -3\n"), 1, seen_add, s), -1);
	assert_int_equal(store_bus_parse(STR_LIT("posthorn1 5\n1 2 3 4\n"), 1, seen_add, s), -1);
	assert_int_equal(s->n, 2);
	seen_free(s);
}

/* ---- two nodes ---- */

static const char msg_text[] = "From: a@example.org\r\nSubject: bus\r\n\r\nHi.\r\n";

static bool pgsql(void)
{
	return getenv("POSTHORN_TEST_PGSQL") != NULL;
}

static void node_open(struct tstore *t)
{
	struct store_settings set = {
		.driver = "pgsql", .conninfo = getenv("POSTHORN_TEST_PGSQL"),
	};
	char *error = NULL;

	memset(t, 0, sizeof(*t));
	arena_init(&t->arena, 0);
	if (!pgsql()) {
		tstore_init(t, 0);
		return;
	}
	t->store = store_open(&set, &error);
	if (t->store == NULL)
		fail_msg("store_open: %s", error);
	t->reader = store_reader_new(t->store, &error);
	if (t->reader == NULL)
		fail_msg("store_reader_new: %s", error);
}

static void node_close(struct tstore *t)
{
	if (!pgsql()) {
		tstore_deinit(t);
		return;
	}
	tstore_close(t);
	arena_deinit(&t->arena);
}

static void on_change(void *arg, int64_t user_id, int64_t mailbox_id,
		      uint64_t modseq)
{
	struct store_change c = { user_id, mailbox_id, modseq };

	seen_add(arg, &c);
}

static uint64_t deliver(struct tstore *t, int64_t user)
{
	struct store_target target = { .user_id = user };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct store_result *res;
	uint64_t modseq;

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	res = tstore_do(t, &req);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n_assigned, 1);
	modseq = res->assigned[0].modseq;
	store_result_free(&res);
	return modseq;
}

/* How often s saw (mailbox, modseq), after waiting up to ms for one. */
static size_t seen_count(struct seen *s, int64_t mailbox, uint64_t modseq,
			 int ms)
{
	struct timespec until;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	for (;;) {
		n = 0;
		for (size_t i = 0; i < s->n; i++)
			n += s->v[i].mailbox_id == mailbox && s->v[i].modseq == modseq;
		if (n > 0 || pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void test_two_nodes(void **state)
{
	struct tstore a, b;
	struct seen *seen_a = seen_new(), *seen_b = seen_new();
	int64_t user, inbox;
	const char *error;
	uint64_t m1, m2;
	char address[64];

	(void)state;
	node_open(&a);
	assert_int_not_equal(store_node_id(a.store), 0);
	assert_int_equal(store_shared(a.store), pgsql());
	if (pgsql()) {
		node_open(&b);
		assert_int_not_equal(store_node_id(a.store), store_node_id(b.store));
	} else {
		b = a;	/* one node */
	}
	store_subscribe(a.store, on_change, seen_a);
	if (pgsql())
		store_subscribe(b.store, on_change, seen_b);
	snprintf(address, sizeof(address), "bus%ld@bus.test", (long)time(NULL));
	tstore_domain(&a, "bus.test");
	user = tstore_user(&a, address);
	inbox = tstore_inbox(&a, user);

	/* through a: a hears it at once, b through the bus */
	m1 = deliver(&a, user);
	assert_int_equal(seen_count(seen_a, inbox, m1, 0), 1);
	if (pgsql()) {
		assert_int_equal(seen_count(seen_b, inbox, m1, 5000), 1);
		/* through b: a hears it, and b once only (not its own back) */
		m2 = deliver(&b, user);
		assert_true(m2 > m1);
		assert_int_equal(seen_count(seen_a, inbox, m2, 5000), 1);
		usleep(300 * 1000);
		assert_int_equal(seen_count(seen_b, inbox, m2, 0), 1);
		assert_int_equal(seen_count(seen_a, inbox, m1, 0), 1);
	}

	/* the maildrop lock between the nodes */
	assert_int_equal(store_maildrop_lock(a.store, user, &error), 1);
	assert_int_equal(store_maildrop_lock(b.store, user, &error),
			 pgsql() ? 0 : 1);
	assert_int_equal(store_maildrop_lock(b.store, user + 1, &error), 1);
	store_maildrop_unlock(a.store, user);
	assert_int_equal(store_maildrop_lock(b.store, user, &error), 1);
	store_maildrop_unlock(b.store, user);
	store_maildrop_unlock(b.store, user + 1);
	if (!pgsql())
		store_maildrop_unlock(a.store, user);

	if (pgsql()) {
		/* a node that goes away frees its locks */
		assert_int_equal(store_maildrop_lock(b.store, user, &error), 1);
		node_close(&b);
		for (int i = 0; i < 100 &&
		     store_maildrop_lock(a.store, user, &error) != 1; i++)
			usleep(20 * 1000);
		store_maildrop_unlock(a.store, user);
	}
	node_close(&a);
	seen_free(seen_a);
	seen_free(seen_b);
}

/* ---- a deadlock with another node ---- */

struct bg_deliver {
	struct tstore *t;
	struct store_target targets[2];
	struct store_result *res;
	pthread_t thread;
};

static void *bg_deliver_main(void *arg)
{
	struct bg_deliver *bg = arg;
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = msg_text;
	req.u.deliver.size = sizeof(msg_text) - 1;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = bg->targets;
	req.u.deliver.n_targets = 2;
	store_submit_wait(bg->t->store, &req, &bg->res);
	return NULL;
}

/* Another node (a plain connection x here) holds the second INBOX and
 * then wants the first while the store's batch holds the first and waits
 * for the second: PostgreSQL gives up one of them. x waits longer before
 * it looks for deadlocks, so the store's batch is the one given up: it
 * runs again once x let go, and the delivery succeeds. */
static void test_deadlock_runs_the_batch_again(void **state)
{
	struct db_settings xs = {
		.kind = DB_PGSQL, .conninfo = getenv("POSTHORN_TEST_PGSQL"),
	};
	struct bg_deliver bg = { 0 };
	struct tstore a;
	struct db *x;
	char *error = NULL, sql[160], address[64];
	int64_t u1, u2, m1, m2;

	(void)state;
	if (!pgsql())
		skip();
	node_open(&a);
	snprintf(address, sizeof(address), "dl1-%ld@dl.test", (long)time(NULL));
	tstore_domain(&a, "dl.test");
	u1 = tstore_user(&a, address);
	address[2] = '2';
	u2 = tstore_user(&a, address);
	m1 = tstore_inbox(&a, u1);
	m2 = tstore_inbox(&a, u2);
	x = db_open(&xs, &error);
	assert_non_null(x);
	assert_int_equal(db_begin(x), 0);
	assert_int_equal(db_exec(x, "SET LOCAL deadlock_timeout = '20s'"), 0);
	snprintf(sql, sizeof(sql), "SELECT id FROM mailboxes WHERE id = %lld"
		 " FOR UPDATE", (long long)m2);
	assert_int_equal(db_exec(x, sql), 0);
	bg.t = &a;
	bg.targets[0].user_id = u1;
	bg.targets[1].user_id = u2;
	assert_int_equal(pthread_create(&bg.thread, NULL, bg_deliver_main, &bg), 0);
	usleep(300 * 1000);	/* the batch holds m1 and waits for m2 */
	snprintf(sql, sizeof(sql), "SELECT id FROM mailboxes WHERE id = %lld"
		 " FOR UPDATE", (long long)m1);
	/* waits until the store's batch was given up and let go */
	assert_int_equal(db_exec(x, sql), 0);
	db_rollback(x);
	pthread_join(bg.thread, NULL);
	assert_non_null(bg.res);
	if (bg.res->status != 0)
		fail_msg("the delivery failed: %s", bg.res->error);
	assert_int_equal(bg.res->n_assigned, 2);
	store_result_free(&bg.res);
	db_close(&x);
	node_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_deadlock_runs_the_batch_again),
	};

	printf("store driver: %s\n", pgsql() ? "pgsql" : "sqlite");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
