/* store_int.h: private to src/store: the driver interface behind store.h
 * and the writer's per-request list of changed mailboxes. */
#ifndef POSTHORN_STORE_STORE_INT_H
#define POSTHORN_STORE_STORE_INT_H

#include "store/store.h"

/* A driver connection; each driver defines its own. */
struct store_conn;

/* A mailbox changed by one request, reported after commit. */
struct store_change {
	int64_t user_id;
	int64_t mailbox_id;
	uint64_t modseq;
};

struct store_changes {
	struct store_change *v;
	size_t n, cap;
};

void store_changes_add(struct store_changes *c, int64_t user_id,
		       int64_t mailbox_id, uint64_t modseq);

/* The writer's transaction as store_txn.h hands it to a layer above:
 * the request's connection and its list of changed mailboxes. */
struct store_txn {
	struct store_conn *c;
	struct store_changes *changes;
};

/* Error returns: -1 with *error_r valid until the next call on conn. */
struct store_driver {
	const char *name;
	/* writer = true: the connection that creates/migrates and writes.
	 * NULL and a malloc'd *error_r on failure. */
	struct store_conn *(*conn_open)(const struct store_settings *set,
					bool writer, char **error_r);
	void (*conn_close)(struct store_conn **conn);
	int (*schema_version)(struct store_conn *conn);

	/* Transactions for the group commit: begin/commit/rollback cover the
	 * batch, savepoint/release/rollback_to one request. in_transaction
	 * is false when the database aborted the batch by itself. */
	int (*begin)(struct store_conn *conn, const char **error_r);
	int (*commit)(struct store_conn *conn, const char **error_r);
	void (*rollback)(struct store_conn *conn);
	int (*savepoint)(struct store_conn *conn, const char **error_r);
	int (*release)(struct store_conn *conn, const char **error_r);
	void (*rollback_to)(struct store_conn *conn);
	bool (*in_transaction)(struct store_conn *conn);
	/* Whether the last error was a conflict with another transaction
	 * (a deadlock between two nodes' batches) that is worth running the
	 * whole batch again for. */
	bool (*error_retry)(struct store_conn *conn);
	/* Whether the last error was the database's absence (a lost
	 * connection): the request may succeed later as it is. */
	bool (*error_unavailable)(struct store_conn *conn);
	/* Apply one request inside the open transaction. Fills result's
	 * outputs (not status/error) and the changed mailboxes. */
	int (*apply)(struct store_conn *conn, const struct store_req *req,
		     struct store_result *result, struct store_changes *changes,
		     const char **error_r);
	/* Background work (the search index) run by the writer between
	 * batches, a small piece in its own transaction: 1 = more to do,
	 * 0 = nothing left, -1 = error. */
	int (*idle)(struct store_conn *conn, const char **error_r);

	/* Readers: same contracts as the store.h functions. */
	int (*read_begin)(struct store_conn *c, const char **error_r);
	void (*read_end)(struct store_conn *c);
	int (*domain_exists)(struct store_conn *c, const char *domain,
			     const char **error_r);
	int (*domain_list)(struct store_conn *c, struct arena *a,
			   const char ***domains_r, const char **error_r);
	int (*user_by_address)(struct store_conn *c, struct arena *a,
			       const char *address, struct store_user *user_r,
			       const char **error_r);
	int (*user_list)(struct store_conn *c, struct arena *a,
			 struct store_user **users_r, const char **error_r);
	int (*user_usage)(struct store_conn *c, int64_t user_id,
			  uint64_t *bytes_r, const char **error_r);
	/* Exact address only; store.c adds the catch-all fallback. */
	int (*alias_targets)(struct store_conn *c, struct arena *a,
			     const char *address, const char ***targets_r,
			     const char **error_r);
	int (*alias_list)(struct store_conn *c, struct arena *a,
			  const char ***addresses_r, const char ***targets_r,
			  const char **error_r);
	int (*subscriptions)(struct store_conn *c, struct arena *a,
			     int64_t user_id, const char ***names_r,
			     const char **error_r);
	int (*mailbox_list)(struct store_conn *c, struct arena *a,
			    int64_t user_id, struct store_mailbox **mailboxes_r,
			    const char **error_r);
	int (*mailbox_by_name)(struct store_conn *c, struct arena *a,
			       int64_t user_id, const char *name,
			       struct store_mailbox *mailbox_r,
			       const char **error_r);
	int (*mailbox_by_id)(struct store_conn *c, struct arena *a,
			     int64_t mailbox_id, struct store_mailbox *mailbox_r,
			     const char **error_r);
	int (*mailbox_status)(struct store_conn *c, int64_t mailbox_id,
			      struct store_mailbox_status *status_r,
			      const char **error_r);
	int (*search_text)(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, enum store_search_field field,
			   const char *header, const char *needle,
			   uint32_t **uids_r, const char **error_r);
	int (*search_pending)(struct store_conn *c, const char **error_r);
	int (*msg_list)(struct store_conn *c, struct arena *a,
			int64_t mailbox_id, struct store_msg **msgs_r,
			const char **error_r);
	int (*expunged_since)(struct store_conn *c, struct arena *a,
			      int64_t mailbox_id, uint64_t since,
			      uint32_t **uids_r, const char **error_r);
	int (*msg_count_above)(struct store_conn *c, int64_t mailbox_id,
			       uint32_t uid, uint32_t *count_r,
			       const char **error_r);
	int (*msg_changed_since)(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint64_t since,
				 struct store_msg **msgs_r,
				 const char **error_r);
	int (*msg_meta)(struct store_conn *c, struct arena *a,
			int64_t mailbox_id, uint32_t uid,
			struct store_msg_meta *meta_r, const char **error_r);
	int (*msg_meta_range)(struct store_conn *c, struct arena *a,
			      int64_t mailbox_id, uint32_t lo, uint32_t hi,
			      size_t max, uint32_t **uids_r,
			      struct store_msg_meta **metas_r,
			      const char **error_r);
	int (*blob_get)(struct store_conn *c, struct arena *a, int64_t blob_id,
			const char **data_r, size_t *size_r,
			const char **error_r);
	int (*blob_read)(struct store_conn *c, int64_t blob_id,
			 uint64_t offset, void *buf, size_t len, size_t *got_r,
			 uint64_t *size_r, const char **error_r);
	int (*blob_count)(struct store_conn *c, const char **error_r);
};

/* store_conn.c: the mail semantics over the database layer (db/db.h), on
 * either of its drivers. */
extern const struct store_driver store_driver_db;

struct store_reader {
	const struct store_driver *driver;
	struct store_conn *conn;
};

/* store_writer.c: the writer thread, owned by struct store. */
struct store_writer;
struct store_writer *store_writer_start(const struct store_driver *driver,
					struct store_conn *conn);
/* Processes what was submitted (the completions are posted) and joins
 * the thread; a submit after it is a bug. Idempotent. */
void store_writer_drain(struct store_writer *w);
/* store_writer_drain(), then close conn and free. */
void store_writer_stop(struct store_writer **writer);
void store_writer_subscribe(struct store_writer *w, store_change_fn *fn,
			    void *arg);
/* reply_queue NULL (store_submit_wait only): done runs on the writer. */
void store_writer_submit(struct store_writer *w, const struct store_req *req,
			 struct task_queue *reply_queue, store_done_fn *done,
			 void *arg);
void store_writer_stats(struct store_writer *w, struct store_stats *stats_r);
/* From now on each batch also sends its changes to the other nodes
 * (store_bus_send) inside its transaction, named by node_id. */
void store_writer_set_bus(struct store_writer *w, uint64_t node_id);
/* Run the subscribers for a change another node committed (the bus
 * listener's thread). */
void store_writer_publish(struct store_writer *w, int64_t user_id,
			  int64_t mailbox_id, uint64_t modseq);

/* store_bus.c: change events between nodes, over db_notify.h. */
#define STORE_BUS_CHANNEL "posthorn_changes"
/* NOTIFY the changes of a batch inside its open transaction (delivered
 * at its commit), the highest modseq per mailbox, as few notifications
 * as their size allows. 0, or -1 with *error_r. */
int store_bus_send(struct store_conn *c, uint64_t node_id,
		   const struct store_change *v, size_t n,
		   const char **error_r);
/* Call fn for each change of a notification's payload that another
 * node than self sent. The number of changes, or -1 when the payload
 * is not one of ours. */
int store_bus_parse(struct str payload, uint64_t self,
		    void (*fn)(void *arg, const struct store_change *c),
		    void *arg);

/* store_nodes.c: what a store on a shared database runs besides the
 * writer: the bus listener thread and the lock connection. */
struct store_nodes;
struct store_nodes *store_nodes_start(const struct store_settings *set,
				      struct store_writer *writer);
/* Stops the listener; the locks go with the lock connection. */
void store_nodes_stop(struct store_nodes **nodes);
uint64_t store_nodes_id(const struct store_nodes *nodes);
/* store.c */
struct store_nodes *store_get_nodes(struct store *store);

#endif
