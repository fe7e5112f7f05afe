/* smtp_int.h: private to proto/smtp: the server, the session and its
 * transaction, the state machine and the command table. */
#ifndef POSTHORN_PROTO_SMTP_SMTP_INT_H
#define POSTHORN_PROTO_SMTP_SMTP_INT_H

#include "auth/auth_throttle.h"
#include "base/arena.h"
#include "base/cidr.h"
#include "base/strbuf.h"
#include "delivery/delivery.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_data.h"
#include "proto/common/cmd_table.h"
#include "proto/common/reader_set.h"
#include "proto/smtp/smtp_server.h"

struct event;

/* RFC 4954 4: an AUTH command line or SASL response may be 12288 octets. */
#define SMTP_AUTH_LINE_MAX 12288
#define SMTP_DEFAULT_MAX_RECIPIENTS 100
#define SMTP_DEFAULT_MAX_BAD_COMMANDS 10
#define SMTP_DEFAULT_TIMEOUT_S 300
/* The message buffer is sized at DATA/BDAT for SIZE= up to this much, else
 * for a typical message. */
#define SMTP_MSG_RESERVE (16 * 1024)
#define SMTP_MSG_RESERVE_MAX (4 * 1024 * 1024)

struct smtp_service {
	struct smtp_server *server;
	enum smtp_mode mode;
	bool starttls;		/* the listener has a TLS context */
};

struct smtp_server {
	struct smtp_settings set;	/* strings are our copies */
	/* postmaster@hostname, not configured: never relayed (the host
	 * name need not be one of our domains). */
	bool postmaster_default;
	struct cidr *trusted;		/* set.trusted_networks parsed */
	size_t n_trusted;
	struct store *const *storep;
	struct auth_sasl_ctx *sasl;
	struct auth_throttle *throttle;
	struct smtp_service services[SMTP_MODE_COUNT][2];
	struct reader_set readers;
};

enum smtp_state {
	SMTP_STATE_GREETING,	/* greeting held back (early-talker check) */
	SMTP_STATE_INIT,	/* greeting sent, no HELO/EHLO yet */
	SMTP_STATE_READY,	/* HELO/EHLO done, no transaction */
	SMTP_STATE_MAIL,	/* MAIL accepted */
	SMTP_STATE_RCPT,	/* at least one RCPT accepted */
	SMTP_STATE_DATA,	/* reading the message after 354 */
	SMTP_STATE_BDAT,	/* reading the octets of a BDAT chunk */
	SMTP_STATE_DELIVERING,	/* waiting for the store; input paused */
	SMTP_STATE_AUTH,	/* in a SASL exchange, reading responses */
	SMTP_STATE_AUTH_WAIT,	/* AUTH held by the failure throttle; input
				 * paused until the timer runs it */
};

/* One mail transaction: MAIL .. end of DATA, or until RSET. */
struct smtp_tx {
	struct arena arena;
	struct smtp_mail mail;
	char *sender;			/* canonical, "" for <> (arena) */
	const char **rcpts;		/* as accepted, for the log (arena) */
	size_t n_rcpts;
	int64_t *user_ids;		/* xrealloc'd */
	uint64_t *user_quotas;		/* xrealloc'd, the quota of each */
	size_t n_users;
	/* Per accepted recipient, as rcpts (arena): where its users start
	 * in user_ids (they run to the next one's start or n_users),
	 * whether it reached remote addresses, and whether the message did
	 * not fit its quota (LMTP: 452 4.2.2 for it alone). */
	size_t *rcpt_user0;
	bool *rcpt_remote;
	bool *rcpt_full;
	struct store_queue_rcpt *remotes; /* xrealloc'd, strings in arena */
	size_t n_remotes;
	/* The address that reached the first local user (arena), and
	 * whether another user was reached too: Delivered-To is written
	 * only for a single local recipient. */
	const char *delivered_to;
	bool several_locals;
	struct smtp_data *reader;
	struct strbuf msg;		/* the message (Received: prepended
					 * at the end of data) */
	bool bdat;			/* BDAT chunks came (then no DATA) */
	uint64_t bdat_size;		/* octets of all BDAT chunks */
	char id[LOG_SID_SIZE + 16];
};

struct smtp_session {
	struct conn *conn;		/* NULL once closed while delivering */
	struct smtp_service *service;
	struct smtp_server *server;
	enum smtp_state state;
	char *helo;			/* cleaned, for Received: */
	bool esmtp;
	char *user;			/* authenticated address or NULL */
	/* SMTP_MODE_LOCAL: the unix user who connected ("uid N" when the
	 * uid has no name). */
	char *local_user;
	uid_t local_uid;
	bool trusted;			/* MTA client from trusted_networks */
	unsigned timeout_s;		/* the idle timeout set on the conn */
	unsigned bad_commands;
	unsigned n_tx;
	struct smtp_tx *tx;
	struct auth_sasl_session *sasl;
	bool close_after_delivery;
	struct event *timer;		/* greeting or throttle delay */
	void (*timer_fn)(struct smtp_session *s);
	char *auth_arg;			/* AUTH argument held by the throttle */
	/* The BDAT chunk being read: octets left, LAST, and the reply to
	 * give once it is consumed when it is refused (code 0 = none). */
	uint64_t bdat_left;
	uint64_t bdat_chunk;
	bool bdat_last;
	struct smtp_status bdat_error;
};

/* smtp_session.c */
void smtp_session_enter(struct smtp_session *s, enum smtp_state state);
void smtp_reply(struct smtp_session *s, unsigned code, const char *enhanced,
		const char *fmt, ...) PRINTF_FMT(4, 5);
void smtp_reply_status(struct smtp_session *s, struct smtp_status st);
/* The calling thread's store reader, or NULL (logged) when it cannot be
 * opened. */
struct store_reader *smtp_session_reader(struct smtp_session *s);
/* The extensions offered in this session (enum smtp_ext). */
unsigned smtp_session_ext(const struct smtp_session *s);
bool smtp_session_plaintext_ok(const struct smtp_session *s);
/* Whether the session may send to remote recipients: authenticated by
 * AUTH or as a local user. */
bool smtp_session_may_relay(const struct smtp_session *s);

/* smtp_dkim.c: append a DKIM-Signature field for s->tx's message to out
 * when the session may relay, the message has remote recipients, and its
 * From domain (else the envelope sender's) is a local domain with a key.
 * Failures are logged: the message then goes unsigned. */
void smtp_dkim_sign(struct smtp_session *s, struct strbuf *out);
/* Whether the table entry may run now; the one policy check. On false
 * *st_r is the reply. */
bool smtp_session_cmd_allowed(const struct smtp_session *s,
			      const struct cmd_def *def,
			      struct smtp_status *st_r);
void smtp_tx_free(struct smtp_tx **tx);
/* A failed command counts towards the bad-command limit (421 and close
 * when reached). */
void smtp_session_bad(struct smtp_session *s);
/* Run fn(s) on the session's thread after ms milliseconds; one timer at a
 * time per session. */
void smtp_session_timer(struct smtp_session *s, unsigned ms,
			void (*fn)(struct smtp_session *s));
/* Start reading the message after 354. */
void smtp_session_start_data(struct smtp_session *s);
/* Start reading a BDAT chunk of size octets; err.code != 0: consume and
 * refuse it with err. */
void smtp_session_start_bdat(struct smtp_session *s, uint64_t size, bool last,
			     struct smtp_status err);

/* smtp_commands.c */
enum smtp_cmd_flag {
	SMTP_CMD_NEEDS_HELO = 1 << 0,	/* 503 before HELO/EHLO */
	SMTP_CMD_NO_TX = 1 << 1,	/* 503 inside a transaction */
	SMTP_CMD_NEEDS_MAIL = 1 << 2,	/* 503 without MAIL */
	SMTP_CMD_NEEDS_RCPT = 1 << 3,	/* 503 without a recipient */
	SMTP_CMD_NO_ARG = 1 << 4,	/* 501 with an argument */
	SMTP_CMD_STARTTLS = 1 << 5,	/* only on a STARTTLS listener before TLS */
	SMTP_CMD_SASL = 1 << 6,		/* only on submission, before AUTH */
	SMTP_CMD_SUBMIT_AUTH = 1 << 7,	/* submission: 530 before AUTH */
	SMTP_CMD_EHLO_ONLY = 1 << 8,	/* only after EHLO (not HELO) */
	SMTP_CMD_NOT_LMTP = 1 << 9,	/* HELO, EHLO: 500 on LMTP */
	SMTP_CMD_LMTP_ONLY = 1 << 10,	/* LHLO: 500 on SMTP */
};
extern const struct cmd_def smtp_commands[];
extern const size_t smtp_commands_count;
/* A response line during AUTH. */
void smtp_auth_response(struct smtp_session *s, struct str line);

/* smtp_local.c */
/* The server's delivery_names, or NULL. */
const struct delivery_names *smtp_local_names(const struct smtp_server *server);
/* SMTP_CMD_BARE_PATHS on the local socket when there is an origin, else
 * 0: for the ext mask of the MAIL and RCPT parsers. */
unsigned smtp_local_path_opts(const struct smtp_session *s);
/* A bare path (SMTP_PATH_BARE, only parsed with the mask above) gets the
 * origin as its domain; other paths are left alone. */
void smtp_local_qualify(const struct smtp_session *s, struct smtp_path *path);
/* The local socket: whether the caller may use this (canonical) MAIL
 * FROM. 1 yes, 0 no (553 5.7.1 queued, logged). */
int smtp_local_sender_ok(struct smtp_session *s, const char *sender);

/* smtp_quota.c */
/* RCPT: leave out of res the local users over quota for a message of the
 * declared SIZE (or already full). 1 = go on with res, 0 = every
 * destination is full (452 4.2.2 queued), -1 = store error (451
 * queued). */
int smtp_quota_rcpt(struct smtp_session *s, struct store_reader *reader,
		    const char *address, struct delivery_resolution *res);
/* LMTP after the data: size is the message as it will be stored. Drops
 * from the transaction the users the message does not fit, and marks the
 * recipients left with no destination (rcpt_full, answered 452 4.2.2).
 * Returns the number of recipients still to deliver to, or -1 on a store
 * error (logged). */
int smtp_quota_lmtp(struct smtp_session *s, uint64_t size);

#endif
