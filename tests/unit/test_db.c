/* Unit tests for src/db: the same cases on SQLite (a file in a temporary
 * directory) and, when POSTHORN_TEST_PGSQL holds a libpq connection string
 * (tests/integration/test_db_pgsql.py starts a cluster and sets it), on
 * PostgreSQL: every bind and column type, RETURNING and ON CONFLICT,
 * changes, transactions and savepoints, errors and recovery, the
 * statement cache, migrations, read snapshots, blob reads by range. */
#include "unit.h"

#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];

/* The suite's database: a fresh one for each test. */
static struct db_settings settings(bool writer)
{
	const char *conninfo = getenv("POSTHORN_TEST_PGSQL");

	return (struct db_settings){
		.kind = conninfo != NULL ? DB_PGSQL : DB_SQLITE,
		.path = path,
		.conninfo = conninfo,
		.fsync = false,
		.writer = writer,
	};
}

static struct db *open_db(bool writer)
{
	struct db_settings set = settings(writer);
	char *error = NULL;
	struct db *db = db_open(&set, &error);

	if (db == NULL)
		fail_msg("db_open: %s", error);
	return db;
}

static const char *blob_type(struct db *db)
{
	return db_kind(db) == DB_PGSQL ? "BYTEA" : "BLOB";
}

static int setup(void **state)
{
	struct db *db;
	char sql[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	unlink(path);
	db = open_db(true);
	(void)db_exec(db, "DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS m;"
		      "DROP TABLE IF EXISTS posthorn_schema");
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE t(id BIGINT PRIMARY KEY, name TEXT NOT NULL "
		 "UNIQUE, n BIGINT, data %s)", blob_type(db));
	assert_int_equal(db_exec(db, sql), 0);
	db_close(&db);
	return 0;
}

static void test_types_and_rows(void **state)
{
	static const char ins[] =
		"INSERT INTO t(id, name, n, data) VALUES(?1, ?2, ?3, ?4)";
	static const char sel[] =
		"SELECT id, name, n, data FROM t WHERE id >= ?1 ORDER BY id";
	struct db *db = open_db(true);
	struct db_stmt *st = db_prepare(db, ins);
	const char bin[5] = { 'a', 0, 'b', '\xff', 0 };

	(void)state;
	assert_non_null(st);
	assert_ptr_equal(db_prepare(db, ins), st);	/* cached */
	db_bind_int(st, 1, 1);
	db_bind_cstr(st, 2, "one");
	db_bind_int(st, 3, INT64_C(-9000000000));
	db_bind_blob(st, 4, bin, sizeof(bin));
	assert_int_equal(db_run(st), 0);
	assert_int_equal(db_changes(st), 1);
	db_bind_int(st, 1, 2);
	db_bind_text(st, 2, str_make("two and more", 3));
	db_bind_null(st, 3);
	db_bind_blob(st, 4, NULL, 0);
	assert_int_equal(db_run(st), 0);
	st = db_prepare(db, sel);
	db_bind_int(st, 1, 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 1);
	assert_true(str_eq(db_col_text(st, 1), STR_LIT("one")));
	assert_int_equal(db_col_int(st, 2), INT64_C(-9000000000));
	assert_true(str_eq(db_col_blob(st, 3), str_make(bin, sizeof(bin))));
	assert_false(db_col_null(st, 2));
	assert_int_equal(db_step(st), 1);
	assert_true(str_eq(db_col_text(st, 1), STR_LIT("two")));
	assert_true(db_col_null(st, 2));
	assert_int_equal(db_col_int(st, 2), 0);
	assert_int_equal(db_col_blob(st, 3).n, 0);
	assert_false(db_col_null(st, 3));
	assert_int_equal(db_step(st), 0);
	/* again, reset half-way */
	db_bind_int(st, 1, 0);
	assert_int_equal(db_step(st), 1);
	db_reset(st);
	db_bind_int(st, 1, 2);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 2);
	db_reset(st);
	db_close(&db);
}

static void test_returning_conflict_count(void **state)
{
	static const char ins[] = "INSERT INTO t(id, name, n) VALUES(?1, ?2, 0)"
		" ON CONFLICT (name) DO NOTHING";
	static const char upd[] = "UPDATE t SET n = n + ?1 WHERE name = ?2"
		" RETURNING n, id";
	static const char sum[] = "SELECT CAST(coalesce(sum(n), 0) AS BIGINT),"
		" count(*) FROM t";
	struct db *db = open_db(true);
	struct db_stmt *st = db_prepare(db, ins);

	(void)state;
	for (int i = 0; i < 3; i++) {
		db_bind_int(st, 1, 10 + i);
		db_bind_cstr(st, 2, "x");
		assert_int_equal(db_run(st), 0);
		assert_int_equal(db_changes(st), i == 0 ? 1 : 0);
	}
	st = db_prepare(db, upd);
	db_bind_int(st, 1, 5);
	db_bind_cstr(st, 2, "x");
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 5);
	assert_int_equal(db_col_int(st, 1), 10);
	assert_int_equal(db_step(st), 0);
	st = db_prepare(db, sum);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 5);
	assert_int_equal(db_col_int(st, 1), 1);
	assert_int_equal(db_step(st), 0);
	db_close(&db);
}

static int64_t count_rows(struct db *db)
{
	static const char sql[] = "SELECT count(*) FROM t";
	struct db_stmt *st = db_prepare(db, sql);
	int64_t n;

	assert_int_equal(db_step(st), 1);
	n = db_col_int(st, 0);
	db_reset(st);
	return n;
}

static void insert(struct db *db, int64_t id, const char *name, int want)
{
	static const char sql[] = "INSERT INTO t(id, name) VALUES(?1, ?2)";
	struct db_stmt *st = db_prepare(db, sql);

	db_bind_int(st, 1, id);
	db_bind_cstr(st, 2, name);
	assert_int_equal(db_run(st), want);
}

static void test_transactions_savepoints_errors(void **state)
{
	struct db *db = open_db(true);

	(void)state;
	assert_false(db_in_transaction(db));
	assert_int_equal(db_begin(db), 0);
	assert_true(db_in_transaction(db));
	insert(db, 1, "a", 0);
	db_rollback(db);
	assert_false(db_in_transaction(db));
	assert_int_equal(count_rows(db), 0);
	/* A batch of three requests, the second failing: its savepoint
	 * is rolled back, the others commit. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_savepoint(db), 0);
	insert(db, 1, "a", 0);
	assert_int_equal(db_release(db), 0);
	assert_int_equal(db_savepoint(db), 0);
	insert(db, 2, "b", 0);
	insert(db, 3, "a", -1);	/* UNIQUE(name) */
	assert_non_null(strstr(db_error(db), "step"));
	assert_false(db_error_retry(db));
	assert_true(db_error_constraint(db));
	db_rollback_to(db);
	assert_true(db_in_transaction(db));
	assert_int_equal(db_savepoint(db), 0);
	insert(db, 4, "d", 0);
	assert_int_equal(db_release(db), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(db), 2);
	/* A bad statement is an error, not a crash, and the connection
	 * goes on. */
	assert_null(db_prepare(db, "SELECT nonsense FROM nowhere"));
	assert_false(db_error_constraint(db));
	assert_int_equal(db_exec(db, "THIS IS NOT SQL"), -1);
	assert_int_equal(count_rows(db), 2);
	db_close(&db);
}

/* The test double: the statement or commit it is told to fail fails (a
 * statement counts once, inside a savepoint only), the connection goes
 * on; db_idle() is harmless on either driver. */
static void test_fault(void **state)
{
	static const char sel[] = "SELECT id FROM t ORDER BY id";
	struct db_fault *f = db_fault_new();
	struct db_settings set = settings(true);
	struct db_stmt *st;
	struct db *db;
	char *error = NULL;

	(void)state;
	set.fault = f;
	db = db_open(&set, &error);
	assert_non_null(db);
	db_fault_fail_statement(f, 4);
	insert(db, 1, "a", 0);	/* outside a savepoint: not counted */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_savepoint(db), 0);
	insert(db, 2, "b", 0);
	insert(db, 3, "c", 0);
	st = db_prepare(db, sel);
	assert_int_equal(db_step(st), 1);	/* the 3rd */
	assert_int_equal(db_step(st), 1);	/* rows do not count */
	db_reset(st);
	assert_int_equal(db_fault_statements(f), 3);
	db_fault_fail_statement(f, 2);
	insert(db, 4, "d", 0);
	insert(db, 5, "e", -1);
	assert_non_null(strstr(db_error(db), "injected failure"));
	assert_false(db_error_retry(db));
	insert(db, 6, "f", 0);	/* once only */
	db_rollback_to(db);
	assert_int_equal(db_release(db), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(db), 1);

	/* a commit of a transaction with a savepoint fails and rolls back */
	db_fault_fail_commit(f, 1);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_savepoint(db), 0);
	insert(db, 7, "g", 0);
	assert_int_equal(db_release(db), 0);
	assert_int_equal(db_commit(db), -1);
	assert_non_null(strstr(db_error(db), "injected failure"));
	assert_false(db_in_transaction(db));
	assert_int_equal(count_rows(db), 1);
	db_idle(db);
	insert(db, 8, "h", 0);
	assert_int_equal(count_rows(db), 2);
	db_close(&db);
	db_fault_free(&f);
}

static void test_read_snapshot(void **state)
{
	struct db *w = open_db(true), *r = open_db(false);

	(void)state;
	insert(w, 1, "a", 0);
	assert_int_equal(db_begin_read(r), 0);
	assert_int_equal(count_rows(r), 1);
	insert(w, 2, "b", 0);
	/* the reader's snapshot does not move */
	assert_int_equal(count_rows(r), 1);
	assert_int_equal(db_commit(r), 0);
	assert_int_equal(count_rows(r), 2);
	db_close(&r);
	db_close(&w);
}

static void test_migrations(void **state)
{
	static const char *const v2[] = {
		"CREATE TABLE m(a BIGINT)",
		"ALTER TABLE m ADD COLUMN b BIGINT",
	};
	static const char *const v3_bad[] = {
		"CREATE TABLE m(a BIGINT)",
		"ALTER TABLE m ADD COLUMN b BIGINT",
		"ALTER TABLE nowhere ADD COLUMN c BIGINT",
	};
	struct db *db = open_db(true);

	(void)state;
	assert_int_equal(db_schema_version(db), 0);
	assert_int_equal(db_migrate(db, v2, 1), 0);
	assert_int_equal(db_schema_version(db), 1);
	assert_int_equal(db_migrate(db, v2, 2), 0);
	assert_int_equal(db_schema_version(db), 2);
	assert_int_equal(db_migrate(db, v2, 2), 0);	/* nothing to do */
	/* a failing step leaves the version where it was */
	assert_int_equal(db_migrate(db, v3_bad, 3), -1);
	assert_non_null(strstr(db_error(db), "migration 3"));
	assert_int_equal(db_schema_version(db), 2);
	/* a program older than the database refuses it */
	assert_int_equal(db_migrate(db, v2, 1), -1);
	assert_non_null(strstr(db_error(db), "version 2"));
	db_close(&db);
}

/* db_blob_read at the edges of a small and a 2 MB value, in and out of a
 * transaction, one row after another, and of a row that is not there. */
static void test_blob_read(void **state)
{
	static const char ins[] =
		"INSERT INTO t(id, name, n, data) VALUES(?1, ?2, 0, ?3)";
	const size_t sizes[] = { 0, 1, 300, 2 * 1024 * 1024 + 3 };
	struct db *db = open_db(true);
	struct db_stmt *st;
	char *data[4], buf[512], name[16];
	uint64_t size;
	size_t got;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		data[i] = xmalloc(sizes[i] + 1);
		for (size_t j = 0; j < sizes[i]; j++)
			data[i][j] = (char)(j * 31 + i + j / 1000);
		snprintf(name, sizeof(name), "b%zu", i);
		assert_non_null(st = db_prepare(db, ins));
		db_bind_int(st, 1, (int64_t)i + 1);
		db_bind_cstr(st, 2, name);
		db_bind_blob(st, 3, data[i], sizes[i]);
		assert_int_equal(db_run(st), 0);
	}
	for (int in_tx = 0; in_tx < 2; in_tx++) {
		if (in_tx)
			assert_int_equal(db_begin_read(db), 0);
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			size_t n = sizes[i];
			int64_t id = (int64_t)i + 1;

			/* zero length: nothing, and the size */
			size = 99;
			got = 99;
			assert_int_equal(db_blob_read(db, "t", "data", id, 0, buf,
						      0, &got, &size), 1);
			assert_int_equal(got, 0);
			assert_int_equal(size, n);
			/* from the start, longer than the value: all of it */
			assert_int_equal(db_blob_read(db, "t", "data", id, 0, buf,
						      sizeof(buf), &got, NULL), 1);
			assert_int_equal(got, MIN(n, sizeof(buf)));
			if (got > 0)
				assert_memory_equal(buf, data[i], got);
			/* at and past the end: nothing */
			assert_int_equal(db_blob_read(db, "t", "data", id, n, buf,
						      10, &got, NULL), 1);
			assert_int_equal(got, 0);
			assert_int_equal(db_blob_read(db, "t", "data", id,
						      UINT64_MAX, buf, 10, &got,
						      NULL), 1);
			assert_int_equal(got, 0);
			if (n == 0)
				continue;
			/* the last byte, and a range running past the end */
			assert_int_equal(db_blob_read(db, "t", "data", id, n - 1,
						      buf, 1, &got, NULL), 1);
			assert_int_equal(got, 1);
			assert_int_equal(buf[0], data[i][n - 1]);
			assert_int_equal(db_blob_read(db, "t", "data", id, n / 2,
						      buf, sizeof(buf), &got,
						      NULL), 1);
			assert_int_equal(got, MIN(sizeof(buf), n - n / 2));
			assert_memory_equal(buf, data[i] + n / 2, got);
		}
		/* a row that does not exist */
		got = 99;
		assert_int_equal(db_blob_read(db, "t", "data", 4242, 0, buf, 10,
					      &got, NULL), 0);
		assert_int_equal(got, 0);
		/* and the next read works again */
		assert_int_equal(db_blob_read(db, "t", "data", 3, 5, buf, 4,
					      &got, NULL), 1);
		assert_memory_equal(buf, data[2] + 5, 4);
		if (in_tx)
			db_rollback(db);
	}
	/* an error is an error: a column that is not there */
	assert_int_equal(db_blob_read(db, "t", "nosuch", 1, 0, buf, 4, &got,
				      NULL), -1);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		free(data[i]);
	db_close(&db);
}

/* db_blob_write: a zeroblob row filled in place on SQLite, the same bytes
 * read back; PostgreSQL has no use for it and says so. */
static void test_blob_write(void **state)
{
	struct db *db = open_db(true);
	struct db_stmt *st;
	size_t n = 200 * 1024 + 7, got;
	char *data = xmalloc(n), *back = xmalloc(n);

	(void)state;
	for (size_t j = 0; j < n; j++)
		data[j] = (char)(j * 7 + j / 999);
	if (db_kind(db) == DB_PGSQL) {
		assert_int_equal(db_blob_write(db, "t", "data", 1, data, n), -1);
		assert_non_null(strstr(db_error(db), "not supported"));
	} else {
		assert_non_null(st = db_prepare(db, "INSERT INTO t(id, name, n,"
						" data) VALUES(1, 'w', 0, zeroblob(?1))"));
		db_bind_int(st, 1, (int64_t)n);
		assert_int_equal(db_run(st), 0);
		assert_int_equal(db_blob_write(db, "t", "data", 1, data, n), 0);
		assert_int_equal(db_blob_read(db, "t", "data", 1, 0, back, n,
					      &got, NULL), 1);
		assert_int_equal(got, n);
		assert_memory_equal(back, data, n);
		/* more than the room: an error, the row unchanged */
		assert_int_equal(db_blob_write(db, "t", "data", 1, data, n + 1), -1);
		/* no such row */
		assert_int_equal(db_blob_write(db, "t", "data", 9, data, 1), -1);
	}
	free(data);
	free(back);
	db_close(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_types_and_rows, setup),
		cmocka_unit_test_setup(test_returning_conflict_count, setup),
		cmocka_unit_test_setup(test_transactions_savepoints_errors, setup),
		cmocka_unit_test_setup(test_fault, setup),
		cmocka_unit_test_setup(test_read_snapshot, setup),
		cmocka_unit_test_setup(test_migrations, setup),
		cmocka_unit_test_setup(test_blob_read, setup),
		cmocka_unit_test_setup(test_blob_write, setup),
	};
	int ret;

	/* The pgsql run checks that it ran on the driver it asked for. */
	printf("db driver: %s\n", db_kind_name(settings(true).kind));
	snprintf(dir, sizeof(dir), "/tmp/posthorn-test-db-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		ret = 1;
	return ret;
}
