/* db.c: what every driver shares: opening by kind, the per-connection
 * cache of prepared statements (by the SQL literal's address), errors and
 * the transaction statements. */
#include "db/db_int.h"

#include <stdio.h>

static const struct db_driver *db_driver(enum db_kind kind)
{
	return kind == DB_PGSQL ? &db_driver_pgsql : &db_driver_sqlite;
}

const char *db_kind_name(enum db_kind kind)
{
	return kind == DB_PGSQL ? "pgsql" : "sqlite";
}

struct db *db_open(const struct db_settings *set, char **error_r)
{
	const struct db_driver *drv = db_driver(set->kind);
	struct db *db = drv->open(set, error_r);

	if (db == NULL)
		return NULL;
	db->drv = drv;
	db->fault = set->fault;
	db->cache_cap = 64;
	db->cache = xcalloc(db->cache_cap, sizeof(*db->cache));
	return db;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	for (size_t i = 0; i < db->cache_cap; i++) {
		if (db->cache[i].st != NULL)
			db->drv->finalize(db->cache[i].st);
	}
	free(db->cache);
	db->drv->close(db);
	*dbp = NULL;
}

enum db_kind db_kind(const struct db *db)
{
	return db->drv->kind;
}

const char *db_error(struct db *db)
{
	return db->error;
}

bool db_error_retry(struct db *db)
{
	return db->error_retry;
}

bool db_error_unavailable(struct db *db)
{
	return db->error_unavailable;
}

bool db_error_constraint(struct db *db)
{
	return db->error_constraint;
}

int db_fail(struct db *db, bool retry, const char *what, const char *detail)
{
	snprintf(db->error, sizeof(db->error), "%s: %s", what,
		 detail != NULL ? detail : "unknown error");
	/* Drivers' messages may end in a newline (libpq's do). */
	for (size_t n = strlen(db->error); n > 0 && db->error[n - 1] == '\n'; n--)
		db->error[n - 1] = '\0';
	db->error_retry = retry;
	db->error_constraint = false;
	db->error_unavailable = false;
	return -1;
}

int db_exec(struct db *db, const char *sql)
{
	return db->drv->exec(db, sql);
}

/* ---- the statement cache ---- */

static size_t db_cache_index(const struct db *db, const char *sql)
{
	size_t i = (size_t)(((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ULL) &
		   (db->cache_cap - 1);

	while (db->cache[i].sql != NULL && db->cache[i].sql != sql)
		i = (i + 1) & (db->cache_cap - 1);
	return i;
}

static void db_cache_grow(struct db *db)
{
	struct db_cache_slot *old = db->cache;
	size_t old_cap = db->cache_cap;

	db->cache_cap *= 2;
	db->cache = xcalloc(db->cache_cap, sizeof(*db->cache));
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].sql != NULL)
			db->cache[db_cache_index(db, old[i].sql)] = old[i];
	}
	free(old);
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
	size_t i = db_cache_index(db, sql);
	struct db_stmt *st;

	if (db->cache[i].sql == sql)
		return db->cache[i].st;
	st = db->drv->prepare(db, sql);
	if (st == NULL)
		return NULL;
	st->db = db;
	st->sql = sql;
	if ((db->cache_n + 1) * 2 > db->cache_cap) {
		db_cache_grow(db);
		i = db_cache_index(db, sql);
	}
	db->cache[i] = (struct db_cache_slot){ sql, st };
	db->cache_n++;
	return st;
}

/* ---- statements ---- */

void db_bind_int(struct db_stmt *st, int i, int64_t v)
{
	st->db->drv->bind_int(st, i, v);
}

void db_bind_text(struct db_stmt *st, int i, struct str s)
{
	st->db->drv->bind_text(st, i, s);
}

void db_bind_cstr(struct db_stmt *st, int i, const char *s)
{
	st->db->drv->bind_text(st, i, str_c(s != NULL ? s : ""));
}

void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	st->db->drv->bind_blob(st, i, p, n);
}

void db_bind_null(struct db_stmt *st, int i)
{
	st->db->drv->bind_null(st, i);
}

int db_step(struct db_stmt *st)
{
	int ret;

	/* without a test double: one branch that is never taken */
	if (st->db->fault != NULL && !st->running && st->db->savepoints > 0 &&
	    db_fault_statement(st->db)) {
		st->db->drv->reset(st);
		return -1;
	}
	ret = st->db->drv->step(st);
	st->running = ret == 1;
	return ret;
}

void db_reset(struct db_stmt *st)
{
	st->running = false;
	st->db->drv->reset(st);
}

int db_run(struct db_stmt *st)
{
	int ret = db_step(st);

	if (ret > 0)
		db_reset(st);
	return ret < 0 ? -1 : 0;
}

int64_t db_changes(struct db_stmt *st)
{
	return st->db->drv->changes(st);
}

int64_t db_col_int(struct db_stmt *st, int i)
{
	return st->db->drv->col_int(st, i);
}

struct str db_col_text(struct db_stmt *st, int i)
{
	return st->db->drv->col_text(st, i);
}

struct str db_col_blob(struct db_stmt *st, int i)
{
	return st->db->drv->col_blob(st, i);
}

bool db_col_null(struct db_stmt *st, int i)
{
	return st->db->drv->col_null(st, i);
}

/* ---- the schema ---- */

int db_schema_version(struct db *db)
{
	return db->drv->version_get(db);
}

int db_migrate(struct db *db, const char *const *migrations, size_t n)
{
	int v = db->drv->version_get(db);

	if (v < 0)
		return -1;
	if ((size_t)v > n) {
		char detail[96];

		snprintf(detail, sizeof(detail), "the database is at version "
			 "%d, this program knows %zu", v, n);
		return db_fail(db, false, "schema", detail);
	}
	for (size_t i = (size_t)v; i < n; i++) {
		if (db_begin(db) < 0)
			return -1;
		if (db_exec(db, migrations[i]) < 0 ||
		    db->drv->version_set(db, (int)i + 1) < 0 ||
		    db_commit(db) < 0) {
			char what[48], detail[DB_ERROR_MAX];

			snprintf(what, sizeof(what), "migration %zu", i + 1);
			memcpy(detail, db->error, sizeof(detail));
			db_rollback(db);
			return db_fail(db, false, what, detail);
		}
	}
	return 0;
}

int db_blob_read(struct db *db, const char *table, const char *column,
		 int64_t rowid, uint64_t offset, void *buf, size_t n,
		 size_t *got_r, uint64_t *size_r)
{
	uint64_t size;

	*got_r = 0;
	return db->drv->blob_read(db, table, column, rowid, offset, buf, n,
				  got_r, size_r != NULL ? size_r : &size);
}

int db_blob_write(struct db *db, const char *table, const char *column,
		  int64_t rowid, const void *data, size_t n)
{
	if (db->drv->blob_write == NULL)
		return db_fail(db, false, "blob write", "not supported here");
	return db->drv->blob_write(db, table, column, rowid, data, n);
}

/* ---- transactions ---- */

int db_begin(struct db *db)
{
	return db->drv->exec(db, db->drv->begin_sql);
}

int db_begin_read(struct db *db)
{
	return db->drv->exec(db, db->drv->begin_read_sql);
}

int db_commit(struct db *db)
{
	bool counted = db->had_savepoint;

	db->savepoints = 0;
	db->had_savepoint = false;
	if (db->fault != NULL && counted && db_fault_commit(db)) {
		(void)db->drv->exec(db, "ROLLBACK");
		return -1;
	}
	return db->drv->exec(db, "COMMIT");
}

void db_idle(struct db *db)
{
	if (db->drv->idle != NULL)
		db->drv->idle(db);
}

void db_rollback(struct db *db)
{
	db->savepoints = 0;
	db->had_savepoint = false;
	if (db->drv->in_transaction(db))
		(void)db->drv->exec(db, "ROLLBACK");
}

int db_savepoint(struct db *db)
{
	if (db->drv->exec(db, "SAVEPOINT sp") < 0)
		return -1;
	db->savepoints++;
	db->had_savepoint = true;
	return 0;
}

int db_release(struct db *db)
{
	if (db->savepoints > 0)
		db->savepoints--;
	return db->drv->exec(db, "RELEASE sp");
}

void db_rollback_to(struct db *db)
{
	if (db->drv->in_transaction(db))
		(void)db->drv->exec(db, "ROLLBACK TO sp");
}

bool db_in_transaction(struct db *db)
{
	return db->drv->in_transaction(db);
}
