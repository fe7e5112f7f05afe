/* queue_store.h: the outbound queue's persistence: its entries and their
 * recipients in the store's database (db/db.h), written inside the store
 * writer's batch transaction through the writer-extension interface
 * (store/store_txn.h), read on a store reader's connection. A delivery's
 * queue entry rides in the delivery's own request (queue_store_attach),
 * so the local copies and the queued one are durable together. The
 * tables are created by the store's migrations (store_schema_*.c), the
 * one schema version of the database. */
#ifndef POSTHORN_QUEUE_QUEUE_STORE_H
#define POSTHORN_QUEUE_QUEUE_STORE_H

#include "store/store.h"

/* A recipient of an outbound queue entry. A new entry sets address,
 * orcpt and notify; the rest is filled when read back from the queue. */
struct queue_rcpt {
	const char *address;
	const char *orcpt;		/* "type;address" or "" when none */
	const char *notify;		/* "SUCCESS,DELAY", "NEVER" or "" */
	uint32_t idx;			/* its position in the entry, stable */
	const char *state;		/* "pending", "sent" or "failed" */
	const char *status;		/* enhanced code of the last answer, "" */
	const char *diagnostic;		/* the last answer or reason, "" */
	const char *remote_mta;		/* the host that answered, "" */
};

struct queue_entry {
	int64_t id;
	int64_t blob_id;
	const char *sender;
	const char *envid;
	const char *ret;
	const char *state;		/* "queued" at creation */
	uint32_t attempts;
	int64_t next_try;
	const char *last_error;
	struct queue_rcpt *rcpts;
	size_t n_rcpts;
	int64_t created;		/* unix seconds, the arrival */
	bool delay_notified;		/* a delay DSN was sent */
	bool held;			/* `posthorn queue hold`: never due */
	/* RFC 8689 REQUIRETLS: send only over TLS with a verified
	 * certificate (or DANE), never in the clear. */
	bool requiretls;
	/* RFC 8689 5 "TLS-Required: No" (never with requiretls): the
	 * recipient side's TLS policy (tls = required/verify routes, DANE)
	 * is relaxed to opportunistic TLS for this message. */
	bool tls_optional;
	/* An admin asked for a try now (queue retry/flush) since the last
	 * result: the runner tries it even where its destination is marked
	 * failing. A result clears it. */
	bool retry_now;
};

/* ---- a new entry, in a delivery ---- */

/* The outbound copy of a delivery for its remote recipients. */
struct queue_new {
	const char *sender, *envid, *ret;	/* NULL = "" */
	const struct queue_rcpt *rcpts;
	size_t n_rcpts;
	bool requiretls;	/* RFC 8689 MAIL FROM param */
	bool tls_optional;	/* RFC 8689 "TLS-Required: No" */
};

/* Make the STORE_REQ_DELIVER req also create the queue entry n (state
 * "queued", due now, holding a reference to the delivery's blob) in its
 * savepoint; result->queue_id is then its id. Nothing when n->n_rcpts is
 * 0. n and what it points to stay the caller's until the completion. */
void queue_store_attach(struct store_req *req, const struct queue_new *n);

/* ---- write requests: store_submit(store, &q.req, ...) ---- */

enum queue_req_type {
	QUEUE_REQ_UPDATE,
	QUEUE_REQ_DELETE,
	QUEUE_REQ_RESULT,
	QUEUE_REQ_CONTROL,
};

/* The outcome of a delivery attempt for one recipient of a queue entry. */
struct queue_rcpt_result {
	uint32_t idx;		/* queue_rcpt.idx */
	const char *state;	/* "pending" (deferred), "sent" or "failed" */
	const char *status;	/* "5.1.1"; NULL = "" */
	const char *diagnostic;	/* remote reply or our reason; NULL = "" */
	const char *remote_mta;	/* NULL = "" */
};

enum queue_op {
	QUEUE_OP_HOLD,		/* never due until released */
	QUEUE_OP_RELEASE,
	QUEUE_OP_RETRY,		/* due now: next_try = now */
};

/* A queue write as a store request (STORE_REQ_EXT): set it up with
 * queue_req_init(), fill u, submit &req. Strings NUL-terminated, NULL
 * optional ones mean ""; it and all it points to stay the caller's until
 * the completion. Each ends the node's claim on the entry. */
struct queue_req {
	struct store_req req;
	enum queue_req_type type;
	union {
		/* the entry's state and schedule */
		struct {
			int64_t id;
			const char *state;
			uint32_t attempts;
			int64_t next_try;
			const char *last_error;
		} update;
		/* the entry and its recipients go, and its blob loses the
		 * queue's reference */
		struct { int64_t id; } del;
		/* After a delivery attempt: the recipients' new states and
		 * the entry's schedule. When no recipient is left pending,
		 * the entry is deleted (as by DELETE) in the same
		 * transaction. dsn: NULL, or a STORE_REQ_DELIVER (the
		 * bounce/delay/success report: to the sender's INBOX, or a
		 * new queue entry with sender "") applied in the same
		 * savepoint, so the result and its report are durable
		 * together or not at all; the result then carries the
		 * deliver outputs (id = the report's blob, queue_id,
		 * assigned). Fails ("no such queue entry/recipient") when
		 * id or an idx does not exist, e.g. deleted meanwhile. */
		struct {
			int64_t id;
			const struct queue_rcpt_result *rcpts;
			size_t n_rcpts;
			uint32_t attempts;
			int64_t next_try;
			const char *last_error;
			bool delay_notified;
			const struct store_req *dsn;
		} result;
		/* hold/release/retry of entry id, or of every entry when id
		 * is 0 (RETRY of all = flush: the entries not held whose
		 * next_try is after now). result->id = the number of
		 * entries changed; an id that does not exist fails. */
		struct {
			int64_t id;
			enum queue_op op;
			int64_t now;
		} control;
	} u;
};

/* Zero q and make q->req the STORE_REQ_EXT that applies it. */
void queue_req_init(struct queue_req *q, enum queue_req_type type);

/* ---- readers, on the thread's store reader ----
 * The store.h conventions: 1 found, 0 not found, lists their count, -1
 * with *error_r valid until the next call on the reader; strings and
 * arrays in a. */

/* Entries ordered by next_try. */
int queue_store_list(struct store_reader *r, struct arena *a,
		     struct queue_entry **entries_r, const char **error_r);
int queue_store_get(struct store_reader *r, struct arena *a, int64_t id,
		    struct queue_entry *entry_r, const char **error_r);
/* The queue runner's work: entries with next_try <= now that are not held
 * and have a pending recipient, ordered by next_try, at most limit (0: no
 * limit). Their rcpts are only the pending ones (idx tells which). */
int queue_store_due(struct store_reader *r, struct arena *a, int64_t now,
		    size_t limit, struct queue_entry **entries_r,
		    const char **error_r);
/* Whether entry id may not be sent: 1 when it is held or no longer exists
 * (deleted, or done), 0 when it may go, -1 on error. */
int queue_store_held(struct store_reader *r, int64_t id, const char **error_r);
/* The ids of every held entry in *ids_r (in a), ascending: their number,
 * or -1. */
int queue_store_held_ids(struct store_reader *r, struct arena *a,
			 int64_t **ids_r, const char **error_r);

/* The queue runner's due entries, claimed for this node: like
 * queue_store_due(), but on a shared database (store_shared()) each
 * entry is given to one node only: entries due and not claimed by
 * another node whose lease (now + lease seconds, renewed at each call for
 * every entry this node still holds) is running are marked as ours with
 * FOR UPDATE SKIP LOCKED, so two nodes never take the same one; the
 * claim ends when the attempt's result is stored (a queue_req). A killed
 * node's claims are free at once: a running node holds an advisory lock
 * of its own (store_nodes.c), which its database session's end releases;
 * a node still connected but no longer renewing keeps them for the
 * lease. Writes on the reader's connection, outside any read
 * transaction. SQLite: one node, queue_store_due() itself. */
int queue_store_claim(struct store *store, struct store_reader *r,
		      struct arena *a, int64_t now, unsigned lease,
		      size_t limit, struct queue_entry **entries_r,
		      const char **error_r);
/* Only renew the leases of the entries this node holds (a runner with
 * no room for more). 0, or -1 with *error_r. SQLite: 0. */
int queue_store_renew(struct store *store, struct store_reader *r,
		      int64_t now, unsigned lease, const char **error_r);

#endif
