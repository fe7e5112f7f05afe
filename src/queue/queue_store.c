/* queue_store.c: the outbound queue's persistence over db/db.h: a new
 * entry as a delivery's attach, the runner's due list and claims, the
 * result of a delivery attempt (with its DSN in the same savepoint), and
 * the admin controls, run by the store writer (store/store_txn.h). */
#include "queue/queue_store.h"
#include "store/store_nodes.h"
#include "store/store_txn.h"

#include <time.h>

#define QUEUE_COLS "id, blob_id, sender, envid, ret, state, attempts," \
	" next_try, last_error, created, delay_notified, held, requiretls," \
	" tls_optional, retry_now"
#define RCPT_COLS "idx, address, orcpt, notify, state, status, diagnostic," \
	" remote_mta"

static const char sql_insert[] =
	"INSERT INTO queue(blob_id, sender, envid, ret, state, next_try,"
	" created, requiretls, tls_optional)"
	" VALUES(?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8) RETURNING id";
static const char sql_rcpt_insert[] =
	"INSERT INTO queue_rcpts(queue_id, idx, address, orcpt, notify)"
	" VALUES(?1, ?2, ?3, ?4, ?5)";
static const char sql_list[] =
	"SELECT " QUEUE_COLS " FROM queue ORDER BY next_try, id";
static const char sql_get[] =
	"SELECT " QUEUE_COLS " FROM queue WHERE id = ?1";
static const char sql_due[] =
	"SELECT " QUEUE_COLS " FROM queue WHERE held = 0 AND next_try <= ?1"
	" AND EXISTS(SELECT 1 FROM queue_rcpts r WHERE r.queue_id = queue.id"
	" AND r.state = 'pending') ORDER BY next_try, id LIMIT ?2";
static const char sql_rcpts[] =
	"SELECT " RCPT_COLS " FROM queue_rcpts WHERE queue_id = ?1"
	" ORDER BY idx";
static const char sql_rcpts_pending[] =
	"SELECT " RCPT_COLS " FROM queue_rcpts WHERE queue_id = ?1"
	" AND state = 'pending' ORDER BY idx";
static const char sql_blob[] = "SELECT blob_id FROM queue WHERE id = ?1";
/* a stored result ends the node's claim on the entry */
static const char sql_update[] =
	"UPDATE queue SET state = ?1, attempts = ?2, next_try = ?3,"
	" last_error = ?4, claim_node = 0, claim_until = 0 WHERE id = ?5";
static const char sql_result[] =
	"UPDATE queue SET attempts = ?1, next_try = ?2, last_error = ?3,"
	" delay_notified = ?4, retry_now = 0, claim_node = 0,"
	" claim_until = 0 WHERE id = ?5";
/* PostgreSQL only (a CTE that updates; SKIP LOCKED; pg_locks): the leases
 * of the node's entries still claimed, then the due entries no other
 * node holds, claimed for this one: ?1 node, ?2 now, ?3 lease, ?4 limit.
 * Another node holds a claim until its lease ends, or until that node is
 * gone: a running node holds the advisory lock (2 << 56) | its id on a
 * connection of its own (store_nodes.c), whose end frees it, so a killed
 * node's claims are taken at once; the lease covers a node that is
 * connected but no longer renews. (The key's high 32 bits are classid,
 * its low ones objid, objsubid 1; 2 << 24 = 33554432.) */
static const char sql_renew[] =
	"UPDATE queue SET claim_until = ?2 + ?3"
	" WHERE claim_node = ?1 AND claim_until > ?2";
static const char sql_claim[] =
	"WITH c AS (UPDATE queue SET claim_node = ?1, claim_until = ?2 + ?3"
	" WHERE id IN (SELECT id FROM queue WHERE held = 0 AND next_try <= ?2"
	" AND (claim_until <= ?2 OR claim_node = ?1 OR claim_node NOT IN("
	" SELECT ((CAST(l.classid AS BIGINT) << 32) | CAST(l.objid AS BIGINT))"
	" & 72057594037927935 FROM pg_locks l WHERE l.locktype = 'advisory'"
	" AND l.objsubid = 1 AND l.granted AND l.classid >= 33554432"
	" AND l.classid < 50331648 AND l.database = (SELECT oid FROM"
	" pg_database WHERE datname = current_database())))"
	" AND EXISTS(SELECT 1 FROM queue_rcpts r WHERE r.queue_id = queue.id"
	" AND r.state = 'pending') ORDER BY next_try, id LIMIT ?4"
	" FOR UPDATE SKIP LOCKED) RETURNING " QUEUE_COLS ")"
	" SELECT " QUEUE_COLS " FROM c ORDER BY next_try, id";
static const char sql_rcpt_result[] =
	"UPDATE queue_rcpts SET state = ?1, status = ?2, diagnostic = ?3,"
	" remote_mta = ?4 WHERE queue_id = ?5 AND idx = ?6";
static const char sql_pending_count[] =
	"SELECT count(*) FROM queue_rcpts WHERE queue_id = ?1"
	" AND state = 'pending'";
static const char sql_delete[] = "DELETE FROM queue WHERE id = ?1";
static const char sql_rcpts_delete[] =
	"DELETE FROM queue_rcpts WHERE queue_id = ?1";
static const char sql_hold[] =
	"UPDATE queue SET held = ?2 WHERE id = ?1 OR ?1 = 0";
static const char sql_retry[] =
	"UPDATE queue SET next_try = ?2, retry_now = 1"
	" WHERE id = ?1 OR (?1 = 0 AND held = 0 AND next_try > ?2)";
static const char sql_held[] = "SELECT held FROM queue WHERE id = ?1";
static const char sql_held_ids[] =
	"SELECT id FROM queue WHERE held = 1 ORDER BY id";

/* ---- readers ---- */

/* The first column as an int64_t (an id, a count). */
static void read_int(struct arena *a UNUSED, struct db_stmt *st, void *item)
{
	*(int64_t *)item = db_col_int(st, 0);
}

static int read_rcpts(struct store_conn *c, struct arena *a, bool pending_only,
		      struct queue_entry *q, const char **error_r)
{
	struct store_vec g = { .size = sizeof(struct queue_rcpt) };
	struct db_stmt *rs;
	int ret;

	rs = store_stmt(c, pending_only ? sql_rcpts_pending : sql_rcpts,
			error_r);
	if (rs == NULL)
		return -1;
	db_bind_int(rs, 1, q->id);
	while ((ret = store_row(c, rs, error_r)) == 1) {
		struct queue_rcpt *r = store_vec_push(&g);

		r->idx = (uint32_t)db_col_int(rs, 0);
		r->address = store_col_str(a, rs, 1);
		r->orcpt = store_col_str(a, rs, 2);
		r->notify = store_col_str(a, rs, 3);
		r->state = store_col_str(a, rs, 4);
		r->status = store_col_str(a, rs, 5);
		r->diagnostic = store_col_str(a, rs, 6);
		r->remote_mta = store_col_str(a, rs, 7);
	}
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	q->n_rcpts = g.n;
	q->rcpts = store_vec_to_arena(&g, a);
	return 0;
}

static int read_entry(struct store_conn *c, struct arena *a,
		      struct db_stmt *st, bool pending_only,
		      struct queue_entry *q, const char **error_r)
{
	memset(q, 0, sizeof(*q));
	q->id = db_col_int(st, 0);
	q->blob_id = db_col_int(st, 1);
	q->sender = store_col_str(a, st, 2);
	q->envid = store_col_str(a, st, 3);
	q->ret = store_col_str(a, st, 4);
	q->state = store_col_str(a, st, 5);
	q->attempts = (uint32_t)db_col_int(st, 6);
	q->next_try = db_col_int(st, 7);
	q->last_error = store_col_str(a, st, 8);
	q->created = db_col_int(st, 9);
	q->delay_notified = db_col_int(st, 10) != 0;
	q->held = db_col_int(st, 11) != 0;
	q->requiretls = db_col_int(st, 12) != 0;
	q->tls_optional = db_col_int(st, 13) != 0;
	q->retry_now = db_col_int(st, 14) != 0;
	return read_rcpts(c, a, pending_only, q, error_r);
}

/* Every row of st (bound, not stepped yet) as entries. */
static int read_entries(struct store_conn *c, struct arena *a,
			struct db_stmt *st, bool pending_only,
			struct queue_entry **entries_r, const char **error_r)
{
	struct store_vec g = { .size = sizeof(struct queue_entry) };
	int ret;

	while ((ret = store_row(c, st, error_r)) == 1) {
		if (read_entry(c, a, st, pending_only, store_vec_push(&g),
			       error_r) < 0) {
			db_reset(st);
			free(g.v);
			return -1;
		}
	}
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	ret = (int)g.n;
	*entries_r = store_vec_to_arena(&g, a);
	return ret;
}

int queue_store_list(struct store_reader *r, struct arena *a,
		     struct queue_entry **entries_r, const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, sql_list, error_r);

	if (st == NULL)
		return -1;
	return read_entries(c, a, st, false, entries_r, error_r);
}

int queue_store_get(struct store_reader *r, struct arena *a, int64_t id,
		    struct queue_entry *entry_r, const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, sql_get, error_r);
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if ((ret = store_row(c, st, error_r)) <= 0)
		return ret;
	ret = read_entry(c, a, st, false, entry_r, error_r) < 0 ? -1 : 1;
	db_reset(st);
	return ret;
}

/* LIMIT's parameter: no limit is the largest (PostgreSQL takes no
 * LIMIT -1). */
static int64_t limit_param(size_t limit)
{
	return limit == 0 || limit > INT32_MAX ? INT32_MAX : (int64_t)limit;
}

int queue_store_due(struct store_reader *r, struct arena *a, int64_t now,
		    size_t limit, struct queue_entry **entries_r,
		    const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, sql_due, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, limit_param(limit));
	return read_entries(c, a, st, true, entries_r, error_r);
}

/* sql_renew or sql_claim with the node's ?1 node, ?2 now, ?3 lease. */
static struct db_stmt *lease_stmt(struct store *store, struct store_conn *c,
				  const char *sql, int64_t now, unsigned lease,
				  const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql, error_r);

	if (st == NULL)
		return NULL;
	db_bind_int(st, 1, (int64_t)store_node_id(store));
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, MAX(lease, 1u));
	return st;
}

int queue_store_renew(struct store *store, struct store_reader *r,
		      int64_t now, unsigned lease, const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st;

	if (!store_shared(store))
		return 0;
	st = lease_stmt(store, c, sql_renew, now, lease, error_r);
	return st == NULL ? -1 : store_run(c, st, error_r);
}

int queue_store_claim(struct store *store, struct store_reader *r,
		      struct arena *a, int64_t now, unsigned lease,
		      size_t limit, struct queue_entry **entries_r,
		      const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st;

	if (!store_shared(store))
		return queue_store_due(r, a, now, limit, entries_r, error_r);
	if (queue_store_renew(store, r, now, lease, error_r) < 0 ||
	    (st = lease_stmt(store, c, sql_claim, now, lease,
			     error_r)) == NULL)
		return -1;
	db_bind_int(st, 4, limit_param(limit));
	return read_entries(c, a, st, true, entries_r, error_r);
}

int queue_store_held(struct store_reader *r, int64_t id, const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, sql_held, error_r);
	int64_t held;
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if ((ret = store_row_one(c, NULL, st, read_int, &held, error_r)) < 0)
		return -1;
	/* gone: nothing to send either */
	return ret == 0 || held != 0;
}

int queue_store_held_ids(struct store_reader *r, struct arena *a,
			 int64_t **ids_r, const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct store_vec g = { .size = sizeof(int64_t) };
	struct db_stmt *st = store_stmt(c, sql_held_ids, error_r);
	int ret;

	if (st == NULL)
		return -1;
	while ((ret = store_row(c, st, error_r)) == 1)
		*(int64_t *)store_vec_push(&g) = db_col_int(st, 0);
	if (ret < 0) {
		free(g.v);
		return -1;
	}
	ret = (int)g.n;
	*ids_r = store_vec_to_arena(&g, a);
	return ret;
}

/* ---- writes, on the writer inside the batch ---- */

static int enqueue(struct store_txn *t, const void *arg, int64_t blob_id,
		   struct store_result *res, const char **error_r)
{
	const struct queue_new *n = arg;
	struct store_conn *c = store_txn_conn(t);
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st;
	int ret;

	if ((st = store_stmt(c, sql_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, blob_id);
	db_bind_cstr(st, 2, n->sender);
	db_bind_cstr(st, 3, n->envid);
	db_bind_cstr(st, 4, n->ret);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, now);
	db_bind_int(st, 7, n->requiretls ? 1 : 0);
	db_bind_int(st, 8, n->tls_optional ? 1 : 0);
	ret = store_row_one(c, NULL, st, read_int, &res->queue_id, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "queue: no id returned");
		return -1;
	}
	for (size_t i = 0; i < n->n_rcpts; i++) {
		if ((st = store_stmt(c, sql_rcpt_insert, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, res->queue_id);
		db_bind_int(st, 2, (int64_t)i);
		db_bind_cstr(st, 3, n->rcpts[i].address);
		db_bind_cstr(st, 4, n->rcpts[i].orcpt);
		db_bind_cstr(st, 5, n->rcpts[i].notify);
		if (store_run(c, st, error_r) < 0)
			return -1;
	}
	return 0;
}

void queue_store_attach(struct store_req *req, const struct queue_new *n)
{
	ASSERT(req->type == STORE_REQ_DELIVER);
	if (n->n_rcpts == 0)
		return;
	req->u.deliver.attach.fn = enqueue;
	req->u.deliver.attach.arg = n;
}

static int no_entry(struct store_txn *t, const char **error_r)
{
	*error_r = store_db_fail(store_txn_conn(t), "no such queue entry");
	return -1;
}

/* The blob of entry id: 1, 0 when there is no such entry, -1 error. */
static int entry_blob(struct store_conn *c, int64_t id, int64_t *blob_r,
		      const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_blob, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	return store_row_one(c, NULL, st, read_int, blob_r, error_r);
}

/* Remove entry id and its recipients; its blob loses a reference. */
static int entry_delete(struct store_txn *t, int64_t id, int64_t blob_id,
			const char **error_r)
{
	struct store_conn *c = store_txn_conn(t);

	if (store_run_id(c, sql_rcpts_delete, id, error_r) < 0 ||
	    store_run_id(c, sql_delete, id, error_r) < 0)
		return -1;
	return store_txn_blob_unref(t, blob_id, error_r);
}

static bool rcpt_state_valid(const char *state)
{
	return state != NULL && (strcmp(state, "pending") == 0 ||
				 strcmp(state, "sent") == 0 ||
				 strcmp(state, "failed") == 0);
}

static int do_update(struct store_txn *t, const struct queue_req *q,
		     const char **error_r)
{
	struct store_conn *c = store_txn_conn(t);
	struct db_stmt *st = store_stmt(c, sql_update, error_r);

	if (st == NULL)
		return -1;
	db_bind_cstr(st, 1, q->u.update.state);
	db_bind_int(st, 2, q->u.update.attempts);
	db_bind_int(st, 3, q->u.update.next_try);
	db_bind_cstr(st, 4, q->u.update.last_error);
	db_bind_int(st, 5, q->u.update.id);
	if (store_run(c, st, error_r) < 0)
		return -1;
	return db_changes(st) == 0 ? no_entry(t, error_r) : 0;
}

static int do_delete(struct store_txn *t, const struct queue_req *q,
		     const char **error_r)
{
	int64_t blob_id;
	int ret = entry_blob(store_txn_conn(t), q->u.del.id, &blob_id,
			     error_r);

	if (ret <= 0)
		return ret < 0 ? -1 : no_entry(t, error_r);
	return entry_delete(t, q->u.del.id, blob_id, error_r);
}

static int rcpt_result(struct store_txn *t, int64_t id,
		       const struct queue_rcpt_result *r, const char **error_r)
{
	struct store_conn *c = store_txn_conn(t);
	struct db_stmt *st;

	if (!rcpt_state_valid(r->state)) {
		*error_r = store_db_fail(c, "queue recipient state "
					 "must be pending, sent or failed");
		return -1;
	}
	if ((st = store_stmt(c, sql_rcpt_result, error_r)) == NULL)
		return -1;
	db_bind_cstr(st, 1, r->state);
	db_bind_cstr(st, 2, r->status);
	db_bind_cstr(st, 3, r->diagnostic);
	db_bind_cstr(st, 4, r->remote_mta);
	db_bind_int(st, 5, id);
	db_bind_int(st, 6, r->idx);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (db_changes(st) == 0) {
		*error_r = store_db_fail(c, "no such queue recipient");
		return -1;
	}
	return 0;
}

static int do_result(struct store_txn *t, const struct queue_req *req,
		     struct store_result *res, const char **error_r)
{
	const __typeof__(req->u.result) *q = &req->u.result;
	struct store_conn *c = store_txn_conn(t);
	struct db_stmt *st;
	int64_t blob_id, pending;
	int ret;

	if ((ret = entry_blob(c, q->id, &blob_id, error_r)) <= 0)
		return ret < 0 ? -1 : no_entry(t, error_r);
	for (size_t i = 0; i < q->n_rcpts; i++) {
		if (rcpt_result(t, q->id, &q->rcpts[i], error_r) < 0)
			return -1;
	}
	if ((st = store_stmt(c, sql_result, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, q->attempts);
	db_bind_int(st, 2, q->next_try);
	db_bind_cstr(st, 3, q->last_error);
	db_bind_int(st, 4, q->delay_notified ? 1 : 0);
	db_bind_int(st, 5, q->id);
	if (store_run(c, st, error_r) < 0)
		return -1;

	if ((st = store_stmt(c, sql_pending_count, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, q->id);
	ret = store_row_one(c, NULL, st, read_int, &pending, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "queue: no count");
		return -1;
	}
	if (pending == 0 && entry_delete(t, q->id, blob_id, error_r) < 0)
		return -1;
	if (q->dsn == NULL)
		return 0;
	ASSERT(q->dsn->type == STORE_REQ_DELIVER);
	return store_txn_apply(t, q->dsn, res, error_r);
}

static int do_control(struct store_txn *t, const struct queue_req *req,
		      struct store_result *res, const char **error_r)
{
	const __typeof__(req->u.control) *q = &req->u.control;
	struct store_conn *c = store_txn_conn(t);
	struct db_stmt *st;

	switch (q->op) {
	case QUEUE_OP_HOLD:
	case QUEUE_OP_RELEASE:
		if ((st = store_stmt(c, sql_hold, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, q->id);
		db_bind_int(st, 2, q->op == QUEUE_OP_HOLD ? 1 : 0);
		break;
	case QUEUE_OP_RETRY:
		if ((st = store_stmt(c, sql_retry, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, q->id);
		db_bind_int(st, 2, q->now);
		break;
	default:
		*error_r = store_db_fail(c, "unknown queue operation");
		return -1;
	}
	if (store_run(c, st, error_r) < 0)
		return -1;
	res->id = db_changes(st);
	if (q->id != 0 && res->id == 0)
		return no_entry(t, error_r);
	return 0;
}

static int apply(struct store_txn *t, const void *arg,
		 struct store_result *res, const char **error_r)
{
	const struct queue_req *q = arg;

	switch (q->type) {
	case QUEUE_REQ_UPDATE:
		return do_update(t, q, error_r);
	case QUEUE_REQ_DELETE:
		return do_delete(t, q, error_r);
	case QUEUE_REQ_RESULT:
		return do_result(t, q, res, error_r);
	case QUEUE_REQ_CONTROL:
		return do_control(t, q, res, error_r);
	}
	*error_r = store_db_fail(store_txn_conn(t), "unknown queue request");
	return -1;
}

void queue_req_init(struct queue_req *q, enum queue_req_type type)
{
	memset(q, 0, sizeof(*q));
	q->type = type;
	q->req.type = STORE_REQ_EXT;
	q->req.u.ext.fn = apply;
	q->req.u.ext.arg = q;
}
