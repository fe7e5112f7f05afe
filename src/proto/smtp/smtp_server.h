/* smtp_server.h: the SMTP front-end (MTA port 25 role, submission on 587
 * with STARTTLS, submissions on 465 with implicit TLS, and LMTP) as a
 * conn_handler.
 * One smtp_server serves every SMTP listener of the process. */
#ifndef POSTHORN_PROTO_SMTP_SMTP_SERVER_H
#define POSTHORN_PROTO_SMTP_SMTP_SERVER_H

#include "auth/auth_sasl.h"
#include "net/conn.h"
#include "store/store.h"

enum smtp_mode {
	SMTP_MODE_MTA,		/* port 25: local recipients without AUTH */
	SMTP_MODE_SUBMISSION,	/* RFC 6409: AUTH required before MAIL */
	SMTP_MODE_LMTP,		/* RFC 2033: LHLO, a reply per recipient */
	/* The local sendmail socket (a unix listener): no AUTH, no TLS; the
	 * peer's uid (SO_PEERCRED) is the authenticated identity, so remote
	 * recipients are allowed; MAIL FROM is that user's own address
	 * unless the user is trusted (struct smtp_local). */
	SMTP_MODE_LOCAL,
};
#define SMTP_MODE_COUNT (SMTP_MODE_LOCAL + 1)

/* When a plaintext SASL mechanism (PLAIN, LOGIN) is offered without TLS. */
enum smtp_plaintext {
	SMTP_PLAINTEXT_NEVER,
	SMTP_PLAINTEXT_LOOPBACK,
	SMTP_PLAINTEXT_ALWAYS,
};

struct dkim_keys;
struct smtp_local;

struct smtp_settings {
	const char *hostname;		/* greeting, Received:; copied */
	uint64_t max_message_size;	/* 0 = no limit */
	unsigned max_recipients;	/* 0 = 100 */
	unsigned max_bad_commands;	/* 0 = 10 */
	enum smtp_plaintext plaintext;
	/* MTA listeners: hold the greeting this long and refuse a client
	 * that talks before it (0 = greet at once). */
	unsigned greet_delay_ms;
	/* Failed AUTH from an IP delays its next AUTH answer by this much,
	 * doubling up to the max (auth_throttle.h); 0 = 1000 / 30000. */
	unsigned auth_fail_delay_ms;
	unsigned auth_fail_delay_max_ms;
	/* MTA listeners: clients from these networks ("10.0.0.0/8 ::1",
	 * base/cidr.h syntax, checked by the config) may relay without AUTH;
	 * NULL = none. Copied. */
	const char *trusted_networks;
	/* Idle seconds waiting for a command / inside DATA or BDAT before
	 * the conn closes; 0 = 300 (RFC 5321 4.5.3.2.7). */
	unsigned command_timeout_s;
	unsigned data_timeout_s;
	/* Name the AUTH user in Received: ("(authenticated as USER)"). */
	bool received_auth;
	/* Where "<postmaster>" and postmaster@<local domain> go when no
	 * user or alias takes them; NULL = "postmaster@" hostname. Copied. */
	const char *postmaster;
	/* VRFY/EXPN answer for AUTH and local-socket sessions (else 252). */
	bool vrfy_authenticated;
	/* Submission: any MAIL FROM after AUTH, not only the user's own
	 * addresses (config sender_check = any). */
	bool sender_any;
	/* DKIM keys of the local domains (delivery/dkim_keys.h) to sign
	 * relayed mail we originate with, or NULL; not copied: must
	 * outlive the server. */
	const struct dkim_keys *dkim;
	/* The host's names and the local socket's senders (smtp_local_new),
	 * or NULL: no origin (bare names refused), MAIL FROM on the local
	 * socket taken as given. Not copied: must outlive the server. */
	const struct smtp_local *local;
};

struct smtp_server;

/* The host's names (delivery/delivery.h struct delivery_names: origin,
 * NULL or lower case, and admin, NULL or an address), used for every
 * recipient, and for the local socket: bare names get @origin, and a
 * caller may send only as <login>@origin (or <>) unless its login is one
 * of trusted (login names separated by blanks or commas; NULL: none).
 * Strings are copied. */
struct smtp_local *smtp_local_new(const char *origin, const char *admin,
				  const char *trusted);
void smtp_local_free(struct smtp_local **local);

/* *storep is read each time a session needs the store (the daemon binds
 * its listeners before it opens the store); it must be set before the
 * first connection and outlive the server, as must sasl. Never fails. */
struct smtp_server *smtp_server_new(const struct smtp_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl);
/* After every connection has ended (the I/O threads are stopped). Frees
 * the per-thread store readers too. */
void smtp_server_free(struct smtp_server **server);

/* The handler_ctx to give a listener of that mode with smtp_conn_handler;
 * starttls: the listener has a TLS context and is not implicit TLS.
 * Valid as long as the server. */
void *smtp_server_listener_ctx(struct smtp_server *server, enum smtp_mode mode,
			       bool starttls);

extern const struct conn_handler smtp_conn_handler;

#endif
