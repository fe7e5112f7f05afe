/* pop3_int.h: private to proto/pop3: the server with its maildrop locks,
 * the session and its state machine, the maildrop snapshot and the
 * command table. */
#ifndef POSTHORN_PROTO_POP3_POP3_INT_H
#define POSTHORN_PROTO_POP3_POP3_INT_H

#include "auth/auth_throttle.h"
#include "base/arena.h"
#include "base/strbuf.h"
#include "mail/dotstuff.h"
#include "proto/common/cmd_table.h"
#include "proto/common/reader_set.h"
#include "proto/pop3/pop3_cmd.h"
#include "proto/pop3/pop3_server.h"

#include <pthread.h>

struct event;

#define POP3_DEFAULT_MAX_BAD_COMMANDS 10
#define POP3_DEFAULT_AUTOLOGOUT_S 600
/* A multi-line reply stops producing while this much output waits, and
 * goes on once it has drained. */
#define POP3_OUTPUT_HIGH (256 * 1024)
#define POP3_SEND_CHUNK (64 * 1024)
/* "<pid.counter.time@hostname>" */
#define POP3_TIMESTAMP_MAX 320

struct pop3_service {
	struct pop3_server *server;
	bool starttls;		/* the listener has a TLS context, STLS */
};

struct pop3_server {
	struct pop3_settings set;	/* hostname is our copy */
	struct store *const *storep;
	struct auth_sasl_ctx *sasl;
	struct auth_throttle *throttle;
	struct pop3_service services[2];
	struct reader_set readers;
	pthread_mutex_t lock;		/* guards everything below */
	int64_t *locked;		/* user ids whose maildrop is in use */
	size_t n_locked, locked_cap;
	uint64_t apop_counter;
};

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_AUTH,	/* in a SASL exchange, reading responses */
	POP3_STATE_AUTH_WAIT,	/* a login answer held by the failure
				 * throttle; input paused */
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,	/* QUIT: waiting for the expunge; input
				 * paused */
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

struct pop3_session {
	struct conn *conn;		/* NULL once closed during UPDATE */
	struct pop3_service *service;
	struct pop3_server *server;
	enum pop3_state state;
	char peer_ip[64];		/* for the log after the conn is gone */
	struct pop3_cmd cmd;		/* the command running (views into its
					 * line) */
	char timestamp[POP3_TIMESTAMP_MAX];	/* APOP, from the greeting */
	char *user_arg;			/* USER name waiting for PASS */
	char *user;			/* authenticated address or NULL */
	bool locked;			/* holds drop.user_id's lock */
	struct pop3_maildrop drop;
	unsigned bad_commands;
	struct auth_sasl_session *sasl;
	struct event *timer;		/* throttle delay */
	char *held_line;		/* the login command it holds */
	bool throttle_passed;		/* running the held line now */
	/* the multi-line body being sent (RETR, TOP) */
	bool sending;
	struct arena msg_arena;		/* the message's bytes */
	const char *out_p;
	size_t out_n;
	struct dotstuff ds;
	struct strbuf out;
	/* QUIT in TRANSACTION: the store write and what it points to */
	struct store_req update_req;
	struct store_uid_range *update_uids;
	bool update_pending;		/* submitted, not completed */
	/* for the log */
	uint32_t retrieved;
	uint32_t expunged;
};

/* pop3_session.c */
void pop3_session_enter(struct pop3_session *s, enum pop3_state state);
void pop3_ok(struct pop3_session *s, const char *fmt, ...) PRINTF_FMT(2, 3);
void pop3_err(struct pop3_session *s, const char *fmt, ...) PRINTF_FMT(2, 3);
/* The calling thread's store reader, or NULL (logged) when it cannot be
 * opened. */
struct store_reader *pop3_session_reader(struct pop3_session *s);
bool pop3_session_plaintext_ok(const struct pop3_session *s);
/* Whether the table entry may run now; the one policy check. On false
 * *err_r is the -ERR text. */
bool pop3_session_cmd_allowed(const struct pop3_session *s,
			      const struct cmd_def *def, const char **err_r);
/* Whether CAPA lists the entry's capability now. */
bool pop3_session_cmd_offered(const struct pop3_session *s,
			      const struct cmd_def *def);
/* A failed command counts towards the bad-command limit (-ERR and close
 * when reached). */
void pop3_session_bad(struct pop3_session *s);
/* Authentication succeeded for address (canonical): lock and snapshot the
 * maildrop and answer. Returns 1 in TRANSACTION, -1 refused (-ERR
 * queued, e.g. [IN-USE]). */
int pop3_session_login(struct pop3_session *s, const char *address,
		       const char *how);
/* Send bytes [0, n) of the message held in s->msg_arena as a dot-stuffed
 * multi-line body after the "+OK" line the caller queued. Returns 1 when
 * all is queued, 0 when it goes on from on_drained. */
int pop3_session_send_body(struct pop3_session *s, const char *p, size_t n);
/* QUIT in TRANSACTION: the one store write. Returns 0 (suspended) or 1
 * (nothing to delete: answered, closing). */
int pop3_session_update(struct pop3_session *s);

/* pop3_maildrop.c */
/* Take the user's maildrop lock; false when another session holds it. */
bool pop3_maildrop_lock(struct pop3_server *server, int64_t user_id);
void pop3_maildrop_unlock(struct pop3_server *server, int64_t user_id);
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

/* pop3_commands.c */
enum pop3_cmd_flag {
	POP3_CMD_AUTHORIZATION = 1 << 0,	/* only before login */
	POP3_CMD_TRANSACTION = 1 << 1,		/* only after login */
	POP3_CMD_STLS = 1 << 2,		/* STARTTLS listener, before TLS */
	POP3_CMD_PLAINTEXT = 1 << 3,	/* a cleartext password: TLS or the
					 * plaintext rule */
	POP3_CMD_THROTTLED = 1 << 4,	/* a login: held after failures */
	POP3_CMD_NO_ARG = 1 << 5,
	POP3_CMD_SASL = 1 << 6,		/* CAPA lists "SASL mechs" */
};
extern const struct cmd_def pop3_commands[];
extern const size_t pop3_commands_count;
/* A response line during AUTH. */
void pop3_auth_response(struct pop3_session *s, struct str line);

#endif
