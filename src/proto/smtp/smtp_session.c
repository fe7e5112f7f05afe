/* smtp_session.c: the SMTP server session: the state machine, the input
 * loop (command lines, SASL responses, the DATA stream), the one dispatcher
 * that checks the command table's flags, and the end of a transaction
 * (Received:, one store write, 250 only once durable). */
#include "base/log.h"
#include "net/net.h"
#include "proto/smtp/smtp_int.h"
#include "proto/smtp/smtp_received.h"

#include <event2/event.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *const state_names[] = {
	[SMTP_STATE_GREETING] = "greeting",
	[SMTP_STATE_INIT] = "init",
	[SMTP_STATE_READY] = "ready",
	[SMTP_STATE_MAIL] = "mail",
	[SMTP_STATE_RCPT] = "rcpt",
	[SMTP_STATE_DATA] = "data",
	[SMTP_STATE_BDAT] = "bdat",
	[SMTP_STATE_DELIVERING] = "delivering",
	[SMTP_STATE_AUTH] = "auth",
	[SMTP_STATE_AUTH_WAIT] = "auth-wait",
};

/* ---- server ---- */

struct smtp_server *smtp_server_new(const struct smtp_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl)
{
	struct smtp_server *server = xcalloc(1, sizeof(*server));

	server->set = *set;
	server->set.hostname = xstrdup(set->hostname);
	server->set.trusted_networks = NULL;
	server->postmaster_default = set->postmaster == NULL;
	server->set.postmaster = set->postmaster != NULL ?
		xstrdup(set->postmaster) :
		xasprintf("postmaster@%s", set->hostname);
	if (set->trusted_networks != NULL) {
		struct str bad;
		int n = cidr_list_parse(str_c(set->trusted_networks),
					&server->trusted, &bad);

		/* The config checked the list. */
		if (n < 0)
			PANIC("trusted_networks: bad network %.*s", (int)bad.n,
			      bad.p);
		server->n_trusted = (size_t)n;
	}
	if (server->set.command_timeout_s == 0)
		server->set.command_timeout_s = SMTP_DEFAULT_TIMEOUT_S;
	if (server->set.data_timeout_s == 0)
		server->set.data_timeout_s = SMTP_DEFAULT_TIMEOUT_S;
	if (server->set.max_recipients == 0)
		server->set.max_recipients = SMTP_DEFAULT_MAX_RECIPIENTS;
	if (server->set.max_bad_commands == 0)
		server->set.max_bad_commands = SMTP_DEFAULT_MAX_BAD_COMMANDS;
	server->storep = storep;
	server->sasl = sasl;
	server->throttle = auth_throttle_new(
		set->auth_fail_delay_ms != 0 ? set->auth_fail_delay_ms : 1000,
		MAX(set->auth_fail_delay_max_ms != 0 ? set->auth_fail_delay_max_ms :
		    30000, set->auth_fail_delay_ms));
	for (unsigned m = 0; m < SMTP_MODE_COUNT; m++) {
		for (unsigned t = 0; t < 2; t++) {
			server->services[m][t].server = server;
			server->services[m][t].mode = (enum smtp_mode)m;
			server->services[m][t].starttls = t == 1;
		}
	}
	reader_set_init(&server->readers, storep);
	return server;
}

void smtp_server_free(struct smtp_server **serverp)
{
	struct smtp_server *server = *serverp;

	if (server == NULL)
		return;
	reader_set_deinit(&server->readers);
	auth_throttle_free(&server->throttle);
	free((char *)server->set.hostname);
	free((char *)server->set.postmaster);
	free(server->trusted);
	free(server);
	*serverp = NULL;
}

void *smtp_server_listener_ctx(struct smtp_server *server, enum smtp_mode mode,
			       bool starttls)
{
	ASSERT(mode < SMTP_MODE_COUNT);
	return &server->services[mode][starttls ? 1 : 0];
}

struct store_reader *smtp_session_reader(struct smtp_session *s)
{
	return reader_set_get(&s->server->readers, s->core.conn);
}

/* ---- timers ---- */

static void smtp_session_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				  void *arg)
{
	struct smtp_session *s = arg;
	void (*fn)(struct smtp_session *s) = s->timer_fn;

	event_free(s->timer);
	s->timer = NULL;
	s->timer_fn = NULL;
	fn(s);
}

void smtp_session_timer(struct smtp_session *s, unsigned ms,
			void (*fn)(struct smtp_session *s))
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ASSERT(s->timer == NULL);
	s->timer = evtimer_new(net_thread_base(conn_thread(s->core.conn)),
			       smtp_session_timer_cb, s);
	if (s->timer == NULL)
		PANIC("evtimer_new failed");
	s->timer_fn = fn;
	evtimer_add(s->timer, &tv);
}

/* ---- replies and state ---- */

void smtp_reply(struct smtp_session *s, unsigned code, const char *enhanced,
		const char *fmt, ...)
{
	char text[SMTP_REPLY_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text) - 20, fmt, ap);
	va_end(ap);
	conn_printf(s->core.conn, "%u %s %s\r\n", code, enhanced, text);
}

void smtp_reply_status(struct smtp_session *s, struct smtp_status st)
{
	smtp_reply(s, st.code, st.enhanced, "%s", st.text);
}

/* RFC 5321 4.5.3.2: one idle bound while waiting for a command, another
 * inside the message data. */
static void smtp_session_set_timeout(struct smtp_session *s)
{
	unsigned t = s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT ?
		     s->server->set.data_timeout_s :
		     s->server->set.command_timeout_s;

	if (t != s->timeout_s) {
		s->timeout_s = t;
		conn_set_idle_timeout(s->core.conn, t);
	}
}

void smtp_session_enter(struct smtp_session *s, enum smtp_state state)
{
	log_debug(conn_sid(s->core.conn), "smtp state %s -> %s",
		  state_names[s->state], state_names[state]);
	s->state = state;
	smtp_session_set_timeout(s);
}

void smtp_tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;

	if (tx == NULL)
		return;
	smtp_cmd_mail_clear(&tx->mail);
	smtp_data_free(&tx->reader);
	strbuf_free(&tx->msg);
	free(tx->user_ids);
	free(tx->user_quotas);
	free(tx->remotes);
	arena_deinit(&tx->arena);
	free(tx);
	*txp = NULL;
}

bool smtp_session_plaintext_ok(const struct smtp_session *s)
{
	if (conn_is_tls(s->core.conn))
		return true;
	switch (s->server->set.plaintext) {
	case SMTP_PLAINTEXT_ALWAYS:
		return true;
	case SMTP_PLAINTEXT_LOOPBACK:
		return conn_is_loopback(s->core.conn);
	case SMTP_PLAINTEXT_NEVER:
		break;
	}
	return false;
}

bool smtp_session_may_relay(const struct smtp_session *s)
{
	return s->core.user != NULL || s->local_user != NULL || s->trusted;
}

unsigned smtp_session_ext(const struct smtp_session *s)
{
	unsigned ext = SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN |
		       SMTP_EXT_BINARYMIME;

	if (!s->esmtp)
		return 0;
	if (s->server->set.max_message_size > 0)
		ext |= SMTP_EXT_SIZE;
	if (s->core.service->mode == SMTP_MODE_SUBMISSION)
		ext |= SMTP_EXT_AUTH;
	/* RFC 8689 2: offered only once the session is under TLS. */
	if (conn_is_tls(s->core.conn))
		ext |= SMTP_EXT_REQUIRETLS;
	return ext;
}

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

void smtp_session_bad(struct smtp_session *s)
{
	if (++s->bad_commands < s->server->set.max_bad_commands)
		return;
	smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
		   s->server->set.hostname);
	conn_close(s->core.conn);
}

static void smtp_session_command(struct smtp_session *s, struct str line)
{
	const struct cmd_def *def;
	struct smtp_cmd cmd;
	struct smtp_status st;

	if (!smtp_cmd_split(line, &cmd)) {
		smtp_reply(s, 500, "5.5.2", "Syntax error");
		smtp_session_bad(s);
		return;
	}
	if (line.n > SMTP_CMD_LINE_MAX - 2 && cmd.verb != SMTP_VERB_AUTH) {
		smtp_reply(s, 500, "5.5.2", "Line too long");
		smtp_session_bad(s);
		return;
	}
	def = cmd_table_lookup(smtp_commands, smtp_commands_count, cmd.name);
	if (def == NULL) {
		smtp_reply(s, 500, "5.5.1", "Command unrecognized");
		smtp_session_bad(s);
		return;
	}
	if ((def->flags & SMTP_CMD_NO_ARG) != 0 && cmd.arg.n > 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: %s takes no argument",
			   def->name);
		smtp_session_bad(s);
		return;
	}
	if (!smtp_session_cmd_allowed(s, def, &st)) {
		smtp_reply_status(s, st);
		smtp_session_bad(s);
		return;
	}
	if (def->handler(s, cmd.arg) < 0)
		smtp_session_bad(s);
}

/* ---- end of a transaction ---- */

static void smtp_session_log_tx(struct smtp_session *s, const char *result)
{
	struct smtp_tx *tx = s->tx;
	struct strbuf rcpts = STRBUF_INIT;

	for (size_t i = 0; i < tx->n_rcpts; i++)
		strbuf_printf(&rcpts, "%s<%s>", i > 0 ? "," : "", tx->rcpts[i]);
	log_info(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
		 "smtp tx id=%s client=%s helo=%s user=%s from=<%s> to=%s size=%llu result=%s",
		 tx->id, s->core.conn != NULL ? conn_peer_ip(s->core.conn) : "gone",
		 s->helo != NULL ? s->helo : "", s->core.user != NULL ? s->core.user : "",
		 tx->sender, rcpts.p != NULL ? rcpts.p : "",
		 (unsigned long long)(tx->reader != NULL ? smtp_data_size(tx->reader) :
				      tx->bdat_size),
		 result);
	strbuf_free(&rcpts);
}

static void smtp_session_free(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	smtp_tx_free(&s->tx);
	auth_sasl_free(&s->core.sasl);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s->auth_arg);
	free(s->helo);
	free(s->core.user);
	free(s->local_user);
	free(s);
	*sp = NULL;
}

/* The answer to the end of data: one reply, or on LMTP one per accepted
 * recipient (RFC 2033 4.2; all share the one store write's fate, except
 * those the message did not fit: 452 4.2.2). */
static void smtp_session_final_reply(struct smtp_session *s,
				     struct smtp_status st, const char *id)
{
	const char *sp = id != NULL ? " " : "", *idv = id != NULL ? id : "";

	if (s->core.service->mode != SMTP_MODE_LMTP) {
		smtp_reply(s, st.code, st.enhanced, "%s%s%s", st.text, sp, idv);
		return;
	}
	for (size_t i = 0; i < s->tx->n_rcpts; i++) {
		if (s->tx->rcpt_full[i])
			smtp_reply(s, 452, "4.2.2", "<%s> Mailbox full",
				   s->tx->rcpts[i]);
		else
			smtp_reply(s, st.code, st.enhanced, "<%s> %s%s%s",
				   s->tx->rcpts[i], st.text, sp, idv);
	}
}

static void smtp_session_delivered(void *arg, const struct store_result *result)
{
	struct smtp_session *s = arg;

	if (result->status != 0)
		log_error(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
			  "smtp tx %s: store: %s", s->tx->id, result->error);
	if (s->core.conn == NULL) {
		/* The client left while the store worked. */
		smtp_session_log_tx(s, result->status == 0 ? "stored, client gone" :
				    "failed, client gone");
		smtp_session_free(&s);
		return;
	}
	if (result->status == 0) {
		smtp_session_final_reply(s, SMTP_STATUS(250, "2.0.0", "Ok: queued as"),
					 s->tx->id);
		smtp_session_log_tx(s, "queued");
	} else {
		smtp_session_final_reply(s, SMTP_STATUS(451, "4.3.0",
				"Temporary failure, try again later"), NULL);
		smtp_session_log_tx(s, "store failed");
	}
	smtp_tx_free(&s->tx);
	smtp_session_enter(s, SMTP_STATE_READY);
	if (s->close_after_delivery) {
		smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
			   s->server->set.hostname);
		conn_close(s->core.conn);
		return;
	}
	conn_resume_input(s->core.conn);
}

static void smtp_session_submit(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char *auth_user = s->server->set.received_auth && s->core.user != NULL ?
			  smtp_received_clean_helo(str_c(s->core.user)) : NULL;
	struct strbuf received = STRBUF_INIT;
	const char *version = NULL, *cipher = NULL;
	struct smtp_received rec = {
		.helo = s->helo != NULL ? s->helo : "",
		.peer_ip = conn_peer_ip(s->core.conn),
		.hostname = s->server->set.hostname,
		.esmtp = s->esmtp,
		.lmtp = s->core.service->mode == SMTP_MODE_LMTP,
		.authenticated = s->core.user != NULL,
		.local_user = s->local_user,
		.local_uid = (unsigned long)s->local_uid,
		.auth_user = auth_user,
		.id = tx->id,
		.for_rcpt = tx->n_rcpts == 1 ? tx->rcpts[0] : NULL,
		.when = time(NULL),
	};
	struct delivery_msg msg;
	const char *error;
	int left;

	if (conn_tls_info(s->core.conn, &version, &cipher)) {
		rec.tls_version = version;
		rec.tls_cipher = cipher;
	}
	/* The signature goes into the one blob that the outbound queue and
	 * the local recipients share (single instance): a DKIM-Signature on
	 * top is harmless for local readers, so the message is signed once,
	 * before the one store write, and stored above our Received:. */
	smtp_dkim_sign(s, &received);
	smtp_received_append(&received, &rec);
	free(auth_user);
	if (s->core.service->mode == SMTP_MODE_LMTP &&
	    (left = smtp_quota_lmtp(s, sizeof("Return-Path: <>\r\n") - 1 +
				   strlen(tx->sender) + received.n +
				   tx->msg.n)) <= 0) {
		/* Nobody left to deliver to: each recipient has its answer
		 * (452 4.2.2 when full, 451 on a store error). */
		strbuf_free(&received);
		smtp_session_final_reply(s, SMTP_STATUS(451, "4.3.0",
				"Temporary failure, try again later"), NULL);
		smtp_session_log_tx(s, left < 0 ? "store failed" : "mailbox full");
		smtp_tx_free(&s->tx);
		smtp_session_enter(s, SMTP_STATE_READY);
		return;
	}

	msg = (struct delivery_msg){
		.header = received.p,
		.header_size = received.n,
		.data = tx->msg.p,
		.size = tx->msg.n,
		.sender = tx->sender,
		.envid = tx->mail.params.envid,
		.ret = tx->mail.params.ret == SMTP_RET_FULL ? "FULL" :
		       tx->mail.params.ret == SMTP_RET_HDRS ? "HDRS" : NULL,
		.internal_date = (int64_t)rec.when,
		/* Only when the blob goes to one local user and nowhere else:
		 * it is shared by every recipient (single instance), the
		 * outbound copy included. */
		.delivered_to = tx->n_remotes == 0 && !tx->several_locals ?
				tx->delivered_to : NULL,
		.requiretls = tx->mail.params.requiretls,
		.user_ids = tx->user_ids,
		.n_users = tx->n_users,
		.remotes = tx->remotes,
		.n_remotes = tx->n_remotes,
	};
	if (delivery_submit(*s->server->storep, &msg,
			    net_thread_task_queue(conn_thread(s->core.conn)),
			    smtp_session_delivered, s, &error) < 0) {
		strbuf_free(&received);
		log_error(conn_sid(s->core.conn), "smtp tx %s: %s", tx->id, error);
		smtp_session_final_reply(s, SMTP_STATUS(554, "5.6.0",
					 "Message refused"), NULL);
		smtp_session_log_tx(s, error);
		smtp_tx_free(&s->tx);
		smtp_session_enter(s, SMTP_STATE_READY);
		return;
	}
	strbuf_free(&received);
	smtp_session_enter(s, SMTP_STATE_DELIVERING);
	conn_pause_input(s->core.conn);
}

/* Room for the whole message at once (SIZE= when given, else a typical
 * message), so the buffer does not grow and move it chunk by chunk. */
static void smtp_session_msg_reserve(struct smtp_session *s)
{
	const struct smtp_mail_params *p = &s->tx->mail.params;
	uint64_t max = s->server->set.max_message_size;
	size_t hint = SMTP_MSG_RESERVE;

	if (p->has_size && p->size > hint &&
	    (max == 0 || p->size <= max) && p->size <= SMTP_MSG_RESERVE_MAX)
		hint = (size_t)p->size;
	if (s->tx->msg.n == 0)
		strbuf_grow(&s->tx->msg, hint);
}

void smtp_session_start_data(struct smtp_session *s)
{
	struct smtp_data_limits limits = {
		.max_size = s->server->set.max_message_size,
	};

	s->tx->reader = smtp_data_new(&limits);
	smtp_session_msg_reserve(s);
	smtp_reply(s, 354, "2.0.0", "End data with <CR><LF>.<CR><LF>");
	smtp_session_enter(s, SMTP_STATE_DATA);
}

/* Feed buffered input to the DATA reader. Returns false when it needs more
 * input. */
static bool smtp_session_data(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	enum smtp_data_result res = SMTP_DATA_MORE;
	struct str chunk;
	size_t used;

	while (res == SMTP_DATA_MORE) {
		if (conn_input_peek(s->core.conn, &chunk) == 0)
			return false;
		res = smtp_data_feed(tx->reader, &tx->msg, chunk.p, chunk.n,
				     &used);
		conn_input_drain(s->core.conn, used);
	}
	if (res == SMTP_DATA_DONE) {
		smtp_session_submit(s);
		return true;
	}
	smtp_session_final_reply(s, smtp_data_status(res), NULL);
	smtp_session_log_tx(s, smtp_data_status(res).text);
	smtp_tx_free(&s->tx);
	smtp_session_enter(s, SMTP_STATE_READY);
	return true;
}

void smtp_session_start_bdat(struct smtp_session *s, uint64_t size, bool last,
			     struct smtp_status err)
{
	s->bdat_left = size;
	s->bdat_chunk = size;
	s->bdat_last = last;
	s->bdat_error = err;
	if (err.code == 0)
		smtp_session_msg_reserve(s);
	smtp_session_enter(s, SMTP_STATE_BDAT);
}

/* The chunk is consumed: answer it. */
static void smtp_session_bdat_done(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (s->bdat_error.code != 0) {
		smtp_reply_status(s, s->bdat_error);
		if (tx != NULL)
			smtp_session_log_tx(s, s->bdat_error.text);
		smtp_tx_free(&s->tx);
		smtp_session_enter(s, s->helo != NULL ? SMTP_STATE_READY :
				   SMTP_STATE_INIT);
		smtp_session_bad(s);
		return;
	}
	smtp_session_enter(s, SMTP_STATE_RCPT);
	if (s->bdat_last)
		smtp_session_submit(s);
	else
		smtp_reply(s, 250, "2.0.0", "%llu octets received",
			   (unsigned long long)s->bdat_chunk);
}

/* Consume buffered octets of the BDAT chunk. Returns false when it needs
 * more input. */
static bool smtp_session_bdat(struct smtp_session *s)
{
	uint64_t max = s->server->set.max_message_size;
	struct str data;

	while (s->bdat_left > 0) {
		size_t n = conn_read_bytes(s->core.conn, s->bdat_left > SIZE_MAX ?
					   SIZE_MAX : (size_t)s->bdat_left, &data);

		if (n == 0)
			return false;
		s->bdat_left -= n;
		if (s->bdat_error.code != 0)
			continue;
		s->tx->bdat_size += n;
		if (max > 0 && s->tx->bdat_size > max) {
			/* Keep reading the chunk to stay in sync, store
			 * no more. */
			s->bdat_error = SMTP_STATUS(552, "5.3.4",
				"Message size exceeds fixed limit");
			continue;
		}
		strbuf_append(&s->tx->msg, data.p, data.n);
	}
	smtp_session_bdat_done(s);
	return true;
}

/* ---- conn callbacks ---- */

static void smtp_session_greet(struct smtp_session *s)
{
	conn_printf(s->core.conn, "220 %s %s Posthorn\r\n", s->server->set.hostname,
		    s->core.service->mode == SMTP_MODE_LMTP ? "LMTP" : "ESMTP");
	smtp_session_enter(s, SMTP_STATE_INIT);
}

/* The local socket: who connected. False (reply queued) when the kernel
 * does not say. */
static bool smtp_session_local_user(struct smtp_session *s)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	uid_t uid;
	pid_t pid;

	if (!conn_peer_cred(s->core.conn, &uid, &pid)) {
		log_error(conn_sid(s->core.conn), "smtp local: no peer credentials");
		conn_write_str(s->core.conn, "421 4.3.0 Cannot identify the local user\r\n");
		return false;
	}
	s->local_uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL)
		s->local_user = smtp_received_clean_helo(str_c(pw.pw_name));
	else
		s->local_user = xasprintf("uid%lu", (unsigned long)uid);
	log_info(conn_sid(s->core.conn), "smtp local user=%s uid=%lu pid=%ld",
		 s->local_user, (unsigned long)uid, (long)pid);
	return true;
}

static void smtp_on_open(struct conn *conn)
{
	struct smtp_service *service = conn_handler_ctx(conn);
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->core.conn = conn;
	s->service = service;
	s->server = service->server;
	s->state = SMTP_STATE_GREETING;
	conn_set_data(conn, s);
	smtp_session_set_timeout(s);
	if (service->mode == SMTP_MODE_LOCAL && !smtp_session_local_user(s)) {
		conn_close(conn);
		return;
	}
	if (service->mode == SMTP_MODE_MTA && s->server->n_trusted > 0 &&
	    cidr_list_match(s->server->trusted, s->server->n_trusted,
			    conn_peer_ip(conn))) {
		s->trusted = true;
		log_info(conn_sid(conn), "smtp client %s is in trusted_networks",
			 conn_peer_ip(conn));
	}
	if (service->mode == SMTP_MODE_MTA && s->server->set.greet_delay_ms > 0)
		smtp_session_timer(s, s->server->set.greet_delay_ms,
				   smtp_session_greet);
	else
		smtp_session_greet(s);
}

static void smtp_on_input(struct conn *conn)
{
	struct smtp_session *s = conn_data(conn);
	struct str line;
	unsigned flags;
	int ret;

	if (s->state == SMTP_STATE_GREETING) {
		/* RFC 5321 4.3.1: the client waits for the greeting; spam
		 * engines that do not are refused. */
		log_info(conn_sid(conn), "smtp client %s talked before the greeting",
			 conn_peer_ip(conn));
		smtp_reply(s, 554, "5.5.0", "Protocol error: talked before the greeting");
		conn_close(conn);
		return;
	}
	while (!conn_is_closing(conn)) {
		if (s->state == SMTP_STATE_DELIVERING ||
		    s->state == SMTP_STATE_AUTH_WAIT)
			return;
		if (s->state == SMTP_STATE_DATA) {
			if (!smtp_session_data(s))
				return;
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			if (!smtp_session_bdat(s))
				return;
			continue;
		}
		ret = conn_read_line(conn, SMTP_AUTH_LINE_MAX, &line, &flags);
		if (ret == 0)
			return;
		if (ret < 0) {
			if (s->state == SMTP_STATE_AUTH) {
				auth_sasl_free(&s->core.sasl);
				smtp_session_enter(s, SMTP_STATE_READY);
			}
			smtp_reply(s, 500, "5.5.2", "Line too long");
			smtp_session_bad(s);
			continue;
		}
		if (s->state == SMTP_STATE_AUTH)
			smtp_auth_response(s, line);
		else
			smtp_session_command(s, line);
	}
}

static void smtp_on_shutdown(struct conn *conn)
{
	struct smtp_session *s = conn_data(conn);

	if (s->state == SMTP_STATE_DELIVERING) {
		s->close_after_delivery = true;
		return;
	}
	if (s->state == SMTP_STATE_GREETING) {
		conn_close(conn);
		return;
	}
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
		   s->server->set.hostname);
	conn_close(conn);
}

static void smtp_on_close(struct conn *conn, const char *reason)
{
	struct smtp_session *s = conn_data(conn);

	if (s == NULL)
		return;
	log_debug(conn_sid(conn), "smtp session closed: %s", reason);
	conn_set_data(conn, NULL);
	if (s->state == SMTP_STATE_DELIVERING) {
		/* smtp_session_delivered() frees the session. */
		s->core.conn = NULL;
		return;
	}
	if (s->tx != NULL)
		smtp_session_log_tx(s, reason);
	smtp_session_free(&s);
}

const struct conn_handler smtp_conn_handler = {
	.on_open = smtp_on_open,
	.on_input = smtp_on_input,
	.on_shutdown = smtp_on_shutdown,
	.on_close = smtp_on_close,
};
