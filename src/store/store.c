/* store.c: the public store API: picks the driver, owns the writer thread,
 * and forwards reader calls to the driver's connection of the thread. */
#include "store/store_int.h"

#include <pthread.h>

#include "base/log.h"

struct store {
	const struct store_driver *driver;
	struct store_settings set;
	char *path, *conninfo;
	struct store_writer *writer;
	struct store_nodes *nodes;	/* store_nodes.c */
	int schema_version;
};

/* The names of the database drivers the store runs on. */
static const char *const driver_names[] = { "sqlite", "pgsql" };

struct store *store_open(const struct store_settings *set, char **error_r)
{
	const char *name = set->driver != NULL ? set->driver : "sqlite";
	const struct store_driver *driver = NULL;
	struct store_conn *conn;
	struct store *store;

	for (size_t i = 0; i < ARRAY_SIZE(driver_names); i++) {
		if (strcmp(driver_names[i], name) == 0) {
			driver = &store_driver_db;
			name = driver_names[i];
		}
	}
	if (driver == NULL) {
		*error_r = xasprintf("store: unknown driver '%s'", name);
		return NULL;
	}
	conn = driver->conn_open(set, true, error_r);
	if (conn == NULL)
		return NULL;
	store = xcalloc(1, sizeof(*store));
	store->driver = driver;
	store->set = *set;
	store->path = set->path != NULL ? xstrdup(set->path) : NULL;
	store->set.path = store->path;
	store->conninfo = set->conninfo != NULL ? xstrdup(set->conninfo) : NULL;
	store->set.conninfo = store->conninfo;
	store->set.driver = name;
	store->schema_version = driver->schema_version(conn);
	store->writer = store_writer_start(driver, conn);
	store->nodes = store_nodes_start(&store->set, store->writer);
	return store;
}

void store_drain(struct store *store)
{
	store_writer_drain(store->writer);
}

void store_close(struct store **sp)
{
	struct store *store = *sp;

	if (store == NULL)
		return;
	/* the listener publishes through the writer: it goes first */
	store_nodes_stop(&store->nodes);
	store_writer_stop(&store->writer);
	free(store->path);
	free(store->conninfo);
	free(store);
	*sp = NULL;
}

int store_schema_version(struct store *store)
{
	return store->schema_version;
}

void store_get_stats(struct store *store, struct store_stats *stats_r)
{
	store_writer_stats(store->writer, stats_r);
}

struct store_nodes *store_get_nodes(struct store *store)
{
	return store->nodes;
}

void store_subscribe(struct store *store, store_change_fn *fn, void *arg)
{
	store_writer_subscribe(store->writer, fn, arg);
}

void store_submit(struct store *store, const struct store_req *req,
		  struct task_queue *reply_queue, store_done_fn *done,
		  void *arg)
{
	ASSERT(reply_queue != NULL);
	store_writer_submit(store->writer, req, reply_queue, done, arg);
}

struct submit_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_result *result;
};

/* Runs on the writer thread (no reply queue). */
static void submit_wait_done(void *arg, struct store_result *result)
{
	struct submit_wait *sw = arg;

	pthread_mutex_lock(&sw->lock);
	sw->result = result;
	pthread_cond_signal(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

int store_submit_wait(struct store *store, const struct store_req *req,
		      struct store_result **result_r)
{
	struct submit_wait sw = { .result = NULL };

	pthread_mutex_init(&sw.lock, NULL);
	pthread_cond_init(&sw.cond, NULL);
	store_writer_submit(store->writer, req, NULL, submit_wait_done, &sw);
	pthread_mutex_lock(&sw.lock);
	while (sw.result == NULL)
		pthread_cond_wait(&sw.cond, &sw.lock);
	pthread_mutex_unlock(&sw.lock);
	pthread_cond_destroy(&sw.cond);
	pthread_mutex_destroy(&sw.lock);
	*result_r = sw.result;
	return sw.result->status;
}

struct store_reader *store_reader_new(struct store *store, char **error_r)
{
	struct store_conn *conn;
	struct store_reader *r;

	conn = store->driver->conn_open(&store->set, false, error_r);
	if (conn == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->driver = store->driver;
	r->conn = conn;
	return r;
}

void store_reader_free(struct store_reader **rp)
{
	struct store_reader *r = *rp;

	if (r == NULL)
		return;
	r->driver->conn_close(&r->conn);
	free(r);
	*rp = NULL;
}

int store_domain_exists(struct store_reader *r, const char *domain,
			const char **error_r)
{
	return r->driver->domain_exists(r->conn, domain, error_r);
}

int store_domain_list(struct store_reader *r, struct arena *a,
		      const char ***domains_r, const char **error_r)
{
	return r->driver->domain_list(r->conn, a, domains_r, error_r);
}

int store_user_by_address(struct store_reader *r, struct arena *a,
			  const char *address, struct store_user *user_r,
			  const char **error_r)
{
	return r->driver->user_by_address(r->conn, a, address, user_r, error_r);
}

int store_user_list(struct store_reader *r, struct arena *a,
		    struct store_user **users_r, const char **error_r)
{
	return r->driver->user_list(r->conn, a, users_r, error_r);
}

int store_user_usage(struct store_reader *r, int64_t user_id,
		     uint64_t *bytes_r, const char **error_r)
{
	return r->driver->user_usage(r->conn, user_id, bytes_r, error_r);
}

int store_alias_lookup(struct store_reader *r, struct arena *a,
		       const char *address, const char ***targets_r,
		       const char **error_r)
{
	const char *at = strrchr(address, '@');
	char *catchall;
	int ret;

	ret = r->driver->alias_targets(r->conn, a, address, targets_r, error_r);
	if (ret != 0 || at == NULL || at == address)
		return ret;
	catchall = xstrdup(at);
	ret = r->driver->alias_targets(r->conn, a, catchall, targets_r, error_r);
	free(catchall);
	return ret;
}

int store_alias_list(struct store_reader *r, struct arena *a,
		     const char ***addresses_r, const char ***targets_r,
		     const char **error_r)
{
	return r->driver->alias_list(r->conn, a, addresses_r, targets_r,
				     error_r);
}

int store_user_resolve(struct store_reader *r, struct arena *a,
		       const char *address, struct store_user *user_r,
		       const char **tag_r, const char **error_r)
{
	const char *at = strrchr(address, '@');
	const char *plus;
	char *base;
	int ret;

	*tag_r = NULL;
	ret = r->driver->user_by_address(r->conn, a, address, user_r, error_r);
	if (ret != 0 || at == NULL)
		return ret;
	plus = memchr(address, '+', (size_t)(at - address));
	if (plus == NULL || plus == address)
		return 0;
	base = xasprintf("%.*s%s", (int)(plus - address), address, at);
	ret = r->driver->user_by_address(r->conn, a, base, user_r, error_r);
	free(base);
	if (ret == 1)
		*tag_r = arena_strndup(a, plus + 1, (size_t)(at - plus - 1));
	return ret;
}

int store_subscriptions(struct store_reader *r, struct arena *a,
			int64_t user_id, const char ***names_r,
			const char **error_r)
{
	return r->driver->subscriptions(r->conn, a, user_id, names_r, error_r);
}

int store_mailbox_list(struct store_reader *r, struct arena *a, int64_t user_id,
		       struct store_mailbox **mailboxes_r, const char **error_r)
{
	return r->driver->mailbox_list(r->conn, a, user_id, mailboxes_r,
				       error_r);
}

int store_mailbox_by_name(struct store_reader *r, struct arena *a,
			  int64_t user_id, const char *name,
			  struct store_mailbox *mailbox_r, const char **error_r)
{
	return r->driver->mailbox_by_name(r->conn, a, user_id, name, mailbox_r,
					  error_r);
}

int store_mailbox_by_id(struct store_reader *r, struct arena *a,
			int64_t mailbox_id, struct store_mailbox *mailbox_r,
			const char **error_r)
{
	return r->driver->mailbox_by_id(r->conn, a, mailbox_id, mailbox_r,
					error_r);
}

int store_msg_list(struct store_reader *r, struct arena *a, int64_t mailbox_id,
		   struct store_msg **msgs_r, const char **error_r)
{
	return r->driver->msg_list(r->conn, a, mailbox_id, msgs_r, error_r);
}

int store_expunged_since(struct store_reader *r, struct arena *a,
			 int64_t mailbox_id, uint64_t since,
			 uint32_t **uids_r, const char **error_r)
{
	return r->driver->expunged_since(r->conn, a, mailbox_id, since, uids_r,
					 error_r);
}

int store_msg_count_above(struct store_reader *r, int64_t mailbox_id,
			  uint32_t uid, uint32_t *count_r, const char **error_r)
{
	return r->driver->msg_count_above(r->conn, mailbox_id, uid, count_r,
					  error_r);
}

int store_msg_changed_since(struct store_reader *r, struct arena *a,
			    int64_t mailbox_id, uint64_t since,
			    struct store_msg **msgs_r, const char **error_r)
{
	return r->driver->msg_changed_since(r->conn, a, mailbox_id, since,
					    msgs_r, error_r);
}

int store_msg_meta(struct store_reader *r, struct arena *a, int64_t mailbox_id,
		   uint32_t uid, struct store_msg_meta *meta_r,
		   const char **error_r)
{
	return r->driver->msg_meta(r->conn, a, mailbox_id, uid, meta_r,
				   error_r);
}

int store_msg_meta_range(struct store_reader *r, struct arena *a,
			 int64_t mailbox_id, uint32_t lo, uint32_t hi,
			 size_t max, uint32_t **uids_r,
			 struct store_msg_meta **metas_r, const char **error_r)
{
	return r->driver->msg_meta_range(r->conn, a, mailbox_id, lo, hi, max,
					 uids_r, metas_r, error_r);
}

int store_blob_get(struct store_reader *r, struct arena *a, int64_t blob_id,
		   const char **data_r, size_t *size_r, const char **error_r)
{
	return r->driver->blob_get(r->conn, a, blob_id, data_r, size_r,
				   error_r);
}

int store_blob_read(struct store_reader *r, int64_t blob_id, uint64_t offset,
		    void *buf, size_t len, size_t *got_r, uint64_t *size_r,
		    const char **error_r)
{
	uint64_t size;

	*got_r = 0;
	return r->driver->blob_read(r->conn, blob_id, offset, buf, len, got_r,
				    size_r != NULL ? size_r : &size, error_r);
}

int store_blob_append(struct store_reader *r, int64_t blob_id,
		      uint64_t offset, size_t len, struct strbuf *out,
		      const char **error_r)
{
	size_t start = out->n, got = 0;
	int ret;

	strbuf_grow(out, len);
	ret = store_blob_read(r, blob_id, offset, out->p + start, len, &got,
			      NULL, error_r);
	out->n = start + got;
	out->p[out->n] = '\0';
	return ret;
}

int store_reader_begin(struct store_reader *r, const char **error_r)
{
	return r->driver->read_begin(r->conn, error_r);
}

void store_reader_end(struct store_reader *r)
{
	r->driver->read_end(r->conn);
}

int store_blob_count(struct store_reader *r, const char **error_r)
{
	return r->driver->blob_count(r->conn, error_r);
}

int store_mailbox_status(struct store_reader *r, int64_t mailbox_id,
			 struct store_mailbox_status *status_r,
			 const char **error_r)
{
	return r->driver->mailbox_status(r->conn, mailbox_id, status_r,
					 error_r);
}

int store_search_text(struct store_reader *r, struct arena *a,
		      int64_t mailbox_id, enum store_search_field field,
		      const char *header, const char *needle,
		      uint32_t **uids_r, const char **error_r)
{
	return r->driver->search_text(r->conn, a, mailbox_id, field, header,
				      needle, uids_r, error_r);
}

int store_search_pending(struct store_reader *r, const char **error_r)
{
	return r->driver->search_pending(r->conn, error_r);
}

