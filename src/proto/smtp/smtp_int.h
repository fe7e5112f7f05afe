/* smtp_int.h: private to proto/smtp: the server, the session and its
 * transaction, the state machine, and what smtp_session.c offers the
 * command handlers (the table itself is in smtp_commands.h). */
#ifndef POSTHORN_PROTO_SMTP_SMTP_INT_H
#define POSTHORN_PROTO_SMTP_SMTP_INT_H

#include "base/arena.h"
#include "base/cidr.h"
#include "base/strbuf.h"
#include "delivery/delivery.h"
#include "mail/smtp_cmd.h"
#include "mail/dnsbl.h"
#include "mail/mime.h"
#include "mail/spam_verdict.h"
#include "mail/smtp_data.h"
#include "proto/common/session.h"
#include "proto/smtp/smtp_server.h"

/* RFC 4954 4: an AUTH command line or SASL response may be 12288 octets. */
#define SMTP_AUTH_LINE_MAX 12288
#define SMTP_DEFAULT_MAX_RECIPIENTS 100
#define SMTP_DEFAULT_TIMEOUT_S 300
/* The message buffer is sized at DATA/BDAT for SIZE= up to this much, else
 * for a typical message. */
#define SMTP_MSG_RESERVE (16 * 1024)
#define SMTP_MSG_RESERVE_MAX (4 * 1024 * 1024)
/* Room kept before the message in its buffer for the fields stored above
 * it (Return-Path, Delivered-To, DKIM-Signature, Received: about 1-2 KB),
 * so that the store gets the buffer itself, not a copy. */
#define SMTP_MSG_ROOM 4096

struct smtp_server {
	struct session_server core;	/* first: the session core's part */
	struct smtp_settings set;	/* strings are our copies */
	/* postmaster@hostname, not configured: never relayed (the host
	 * name need not be one of our domains). */
	bool postmaster_default;
	struct cidr *trusted;		/* set.trusted_networks parsed */
	size_t n_trusted;
	/* session_service.mode is an enum smtp_mode */
	struct session_service services[SMTP_MODE_COUNT][2];
	struct smtp_greet_cache *greet_cache;
	struct smtp_ratelimit *ratelimit;
	struct smtp_dns *dns;		/* the inbound checks' resolvers */
	struct dnsbl_site *dnsbl;	/* set.inbound.dnsbl parsed */
	size_t n_dnsbl;
};

enum smtp_state {
	SMTP_STATE_GREETING,	/* greeting held back (early-talker check) */
	SMTP_STATE_INIT,	/* greeting sent, no HELO/EHLO yet */
	SMTP_STATE_READY,	/* HELO/EHLO done, no transaction */
	SMTP_STATE_MAIL,	/* MAIL accepted */
	SMTP_STATE_RCPT,	/* at least one RCPT accepted */
	SMTP_STATE_DATA,	/* reading the message after 354 */
	SMTP_STATE_BDAT,	/* reading the octets of a BDAT chunk */
	SMTP_STATE_DELIVERING,	/* waiting for the store; input held */
	SMTP_STATE_AUTH,	/* in a SASL exchange, reading responses */
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
	struct queue_rcpt *remotes; /* xrealloc'd, strings in arena */
	size_t n_remotes;
	/* The address that reached the first local user (arena), and
	 * whether another user was reached too: Delivered-To is written
	 * only for a single local recipient. */
	const char *delivered_to;
	bool several_locals;
	struct smtp_data *reader;
	/* The message as it arrives, after msg_room bytes of room for the
	 * fields stored above it (written at the end of data, see
	 * smtp_tx_msg); the buffer goes to the store as it is. */
	struct strbuf msg;
	size_t msg_room;
	/* The MIME parse of the message as it arrives (after
	 * MIME_PREFIX_STANDIN), or NULL. */
	struct mime_parser *mime;
	/* The spam verdict of the fields that are ours (smtp_junk.c), and
	 * whether a check asked for Junk delivery. */
	struct spam_verdict spam;
	bool junk;
	const char *junk_why;		/* static */
	bool bdat;			/* BDAT chunks came (then no DATA) */
	uint64_t bdat_size;		/* octets of all BDAT chunks */
	char id[LOG_SID_SIZE + 16];
};

/* core.user is the authenticated address (AUTH) or NULL; core.conn is
 * NULL once closed while delivering; core.service->mode is the enum
 * smtp_mode of the listener. */
struct smtp_session {
	struct session core;		/* first */
	struct smtp_server *server;
	enum smtp_state state;
	char *helo;			/* cleaned, for Received: */
	bool esmtp;
	/* SMTP_MODE_LOCAL: the unix user who connected ("uid N" when the
	 * uid has no name). */
	char *local_user;
	uid_t local_uid;
	bool trusted;			/* MTA client from trusted_networks */
	/* Rate limits: the client's source (base/cidr.h cidr_source),
	 * whether none apply, RCPTs refused so far. */
	char rate_source[CIDR_SOURCE_MAX];
	bool rate_exempt;
	unsigned refused_rcpts;
	unsigned timeout_s;		/* the idle timeout set on the conn */
	unsigned n_tx;
	struct smtp_tx *tx;
	bool close_after_delivery;
	/* The BDAT chunk being read: octets left, LAST, and the reply to
	 * give once it is consumed when it is refused (code 0 = none). */
	uint64_t bdat_left;
	uint64_t bdat_chunk;
	bool bdat_last;
	struct smtp_status bdat_error;
	/* The inbound checks (smtp_checks.h), NULL when they do not run. */
	struct smtp_checks *checks;
};

/* smtp_session.c */
void smtp_session_enter(struct smtp_session *s, enum smtp_state state);
void smtp_reply(struct smtp_session *s, unsigned code, const char *enhanced,
		const char *fmt, ...) PRINTF_FMT(4, 5);
void smtp_reply_status(struct smtp_session *s, struct smtp_status st);
/* The extensions offered in this session (enum smtp_ext). */
unsigned smtp_session_ext(const struct smtp_session *s);
/* Whether the session may send to remote recipients: authenticated by
 * AUTH or as a local user. */
bool smtp_session_may_relay(const struct smtp_session *s);
/* The idle bound for the state: command or data timeout. */
void smtp_session_set_timeout(struct smtp_session *s);

/* smtp_dkim.c: append a DKIM-Signature field for s->tx's message to out
 * when the session may relay, the message has remote recipients, and its
 * From domain (else the envelope sender's) is a local domain with a key.
 * Failures are logged: the message then goes unsigned. */
void smtp_dkim_sign(struct smtp_session *s, struct strbuf *out);
void smtp_tx_free(struct smtp_tx **tx);
/* The session's transaction ends: the checks forget it, it is freed. */
void smtp_session_end_tx(struct smtp_session *s);
/* The message received so far, without the room before it. */
struct str smtp_tx_msg(const struct smtp_tx *tx);
/* Forget the stream parse (the message changed after it). */
void smtp_tx_drop_mime(struct smtp_tx *tx);
/* Start reading the message after 354. */
void smtp_session_start_data(struct smtp_session *s);
/* Feed buffered input to the DATA reader, ending the transaction when the
 * final dot came. False when it needs more input. */
bool smtp_session_data(struct smtp_session *s);
/* Start reading a BDAT chunk of size octets; err.code != 0: consume and
 * refuse it with err. */
void smtp_session_start_bdat(struct smtp_session *s, uint64_t size, bool last,
			     struct smtp_status err);
/* Consume buffered octets of the BDAT chunk. False when it needs more. */
bool smtp_session_bdat(struct smtp_session *s);
/* The session ends: log an unfinished transaction with reason. */
void smtp_session_log_tx(struct smtp_session *s, const char *result);

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

/* smtp_ratelimit.c: connections, messages and recipients per minute per
 * client source on port 25 and per authenticated user, refused
 * recipients per session (struct smtp_rate_settings). */
struct smtp_ratelimit;
struct smtp_ratelimit *smtp_ratelimit_new(const struct smtp_rate_settings *set);
void smtp_ratelimit_free(struct smtp_ratelimit **rl);
/* A new session (s->trusted known): false when the client's connection
 * rate is spent (421 4.7.0 queued, closed). */
bool smtp_ratelimit_connect(struct smtp_session *s);
/* MAIL / RCPT about to be accepted: false when the client's (or the
 * user's) rate is spent (451 4.7.1 queued). */
bool smtp_ratelimit_mail(struct smtp_session *s);
bool smtp_ratelimit_rcpt(struct smtp_session *s);
/* A RCPT was refused: after max_refused_recipients of them the session
 * is dropped (421 4.7.0 queued after the refusal, closed). */
void smtp_ratelimit_refused(struct smtp_session *s);

/* smtp_junk.c: whether a port 25 message goes to the Junk mailboxes of
 * its local recipients. Only verdicts that are ours count: fields our
 * own filters added (smtp_junk_our_field) and, from a trusted_networks
 * relay, the message's own; a stranger's X-Spam-* fields never do. */
/* A header field one of our checks (a milter) added to the message. */
void smtp_junk_our_field(struct smtp_tx *tx, struct str name, struct str value);
/* A check (DMARC quarantine, a milter's QUARANTINE) asks for Junk
 * delivery; why (static) goes to the log. */
void smtp_junk_request(struct smtp_tx *tx, const char *why);
/* At the end of data: the decision (logged when Junk). */
bool smtp_junk_decide(struct smtp_session *s);

/* smtp_quota.c */
/* smtp_greet.c: the pre-greeting test of MTA clients and the cache of
 * addresses that passed it (postscreen's idea: a client that waited once
 * is greeted at once next time). */
struct smtp_greet_cache;
struct smtp_greet_cache *smtp_greet_cache_new(unsigned max, unsigned ttl_s);
void smtp_greet_cache_free(struct smtp_greet_cache **cache);
/* Open an MTA session: greet now (trusted or a cached address) or after
 * greet_delay_ms, refusing a client that talks first. */
void smtp_greet_start(struct smtp_session *s);
/* Input arrived before the greeting: the client failed the test. */
void smtp_greet_early_talker(struct smtp_session *s);
/* Send the greeting. */
void smtp_greet(struct smtp_session *s);

/* RCPT: delivery_quota_filter() left n local users of res out as over
 * quota for a message of the declared SIZE (or already full), or failed
 * (n < 0, error). 1 = go on with res, 0 = every destination is full (452
 * 4.2.2 queued), -1 = store error (451 queued). */
int smtp_quota_rcpt(struct smtp_session *s, const char *address,
		    const struct delivery_resolution *res, int n,
		    const char *error);

/* smtp_rcpt.c */
/* The RCPT command's handler (the table is in smtp_commands.c). */
int smtp_rcpt_cmd(void *ctx, struct str arg);
/* LMTP after the data: size is the message as it will be stored. Drops
 * from the transaction the users the message does not fit, and marks the
 * recipients left with no destination (rcpt_full, answered 452 4.2.2).
 * Returns the number of recipients still to deliver to, or -1 on a store
 * error (logged). */
int smtp_quota_lmtp(struct smtp_session *s, uint64_t size);

#endif
