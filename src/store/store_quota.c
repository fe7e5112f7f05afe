/* store_quota.c: storage quotas: a user's usage (the sum of the message
 * sizes over their mailboxes) and the STORE_REQ_USER_SET_QUOTA request. */
#include "store/store_db_int.h"

/* mailboxes(user_id, name) is UNIQUE, so its index finds the user's
 * mailboxes; messages are read by their primary key. The CAST: a sum is
 * a NUMERIC in PostgreSQL. */
static const char sql_user_usage[] =
	"SELECT CAST(COALESCE(SUM(m.size), 0) AS BIGINT) FROM mailboxes b"
	" JOIN messages m ON m.mailbox_id = b.id WHERE b.user_id = ?1";
static const char sql_user_set_quota[] =
	"UPDATE users SET quota = ?1 WHERE id = ?2";

int store_read_user_usage(struct store_conn *c, int64_t user_id,
			    uint64_t *bytes_r, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_user_usage, error_r);
	int ret;

	*bytes_r = 0;
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	ret = store_row(c, st, error_r);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		int64_t sum = db_col_int(st, 0);

		*bytes_r = sum > 0 ? (uint64_t)sum : 0;
		db_reset(st);
	}
	return 0;
}

int store_quota_apply(struct store_conn *c, const struct store_req *req,
			     const char **error_r)
{
	const __typeof__(req->u.user_quota) *q = &req->u.user_quota;
	struct db_stmt *st;

	if (q->quota > INT64_MAX) {
		*error_r = store_db_fail(c, "quota too large");
		return -1;
	}
	if ((st = store_stmt(c, sql_user_set_quota, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, (int64_t)q->quota);
	db_bind_int(st, 2, q->user_id);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (db_changes(st) == 0) {
		*error_r = store_db_fail(c, "no such user");
		return -1;
	}
	return 0;
}
