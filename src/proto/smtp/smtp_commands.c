/* smtp_commands.c: the SMTP command table, its policy check, the
 * dispatcher, and one handler per command. The dispatcher checks the
 * table's flags before a handler runs; handlers return 1 done, 0
 * suspended, -1 failed (reply queued; counts as a bad command). */
#include "base/log.h"
#include "net/conn.h"
#include "proto/common/session_read.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_commands.h"
#include "proto/smtp/smtp_received.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void smtp_new_helo(struct smtp_session *s, struct str arg, bool esmtp)
{
	smtp_session_end_tx(s);
	free(s->helo);
	s->helo = smtp_received_clean_helo(arg);
	s->esmtp = esmtp;
	smtp_session_enter(s, SMTP_STATE_READY);
	smtp_checks_helo(s);
}

static int cmd_helo(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;

	if (arg.n == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: HELO hostname");
		return -1;
	}
	smtp_new_helo(s, arg, false);
	conn_printf(s->core.conn, "250 %s\r\n", s->server->core.hostname);
	return 1;
}

static int cmd_ehlo(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;
	struct smtp_status st;

	if (arg.n == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: EHLO/LHLO hostname");
		return -1;
	}
	smtp_new_helo(s, arg, true);
	conn_printf(s->core.conn, "250-%s Hello %s\r\n", s->server->core.hostname,
		    s->helo);
	conn_write_str(s->core.conn, "250-PIPELINING\r\n");
	if (s->server->set.max_message_size > 0)
		conn_printf(s->core.conn, "250-SIZE %llu\r\n",
			    (unsigned long long)s->server->set.max_message_size);
	conn_write_str(s->core.conn, "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n"
		       "250-CHUNKING\r\n250-BINARYMIME\r\n");
	if ((smtp_session_ext(s) & SMTP_EXT_REQUIRETLS) != 0)
		conn_write_str(s->core.conn, "250-REQUIRETLS\r\n");
	/* The commands usable now that have a keyword (STARTTLS, AUTH). */
	for (size_t i = 0; i < smtp_commands_count; i++) {
		const struct cmd_def *def = &smtp_commands[i];

		if (def->capability == NULL ||
		    !smtp_session_cmd_allowed(s, def, &st))
			continue;
		if ((def->flags & SMTP_CMD_SASL) != 0)
			conn_printf(s->core.conn, "250-%s %s\r\n", def->capability,
				    session_sasl_mechanisms(&s->core));
		else
			conn_printf(s->core.conn, "250-%s\r\n", def->capability);
	}
	conn_write_str(s->core.conn, "250 ENHANCEDSTATUSCODES\r\n");
	return 1;
}

/* Submission (RFC 6409 6.1): the sender must be the authenticated user or
 * an address that leads to that user alone (a "+tag" or an alias of
 * theirs). The lookup is a store read (on the read pool when there is
 * one); the transaction waits in the request meanwhile. */
struct smtp_sender_req {
	struct smtp_tx *tx;		/* not yet the session's */
	const struct delivery_names *names;
	char *user;			/* the login */
	/* results: 1 owned, 0 not, -1 store error (error) */
	int owned;
	char error[256];
};

/* On a read pool thread (or here without one); the strings the lookup
 * allocates go to the transaction's arena, which nobody else uses yet. */
static void smtp_sender_lookup(struct store_reader *reader, void *arg)
{
	struct smtp_sender_req *q = arg;
	struct smtp_tx *tx = q->tx;
	struct delivery_resolution res;
	struct store_user user;
	const char *error = "no store reader";
	int ret = -1;

	q->owned = -1;
	if (reader == NULL ||
	    (ret = store_user_by_address(reader, &tx->arena, q->user, &user,
					 &error)) <= 0) {
		snprintf(q->error, sizeof(q->error), "store: %s",
			 ret == 0 ? "the user vanished" : error);
		return;
	}
	q->owned = 0;
	if (tx->sender[0] == '\0')
		return;
	delivery_resolve_names(reader, q->names, &tx->arena, tx->sender, &res);
	if (res.status == DELIVERY_LOCAL && res.n_locals == 1 &&
	    res.locals[0].user_id == user.id)
		q->owned = 1;
	if (res.status == DELIVERY_ERROR) {
		snprintf(q->error, sizeof(q->error), "resolve %s: %s",
			 tx->sender, res.error);
		q->owned = -1;
	}
}

static int smtp_mail_finish(struct smtp_session *s, struct smtp_tx *tx);

static int smtp_sender_done(struct session *core, void *arg, bool gone)
{
	struct smtp_session *s = (struct smtp_session *)core;
	struct smtp_sender_req *q = arg;
	struct smtp_tx *tx = q->tx;
	int owned = q->owned;

	if (owned < 0 && !gone)
		log_error(session_sid(&s->core), "%s", q->error);
	free(q->user);
	free(q);
	if (gone || owned <= 0) {
		if (owned < 0 && !gone)
			smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		else if (!gone)
			smtp_reply(s, 553, "5.7.1", "<%s>: Sender address not "
				   "owned by user %s", tx->sender, s->core.user);
		smtp_tx_free(&tx);
		return -1;
	}
	return smtp_mail_finish(s, tx);
}

/* The transaction is allowed: it becomes the session's. */
static int smtp_mail_finish(struct smtp_session *s, struct smtp_tx *tx)
{
	tx->rcpts = arena_alloc(&tx->arena, s->server->set.max_recipients *
				sizeof(*tx->rcpts));
	tx->rcpt_user0 = arena_alloc(&tx->arena, s->server->set.max_recipients *
				     sizeof(*tx->rcpt_user0));
	tx->rcpt_remote = arena_zalloc(&tx->arena, s->server->set.max_recipients *
				       sizeof(*tx->rcpt_remote));
	tx->rcpt_full = arena_zalloc(&tx->arena, s->server->set.max_recipients *
				     sizeof(*tx->rcpt_full));
	snprintf(tx->id, sizeof(tx->id), "%s.%u", session_sid(&s->core), ++s->n_tx);
	s->tx = tx;
	smtp_session_enter(s, SMTP_STATE_MAIL);
	/* SPF starts here and runs while RCPT and DATA go on. */
	smtp_checks_mail(s);
	/* A client that got this far speaks SMTP: it leaves the pool of
	 * unauthenticated connections, where the oldest is pushed out when
	 * strangers crowd in (a mail transfer may take long). */
	conn_set_authenticated(s->core.conn);
	smtp_reply(s, 250, "2.1.0", "Ok");
	return 1;
}

static int cmd_mail(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;
	struct smtp_status st;
	struct smtp_tx *tx;
	struct smtp_mail mail;
	struct strbuf sender = STRBUF_INIT;
	struct smtp_sender_req *q;
	uint64_t max = s->server->set.max_message_size;
	unsigned ext = smtp_session_ext(s) | smtp_local_path_opts(s);

	if (!smtp_cmd_parse_mail(arg, ext, &mail, &st)) {
		/* REQUIRETLS without TLS: say what is missing (RFC 3463
		 * 5.7.10, encryption needed) rather than "unknown". */
		if ((ext & SMTP_EXT_REQUIRETLS) == 0 &&
		    smtp_cmd_parse_mail(arg, ext | SMTP_EXT_REQUIRETLS, &mail,
					&st)) {
			smtp_cmd_mail_clear(&mail);
			st = SMTP_STATUS(530, "5.7.10",
					 "REQUIRETLS needs a TLS session");
		}
		smtp_reply_status(s, st);
		return -1;
	}
	if (mail.params.has_size && max > 0 && mail.params.size > max) {
		smtp_cmd_mail_clear(&mail);
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
		return -1;
	}
	if (!smtp_ratelimit_mail(s)) {
		smtp_cmd_mail_clear(&mail);
		return -1;
	}
	tx = xcalloc(1, sizeof(*tx));
	arena_init(&tx->arena, 0);
	smtp_local_qualify(s, &mail.path);
	tx->mail = mail;
	smtp_path_append_canonical(&sender, &mail.path);
	tx->sender = arena_strdup(&tx->arena, sender.p != NULL ? sender.p : "");
	strbuf_free(&sender);
	if (s->core.service->mode == SMTP_MODE_LOCAL &&
	    !smtp_local_sender_ok(s, tx->sender)) {
		smtp_tx_free(&tx);
		return -1;
	}
	if (s->core.service->mode != SMTP_MODE_SUBMISSION ||
	    s->server->set.sender_any ||
	    strcasecmp(tx->sender, s->core.user) == 0)
		return smtp_mail_finish(s, tx);
	q = xcalloc(1, sizeof(*q));
	q->tx = tx;
	q->names = smtp_local_names(s->server);
	q->user = xstrdup(s->core.user);
	return session_read(&s->core, smtp_sender_lookup, smtp_sender_done, q);
}

static int cmd_data(void *ctx, struct str arg UNUSED)
{
	struct smtp_session *s = ctx;

	/* RFC 3030 3 and 4: BINARYMIME and a started BDAT need BDAT. */
	if (s->tx->bdat || s->tx->mail.params.body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, 503, "5.5.1", "Use BDAT for this message");
		return -1;
	}
	smtp_session_start_data(s);
	return 1;
}

/* BDAT size [LAST] (RFC 3030). The chunk's octets follow the line at once,
 * so they are consumed even when the command is refused: otherwise they
 * would be read as commands. */
static int cmd_bdat(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;
	struct str size_s, rest;
	uint64_t size;
	bool last = false;
	struct smtp_status err = { 0, NULL, NULL };

	if (!str_split(arg, ' ', &size_s, &rest)) {
		size_s = arg;
		rest = STR_LIT("");
	}
	if (str_caseeq(rest, STR_LIT("LAST")))
		last = true;
	if ((rest.n > 0 && !last) || !str_to_u64(size_s, UINT64_MAX, &size)) {
		/* Without a size the stream cannot be followed. */
		smtp_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]; closing");
		conn_close(s->core.conn);
		return -1;
	}
	if (s->state == SMTP_STATE_INIT)
		err = SMTP_STATUS(503, "5.5.1", "Send HELO/EHLO first");
	else if (s->tx == NULL)
		err = SMTP_STATUS(503, "5.5.1", "Need MAIL first");
	else if (s->tx->n_rcpts == 0)
		err = SMTP_STATUS(554, "5.5.1", "No valid recipients");
	else
		s->tx->bdat = true;
	smtp_session_start_bdat(s, size, last, err);
	return 1;
}

static int cmd_rset(void *ctx, struct str arg UNUSED)
{
	struct smtp_session *s = ctx;

	smtp_session_end_tx(s);
	if (s->state != SMTP_STATE_INIT)
		smtp_session_enter(s, SMTP_STATE_READY);
	smtp_reply(s, 250, "2.0.0", "Ok");
	return 1;
}

static int cmd_noop(void *ctx, struct str arg UNUSED)
{
	smtp_reply(ctx, 250, "2.0.0", "Ok");
	return 1;
}

static int cmd_quit(void *ctx, struct str arg UNUSED)
{
	struct smtp_session *s = ctx;

	smtp_reply(s, 221, "2.0.0", "Bye");
	conn_close(s->core.conn);
	return 1;
}

static int cmd_help(void *ctx, struct str arg UNUSED)
{
	smtp_reply(ctx, 214, "2.0.0", "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)");
	return 1;
}

/* VRFY and EXPN (RFC 5321 3.5): 252 unless [smtp] vrfy_expn allows an
 * answer and the session is authenticated (AUTH or the local socket);
 * then VRFY says whether a local address exists and EXPN lists where it
 * leads. Never a list of users to strangers. The lookup is a store read,
 * on the read pool when there is one. */
struct smtp_vrfy_req {
	struct arena arena;		/* res's strings */
	const struct delivery_names *names;
	char *addr;			/* canonical */
	bool expn;
	struct delivery_resolution res;
};

static void smtp_vrfy_lookup(struct store_reader *reader, void *arg)
{
	struct smtp_vrfy_req *q = arg;

	if (reader == NULL) {
		q->res = (struct delivery_resolution){
			.status = DELIVERY_ERROR, .error = "no store reader" };
		return;
	}
	delivery_resolve_names(reader, q->names, &q->arena, q->addr, &q->res);
}

static int smtp_vrfy_done(struct session *core, void *arg, bool gone)
{
	struct smtp_session *s = (struct smtp_session *)core;
	struct smtp_vrfy_req *q = arg;
	const struct delivery_resolution *res = &q->res;
	const char *addr = q->addr;
	int ret = 1;

	if (gone)
		goto out;
	switch (res->status) {
	case DELIVERY_LOCAL:
	case DELIVERY_MIXED:
	case DELIVERY_REMOTE:
		if (res->status == DELIVERY_REMOTE && res->n_remotes == 1 &&
		    strcasecmp(res->remotes[0], addr) == 0) {
			/* Not one of our domains: nothing to verify. */
			smtp_reply(s, 252, "2.1.5", "<%s>: not a local address",
				   addr);
			break;
		}
		if (!q->expn) {
			smtp_reply(s, 250, "2.1.5", "<%s>", addr);
			break;
		}
		for (size_t i = 0; i < res->n_locals + res->n_remotes; i++) {
			const char *t = i < res->n_locals ? res->locals[i].address :
					res->remotes[i - res->n_locals];

			conn_printf(s->core.conn, "250%c2.1.5 <%s>\r\n",
				    i + 1 < res->n_locals + res->n_remotes ?
				    '-' : ' ', t);
		}
		break;
	case DELIVERY_UNKNOWN_USER:
		smtp_reply(s, 550, "5.1.1", "<%s>: User unknown", addr);
		ret = -1;
		break;
	case DELIVERY_LOOP:
	case DELIVERY_TOO_MANY:
		smtp_reply(s, 554, "5.4.6", "<%s>: Alias loop or too many targets",
			   addr);
		break;
	case DELIVERY_ERROR:
		log_error(session_sid(&s->core), "resolve %s: %s", addr, res->error);
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		break;
	}
out:
	arena_deinit(&q->arena);
	free(q->addr);
	free(q);
	return ret;
}

static int smtp_vrfy_expn(struct smtp_session *s, struct str arg, bool expn)
{
	struct smtp_path path;
	struct smtp_status st;
	struct strbuf addr = STRBUF_INIT;
	struct smtp_vrfy_req *q;
	size_t len;
	char *wrapped;
	bool parsed;

	if (!s->server->set.vrfy_authenticated ||
	    (s->core.user == NULL && s->local_user == NULL)) {
		smtp_reply(s, 252, "2.5.0", "Cannot verify the user, but will accept the message");
		return 1;
	}
	/* "<user@domain>" or a bare "user@domain". */
	wrapped = arg.n > 0 && arg.p[0] == '<' ? str_dup(arg) :
		  xasprintf("<%.*s>", (int)arg.n, arg.p);
	parsed = smtp_path_parse(str_c(wrapped), SMTP_PATH_OPT_UTF8, &path,
				 &len, &st) && wrapped[len] == '\0' &&
		 path.domain[0] != '\0';
	free(wrapped);
	if (!parsed) {
		smtp_path_clear(&path);
		smtp_reply(s, 501, "5.5.4", "Syntax: %s <address>",
			   expn ? "EXPN" : "VRFY");
		return -1;
	}
	smtp_path_append_canonical(&addr, &path);
	smtp_path_clear(&path);
	q = xcalloc(1, sizeof(*q));
	arena_init(&q->arena, 0);
	q->names = smtp_local_names(s->server);
	q->addr = xstrdup(addr.p);
	q->expn = expn;
	strbuf_free(&addr);
	return session_read(&s->core, smtp_vrfy_lookup, smtp_vrfy_done, q);
}

static int cmd_vrfy(void *ctx, struct str arg)
{
	return smtp_vrfy_expn(ctx, arg, false);
}

static int cmd_expn(void *ctx, struct str arg)
{
	return smtp_vrfy_expn(ctx, arg, true);
}

static int cmd_starttls(void *ctx, struct str arg UNUSED)
{
	struct smtp_session *s = ctx;

	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (conn_starttls(s->core.conn) < 0) {
		/* Input pipelined behind STARTTLS would be read as if it
		 * came over TLS (CVE-2011-0411 class): close. */
		log_info(session_sid(&s->core), "STARTTLS refused: input after the command or no TLS");
		conn_close(s->core.conn);
		return 1;
	}
	/* RFC 3207 4.2: forget everything learned before TLS (there was no
	 * AUTH: the table allows STARTTLS only before it). */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	smtp_session_enter(s, SMTP_STATE_INIT);
	return 1;
}

void smtp_auth_challenge(struct session *core, const char *b64)
{
	struct smtp_session *s = (struct smtp_session *)core;

	conn_printf(s->core.conn, "334 %s\r\n", b64);
	smtp_session_enter(s, SMTP_STATE_AUTH);
}

void smtp_auth_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech)
{
	struct smtp_session *s = (struct smtp_session *)core;

	smtp_session_enter(s, SMTP_STATE_READY);
	switch (end) {
	case SESSION_SASL_OK:
		if (session_login(&s->core, address, mech))
			smtp_reply(s, 235, "2.7.0", "Authentication successful");
		return;
	case SESSION_SASL_FAIL:
		smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		break;
	case SESSION_SASL_MALFORMED:
		smtp_reply(s, 501, "5.5.2", "Malformed authentication response");
		break;
	case SESSION_SASL_TEMPFAIL:
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	case SESSION_SASL_CANCELLED:
		/* the client's right (RFC 4954 4), not an error */
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	case SESSION_SASL_TOO_LONG:
		smtp_reply(s, 500, "5.5.2", "Line too long");
		break;
	}
	session_bad(&s->core);
}

/* AUTH mechanism [initial-response] (RFC 4954), once the gate let it
 * through. */
static int smtp_auth_start(struct smtp_session *s, struct str arg)
{
	struct str mech, initial;

	if (!str_split(arg, ' ', &mech, &initial)) {
		mech = arg;
		initial = STR_LIT("");
	}
	if (mech.n == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return -1;
	}
	if (!session_sasl_start(&s->core, mech, initial)) {
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication mechanism");
		return -1;
	}
	return 1;
}

/* The login gate opened: run the held AUTH, or refuse it. */
static void smtp_auth_gate_open(struct session *core, struct str arg, bool go)
{
	struct smtp_session *s = (struct smtp_session *)core;

	if (!go)
		smtp_reply(s, 454, "4.7.0", "Too many login attempts from "
			   "your address, try again later");
	if (!go || smtp_auth_start(s, arg) < 0)
		session_bad(&s->core);
}

static int cmd_auth(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;

	if (!session_login_gate(&s->core, arg, smtp_auth_gate_open))
		return 0;
	return smtp_auth_start(s, arg);
}

const struct cmd_def smtp_commands[] = {
	{ "HELO", cmd_helo, SMTP_CMD_NOT_LMTP, NULL },
	{ "EHLO", cmd_ehlo, SMTP_CMD_NOT_LMTP, NULL },
	{ "LHLO", cmd_ehlo, SMTP_CMD_LMTP_ONLY, NULL },
	{ "STARTTLS", cmd_starttls, SMTP_CMD_STARTTLS | SMTP_CMD_NO_TX | SMTP_CMD_NO_ARG,
	  "STARTTLS" },
	{ "AUTH", cmd_auth, SMTP_CMD_SASL | SMTP_CMD_NEEDS_HELO | SMTP_CMD_EHLO_ONLY |
	  SMTP_CMD_NO_TX, "AUTH" },
	{ "MAIL", cmd_mail, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NO_TX | SMTP_CMD_SUBMIT_AUTH,
	  NULL },
	{ "RCPT", smtp_rcpt_cmd, SMTP_CMD_NEEDS_MAIL, NULL },
	{ "DATA", cmd_data, SMTP_CMD_NEEDS_RCPT | SMTP_CMD_NO_ARG, NULL },
	{ "BDAT", cmd_bdat, 0, NULL },
	{ "RSET", cmd_rset, SMTP_CMD_NO_ARG, NULL },
	{ "NOOP", cmd_noop, 0, NULL },
	{ "QUIT", cmd_quit, SMTP_CMD_NO_ARG, NULL },
	{ "HELP", cmd_help, 0, NULL },
	{ "VRFY", cmd_vrfy, 0, NULL },
	{ "EXPN", cmd_expn, 0, NULL },
};
const size_t smtp_commands_count = ARRAY_SIZE(smtp_commands);

bool smtp_session_cmd_allowed(const struct smtp_session *s,
			      const struct cmd_def *def,
			      struct smtp_status *st_r)
{
	unsigned f = def->flags;
	bool lmtp = s->core.service->mode == SMTP_MODE_LMTP;

	if (((f & SMTP_CMD_NOT_LMTP) != 0 && lmtp) ||
	    ((f & SMTP_CMD_LMTP_ONLY) != 0 && !lmtp)) {
		*st_r = SMTP_STATUS(500, "5.5.1", "Command unrecognized");
		return false;
	}

	if ((f & SMTP_CMD_STARTTLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn))) {
		*st_r = SMTP_STATUS(502, "5.5.1", "TLS not available");
		return false;
	}
	/* RFC 3207 4.2 forgets what came before TLS, a login included: it
	 * is simpler to have TLS first. */
	if ((f & SMTP_CMD_STARTTLS) != 0 && s->core.user != NULL) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Already authenticated");
		return false;
	}
	if ((f & SMTP_CMD_SASL) != 0 &&
	    s->core.service->mode != SMTP_MODE_SUBMISSION) {
		*st_r = SMTP_STATUS(502, "5.5.1", "AUTH not available on this port");
		return false;
	}
	if ((f & SMTP_CMD_NEEDS_HELO) != 0 && s->state == SMTP_STATE_INIT) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Send HELO/EHLO first");
		return false;
	}
	if ((f & SMTP_CMD_EHLO_ONLY) != 0 && !s->esmtp) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Send EHLO first");
		return false;
	}
	if ((f & SMTP_CMD_SASL) != 0 && s->core.user != NULL) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Already authenticated");
		return false;
	}
	if ((f & SMTP_CMD_NO_TX) != 0 && s->tx != NULL) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Not inside a mail transaction");
		return false;
	}
	if ((f & SMTP_CMD_SUBMIT_AUTH) != 0 &&
	    s->core.service->mode == SMTP_MODE_SUBMISSION && s->core.user == NULL) {
		*st_r = SMTP_STATUS(530, "5.7.0", "Authentication required");
		return false;
	}
	if ((f & SMTP_CMD_NEEDS_MAIL) != 0 && s->tx == NULL) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Need MAIL first");
		return false;
	}
	if ((f & SMTP_CMD_NEEDS_RCPT) != 0 &&
	    (s->tx == NULL || s->tx->n_rcpts == 0)) {
		*st_r = SMTP_STATUS(503, "5.5.1", "Need RCPT first");
		return false;
	}
	return true;
}


void smtp_commands_run(struct smtp_session *s, struct str line)
{
	const struct cmd_def *def;
	struct smtp_cmd cmd;
	struct smtp_status st;

	if (!smtp_cmd_split(line, &cmd)) {
		smtp_reply(s, 500, "5.5.2", "Syntax error");
		session_bad(&s->core);
		return;
	}
	if (line.n > SMTP_CMD_LINE_MAX - 2 && cmd.verb != SMTP_VERB_AUTH) {
		smtp_reply(s, 500, "5.5.2", "Line too long");
		session_bad(&s->core);
		return;
	}
	def = cmd_table_lookup(smtp_commands, smtp_commands_count, cmd.name);
	if (def == NULL) {
		smtp_reply(s, 500, "5.5.1", "Command unrecognized");
		session_bad(&s->core);
		return;
	}
	if ((def->flags & SMTP_CMD_NO_ARG) != 0 && cmd.arg.n > 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: %s takes no argument",
			   def->name);
		session_bad(&s->core);
		return;
	}
	if (!smtp_session_cmd_allowed(s, def, &st)) {
		smtp_reply_status(s, st);
		session_bad(&s->core);
		return;
	}
	if (def->handler(s, cmd.arg) < 0)
		session_bad(&s->core);
}

