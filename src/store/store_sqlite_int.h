/* store_sqlite_int.h: private to the SQLite driver: what its files share
 * (the connection's statement cache and error helpers) and the search
 * index entry points the writes call. */
#ifndef POSTHORN_STORE_STORE_SQLITE_INT_H
#define POSTHORN_STORE_STORE_SQLITE_INT_H

#include "store/store_int.h"

#include <sqlite3.h>

/* Statements of the driver's other files, cached per connection. */
enum store_sqlite_xstmt {
	XS_PENDING_INSERT,
	XS_PENDING_DELETE,
	XS_PENDING_NEXT,
	XS_PENDING_COUNT,
	XS_FTS_INSERT,
	XS_FTS_DELETE,
	XS_BLOB_DATA,
	XS_SEARCH_MATCH,
	XS_SEARCH_MATCH_HDR,
	XS_SEARCH_MATCH_TEXT,
	XS_SEARCH_SCAN,
	XS_SEARCH_TAIL,
	/* store_sqlite_queue.c */
	XS_QUEUE_LIST,
	XS_QUEUE_GET,
	XS_QUEUE_DUE,
	XS_QUEUE_RCPTS,
	XS_QUEUE_RCPTS_PENDING,
	XS_QUEUE_BLOB,
	XS_QUEUE_UPDATE,
	XS_QUEUE_RESULT,
	XS_QUEUE_RCPT_RESULT,
	XS_QUEUE_PENDING_COUNT,
	XS_QUEUE_DELETE,
	XS_QUEUE_RCPTS_DELETE,
	XS_QUEUE_HOLD,
	XS_QUEUE_RETRY,
	XS_QUEUE_HELD,
	XS_QUEUE_HELD_IDS,
	/* store_sqlite_blob.c */
	XS_BLOB_PUT,
	XS_BLOB_PUT_ZERO,
	XS_BLOB_EXISTS,
	/* store_sqlite_quota.c */
	XS_USER_USAGE,
	XS_USER_SET_QUOTA,
	XS_COUNT
};

sqlite3 *store_sqlite_db(struct store_conn *c);
/* The cached statement for id, prepared from sql the first time (sql must
 * be the same on every call); NULL with *error_r set on failure. */
sqlite3_stmt *store_sqlite_xstmt(struct store_conn *c,
				 enum store_sqlite_xstmt id, const char *sql,
				 const char **error_r);
/* Set the connection's error to "what: <sqlite message>" / msg and return
 * it (valid until the next call on c). */
const char *store_sqlite_error(struct store_conn *c, const char *what);
const char *store_sqlite_fail(struct store_conn *c, const char *msg);
/* Step a statement that returns no row to read, then reset it; -1 with
 * *error_r = "what: <sqlite message>" on failure. */
int store_sqlite_exec(struct store_conn *c, sqlite3_stmt *st,
		      const char *what, const char **error_r);
/* Step once: 1 a row (read it, then store_sqlite_done), 0 no more (reset),
 * -1 error as above. */
int store_sqlite_row(struct store_conn *c, sqlite3_stmt *st,
		     const char *what, const char **error_r);
/* Reset a statement and clear its bindings. */
void store_sqlite_done(sqlite3_stmt *st);
/* Bind s (NULL as "") to parameter i, not copied: s must stay until the
 * statement is reset. */
void store_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column i of the current row as a string copied into a (NULL as ""). */
const char *store_sqlite_col_str(struct arena *a, sqlite3_stmt *st, int i);

/* A growable array of items of `size` bytes for the rows of a read, built
 * in malloc'd memory: start it as { .size = sizeof(item) }. */
struct store_sqlite_vec {
	void *v;
	size_t n, cap, size;
};

/* A new uninitialized item at the end. */
void *store_sqlite_vec_push(struct store_sqlite_vec *v);
/* The items copied into a (room for one at least, so never NULL); the
 * malloc'd array is freed. On an error path free(v->v) instead. */
void *store_sqlite_vec_to_arena(struct store_sqlite_vec *v, struct arena *a);

/* store_sqlite_search.c. Writer side, inside the batch transaction. */
/* A new blob delivered to mailboxes: queue it for the index. */
int store_sqlite_search_add(struct store_conn *c, int64_t blob_id,
			    const char **error_r);
/* A blob was deleted: drop it from the index and the queue. */
int store_sqlite_search_remove(struct store_conn *c, int64_t blob_id,
			       const char **error_r);
/* Writer, between batches: index a few queued blobs in one transaction.
 * 1 = more are queued, 0 = none left, -1 = error. */
int store_sqlite_search_idle(struct store_conn *c, const char **error_r);
/* Readers: the store.h contracts. */
int store_sqlite_search_text(struct store_conn *c, struct arena *a,
			     int64_t mailbox_id, enum store_search_field field,
			     const char *header, const char *needle,
			     uint32_t **uids_r, const char **error_r);
int store_sqlite_search_pending(struct store_conn *c, const char **error_r);

/* Drop one reference to a blob; the last one deletes it (and its index
 * entry). Inside the writer's transaction. */
int store_sqlite_blob_unref(struct store_conn *c, int64_t blob_id,
			    const char **error_r);

/* store_sqlite_queue.c. Writer: the STORE_REQ_QUEUE_* requests. */
int store_sqlite_queue_apply(struct store_conn *c, const struct store_req *req,
			     struct store_result *res,
			     struct store_changes *changes, const char **error_r);
/* Readers: the store.h contracts. */
int store_sqlite_queue_list(struct store_conn *c, struct arena *a,
			    struct store_queue_entry **entries_r,
			    const char **error_r);
int store_sqlite_queue_get(struct store_conn *c, struct arena *a, int64_t id,
			   struct store_queue_entry *entry_r,
			   const char **error_r);
int store_sqlite_queue_due(struct store_conn *c, struct arena *a, int64_t now,
			   size_t limit, struct store_queue_entry **entries_r,
			   const char **error_r);
int store_sqlite_queue_held(struct store_conn *c, int64_t id,
			    const char **error_r);
int store_sqlite_queue_held_ids(struct store_conn *c, struct arena *a,
				int64_t **ids_r, const char **error_r);

/* store_sqlite_blob.c. The connection's open blob handle (b NULL: none)
 * and the row it is on. */
struct store_sqlite_blob {
	sqlite3_blob *b;
	int64_t row;
};
struct store_sqlite_blob *store_sqlite_blob_slot(struct store_conn *c);
/* Close the open blob handle, if any: before a read transaction ends (an
 * open handle would keep its snapshot) and when the connection closes. */
void store_sqlite_blob_close(struct store_conn *c);
/* Writer: store the bytes of a new blob (blob_data row blob_id). */
int store_sqlite_blob_put(struct store_conn *c, int64_t blob_id,
			  const void *data, size_t size, const char **error_r);
/* Reader: the store_blob_read() contract. */
int store_sqlite_blob_read(struct store_conn *c, int64_t blob_id,
			   uint64_t offset, void *buf, size_t len,
			   size_t *got_r, uint64_t *size_r,
			   const char **error_r);

/* store_sqlite_quota.c. Writer: STORE_REQ_USER_SET_QUOTA. */
int store_sqlite_quota_apply(struct store_conn *c, const struct store_req *req,
			     const char **error_r);
/* Reader: the store_user_usage() contract. */
int store_sqlite_user_usage(struct store_conn *c, int64_t user_id,
			    uint64_t *bytes_r, const char **error_r);

#endif
