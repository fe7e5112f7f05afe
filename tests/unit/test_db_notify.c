/* Unit tests for src/db/db_notify.c: on SQLite the one-node definitions
 * (nothing sent or received, every lock granted); on PostgreSQL, when
 * POSTHORN_TEST_PGSQL holds a connection string
 * (tests/integration/test_db_pgsql.py starts a cluster and sets
 * it), NOTIFY delivered at commit only, in order, to a listener watching
 * its fd, and advisory locks held per connection and freed when it
 * ends. */
#include "unit.h"

#include "db/db_notify.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static struct db *open_db(void)
{
	const char *conninfo = getenv("POSTHORN_TEST_PGSQL");
	struct db_settings set = {
		.kind = conninfo != NULL ? DB_PGSQL : DB_SQLITE,
		.path = path,
		.conninfo = conninfo,
		.writer = true,
	};
	char *error = NULL;
	struct db *db = db_open(&set, &error);

	if (db == NULL)
		fail_msg("db_open: %s", error);
	return db;
}

static bool pgsql(void)
{
	return getenv("POSTHORN_TEST_PGSQL") != NULL;
}

/* The next notification of l within timeout_ms: 1, or 0 when none came. */
static int next(struct db *l, struct db_notification *n, int timeout_ms)
{
	int ret;

	while ((ret = db_notify_read(l, n)) == 0) {
		struct pollfd p = { .fd = db_notify_fd(l), .events = POLLIN };

		if (p.fd < 0 || poll(&p, 1, timeout_ms) <= 0)
			return 0;
	}
	assert_int_equal(ret, 1);
	return 1;
}

static void test_notify_at_commit(void **state)
{
	struct db *l = open_db(), *w = open_db();
	struct db_notification n;

	(void)state;
	assert_int_equal(db_listen(l, "posthorn_t"), 0);
	assert_int_equal(db_listen(l, "Bad-Name"), -1);
	assert_int_equal(db_notify(w, "no;way", STR_LIT("x")), -1);
	/* not delivered before the commit, nor at all on a rollback */
	assert_int_equal(db_begin(w), 0);
	assert_int_equal(db_notify(w, "posthorn_t", STR_LIT("rolled back")), 0);
	assert_int_equal(next(l, &n, 100), 0);
	db_rollback(w);
	assert_int_equal(db_begin(w), 0);
	assert_int_equal(db_notify(w, "posthorn_t", STR_LIT("1 2 3 4")), 0);
	assert_int_equal(db_notify(w, "posthorn_t", STR_LIT("1 2 3 5")), 0);
	assert_int_equal(db_notify(w, "posthorn_other", STR_LIT("elsewhere")), 0);
	assert_int_equal(next(l, &n, 100), 0);
	assert_int_equal(db_commit(w), 0);
	if (!pgsql()) {
		/* one node: nothing travels, no fd to watch */
		assert_false(db_shared(w));
		assert_int_equal(db_notify_fd(l), -1);
		assert_int_equal(next(l, &n, 10), 0);
		assert_int_equal(db_backend_pid(w), 0);
		db_close(&l);
		db_close(&w);
		return;
	}
	assert_true(db_shared(w));
	assert_true(db_notify_fd(l) >= 0);
	assert_int_equal(next(l, &n, 5000), 1);
	assert_string_equal(n.channel, "posthorn_t");
	assert_string_equal(n.payload, "1 2 3 4");
	assert_int_equal(n.payload_len, 7);
	assert_int_equal(n.sender_pid, db_backend_pid(w));
	assert_int_not_equal(n.sender_pid, db_backend_pid(l));
	assert_int_equal(next(l, &n, 5000), 1);
	assert_string_equal(n.payload, "1 2 3 5");
	/* a channel not listened to is not heard */
	assert_int_equal(next(l, &n, 100), 0);
	/* outside a transaction: at once; a long payload whole */
	{
		char big[DB_PAYLOAD_MAX + 1];

		memset(big, 'p', sizeof(big));
		assert_int_equal(db_notify(w, "posthorn_t",
					   str_make(big, DB_PAYLOAD_MAX)), 0);
		assert_int_equal(db_notify(w, "posthorn_t",
					   str_make(big, sizeof(big))), -1);
		assert_int_equal(next(l, &n, 5000), 1);
		assert_int_equal(n.payload_len, DB_PAYLOAD_MAX);
	}
	/* a lost listening connection says so */
	{
		char sql[64];

		snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)",
			 db_backend_pid(l));
		assert_int_equal(db_exec(w, sql), 0);
		for (int i = 0; i < 100; i++) {
			int ret = db_notify_read(l, &n);

			if (ret < 0)
				break;
			assert_int_equal(ret, 0);
			usleep(20 * 1000);
			assert_true(i < 99);
		}
		assert_non_null(strstr(db_error(l), "listen"));
	}
	db_close(&l);
	db_close(&w);
}

static void test_advisory_locks(void **state)
{
	const int64_t key = INT64_C(0x0100000000000007);
	struct db *a = open_db(), *b = open_db();

	(void)state;
	assert_int_equal(db_lock_try(a, key), 1);
	if (!pgsql()) {
		/* one node: granted, and unlocking never fails */
		assert_int_equal(db_lock_try(b, key), 1);
		assert_int_equal(db_unlock(a, key), 0);
		assert_int_equal(db_unlock(b, key), 0);
		db_close(&a);
		db_close(&b);
		return;
	}
	assert_int_equal(db_lock_try(b, key), 0);
	/* another key, the same low bits: free */
	assert_int_equal(db_lock_try(b, key ^ INT64_C(0x0300000000000000)), 1);
	assert_int_equal(db_lock_try(b, -key), 1);
	/* locks outlive transactions */
	assert_int_equal(db_begin(a), 0);
	db_rollback(a);
	assert_int_equal(db_lock_try(b, key), 0);
	/* they stack per connection */
	assert_int_equal(db_lock_try(a, key), 1);
	assert_int_equal(db_unlock(a, key), 0);
	assert_int_equal(db_lock_try(b, key), 0);
	assert_int_equal(db_unlock(a, key), 0);
	assert_int_equal(db_unlock(a, key), -1);
	assert_non_null(strstr(db_error(a), "not held"));
	assert_int_equal(db_lock_try(b, key), 1);
	assert_int_equal(db_lock_try(a, key), 0);
	/* a connection's end frees its locks (a killed node's) */
	db_close(&b);
	for (int i = 0; i < 100 && db_lock_try(a, key) != 1; i++)
		usleep(20 * 1000);
	assert_int_equal(db_unlock(a, key), 0);
	db_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_at_commit),
		cmocka_unit_test(test_advisory_locks),
	};
	int ret;

	printf("db driver: %s\n", pgsql() ? "pgsql" : "sqlite");
	snprintf(dir, sizeof(dir), "/tmp/posthorn-test-db-notify-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		ret = 1;
	return ret;
}
