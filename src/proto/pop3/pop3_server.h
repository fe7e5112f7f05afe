/* pop3_server.h: the POP3 front-end (RFC 1939 with CAPA, STLS, AUTH and
 * APOP) on the session core, for the pop3 (STLS) and pop3s (implicit TLS)
 * listeners: they take session_conn_handler with a context from
 * pop3_server_listener_ctx(). One pop3_server serves every POP3 listener of the process and
 * holds the maildrop locks. */
#ifndef POSTHORN_PROTO_POP3_POP3_SERVER_H
#define POSTHORN_PROTO_POP3_POP3_SERVER_H

#include "proto/common/session.h"
#include "store/store.h"

struct pop3_settings {
	/* hostname (APOP timestamp), plaintext (USER/PASS and the
	 * plaintext SASL mechanisms without TLS), the bad-command budget,
	 * sessions per user and address */
	struct session_server_settings core;
	/* RFC 1939 3: at least ten minutes; 0 = 600 s */
	unsigned autologout_s;
	/* Offer APOP: the greeting carries the timestamp and APOP is
	 * accepted (for users with an APOP secret). */
	bool apop;
};

struct pop3_server;

/* *env->storep is read when a session needs the store (the daemon binds
 * its listeners before it opens the store); it must be set before the
 * first connection and outlive the server, as must the SASL context and
 * the guard. Never fails. */
struct pop3_server *pop3_server_new(const struct pop3_settings *set,
				    const struct session_env *env);
/* After every connection has ended (the I/O threads are stopped). Frees
 * the per-thread store readers too. */
void pop3_server_free(struct pop3_server **server);

/* The handler_ctx to give a listener with session_conn_handler; starttls:
 * the listener has a TLS context and is not implicit TLS (STLS offered).
 * Valid as long as the server. */
void *pop3_server_listener_ctx(struct pop3_server *server, bool starttls);

#endif
