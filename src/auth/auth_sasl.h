/* auth_sasl.h: SASL server exchanges (PLAIN, LOGIN, SCRAM-SHA-256) through
 * GNU SASL, one base64 line at a time, for SMTP AUTH, IMAP AUTHENTICATE and
 * POP3 AUTH. Credentials come from the caller's lookup callback. */
#ifndef POSTHORN_AUTH_AUTH_SASL_H
#define POSTHORN_AUTH_AUTH_SASL_H

#include "auth/auth_login.h"

enum auth_sasl_result {
	AUTH_SASL_CONTINUE,	/* send *server_b64_r as a challenge, read a line */
	AUTH_SASL_OK,		/* authenticated: auth_sasl_user() is the address */
	AUTH_SASL_FAIL,		/* wrong credentials, unknown or disabled user */
	AUTH_SASL_ERROR,	/* malformed exchange (bad base64, bad message) */
	AUTH_SASL_TEMPFAIL,	/* lookup failed temporarily: "try again later" */
	AUTH_SASL_CHECK,	/* (deferred checks only) check the password
				 * of auth_sasl_check_args(), then call
				 * auth_sasl_checked() */
};

/* One per process: holds the gsasl handle. Sessions of one context may run
 * on different threads at the same time; the context itself is only read
 * after creation (session start is serialised inside). */
struct auth_sasl_ctx;
struct auth_sasl_session;

/* NULL with *error_r (static string) when libgsasl cannot start. */
struct auth_sasl_ctx *auth_sasl_ctx_new(const char **error_r);
/* All sessions must be freed first. */
void auth_sasl_ctx_free(struct auth_sasl_ctx **ctx);

/* Space-separated mechanism names to advertise, strongest first:
 * "SCRAM-SHA-256 PLAIN LOGIN"; PLAIN and LOGIN only when plaintext_ok (the
 * connection is TLS, or the config allows plaintext). Static string. */
const char *auth_sasl_mechanisms(const struct auth_sasl_ctx *ctx,
				 bool plaintext_ok);

/* Start a server exchange for mech (case-insensitive). NULL when the
 * mechanism is unknown, or is PLAIN/LOGIN and !plaintext_ok. */
struct auth_sasl_session *auth_sasl_start(struct auth_sasl_ctx *ctx,
					  const char *mech, bool plaintext_ok,
					  auth_lookup_fn *lookup,
					  void *lookup_ctx);

/* Feed one client message: client_b64 is the base64 text the client sent,
 * NUL-terminated, without CRLF. "" and "=" both mean an empty message; the
 * first step takes the initial response (SASL-IR; "" when the client sent
 * none). "*" (cancel) is the protocol's business and must not be passed.
 * *server_b64_r is set (malloc'd base64, may be "") only for
 * AUTH_SASL_CONTINUE, and NULL otherwise. SCRAM's server-final message is
 * sent as a last challenge: the client answers "" and the step returns OK.
 * After any result but CONTINUE the session is finished and may only be
 * freed (or asked for the user). */
enum auth_sasl_result auth_sasl_step(struct auth_sasl_session *session,
				     const char *client_b64,
				     char **server_b64_r);

/* PLAIN and LOGIN of this session do not check the password in the step
 * (a hash check takes tens of milliseconds): the step that has it returns
 * AUTH_SASL_CHECK instead, and the caller checks it off its thread (the
 * lookup of auth_sasl_start() then serves SCRAM only). Call right after
 * auth_sasl_start(). */
void auth_sasl_defer_check(struct auth_sasl_session *session);
/* After AUTH_SASL_CHECK: the authentication identity and the password to
 * check (owned by the session). False when no check waits. */
bool auth_sasl_check_args(const struct auth_sasl_session *session,
			  const char **user_r, const char **password_r);
/* The check's verdict (1 right with the malloc'd canonical address, taken
 * over; 0 wrong; -1 temporary failure): returns AUTH_SASL_OK, _FAIL or
 * _TEMPFAIL, and the session is finished as after any final step. */
enum auth_sasl_result auth_sasl_checked(struct auth_sasl_session *session,
					int result, char *address);

/* The canonical address once a step returned AUTH_SASL_OK, else NULL.
 * Owned by the session. */
const char *auth_sasl_user(const struct auth_sasl_session *session);
/* The authentication identity the client gave so far, as it wrote it
 * ("" when none yet): for the failed-login record. Owned by the session. */
const char *auth_sasl_authid(const struct auth_sasl_session *session);
/* The mechanism's canonical name ("PLAIN"...). */
const char *auth_sasl_mech(const struct auth_sasl_session *session);

void auth_sasl_free(struct auth_sasl_session **session);

#endif
