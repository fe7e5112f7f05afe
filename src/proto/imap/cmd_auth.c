/* cmd_auth.c: the commands of any state and of the not-authenticated state:
 * CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (with SASL-IR),
 * ENABLE and ID; COMPRESS (RFC 4978), which applies to the connection. */
#include "auth/auth_store.h"
#include "base/log.h"
#include "proto/imap/imap_commands.h"

#include <string.h>

int cmd_capability(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct strbuf caps = STRBUF_INIT;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "CAPABILITY takes no arguments");
		return -1;
	}
	imap_session_capabilities(s, &caps);
	imap_untagged(s, "CAPABILITY %s", strbuf_cstr(&caps));
	strbuf_free(&caps);
	imap_tagged(s, "OK", "CAPABILITY completed");
	return 1;
}

int cmd_noop(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "NOOP takes no arguments");
		return -1;
	}
	/* imap_tagged sends what changed in the selected mailbox. */
	imap_tagged(s, "OK", "NOOP completed");
	return 1;
}

int cmd_logout(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "LOGOUT takes no arguments");
		return -1;
	}
	imap_untagged(s, "BYE Logging out");
	imap_session_enter(s, IMAP_STATE_LOGOUT);
	s->logout = true;
	imap_tagged(s, "OK", "LOGOUT completed");
	return 1;
}

int cmd_starttls(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments");
		return -1;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	if (conn_starttls(s->core.conn) < 0) {
		/* Plaintext behind the command (injection) or no TLS. */
		log_info(conn_sid(s->core.conn), "imap STARTTLS refused for %s",
			 conn_peer_ip(s->core.conn));
		conn_abort(s->core.conn, "STARTTLS failed");
		return 1;
	}
	/* RFC 9051 6.2.1: forget what was learned before TLS. The reader
	 * holds nothing (the command was complete). */
	imap_reader_reset(s->reader);
	s->utf8 = s->condstore = s->qresync = s->rev2 = false;
	return 1;
}

/* RFC 4978: the tagged OK goes out uncompressed, everything after it
 * (both ways) is raw DEFLATE. */
int cmd_compress(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (!str_caseeq(arg, STR_LIT("DEFLATE"))) {
		imap_tagged(s, "BAD", "Only COMPRESS DEFLATE is supported");
		return -1;
	}
	if (conn_is_compressed(s->core.conn)) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] DEFLATE is already on");
		return -1;
	}
	imap_tagged(s, "OK", "DEFLATE active");
	if (conn_compress(s->core.conn) < 0)
		conn_abort(s->core.conn, "COMPRESS failed");
	return 1;
}

static void login_failed(struct imap_session *s, const char *user,
			 const char *mech)
{
	log_info(conn_sid(s->core.conn), "imap login user=%s ip=%s mech=%s result=failed",
		 user, conn_peer_ip(s->core.conn), mech);
	auth_throttle_failed(s->server->throttle, conn_peer_ip(s->core.conn));
}

/* "OK [CAPABILITY ...] text" once logged in. */
static void login_ok(struct imap_session *s, const char *text)
{
	struct strbuf caps = STRBUF_INIT;

	imap_session_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] %s", strbuf_cstr(&caps), text);
	strbuf_free(&caps);
}

int cmd_login(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_reader *r;
	struct imap_cursor c;
	struct str user, pass;
	char *user_c, *pass_c, *address = NULL;
	int ret;

	if (!imap_session_plaintext_ok(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] LOGIN is disabled without TLS");
		return -1;
	}
	imap_cursor_init(&c, arg);
	if (!imap_cursor_astring(&c, &s->cmd_arena, &user) ||
	    !imap_cursor_sp(&c) ||
	    !imap_cursor_astring(&c, &s->cmd_arena, &pass) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	r = imap_session_reader(s);
	if (r == NULL) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
		return -1;
	}
	user_c = str_dup(user);
	pass_c = str_dup(pass);
	ret = auth_login_plain(auth_store_lookup, r, user_c, pass_c, &address);
	secure_zero(pass_c, pass.n);
	free(pass_c);
	if (ret == 1) {
		imap_session_login(s, address, "LOGIN");
		login_ok(s, "LOGIN completed");
	} else if (ret == 0) {
		login_failed(s, user_c, "LOGIN");
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
	} else {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
	}
	free(address);
	free(user_c);
	return ret == 1 ? 1 : -1;
}

/* Answer the result of a SASL step; returns as a handler does. */
static int sasl_result(struct imap_session *s, enum auth_sasl_result res,
		       char *challenge)
{
	int ret = -1;

	switch (res) {
	case AUTH_SASL_CONTINUE:
		conn_printf(s->core.conn, "+ %s\r\n", challenge);
		free(challenge);
		imap_session_mode(s, IMAP_MODE_SASL);
		return 0;
	case AUTH_SASL_OK:
		imap_session_login(s, auth_sasl_user(s->core.sasl),
				   auth_sasl_mech(s->core.sasl));
		login_ok(s, "AUTHENTICATE completed");
		ret = 1;
		break;
	case AUTH_SASL_FAIL:
		login_failed(s, "?", auth_sasl_mech(s->core.sasl));
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
		break;
	case AUTH_SASL_ERROR:
		imap_tagged(s, "BAD", "Malformed authentication response");
		break;
	case AUTH_SASL_TEMPFAIL:
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
		break;
	}
	auth_sasl_free(&s->core.sasl);
	return ret;
}

int cmd_authenticate(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_reader *r;
	struct imap_cursor c;
	struct str mech, initial = STR_LIT("");
	enum auth_sasl_result res;
	char *mech_c, *initial_c, *challenge = NULL;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_atom(&c, &mech))
		return imap_bad_syntax(s, &c);
	if (!imap_cursor_at_end(&c)) {
		/* SASL-IR (RFC 4959): base64 or "=" for an empty one. */
		if (!imap_cursor_sp(&c) || !imap_cursor_atom(&c, &initial) ||
		    !imap_cursor_at_end(&c))
			return imap_bad_syntax(s, &c);
	}
	r = imap_session_reader(s);
	if (r == NULL) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
		return -1;
	}
	mech_c = str_dup(mech);
	s->core.sasl = auth_sasl_start(s->server->sasl, mech_c,
				  imap_session_plaintext_ok(s),
				  auth_store_lookup, r);
	free(mech_c);
	if (s->core.sasl == NULL) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return -1;
	}
	initial_c = str_dup(initial);
	res = auth_sasl_step(s->core.sasl, initial_c, &challenge);
	secure_zero(initial_c, initial.n);
	free(initial_c);
	return sasl_result(s, res, challenge);
}

void imap_sasl_response(struct imap_session *s, struct str line)
{
	enum auth_sasl_result res;
	char *challenge = NULL, *resp;
	int ret;

	if (str_eq(line, STR_LIT("*"))) {
		auth_sasl_free(&s->core.sasl);
		imap_tagged(s, "BAD", "Authentication cancelled");
		imap_session_resume(s);
		return;
	}
	resp = str_dup(line);
	res = auth_sasl_step(s->core.sasl, resp, &challenge);
	secure_zero(resp, line.n);
	free(resp);
	ret = sasl_result(s, res, challenge);
	if (ret != 0)
		imap_session_resume(s);
}

int cmd_enable(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct strbuf enabled = STRBUF_INIT;
	struct imap_cursor c;
	struct str cap;

	imap_cursor_init(&c, arg);
	do {
		if (!imap_cursor_atom(&c, &cap)) {
			strbuf_free(&enabled);
			return imap_bad_syntax(s, &c);
		}
		if (str_caseeq(cap, STR_LIT("CONDSTORE")) && !s->condstore) {
			s->condstore = true;
			strbuf_append_c(&enabled, " CONDSTORE");
		} else if (str_caseeq(cap, STR_LIT("QRESYNC")) && !s->qresync) {
			/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE. */
			s->qresync = s->condstore = true;
			strbuf_append_c(&enabled, " QRESYNC");
		} else if (str_caseeq(cap, STR_LIT("UTF8=ACCEPT")) && !s->utf8) {
			s->utf8 = true;
			strbuf_append_c(&enabled, " UTF8=ACCEPT");
		} else if (str_caseeq(cap, STR_LIT("IMAP4rev2")) && !s->rev2) {
			s->rev2 = true;
			strbuf_append_c(&enabled, " IMAP4rev2");
		}
	} while (imap_cursor_sp(&c));
	if (!imap_cursor_at_end(&c)) {
		strbuf_free(&enabled);
		return imap_bad_syntax(s, &c);
	}
	imap_untagged(s, "ENABLED%s", strbuf_cstr(&enabled));
	strbuf_free(&enabled);
	imap_tagged(s, "OK", "ENABLE completed");
	return 1;
}

static bool printable(struct str v)
{
	for (size_t i = 0; i < v.n; i++) {
		if ((unsigned char)v.p[i] < 0x20 || v.p[i] == 0x7f)
			return false;
	}
	return true;
}

/* ID (RFC 2971): log what the client says, answer with our name. */
int cmd_id(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct strbuf client = STRBUF_INIT;
	struct imap_cursor c;
	struct str key, value;
	bool nil;
	int n = 0;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_nstring(&c, &s->cmd_arena, &key, &nil) || !nil) {
		imap_cursor_init(&c, arg);
		if (!imap_cursor_skip_char(&c, '('))
			return imap_bad_syntax(s, &c);
		while (!imap_cursor_skip_char(&c, ')')) {
			if ((n > 0 && !imap_cursor_sp(&c)) ||
			    !imap_cursor_string(&c, &s->cmd_arena, &key) ||
			    !imap_cursor_sp(&c) ||
			    !imap_cursor_nstring(&c, &s->cmd_arena, &value, &nil) ||
			    ++n > 30) {
				strbuf_free(&client);
				return imap_bad_syntax(s, &c);
			}
			if (key.n <= 30 && printable(key) &&
			    (nil || (value.n <= 1024 && printable(value))))
				strbuf_printf(&client, " %.*s=%.*s", (int)key.n,
					      key.p, nil ? 3 : (int)value.n,
					      nil ? "NIL" : value.p);
		}
	}
	if (!imap_cursor_at_end(&c)) {
		strbuf_free(&client);
		return imap_bad_syntax(s, &c);
	}
	if (client.n > 0)
		log_info(conn_sid(s->core.conn), "imap client id:%s", client.p);
	strbuf_free(&client);
	imap_untagged(s, "ID (\"name\" \"Posthorn\" \"vendor\" \"Posthorn\")");
	imap_tagged(s, "OK", "ID completed");
	return 1;
}
