/* store_account.c: the accounts of the store: domains, users (with their
 * default mailboxes, and everything of theirs when they go), passwords and
 * aliases. */
#include "store/store_db_int.h"

static const char sql_domain_insert[] =
	"INSERT INTO domains(name) VALUES(?1) RETURNING id";
static const char sql_domain_id[] = "SELECT id FROM domains WHERE name = ?1";
static const char sql_domain_delete[] = "DELETE FROM domains WHERE id = ?1";
static const char sql_domain_users[] =
	"SELECT count(*) FROM users WHERE domain_id = ?1";
static const char sql_user_insert[] =
	"INSERT INTO users(address, domain_id, password_hash, scram_sha256,"
	" apop_secret, quota) VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
static const char sql_user_delete[] = "DELETE FROM users WHERE id = ?1";
static const char sql_user_password[] =
	"UPDATE users SET password_hash = ?1, scram_sha256 = ?2,"
	" apop_secret = ?3 WHERE id = ?4";
static const char sql_user_mailboxes[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1";
static const char sql_user_subscriptions_delete[] =
	"DELETE FROM subscriptions WHERE user_id = ?1";
static const char sql_alias_insert[] =
	"INSERT INTO aliases(address, target) VALUES(?1, ?2)"
	" ON CONFLICT DO NOTHING";
static const char sql_alias_delete_all[] =
	"DELETE FROM aliases WHERE address = ?1";
static const char sql_alias_delete[] =
	"DELETE FROM aliases WHERE address = ?1 AND target = ?2";

/* Turn a failed insert into a message a user can act on. */
static const char *conflict_error(struct store_conn *c, const char *error,
				  const char *msg)
{
	return db_error_constraint(c->db) ? store_db_fail(c, msg) : error;
}

static int domain_id(struct store_conn *c, const char *name, int64_t *id_r,
		     const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_domain_id, error_r);
	int ret;

	if (st == NULL)
		return -1;
	db_bind_cstr(st, 1, name);
	if ((ret = store_row(c, st, error_r)) == 1) {
		*id_r = db_col_int(st, 0);
		db_reset(st);
	}
	return ret;
}

/* The id a statement's RETURNING gave, or a conflict named msg. */
static int insert_id(struct store_conn *c, struct db_stmt *st, int64_t *id_r,
		     const char *msg, const char **error_r)
{
	int ret = store_row(c, st, error_r);

	if (ret <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "store: no id returned");
		else
			*error_r = conflict_error(c, *error_r, msg);
		return -1;
	}
	*id_r = db_col_int(st, 0);
	db_reset(st);
	return 0;
}

static int do_domain(struct store_conn *c, const struct store_req *req,
		     struct store_result *res, const char **error_r)
{
	const char *name = req->u.domain.name;
	struct db_stmt *st;
	/* = 0: gcc -O3 cannot see that domain_id() sets it when it
	 * returns 1 (-Wmaybe-uninitialized). */
	int64_t id = 0, users;
	int ret;

	if (req->type == STORE_REQ_DOMAIN_ADD) {
		if (name == NULL || name[0] == '\0') {
			*error_r = store_db_fail(c, "empty domain name");
			return -1;
		}
		if ((st = store_stmt(c, sql_domain_insert, error_r)) == NULL)
			return -1;
		db_bind_cstr(st, 1, name);
		return insert_id(c, st, &res->id, "domain already exists",
				 error_r);
	}
	if ((ret = domain_id(c, name, &id, error_r)) <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "no such domain");
		return -1;
	}
	if ((st = store_stmt(c, sql_domain_users, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if (store_row(c, st, error_r) < 0)
		return -1;
	users = db_col_int(st, 0);
	db_reset(st);
	if (users > 0) {
		*error_r = store_db_fail(c, "domain still has users");
		return -1;
	}
	return store_run_id(c, sql_domain_delete, id, error_r);
}

static const struct {
	const char *name, *special_use;
} default_mailboxes[] = {
	{ "INBOX", "" },
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

static int do_user_add(struct store_conn *c, const struct store_req *req,
		       struct store_result *res, const char **error_r)
{
	const __typeof__(req->u.user_add) *u = &req->u.user_add;
	const char *at = u->address != NULL ? strrchr(u->address, '@') : NULL;
	struct db_stmt *st;
	int64_t dom = 0, mailbox_id;	/* = 0: as in do_domain() */
	int ret;

	if (at == NULL || at == u->address || at[1] == '\0') {
		*error_r = store_db_fail(c, "user address must be local@domain");
		return -1;
	}
	if ((ret = domain_id(c, at + 1, &dom, error_r)) <= 0) {
		if (ret == 0)
			*error_r = store_db_fail(c, "unknown domain");
		return -1;
	}
	if ((st = store_stmt(c, sql_user_insert, error_r)) == NULL)
		return -1;
	db_bind_cstr(st, 1, u->address);
	db_bind_int(st, 2, dom);
	db_bind_cstr(st, 3, u->password_hash);
	db_bind_cstr(st, 4, u->scram_sha256);
	db_bind_cstr(st, 5, u->apop_secret);
	db_bind_int(st, 6, (int64_t)u->quota);
	if (insert_id(c, st, &res->id, "user already exists", error_r) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(default_mailboxes); i++) {
		if (store_mailbox_insert(c, res->id, default_mailboxes[i].name,
					 default_mailboxes[i].special_use, true,
					 &mailbox_id, error_r) < 0)
			return -1;
	}
	return 0;
}

static int do_user_del(struct store_conn *c, const struct store_req *req,
		       struct store_changes *changes, const char **error_r)
{
	int64_t user_id = req->u.user_del.user_id;
	struct db_stmt *st;
	int64_t *boxes = NULL;
	size_t n = 0, cap = 0;
	int ret;

	if ((st = store_stmt(c, sql_user_delete, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (db_changes(st) == 0) {
		*error_r = store_db_fail(c, "no such user");
		return -1;
	}
	if (store_run_id(c, sql_user_subscriptions_delete, user_id,
			 error_r) < 0)
		return -1;
	if ((st = store_stmt(c, sql_user_mailboxes, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, user_id);
	while ((ret = store_row(c, st, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			boxes = xrealloc(boxes, cap * sizeof(*boxes));
		}
		boxes[n++] = db_col_int(st, 0);
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = store_mailbox_purge(c, boxes[i], error_r);
		store_changes_add(changes, user_id, boxes[i], 0);
	}
	free(boxes);
	return ret;
}

static int do_user_password(struct store_conn *c, const struct store_req *req,
			    const char **error_r)
{
	const __typeof__(req->u.user_password) *u = &req->u.user_password;
	struct db_stmt *st = store_stmt(c, sql_user_password, error_r);

	if (st == NULL)
		return -1;
	db_bind_cstr(st, 1, u->password_hash);
	db_bind_cstr(st, 2, u->scram_sha256);
	db_bind_cstr(st, 3, u->apop_secret);
	db_bind_int(st, 4, u->user_id);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if (db_changes(st) == 0) {
		*error_r = store_db_fail(c, "no such user");
		return -1;
	}
	return 0;
}

static int do_alias(struct store_conn *c, const struct store_req *req,
		    const char **error_r)
{
	const __typeof__(req->u.alias) *al = &req->u.alias;
	bool add = req->type == STORE_REQ_ALIAS_ADD;
	struct db_stmt *st;
	int64_t changed = 0;

	if (al->address == NULL || strchr(al->address, '@') == NULL) {
		*error_r = store_db_fail(c, "alias address must be local@domain or @domain");
		return -1;
	}
	if (add && al->n_targets == 0) {
		*error_r = store_db_fail(c, "alias without targets");
		return -1;
	}
	if (!add && al->n_targets == 0) {
		if ((st = store_stmt(c, sql_alias_delete_all, error_r)) == NULL)
			return -1;
		db_bind_cstr(st, 1, al->address);
		if (store_run(c, st, error_r) < 0)
			return -1;
		changed = db_changes(st);
	}
	for (size_t i = 0; i < al->n_targets; i++) {
		st = store_stmt(c, add ? sql_alias_insert : sql_alias_delete,
				error_r);
		if (st == NULL)
			return -1;
		db_bind_cstr(st, 1, al->address);
		db_bind_cstr(st, 2, al->targets[i]);
		if (store_run(c, st, error_r) < 0)
			return -1;
		changed += db_changes(st);
	}
	if (!add && changed == 0) {
		*error_r = store_db_fail(c, "no such alias");
		return -1;
	}
	return 0;
}

int store_account_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	switch (req->type) {
	case STORE_REQ_DOMAIN_ADD:
	case STORE_REQ_DOMAIN_DEL:
		return do_domain(c, req, res, error_r);
	case STORE_REQ_USER_ADD:
		return do_user_add(c, req, res, error_r);
	case STORE_REQ_USER_DEL:
		return do_user_del(c, req, changes, error_r);
	case STORE_REQ_USER_SET_PASSWORD:
		return do_user_password(c, req, error_r);
	case STORE_REQ_ALIAS_ADD:
	case STORE_REQ_ALIAS_DEL:
		return do_alias(c, req, error_r);
	default:
		PANIC("not an account request: %d", (int)req->type);
	}
}
