/* store_sqlite_blob.c: message bytes for the SQLite driver, by range.
 * Reads use incremental blob I/O on blob_data.data, so a FETCH of a header
 * copies only the pages it needs; a large delivery is written into a
 * zeroblob, so SQLite builds no second copy of it in a record. */
#include "store/store_sqlite_int.h"

#include <limits.h>

/* Below this a delivery binds its bytes as usual: the record copy SQLite
 * makes of them is small, and opening a blob handle compiles a statement
 * (tens of microseconds, a real share of a small delivery's cost). */
#define BLOB_PUT_DIRECT_MAX (64 * 1024)

static const char *const sql[] = {
	[XS_BLOB_PUT] = "INSERT INTO blob_data(id, data) VALUES(?, ?)",
	[XS_BLOB_PUT_ZERO] = "INSERT INTO blob_data(id, data) VALUES(?, zeroblob(?))",
	[XS_BLOB_EXISTS] = "SELECT 1 FROM blob_data WHERE id = ?",
};

static sqlite3_stmt *xs(struct store_conn *c, enum store_sqlite_xstmt id,
			const char **error_r)
{
	return store_sqlite_xstmt(c, id, sql[id], error_r);
}

void store_sqlite_blob_close(struct store_conn *c)
{
	struct store_sqlite_blob *slot = store_sqlite_blob_slot(c);

	if (slot->b != NULL) {
		(void)sqlite3_blob_close(slot->b);
		slot->b = NULL;
	}
}

int store_sqlite_blob_put(struct store_conn *c, int64_t blob_id,
			  const void *data, size_t size, const char **error_r)
{
	bool direct = size <= BLOB_PUT_DIRECT_MAX;
	sqlite3_stmt *st = xs(c, direct ? XS_BLOB_PUT : XS_BLOB_PUT_ZERO,
			      error_r);
	sqlite3_blob *b;
	int rc;

	if (st == NULL)
		return -1;
	if (size > INT_MAX) {	/* past SQLite's own bound long before */
		*error_r = store_sqlite_fail(c, "message too large to store");
		return -1;
	}
	sqlite3_bind_int64(st, 1, blob_id);
	if (direct)
		sqlite3_bind_blob64(st, 2, size > 0 ? data : "", size,
				    SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, (int64_t)size);
	if (store_sqlite_exec(c, st, "message bytes", error_r) < 0)
		return -1;
	if (direct)
		return 0;
	/* The bytes go straight into the database pages (spilled to the
	 * WAL when the page cache fills), never into a record buffer. */
	if (sqlite3_blob_open(store_sqlite_db(c), "main", "blob_data", "data",
			      blob_id, 1, &b) != SQLITE_OK) {
		*error_r = store_sqlite_error(c, "message bytes");
		(void)sqlite3_blob_close(b);
		return -1;
	}
	rc = sqlite3_blob_write(b, data, (int)size, 0);
	if (rc != SQLITE_OK)
		*error_r = store_sqlite_error(c, "message bytes");
	if (sqlite3_blob_close(b) != SQLITE_OK && rc == SQLITE_OK) {
		*error_r = store_sqlite_error(c, "message bytes");
		rc = SQLITE_ERROR;
	}
	return rc == SQLITE_OK ? 0 : -1;
}

/* A blob that would not open: 0 when the row does not exist, else -1. */
static int blob_missing(struct store_conn *c, int64_t blob_id,
			const char *open_error, const char **error_r)
{
	sqlite3_stmt *st = xs(c, XS_BLOB_EXISTS, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	ret = store_sqlite_row(c, st, "message bytes", error_r);
	if (ret == 1) {
		store_sqlite_done(st);
		*error_r = open_error;
		return -1;
	}
	return ret;
}

/* The open handle on blob_id: the cached one moved to that row, or a new
 * one. 1, 0 no such blob, -1. */
static int blob_open(struct store_conn *c, int64_t blob_id,
		     sqlite3_blob **b_r, const char **error_r)
{
	struct store_sqlite_blob *slot = store_sqlite_blob_slot(c);
	const char *error;

	if (slot->b != NULL) {
		if (slot->row == blob_id ||
		    sqlite3_blob_reopen(slot->b, blob_id) == SQLITE_OK) {
			slot->row = blob_id;
			*b_r = slot->b;
			return 1;
		}
		/* a failed reopen leaves the handle unusable */
		store_sqlite_blob_close(c);
	}
	if (sqlite3_blob_open(store_sqlite_db(c), "main", "blob_data", "data",
			      blob_id, 0, &slot->b) == SQLITE_OK) {
		slot->row = blob_id;
		*b_r = slot->b;
		return 1;
	}
	error = store_sqlite_error(c, "message bytes");
	store_sqlite_blob_close(c);
	return blob_missing(c, blob_id, error, error_r);
}

int store_sqlite_blob_read(struct store_conn *c, int64_t blob_id,
			   uint64_t offset, void *buf, size_t len,
			   size_t *got_r, uint64_t *size_r,
			   const char **error_r)
{
	sqlite3_blob *b = NULL;
	uint64_t size;
	size_t n = 0;
	int ret = blob_open(c, blob_id, &b, error_r);

	*got_r = 0;
	if (ret <= 0)
		return ret;
	size = (uint64_t)sqlite3_blob_bytes(b);
	*size_r = size;
	if (offset < size && len > 0) {
		n = (size_t)MIN((uint64_t)len, size - offset);
		if (sqlite3_blob_read(b, buf, (int)n, (int)offset) != SQLITE_OK) {
			*error_r = store_sqlite_error(c, "message bytes");
			store_sqlite_blob_close(c);
			return -1;
		}
	}
	*got_r = n;
	/* Outside a read transaction the handle holds one of its own, which
	 * would keep the WAL from being checkpointed while the session goes
	 * back to the event loop: keep it only inside store_reader_begin(). */
	if (sqlite3_get_autocommit(store_sqlite_db(c)))
		store_sqlite_blob_close(c);
	return 1;
}
