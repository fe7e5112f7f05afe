/* imap_server.h: the IMAP front-end (IMAP4rev1 and IMAP4rev2 with STARTTLS on
 * port 143, implicit TLS on 993) as a conn_handler. One imap_server serves
 * every IMAP listener of the process. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_SERVER_H
#define POSTHORN_PROTO_IMAP_IMAP_SERVER_H

#include "auth/auth_sasl.h"
#include "net/conn.h"
#include "store/store.h"

/* When LOGIN and AUTHENTICATE PLAIN are allowed without TLS. */
enum imap_plaintext {
	IMAP_PLAINTEXT_NEVER,
	IMAP_PLAINTEXT_LOOPBACK,
	IMAP_PLAINTEXT_ALWAYS,
};

struct imap_settings {
	const char *hostname;		/* greeting; copied */
	size_t max_command_size;	/* 0 = 64 KiB; APPEND messages not counted */
	uint64_t max_append_size;	/* APPENDLIMIT; 0 = 25 MiB */
	unsigned max_bad_commands;	/* 0 = 20 */
	unsigned login_timeout_s;	/* 0 = 60 */
	unsigned idle_timeout_s;	/* after login and in IDLE; 0 = 1800 */
	enum imap_plaintext plaintext;
	/* Failed logins from an IP delay its next answer (auth_throttle.h);
	 * 0 = 1000 / 30000. */
	unsigned auth_fail_delay_ms;
	unsigned auth_fail_delay_max_ms;
};

struct imap_server;

/* *storep is read when the first session needs the store (the daemon binds
 * its listeners before it opens the store); it must be set before the first
 * connection and outlive the server, as must sasl. The server subscribes
 * to the store's change events at its first connection. Never fails. */
struct imap_server *imap_server_new(const struct imap_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl);
/* After every connection has ended (the I/O threads are stopped) and
 * before the store closes. Frees the per-thread store readers too. */
void imap_server_free(struct imap_server **server);

/* The handler_ctx for a listener with imap_conn_handler; starttls: the
 * listener has a TLS context and is not implicit TLS. Valid as long as the
 * server. The listener's max_input must exceed max_command_size (a command
 * line is read whole). */
void *imap_server_listener_ctx(struct imap_server *server, bool starttls);

extern const struct conn_handler imap_conn_handler;

#endif
