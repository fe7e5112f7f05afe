/* store_db_int.h: private to src/store: the store's connection over the
 * database layer (db/db.h) and what the files of the mail semantics share
 * besides the statement helpers (store_txn.h): the entry points one
 * request family calls in another. SQL is written once, in the subset both
 * dialects accept; what differs is chosen by db_kind(). */
#ifndef POSTHORN_STORE_STORE_DB_INT_H
#define POSTHORN_STORE_STORE_DB_INT_H

#include "store/store_int.h"
#include "store/store_txn.h"
#include "db/db.h"
#include "store/store_schema.h"

struct store_conn {
	struct db *db;
	bool fsync;			/* durable commits asked for */
	char error[512];		/* *error_r of the last failure */
	uint32_t last_uidvalidity;	/* writer only */
};

/* store_deliver.c */
int store_deliver_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r);
/* Drop one reference to a blob; the last one deletes it (and its index
 * entry). */
int store_blob_unref(struct store_conn *c, int64_t blob_id,
		     const char **error_r);
/* store_account.c: domains, users, aliases */
int store_account_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r);
/* store_mailbox.c */
int store_mailbox_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r);
int store_mailbox_insert(struct store_conn *c, int64_t user_id,
			 const char *name, const char *special_use,
			 bool subscribed, int64_t *id_r, const char **error_r);
/* 0 and the owner when the mailbox exists, -1 with an error if not. */
int store_mailbox_owner(struct store_conn *c, int64_t mailbox_id,
			int64_t *user_id_r, bool *inbox_r, const char **error_r);
/* Remove a mailbox with its messages, dropping their blob references. */
int store_mailbox_purge(struct store_conn *c, int64_t mailbox_id,
			const char **error_r);
/* Bump HIGHESTMODSEQ and adjust the counters of a mailbox. */
int store_mailbox_change(struct store_conn *c, int64_t mailbox_id,
			 int64_t messages_delta, int64_t unseen_delta,
			 uint64_t *modseq_r, const char **error_r);
bool store_is_inbox(const char *name);
/* store_message.c: flags, expunge, copy and move */
int store_message_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r);
/* store_quota.c: STORE_REQ_USER_SET_QUOTA */
int store_quota_apply(struct store_conn *c, const struct store_req *req,
		      const char **error_r);
/* store_txn.c: STORE_REQ_EXT, and a deliver's attach (blob_id stored) */
int store_ext_apply(struct store_conn *c, const struct store_req *req,
		    struct store_result *res, struct store_changes *changes,
		    const char **error_r);
int store_txn_attach(struct store_conn *c, const struct store_req *req,
		     int64_t blob_id, struct store_result *res,
		     struct store_changes *changes, const char **error_r);
/* store_conn.c: any request (the DSN of a queue result is a delivery) */
int store_conn_apply(struct store_conn *c, const struct store_req *req,
		     struct store_result *res, struct store_changes *changes,
		     const char **error_r);

/* store_search.c. Writer side, inside the batch transaction. */
/* A new blob delivered to mailboxes: queue it for the index. */
int store_search_add(struct store_conn *c, int64_t blob_id,
		     const char **error_r);
/* A blob was deleted: drop it from the index and the queue. */
int store_search_remove(struct store_conn *c, int64_t blob_id,
			const char **error_r);
/* Writer, between batches: index a few queued blobs in one transaction.
 * 1 = more are queued, 0 = none left, -1 = error. */
int store_search_idle(struct store_conn *c, const char **error_r);

/* The readers, with the store.h contracts (store_read.c, store_search.c,
 * store_quota.c). */
int store_read_domain_exists(struct store_conn *c, const char *domain,
			     const char **error_r);
int store_read_domain_list(struct store_conn *c, struct arena *a,
			   const char ***domains_r, const char **error_r);
int store_read_user_by_address(struct store_conn *c, struct arena *a,
			       const char *address, struct store_user *user_r,
			       const char **error_r);
int store_read_user_list(struct store_conn *c, struct arena *a,
			 struct store_user **users_r, const char **error_r);
int store_read_user_usage(struct store_conn *c, int64_t user_id,
			  uint64_t *bytes_r, const char **error_r);
int store_read_alias_targets(struct store_conn *c, struct arena *a,
			     const char *address, const char ***targets_r,
			     const char **error_r);
int store_read_alias_list(struct store_conn *c, struct arena *a,
			  const char ***addresses_r, const char ***targets_r,
			  const char **error_r);
int store_read_subscriptions(struct store_conn *c, struct arena *a,
			     int64_t user_id, const char ***names_r,
			     const char **error_r);
int store_read_mailbox_list(struct store_conn *c, struct arena *a,
			    int64_t user_id, struct store_mailbox **mailboxes_r,
			    const char **error_r);
int store_read_mailbox_by_name(struct store_conn *c, struct arena *a,
			       int64_t user_id, const char *name,
			       struct store_mailbox *mailbox_r,
			       const char **error_r);
int store_read_mailbox_by_id(struct store_conn *c, struct arena *a,
			     int64_t mailbox_id, struct store_mailbox *mailbox_r,
			     const char **error_r);
int store_read_mailbox_status(struct store_conn *c, int64_t mailbox_id,
			      struct store_mailbox_status *status_r,
			      const char **error_r);
int store_read_search_text(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, enum store_search_field field,
			   const char *header, const char *needle,
			   uint32_t **uids_r, const char **error_r);
int store_read_search_pending(struct store_conn *c, const char **error_r);
int store_read_msg_list(struct store_conn *c, struct arena *a,
			int64_t mailbox_id, struct store_msg **msgs_r,
			const char **error_r);
int store_read_expunged_since(struct store_conn *c, struct arena *a,
			      int64_t mailbox_id, uint64_t since,
			      uint32_t **uids_r, const char **error_r);
int store_read_msg_count_above(struct store_conn *c, int64_t mailbox_id,
			       uint32_t uid, uint32_t *count_r,
			       const char **error_r);
int store_read_msg_changed_since(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint64_t since,
				 struct store_msg **msgs_r,
				 const char **error_r);
int store_read_msg_meta(struct store_conn *c, struct arena *a,
			int64_t mailbox_id, uint32_t uid,
			struct store_msg_meta *meta_r, const char **error_r);
int store_read_msg_meta_range(struct store_conn *c, struct arena *a,
			      int64_t mailbox_id, uint32_t lo, uint32_t hi,
			      size_t max, uint32_t **uids_r,
			      struct store_msg_meta **metas_r,
			      const char **error_r);
int store_read_blob_get(struct store_conn *c, struct arena *a,
			int64_t blob_id, const char **data_r, size_t *size_r,
			const char **error_r);
/* The store.h store_blob_read() contract, through db_blob_read(). */
int store_read_blob_read(struct store_conn *c, int64_t blob_id,
			 uint64_t offset, void *buf, size_t len, size_t *got_r,
			 uint64_t *size_r, const char **error_r);
int store_read_blob_count(struct store_conn *c, const char **error_r);
/* PostgreSQL: lock the mailbox's row until the batch commits, before the
 * messages to change are read, so two nodes' changes of one mailbox
 * run one after the other on what the first committed (READ COMMITTED
 * reads each statement's own snapshot). SQLite: 0 (one writer). */
int store_mailbox_lock(struct store_conn *c, int64_t mailbox_id,
		       const char **error_r);

#endif
