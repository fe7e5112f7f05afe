/* store_sqlite_quota.c: storage quotas in the SQLite driver: a user's usage
 * (the sum of the message sizes over their mailboxes) and the
 * STORE_REQ_USER_SET_QUOTA request. */
#include "store/store_sqlite_int.h"

static const char *const xsql[] = {
	/* mailboxes(user_id, name) is UNIQUE, so its index finds the
	 * user's mailboxes; messages are read by their primary key. */
	[XS_USER_USAGE] = "SELECT COALESCE(SUM(m.size), 0) FROM mailboxes b"
		" JOIN messages m ON m.mailbox_id = b.id WHERE b.user_id = ?",
	[XS_USER_SET_QUOTA] = "UPDATE users SET quota = ? WHERE id = ?",
};

static sqlite3_stmt *xstmt(struct store_conn *c, enum store_sqlite_xstmt id,
			   const char **error_r)
{
	return store_sqlite_xstmt(c, id, xsql[id], error_r);
}

int store_sqlite_user_usage(struct store_conn *c, int64_t user_id,
			    uint64_t *bytes_r, const char **error_r)
{
	sqlite3_stmt *st = xstmt(c, XS_USER_USAGE, error_r);
	int ret;

	*bytes_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	ret = store_sqlite_row(c, st, "user usage", error_r);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		sqlite3_int64 sum = sqlite3_column_int64(st, 0);

		*bytes_r = sum > 0 ? (uint64_t)sum : 0;
		store_sqlite_done(st);
	}
	return 0;
}

int store_sqlite_quota_apply(struct store_conn *c, const struct store_req *req,
			     const char **error_r)
{
	const __typeof__(req->u.user_quota) *q = &req->u.user_quota;
	sqlite3_stmt *st;

	if (q->quota > INT64_MAX) {
		*error_r = store_sqlite_fail(c, "quota too large");
		return -1;
	}
	if ((st = xstmt(c, XS_USER_SET_QUOTA, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)q->quota);
	sqlite3_bind_int64(st, 2, q->user_id);
	if (store_sqlite_exec(c, st, "set quota", error_r) < 0)
		return -1;
	if (sqlite3_changes(store_sqlite_db(c)) == 0) {
		*error_r = store_sqlite_fail(c, "no such user");
		return -1;
	}
	return 0;
}
