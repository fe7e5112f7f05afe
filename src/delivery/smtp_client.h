/* smtp_client.h: the outbound SMTP client session (RFC 5321) over one
 * outbound conn: greeting, EHLO (HELO fallback), STARTTLS, AUTH, then any
 * number of transactions (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING,
 * DSN), QUIT. The caller feeds messages one at a time through callbacks. */
#ifndef POSTHORN_DELIVERY_SMTP_CLIENT_H
#define POSTHORN_DELIVERY_SMTP_CLIENT_H

#include "net/net.h"

enum smtp_client_tls {
	SMTP_CLIENT_TLS_NONE,		/* never STARTTLS */
	SMTP_CLIENT_TLS_MAY,		/* STARTTLS when offered (default) */
	SMTP_CLIENT_TLS_REQUIRED,	/* no STARTTLS or a failed one: defer */
	/* REQUIRED, and the certificate must verify (CA store + name) */
	SMTP_CLIENT_TLS_VERIFY,
};

/* RFC 5321 4.5.3.2 timeouts, in seconds before the scale. */
#define SMTP_CLIENT_TIMEOUT_GREETING 300
#define SMTP_CLIENT_TIMEOUT_MAIL 300
#define SMTP_CLIENT_TIMEOUT_RCPT 300
#define SMTP_CLIENT_TIMEOUT_DATA_INIT 120
#define SMTP_CLIENT_TIMEOUT_DATA_BLOCK 180
#define SMTP_CLIENT_TIMEOUT_DATA_END 600

/* Checks the peer's certificate after STARTTLS (DANE): 0 accept, -1 refuse
 * with a static *error_r (the session then fails temporarily). */
typedef int smtp_client_tls_check_fn(void *arg, struct conn *conn,
				     const char **error_r);

struct smtp_client_settings {
	const char *helo_name;		/* our host name for EHLO/HELO */
	const char *address;		/* numeric peer address */
	unsigned port;
	const char *server_name;	/* SNI and certificate name (MX host) */
	struct net_tls *tls;		/* client context; NULL: no STARTTLS */
	enum smtp_client_tls tls_policy;
	smtp_client_tls_check_fn *tls_check;	/* or NULL */
	void *tls_check_arg;
	/* The peer was found by an MX lookup that did not validate
	 * (DNSSEC): authenticated TLS to it does not satisfy REQUIRETLS. */
	bool mx_insecure;
	/* RFC 8689 5 "TLS-Required: No": the session carries only messages
	 * whose sender asked that our TLS policy be ignored. STARTTLS is
	 * still used when offered and a REQUIRED/VERIFY policy or tls_check
	 * still checks the peer, but no STARTTLS, a refused STARTTLS, or a
	 * peer failing verification or tls_check no longer fails the
	 * session: it goes on in plaintext or over unauthenticated TLS (not
	 * tls_verified), and each such relaxation is logged. */
	bool tls_relaxed;
	/* AUTH PLAIN (or LOGIN) when both are set; only ever under TLS. */
	const char *auth_user, *auth_password;
	unsigned connect_timeout;	/* seconds; 0 = 30 */
	/* Multiplies the RFC timeouts (tests use 0.01); 0 = 1. */
	double timeout_scale;
};

/* One message to send. Every pointer must stay valid until msg_done. */
struct smtp_client_msg {
	const char *sender;		/* "" = null reverse path */
	const char *envid;		/* decoded, or NULL/"" */
	const char *ret;		/* "FULL", "HDRS" or NULL/"" */
	const char *const *rcpts;
	const char *const *orcpts;	/* "rfc822;addr" (decoded) or "" */
	const char *const *notify;	/* "SUCCESS,FAILURE", "NEVER", "" */
	size_t n_rcpts;
	const void *data;		/* the message, CRLF lines */
	size_t size;
	/* RFC 8689: send only over authenticated TLS (tls=verify or a
	 * tls_check that accepted the peer) to a peer announcing REQUIRETLS,
	 * and pass MAIL FROM ... REQUIRETLS on; otherwise every recipient
	 * fails with 550 5.7.30 without a transaction. */
	bool requiretls;
	void *arg;			/* for the caller */
};

/* The outcome for one recipient. */
struct smtp_client_rcpt_result {
	unsigned code;		/* 2xx sent, 4xx retry, 5xx failed */
	char enhanced[16];	/* "5.1.1"; derived from code if peer sent none */
	/* "550 5.1.1 No such user" (remote reply) or our own reason */
	const char *diagnostic;
	bool remote;		/* diagnostic is the peer's reply */
};

/* Why the session ended without QUIT, or failed before a transaction. */
struct smtp_client_error {
	unsigned code;		/* a reply code, or 0 (connection, TLS...) */
	char enhanced[16];	/* "4.4.1" etc. */
	const char *diagnostic;
	bool permanent;		/* 5xx greeting/EHLO: all messages fail */
	/* failed before the first transaction began (greeting, EHLO, TLS,
	 * AUTH or connect): the caller may try the next MX address */
	bool before_ready;
	/* the STARTTLS handshake failed (policy "may": the caller may try
	 * the same server again without TLS) */
	bool tls_failed;
	/* the TLS policy refused this peer: no STARTTLS where TLS is
	 * required, a refused or failed STARTTLS, a certificate or tls_check
	 * that did not pass (tls_failed included). The peer itself answered:
	 * a session with another policy or server name may succeed. */
	bool tls_policy;
};

struct smtp_client;

struct smtp_client_callbacks {
	/* The session is ready for a (further) transaction: return the next
	 * message, or NULL to QUIT. */
	const struct smtp_client_msg *(*next)(void *arg,
					      struct smtp_client *client);
	/* The outcome of msg, one result per recipient in order (valid
	 * during the call). Called for every message next() returned, also
	 * when the session breaks in the middle (temporary failures). */
	void (*msg_done)(void *arg, struct smtp_client *client,
			 const struct smtp_client_msg *msg,
			 const struct smtp_client_rcpt_result *results);
	/* The session is over (QUIT answered or the conn closed): error is
	 * NULL after a clean end. Called exactly once; the client is freed
	 * right after. */
	void (*closed)(void *arg, struct smtp_client *client,
		       const struct smtp_client_error *error);
};

/* Connect and start the session on thread (call on that thread). The
 * settings' strings are copied. Never NULL: a failed connect is reported
 * through closed() from the loop. */
struct smtp_client *smtp_client_new(struct net_thread *thread,
				    const struct smtp_client_settings *set,
				    const struct smtp_client_callbacks *cb,
				    void *arg);
/* Close the connection now; closed() follows (error "aborted"). */
void smtp_client_abort(struct smtp_client *client);
/* What the peer announced (valid once ready). */
bool smtp_client_peer_has_dsn(const struct smtp_client *client);
bool smtp_client_is_tls(const struct smtp_client *client);
/* TLS whose peer was authenticated (tls=verify, or accepted by tls_check). */
bool smtp_client_is_tls_verified(const struct smtp_client *client);
const char *smtp_client_peer_address(const struct smtp_client *client);

/* Does a message need SMTPUTF8 (RFC 6531): a non-ASCII envelope address
 * or non-ASCII bytes in the header section? */
bool smtp_client_msg_needs_smtputf8(const struct smtp_client_msg *msg);
/* Any 8-bit byte in the message (for BODY=8BITMIME)? */
bool smtp_client_msg_is_8bit(const struct smtp_client_msg *msg);

#endif
