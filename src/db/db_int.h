/* db_int.h: private to src/db: the driver interface behind db.h and the
 * parts of a connection and a statement that db.c keeps for every driver
 * (the statement cache, the error text). */
#ifndef POSTHORN_DB_DB_INT_H
#define POSTHORN_DB_DB_INT_H

#include "db/db.h"

#define DB_ERROR_MAX 512

struct db_driver {
	enum db_kind kind;
	/* A connection of the driver (embedding struct db first), or NULL
	 * with a malloc'd *error_r. */
	struct db *(*open)(const struct db_settings *set, char **error_r);
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	/* A statement (embedding struct db_stmt first) or NULL (error set). */
	struct db_stmt *(*prepare)(struct db *db, const char *sql);
	void (*finalize)(struct db_stmt *st);
	void (*bind_int)(struct db_stmt *st, int i, int64_t v);
	void (*bind_text)(struct db_stmt *st, int i, struct str s);
	void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t n);
	void (*bind_null)(struct db_stmt *st, int i);
	int (*step)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	int64_t (*changes)(struct db_stmt *st);
	int64_t (*col_int)(struct db_stmt *st, int i);
	struct str (*col_text)(struct db_stmt *st, int i);
	struct str (*col_blob)(struct db_stmt *st, int i);
	bool (*col_null)(struct db_stmt *st, int i);
	bool (*in_transaction)(struct db *db);
	/* db_blob_read(), size_r never NULL */
	int (*blob_read)(struct db *db, const char *table, const char *column,
			 int64_t rowid, uint64_t offset, void *buf, size_t n,
			 size_t *got_r, uint64_t *size_r);
	/* db_blob_write(); NULL where the driver has no use for it */
	int (*blob_write)(struct db *db, const char *table, const char *column,
			  int64_t rowid, const void *data, size_t n);
	/* The schema version (0 for a new database) or -1; set it inside
	 * the open transaction. */
	int (*version_get)(struct db *db);
	int (*version_set)(struct db *db, int version);
	/* optional: the writer is idle (db_idle) */
	void (*idle)(struct db *db);
	const char *begin_sql, *begin_read_sql;
};

struct db_cache_slot {
	const char *sql;	/* the key: the literal's address */
	struct db_stmt *st;
};

struct db {
	const struct db_driver *drv;
	char error[DB_ERROR_MAX];
	bool error_retry;
	bool error_unavailable;	/* set by the driver after db_fail() */
	bool error_constraint;	/* set by the driver after db_fail() */
	struct db_fault *fault;	/* the test double, or NULL */
	/* open savepoints, and whether the transaction had one (what the
	 * test double counts: a writer's requests, not its other work) */
	unsigned savepoints;
	bool had_savepoint;
	struct db_cache_slot *cache;	/* open addressing, power of two */
	size_t cache_cap, cache_n;
};

struct db_stmt {
	struct db *db;
	const char *sql;
	bool running;	/* stepped to a row and not reset since */
};

extern const struct db_driver db_driver_sqlite;
extern const struct db_driver db_driver_pgsql;

/* db_pgsql.c: the libpq connection of a PostgreSQL db (libpq's PGconn),
 * for db_notify.c. */
struct pg_conn;
struct pg_conn *db_pgsql_conn(struct db *db);

/* Record an error of db: "what: detail"; retry says whether the whole
 * transaction is worth running again. Returns -1. */
int db_fail(struct db *db, bool retry, const char *what, const char *detail);

/* db_fault.c: whether the test double fails this statement run / this
 * commit (counting it); the error is set on db. */
bool db_fault_statement(struct db *db);
bool db_fault_commit(struct db *db);

#endif
