/* store_message.c: the changes of messages in place: flags and keywords
 * (with CONDSTORE's UNCHANGEDSINCE), EXPUNGE (logged for QRESYNC) and COPY
 * and MOVE, which share the blob and give new UIDs in one modseq. */
#include "store/store_db_int.h"
#include "base/strbuf.h"

static const char sql_msg_range[] =
	"SELECT uid, flags, keywords, modseq, blob_id FROM messages"
	" WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid";
static const char sql_msg_set_flags[] =
	"UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3"
	" WHERE mailbox_id = ?4 AND uid = ?5";
static const char sql_msg_delete[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
static const char sql_expunged_insert[] =
	"INSERT INTO expunged(mailbox_id, uid, modseq) VALUES(?1, ?2, ?3)"
	" ON CONFLICT(mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq";
static const char sql_mailbox_add_msgs[] =
	"UPDATE mailboxes SET uidnext = uidnext + ?1,"
	" highestmodseq = highestmodseq + 1, messages = messages + ?1,"
	" unseen = unseen + ?2 WHERE id = ?3"
	" RETURNING uidnext - ?1, highestmodseq, user_id";
/* CASTs: PostgreSQL types the parameters of a SELECT list from
 * nothing (as text) otherwise */
static const char sql_copy_msg[] =
	"INSERT INTO messages(mailbox_id, uid, blob_id, flags, keywords,"
	" internal_date, size, modseq, internal_zone)"
	" SELECT CAST(?1 AS BIGINT), CAST(?2 AS BIGINT), blob_id, flags,"
	" keywords, internal_date, size, CAST(?3 AS BIGINT), internal_zone"
	" FROM messages WHERE mailbox_id = ?4 AND uid = ?5";
static const char sql_blob_ref[] =
	"UPDATE blobs SET refcount = refcount + 1 WHERE id = ?1";

/* A message row read before changing it. */
struct msg_row {
	uint32_t uid;
	uint32_t flags;
	char *keywords;
	uint64_t modseq;
	int64_t blob_id;
};

static void msg_rows_free(struct msg_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].keywords);
	free(rows);
}

/* Read the rows of a UID set; every range is read before any change. */
static int msg_rows_read(struct store_conn *c, int64_t mailbox_id,
			 const struct store_uid_range *uids, size_t n_uids,
			 struct msg_row **rows_r, size_t *n_r,
			 const char **error_r)
{
	struct msg_row *rows = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	for (size_t r = 0; ret == 0 && r < n_uids; r++) {
		struct db_stmt *st = store_stmt(c, sql_msg_range, error_r);

		if (st == NULL) {
			ret = -1;
			break;
		}
		db_bind_int(st, 1, mailbox_id);
		db_bind_int(st, 2, uids[r].lo);
		db_bind_int(st, 3, uids[r].hi);
		while ((ret = store_row(c, st, error_r)) == 1) {
			uint32_t uid = (uint32_t)db_col_int(st, 0);
			bool dup = false;

			/* overlapping ranges: keep each UID once */
			for (size_t i = 0; i < n && !dup; i++)
				dup = rows[i].uid == uid;
			if (dup)
				continue;
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				rows = xrealloc(rows, cap * sizeof(*rows));
			}
			rows[n].uid = uid;
			rows[n].flags = (uint32_t)db_col_int(st, 1);
			rows[n].keywords = str_dup(db_col_text(st, 2));
			rows[n].modseq = (uint64_t)db_col_int(st, 3);
			rows[n].blob_id = db_col_int(st, 4);
			n++;
		}
	}
	if (ret < 0) {
		msg_rows_free(rows, n);
		return -1;
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

static bool kw_in(const char *const *kw, size_t n, struct str word)
{
	for (size_t i = 0; i < n; i++) {
		if (str_caseeq(str_c(kw[i]), word))
			return true;
	}
	return false;
}

static bool kw_in_buf(const struct strbuf *b, struct str word)
{
	struct str rest = strbuf_str(b), w;

	while (rest.n > 0) {
		bool more = str_split(rest, ' ', &w, &rest);
		if (str_caseeq(w, word))
			return true;
		if (!more)
			break;
	}
	return false;
}

static void kw_put(struct strbuf *b, struct str word)
{
	if (word.n == 0 || kw_in_buf(b, word))
		return;
	if (b->n > 0)
		strbuf_putc(b, ' ');
	strbuf_append_str(b, word);
}

/* The keyword string after applying op to old; IMAP keywords compare
 * case-insensitively. */
static void kw_apply(struct strbuf *b, const char *old, enum store_flags_op op,
		     const char *const *kw, size_t n_kw)
{
	struct str rest = str_c(old), w;

	strbuf_reset(b);
	if (op != STORE_FLAGS_REPLACE) {
		while (rest.n > 0) {
			bool more = str_split(rest, ' ', &w, &rest);
			if (op == STORE_FLAGS_ADD || !kw_in(kw, n_kw, w))
				kw_put(b, w);
			if (!more)
				break;
		}
	}
	if (op != STORE_FLAGS_REMOVE) {
		for (size_t i = 0; i < n_kw; i++)
			kw_put(b, str_c(kw[i]));
	}
}

static void uids_add(struct store_result *res, size_t max, uint32_t uid)
{
	if (res->uids == NULL)
		res->uids = xcalloc(max, sizeof(*res->uids));
	res->uids[res->n_uids++] = uid;
}

static int do_set_flags(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	const __typeof__(req->u.set_flags) *f = &req->u.set_flags;
	struct strbuf kw = STRBUF_INIT;
	struct msg_row *rows;
	size_t n, n_changed = 0;
	int64_t user_id, unseen_delta = 0;
	struct db_stmt *st;
	uint64_t modseq;
	bool inbox;
	int ret = 0;

	if (store_mailbox_lock(c, f->mailbox_id, error_r) < 0 ||
	    store_mailbox_owner(c, f->mailbox_id, &user_id, &inbox, error_r) < 0 ||
	    msg_rows_read(c, f->mailbox_id, f->uids, f->n_uids, &rows, &n,
			  error_r) < 0)
		return -1;
	/* Work out the new values first; rows that do not change are
	 * dropped by clearing their uid. */
	for (size_t i = 0; i < n; i++) {
		struct msg_row *m = &rows[i];
		uint32_t nf;

		if (f->unchangedsince != 0 && m->modseq > f->unchangedsince) {
			uids_add(res, n, m->uid);
			m->uid = 0;
			continue;
		}
		nf = f->op == STORE_FLAGS_ADD ? m->flags | f->flags :
			f->op == STORE_FLAGS_REMOVE ? m->flags & ~f->flags :
			f->flags;
		kw_apply(&kw, m->keywords, f->op, f->keywords, f->n_keywords);
		if (nf == m->flags && strcmp(strbuf_cstr(&kw), m->keywords) == 0) {
			m->uid = 0;
			continue;
		}
		unseen_delta += (int64_t)((m->flags & STORE_FLAG_SEEN) != 0) -
			(int64_t)((nf & STORE_FLAG_SEEN) != 0);
		m->flags = nf;
		free(m->keywords);
		m->keywords = xstrdup(strbuf_cstr(&kw));
		n_changed++;
	}
	strbuf_free(&kw);
	if (n_changed == 0)
		goto out;
	if (store_mailbox_change(c, f->mailbox_id, 0, unseen_delta, &modseq,
			   error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (rows[i].uid == 0)
			continue;
		if ((st = store_stmt(c, sql_msg_set_flags, error_r)) == NULL) {
			ret = -1;
			break;
		}
		db_bind_int(st, 1, rows[i].flags);
		db_bind_cstr(st, 2, rows[i].keywords);
		db_bind_int(st, 3, (int64_t)modseq);
		db_bind_int(st, 4, f->mailbox_id);
		db_bind_int(st, 5, rows[i].uid);
		ret = store_run(c, st, error_r);
	}
	res->modseq = modseq;
	store_changes_add(changes, user_id, f->mailbox_id, modseq);
out:
	msg_rows_free(rows, n);
	return ret;
}

/* Remove one message, log it for VANISHED, drop its blob reference. */
static int msg_expunge(struct store_conn *c, int64_t mailbox_id,
		       const struct msg_row *row, uint64_t modseq,
		       const char **error_r)
{
	struct db_stmt *st;

	if ((st = store_stmt(c, sql_msg_delete, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, row->uid);
	if (store_run(c, st, error_r) < 0 ||
	    (st = store_stmt(c, sql_expunged_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, row->uid);
	db_bind_int(st, 3, (int64_t)modseq);
	if (store_run(c, st, error_r) < 0)
		return -1;
	return store_blob_unref(c, row->blob_id, error_r);
}

static int do_expunge(struct store_conn *c, const struct store_req *req,
		      struct store_result *res, struct store_changes *changes,
		      const char **error_r)
{
	const __typeof__(req->u.expunge) *e = &req->u.expunge;
	struct msg_row *rows;
	size_t n;
	int64_t user_id, unseen = 0;
	uint64_t modseq;
	bool inbox;
	int ret = 0;

	if (store_mailbox_lock(c, e->mailbox_id, error_r) < 0 ||
	    store_mailbox_owner(c, e->mailbox_id, &user_id, &inbox, error_r) < 0 ||
	    msg_rows_read(c, e->mailbox_id, e->uids, e->n_uids, &rows, &n,
			  error_r) < 0)
		return -1;
	if (n == 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		unseen += (rows[i].flags & STORE_FLAG_SEEN) == 0;
	if (store_mailbox_change(c, e->mailbox_id, -(int64_t)n, -unseen, &modseq,
			   error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = msg_expunge(c, e->mailbox_id, &rows[i], modseq, error_r);
		if (ret == 0)
			uids_add(res, n, rows[i].uid);
	}
	res->modseq = modseq;
	store_changes_add(changes, user_id, e->mailbox_id, modseq);
out:
	msg_rows_free(rows, n);
	return ret;
}

static int msg_row_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct msg_row *)a)->uid;
	uint32_t y = ((const struct msg_row *)b)->uid;

	return x < y ? -1 : x > y;
}

/* COPY and MOVE: new UIDs in the destination in source UID order, one
 * modseq for the batch; blobs are shared (refcount), not copied. */
static int do_copy(struct store_conn *c, const struct store_req *req,
		   struct store_result *res, struct store_changes *changes,
		   const char **error_r)
{
	const __typeof__(req->u.copy) *cp = &req->u.copy;
	int64_t src_user, dst_user, unseen = 0;
	struct msg_row *rows;
	struct db_stmt *st;
	uint32_t first_uid;
	uint64_t modseq;
	size_t n;
	bool inbox;
	int ret = 0;

	/* both rows, in id order (two nodes' copies never wait on each
	 * other crosswise) */
	if (store_mailbox_lock(c, MIN(cp->src_mailbox_id, cp->dst_mailbox_id),
			       error_r) < 0 ||
	    store_mailbox_lock(c, MAX(cp->src_mailbox_id, cp->dst_mailbox_id),
			       error_r) < 0 ||
	    store_mailbox_owner(c, cp->dst_mailbox_id, &dst_user, &inbox,
			  error_r) < 0 ||
	    store_mailbox_owner(c, cp->src_mailbox_id, &src_user, &inbox,
			  error_r) < 0 ||
	    msg_rows_read(c, cp->src_mailbox_id, cp->uids, cp->n_uids, &rows,
			  &n, error_r) < 0)
		return -1;
	if (n == 0)
		goto out;
	qsort(rows, n, sizeof(*rows), msg_row_cmp);
	for (size_t i = 0; i < n; i++)
		unseen += (rows[i].flags & STORE_FLAG_SEEN) == 0;
	if ((st = store_stmt(c, sql_mailbox_add_msgs, error_r)) == NULL) {
		ret = -1;
		goto out;
	}
	db_bind_int(st, 1, (int64_t)n);
	db_bind_int(st, 2, unseen);
	db_bind_int(st, 3, cp->dst_mailbox_id);
	if (store_row(c, st, error_r) != 1) {
		ret = -1;
		goto out;
	}
	first_uid = (uint32_t)db_col_int(st, 0);
	modseq = (uint64_t)db_col_int(st, 1);
	if (db_col_int(st, 0) + (int64_t)n > UINT32_MAX) {
		db_reset(st);
		*error_r = store_db_fail(c, "no UIDs left in the mailbox");
		ret = -1;
		goto out;
	}
	db_reset(st);
	res->assigned = xcalloc(n, sizeof(*res->assigned));
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct store_assigned *as = &res->assigned[i];

		as->mailbox_id = cp->dst_mailbox_id;
		as->uid = first_uid + (uint32_t)i;
		as->modseq = modseq;
		if ((st = store_stmt(c, sql_copy_msg, error_r)) == NULL) {
			ret = -1;
			break;
		}
		db_bind_int(st, 1, cp->dst_mailbox_id);
		db_bind_int(st, 2, as->uid);
		db_bind_int(st, 3, (int64_t)modseq);
		db_bind_int(st, 4, cp->src_mailbox_id);
		db_bind_int(st, 5, rows[i].uid);
		if (store_run(c, st, error_r) < 0 ||
		    store_run_id(c, sql_blob_ref, rows[i].blob_id, error_r) < 0) {
			ret = -1;
			break;
		}
		res->n_assigned++;
		uids_add(res, n, rows[i].uid);
	}
	if (ret < 0)
		goto out;
	res->modseq = modseq;
	store_changes_add(changes, dst_user, cp->dst_mailbox_id, modseq);
	if (!cp->move)
		goto out;
	if (store_mailbox_change(c, cp->src_mailbox_id, -(int64_t)n, -unseen,
			   &res->src_modseq, error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = msg_expunge(c, cp->src_mailbox_id, &rows[i],
				  res->src_modseq, error_r);
	store_changes_add(changes, src_user, cp->src_mailbox_id,
			  res->src_modseq);
	if (cp->src_mailbox_id == cp->dst_mailbox_id)
		res->modseq = res->src_modseq;
out:
	msg_rows_free(rows, n);
	return ret;
}

int store_message_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	switch (req->type) {
	case STORE_REQ_SET_FLAGS:
		return do_set_flags(c, req, res, changes, error_r);
	case STORE_REQ_EXPUNGE:
		return do_expunge(c, req, res, changes, error_r);
	case STORE_REQ_COPY:
		return do_copy(c, req, res, changes, error_r);
	default:
		PANIC("not a message request: %d", (int)req->type);
	}
}
