/* store_read.c: the readers of the store: domains, users, aliases,
 * subscriptions, mailboxes and their status, message lists, metadata and
 * bytes, each a cached statement on the thread's own connection. */
#include "store/store_db_int.h"

#define USER_COLS "id, address, password_hash, scram_sha256, apop_secret," \
	" quota, disabled"
#define MAILBOX_COLS "id, user_id, name, uidvalidity, uidnext, highestmodseq," \
	" special_use, EXISTS(SELECT 1 FROM subscriptions s" \
	" WHERE s.user_id = mailboxes.user_id AND s.name = mailboxes.name)," \
	" messages, unseen, recent_uid"
#define MSG_COLS "uid, flags, keywords, internal_date, size, modseq," \
	" blob_id, internal_zone"

static const char sql_domain_exists[] = "SELECT 1 FROM domains WHERE name = ?1";
static const char sql_domain_list[] = "SELECT name FROM domains ORDER BY name";
static const char sql_user_by_address[] =
	"SELECT " USER_COLS " FROM users WHERE address = ?1";
static const char sql_user_list[] =
	"SELECT " USER_COLS " FROM users ORDER BY address";
static const char sql_alias_targets[] =
	"SELECT target FROM aliases WHERE address = ?1 ORDER BY target";
static const char sql_alias_list[] =
	"SELECT address, target FROM aliases ORDER BY address, target";
static const char sql_subscriptions[] =
	"SELECT name FROM subscriptions WHERE user_id = ?1 ORDER BY name";
static const char sql_mailbox_list[] =
	"SELECT " MAILBOX_COLS " FROM mailboxes WHERE user_id = ?1 ORDER BY name";
static const char sql_mailbox_by_name[] =
	"SELECT " MAILBOX_COLS " FROM mailboxes WHERE user_id = ?1 AND name = ?2";
static const char sql_mailbox_by_id[] =
	"SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = ?1";
/* sums CAST: PostgreSQL's sum of a BIGINT is a NUMERIC */
static const char sql_mailbox_status[] =
	"SELECT messages, unseen, highestmodseq, uidnext, uidvalidity,"
	" (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM messages"
	" WHERE mailbox_id = ?1 AND (flags & 8) <> 0),"
	" (SELECT count(*) FROM messages WHERE mailbox_id = ?1"
	" AND (flags & 8) <> 0),"
	" (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM messages"
	" WHERE mailbox_id = ?1) FROM mailboxes WHERE id = ?1";
static const char sql_msg_count_above[] =
	"SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uid > ?2";
static const char sql_msg_list[] =
	"SELECT " MSG_COLS " FROM messages WHERE mailbox_id = ?1 ORDER BY uid";
/* SQLite's planner would walk the primary key of the mailbox's every
 * message; the index on (mailbox_id, modseq) reads only what changed */
static const char sql_msg_changed_since_sqlite[] =
	"SELECT " MSG_COLS " FROM messages INDEXED BY messages_modseq"
	" WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";
static const char sql_msg_changed_since[] =
	"SELECT " MSG_COLS " FROM messages"
	" WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";
static const char sql_expunged_since[] =
	"SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2"
	" ORDER BY uid";
static const char sql_msg_meta[] =
	"SELECT b.envelope, b.bodystructure, b.body, b.parts"
	" FROM messages m JOIN blobs b ON b.id = m.blob_id"
	" WHERE m.mailbox_id = ?1 AND m.uid = ?2";
static const char sql_msg_meta_range[] =
	"SELECT m.uid, b.envelope, b.bodystructure, b.body, b.parts"
	" FROM messages m JOIN blobs b ON b.id = m.blob_id"
	" WHERE m.mailbox_id = ?1 AND m.uid BETWEEN ?2 AND ?3"
	" ORDER BY m.uid LIMIT ?4";
static const char sql_blob_get[] = "SELECT data FROM blob_data WHERE id = ?1";
static const char sql_blob_count[] = "SELECT count(*) FROM blobs";

/* The first column as a uint32_t (a UID, a count). */
static void read_uid(struct arena *a UNUSED, struct db_stmt *st, void *item)
{
	*(uint32_t *)item = (uint32_t)db_col_int(st, 0);
}

int store_read_domain_exists(struct store_conn *c, const char *domain,
				const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_domain_exists, error_r);

	if (st != NULL)
		db_bind_cstr(st, 1, domain);
	return store_row_one(c, NULL, st, NULL, NULL, error_r);
}

static void read_string(struct arena *a, struct db_stmt *st, void *item)
{
	*(const char **)item = store_col_str(a, st, 0);
}

/* Run a reader query whose first column is a string, collecting them. */
static int string_list(struct store_conn *c, struct arena *a, struct db_stmt *st,
		       const char ***list_r, const char **error_r)
{
	return store_rows(c, a, st, sizeof(const char *), read_string, list_r,
			  error_r);
}

int store_read_domain_list(struct store_conn *c, struct arena *a,
			      const char ***domains_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_domain_list, error_r);

	return st == NULL ? -1 : string_list(c, a, st, domains_r, error_r);
}

static void read_user(struct arena *a, struct db_stmt *st, void *item)
{
	struct store_user *u = item;

	u->id = db_col_int(st, 0);
	u->address = store_col_str(a, st, 1);
	u->password_hash = store_col_str(a, st, 2);
	u->scram_sha256 = store_col_str(a, st, 3);
	u->apop_secret = store_col_str(a, st, 4);
	u->quota = (uint64_t)db_col_int(st, 5);
	u->disabled = db_col_int(st, 6) != 0;
}

int store_read_user_by_address(struct store_conn *c, struct arena *a,
				  const char *address, struct store_user *user_r,
				  const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_user_by_address, error_r);

	if (st != NULL)
		db_bind_cstr(st, 1, address);
	return store_row_one(c, a, st, read_user, user_r, error_r);
}

int store_read_user_list(struct store_conn *c, struct arena *a,
			    struct store_user **users_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_user_list, error_r);

	if (st == NULL)
		return -1;
	return store_rows(c, a, st, sizeof(struct store_user), read_user,
			  users_r, error_r);
}

int store_read_subscriptions(struct store_conn *c, struct arena *a,
				int64_t user_id, const char ***names_r,
				const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_subscriptions, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	return string_list(c, a, st, names_r, error_r);
}

int store_read_alias_targets(struct store_conn *c, struct arena *a,
				const char *address, const char ***targets_r,
				const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_alias_targets, error_r);

	if (st == NULL)
		return -1;
	db_bind_cstr(st, 1, address);
	return string_list(c, a, st, targets_r, error_r);
}

int store_read_alias_list(struct store_conn *c, struct arena *a,
			     const char ***addresses_r,
			     const char ***targets_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_alias_list, error_r);
	struct store_vec addr = { .size = sizeof(const char *) };
	struct store_vec tgt = { .size = sizeof(const char *) };
	int ret;

	if (st == NULL)
		return -1;
	while ((ret = store_row(c, st, error_r)) == 1) {
		*(const char **)store_vec_push(&addr) =
			store_col_str(a, st, 0);
		*(const char **)store_vec_push(&tgt) =
			store_col_str(a, st, 1);
	}
	if (ret < 0) {
		free(addr.v);
		free(tgt.v);
		return -1;
	}
	ret = (int)addr.n;
	*addresses_r = store_vec_to_arena(&addr, a);
	*targets_r = store_vec_to_arena(&tgt, a);
	return ret;
}

static void read_mailbox(struct arena *a, struct db_stmt *st, void *item)
{
	struct store_mailbox *m = item;

	m->id = db_col_int(st, 0);
	m->user_id = db_col_int(st, 1);
	m->name = store_col_str(a, st, 2);
	m->uidvalidity = (uint32_t)db_col_int(st, 3);
	m->uidnext = (uint32_t)db_col_int(st, 4);
	m->highestmodseq = (uint64_t)db_col_int(st, 5);
	m->special_use = store_col_str(a, st, 6);
	m->subscribed = db_col_int(st, 7) != 0;
	m->messages = (uint32_t)db_col_int(st, 8);
	m->unseen = (uint32_t)db_col_int(st, 9);
	m->recent_uid = (uint32_t)db_col_int(st, 10);
}

int store_read_mailbox_list(struct store_conn *c, struct arena *a,
			       int64_t user_id,
			       struct store_mailbox **mailboxes_r,
			       const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_list, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	return store_rows(c, a, st, sizeof(struct store_mailbox), read_mailbox,
			  mailboxes_r, error_r);
}

int store_read_mailbox_by_name(struct store_conn *c, struct arena *a,
				  int64_t user_id, const char *name,
				  struct store_mailbox *mailbox_r,
				  const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_by_name, error_r);

	if (st != NULL) {
		db_bind_int(st, 1, user_id);
		db_bind_cstr(st, 2, store_is_inbox(name) ? "INBOX" : name);
	}
	return store_row_one(c, a, st, read_mailbox, mailbox_r, error_r);
}

int store_read_mailbox_by_id(struct store_conn *c, struct arena *a,
				int64_t mailbox_id,
				struct store_mailbox *mailbox_r,
				const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_by_id, error_r);

	if (st != NULL)
		db_bind_int(st, 1, mailbox_id);
	return store_row_one(c, a, st, read_mailbox, mailbox_r, error_r);
}

static void read_status(struct arena *a UNUSED, struct db_stmt *st,
			void *item)
{
	struct store_mailbox_status *status_r = item;

	status_r->messages = (uint32_t)db_col_int(st, 0);
	status_r->unseen = (uint32_t)db_col_int(st, 1);
	status_r->highestmodseq = (uint64_t)db_col_int(st, 2);
	status_r->uidnext = (uint32_t)db_col_int(st, 3);
	status_r->uidvalidity = (uint32_t)db_col_int(st, 4);
	status_r->deleted_size = (uint64_t)db_col_int(st, 5);
	status_r->deleted = (uint32_t)db_col_int(st, 6);
	status_r->size = (uint64_t)db_col_int(st, 7);
}

int store_read_mailbox_status(struct store_conn *c, int64_t mailbox_id,
				 struct store_mailbox_status *status_r,
				 const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_status, error_r);

	if (st != NULL)
		db_bind_int(st, 1, mailbox_id);
	return store_row_one(c, NULL, st, read_status, status_r, error_r);
}

int store_read_msg_count_above(struct store_conn *c, int64_t mailbox_id,
				  uint32_t uid, uint32_t *count_r,
				  const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_msg_count_above, error_r);

	*count_r = 0;
	if (st != NULL) {
		db_bind_int(st, 1, mailbox_id);
		db_bind_int(st, 2, uid);
	}
	return store_row_one(c, NULL, st, read_uid, count_r, error_r) < 0 ?
		-1 : 0;
}

static void read_msg(struct arena *a, struct db_stmt *st, void *item)
{
	struct store_msg *m = item;

	m->uid = (uint32_t)db_col_int(st, 0);
	m->flags = (uint32_t)db_col_int(st, 1);
	/* most messages have no keywords: share one "" */
	m->keywords = db_col_text(st, 2).n == 0 ? "" : store_col_str(a, st, 2);
	m->internal_date = db_col_int(st, 3);
	m->size = (uint64_t)db_col_int(st, 4);
	m->modseq = (uint64_t)db_col_int(st, 5);
	m->blob_id = db_col_int(st, 6);
	m->internal_zone = (int)db_col_int(st, 7);
}

/* The store_msg rows of st (bound, columns MSG_COLS). */
static int msg_list_read(struct store_conn *c, struct arena *a,
			 struct db_stmt *st, struct store_msg **msgs_r,
			 const char **error_r)
{
	return store_rows(c, a, st, sizeof(struct store_msg), read_msg, msgs_r,
			  error_r);
}

int store_read_msg_list(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, struct store_msg **msgs_r,
			   const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_msg_list, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	return msg_list_read(c, a, st, msgs_r, error_r);
}

int store_read_msg_changed_since(struct store_conn *c, struct arena *a,
				    int64_t mailbox_id, uint64_t since,
				    struct store_msg **msgs_r,
				    const char **error_r)
{
	struct db_stmt *st = store_stmt(c, db_kind(c->db) == DB_SQLITE ?
					 sql_msg_changed_since_sqlite :
					 sql_msg_changed_since, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, (int64_t)since);
	return msg_list_read(c, a, st, msgs_r, error_r);
}

int store_read_expunged_since(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint64_t since,
				 uint32_t **uids_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_expunged_since, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, (int64_t)since);
	return store_rows(c, a, st, sizeof(uint32_t), read_uid, uids_r,
			  error_r);
}

/* The metadata columns from i on: envelope, bodystructure, body, parts. */
static void read_meta_at(struct arena *a, struct db_stmt *st, int i,
			 struct store_msg_meta *meta_r)
{
	meta_r->envelope = store_col_str(a, st, i);
	meta_r->bodystructure = store_col_str(a, st, i + 1);
	meta_r->body = store_col_str(a, st, i + 2);
	meta_r->parts = store_col_bytes(a, st, i + 3, &meta_r->parts_size);
}

static void read_meta(struct arena *a, struct db_stmt *st, void *item)
{
	read_meta_at(a, st, 0, item);
}

int store_read_msg_meta(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, uint32_t uid,
			   struct store_msg_meta *meta_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_msg_meta, error_r);

	if (st != NULL) {
		db_bind_int(st, 1, mailbox_id);
		db_bind_int(st, 2, uid);
	}
	return store_row_one(c, a, st, read_meta, meta_r, error_r);
}

int store_read_msg_meta_range(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint32_t lo, uint32_t hi,
				 size_t max, uint32_t **uids_r,
				 struct store_msg_meta **metas_r,
				 const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_msg_meta_range, error_r);
	uint32_t *uids;
	struct store_msg_meta *metas;
	size_t n = 0;
	int ret;

	if (st == NULL)
		return -1;
	uids = arena_alloc(a, (max + 1) * sizeof(*uids));
	metas = arena_alloc(a, (max + 1) * sizeof(*metas));
	db_bind_int(st, 1, mailbox_id);
	db_bind_int(st, 2, lo);
	db_bind_int(st, 3, hi);
	db_bind_int(st, 4, (int64_t)max);
	while ((ret = store_row(c, st, error_r)) == 1) {
		uids[n] = (uint32_t)db_col_int(st, 0);
		read_meta_at(a, st, 1, &metas[n]);
		n++;
	}
	if (ret < 0)
		return -1;
	*uids_r = uids;
	*metas_r = metas;
	return (int)n;
}

struct blob_out {
	const char **data_r;
	size_t *size_r;
};

static void read_blob(struct arena *a, struct db_stmt *st, void *item)
{
	struct blob_out *o = item;

	*o->data_r = store_col_bytes(a, st, 0, o->size_r);
}

int store_read_blob_get(struct store_conn *c, struct arena *a,
			   int64_t blob_id, const char **data_r,
			   size_t *size_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_blob_get, error_r);
	struct blob_out out = { data_r, size_r };

	if (st != NULL)
		db_bind_int(st, 1, blob_id);
	return store_row_one(c, a, st, read_blob, &out, error_r);
}

int store_read_blob_read(struct store_conn *c, int64_t blob_id,
			 uint64_t offset, void *buf, size_t len, size_t *got_r,
			 uint64_t *size_r, const char **error_r)
{
	int ret = db_blob_read(c->db, "blob_data", "data", blob_id, offset, buf,
			       len, got_r, size_r);

	if (ret < 0)
		*error_r = store_db_error(c);
	return ret;
}

int store_read_blob_count(struct store_conn *c, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_blob_count, error_r);
	uint32_t n = 0;

	if (store_row_one(c, NULL, st, read_uid, &n, error_r) < 0)
		return -1;
	return (int)n;
}

