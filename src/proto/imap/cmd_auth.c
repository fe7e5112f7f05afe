/* cmd_auth.c: the commands of any state and of the not-authenticated state:
 * CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (with SASL-IR),
 * ENABLE and ID; COMPRESS (RFC 4978), which applies to the connection. */
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
	/* NOOP is how a client polls (RFC 3501 6.1.2): look at the store
	 * even when the change event has not reached this thread yet (one
	 * indexed read of what is newer than the view). imap_tagged sends
	 * the rest. */
	if (s->view != NULL &&
	    imap_view_sync(s, true, true, NULL) < 0)
		return imap_store_failed(s, "sync", "store read failed");
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

/* "OK [CAPABILITY ...] text" once logged in. */
static void login_ok(struct imap_session *s, const char *text)
{
	struct strbuf caps = STRBUF_INIT;

	imap_session_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] %s", strbuf_cstr(&caps), text);
	strbuf_free(&caps);
}

/* LOGIN's user id is read: log in and answer. */
static int login_user_done(struct imap_session *s, struct imap_read *rd UNUSED,
			   void *arg)
{
	struct imap_user_lookup *ul = arg;

	s->user_id = ul->user_id;
	if (imap_session_login(s, ul->address, "LOGIN", true))
		login_ok(s, "LOGIN completed");
	return 1;
}

/* LOGIN's password check came back: answer and finish the command (the
 * user's id is read first, on the read pool when there is one). */
static void login_checked(struct session *core, int ret, const char *address)
{
	struct imap_session *s = (struct imap_session *)core;

	if (ret == 1) {
		struct imap_user_lookup *ul = arena_zalloc(&s->cmd_arena,
							   sizeof(*ul));

		ul->address = arena_strdup(&s->cmd_arena, address);
		if (imap_session_read(s, imap_user_read, login_user_done,
				      ul) == 0)
			return;	/* the read's completion finishes it */
	} else if (ret == 0) {
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
	} else {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
	}
	imap_session_resume(s);
}

int cmd_login(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_cursor c;
	struct str user, pass;
	char *user_c, *pass_c;

	if (!session_plaintext_ok(&s->core)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] LOGIN is disabled without TLS");
		return -1;
	}
	imap_cursor_init(&c, arg);
	if (!imap_cursor_astring(&c, &s->cmd_arena, &user) ||
	    !imap_cursor_sp(&c) ||
	    !imap_cursor_astring(&c, &s->cmd_arena, &pass) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	user_c = str_dup(user);
	pass_c = str_dup(pass);
	/* Suspended until the check (a hash, off this thread) answers. */
	session_check_password(&s->core, user_c, pass_c, "LOGIN",
			       login_checked);
	secure_zero(pass_c, pass.n);
	free(pass_c);
	free(user_c);
	return 0;
}

void imap_sasl_challenge(struct session *core, const char *b64)
{
	struct imap_session *s = (struct imap_session *)core;

	conn_printf(s->core.conn, "+ %s\r\n", b64);
	imap_session_mode(s, IMAP_MODE_SASL);
}

void imap_sasl_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech)
{
	struct imap_session *s = (struct imap_session *)core;

	switch (end) {
	case SESSION_SASL_OK:
		if (imap_session_login(s, address, mech, false))
			login_ok(s, "AUTHENTICATE completed");
		break;
	case SESSION_SASL_FAIL:
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
		break;
	case SESSION_SASL_MALFORMED:
		imap_tagged(s, "BAD", "Malformed authentication response");
		break;
	case SESSION_SASL_TEMPFAIL:
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
		break;
	case SESSION_SASL_CANCELLED:
		imap_tagged(s, "BAD", "Authentication cancelled");
		break;
	case SESSION_SASL_TOO_LONG:
		imap_tagged(s, "BAD", "Response too long");
		break;
	}
	/* In SASL mode, or BUSY while a password check was out, the command
	 * was suspended; at its start it is still running and the dispatcher
	 * finishes it. */
	if (s->mode == IMAP_MODE_SASL || s->mode == IMAP_MODE_BUSY) {
		if (s->replied_bad && end != SESSION_SASL_CANCELLED)
			session_bad(&s->core);
		imap_session_resume(s);
	}
}

int cmd_authenticate(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_cursor c;
	struct str mech, initial = STR_LIT("");

	imap_cursor_init(&c, arg);
	if (!imap_cursor_atom(&c, &mech))
		return imap_bad_syntax(s, &c);
	if (!imap_cursor_at_end(&c)) {
		/* SASL-IR (RFC 4959): base64 or "=" for an empty one. */
		if (!imap_cursor_sp(&c) || !imap_cursor_atom(&c, &initial) ||
		    !imap_cursor_at_end(&c))
			return imap_bad_syntax(s, &c);
	}
	if (!session_sasl_start(&s->core, mech, initial)) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return -1;
	}
	/* Still in the exchange: suspended until its end. */
	if (session_in_sasl(&s->core))
		return 0;
	return s->replied_bad || s->state == IMAP_STATE_NOT_AUTH ? -1 : 1;
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
			imap_view_forget_recent(s->view);
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
