/* store_sqlite_queue.c: the outbound queue in the SQLite driver: per-recipient
 * delivery state, the due list of the queue runner, the result of a delivery
 * attempt (with its DSN in the same transaction), and the admin controls. */
#include "store/store_sqlite_int.h"

#define QUEUE_COLS "id, blob_id, sender, envid, ret, state, attempts," \
	" next_try, last_error, created, delay_notified, held, requiretls," \
	" tls_optional, retry_now"
#define RCPT_COLS "idx, address, orcpt, notify, state, status, diagnostic," \
	" remote_mta"

static const char *const xsql[] = {
	[XS_QUEUE_LIST] = "SELECT " QUEUE_COLS " FROM queue ORDER BY next_try, id",
	[XS_QUEUE_GET] = "SELECT " QUEUE_COLS " FROM queue WHERE id = ?",
	[XS_QUEUE_DUE] = "SELECT " QUEUE_COLS " FROM queue WHERE held = 0"
		" AND next_try <= ?1 AND EXISTS(SELECT 1 FROM queue_rcpts r"
		" WHERE r.queue_id = queue.id AND r.state = 'pending')"
		" ORDER BY next_try, id LIMIT ?2",
	[XS_QUEUE_RCPTS] = "SELECT " RCPT_COLS " FROM queue_rcpts"
		" WHERE queue_id = ? ORDER BY idx",
	[XS_QUEUE_RCPTS_PENDING] = "SELECT " RCPT_COLS " FROM queue_rcpts"
		" WHERE queue_id = ? AND state = 'pending' ORDER BY idx",
	[XS_QUEUE_BLOB] = "SELECT blob_id FROM queue WHERE id = ?",
	[XS_QUEUE_UPDATE] = "UPDATE queue SET state = ?, attempts = ?,"
		" next_try = ?, last_error = ? WHERE id = ?",
	[XS_QUEUE_RESULT] = "UPDATE queue SET attempts = ?, next_try = ?,"
		" last_error = ?, delay_notified = ?, retry_now = 0 WHERE id = ?",
	[XS_QUEUE_RCPT_RESULT] = "UPDATE queue_rcpts SET state = ?, status = ?,"
		" diagnostic = ?, remote_mta = ? WHERE queue_id = ? AND idx = ?",
	[XS_QUEUE_PENDING_COUNT] = "SELECT count(*) FROM queue_rcpts"
		" WHERE queue_id = ? AND state = 'pending'",
	[XS_QUEUE_DELETE] = "DELETE FROM queue WHERE id = ?",
	[XS_QUEUE_RCPTS_DELETE] = "DELETE FROM queue_rcpts WHERE queue_id = ?",
	[XS_QUEUE_HOLD] = "UPDATE queue SET held = ?2 WHERE id = ?1 OR ?1 = 0",
	[XS_QUEUE_RETRY] = "UPDATE queue SET next_try = ?2, retry_now = 1"
		" WHERE id = ?1 OR (?1 = 0 AND held = 0 AND next_try > ?2)",
	[XS_QUEUE_HELD] = "SELECT held FROM queue WHERE id = ?",
	[XS_QUEUE_HELD_IDS] = "SELECT id FROM queue WHERE held = 1 ORDER BY id",
};

static sqlite3_stmt *xstmt(struct store_conn *c, enum store_sqlite_xstmt id,
			   const char **error_r)
{
	return store_sqlite_xstmt(c, id, xsql[id], error_r);
}

/* ---- readers ---- */

static int read_entry(struct store_conn *c, struct arena *a, sqlite3_stmt *st,
		      bool pending_only, struct store_queue_entry *q,
		      const char **error_r)
{
	struct store_sqlite_vec g = { .size = sizeof(struct store_queue_rcpt) };
	sqlite3_stmt *rs;
	int ret;

	memset(q, 0, sizeof(*q));
	q->id = sqlite3_column_int64(st, 0);
	q->blob_id = sqlite3_column_int64(st, 1);
	q->sender = store_sqlite_col_str(a, st, 2);
	q->envid = store_sqlite_col_str(a, st, 3);
	q->ret = store_sqlite_col_str(a, st, 4);
	q->state = store_sqlite_col_str(a, st, 5);
	q->attempts = (uint32_t)sqlite3_column_int64(st, 6);
	q->next_try = sqlite3_column_int64(st, 7);
	q->last_error = store_sqlite_col_str(a, st, 8);
	q->created = sqlite3_column_int64(st, 9);
	q->delay_notified = sqlite3_column_int64(st, 10) != 0;
	q->held = sqlite3_column_int64(st, 11) != 0;
	q->requiretls = sqlite3_column_int64(st, 12) != 0;
	q->tls_optional = sqlite3_column_int64(st, 13) != 0;
	q->retry_now = sqlite3_column_int64(st, 14) != 0;
	rs = xstmt(c, pending_only ? XS_QUEUE_RCPTS_PENDING : XS_QUEUE_RCPTS,
		   error_r);
	if (rs == NULL)
		return -1;
	sqlite3_bind_int64(rs, 1, q->id);
	while ((ret = store_sqlite_row(c, rs, "store", error_r)) == 1) {
		struct store_queue_rcpt *r = store_sqlite_vec_push(&g);

		r->idx = (uint32_t)sqlite3_column_int64(rs, 0);
		r->address = store_sqlite_col_str(a, rs, 1);
		r->orcpt = store_sqlite_col_str(a, rs, 2);
		r->notify = store_sqlite_col_str(a, rs, 3);
		r->state = store_sqlite_col_str(a, rs, 4);
		r->status = store_sqlite_col_str(a, rs, 5);
		r->diagnostic = store_sqlite_col_str(a, rs, 6);
		r->remote_mta = store_sqlite_col_str(a, rs, 7);
	}
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	q->n_rcpts = g.n;
	q->rcpts = store_sqlite_vec_to_arena(&g, a);
	return 0;
}

/* Every row of st (bound, not stepped yet) as entries. */
static int read_entries(struct store_conn *c, struct arena *a,
			sqlite3_stmt *st, bool pending_only,
			struct store_queue_entry **entries_r,
			const char **error_r)
{
	struct store_sqlite_vec g = { .size = sizeof(struct store_queue_entry) };
	int ret;

	while ((ret = store_sqlite_row(c, st, "store", error_r)) == 1) {
		if (read_entry(c, a, st, pending_only, store_sqlite_vec_push(&g),
			       error_r) < 0) {
			store_sqlite_done(st);
			free(g.v);
			return -1;
		}
	}
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	ret = (int)g.n;
	*entries_r = store_sqlite_vec_to_arena(&g, a);
	return ret;
}

int store_sqlite_queue_list(struct store_conn *c, struct arena *a,
			    struct store_queue_entry **entries_r,
			    const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_LIST, error_r);

	if (st == NULL)
		return -1;
	return read_entries(c, a, st, false, entries_r, error_r);
}

int store_sqlite_queue_due(struct store_conn *c, struct arena *a, int64_t now,
			   size_t limit, struct store_queue_entry **entries_r,
			   const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_DUE, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, limit == 0 || limit > INT32_MAX ?
			   -1 : (int64_t)limit);
	return read_entries(c, a, st, true, entries_r, error_r);
}

int store_sqlite_queue_get(struct store_conn *c, struct arena *a, int64_t id,
			   struct store_queue_entry *entry_r,
			   const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_GET, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = store_sqlite_row(c, st, "store", error_r)) <= 0)
		return ret;
	ret = read_entry(c, a, st, false, entry_r, error_r) < 0 ? -1 : 1;
	store_sqlite_done(st);
	return ret;
}

int store_sqlite_queue_held(struct store_conn *c, int64_t id,
			    const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_HELD, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = store_sqlite_row(c, st, "store", error_r)) < 0)
		return -1;
	if (ret == 0)
		return 1;	/* gone: nothing to send either */
	ret = sqlite3_column_int64(st, 0) != 0;
	store_sqlite_done(st);
	return ret;
}

int store_sqlite_queue_held_ids(struct store_conn *c, struct arena *a,
				int64_t **ids_r, const char **error_r)
{
	struct store_sqlite_vec g = { .size = sizeof(int64_t) };
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_HELD_IDS, error_r);
	int ret;

	if (st == NULL)
		return -1;
	while ((ret = store_sqlite_row(c, st, "store", error_r)) == 1)
		*(int64_t *)store_sqlite_vec_push(&g) =
			sqlite3_column_int64(st, 0);
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	ret = (int)g.n;
	*ids_r = store_sqlite_vec_to_arena(&g, a);
	return ret;
}

/* ---- writes ---- */

/* The blob of entry id: 1, 0 when there is no such entry, -1 error. */
static int entry_blob(struct store_conn *c, int64_t id, int64_t *blob_r,
		      const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_QUEUE_BLOB, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((ret = store_sqlite_row(c, st, "store", error_r)) <= 0)
		return ret;
	*blob_r = sqlite3_column_int64(st, 0);
	store_sqlite_done(st);
	return 1;
}

static int exec_id(struct store_conn *c, enum store_sqlite_xstmt id,
		   int64_t arg, const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, id, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	return store_sqlite_exec(c, st, "store", error_r);
}

/* Remove entry id and its recipients; its blob loses a reference. */
static int entry_delete(struct store_conn *c, int64_t id, int64_t blob_id,
			const char **error_r)
{
	if (exec_id(c, XS_QUEUE_RCPTS_DELETE, id, error_r) < 0 ||
	    exec_id(c, XS_QUEUE_DELETE, id, error_r) < 0)
		return -1;
	return store_sqlite_blob_unref(c, blob_id, error_r);
}

static int no_entry(struct store_conn *c, const char **error_r)
{
	*error_r = store_sqlite_fail(c, "no such queue entry");
	return -1;
}

static bool rcpt_state_valid(const char *state)
{
	return state != NULL && (strcmp(state, "pending") == 0 ||
				 strcmp(state, "sent") == 0 ||
				 strcmp(state, "failed") == 0);
}

static int do_result(struct store_conn *c, const struct store_req *req,
		     struct store_result *res, struct store_changes *changes,
		     const char **error_r)
{
	const __typeof__(req->u.queue_result) *q = &req->u.queue_result;
	sqlite3_stmt *st;
	int64_t blob_id, pending;
	int ret;

	if ((ret = entry_blob(c, q->id, &blob_id, error_r)) <= 0)
		return ret < 0 ? -1 : no_entry(c, error_r);
	for (size_t i = 0; i < q->n_rcpts; i++) {
		const struct store_queue_rcpt_result *r = &q->rcpts[i];

		if (!rcpt_state_valid(r->state)) {
			*error_r = store_sqlite_fail(c, "queue recipient state "
						     "must be pending, sent or failed");
			return -1;
		}
		if ((st = xstmt(c, XS_QUEUE_RCPT_RESULT, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, r->state);
		store_sqlite_bind_text(st, 2, r->status);
		store_sqlite_bind_text(st, 3, r->diagnostic);
		store_sqlite_bind_text(st, 4, r->remote_mta);
		sqlite3_bind_int64(st, 5, q->id);
		sqlite3_bind_int64(st, 6, r->idx);
		if (store_sqlite_exec(c, st, "store", error_r) < 0)
			return -1;
		if (sqlite3_changes(store_sqlite_db(c)) == 0) {
			*error_r = store_sqlite_fail(c, "no such queue recipient");
			return -1;
		}
	}
	if ((st = xstmt(c, XS_QUEUE_RESULT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, q->attempts);
	sqlite3_bind_int64(st, 2, q->next_try);
	store_sqlite_bind_text(st, 3, q->last_error);
	sqlite3_bind_int(st, 4, q->delay_notified ? 1 : 0);
	sqlite3_bind_int64(st, 5, q->id);
	if (store_sqlite_exec(c, st, "store", error_r) < 0)
		return -1;

	if ((st = xstmt(c, XS_QUEUE_PENDING_COUNT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, q->id);
	if ((ret = store_sqlite_row(c, st, "store", error_r)) <= 0)
		return -1;
	pending = sqlite3_column_int64(st, 0);
	store_sqlite_done(st);
	if (pending == 0 && entry_delete(c, q->id, blob_id, error_r) < 0)
		return -1;
	if (q->dsn == NULL)
		return 0;
	ASSERT(q->dsn->type == STORE_REQ_DELIVER);
	return store_driver_sqlite.apply(c, q->dsn, res, changes, error_r);
}

static int do_control(struct store_conn *c, const struct store_req *req,
		      struct store_result *res, const char **error_r)
{
	const __typeof__(req->u.queue_control) *q = &req->u.queue_control;
	sqlite3_stmt *st;

	switch (q->op) {
	case STORE_QUEUE_HOLD:
	case STORE_QUEUE_RELEASE:
		if ((st = xstmt(c, XS_QUEUE_HOLD, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, q->id);
		sqlite3_bind_int(st, 2, q->op == STORE_QUEUE_HOLD ? 1 : 0);
		break;
	case STORE_QUEUE_RETRY:
		if ((st = xstmt(c, XS_QUEUE_RETRY, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, q->id);
		sqlite3_bind_int64(st, 2, q->now);
		break;
	default:
		*error_r = store_sqlite_fail(c, "unknown queue operation");
		return -1;
	}
	if (store_sqlite_exec(c, st, "store", error_r) < 0)
		return -1;
	res->id = sqlite3_changes(store_sqlite_db(c));
	if (q->id != 0 && res->id == 0)
		return no_entry(c, error_r);
	return 0;
}

int store_sqlite_queue_apply(struct store_conn *c, const struct store_req *req,
			     struct store_result *res,
			     struct store_changes *changes, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t blob_id;
	int ret;

	switch (req->type) {
	case STORE_REQ_QUEUE_UPDATE:
		if ((st = xstmt(c, XS_QUEUE_UPDATE, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, req->u.queue_update.state);
		sqlite3_bind_int64(st, 2, req->u.queue_update.attempts);
		sqlite3_bind_int64(st, 3, req->u.queue_update.next_try);
		store_sqlite_bind_text(st, 4, req->u.queue_update.last_error);
		sqlite3_bind_int64(st, 5, req->u.queue_update.id);
		if (store_sqlite_exec(c, st, "store", error_r) < 0)
			return -1;
		if (sqlite3_changes(store_sqlite_db(c)) == 0)
			return no_entry(c, error_r);
		return 0;
	case STORE_REQ_QUEUE_DELETE:
		ret = entry_blob(c, req->u.queue_delete.id, &blob_id, error_r);
		if (ret <= 0)
			return ret < 0 ? -1 : no_entry(c, error_r);
		return entry_delete(c, req->u.queue_delete.id, blob_id, error_r);
	case STORE_REQ_QUEUE_RESULT:
		return do_result(c, req, res, changes, error_r);
	case STORE_REQ_QUEUE_CONTROL:
		return do_control(c, req, res, error_r);
	default:
		PANIC("not a queue request: %d", (int)req->type);
	}
}
