/* pop3_server.h: the POP3 front-end (RFC 1939 with CAPA, STLS, AUTH and
 * APOP) as a conn_handler, for the pop3 (STLS) and pop3s (implicit TLS)
 * listeners. One pop3_server serves every POP3 listener of the process and
 * holds the maildrop locks. */
#ifndef POSTHORN_PROTO_POP3_POP3_SERVER_H
#define POSTHORN_PROTO_POP3_POP3_SERVER_H

#include "auth/auth_sasl.h"
#include "net/conn.h"
#include "store/store.h"

/* When USER/PASS and the plaintext SASL mechanisms are offered without
 * TLS (the auth.allow_plaintext rule). */
enum pop3_plaintext {
	POP3_PLAINTEXT_NEVER,
	POP3_PLAINTEXT_LOOPBACK,
	POP3_PLAINTEXT_ALWAYS,
};

struct pop3_settings {
	const char *hostname;		/* APOP timestamp; copied */
	enum pop3_plaintext plaintext;
	unsigned max_bad_commands;	/* 0 = 10 */
	/* RFC 1939 3: at least ten minutes; 0 = 600 s */
	unsigned autologout_s;
	/* Failed logins from an IP delay its next login answer by this much,
	 * doubling up to the max (auth_throttle.h); 0 = 1000 / 30000. */
	unsigned auth_fail_delay_ms;
	unsigned auth_fail_delay_max_ms;
};

struct pop3_server;

/* *storep is read when a session needs the store (the daemon binds its
 * listeners before it opens the store); it must be set before the first
 * connection and outlive the server, as must sasl. Never fails. */
struct pop3_server *pop3_server_new(const struct pop3_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl);
/* After every connection has ended (the I/O threads are stopped). Frees
 * the per-thread store readers too. */
void pop3_server_free(struct pop3_server **server);

/* The handler_ctx to give a listener with pop3_conn_handler; starttls: the
 * listener has a TLS context and is not implicit TLS (STLS offered).
 * Valid as long as the server. */
void *pop3_server_listener_ctx(struct pop3_server *server, bool starttls);

extern const struct conn_handler pop3_conn_handler;

#endif
