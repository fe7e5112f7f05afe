/* store_deliver.c: a delivery in one request: the message bytes stored once
 * as a reference-counted blob, a UID and modseq in each target mailbox,
 * the outbound queue entry of its remote recipients; and the drop of a
 * blob reference that deletes the last one. */
#include "store/store_db_int.h"

#include <time.h>

/* The statements of a delivery: the hot path of SMTP, all cached. */
static const char sql_blob_insert[] =
	"INSERT INTO blobs(refcount, size, envelope, bodystructure, body,"
	" parts) VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
static const char sql_blob_data_insert[] =
	"INSERT INTO blob_data(id, data) VALUES(?1, ?2)";
static const char sql_mailbox_inbox[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND name = 'INBOX'";
static const char sql_mailbox_add_msg[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1,"
	" highestmodseq = highestmodseq + 1, messages = messages + 1,"
	" unseen = unseen + ?1 WHERE id = ?2"
	" RETURNING uidnext - 1, highestmodseq, user_id";
static const char sql_msg_insert[] =
	"INSERT INTO messages(mailbox_id, uid, blob_id, flags, keywords,"
	" internal_date, size, modseq, internal_zone)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_queue_insert[] =
	"INSERT INTO queue(blob_id, sender, envid, ret, state, next_try,"
	" created, requiretls, tls_optional)"
	" VALUES(?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8) RETURNING id";
static const char sql_queue_rcpt_insert[] =
	"INSERT INTO queue_rcpts(queue_id, idx, address, orcpt, notify)"
	" VALUES(?1, ?2, ?3, ?4, ?5)";
static const char sql_blob_unref[] =
	"UPDATE blobs SET refcount = refcount - 1 WHERE id = ?1"
	" RETURNING refcount";
static const char sql_blob_data_delete[] =
	"DELETE FROM blob_data WHERE id = ?1";
static const char sql_blob_delete[] = "DELETE FROM blobs WHERE id = ?1";

typedef __typeof__(((struct store_req *)NULL)->u.deliver) deliver_req;

/* The parsed header texts hold header bytes as they came, which need not
 * be UTF-8: bound as bytes, not text (PostgreSQL's columns are BYTEA and
 * refuse text that is not UTF-8; SQLite stores what it is given, and the
 * readers read either the same). */
static void bind_bytes(struct db_stmt *st, int i, const char *s)
{
	db_bind_blob(st, i, s, s != NULL ? strlen(s) : 0);
}

/* The id a statement's RETURNING gave: 0, or -1 with *error_r. */
static int returned_id(struct store_conn *c, struct db_stmt *st,
		       int64_t *id_r, const char **error_r)
{
	int ret = store_row(c, st, error_r);

	if (ret <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "store: no id returned");
		return -1;
	}
	*id_r = db_col_int(st, 0);
	db_reset(st);
	return 0;
}

int store_blob_unref(struct store_conn *c, int64_t blob_id,
		     const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_blob_unref, error_r);
	int64_t refs;
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, blob_id);
	if ((ret = store_row(c, st, error_r)) <= 0)
		return ret;
	refs = db_col_int(st, 0);
	db_reset(st);
	if (refs > 0)
		return 0;
	if (store_search_remove(c, blob_id, error_r) < 0 ||
	    store_run_id(c, sql_blob_data_delete, blob_id, error_r) < 0)
		return -1;
	return store_run_id(c, sql_blob_delete, blob_id, error_r);
}

/* The message into one target mailbox (0: the user's INBOX). */
static int deliver_target(struct store_conn *c,
			  const deliver_req *d,
			  const struct store_target *t, int64_t blob_id,
			  struct store_assigned *as,
			  struct store_changes *changes, const char **error_r)
{
	int64_t mailbox_id = t->mailbox_id, user_id;
	struct db_stmt *st;
	int ret;

	if (mailbox_id == 0) {
		if ((st = store_stmt(c, sql_mailbox_inbox, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, t->user_id);
		if ((ret = store_row(c, st, error_r)) <= 0) {
			if (ret == 0)
				*error_r = store_db_fail(c, "no such user");
			return -1;
		}
		mailbox_id = db_col_int(st, 0);
		db_reset(st);
	}
	if ((st = store_stmt(c, sql_mailbox_add_msg, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, (d->flags & STORE_FLAG_SEEN) == 0);
	db_bind_int(st, 2, mailbox_id);
	if ((ret = store_row(c, st, error_r)) <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "no such mailbox");
		return -1;
	}
	as->mailbox_id = mailbox_id;
	as->uid = (uint32_t)db_col_int(st, 0);
	as->modseq = (uint64_t)db_col_int(st, 1);
	user_id = db_col_int(st, 2);
	db_reset(st);

	if ((st = store_stmt(c, sql_msg_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, as->uid);
	db_bind_int(st, 3, blob_id);
	db_bind_int(st, 4, d->flags);
	db_bind_cstr(st, 5, d->keywords);
	db_bind_int(st, 6, d->internal_date);
	db_bind_int(st, 7, (int64_t)d->size);
	db_bind_int(st, 8, (int64_t)as->modseq);
	db_bind_int(st, 9, d->internal_zone);
	if (store_run(c, st, error_r) < 0)
		return -1;
	store_changes_add(changes, user_id, mailbox_id, as->modseq);
	return 0;
}

/* The queue entry of the remote recipients. */
static int deliver_queue(struct store_conn *c,
			 const deliver_req *d,
			 int64_t blob_id, struct store_result *res,
			 const char **error_r)
{
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st;

	if ((st = store_stmt(c, sql_queue_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, blob_id);
	db_bind_cstr(st, 2, d->sender);
	db_bind_cstr(st, 3, d->envid);
	db_bind_cstr(st, 4, d->ret);
	db_bind_int(st, 5, now);
	db_bind_int(st, 6, now);
	db_bind_int(st, 7, d->requiretls ? 1 : 0);
	db_bind_int(st, 8, d->tls_optional ? 1 : 0);
	if (returned_id(c, st, &res->queue_id, error_r) < 0)
		return -1;
	for (size_t i = 0; i < d->n_rcpts; i++) {
		if ((st = store_stmt(c, sql_queue_rcpt_insert, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, res->queue_id);
		db_bind_int(st, 2, (int64_t)i);
		db_bind_cstr(st, 3, d->rcpts[i].address);
		db_bind_cstr(st, 4, d->rcpts[i].orcpt);
		db_bind_cstr(st, 5, d->rcpts[i].notify);
		if (store_run(c, st, error_r) < 0)
			return -1;
	}
	return 0;
}

static int deliver_one(struct store_conn *c, const struct store_req *req,
		       struct store_result *res, struct store_changes *changes,
		       const char **error_r)
{
	const deliver_req *d = &req->u.deliver;
	struct db_stmt *st;
	int64_t blob_id;

	if (d->n_targets == 0 && d->n_rcpts == 0) {
		*error_r = store_db_fail(c, "delivery without recipients");
		return -1;
	}
	if ((st = store_stmt(c, sql_blob_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, (int64_t)d->n_targets + (d->n_rcpts > 0));
	db_bind_int(st, 2, (int64_t)d->size);
	bind_bytes(st, 3, d->meta.envelope);
	bind_bytes(st, 4, d->meta.bodystructure);
	bind_bytes(st, 5, d->meta.body);
	db_bind_blob(st, 6, d->meta.parts, d->meta.parts_size);
	if (returned_id(c, st, &blob_id, error_r) < 0)
		return -1;
	res->id = blob_id;
	if ((st = store_stmt(c, sql_blob_data_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, blob_id);
	db_bind_blob(st, 2, d->data, d->size);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (d->n_targets > 0 && store_search_add(c, blob_id, error_r) < 0)
		return -1;

	res->assigned = xcalloc(d->n_targets + 1, sizeof(*res->assigned));
	for (size_t i = 0; i < d->n_targets; i++) {
		if (deliver_target(c, d, &d->targets[i], blob_id,
				   &res->assigned[i], changes, error_r) < 0)
			return -1;
		res->n_assigned++;
	}
	if (d->n_rcpts == 0)
		return 0;
	return deliver_queue(c, d, blob_id, res, error_r);
}

/* A chain of deliveries (deliver.next) in the request's one savepoint:
 * a failure of any rolls back all of them. */
int store_deliver_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	size_t n = 0;
	int ret = 0;

	if (req->u.deliver.next == NULL)
		return deliver_one(c, req, res, changes, error_r);
	for (const struct store_req *r = req; r != NULL; r = r->u.deliver.next)
		n += r->u.deliver.n_targets;
	res->assigned = xcalloc(n + 1, sizeof(*res->assigned));
	for (const struct store_req *r = req; r != NULL && ret == 0;
	     r = r->u.deliver.next) {
		struct store_result one = { 0 };

		ret = deliver_one(c, r, &one, changes, error_r);
		for (size_t i = 0; i < one.n_assigned; i++)
			res->assigned[res->n_assigned++] = one.assigned[i];
		res->id = one.id;
		res->queue_id = one.queue_id;
		free(one.assigned);
	}
	return ret;
}
