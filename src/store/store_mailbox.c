/* store_mailbox.c: mailboxes: creation with a UIDVALIDITY that never
 * repeats, rename, delete with their messages, subscriptions by name,
 * \Recent's high mark, and the HIGHESTMODSEQ bump of every change. */
#include "store/store_db_int.h"

#include <time.h>

static const char sql_meta_get[] = "SELECT value FROM store_meta WHERE key = ?1";
static const char sql_meta_set[] =
	"INSERT INTO store_meta(key, value) VALUES(?1, ?2)"
	" ON CONFLICT(key) DO UPDATE SET value = excluded.value";
static const char sql_mailbox_insert[] =
	"INSERT INTO mailboxes(user_id, name, uidvalidity, special_use,"
	" subscribed) VALUES(?1, ?2, ?3, ?4, ?5) RETURNING id";
static const char sql_mailbox_owner[] =
	"SELECT user_id, name FROM mailboxes WHERE id = ?1";
static const char sql_mailbox_rename[] =
	"UPDATE mailboxes SET name = ?1 WHERE id = ?2";
static const char sql_mailbox_delete[] = "DELETE FROM mailboxes WHERE id = ?1";
static const char sql_subscribe[] =
	"INSERT INTO subscriptions(user_id, name) VALUES(?1, ?2)"
	" ON CONFLICT DO NOTHING";
static const char sql_unsubscribe[] =
	"DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2";
/* Before the mailbox row is renamed, its subscription goes along and
 * takes the place of one the new name had (SQLite's UPDATE OR REPLACE,
 * in the SQL both dialects speak): drop the new name's, then rename. */
static const char sql_subscription_make_room[] =
	"DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2"
	" AND name <> ?3 AND EXISTS(SELECT 1 FROM subscriptions"
	" WHERE user_id = ?1 AND name = ?3)";
static const char sql_subscription_rename[] =
	"UPDATE subscriptions SET name = ?2 WHERE user_id = ?1 AND name = ?3";
static const char sql_mailbox_recent[] =
	"UPDATE mailboxes SET recent_uid = ?1 WHERE id = ?2 AND recent_uid < ?1";
static const char sql_mailbox_change[] =
	"UPDATE mailboxes SET highestmodseq = highestmodseq + 1,"
	" messages = messages + ?1, unseen = unseen + ?2 WHERE id = ?3"
	" RETURNING highestmodseq, user_id";
static const char sql_mailbox_blobs[] =
	"SELECT blob_id FROM messages WHERE mailbox_id = ?1";
static const char sql_mailbox_msgs_delete[] =
	"DELETE FROM messages WHERE mailbox_id = ?1";
static const char sql_mailbox_expunged_delete[] =
	"DELETE FROM expunged WHERE mailbox_id = ?1";

bool store_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static int next_uidvalidity(struct store_conn *c, uint32_t *v_r,
			    const char **error_r)
{
	uint32_t now = (uint32_t)time(NULL);
	struct db_stmt *st;
	int ret;

	/* Other nodes may have moved it: read it again (the new value
	 * only has to be above the ones this name had before). */
	if (c->last_uidvalidity == 0 || db_kind(c->db) == DB_PGSQL) {
		if ((st = store_stmt(c, sql_meta_get, error_r)) == NULL)
			return -1;
		db_bind_cstr(st, 1, "uidvalidity");
		if ((ret = store_row(c, st, error_r)) < 0)
			return -1;
		if (ret == 1) {
			c->last_uidvalidity = (uint32_t)db_col_int(st, 0);
			db_reset(st);
		}
	}
	/* Time-based, and strictly increasing even when the clock is not,
	 * so a mailbox created again never gets an old UIDVALIDITY. */
	*v_r = MAX(now, c->last_uidvalidity + 1);
	if ((st = store_stmt(c, sql_meta_set, error_r)) == NULL)
		return -1;
	db_bind_cstr(st, 1, "uidvalidity");
	db_bind_int(st, 2, *v_r);
	if (store_run(c, st, error_r) < 0)
		return -1;
	c->last_uidvalidity = *v_r;
	return 0;
}

/* Add name to the user's subscriptions, or take it out. */
static int subscription_set(struct store_conn *c, int64_t user_id,
			    const char *name, bool on, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, on ? sql_subscribe : sql_unsubscribe,
					error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	db_bind_cstr(st, 2, name);
	return store_run(c, st, error_r);
}

int store_mailbox_insert(struct store_conn *c, int64_t user_id,
			 const char *name, const char *special_use,
			 bool subscribed, int64_t *id_r, const char **error_r)
{
	const char *stored = store_is_inbox(name) ? "INBOX" : name;
	uint32_t uidvalidity;
	struct db_stmt *st;
	int ret;

	if (name[0] == '\0') {
		*error_r = store_db_fail(c, "empty mailbox name");
		return -1;
	}
	if (next_uidvalidity(c, &uidvalidity, error_r) < 0 ||
	    (st = store_stmt(c, sql_mailbox_insert, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	db_bind_cstr(st, 2, stored);
	db_bind_int(st, 3, uidvalidity);
	db_bind_cstr(st, 4, special_use);
	db_bind_int(st, 5, subscribed);
	if ((ret = store_row(c, st, error_r)) <= 0) {
		if (ret == 0 || db_error_constraint(c->db))
			*error_r = store_db_fail(c, "mailbox already exists");
		return -1;
	}
	*id_r = db_col_int(st, 0);
	db_reset(st);
	return subscribed ? subscription_set(c, user_id, stored, true,
					     error_r) : 0;
}

/* The owner and name (malloc'd, when name_r is not NULL) of a mailbox:
 * 0, or -1 with "no such mailbox" when it does not exist. */
static int mailbox_row(struct store_conn *c, int64_t mailbox_id,
		       int64_t *user_id_r, char **name_r, bool *inbox_r,
		       const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_owner, error_r);
	struct str name;
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	if ((ret = store_row(c, st, error_r)) <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "no such mailbox");
		return -1;
	}
	*user_id_r = db_col_int(st, 0);
	name = db_col_text(st, 1);
	if (inbox_r != NULL)
		*inbox_r = str_eq(name, STR_LIT("INBOX"));
	if (name_r != NULL)
		*name_r = str_dup(name);
	db_reset(st);
	return 0;
}

int store_mailbox_lock(struct store_conn *c, int64_t mailbox_id,
		       const char **error_r)
{
	static const char sql[] =
		"SELECT id FROM mailboxes WHERE id = ?1 FOR UPDATE";
	struct db_stmt *st;

	if (db_kind(c->db) != DB_PGSQL)
		return 0;
	if ((st = store_stmt(c, sql, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	return store_run(c, st, error_r);
}

int store_mailbox_owner(struct store_conn *c, int64_t mailbox_id,
			int64_t *user_id_r, bool *inbox_r, const char **error_r)
{
	return mailbox_row(c, mailbox_id, user_id_r, NULL, inbox_r, error_r);
}

int store_mailbox_purge(struct store_conn *c, int64_t mailbox_id,
			const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_blobs, error_r);
	int64_t *blobs = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	while ((ret = store_row(c, st, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			blobs = xrealloc(blobs, cap * sizeof(*blobs));
		}
		blobs[n++] = db_col_int(st, 0);
	}
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = store_blob_unref(c, blobs[i], error_r);
	free(blobs);
	if (ret < 0 ||
	    store_run_id(c, sql_mailbox_msgs_delete, mailbox_id, error_r) < 0 ||
	    store_run_id(c, sql_mailbox_expunged_delete, mailbox_id,
			 error_r) < 0 ||
	    store_run_id(c, sql_mailbox_delete, mailbox_id, error_r) < 0)
		return -1;
	return 0;
}

int store_mailbox_change(struct store_conn *c, int64_t mailbox_id,
			 int64_t messages_delta, int64_t unseen_delta,
			 uint64_t *modseq_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_mailbox_change, error_r);
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, messages_delta);
	db_bind_int(st, 2, unseen_delta);
	db_bind_int(st, 3, mailbox_id);
	if ((ret = store_row(c, st, error_r)) <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "no such mailbox");
		return -1;
	}
	*modseq_r = (uint64_t)db_col_int(st, 0);
	db_reset(st);
	return 0;
}

static int mailbox_rename(struct store_conn *c, int64_t id,
			  const char *new_name, const char **error_r)
{
	struct db_stmt *st;
	int64_t user_id;
	char *old_name;
	bool inbox;
	int ret = -1;

	if (mailbox_row(c, id, &user_id, &old_name, &inbox, error_r) < 0)
		return -1;
	if (new_name == NULL || new_name[0] == '\0') {
		*error_r = store_db_fail(c, "empty mailbox name");
		goto out;
	}
	if (inbox || store_is_inbox(new_name)) {
		*error_r = store_db_fail(c, "renaming INBOX is not supported");
		goto out;
	}
	if ((st = store_stmt(c, sql_subscription_make_room, error_r)) == NULL)
		goto out;
	db_bind_int(st, 1, user_id);
	db_bind_cstr(st, 2, new_name);
	db_bind_cstr(st, 3, old_name);
	if (store_run(c, st, error_r) < 0 ||
	    (st = store_stmt(c, sql_subscription_rename, error_r)) == NULL)
		goto out;
	db_bind_int(st, 1, user_id);
	db_bind_cstr(st, 2, new_name);
	db_bind_cstr(st, 3, old_name);
	if (store_run(c, st, error_r) < 0 ||
	    (st = store_stmt(c, sql_mailbox_rename, error_r)) == NULL)
		goto out;
	db_bind_cstr(st, 1, new_name);
	db_bind_int(st, 2, id);
	if (store_run(c, st, error_r) < 0) {
		if (db_error_constraint(c->db))
			*error_r = store_db_fail(c, "mailbox already exists");
		goto out;
	}
	ret = 0;
out:
	free(old_name);
	return ret;
}

static int mailbox_subscribe(struct store_conn *c, const struct store_req *req,
			     const char **error_r)
{
	const __typeof__(req->u.mailbox_subscribe) *sub =
		&req->u.mailbox_subscribe;
	int64_t user_id;
	char *name;
	int ret;

	if (sub->mailbox_id == 0)
		return subscription_set(c, sub->user_id, sub->name != NULL ?
					sub->name : "", sub->subscribed,
					error_r);
	if (mailbox_row(c, sub->mailbox_id, &user_id, &name, NULL,
			error_r) < 0)
		return -1;
	ret = subscription_set(c, user_id, name, sub->subscribed, error_r);
	free(name);
	return ret;
}

int store_mailbox_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	struct db_stmt *st;
	int64_t id, user_id;
	bool inbox;

	switch (req->type) {
	case STORE_REQ_MAILBOX_CREATE:
		if (req->u.mailbox_create.name == NULL) {
			*error_r = store_db_fail(c, "empty mailbox name");
			return -1;
		}
		return store_mailbox_insert(c, req->u.mailbox_create.user_id,
					    req->u.mailbox_create.name,
					    req->u.mailbox_create.special_use,
					    req->u.mailbox_create.subscribed,
					    &res->id, error_r);
	case STORE_REQ_MAILBOX_RENAME:
		return mailbox_rename(c, req->u.mailbox_rename.mailbox_id,
				      req->u.mailbox_rename.new_name, error_r);
	case STORE_REQ_MAILBOX_DELETE:
		id = req->u.mailbox_delete.mailbox_id;
		if (store_mailbox_owner(c, id, &user_id, &inbox, error_r) < 0)
			return -1;
		if (inbox) {
			*error_r = store_db_fail(c, "INBOX cannot be deleted");
			return -1;
		}
		if (store_mailbox_purge(c, id, error_r) < 0)
			return -1;
		store_changes_add(changes, user_id, id, 0);
		return 0;
	case STORE_REQ_MAILBOX_SUBSCRIBE:
		return mailbox_subscribe(c, req, error_r);
	case STORE_REQ_MAILBOX_RECENT:
		/* Not a change of the mailbox: no modseq, no event. A
		 * mailbox deleted meanwhile is not an error. */
		if ((st = store_stmt(c, sql_mailbox_recent, error_r)) == NULL)
			return -1;
		db_bind_int(st, 1, req->u.mailbox_recent.uid);
		db_bind_int(st, 2, req->u.mailbox_recent.mailbox_id);
		return store_run(c, st, error_r);
	default:
		PANIC("not a mailbox request: %d", (int)req->type);
	}
}
