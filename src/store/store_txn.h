/* store_txn.h: the writer-extension interface: a layer above the store that
 * keeps tables of its own in the store's database (the outbound queue) runs
 * its writes inside the writer's batch transaction, in the request's own
 * savepoint, and its reads on a store reader's connection, with db/db.h. */
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

/* The batch's connection. */
struct db *store_txn_db(struct store_txn *t);
/* "store: <the database's last error>" / msg, as the request's error,
 * valid until the next call on t. */
const char *store_txn_error(struct store_txn *t);
const char *store_txn_fail(struct store_txn *t, const char *msg);
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
struct db *store_reader_db(struct store_reader *r);

#endif
