/* imap_server.h: the IMAP front-end (IMAP4rev1 and IMAP4rev2 with STARTTLS on
 * port 143, implicit TLS on 993) on the session core: listeners take
 * session_conn_handler with a context from imap_server_listener_ctx(). One
 * imap_server serves every IMAP listener of the process. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_SERVER_H
#define POSTHORN_PROTO_IMAP_IMAP_SERVER_H

#include "proto/common/session.h"
#include "store/store.h"

struct imap_settings {
	/* hostname (greeting), plaintext (LOGIN and AUTHENTICATE PLAIN
	 * without TLS), the bad-command budget (0 = 20), sessions per user
	 * and address */
	struct session_server_settings core;
	size_t max_command_size;	/* 0 = 64 KiB; APPEND messages not counted */
	uint64_t max_append_size;	/* APPENDLIMIT; 0 = 25 MiB */
	unsigned login_timeout_s;	/* 0 = 60 */
	unsigned idle_timeout_s;	/* after login and in IDLE; 0 = 1800 */
	/* Shell commands fed a message on stdin when a user moves (or
	 * copies) it into a \Junk mailbox / out of one into anything but
	 * \Trash (imap_learn.c), e.g. "rspamc learn_spam"; NULL = none.
	 * Copied. At most learn_jobs run at once (0 = 2), each killed after
	 * learn_timeout_ms (0 = 30 s). */
	const char *learn_spam_command;
	const char *learn_ham_command;
	unsigned learn_jobs;
	unsigned learn_timeout_ms;
};

struct imap_server;

/* *env->storep is read when the first session needs the store (the daemon
 * binds its listeners before it opens the store); it must be set before
 * the first connection and outlive the server, as must the SASL context
 * and the guard. The server subscribes to the store's change events at its
 * first connection. Never fails. */
struct imap_server *imap_server_new(const struct imap_settings *set,
				    const struct session_env *env);
/* After every connection has ended (the I/O threads are stopped) and
 * before the store closes. Frees the per-thread store readers too. */
void imap_server_free(struct imap_server **server);

/* The handler_ctx for a listener with session_conn_handler; starttls: the
 * listener has a TLS context and is not implicit TLS. Valid as long as the
 * server. The listener's max_input must exceed max_command_size (a command
 * line is read whole). */
void *imap_server_listener_ctx(struct imap_server *server, bool starttls);

#endif
