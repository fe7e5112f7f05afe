/* smtp_session.c: the SMTP session's own part: replies, the state
 * machine, the DATA and BDAT streams and the end of a transaction
 * (Received:, one store write, 250 only once durable). The session core
 * (proto/common/session.h) does the rest. */
#include "base/log.h"
#include "net/net.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_received.h"

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
};

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
void smtp_session_set_timeout(struct smtp_session *s)
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
	session_trace(&s->core, "state", state_names[s->state],
		      state_names[state]);
	s->state = state;
	smtp_session_set_timeout(s);
}

struct str smtp_tx_msg(const struct smtp_tx *tx)
{
	if (tx->msg.n <= tx->msg_room)
		return STR_LIT("");
	return str_make(tx->msg.p + tx->msg_room, tx->msg.n - tx->msg_room);
}

void smtp_tx_drop_mime(struct smtp_tx *tx)
{
	if (tx->mime != NULL) {
		struct mime_tree *t = mime_parser_finish(&tx->mime);

		mime_tree_free(&t);
	}
}

void smtp_tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;

	if (tx == NULL)
		return;
	smtp_cmd_mail_clear(&tx->mail);
	smtp_data_free(&tx->reader);
	smtp_tx_drop_mime(tx);
	strbuf_free(&tx->msg);
	free(tx->user_ids);
	free(tx->user_quotas);
	free(tx->remotes);
	arena_deinit(&tx->arena);
	free(tx);
	*txp = NULL;
}

void smtp_session_end_tx(struct smtp_session *s)
{
	smtp_checks_tx_end(s);
	smtp_tx_free(&s->tx);
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

/* ---- end of a transaction ---- */

void smtp_session_log_tx(struct smtp_session *s, const char *result)
{
	struct smtp_tx *tx = s->tx;
	struct strbuf rcpts = STRBUF_INIT;

	for (size_t i = 0; i < tx->n_rcpts; i++)
		strbuf_printf(&rcpts, "%s<%s>", i > 0 ? "," : "", tx->rcpts[i]);
	log_info(session_sid(&s->core),
		 "smtp tx id=%s client=%s helo=%s user=%s from=<%s> to=%s size=%llu result=%s%s",
		 tx->id, s->core.peer_ip,
		 s->helo != NULL ? s->helo : "", s->core.user != NULL ? s->core.user : "",
		 tx->sender, rcpts.p != NULL ? rcpts.p : "",
		 (unsigned long long)(tx->reader != NULL ? smtp_data_size(tx->reader) :
				      tx->bdat_size),
		 result, smtp_checks_log_line(s));
	strbuf_free(&rcpts);
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

/* The end of the message was answered: the transaction is over. True when
 * the session closes (the server stops). */
static bool smtp_session_tx_over(struct smtp_session *s)
{
	smtp_session_end_tx(s);
	smtp_session_enter(s, SMTP_STATE_READY);
	if (!s->close_after_delivery)
		return false;
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
		   s->server->core.hostname);
	conn_close(s->core.conn);
	return true;
}

static void smtp_session_delivered(void *arg, const struct store_result *result)
{
	struct smtp_session *s = arg;

	if (result->status != 0)
		log_error(session_sid(&s->core), "smtp tx %s: store: %s",
			  s->tx->id, result->error);
	if (s->core.conn == NULL)	/* the client left while the store worked */
		smtp_session_log_tx(s, result->status == 0 ? "stored, client gone" :
				    "failed, client gone");
	if (!session_pending_end(&s->core))
		return;		/* freed with the session */
	if (result->status == 0) {
		smtp_session_final_reply(s, SMTP_STATUS(250, "2.0.0", "Ok: queued as"),
					 s->tx->id);
		smtp_session_log_tx(s, "queued");
	} else {
		smtp_session_final_reply(s, SMTP_STATUS(451, "4.3.0",
				"Temporary failure, try again later"), NULL);
		smtp_session_log_tx(s, "store failed");
	}
	if (!smtp_session_tx_over(s))
		session_release(&s->core);
}

/* The message is stored (accept, quarantine) after the checks. */
static void smtp_session_store(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char *auth_user = s->server->set.received_auth && s->core.user != NULL ?
			  smtp_received_clean_helo(str_c(s->core.user)) : NULL;
	struct strbuf received = STRBUF_INIT;
	const char *version = NULL, *cipher = NULL;
	struct smtp_received rec = {
		.helo = s->helo != NULL ? s->helo : "",
		.peer_ip = conn_peer_ip(s->core.conn),
		.hostname = s->server->core.hostname,
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
	/* Our Authentication-Results goes on top (RFC 8601 4: above the
	 * fields it speaks of), then what the checks add. */
	smtp_checks_header(s, &received);
	smtp_check_dkim_seal(s, &received);
	smtp_dkim_sign(s, &received);
	smtp_received_append(&received, &rec);
	free(auth_user);
	if (s->core.service->mode == SMTP_MODE_LMTP &&
	    (left = smtp_quota_lmtp(s, sizeof("Return-Path: <>\r\n") - 1 +
				   strlen(tx->sender) + received.n +
				   smtp_tx_msg(tx).n)) <= 0) {
		/* Nobody left to deliver to: each recipient has its answer
		 * (452 4.2.2 when full, 451 on a store error). */
		strbuf_free(&received);
		smtp_session_final_reply(s, SMTP_STATUS(451, "4.3.0",
				"Temporary failure, try again later"), NULL);
		smtp_session_log_tx(s, left < 0 ? "store failed" : "mailbox full");
		smtp_session_end_tx(s);
		smtp_session_enter(s, SMTP_STATE_READY);
		return;
	}

	msg = (struct delivery_msg){
		.header = received.p,
		.header_size = received.n,
		/* the buffer and the parse of what arrived go to the
		 * store as they are */
		.take = &tx->msg,
		.take_room = tx->msg_room,
		.tree = tx->mime != NULL ? mime_parser_finish(&tx->mime) : NULL,
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
		.junk = tx->n_users > 0 && smtp_junk_decide(s),
		.remotes = tx->remotes,
		.n_remotes = tx->n_remotes,
	};
	if (delivery_submit(session_store(&s->core), &msg,
			    net_thread_task_queue(conn_thread(s->core.conn)),
			    smtp_session_delivered, s, &error) < 0) {
		strbuf_free(&received);
		log_error(conn_sid(s->core.conn), "smtp tx %s: %s", tx->id, error);
		smtp_session_final_reply(s, SMTP_STATUS(554, "5.6.0",
					 "Message refused"), NULL);
		smtp_session_log_tx(s, error);
		smtp_session_end_tx(s);
		smtp_session_enter(s, SMTP_STATE_READY);
		return;
	}
	strbuf_free(&received);
	smtp_session_enter(s, SMTP_STATE_DELIVERING);
	session_pending_begin(&s->core);
	session_hold(&s->core);
}

/* The inbound checks are over: do what they decided. */
static void smtp_session_checked(struct smtp_session *s, bool gone)
{
	struct smtp_status st;
	enum smtp_check_action a = smtp_checks_action(s, &st);

	if (gone) {
		smtp_session_log_tx(s, "client gone during the checks");
		smtp_session_end_tx(s);
		return;
	}
	switch (a) {
	case SMTP_CHECK_QUARANTINE:
		smtp_junk_request(s->tx, "checks: quarantine");
		/* fall through */
	case SMTP_CHECK_ACCEPT:
		smtp_session_store(s);
		return;
	case SMTP_CHECK_DISCARD:
		/* The sender must believe it was delivered. */
		smtp_session_final_reply(s, SMTP_STATUS(250, "2.0.0",
					 "Ok: queued as"), s->tx->id);
		smtp_session_log_tx(s, "discarded");
		break;
	case SMTP_CHECK_TEMPFAIL:
	case SMTP_CHECK_REJECT:
		smtp_session_final_reply(s, st, NULL);
		smtp_session_log_tx(s, a == SMTP_CHECK_REJECT ? "rejected" :
				    "tempfailed");
		break;
	}
	(void)smtp_session_tx_over(s);
}

static void smtp_session_submit(struct smtp_session *s)
{
	/* Held like a store write while the checks finish. */
	smtp_session_enter(s, SMTP_STATE_DELIVERING);
	smtp_checks_eom(s, smtp_session_checked);
}

/* Room for the whole message at once (SIZE= when given, else a typical
 * message), so the buffer does not grow and move it chunk by chunk, and
 * the room before it; the stream parse starts. */
static void smtp_session_msg_reserve(struct smtp_session *s)
{
	const struct smtp_mail_params *p = &s->tx->mail.params;
	struct smtp_tx *tx = s->tx;
	uint64_t max = s->server->set.max_message_size;
	size_t hint = SMTP_MSG_RESERVE;

	if (p->has_size && p->size > hint &&
	    (max == 0 || p->size <= max) && p->size <= SMTP_MSG_RESERVE_MAX)
		hint = (size_t)p->size;
	if (tx->msg.p != NULL)
		return;
	strbuf_grow(&tx->msg, SMTP_MSG_ROOM + hint);
	memset(tx->msg.p, ' ', SMTP_MSG_ROOM);
	tx->msg.n = tx->msg_room = SMTP_MSG_ROOM;
	tx->msg.p[tx->msg.n] = '\0';
	tx->mime = mime_parser_new(NULL);
	mime_parser_feed(tx->mime, MIME_PREFIX_STANDIN, MIME_PREFIX_STANDIN_LEN);
}

void smtp_session_start_data(struct smtp_session *s)
{
	struct smtp_data_limits limits = {
		.max_size = s->server->set.max_message_size,
		.max_line = s->server->set.max_line_length,
	};

	s->tx->reader = smtp_data_new(&limits);
	smtp_session_msg_reserve(s);
	smtp_reply(s, 354, "2.0.0", "End data with <CR><LF>.<CR><LF>");
	smtp_session_enter(s, SMTP_STATE_DATA);
}

bool smtp_session_data(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	enum smtp_data_result res = SMTP_DATA_MORE;
	struct str chunk;
	size_t used;

	while (res == SMTP_DATA_MORE) {
		size_t before = tx->msg.n;

		if (conn_input_peek(s->core.conn, &chunk) == 0)
			return false;
		res = smtp_data_feed(tx->reader, &tx->msg, chunk.p, chunk.n,
				     &used);
		conn_input_drain(s->core.conn, used);
		/* the parse follows the bytes as they come */
		if (tx->mime != NULL && tx->msg.n > before)
			mime_parser_feed(tx->mime, tx->msg.p + before,
					 tx->msg.n - before);
		smtp_checks_body(s, tx->msg.p + before, tx->msg.n - before);
	}
	if (res == SMTP_DATA_DONE) {
		smtp_session_submit(s);
		return true;
	}
	smtp_session_final_reply(s, smtp_data_status(res), NULL);
	smtp_session_log_tx(s, smtp_data_status(res).text);
	smtp_session_end_tx(s);
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
		smtp_session_end_tx(s);
		smtp_session_enter(s, s->helo != NULL ? SMTP_STATE_READY :
				   SMTP_STATE_INIT);
		session_bad(&s->core);
		return;
	}
	smtp_session_enter(s, SMTP_STATE_RCPT);
	if (s->bdat_last)
		smtp_session_submit(s);
	else
		smtp_reply(s, 250, "2.0.0", "%llu octets received",
			   (unsigned long long)s->bdat_chunk);
}

bool smtp_session_bdat(struct smtp_session *s)
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
		if (s->tx->mime != NULL)
			mime_parser_feed(s->tx->mime, data.p, data.n);
		smtp_checks_body(s, data.p, data.n);
	}
	smtp_session_bdat_done(s);
	return true;
}

