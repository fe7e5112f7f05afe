/* store_deliver.c: a delivery in one request: the message bytes stored once
 * as a reference-counted blob, a UID and modseq in each target mailbox,
 * the attach of a layer above (the outbound queue entry of its remote
 * recipients, queue/queue_store.c); and the drop of a blob reference that
 * deletes the last one. */
#include "store/store_db_int.h"

/* The statements of a delivery: the hot path of SMTP, all cached. */
static const char sql_blob_insert[] =
	"INSERT INTO blobs(refcount, size, envelope, bodystructure, body,"
	" parts) VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
static const char sql_blob_data_insert[] =
	"INSERT INTO blob_data(id, data) VALUES(?1, ?2)";
static const char sql_mailbox_inbox[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND name = 'INBOX'";
/* The \Junk mailbox first, else one named Junk (the lowest id of
 * several: the oldest). */
static const char sql_mailbox_junk[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1"
	" AND (special_use = ?2 OR name = ?3)"
	" ORDER BY CASE WHEN special_use = ?2 THEN 0 ELSE 1 END, id LIMIT 1";
static const char sql_mailbox_add_msg[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1,"
	" highestmodseq = highestmodseq + 1, messages = messages + 1,"
	" unseen = unseen + ?1 WHERE id = ?2"
	" RETURNING uidnext - 1, highestmodseq, user_id";
static const char sql_msg_insert[] =
	"INSERT INTO messages(mailbox_id, uid, blob_id, flags, keywords,"
	" internal_date, size, modseq, internal_zone)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_blob_unref[] =
	"UPDATE blobs SET refcount = refcount - 1 WHERE id = ?1"
	" RETURNING refcount";
/* SQLite: a large message goes into a zeroblob written in place
 * (db_blob_write), so SQLite builds no record holding a second copy. */
static const char sql_blob_data_insert_zero[] =
	"INSERT INTO blob_data(id, data) VALUES(?1, zeroblob(?2))";
/* Below this the bytes are bound as usual: the record copy is small, and
 * opening a blob handle compiles a statement (tens of microseconds, a real
 * share of a small delivery's cost). */
#define BLOB_IN_PLACE_MIN (64 * 1024)
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
/* The message bytes of blob_id. */
static int blob_data_insert(struct store_conn *c, int64_t blob_id,
			    const void *data, size_t size, const char **error_r)
{
	bool in_place = db_kind(c->db) == DB_SQLITE && size >= BLOB_IN_PLACE_MIN;
	struct db_stmt *st = store_stmt(c, in_place ? sql_blob_data_insert_zero :
					sql_blob_data_insert, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, blob_id);
	if (in_place)
		db_bind_int(st, 2, (int64_t)size);
	else
		db_bind_blob(st, 2, data, size);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (in_place && db_blob_write(c->db, "blob_data", "data", blob_id,
				      data, size) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

/* The user's Junk mailbox (struct store_target), created when missing:
 * a user may have deleted it, and spam must not go to the INBOX then. */
static int junk_mailbox(struct store_conn *c, int64_t user_id, int64_t *id_r,
			const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_junk, error_r);
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	db_bind_cstr(st, 2, "\\Junk");
	db_bind_cstr(st, 3, "Junk");
	if ((ret = store_row(c, st, error_r)) < 0)
		return -1;
	if (ret > 0) {
		*id_r = db_col_int(st, 0);
		db_reset(st);
		return 0;
	}
	return store_mailbox_insert(c, user_id, "Junk", "\\Junk", true, id_r,
				    error_r);
}

static int deliver_target(struct store_conn *c,
			  const deliver_req *d,
			  const struct store_target *t, int64_t blob_id,
			  struct store_assigned *as,
			  struct store_changes *changes, const char **error_r)
{
	int64_t mailbox_id = t->mailbox_id, user_id;
	struct db_stmt *st;
	int ret;

	if (mailbox_id == 0 && t->junk) {
		if (junk_mailbox(c, t->user_id, &mailbox_id, error_r) < 0)
			return -1;
	} else if (mailbox_id == 0) {
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

static int deliver_one(struct store_conn *c, const struct store_req *req,
		       struct store_result *res, struct store_changes *changes,
		       const char **error_r)
{
	const deliver_req *d = &req->u.deliver;
	struct db_stmt *st;
	int64_t blob_id;
	bool attach = d->attach.fn != NULL;

	if (d->n_targets == 0 && !attach) {
		*error_r = store_db_fail(c, "delivery without recipients");
		return -1;
	}
	if ((st = store_stmt(c, sql_blob_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, (int64_t)d->n_targets + attach);
	db_bind_int(st, 2, (int64_t)d->size);
	bind_bytes(st, 3, d->meta.envelope);
	bind_bytes(st, 4, d->meta.bodystructure);
	bind_bytes(st, 5, d->meta.body);
	db_bind_blob(st, 6, d->meta.parts, d->meta.parts_size);
	if (returned_id(c, st, &blob_id, error_r) < 0)
		return -1;
	res->id = blob_id;
	if (blob_data_insert(c, blob_id, d->data, d->size, error_r) < 0)
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
	if (!attach)
		return 0;
	return store_txn_attach(c, req, blob_id, res, changes, error_r);
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
