/* store_conn.c: the store's connection over the database layer: opening it
 * on the configured driver with that dialect's migrations, the batch
 * transactions of the writer, the dispatch of a request to its family, and
 * the helpers the store's files share. */
#include "store/store_db_int.h"

#include <stdio.h>

/* ---- helpers ---- */

const char *store_db_error(struct store_conn *c)
{
	snprintf(c->error, sizeof(c->error), "store: %s", db_error(c->db));
	return c->error;
}

const char *store_db_fail(struct store_conn *c, const char *msg)
{
	snprintf(c->error, sizeof(c->error), "%s", msg);
	return c->error;
}

struct db_stmt *store_stmt(struct store_conn *c, const char *sql,
			   const char **error_r)
{
	struct db_stmt *st = db_prepare(c->db, sql);

	if (st == NULL)
		*error_r = store_db_error(c);
	return st;
}

int store_run(struct store_conn *c, struct db_stmt *st, const char **error_r)
{
	if (db_run(st) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

int store_row(struct store_conn *c, struct db_stmt *st, const char **error_r)
{
	int ret = db_step(st);

	if (ret < 0)
		*error_r = store_db_error(c);
	return ret;
}

int store_run_id(struct store_conn *c, const char *sql, int64_t id,
		 const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	return store_run(c, st, error_r);
}

const char *store_col_str(struct arena *a, struct db_stmt *st, int i)
{
	struct str s = db_col_text(st, i);

	return arena_strndup(a, s.p, s.n);
}

const void *store_col_bytes(struct arena *a, struct db_stmt *st, int i,
			    size_t *size_r)
{
	struct str s = db_col_blob(st, i);
	char *copy = arena_alloc(a, s.n + 1);

	if (s.n > 0)
		memcpy(copy, s.p, s.n);
	copy[s.n] = '\0';
	*size_r = s.n;
	return copy;
}

void *store_vec_push(struct store_vec *v)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 16 : v->cap * 2;
		v->v = xrealloc(v->v, v->cap * v->size);
	}
	return (char *)v->v + v->n++ * v->size;
}

void *store_vec_to_arena(struct store_vec *v, struct arena *a)
{
	void *p = arena_alloc(a, MAX(v->n, 1) * v->size);

	if (v->n > 0)
		memcpy(p, v->v, v->n * v->size);
	free(v->v);
	v->v = NULL;
	return p;
}

int store_rows(struct store_conn *c, struct arena *a, struct db_stmt *st,
	       size_t size, store_row_fn *fill, void *items_r,
	       const char **error_r)
{
	struct store_vec v = { .size = size };
	int ret;

	while ((ret = store_row(c, st, error_r)) == 1)
		fill(a, st, store_vec_push(&v));
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*(void **)items_r = store_vec_to_arena(&v, a);
	return ret;
}

int store_row_one(struct store_conn *c, struct arena *a, struct db_stmt *st,
		  store_row_fn *fill, void *item, const char **error_r)
{
	int ret;

	if (st == NULL)
		return -1;
	if ((ret = store_row(c, st, error_r)) == 1) {
		if (fill != NULL)
			fill(a, st, item);
		db_reset(st);
	}
	return ret;
}

/* ---- open, migrate ---- */

/* The migrations of a dialect (store_schema_*.c). */
static const char *const *schema_of(enum db_kind kind, size_t *n_r)
{
	if (kind == DB_PGSQL) {
		*n_r = store_pgsql_n_migrations;
		return store_pgsql_migrations;
	}
	*n_r = store_sqlite_n_migrations;
	return store_sqlite_migrations;
}

static void conn_close(struct store_conn **cp)
{
	struct store_conn *c = *cp;

	if (c == NULL)
		return;
	db_close(&c->db);
	free(c);
	*cp = NULL;
}

static struct store_conn *conn_open(const struct store_settings *set,
				    bool writer, char **error_r)
{
	bool pgsql = set->driver != NULL && strcmp(set->driver, "pgsql") == 0;
	struct db_settings ds = {
		.kind = pgsql ? DB_PGSQL : DB_SQLITE,
		.path = set->path,
		.conninfo = set->conninfo,
		.fsync = set->fsync,
		.writer = writer,
		.busy_timeout_ms = set->busy_timeout_ms,
		.max_pages = writer ? set->max_pages : 0,
		.fault = writer ? set->fault : NULL,
		/* the writer's and readers' state is all in transactions */
		.reconnect = true,
	};
	const char *const *migrations;
	struct store_conn *c;
	size_t n_migrations;
	char *error = NULL;

	migrations = schema_of(ds.kind, &n_migrations);
	if (ds.kind == DB_SQLITE && ds.path == NULL) {
		*error_r = xstrdup("store: no database path");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fsync = set->fsync;
	c->db = db_open(&ds, &error);
	if (c->db == NULL) {
		*error_r = xasprintf("store: %s", error);
		free(error);
		free(c);
		return NULL;
	}
	if (writer && db_migrate(c->db, migrations, n_migrations) < 0) {
		*error_r = xasprintf("store: %s", db_error(c->db));
		conn_close(&c);
		return NULL;
	}
	return c;
}

static int conn_schema_version(struct store_conn *c)
{
	return db_schema_version(c->db);
}

/* ---- transactions ---- */

static int conn_begin(struct store_conn *c, const char **error_r)
{
	if (db_begin(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

static int conn_commit(struct store_conn *c, const char **error_r)
{
	if (db_commit(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

static void conn_rollback(struct store_conn *c)
{
	db_rollback(c->db);
}

static int conn_savepoint(struct store_conn *c, const char **error_r)
{
	if (db_savepoint(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

static int conn_release(struct store_conn *c, const char **error_r)
{
	if (db_release(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

static void conn_rollback_to(struct store_conn *c)
{
	db_rollback_to(c->db);
}

static bool conn_in_transaction(struct store_conn *c)
{
	return db_in_transaction(c->db);
}

static bool conn_error_retry(struct store_conn *c)
{
	return db_error_retry(c->db);
}

static bool conn_error_unavailable(struct store_conn *c)
{
	return db_error_unavailable(c->db);
}

/* A reader's snapshot for several reads. */
static int conn_read_begin(struct store_conn *c, const char **error_r)
{
	if (db_begin_read(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

/* The writer's background work: the search index, then, once nothing is
 * left to index, the database's own housekeeping (a WAL checkpoint). */
static int conn_idle(struct store_conn *c, const char **error_r)
{
	int ret = store_search_idle(c, error_r);

	if (ret == 0)
		db_idle(c->db);
	return ret;
}

/* ---- requests ---- */

int store_conn_apply(struct store_conn *c, const struct store_req *req,
		     struct store_result *res, struct store_changes *changes,
		     const char **error_r)
{
	switch (req->type) {
	case STORE_REQ_DELIVER:
		return store_deliver_apply(c, req, res, changes, error_r);
	case STORE_REQ_DOMAIN_ADD:
	case STORE_REQ_DOMAIN_DEL:
	case STORE_REQ_USER_ADD:
	case STORE_REQ_USER_DEL:
	case STORE_REQ_USER_SET_PASSWORD:
	case STORE_REQ_ALIAS_ADD:
	case STORE_REQ_ALIAS_DEL:
		return store_account_apply(c, req, res, changes, error_r);
	case STORE_REQ_USER_SET_QUOTA:
		return store_quota_apply(c, req, error_r);
	case STORE_REQ_MAILBOX_CREATE:
	case STORE_REQ_MAILBOX_RENAME:
	case STORE_REQ_MAILBOX_DELETE:
	case STORE_REQ_MAILBOX_SUBSCRIBE:
	case STORE_REQ_MAILBOX_RECENT:
		return store_mailbox_apply(c, req, res, changes, error_r);
	case STORE_REQ_SET_FLAGS:
	case STORE_REQ_EXPUNGE:
	case STORE_REQ_COPY:
		return store_message_apply(c, req, res, changes, error_r);
	case STORE_REQ_EXT:
		return store_ext_apply(c, req, res, changes, error_r);
	}
	*error_r = store_db_fail(c, "unknown store request");
	return -1;
}

const struct store_driver store_driver_db = {
	.name = "db",
	.conn_open = conn_open,
	.conn_close = conn_close,
	.schema_version = conn_schema_version,
	.begin = conn_begin,
	.commit = conn_commit,
	.rollback = conn_rollback,
	.savepoint = conn_savepoint,
	.release = conn_release,
	.rollback_to = conn_rollback_to,
	.in_transaction = conn_in_transaction,
	.error_retry = conn_error_retry,
	.error_unavailable = conn_error_unavailable,
	.apply = store_conn_apply,
	.idle = conn_idle,
	.read_begin = conn_read_begin,
	.read_end = conn_rollback,
	.domain_exists = store_read_domain_exists,
	.domain_list = store_read_domain_list,
	.user_by_address = store_read_user_by_address,
	.user_list = store_read_user_list,
	.user_usage = store_read_user_usage,
	.alias_targets = store_read_alias_targets,
	.alias_list = store_read_alias_list,
	.subscriptions = store_read_subscriptions,
	.mailbox_list = store_read_mailbox_list,
	.mailbox_by_name = store_read_mailbox_by_name,
	.mailbox_by_id = store_read_mailbox_by_id,
	.mailbox_status = store_read_mailbox_status,
	.search_text = store_read_search_text,
	.search_pending = store_read_search_pending,
	.msg_list = store_read_msg_list,
	.expunged_since = store_read_expunged_since,
	.msg_count_above = store_read_msg_count_above,
	.msg_changed_since = store_read_msg_changed_since,
	.msg_meta = store_read_msg_meta,
	.msg_meta_range = store_read_msg_meta_range,
	.blob_get = store_read_blob_get,
	.blob_read = store_read_blob_read,
	.blob_count = store_read_blob_count,
};
