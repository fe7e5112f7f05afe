/* store.h: the mail store. Reads are synchronous on the caller's thread
 * through a per-thread reader; writes are requests to one writer thread that
 * batches them into one transaction (group commit) and completes each on the
 * requester's task queue. Drivers (sqlite now) sit behind this API. */
#ifndef POSTHORN_STORE_STORE_H
#define POSTHORN_STORE_STORE_H

#include "base/arena.h"
#include "base/strbuf.h"
#include "base/task_queue.h"

struct store;
struct store_reader;

struct db_fault;

struct store_settings {
	const char *driver;		/* "sqlite" (NULL means sqlite) or "pgsql" */
	const char *path;		/* sqlite database file */
	const char *conninfo;		/* pgsql: the libpq connection string */
	bool fsync;			/* true: WAL + synchronous=FULL; false: synchronous=OFF */
	unsigned busy_timeout_ms;	/* 0 picks 5000 */
	/* 0 = no cap. Caps the database size in pages on the writer, so
	 * writes past it fail as on a full disk (tests, quotas on disk). */
	uint32_t max_pages;
	/* Unit tests: the writer's connection fails statements or commits
	 * as this test double (db/db.h) asks; NULL normally. */
	struct db_fault *fault;
};

/* Open (creating or migrating the schema) and start the writer thread.
 * Returns NULL and sets *error_r (malloc'd, caller frees) on failure. */
struct store *store_open(const struct store_settings *set, char **error_r);
/* Finish every request already submitted (their callbacks are posted to
 * their reply queues) and stop the writer; readers and subscriptions stay.
 * A store_submit() after it is a bug. A server calls it at shutdown before
 * it stops the threads that run the completions. Idempotent. */
void store_drain(struct store *store);
/* Finish every request already submitted (their callbacks are posted),
 * stop the writer, close. Readers must have been freed first. */
void store_close(struct store **store);
/* The schema version the store is at (PRAGMA user_version for sqlite). */
int store_schema_version(struct store *store);

/* Counters since open, for metrics: batch size = requests / commits. */
struct store_stats {
	uint64_t requests;
	uint64_t commits;
	uint64_t failed;
};
void store_get_stats(struct store *store, struct store_stats *stats_r);

/* Change events: after each commit fn runs ON THE WRITER THREAD once per
 * changed mailbox (a change another node committed: on the change bus's
 * thread, store_nodes.h); it must not block (post to your own thread). A deleted
 * mailbox is reported with modseq 0. Safe to call at any time, but not
 * from inside a subscriber. */
typedef void store_change_fn(void *arg, int64_t user_id, int64_t mailbox_id,
			     uint64_t modseq);
/* The mailbox_id of an event that means "any mailbox may have changed"
 * (user_id and modseq 0): the change bus lost its connection, and the
 * other nodes' commits meanwhile were not heard, so a subscriber checks
 * again every mailbox it watches. */
#define STORE_MAILBOX_ANY INT64_C(-1)
void store_subscribe(struct store *store, store_change_fn *fn, void *arg);

/* ---- data returned by readers (allocated in the caller's arena) ---- */

enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};

struct store_user {
	int64_t id;
	const char *address;
	const char *password_hash;	/* "" when unset */
	const char *scram_sha256;	/* "" when unset */
	const char *apop_secret;	/* "" when unset */
	uint64_t quota;			/* bytes, 0 = none */
	bool disabled;
};

struct store_mailbox {
	int64_t id;
	int64_t user_id;
	const char *name;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	const char *special_use;	/* "\\Sent" etc. or "" */
	bool subscribed;
	uint32_t messages;
	uint32_t unseen;
	/* IMAP \Recent: the highest UID a read-write session has taken as
	 * \Recent (STORE_REQ_MAILBOX_RECENT); the messages above it are
	 * \Recent for the next one. */
	uint32_t recent_uid;
};

struct store_msg {
	uint32_t uid;
	uint32_t flags;			/* enum store_flag bits */
	const char *keywords;		/* space-separated, "" when none */
	int64_t internal_date;		/* unix seconds */
	int internal_zone;		/* its zone, minutes east of UTC (-1439..1439) */
	uint64_t size;
	uint64_t modseq;
	int64_t blob_id;
};

/* Parsed metadata given at delivery; opaque to the store. NULL strings are
 * stored and returned as "". */
struct store_msg_meta {
	const char *envelope;
	const char *bodystructure;
	const char *body;
	const void *parts;
	size_t parts_size;
	/* The decoded text for the search index (mime_text_extract() output
	 * of exactly the delivered bytes), or NULL: "index later from the
	 * blob". The sqlite driver always indexes later from the blob, off
	 * the delivery path (writing the text at delivery cost a third of
	 * the delivery throughput, see docs/design.md), so it ignores this
	 * and producers may leave it NULL. store_msg_meta() returns NULL. */
	const char *text;
};

/* ---- readers: one per thread; every call is synchronous ---- */

/* NULL and *error_r (malloc'd) on failure. */
struct store_reader *store_reader_new(struct store *store, char **error_r);
void store_reader_free(struct store_reader **reader);

/* Return conventions for every lookup below: 1 found, 0 not found,
 * -1 error with *error_r set to a string valid until the next call on this
 * reader. Lists return the count (>= 0) or -1. Output strings and arrays are
 * allocated in `a` and live as long as it. */
int store_domain_exists(struct store_reader *r, const char *domain,
			const char **error_r);
int store_domain_list(struct store_reader *r, struct arena *a,
		      const char ***domains_r, const char **error_r);
/* Exact address, case-insensitive. */
int store_user_by_address(struct store_reader *r, struct arena *a,
			  const char *address, struct store_user *user_r,
			  const char **error_r);
int store_user_list(struct store_reader *r, struct arena *a,
		    struct store_user **users_r, const char **error_r);
/* A user's storage usage: the sum of the sizes of the messages in all
 * their mailboxes (a message in two mailboxes counts twice; expunged
 * messages not at all); 0 for an unknown user. One query over the user's
 * messages (about 2 ms per 10 000): call it only for a user with a quota.
 * Returns 0, or -1 with *error_r. */
int store_user_usage(struct store_reader *r, int64_t user_id,
		     uint64_t *bytes_r, const char **error_r);
/* Targets for an address: the exact alias if any, else the catch-all
 * "@domain". Returns the number of targets (0 when neither exists). */
int store_alias_lookup(struct store_reader *r, struct arena *a,
		       const char *address, const char ***targets_r,
		       const char **error_r);
/* Every (address, target) pair, ordered by address. */
int store_alias_list(struct store_reader *r, struct arena *a,
		     const char ***addresses_r, const char ***targets_r,
		     const char **error_r);
/* Resolve a local address to a user: first the exact address, then with a
 * "+tag" stripped from the local part ("bob+news@x" -> "bob@x"); *tag_r is
 * then the tag (arena) or NULL for an exact match. Aliases are not
 * consulted. */
int store_user_resolve(struct store_reader *r, struct arena *a,
		       const char *address, struct store_user *user_r,
		       const char **tag_r, const char **error_r);
int store_mailbox_list(struct store_reader *r, struct arena *a, int64_t user_id,
		       struct store_mailbox **mailboxes_r, const char **error_r);
/* The user's subscribed names, sorted (strcmp), mailbox or not (arena);
 * returns the count or -1. */
int store_subscriptions(struct store_reader *r, struct arena *a,
			int64_t user_id, const char ***names_r,
			const char **error_r);
/* "INBOX" matches case-insensitively, other names exactly. */
int store_mailbox_by_name(struct store_reader *r, struct arena *a,
			  int64_t user_id, const char *name,
			  struct store_mailbox *mailbox_r, const char **error_r);
int store_mailbox_by_id(struct store_reader *r, struct arena *a,
			int64_t mailbox_id, struct store_mailbox *mailbox_r,
			const char **error_r);
/* Every message of a mailbox in UID order. */
int store_msg_list(struct store_reader *r, struct arena *a, int64_t mailbox_id,
		   struct store_msg **msgs_r, const char **error_r);
/* Expunged UIDs with modseq > since (QRESYNC VANISHED), in UID order. */
int store_expunged_since(struct store_reader *r, struct arena *a,
			 int64_t mailbox_id, uint64_t since,
			 uint32_t **uids_r, const char **error_r);
/* The messages of a mailbox with modseq > since (new ones and those whose
 * flags changed), in UID order: with store_expunged_since() an IMAP view
 * catches up from the highest modseq it saw without re-reading every
 * message. Returns the count or -1. */
int store_msg_changed_since(struct store_reader *r, struct arena *a,
			    int64_t mailbox_id, uint64_t since,
			    struct store_msg **msgs_r, const char **error_r);
/* *count_r = the number of messages of a mailbox with a UID above uid
 * (STATUS RECENT: those above recent_uid). Returns 0 or -1. */
int store_msg_count_above(struct store_reader *r, int64_t mailbox_id,
			  uint32_t uid, uint32_t *count_r, const char **error_r);
int store_msg_meta(struct store_reader *r, struct arena *a, int64_t mailbox_id,
		   uint32_t uid, struct store_msg_meta *meta_r,
		   const char **error_r);
/* The metadata of the messages with lo <= UID <= hi, at most max of them,
 * in UID order, in one statement (FETCH ENVELOPE of many messages):
 * (*uids_r)[i] is the UID of (*metas_r)[i]. Returns the count or -1. */
int store_msg_meta_range(struct store_reader *r, struct arena *a,
			 int64_t mailbox_id, uint32_t lo, uint32_t hi,
			 size_t max, uint32_t **uids_r,
			 struct store_msg_meta **metas_r, const char **error_r);
/* IMAP STATUS counters of a mailbox, from one query: MESSAGES, UNSEEN,
 * HIGHESTMODSEQ, UIDNEXT and UIDVALIDITY are kept in the mailbox row;
 * DELETED and SIZE sum the mailbox's message rows (no message bytes are
 * read; about 2 ms per 10 000 messages). 1, 0 = no such mailbox, -1. */
struct store_mailbox_status {
	uint32_t messages;
	uint32_t unseen;
	uint32_t deleted;		/* messages with \\Deleted */
	uint64_t size;			/* sum of the message sizes */
	uint64_t deleted_size;		/* sum of the \\Deleted ones' sizes */
	uint64_t highestmodseq;
	uint32_t uidnext;
	uint32_t uidvalidity;
};
int store_mailbox_status(struct store_reader *r, int64_t mailbox_id,
			 struct store_mailbox_status *status_r,
			 const char **error_r);

enum store_search_field {
	STORE_SEARCH_BODY,
	STORE_SEARCH_TEXT,
	STORE_SEARCH_HEADER,
	STORE_SEARCH_ADDRESS,
};
/* UIDs (ascending, arena) of the messages in mailbox_id whose decoded
 * text contains needle (UTF-8) as a case-insensitive (i;unicode-casemap)
 * substring: BODY = the body text (after the top header; embedded
 * messages' headers count as body), TEXT = headers and body, HEADER = the
 * value of the top header's field `header` (e.g. "Subject", any case;
 * an empty needle = the field exists), ADDRESS = the same or the field's
 * addresses as imap_envelope_search_text() writes them (SEARCH FROM, TO,
 * CC, BCC: "<a@b>" or "Name <a@b>" match a bare a@b). Served by the full-text index;
 * messages not indexed yet are scanned, so every message is seen.
 * Returns the count or -1. */
int store_search_text(struct store_reader *r, struct arena *a,
		      int64_t mailbox_id, enum store_search_field field,
		      const char *header, const char *needle,
		      uint32_t **uids_r, const char **error_r);
/* Number of stored messages (blobs) whose text is not in the search index
 * yet; the writer indexes them while it has no requests waiting. */
int store_search_pending(struct store_reader *r, const char **error_r);

/* The message bytes; *data_r is arena memory with a NUL after size bytes. */
int store_blob_get(struct store_reader *r, struct arena *a, int64_t blob_id,
		   const char **data_r, size_t *size_r, const char **error_r);
/* Message bytes by range. A blob reads like a file, with pread(2)-like
 * reads of any range, so that a FETCH of a header, a part or a partial
 * range and POP3 TOP read only the bytes they need (the part offsets
 * stored at delivery say where those lie), and so that a driver could keep
 * blobs in files. The SQLite driver reads with incremental blob I/O: only
 * the pages of the range are copied; a range deep in a large blob still
 * follows the chain of overflow pages before it (SQLite links them), a
 * header at the start does not. Between store_reader_begin() and
 * store_reader_end() the blob stays open from one read to the next (the
 * next read of another blob reopens it cheaply).
 * Reads up to len bytes from offset into buf: *got_r = min(len, size -
 * offset), 0 at or past the end; *size_r (NULL: not wanted) = the blob's
 * size. Returns 1, 0 when there is no such blob, -1 with *error_r. */
int store_blob_read(struct store_reader *r, int64_t blob_id, uint64_t offset,
		    void *buf, size_t len, size_t *got_r, uint64_t *size_r,
		    const char **error_r);
/* The same, appending the bytes read to out. */
int store_blob_append(struct store_reader *r, int64_t blob_id,
		      uint64_t offset, size_t len, struct strbuf *out,
		      const char **error_r);

/* Hold one snapshot across a run of reads (a FETCH or RETR loop): the
 * reads between begin and end see one state of the store and skip the
 * locking and snapshot work each read otherwise does on its own (most of
 * the cost of a small read). End it before going back to the event loop:
 * an open snapshot keeps the WAL from being checkpointed. No nesting.
 * begin returns 0, or -1 with *error_r. */
int store_reader_begin(struct store_reader *r, const char **error_r);
void store_reader_end(struct store_reader *r);
/* Number of blobs stored (for tests and admin). */
int store_blob_count(struct store_reader *r, const char **error_r);
/* ---- write requests ---- */

enum store_req_type {
	STORE_REQ_DELIVER,
	STORE_REQ_DOMAIN_ADD,
	STORE_REQ_DOMAIN_DEL,
	STORE_REQ_USER_ADD,
	STORE_REQ_USER_DEL,
	STORE_REQ_USER_SET_PASSWORD,
	STORE_REQ_USER_SET_QUOTA,
	STORE_REQ_ALIAS_ADD,
	STORE_REQ_ALIAS_DEL,
	STORE_REQ_MAILBOX_CREATE,
	STORE_REQ_MAILBOX_RENAME,
	STORE_REQ_MAILBOX_DELETE,
	STORE_REQ_MAILBOX_SUBSCRIBE,
	STORE_REQ_MAILBOX_RECENT,
	STORE_REQ_SET_FLAGS,
	STORE_REQ_EXPUNGE,
	STORE_REQ_COPY,
	/* Work of a layer above, run by the writer in the batch (store_txn.h) */
	STORE_REQ_EXT,
};

/* A deliver target: mailbox_id, or user_id's INBOX when mailbox_id is 0,
 * or with junk (and mailbox_id 0) the user's Junk mailbox: the one with
 * the \Junk special-use, else the one named "Junk", else one created as
 * "Junk" with \Junk (subscribed) in the same write. */
struct store_target {
	int64_t user_id;
	int64_t mailbox_id;
	bool junk;
};

struct store_uid_range {
	uint32_t lo, hi;	/* inclusive; hi = UINT32_MAX for "*" */
};

enum store_flags_op {
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
	STORE_FLAGS_REPLACE,
};

/* Work of a layer above the store that the writer runs inside its batch
 * transaction (store_txn.h has the contract and what it may call): 0, or
 * -1 with *error_r (only its own request's writes are rolled back). An
 * ext may set result->id and the result's other outputs. */
struct store_txn;
struct store_result;
typedef int store_ext_fn(struct store_txn *t, const void *arg,
			 struct store_result *res, const char **error_r);
/* The same, inside a delivery, once its blob (blob_id) is stored. */
typedef int store_attach_fn(struct store_txn *t, const void *arg,
			    int64_t blob_id, struct store_result *res,
			    const char **error_r);

/* Strings are NUL-terminated; NULL optional strings mean "". The request
 * and all it points to belong to the caller and must stay valid until the
 * completion. */
struct store_req {
	enum store_req_type type;
	union {
		struct {
			const void *data;
			size_t size;
			struct store_msg_meta meta;
			int64_t internal_date;
			/* the zone the date was given in, minutes east of
			 * UTC; 0 (+0000) for mail delivered over SMTP/LMTP */
			int internal_zone;
			uint32_t flags;
			const char *keywords;	/* space-separated or NULL */
			const struct store_target *targets;
			size_t n_targets;
			/* fn not NULL: work of a layer above in the same
			 * savepoint once the blob is stored, holding one
			 * reference to it (the outbound queue entry of the
			 * remote recipients: queue_store.h). A delivery
			 * has targets or an attach. */
			struct {
				store_attach_fn *fn;
				const void *arg;
			} attach;
			/* NULL, or a further DELIVER applied with this one,
			 * all or none (MULTIAPPEND, RFC 3502); the result's
			 * assigned then lists every delivery's targets in
			 * chain order, and id is the last one's blob. */
			const struct store_req *next;
		} deliver;
		struct { const char *name; } domain;	/* DOMAIN_ADD/DEL */
		struct {
			const char *address;
			const char *password_hash, *scram_sha256, *apop_secret;
			uint64_t quota;
		} user_add;
		struct { int64_t user_id; } user_del;
		struct {
			int64_t user_id;
			const char *password_hash, *scram_sha256, *apop_secret;
		} user_password;
		/* USER_SET_QUOTA: bytes (<= INT64_MAX), 0 = no quota; an
		 * unknown user_id fails ("no such user"). */
		struct { int64_t user_id; uint64_t quota; } user_quota;
		struct {
			const char *address;	/* "@domain" is the catch-all */
			const char *const *targets;
			size_t n_targets;	/* ALIAS_DEL: 0 removes all */
		} alias;	/* ALIAS_ADD, ALIAS_DEL */
		struct {
			int64_t user_id;
			const char *name;
			const char *special_use;	/* or NULL */
			bool subscribed;
		} mailbox_create;
		struct { int64_t mailbox_id; const char *new_name; } mailbox_rename;
		struct { int64_t mailbox_id; } mailbox_delete;
		/* The name of mailbox_id ("no such mailbox" when it has
		 * none) or, with mailbox_id 0, name as it is for user_id (a
		 * name may stay subscribed after its mailbox is gone). */
		struct {
			int64_t mailbox_id;
			int64_t user_id;
			const char *name;
			bool subscribed;
		} mailbox_subscribe;
		/* MAILBOX_RECENT: raise the mailbox's recent_uid to uid
		 * (never lowers it). Not a change of the mailbox: no modseq,
		 * no change event; a mailbox that is gone is no error. */
		struct { int64_t mailbox_id; uint32_t uid; } mailbox_recent;
		struct {
			int64_t mailbox_id;
			const struct store_uid_range *uids;
			size_t n_uids;
			enum store_flags_op op;
			uint32_t flags;
			const char *const *keywords;
			size_t n_keywords;
			/* 0: none; else only messages with modseq <= this
			 * change, the others are reported in result uids. */
			uint64_t unchangedsince;
		} set_flags;
		struct {
			int64_t mailbox_id;
			const struct store_uid_range *uids;
			size_t n_uids;
		} expunge;
		/* COPY/MOVE UIDs of src_mailbox_id (UIDs that do not exist
		 * are skipped) to dst_mailbox_id, in UID order, with their
		 * flags, keywords and internal dates. move: the sources are
		 * expunged in the same transaction (recorded for VANISHED).
		 * The mailboxes may be the same (copy only). */
		struct {
			int64_t src_mailbox_id;
			const struct store_uid_range *uids;
			size_t n_uids;
			int64_t dst_mailbox_id;
			bool move;
		} copy;
		/* EXT: fn(txn, arg, result) inside the request's savepoint */
		struct {
			store_ext_fn *fn;
			const void *arg;
		} ext;
	} u;
};

struct store_assigned {
	int64_t mailbox_id;
	uint32_t uid;
	uint64_t modseq;
};

struct store_result {
	int status;		/* 0 ok, -1 failed */
	char error[256];	/* when failed: a message fit for a log or reply */
	/* when failed: the database was away (PostgreSQL restarting): the
	 * same request may succeed later; answer "try again later" */
	bool unavailable;
	int64_t id;		/* new row id: user, mailbox; deliver: the blob */
	int64_t queue_id;	/* deliver: its attach's row (the queue entry), or 0 */
	/* set_flags/expunge: mailbox modseq after; copy: the destination's
	 * (and with move, res->src_modseq the source's) */
	uint64_t modseq;
	uint64_t src_modseq;
	/* deliver: one per target, in target order; copy: the new UID (and
	 * modseq) in the destination of uids[i] */
	struct store_assigned *assigned;
	size_t n_assigned;
	/* set_flags: UIDs that failed UNCHANGEDSINCE; expunge: UIDs removed;
	 * copy: the source UIDs copied (ascending; n_assigned == n_uids) */
	uint32_t *uids;
	size_t n_uids;
};

void store_result_free(struct store_result **result);

/* Runs on the thread that owns reply_queue; takes ownership of result. */
typedef void store_done_fn(void *arg, struct store_result *result);

void store_submit(struct store *store, const struct store_req *req,
		  struct task_queue *reply_queue, store_done_fn *done,
		  void *arg);
/* Submit and block until durable or failed (never from a store_change_fn:
 * the writer would wait on itself). Returns result->status; the caller
 * frees *result_r. */
int store_submit_wait(struct store *store, const struct store_req *req,
		      struct store_result **result_r);

#endif
