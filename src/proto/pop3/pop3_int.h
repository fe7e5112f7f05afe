/* pop3_int.h: private to proto/pop3: the server with its maildrop locks,
 * the session and its state machine, the maildrop snapshot, and what
 * pop3_session.c offers the command handlers (the table itself is in
 * pop3_commands.h). */
#ifndef POSTHORN_PROTO_POP3_POP3_INT_H
#define POSTHORN_PROTO_POP3_POP3_INT_H

#include "base/arena.h"
#include "base/strbuf.h"
#include "mail/dotstuff.h"
#include "proto/common/session.h"
#include "proto/common/session_read.h"
#include "proto/pop3/pop3_cmd.h"
#include "proto/pop3/pop3_server.h"

#include <pthread.h>

#define POP3_DEFAULT_AUTOLOGOUT_S 600
/* A multi-line reply stops producing while this much output waits, and
 * goes on once it has drained. */
#define POP3_OUTPUT_HIGH (256 * 1024)
#define POP3_SEND_CHUNK (64 * 1024)
/* RETR reads a message from its blob this much at a time. */
#define POP3_READ_CHUNK (256 * 1024)
/* "<pid.counter.time@hostname>" */
#define POP3_TIMESTAMP_MAX 320

struct pop3_server {
	struct session_server core;	/* first: the session core's part */
	struct pop3_settings set;
	struct session_service services[2];	/* [starttls]: STLS */
	pthread_mutex_t lock;		/* guards everything below */
	int64_t *locked;		/* user ids whose maildrop is in use */
	size_t n_locked, locked_cap;
	uint64_t apop_counter;
};

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_AUTH,	/* in a SASL exchange, reading responses */
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,	/* QUIT: waiting for the expunge; input
				 * held */
};

struct pop3_msg {
	uint32_t uid;
	bool deleted;		/* DELE'd in this session */
	uint64_t size;
	int64_t blob_id;
};

/* The maildrop: the user's INBOX as it was at login; numbers are indexes
 * + 1 and never change in the session. */
struct pop3_maildrop {
	int64_t user_id;
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;		/* xmalloc'd */
	uint32_t count;
	uint32_t n_deleted;
	uint64_t size, deleted_size;
};

/* A read of a message's bytes (RETR's next chunk, TOP): filled on a read
 * pool thread while the session is held, or here without a pool. */
struct pop3_read {
	int64_t blob_id;
	uint32_t uid;		/* for the log */
	uint64_t msg_size;	/* as listed */
	uint32_t lines;		/* TOP */
	uint64_t off;		/* RETR: the chunk asked for */
	size_t cap;
	char *buf;		/* xmalloc'd, cap bytes */
	/* results */
	int ret;		/* 1 read, 0 no such blob, -1 error */
	size_t got;
	uint64_t size;		/* the blob's */
	struct strbuf top;	/* TOP: what it sends */
	char error[256];
	bool reading;		/* out on the pool */
};

/* core.conn is NULL once closed during UPDATE; core.user is the address
 * logged in (set only once the maildrop is locked). */
struct pop3_session {
	struct session core;		/* first */
	struct pop3_server *server;
	enum pop3_state state;
	struct pop3_cmd cmd;		/* the command running (views into its
					 * line) */
	char timestamp[POP3_TIMESTAMP_MAX];	/* APOP, from the greeting */
	char *user_arg;			/* USER name waiting for PASS */
	bool locked;			/* holds drop.user_id's lock */
	struct pop3_maildrop drop;
	/* the multi-line body being sent (RETR, TOP): out_p/out_n what is
	 * read and not yet sent, body_sent of body_end bytes read */
	bool sending;
	struct pop3_read rd;
	const char *out_p;
	size_t out_n;
	uint64_t body_sent, body_end;
	struct dotstuff ds;
	struct strbuf out;
	/* QUIT in TRANSACTION: the store write and what it points to */
	struct store_req update_req;
	struct store_uid_range *update_uids;
	bool update_failed;
	/* for the log */
	uint32_t retrieved;
	uint32_t expunged;
};

/* pop3_session.c */
void pop3_session_enter(struct pop3_session *s, enum pop3_state state);
void pop3_ok(struct pop3_session *s, const char *fmt, ...) PRINTF_FMT(2, 3);
void pop3_err(struct pop3_session *s, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Credentials were right for address (canonical): lock and snapshot the
 * maildrop, log in through the session core and answer. Returns 1 in
 * TRANSACTION, -1 refused (-ERR queued, e.g. [IN-USE], or the core's
 * parting line when a limit refused the login). */
int pop3_session_login(struct pop3_session *s, const char *address,
		       const char *how);
/* The one log line of a session's end. */
void pop3_session_log_end(struct pop3_session *s, const char *reason);
/* QUIT in TRANSACTION: the one store write. Returns 0 (suspended) or 1
 * (nothing to delete: answered, closing). */
int pop3_session_update(struct pop3_session *s);

/* pop3_body.c */
/* RETR / TOP of msg: read it (on the read pool when there is one), answer
 * "+OK" and send it dot-stuffed, or -ERR. Returns as a handler: 1 all
 * queued, 0 it goes on (a read out, or output to drain), -1 -ERR queued. */
int pop3_body_retr(struct pop3_session *s, const struct pop3_msg *msg);
int pop3_body_top(struct pop3_session *s, const struct pop3_msg *msg,
		  uint32_t lines);
/* Multi-line body output waits below the high-water mark: queue more (a
 * RETR reads its next chunk); ends the body when all is queued. */
void pop3_session_pump(struct pop3_session *s);
void pop3_body_free(struct pop3_session *s);

/* pop3_maildrop.c */
/* One session per maildrop: 1 it is this session's, 0 another session
 * (on any node) has it, -1 the store cannot say (*error_r). */
int pop3_maildrop_lock(struct pop3_server *server, struct store *store,
		       int64_t user_id, const char **error_r);
void pop3_maildrop_unlock(struct pop3_server *server, struct store *store,
			  int64_t user_id);
/* The session's lock, at its end or a refused login: with a read pool the
 * round trip to the nodes' lock runs there (s->locked is cleared). */
void pop3_maildrop_release(struct pop3_session *s);
/* The same at QUIT, the answer after the release (a client that QUITs
 * and logs in again, on any node, finds the maildrop free): then(s, NULL,
 * gone) runs once it is done; returns as session_read(). */
int pop3_maildrop_release_then(struct pop3_session *s,
			       session_read_done_fn *then);
/* The process's own part only. */
void pop3_maildrop_unlock_local(struct pop3_server *server, int64_t user_id);
/* Snapshot the user's INBOX into *drop. Returns 0, or -1 with *error_r
 * (valid until the next call on the reader). */
int pop3_maildrop_load(struct pop3_maildrop *drop, struct store_reader *reader,
		       int64_t user_id, const char **error_r);
void pop3_maildrop_clear(struct pop3_maildrop *drop);
/* The message numbered by s (1-based, not deleted) or NULL. */
struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *drop, struct str s);
/* The deleted messages' UIDs as ranges (xmalloc'd); returns the count. */
size_t pop3_maildrop_deleted_ranges(const struct pop3_maildrop *drop,
				    struct store_uid_range **ranges_r);

/* The command flags and the table are in pop3_commands.h. */

#endif
