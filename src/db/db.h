/* db.h: the small database layer below the store: a connection, prepared
 * statements with numbered parameters, rows, transactions and savepoints,
 * and errors, with two drivers: SQLite (db_sqlite.c) and PostgreSQL over
 * libpq (db_pgsql.c). The store writes its SQL once, in the subset both
 * accept: parameters ?1, ?2, ... (PostgreSQL gets $1, $2, ...), RETURNING,
 * ON CONFLICT, standard types through the bind and column functions.
 * What the dialects cannot share (the schema and its migrations, the
 * search index) is asked of db_kind(). A connection is used by one thread
 * at a time. */
#ifndef POSTHORN_DB_DB_H
#define POSTHORN_DB_DB_H

#include "base/base.h"
#include "base/str.h"

struct db;
struct db_stmt;
struct db_fault;

enum db_kind {
	DB_SQLITE,
	DB_PGSQL,
};

struct db_settings {
	enum db_kind kind;
	const char *path;	/* SQLite: the database file */
	const char *conninfo;	/* PostgreSQL: the libpq connection string */
	/* Durable commits: SQLite synchronous=FULL (else NORMAL),
	 * PostgreSQL synchronous_commit on (else off). */
	bool fsync;
	/* A connection that may write: SQLite creates the file, runs WAL
	 * checkpoints on a thread of their own and waits for the lock;
	 * readers open it query-only. */
	bool writer;
	unsigned busy_timeout_ms;	/* SQLite: 0 = 5000 */
	/* PostgreSQL: a connection the server lost (a restart, a failover)
	 * is opened again by the next BEGIN, or the next statement outside
	 * a transaction, with back-off while the server stays away; the
	 * statements prepared on it are prepared again. What failed with it
	 * stays failed: a transaction it was in fails to its end (COMMIT
	 * errs), and no statement is ever run twice. Only for connections
	 * whose state is all in their transactions: not for one holding
	 * advisory locks or LISTENing (db_notify.h). */
	bool reconnect;
	/* SQLite writer: cap the file at this many pages (0 = none): writes
	 * past it fail as on a full disk (tests). */
	uint32_t max_pages;
	/* Tests: the connection fails statements or commits as this test
	 * double asks (db_fault_*); NULL for a real one. */
	struct db_fault *fault;
};

/* NULL with a malloc'd *error_r when the database cannot be opened. */
struct db *db_open(const struct db_settings *set, char **error_r);
void db_close(struct db **db);
enum db_kind db_kind(const struct db *db);
/* "sqlite" or "pgsql". */
const char *db_kind_name(enum db_kind kind);

/* The last error of the connection ("what: the database's message"),
 * valid until the next call on it. */
const char *db_error(struct db *db);
/* Whether the last error was a conflict worth retrying the whole
 * transaction for (SQLite BUSY, PostgreSQL serialization failure or
 * deadlock). */
bool db_error_retry(struct db *db);
/* Whether the last error was the server's absence (PostgreSQL: the
 * connection lost, or not opened again yet): the same request may
 * succeed later, as it is. Never on SQLite. */
bool db_error_unavailable(struct db *db);
/* Whether the last error was a constraint the data broke (a UNIQUE key
 * already taken): the caller may name the conflict to its user. */
bool db_error_constraint(struct db *db);

/* Run SQL text of one or more statements without parameters or rows (the
 * schema, pragmas). -1 on error (db_error). */
int db_exec(struct db *db, const char *sql);

/* The prepared statement for sql, prepared on first use and kept by the
 * connection: sql must be a string that lives as long as the program
 * (a literal), and is looked up by its address. NULL on error. */
struct db_stmt *db_prepare(struct db *db, const char *sql);

/* Parameters are numbered from 1. Text and blobs are not copied: they
 * must stay until the statement is reset. */
void db_bind_int(struct db_stmt *st, int i, int64_t v);
void db_bind_text(struct db_stmt *st, int i, struct str s);
void db_bind_cstr(struct db_stmt *st, int i, const char *s);	/* NULL: "" */
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);
void db_bind_null(struct db_stmt *st, int i);

/* Run the statement / fetch its next row: 1 a row is there (read it with
 * db_col_*), 0 no more rows (the statement is reset), -1 error (reset;
 * db_error). */
int db_step(struct db_stmt *st);
/* Forget the rows not read and the bindings; the statement may run
 * again. */
void db_reset(struct db_stmt *st);
/* Run a statement that returns no rows (or whose rows do not matter) and
 * reset it. 0 or -1. */
int db_run(struct db_stmt *st);
/* Rows the last run statement changed. */
int64_t db_changes(struct db_stmt *st);

/* Columns of the current row, numbered from 0; text and blobs are valid
 * until the next step or reset. A NULL reads as 0 or empty. */
int64_t db_col_int(struct db_stmt *st, int i);
struct str db_col_text(struct db_stmt *st, int i);
struct str db_col_blob(struct db_stmt *st, int i);
bool db_col_null(struct db_stmt *st, int i);

/* Bytes by range, for the store's message blobs: up to n bytes of the
 * blob column `column` of the row of `table` whose "id" is rowid, from
 * offset on, into buf: *got_r = min(n, size - offset), 0 at or past the
 * end; *size_r (NULL: not wanted) the value's size. table and column are
 * identifiers written in our code, never input. SQLite reads with
 * incremental blob I/O (only the pages of the range are copied; inside a
 * transaction the blob stays open for the next read); PostgreSQL with
 * substring() and octet_length() on BYTEA (only the TOAST chunks of the
 * range are read when the column has STORAGE EXTERNAL, i.e. is not
 * compressed). Returns 1, 0 when there is no such row, -1 on error
 * (db_error). */
int db_blob_read(struct db *db, const char *table, const char *column,
		 int64_t rowid, uint64_t offset, void *buf, size_t n,
		 size_t *got_r, uint64_t *size_r);

/* Write n bytes at the start of a blob value that already has room for
 * them (SQLite: a row inserted with zeroblob(n)), straight into the
 * database pages, so a large message is not copied into a record first.
 * SQLite only (PostgreSQL binds its bytes as any parameter); -1 on error
 * (db_error). */
int db_blob_write(struct db *db, const char *table, const char *column,
		  int64_t rowid, const void *data, size_t n);

/* Bring the schema to version n by running migrations[v] for each
 * version v from the current one (0 for a new database) up to n - 1, each
 * with its version bump in one transaction (SQLite: PRAGMA user_version;
 * PostgreSQL: a schema_version table). A database newer than n is an
 * error. -1 on error (db_error). */
int db_migrate(struct db *db, const char *const *migrations, size_t n);
/* The schema version, or -1 on error. */
int db_schema_version(struct db *db);

/* The writer has nothing to do for a while: the driver may do its
 * housekeeping (SQLite: copy the whole WAL into the database, on its
 * checkpoint thread). */
void db_idle(struct db *db);

/* Transactions: one at a time, savepoints nested inside. -1 on error. */
int db_begin(struct db *db);
/* A read transaction: one consistent snapshot for several reads. */
int db_begin_read(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
int db_savepoint(struct db *db);
int db_release(struct db *db);
void db_rollback_to(struct db *db);
/* False when the database ended the transaction on its own (an error
 * that aborts it). */
bool db_in_transaction(struct db *db);

/* The test double (db_fault.c): a connection opened with
 * db_settings.fault runs on its real driver, and fails the statement or
 * the commit a test names, as a full disk or a lost server would: the
 * error is "injected failure", not worth a retry. Arm it only while the
 * connection is not in use (before a request is submitted). */
struct db_fault *db_fault_new(void);
void db_fault_free(struct db_fault **f);
/* The nth statement run from now inside a savepoint (a writer's request;
 * not its background work) fails, 1 = the next; 0 = none. A statement
 * counts once when it runs, not per row. */
void db_fault_fail_statement(struct db_fault *f, unsigned n);
/* The nth commit from now of a transaction that had a savepoint fails
 * (the transaction is rolled back). */
void db_fault_fail_commit(struct db_fault *f, unsigned n);
/* Statements counted since the last db_fault_fail_statement() (or
 * _new). */
unsigned db_fault_statements(struct db_fault *f);

#endif
