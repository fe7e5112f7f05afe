/* store_txn.h: the writer-extension interface: a layer above the store that
 * keeps tables of its own in the store's database (the outbound queue) runs
 * its writes inside the writer's batch transaction, in the request's own
 * savepoint, and its reads on a store reader's connection, with db/db.h
 * and the statement helpers the store's own files use. */
#ifndef POSTHORN_STORE_STORE_TXN_H
#define POSTHORN_STORE_STORE_TXN_H

#include "store/store.h"
#include "db/db.h"

/* The writer's open transaction, handed to a store_ext_fn or a deliver's
 * attach (store.h) while it runs; valid only during that call. The work
 * runs in the request's savepoint: when it returns -1 the writer rolls
 * back that savepoint (only this request's writes) and the batch goes
 * on; when it returns 0 its writes are committed with the batch, durable
 * before the request completes. It must not begin, commit or roll back
 * itself, nor keep a statement running after it returns. */
struct store_txn;
struct store_conn;

/* The batch's connection. */
struct store_conn *store_txn_conn(struct store_txn *t);
/* Apply a store request in the same savepoint (all or none with the
 * caller's work): a queue result's delivery report. Its outputs go to
 * res. 0, or -1 with *error_r. */
int store_txn_apply(struct store_txn *t, const struct store_req *req,
		    struct store_result *res, const char **error_r);
/* Drop one reference to a blob (a deliver's attach holds one); the last
 * one deletes it. 0, or -1 with *error_r. */
int store_txn_blob_unref(struct store_txn *t, int64_t blob_id,
			 const char **error_r);

/* The reader's connection (store.h: one per thread), for reads of a layer's
 * own tables; between store_reader_begin() and _end() they see its
 * snapshot. Outside one, a statement that writes commits by itself (the
 * queue's claims on a shared database). */
struct store_conn *store_reader_conn(struct store_reader *r);

/* ---- on a connection: what the store's own files use too ---- */

/* The connection's database (db/db.h: bind, columns, db_kind()). */
struct db *store_conn_db(struct store_conn *c);
/* "store: <the database's error>" / msg as the connection's error, valid
 * until the next call on c. */
const char *store_db_error(struct store_conn *c);
const char *store_db_fail(struct store_conn *c, const char *msg);
/* The cached statement of the SQL literal sql (db_prepare), NULL with
 * *error_r set. */
struct db_stmt *store_stmt(struct store_conn *c, const char *sql,
			   const char **error_r);
/* Run a statement whose rows do not matter: 0, or -1 with *error_r. */
int store_run(struct store_conn *c, struct db_stmt *st, const char **error_r);
/* Step: 1 a row (read it, then db_reset unless stepping on), 0 no more
 * (reset), -1 with *error_r (reset). */
int store_row(struct store_conn *c, struct db_stmt *st, const char **error_r);
/* Run sql with its one parameter ?1 = id. */
int store_run_id(struct store_conn *c, const char *sql, int64_t id,
		 const char **error_r);
/* Column i of the current row as a string copied into a. */
const char *store_col_str(struct arena *a, struct db_stmt *st, int i);
/* Column i as bytes copied into a, NUL-terminated (not counted). */
const void *store_col_bytes(struct arena *a, struct db_stmt *st, int i,
			    size_t *size_r);

/* A growable array of items of `size` bytes for the rows of a read, built
 * in malloc'd memory: start it as { .size = sizeof(item) }. */
struct store_vec {
	void *v;
	size_t n, cap, size;
};

/* A new uninitialized item at the end. */
void *store_vec_push(struct store_vec *v);
/* The items copied into a (room for one at least, so never NULL); the
 * malloc'd array is freed. On an error path free(v->v) instead. */
void *store_vec_to_arena(struct store_vec *v, struct arena *a);

/* Every row of st (bound, not stepped yet) as an item of `size` bytes
 * that fill() sets from the row, in an array in a (never NULL): the
 * number of rows, or -1 with *error_r. */
typedef void store_row_fn(struct arena *a, struct db_stmt *st, void *item);
int store_rows(struct store_conn *c, struct arena *a, struct db_stmt *st,
	       size_t size, store_row_fn *fill, void *items_r,
	       const char **error_r);
/* The single row of st (bound, not stepped yet; NULL: store_stmt()
 * failed, *error_r is set): fill(a, st, item) reads it (fill NULL: only
 * whether there is one), then st is reset. 1 a row, 0 none, -1 with
 * *error_r. */
int store_row_one(struct store_conn *c, struct arena *a, struct db_stmt *st,
		  store_row_fn *fill, void *item, const char **error_r);

#endif
