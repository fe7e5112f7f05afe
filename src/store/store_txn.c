/* store_txn.c: the writer-extension interface (store_txn.h): the batch's
 * connection and the store's own steps offered to work of the layers
 * above, and STORE_REQ_EXT run inside the request's savepoint. */
#include "store/store_db_int.h"
#include "store/store_txn.h"

struct store_conn *store_txn_conn(struct store_txn *t)
{
	return t->c;
}

int store_txn_apply(struct store_txn *t, const struct store_req *req,
		    struct store_result *res, const char **error_r)
{
	return store_conn_apply(t->c, req, res, t->changes, error_r);
}

int store_txn_blob_unref(struct store_txn *t, int64_t blob_id,
			 const char **error_r)
{
	return store_blob_unref(t->c, blob_id, error_r);
}

struct store_conn *store_reader_conn(struct store_reader *r)
{
	return r->conn;
}

struct db *store_conn_db(struct store_conn *c)
{
	return c->db;
}

int store_ext_apply(struct store_conn *c, const struct store_req *req,
		    struct store_result *res, struct store_changes *changes,
		    const char **error_r)
{
	struct store_txn t = { c, changes };

	if (req->u.ext.fn == NULL) {
		*error_r = store_db_fail(c, "store extension without work");
		return -1;
	}
	return req->u.ext.fn(&t, req->u.ext.arg, res, error_r);
}

int store_txn_attach(struct store_conn *c, const struct store_req *req,
		     int64_t blob_id, struct store_result *res,
		     struct store_changes *changes, const char **error_r)
{
	struct store_txn t = { c, changes };

	return req->u.deliver.attach.fn(&t, req->u.deliver.attach.arg,
					blob_id, res, error_r);
}
