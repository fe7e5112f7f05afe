/* smtp_client.c: the outbound SMTP client state machine. Commands sent are
 * remembered in a queue of expected replies, so the pipelined and the
 * lock-step modes share one reply handler. */
#include "delivery/smtp_client.h"
#include "base/codec.h"
#include "base/strbuf.h"
#include "mail/dotstuff.h"
#include "mail/mime_recode.h"
#include "mail/smtp_reply.h"
#include "mail/smtp_xtext.h"

enum sc_state {
	SC_CONNECTING,
	SC_GREETING,
	SC_EHLO,
	SC_HELO,
	SC_STARTTLS,
	SC_AUTH,
	SC_READY,	/* between transactions */
	SC_RSET,
	SC_TX,		/* MAIL, RCPT, DATA/BDAT replies and the data */
	SC_QUIT,
	SC_DONE,
};

static const char *const sc_state_names[] = {
	[SC_CONNECTING] = "connect", [SC_GREETING] = "greeting",
	[SC_EHLO] = "EHLO", [SC_HELO] = "HELO", [SC_STARTTLS] = "STARTTLS",
	[SC_AUTH] = "AUTH", [SC_READY] = "ready", [SC_RSET] = "RSET",
	[SC_TX] = "transaction", [SC_QUIT] = "QUIT", [SC_DONE] = "done",
};

enum sc_expect { EXP_MAIL, EXP_RCPT, EXP_DATA, EXP_BDAT, EXP_DOT };

/* Output buffered beyond this waits for on_drained. */
#define SC_OUTPUT_HIGH (256 * 1024)
#define SC_CHUNK (64 * 1024)

struct smtp_client {
	struct conn *conn;
	struct net_thread *thread;
	struct smtp_reply_parser *parser;
	const struct smtp_client_callbacks *cb;
	void *arg;
	/* settings, copied */
	char *helo_name, *address, *server_name, *auth_user, *auth_password;
	unsigned port;
	struct net_tls *tls;
	enum smtp_client_tls tls_policy;
	smtp_client_tls_check_fn *tls_check;
	void *tls_check_arg;
	double scale;

	enum sc_state state;
	/* what the peer announced in its last EHLO reply */
	struct {
		bool pipelining, starttls, dsn, smtputf8, eightbitmime;
		bool chunking, binarymime, auth_plain, auth_login, requiretls;
		uint64_t size;	/* 0 = no limit given */
	} caps;
	bool tls_on;
	bool tls_verified;	/* the peer was authenticated (sc_tls_ok) */
	bool mx_insecure;	/* settings: REQUIRETLS cannot be met */
	bool tls_relaxed;	/* settings: RFC 8689 TLS-Required: No */
	unsigned auth_step;	/* AUTH LOGIN: 334 replies seen */
	bool tx_dirty;		/* a transaction was left open: RSET first */

	/* the current message */
	const struct smtp_client_msg *msg;
	struct smtp_client_rcpt_result *results;
	struct strbuf diags;	/* "\0"-separated diagnostics of results */
	size_t *diag_off;
	bool mail_ok;
	size_t next_rcpt;	/* lock-step mode: next RCPT to send */
	size_t n_accepted;
	/* the bytes sent for it: msg's, or recoded (sc_prepare_body) */
	struct str body;
	struct strbuf recoded;
	bool binarymime;	/* BODY=BINARYMIME over BDAT */
	bool use_bdat;
	bool sending;		/* data pump running */
	size_t data_off;
	struct dotstuff ds;
	enum sc_expect expect[SMTP_REPLY_MAX_LINES];
	size_t expect_rcpt[SMTP_REPLY_MAX_LINES];
	size_t exp_head, exp_n;

	/* the reason of a failed session */
	bool failed;
	struct smtp_client_error err;
	char err_diag[512];
};

static const struct conn_handler sc_handler;

static void sc_set_state(struct smtp_client *c, enum sc_state st)
{
	log_debug(conn_sid(c->conn), "smtp-out %s: %s -> %s", c->address,
		  sc_state_names[c->state], sc_state_names[st]);
	c->state = st;
}

static void sc_timeout(struct smtp_client *c, unsigned secs)
{
	double t = secs * c->scale;

	conn_set_idle_timeout(c->conn, t < 1 ? 1 : (unsigned)t);
}

/* The enhanced code of a reply, or one made from its class. */
static void sc_enhanced(const struct smtp_reply *r, char out[16])
{
	if (r->enhanced[0] != '\0')
		memcpy(out, r->enhanced, 16);
	else
		snprintf(out, 16, "%u.0.0", r->code / 100);
}

/* Fail the whole session (before or between transactions): QUIT politely,
 * then close; closed() reports err. */
static void PRINTF_FMT(5, 6) sc_fail(struct smtp_client *c, unsigned code,
				     const char *enhanced, bool permanent,
				     const char *fmt, ...)
{
	va_list ap;

	if (!c->failed) {
		c->failed = true;
		c->err.code = code;
		snprintf(c->err.enhanced, sizeof(c->err.enhanced), "%s",
			 enhanced);
		c->err.permanent = permanent;
		c->err.before_ready = c->state < SC_READY;
		va_start(ap, fmt);
		vsnprintf(c->err_diag, sizeof(c->err_diag), fmt, ap);
		va_end(ap);
		c->err.diagnostic = c->err_diag;
		log_info(conn_sid(c->conn), "smtp-out %s: %s", c->address,
			 c->err_diag);
	}
	if (c->state != SC_CONNECTING)
		conn_write_str(c->conn, "QUIT\r\n");
	sc_set_state(c, SC_QUIT);
	conn_close(c->conn);
}

static void sc_fail_reply(struct smtp_client *c, const struct smtp_reply *r,
			  const char *what)
{
	struct strbuf one = STRBUF_INIT;
	char enh[16];

	smtp_reply_oneline(r, &one);
	sc_enhanced(r, enh);
	sc_fail(c, r->code, enh, r->code >= 500, "%s: %s", what,
		strbuf_cstr(&one));
	strbuf_free(&one);
}

/* The failure about to be reported is the TLS policy's verdict. */
static void sc_tls_refused(struct smtp_client *c)
{
	if (!c->failed)
		c->err.tls_policy = true;
}

/* ---- one recipient's result ---- */

static void sc_result(struct smtp_client *c, size_t i, unsigned code,
		      const char *enhanced, bool remote, const char *diag)
{
	struct smtp_client_rcpt_result *res = &c->results[i];

	res->code = code;
	snprintf(res->enhanced, sizeof(res->enhanced), "%s", enhanced);
	res->remote = remote;
	c->diag_off[i] = c->diags.n;
	strbuf_append(&c->diags, diag, strlen(diag) + 1);
}

static void sc_result_reply(struct smtp_client *c, size_t i,
			    const struct smtp_reply *r)
{
	struct strbuf one = STRBUF_INIT;
	char enh[16];

	smtp_reply_oneline(r, &one);
	sc_enhanced(r, enh);
	sc_result(c, i, r->code, enh, true, strbuf_cstr(&one));
	strbuf_free(&one);
}

/* Report the message (recipients without a result get `code`) and forget
 * it. */
static void sc_msg_finish(struct smtp_client *c, unsigned code,
			  const char *enhanced, const char *diag)
{
	const struct smtp_client_msg *msg = c->msg;

	if (msg == NULL)
		return;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		if (c->results[i].code == 0)
			sc_result(c, i, code, enhanced, false, diag);
	}
	for (size_t i = 0; i < msg->n_rcpts; i++)
		c->results[i].diagnostic = c->diags.p + c->diag_off[i];
	c->msg = NULL;
	c->sending = false;
	c->exp_n = 0;
	c->body = STR_NULL;
	strbuf_free(&c->recoded);
	c->cb->msg_done(c->arg, c, msg, c->results);
	free(c->results);
	free(c->diag_off);
	c->results = NULL;
	c->diag_off = NULL;
	strbuf_reset(&c->diags);
}

/* ---- message properties ---- */

static bool has_8bit(const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 0x80)
			return true;
	}
	return false;
}

static size_t header_size(const struct smtp_client_msg *msg)
{
	const char *d = msg->data;

	for (size_t i = 0; i + 1 < msg->size; i++) {
		if (d[i] == '\n' && (d[i + 1] == '\n' ||
				     (d[i + 1] == '\r' && i + 2 < msg->size &&
				      d[i + 2] == '\n')))
			return i + 1;
	}
	return msg->size;
}

bool smtp_client_msg_needs_smtputf8(const struct smtp_client_msg *msg)
{
	if (has_8bit(msg->sender, strlen(msg->sender)))
		return true;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		if (has_8bit(msg->rcpts[i], strlen(msg->rcpts[i])))
			return true;
	}
	return has_8bit(msg->data, header_size(msg));
}

bool smtp_client_msg_is_8bit(const struct smtp_client_msg *msg)
{
	return has_8bit(msg->data, msg->size);
}

/* ---- commands ---- */

static void sc_expect(struct smtp_client *c, enum sc_expect e, size_t rcpt)
{
	size_t i = (c->exp_head + c->exp_n) % ARRAY_SIZE(c->expect);

	ASSERT(c->exp_n < ARRAY_SIZE(c->expect));
	c->expect[i] = e;
	c->expect_rcpt[i] = rcpt;
	c->exp_n++;
}

static void sc_send_ehlo(struct smtp_client *c)
{
	memset(&c->caps, 0, sizeof(c->caps));
	conn_printf(c->conn, "EHLO %s\r\n", c->helo_name);
	sc_set_state(c, SC_EHLO);
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_MAIL);
}

static void sc_send_mail(struct smtp_client *c)
{
	const struct smtp_client_msg *msg = c->msg;
	struct strbuf cmd = STRBUF_INIT;

	strbuf_printf(&cmd, "MAIL FROM:<%s>", msg->sender);
	if (c->caps.size > 0)
		strbuf_printf(&cmd, " SIZE=%zu", c->body.n);
	if (c->binarymime)
		strbuf_append_c(&cmd, " BODY=BINARYMIME");
	else if (c->caps.eightbitmime && has_8bit(c->body.p, c->body.n))
		strbuf_append_c(&cmd, " BODY=8BITMIME");
	if (c->caps.smtputf8 && smtp_client_msg_needs_smtputf8(msg))
		strbuf_append_c(&cmd, " SMTPUTF8");
	if (c->caps.dsn) {
		if (msg->ret != NULL && msg->ret[0] != '\0')
			strbuf_printf(&cmd, " RET=%s", msg->ret);
		if (msg->envid != NULL && msg->envid[0] != '\0') {
			strbuf_append_c(&cmd, " ENVID=");
			smtp_xtext_encode(&cmd, str_c(msg->envid));
		}
	}
	if (msg->requiretls)
		strbuf_append_c(&cmd, " REQUIRETLS");
	strbuf_append_c(&cmd, "\r\n");
	conn_write(c->conn, cmd.p, cmd.n);
	strbuf_free(&cmd);
	sc_expect(c, EXP_MAIL, 0);
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_MAIL);
}

static void sc_send_rcpt(struct smtp_client *c, size_t i)
{
	const struct smtp_client_msg *msg = c->msg;
	struct strbuf cmd = STRBUF_INIT;

	strbuf_printf(&cmd, "RCPT TO:<%s>", msg->rcpts[i]);
	if (c->caps.dsn) {
		const char *notify = msg->notify != NULL ? msg->notify[i] : "";
		const char *orcpt = msg->orcpts != NULL ? msg->orcpts[i] : "";
		struct str type, addr;

		if (notify[0] != '\0')
			strbuf_printf(&cmd, " NOTIFY=%s", notify);
		if (orcpt[0] != '\0' &&
		    str_split(str_c(orcpt), ';', &type, &addr)) {
			strbuf_printf(&cmd, " ORCPT=%.*s;", (int)type.n,
				      type.p);
			smtp_xtext_encode(&cmd, addr);
		}
	}
	strbuf_append_c(&cmd, "\r\n");
	conn_write(c->conn, cmd.p, cmd.n);
	strbuf_free(&cmd);
	sc_expect(c, EXP_RCPT, i);
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_RCPT);
}

/* Dot-stuffed DATA or raw BDAT bytes, as long as the output allows. */
static void sc_pump(struct smtp_client *c)
{
	struct str body = c->body;
	struct strbuf out = STRBUF_INIT;

	while (c->sending && conn_output_pending(c->conn) < SC_OUTPUT_HIGH) {
		size_t n = MIN(SC_CHUNK, body.n - c->data_off);
		const char *p = body.p + c->data_off;

		if (c->use_bdat) {
			conn_write(c->conn, p, n);
		} else {
			strbuf_reset(&out);
			dotstuff_feed(&c->ds, &out, p, n);
			if (c->data_off + n == body.n)
				dotstuff_finish(&c->ds, &out);
			conn_write(c->conn, out.p, out.n);
		}
		c->data_off += n;
		if (c->data_off == body.n) {
			c->sending = false;
			sc_timeout(c, SMTP_CLIENT_TIMEOUT_DATA_END);
		}
	}
	strbuf_free(&out);
}

static void sc_start_data(struct smtp_client *c)
{
	c->data_off = 0;
	c->sending = true;
	dotstuff_init(&c->ds);
	if (c->use_bdat) {
		conn_printf(c->conn, "BDAT %zu LAST\r\n", c->body.n);
		sc_expect(c, EXP_BDAT, 0);
	} else {
		sc_expect(c, EXP_DOT, 0);
	}
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_DATA_BLOCK);
	if (c->body.n == 0 && c->use_bdat) {
		c->sending = false;
		sc_timeout(c, SMTP_CLIENT_TIMEOUT_DATA_END);
	}
	sc_pump(c);
}

static void sc_ready(struct smtp_client *c);

/* What goes on the wire for msg. RFC 5321 4.5.3.1.6 holds a sender to
 * 1000-octet lines and only BINARYMIME (RFC 3030, over BDAT) lifts that,
 * so a message with a longer line goes unchanged to a peer offering
 * CHUNKING and BINARYMIME; to any other peer its parts with such lines
 * are re-encoded as quoted-printable (a relay may, RFC 6152 3), unless it
 * is signed: re-encoding would break the signature, and most servers take
 * long lines anyway, so it goes unchanged and that is logged. (Mail we
 * sign ourselves was re-encoded before signing, at submission.) */
static void sc_prepare_body(struct smtp_client *c,
			    const struct smtp_client_msg *msg)
{
	struct str m = str_make(msg->data, msg->size);
	size_t longest;
	unsigned n;
	bool left;

	c->body = m;
	c->binarymime = false;
	strbuf_free(&c->recoded);
	longest = mime_recode_longest_line(m);
	if (longest <= MIME_RECODE_LINE_MAX)
		return;
	if (c->caps.chunking && c->caps.binarymime) {
		c->binarymime = true;
		return;
	}
	if (mime_recode_is_signed(m)) {
		log_info(conn_sid(c->conn), "smtp-out %s: a line of %zu "
			 "octets and no BINARYMIME; the message is signed, "
			 "so it goes unchanged", c->address, longest);
		return;
	}
	n = mime_recode_long_lines(m, &c->recoded, &left);
	if (n > 0)
		c->body = strbuf_str(&c->recoded);
	else
		strbuf_free(&c->recoded);
	log_info(conn_sid(c->conn), "smtp-out %s: a line of %zu octets and no "
		 "BINARYMIME: %u part(s) re-encoded as quoted-printable%s",
		 c->address, longest, n, left ? "; a line over 998 octets "
		 "remains (a header or a part that cannot be re-encoded)" : "");
}

/* Begin a transaction for msg; false when it was settled locally. */
static bool sc_start_tx(struct smtp_client *c, const struct smtp_client_msg *msg)
{
	c->msg = msg;
	c->results = xcalloc(msg->n_rcpts, sizeof(*c->results));
	c->diag_off = xcalloc(msg->n_rcpts, sizeof(*c->diag_off));
	c->mail_ok = false;
	c->n_accepted = 0;
	c->next_rcpt = 0;
	c->exp_head = c->exp_n = 0;
	c->use_bdat = c->caps.chunking;
	sc_prepare_body(c, msg);
	if (msg->n_rcpts == 0 || msg->n_rcpts > ARRAY_SIZE(c->expect) - 2) {
		/* the runner never sends more per transaction */
		sc_msg_finish(c, 451, "4.5.3", "too many recipients for one "
			      "transaction");
		return false;
	}
	if (c->caps.size > 0 && c->body.n > c->caps.size) {
		char diag[160];

		snprintf(diag, sizeof(diag), "message size %zu exceeds the "
			 "limit of %s (%llu)", c->body.n, c->address,
			 (unsigned long long)c->caps.size);
		sc_msg_finish(c, 552, "5.3.4", diag);
		return false;
	}
	if (!c->caps.smtputf8 && smtp_client_msg_needs_smtputf8(msg)) {
		/* RFC 6531 3.2: no downgrade, the message bounces */
		sc_msg_finish(c, 550, "5.6.7", "the message needs SMTPUTF8 "
			      "and the remote server does not support it");
		return false;
	}
	if (msg->requiretls && (c->mx_insecure || !c->tls_verified ||
				!c->caps.requiretls)) {
		char diag[200];

		/* RFC 8689 5: never a downgrade, the message bounces */
		snprintf(diag, sizeof(diag), "REQUIRETLS: %s", c->mx_insecure
			 ? "the MX lookup was not DNSSEC-validated"
			 : !c->tls_on
			 ? "the connection is not TLS"
			 : !c->tls_verified
			 ? "the TLS peer is not authenticated"
			 : "the remote server does not support REQUIRETLS");
		sc_msg_finish(c, 550, "5.7.30", diag);
		return false;
	}
	sc_set_state(c, SC_TX);
	c->tx_dirty = true;
	sc_send_mail(c);
	if (c->caps.pipelining) {
		for (size_t i = 0; i < msg->n_rcpts; i++)
			sc_send_rcpt(c, i);
		c->next_rcpt = msg->n_rcpts;
		if (!c->use_bdat) {
			conn_write_str(c->conn, "DATA\r\n");
			sc_expect(c, EXP_DATA, 0);
		}
	}
	return true;
}

/* Between transactions: the next message, or QUIT. */
static void sc_ready(struct smtp_client *c)
{
	const struct smtp_client_msg *msg;

	sc_set_state(c, SC_READY);
	for (;;) {
		msg = c->cb->next(c->arg, c);
		if (msg == NULL) {
			conn_write_str(c->conn, "QUIT\r\n");
			sc_set_state(c, SC_QUIT);
			sc_timeout(c, SMTP_CLIENT_TIMEOUT_MAIL);
			return;
		}
		if (c->tx_dirty) {
			/* the last transaction was left open */
			c->msg = msg;
			conn_write_str(c->conn, "RSET\r\n");
			sc_set_state(c, SC_RSET);
			sc_timeout(c, SMTP_CLIENT_TIMEOUT_MAIL);
			return;
		}
		if (sc_start_tx(c, msg))
			return;
	}
}

/* After the session setup: AUTH when configured, then ready. */
static void sc_after_ehlo(struct smtp_client *c)
{
	if (c->tls_policy >= SMTP_CLIENT_TLS_REQUIRED && !c->tls_on) {
		if (!c->tls_relaxed) {
			sc_tls_refused(c);
			sc_fail(c, 0, "4.7.4", false, "TLS is required for %s "
				"but the server does not offer STARTTLS",
				c->address);
			return;
		}
		log_info(conn_sid(c->conn), "smtp-out %s: TLS-Required: No "
			 "relaxed the TLS policy: no STARTTLS, sending "
			 "without TLS", c->address);
	}
	if (c->auth_user == NULL) {
		sc_ready(c);
		return;
	}
	if (!c->tls_on) {
		sc_fail(c, 0, "4.7.4", false, "not sending the password to "
			"%s without TLS", c->address);
		return;
	}
	struct strbuf b = STRBUF_INIT;

	sc_set_state(c, SC_AUTH);
	c->auth_step = 0;
	if (c->caps.auth_plain) {
		struct strbuf raw = STRBUF_INIT;

		strbuf_putc(&raw, '\0');
		strbuf_append_c(&raw, c->auth_user);
		strbuf_putc(&raw, '\0');
		strbuf_append_c(&raw, c->auth_password);
		strbuf_append_c(&b, "AUTH PLAIN ");
		base64_encode(&b, raw.p, raw.n);
		strbuf_append_c(&b, "\r\n");
		strbuf_free_secret(&raw);
	} else if (c->caps.auth_login) {
		strbuf_append_c(&b, "AUTH LOGIN\r\n");
	} else {
		sc_fail(c, 0, "4.7.0", false, "%s offers neither AUTH PLAIN "
			"nor LOGIN", c->address);
		return;
	}
	conn_write(c->conn, b.p, b.n);
	strbuf_free_secret(&b);
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_MAIL);
}

static void sc_parse_ehlo(struct smtp_client *c, const struct smtp_reply *r)
{
	size_t pos = 0;
	struct str line, kw, rest;
	bool first = true;

	while (smtp_reply_next_line(r, &pos, &line)) {
		if (first) {	/* the greeting line */
			first = false;
			continue;
		}
		str_split(str_trim(line), ' ', &kw, &rest);
		if (str_caseeq(kw, STR_LIT("PIPELINING")))
			c->caps.pipelining = true;
		else if (str_caseeq(kw, STR_LIT("STARTTLS")))
			c->caps.starttls = true;
		else if (str_caseeq(kw, STR_LIT("DSN")))
			c->caps.dsn = true;
		else if (str_caseeq(kw, STR_LIT("SMTPUTF8")))
			c->caps.smtputf8 = true;
		else if (str_caseeq(kw, STR_LIT("8BITMIME")))
			c->caps.eightbitmime = true;
		else if (str_caseeq(kw, STR_LIT("CHUNKING")))
			c->caps.chunking = true;
		else if (str_caseeq(kw, STR_LIT("BINARYMIME")))
			c->caps.binarymime = true;
		else if (str_caseeq(kw, STR_LIT("REQUIRETLS")))
			c->caps.requiretls = true;
		else if (str_caseeq(kw, STR_LIT("SIZE"))) {
			uint64_t v;

			if (str_to_u64(str_trim(rest), UINT64_MAX, &v))
				c->caps.size = v;
		} else if (str_caseeq(kw, STR_LIT("AUTH"))) {
			struct str mech;

			while (rest.n > 0) {
				str_split(rest, ' ', &mech, &rest);
				if (str_caseeq(mech, STR_LIT("PLAIN")))
					c->caps.auth_plain = true;
				else if (str_caseeq(mech, STR_LIT("LOGIN")))
					c->caps.auth_login = true;
			}
		}
	}
}

/* Checks after the TLS handshake, before anything else is sent. */
static bool sc_tls_ok(struct smtp_client *c)
{
	const char *error, *what = NULL;

	if (c->tls_policy == SMTP_CLIENT_TLS_VERIFY &&
	    !conn_tls_peer_verified(c->conn, &error))
		what = "does not verify";
	else if (c->tls_check != NULL &&
		 c->tls_check(c->tls_check_arg, c->conn, &error) < 0)
		what = "refused";
	if (what != NULL && !c->tls_relaxed) {
		sc_tls_refused(c);
		sc_fail(c, 0, "4.7.5", false, "certificate of %s %s: %s",
			c->address, what, error);
		return false;
	}
	if (what != NULL) {
		log_info(conn_sid(c->conn), "smtp-out %s: TLS-Required: No "
			 "relaxed the TLS policy: certificate %s (%s), sending "
			 "over unauthenticated TLS", c->address, what, error);
	}
	c->tls_verified = what == NULL &&
			  (c->tls_policy == SMTP_CLIENT_TLS_VERIFY ||
			   c->tls_check != NULL);
	return true;
}

/* ---- replies ---- */

static void sc_tx_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	const struct smtp_client_msg *msg = c->msg;
	enum sc_expect e;
	size_t idx;

	if (c->exp_n == 0) {
		sc_fail(c, 0, "4.5.0", false, "unexpected reply from %s: %u",
			c->address, r->code);
		return;
	}
	e = c->expect[c->exp_head];
	idx = c->expect_rcpt[c->exp_head];
	c->exp_head = (c->exp_head + 1) % ARRAY_SIZE(c->expect);
	c->exp_n--;
	switch (e) {
	case EXP_MAIL:
		c->mail_ok = r->code / 100 == 2;
		if (!c->mail_ok) {
			for (size_t i = 0; i < msg->n_rcpts; i++)
				sc_result_reply(c, i, r);
		}
		if (!c->caps.pipelining) {
			if (!c->mail_ok)
				break;
			sc_send_rcpt(c, c->next_rcpt++);
			return;
		}
		break;
	case EXP_RCPT:
		if (c->mail_ok) {
			if (r->code / 100 == 2)
				c->n_accepted++;
			else
				sc_result_reply(c, idx, r);
		}
		if (!c->caps.pipelining && c->next_rcpt < msg->n_rcpts) {
			sc_send_rcpt(c, c->next_rcpt++);
			return;
		}
		if (idx + 1 == msg->n_rcpts && c->n_accepted > 0) {
			if (c->use_bdat) {
				sc_start_data(c);
				return;
			}
			if (!c->caps.pipelining) {
				conn_write_str(c->conn, "DATA\r\n");
				sc_expect(c, EXP_DATA, 0);
				sc_timeout(c, SMTP_CLIENT_TIMEOUT_DATA_INIT);
				return;
			}
		}
		if (c->caps.pipelining)
			sc_timeout(c, SMTP_CLIENT_TIMEOUT_DATA_INIT);
		break;
	case EXP_DATA:
		if (r->code == 354) {
			if (c->n_accepted == 0) {
				/* pipelined DATA the server should have
				 * refused: end it empty */
				conn_write_str(c->conn, ".\r\n");
				sc_expect(c, EXP_DOT, 0);
				return;
			}
			sc_start_data(c);
			return;
		}
		for (size_t i = 0; i < msg->n_rcpts; i++) {
			if (c->results[i].code == 0)
				sc_result_reply(c, i, r);
		}
		break;
	case EXP_BDAT:
	case EXP_DOT:
		if (c->n_accepted > 0) {
			for (size_t i = 0; i < msg->n_rcpts; i++) {
				if (c->results[i].code == 0)
					sc_result_reply(c, i, r);
			}
			if (r->code / 100 == 2)
				c->tx_dirty = false;
		}
		break;
	}
	if (c->sending && (e == EXP_DOT || e == EXP_BDAT)) {
		/* the final reply came before the end of our data: the
		 * stream is out of step, end the session */
		c->sending = false;
		sc_msg_finish(c, 451, "4.5.0", "reply before the end of data");
		sc_fail(c, 0, "4.5.0", false, "%s replied before the end of "
			"the data", c->address);
		return;
	}
	if (c->exp_n > 0 || c->sending)
		return;
	/* every reply of the transaction is in */
	sc_msg_finish(c, 451, "4.3.0", "no reply for this recipient");
	sc_ready(c);
}

static void sc_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	unsigned cls = r->code / 100;

	switch (c->state) {
	case SC_GREETING:
		if (cls != 2) {
			sc_fail_reply(c, r, "greeting");
			return;
		}
		sc_send_ehlo(c);
		return;
	case SC_EHLO:
		if (c->tls_on && !sc_tls_ok(c))
			return;
		if (cls == 2) {
			sc_parse_ehlo(c, r);
		} else if (cls == 5 && !c->tls_on) {
			/* an old server: HELO, no extensions */
			conn_printf(c->conn, "HELO %s\r\n", c->helo_name);
			sc_set_state(c, SC_HELO);
			return;
		} else {
			sc_fail_reply(c, r, "EHLO");
			return;
		}
		if (!c->tls_on && c->caps.starttls && c->tls != NULL &&
		    c->tls_policy != SMTP_CLIENT_TLS_NONE) {
			conn_write_str(c->conn, "STARTTLS\r\n");
			sc_set_state(c, SC_STARTTLS);
			return;
		}
		sc_after_ehlo(c);
		return;
	case SC_HELO:
		if (cls != 2) {
			sc_fail_reply(c, r, "HELO");
			return;
		}
		sc_after_ehlo(c);
		return;
	case SC_STARTTLS:
		if (r->code != 220) {
			if (c->tls_policy >= SMTP_CLIENT_TLS_REQUIRED &&
			    !c->tls_relaxed) {
				sc_tls_refused(c);
				sc_fail_reply(c, r, "STARTTLS (required)");
				return;
			}
			sc_after_ehlo(c);
			return;
		}
		if (conn_starttls_client(c->conn, c->tls, c->server_name) < 0) {
			sc_tls_refused(c);
			sc_fail(c, 0, "4.7.0", false, "STARTTLS with %s failed",
				c->address);
			return;
		}
		c->tls_on = true;
		/* sent once the handshake is done; forget the old caps */
		sc_send_ehlo(c);
		return;
	case SC_AUTH:
		if (cls == 2) {
			sc_ready(c);
			return;
		}
		if (r->code == 334 && !c->caps.auth_plain &&
		    c->auth_step < 2) {
			struct strbuf b = STRBUF_INIT;
			const char *v = c->auth_step == 0 ? c->auth_user
							 : c->auth_password;

			base64_encode(&b, v, strlen(v));
			strbuf_append_c(&b, "\r\n");
			conn_write(c->conn, b.p, b.n);
			strbuf_free_secret(&b);
			c->auth_step++;
			return;
		}
		/* a wrong relay password defers: the admin can fix it */
		{
			struct strbuf one = STRBUF_INIT;

			smtp_reply_oneline(r, &one);
			sc_fail(c, r->code, "4.7.8", false,
				"authentication to %s failed: %s", c->address,
				strbuf_cstr(&one));
			strbuf_free(&one);
		}
		return;
	case SC_RSET:
		if (cls != 2) {
			const struct smtp_client_msg *msg = c->msg;

			/* the message is not started: retry it later */
			c->results = xcalloc(msg->n_rcpts,
					     sizeof(*c->results));
			c->diag_off = xcalloc(msg->n_rcpts,
					      sizeof(*c->diag_off));
			sc_msg_finish(c, 451, "4.4.0", "RSET refused");
			sc_fail_reply(c, r, "RSET");
			return;
		}
		c->tx_dirty = false;
		{
			const struct smtp_client_msg *msg = c->msg;

			c->msg = NULL;
			if (!sc_start_tx(c, msg))
				sc_ready(c);
		}
		return;
	case SC_TX:
		sc_tx_reply(c, r);
		return;
	case SC_QUIT:
		sc_set_state(c, SC_DONE);
		conn_close(c->conn);
		return;
	case SC_READY:
	case SC_CONNECTING:
	case SC_DONE:
		/* a reply nobody asked for */
		sc_fail(c, 0, "4.5.0", false, "unexpected reply %u from %s",
			r->code, c->address);
		return;
	}
}

/* ---- conn callbacks ---- */

static void sc_on_open(struct conn *conn)
{
	struct smtp_client *c = conn_handler_ctx(conn);

	c->conn = conn;
	sc_set_state(c, SC_GREETING);
	sc_timeout(c, SMTP_CLIENT_TIMEOUT_GREETING);
}

static void sc_on_input(struct conn *conn)
{
	struct smtp_client *c = conn_handler_ctx(conn);
	struct smtp_reply reply;
	struct str in;
	const char *error;
	size_t used;

	while (!conn_is_closing(conn) && conn_input_peek(conn, &in) > 0) {
		enum smtp_reply_result res = smtp_reply_parser_feed(
			c->parser, in.p, in.n, &used, &reply, &error);

		if (res == SMTP_REPLY_ERROR) {
			conn_input_drain(conn, conn_input_pending(conn));
			sc_fail(c, 0, "4.5.0", false, "bad reply from %s: %s",
				c->address, error);
			return;
		}
		if (res == SMTP_REPLY_MORE) {
			conn_input_drain(conn, used);
			continue;
		}
		/* the reply text lives in the parser, not in the input */
		conn_input_drain(conn, used);
		if (c->state == SC_STARTTLS && reply.code == 220 &&
		    conn_input_pending(conn) > 0) {
			sc_fail(c, 0, "4.7.0", false, "%s sent data behind "
				"its STARTTLS reply", c->address);
			return;
		}
		sc_reply(c, &reply);
		if (c->state == SC_EHLO && c->tls_on)
			return;	/* the TLS bufferevent takes over */
	}
}

static void sc_on_drained(struct conn *conn)
{
	struct smtp_client *c = conn_handler_ctx(conn);

	if (c->sending)
		sc_pump(c);
}

static void sc_on_shutdown(struct conn *conn)
{
	struct smtp_client *c = conn_handler_ctx(conn);

	/* the server stops: a transaction in flight is retried later */
	if (c->state == SC_TX)
		conn_abort(conn, "shutdown");
	else
		sc_fail(c, 0, "4.3.2", false, "shutting down");
}

static void sc_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	*cp = NULL;
	smtp_reply_parser_free(&c->parser);
	free(c->helo_name);
	free(c->address);
	free(c->server_name);
	free(c->auth_user);
	secret_free(&c->auth_password);
	if (c->tls != NULL)
		net_tls_unref(&c->tls);
	strbuf_free(&c->diags);
	strbuf_free(&c->recoded);
	free(c);
}

static void sc_on_close(struct conn *conn, const char *reason)
{
	struct smtp_client *c = conn_handler_ctx(conn);
	bool clean = c->state == SC_DONE ||
		     (c->state == SC_QUIT && !c->failed);

	if (!clean && !c->failed) {
		char diag[400];
		const char *phase = sc_state_names[c->state];

		if (strcmp(reason, "idle timeout") == 0)
			snprintf(diag, sizeof(diag), "timeout in %s with %s",
				 phase, c->address);
		else if (c->state == SC_CONNECTING)
			snprintf(diag, sizeof(diag), "%s", reason);
		else
			snprintf(diag, sizeof(diag), "lost connection with "
				 "%s in %s: %s", c->address, phase, reason);
		c->failed = true;
		c->err.code = 0;
		memcpy(c->err.enhanced, "4.4.2", 6);
		if (c->state == SC_CONNECTING)
			memcpy(c->err.enhanced, "4.4.1", 6);
		c->err.before_ready = c->state < SC_READY;
		/* closed while waiting for the EHLO reply behind STARTTLS:
		 * the handshake failed */
		c->err.tls_failed = c->state == SC_EHLO && c->tls_on;
		c->err.tls_policy = c->err.tls_failed;
		snprintf(c->err_diag, sizeof(c->err_diag), "%s", diag);
		c->err.diagnostic = c->err_diag;
		log_info(conn_sid(conn), "smtp-out %s: %s", c->address, diag);
	}
	if (c->msg != NULL) {
		if (c->results == NULL) {	/* waiting for RSET */
			c->results = xcalloc(c->msg->n_rcpts,
					     sizeof(*c->results));
			c->diag_off = xcalloc(c->msg->n_rcpts,
					      sizeof(*c->diag_off));
		}
		sc_msg_finish(c, 451, c->err.enhanced[0] != '\0'
					      ? c->err.enhanced : "4.4.2",
			      c->failed ? c->err_diag
					: "connection closed");
	}
	c->cb->closed(c->arg, c, clean ? NULL : &c->err);
	sc_free(&c);
}

static const struct conn_handler sc_handler = {
	.on_open = sc_on_open,
	.on_input = sc_on_input,
	.on_drained = sc_on_drained,
	.on_shutdown = sc_on_shutdown,
	.on_close = sc_on_close,
};

/* conn_connect() refused the address: report from the loop. */
static void sc_connect_failed_task(void *arg)
{
	struct smtp_client *c = arg;

	c->cb->closed(c->arg, c, &c->err);
	sc_free(&c);
}

struct smtp_client *smtp_client_new(struct net_thread *thread,
				    const struct smtp_client_settings *set,
				    const struct smtp_client_callbacks *cb,
				    void *arg)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	const char *error;

	c->thread = thread;
	c->parser = smtp_reply_parser_new();
	c->cb = cb;
	c->arg = arg;
	c->helo_name = xstrdup(set->helo_name);
	c->address = xstrdup(set->address);
	c->server_name = xstrdup(set->server_name != NULL ? set->server_name
							  : set->address);
	c->port = set->port;
	c->tls = set->tls;
	if (c->tls != NULL)
		net_tls_ref(c->tls);
	c->tls_policy = set->tls_policy;
	c->tls_check = set->tls_check;
	c->tls_check_arg = set->tls_check_arg;
	c->mx_insecure = set->mx_insecure;
	c->tls_relaxed = set->tls_relaxed;
	if (set->auth_user != NULL && set->auth_password != NULL) {
		c->auth_user = xstrdup(set->auth_user);
		c->auth_password = xstrdup(set->auth_password);
	}
	c->scale = set->timeout_scale > 0 ? set->timeout_scale : 1;
	c->diags = STRBUF_INIT;
	c->state = SC_CONNECTING;

	struct conn_connect_spec spec = {
		.address = set->address,
		.port = set->port,
		.connect_timeout = set->connect_timeout,
		.name = "smtp-out",
		.handler = &sc_handler,
		.handler_ctx = c,
	};

	c->conn = conn_connect(thread, &spec, &error);
	if (c->conn == NULL) {
		c->failed = true;
		memcpy(c->err.enhanced, "4.4.1", 6);
		c->err.before_ready = true;
		snprintf(c->err_diag, sizeof(c->err_diag), "%s: %s",
			 set->address, error);
		c->err.diagnostic = c->err_diag;
		task_queue_post(net_thread_task_queue(thread),
				sc_connect_failed_task, c);
	}
	return c;
}

void smtp_client_abort(struct smtp_client *c)
{
	if (c->conn == NULL)
		return;
	if (!c->failed) {
		c->failed = true;
		memcpy(c->err.enhanced, "4.3.2", 6);
		c->err.before_ready = c->state < SC_READY;
		snprintf(c->err_diag, sizeof(c->err_diag), "aborted");
		c->err.diagnostic = c->err_diag;
	}
	conn_abort(c->conn, "aborted");
}

bool smtp_client_peer_has_dsn(const struct smtp_client *c)
{
	return c->caps.dsn;
}

bool smtp_client_is_tls(const struct smtp_client *c)
{
	return c->tls_on;
}

bool smtp_client_is_tls_verified(const struct smtp_client *c)
{
	return c->tls_verified;
}

const char *smtp_client_peer_address(const struct smtp_client *c)
{
	return c->address;
}
