/* Unit tests for src/db: the same cases on SQLite (a file in a temporary
 * directory) and, when POSTHORN_TEST_PGSQL holds a libpq connection string
 * (tests/integration/test_db_pgsql.py starts a cluster and sets it), on
 * PostgreSQL: every bind and column type, RETURNING and ON CONFLICT,
 * changes, transactions and savepoints, errors and recovery, the
 * statement cache, migrations, read snapshots. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_types_and_rows, setup),
		cmocka_unit_test_setup(test_returning_conflict_count, setup),
		cmocka_unit_test_setup(test_transactions_savepoints_errors, setup),
		cmocka_unit_test_setup(test_fault, setup),
		cmocka_unit_test_setup(test_read_snapshot, setup),
		cmocka_unit_test_setup(test_migrations, setup),
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
