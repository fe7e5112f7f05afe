/* session.h: the session core every front-end runs on (SMTP/LMTP, IMAP,
 * POP3): the connection callbacks and the session's life (freed only once
 * no completion is pending), state tracing, the bad-command budget, one
 * timer, holding input, the plaintext policy, the busy and parting replies,
 * the login gate (the failed-login guard shared by every protocol), the
 * SASL exchange and the per-user-and-address limit. A protocol embeds
 * struct session as the first member of its own session and describes
 * itself with a struct session_ops, as Dovecot's login-common does with
 * client_vfuncs. */
#ifndef POSTHORN_PROTO_COMMON_SESSION_H
#define POSTHORN_PROTO_COMMON_SESSION_H

#include "auth/auth_guard.h"
#include "auth/auth_sasl.h"
#include "net/conn.h"
#include "proto/common/reader_set.h"

#include <pthread.h>

struct event;
struct session;
struct counts;

/* What runs when the login gate opens: go, check the credentials of the
 * held command (arg); !go, too many attempts from the client's source wait
 * already: answer "try again later" without a check (it counts as a bad
 * command). */
typedef void session_gate_fn(struct session *s, struct str arg, bool go);

struct auth_worker;
struct store_read_pool;

/* What every front-end of one daemon shares. */
struct session_env {
	struct store *const *storep;	/* set before the first session */
	struct auth_sasl_ctx *sasl;
	struct auth_guard *guard;	/* the failed-login record */
	/* Password hashes are verified there (NULL: on the I/O thread,
	 * for tests and fuzzers; the answer still comes later). */
	struct auth_worker *auth;
	/* Reads that may wait (the login's credentials lookup, SELECT's
	 * listing) go there; NULL: on the I/O thread (SQLite). */
	struct store_read_pool *reads;
};

/* When a plaintext password login (USER/PASS, LOGIN, AUTH PLAIN) is
 * accepted without TLS. */
enum session_plaintext {
	SESSION_PLAINTEXT_NEVER,
	SESSION_PLAINTEXT_LOOPBACK,	/* from 127.0.0.0/8, ::1, unix */
	SESSION_PLAINTEXT_ALWAYS,
};

/* Why the core ends a session (the protocol words the reply). */
enum session_bye {
	SESSION_BYE_ERRORS,	/* the bad-command budget is spent */
	SESSION_BYE_LIMIT,	/* a connection limit: "try again later" */
};

/* How a SASL exchange ended; the core has answered nothing yet. */
enum session_sasl_end {
	SESSION_SASL_OK,	/* credentials right: the protocol logs the
				 * user in (session_login) and answers */
	SESSION_SASL_FAIL,	/* wrong credentials (recorded and logged) */
	SESSION_SASL_MALFORMED,	/* bad base64 or a broken exchange */
	SESSION_SASL_TEMPFAIL,	/* the credentials could not be read */
	SESSION_SASL_CANCELLED,	/* the client sent "*" */
	SESSION_SASL_TOO_LONG,	/* a response over the line bound */
};

struct session_ops {
	const char *proto;	/* "smtp", "imap", "pop3": logs, limits */
	size_t size;		/* of the protocol's session struct */
	/* The conn is open and the core's part set up: greet. */
	void (*open)(struct session *s);
	/* Input waits (not called while the core holds it). */
	void (*input)(struct session *s);
	/* All queued output went out (NULL: nothing to do). */
	void (*drained)(struct session *s);
	/* The server stops: finish soon, e.g. answer and session_close(). */
	void (*shutdown)(struct session *s);
	/* Queue the protocol's parting line for why with text ("421 4.7.0
	 * host text", "* BYE [UNAVAILABLE] text", "-ERR [SYS/TEMP] text");
	 * the core closes the conn after it. */
	void (*bye)(struct session *s, enum session_bye why, const char *text);
	/* SASL: queue a challenge line ("334 b64", "+ b64"). */
	void (*sasl_challenge)(struct session *s, const char *b64);
	/* SASL: the exchange ended; address is the user on OK (owned by
	 * the core until the call returns), mech the mechanism's name. */
	void (*sasl_end)(struct session *s, enum session_sasl_end end,
			 const char *address, const char *mech);
	/* The conn is gone (a completion may still be pending): unlink the
	 * session from what finds it by conn. NULL: nothing. */
	void (*closed)(struct session *s, const char *reason);
	/* Free the protocol's part of the session (not s itself). */
	void (*free)(struct session *s);
};

/* A listener's handler context: the front-end and the kind of port. */
struct session_service {
	struct session_server *server;
	unsigned mode;		/* the protocol's listener kind, e.g. SMTP's
				 * MTA / submission / LMTP / local */
	bool starttls;		/* the listener has a TLS context */
};

struct session_server_settings {
	const char *hostname;
	enum session_plaintext plaintext;
	unsigned max_bad_commands;	/* 0: 10 */
	/* Sessions of one user from one address at the same time, after
	 * login (0: no limit). */
	unsigned max_user_ip;
};

/* A front-end's part the core keeps; embedded in the protocol's server. */
struct session_server {
	const struct session_ops *ops;
	struct session_env env;
	char *hostname;
	enum session_plaintext plaintext;
	unsigned max_bad_commands;
	unsigned max_user_ip;
	struct reader_set readers;
	struct counts *userips;		/* sessions per "ip user" */
};

/* The core's part of a session; first member of the protocol's. */
struct session {
	struct conn *conn;		/* NULL once closed with work pending */
	struct session_server *server;
	const struct session_service *service;
	char peer_ip[64];		/* kept for the log after the conn */
	unsigned bad_commands;
	unsigned pending;		/* completions that will come back */
	struct event *timer;
	void (*timer_fn)(struct session *s);
	bool held;			/* input paused by session_hold() */
	char *user;			/* logged in as (canonical), or NULL */
	bool user_counted;		/* in server->userips */
	/* the login gate */
	struct auth_guard_ticket ticket;
	session_gate_fn *gate_fn;
	char *gate_arg;			/* the held command's argument */
	bool gate_go;			/* a check, not a refusal, waits */
	bool gate_busy;			/* waits for the source's checks in
					 * flight, then asks again */
	/* a SASL exchange */
	struct auth_sasl_session *sasl;
	/* The reader the exchange's lookups use during a step: the thread's
	 * own, or a read pool thread's while a SCRAM step runs there. */
	struct store_reader *sasl_reader;
};

/* The conn callbacks of every front-end: a listener's handler_ctx is a
 * struct session_service. */
extern const struct conn_handler session_conn_handler;

/* ---- server ---- */

void session_server_init(struct session_server *server,
			 const struct session_ops *ops,
			 const struct session_env *env,
			 const struct session_server_settings *set);
/* After every I/O thread has stopped. */
void session_server_deinit(struct session_server *server);
/* Sessions logged in as user from ip now (for tests and metrics). */
unsigned session_server_user_ip_count(struct session_server *server,
				      const char *user, const char *ip);

/* ---- the session ---- */

/* The calling thread's store reader, or NULL (logged) when it cannot be
 * opened. */
struct store_reader *session_reader(struct session *s);
struct store *session_store(const struct session *s);
const char *session_sid(const struct session *s);
/* Log "proto what from -> to" at debug level: every state transition of a
 * protocol goes through one function that calls this. */
void session_trace(const struct session *s, const char *what,
		   const char *from, const char *to);
bool session_plaintext_ok(const struct session *s);

/* A failed command counts towards the bad-command budget; when it is
 * spent the protocol's bye(ERRORS) goes out and the conn closes. */
void session_bad(struct session *s);
/* Queue the protocol's parting line and close (flushing output). */
void session_bye(struct session *s, enum session_bye why, const char *text);
/* conn_close(), when the conn is still there. */
void session_close(struct session *s);

/* Stop / restart reading input (e.g. while the store works on the
 * session's write). session_release() offers buffered input again later,
 * from the loop. */
void session_hold(struct session *s);
void session_release(struct session *s);

/* Run fn(s) on the session's thread after ms; one timer at a time. */
void session_timer(struct session *s, unsigned ms,
		   void (*fn)(struct session *s));

/* Work was handed to another thread whose completion will come back to
 * the session (a store write): the session outlives its conn until then.
 * session_pending_end() returns false when that was the last completion
 * and the conn was gone: the session is freed, do not touch it. */
void session_pending_begin(struct session *s);
bool session_pending_end(struct session *s);

/* ---- login ---- */

/* Before a command that checks credentials (AUTH, LOGIN, AUTHENTICATE,
 * PASS, APOP). True: check now. False: held for the source's failure
 * delay (input held too), then fn runs with a (wiped) copy of arg. */
bool session_login_gate(struct session *s, struct str arg, session_gate_fn *fn);
/* Credentials were wrong for user (as typed; "" when unknown): recorded
 * against the client's source and logged at notice level in the one
 * format fail2ban reads: "auth failed proto=P user=U ip=A mech=M". */
void session_login_failed(struct session *s, const char *user,
			  const char *mech);
/* Credentials were right for address: the guard forgets that user's
 * failures from the source, s->user is set, the conn leaves the
 * unauthenticated pool. False when the user already has the most sessions
 * allowed from this address: bye(LIMIT) is queued and the conn closes
 * (answer nothing else). */
bool session_login(struct session *s, const char *address, const char *mech);

/* The answer of session_check_password(): ret 1 right, address the
 * canonical address (owned by the core until the call returns; call
 * session_login), 0 wrong (already recorded and logged), -1 temporary
 * failure (the store). Runs on the session's thread with the conn still
 * there and input released (not called when the client left). */
typedef void session_password_fn(struct session *s, int ret,
				 const char *address);
/* Check a plaintext password (USER/PASS, IMAP LOGIN) without blocking the
 * thread: the credentials are looked up (env.reads), the hash verified in
 * the worker pool unless the auth cache knows the password already
 * (env.auth); meanwhile the session is held (no input read) and outlives
 * its conn. fn runs later, never before this returns. */
void session_check_password(struct session *s, const char *user,
			    const char *password, const char *mech,
			    session_password_fn *fn);

/* ---- SASL ---- */

/* Start an exchange for mech with the client's initial response (""
 * when none, "=" for an empty one). False (nothing queued) when the
 * mechanism is unknown or not offered without TLS. Otherwise the exchange
 * runs through ops->sasl_challenge and ends with ops->sasl_end (possibly
 * before this returns; a PLAIN or LOGIN password is checked as by
 * session_check_password(), so its end comes later, with the session held
 * meanwhile and session_in_sasl() still true). */
bool session_sasl_start(struct session *s, struct str mech,
			struct str initial);
bool session_in_sasl(const struct session *s);
/* A response line of the exchange ("*" cancels). */
void session_sasl_line(struct session *s, struct str line);
/* The client's response line was over the bound (and discarded). */
void session_sasl_too_long(struct session *s);
/* The mechanisms to advertise now ("SCRAM-SHA-256 PLAIN LOGIN"). */
const char *session_sasl_mechanisms(const struct session *s);

#endif
