/* smtp_check_milter.c: the [milter] chain in the inbound pipeline: one
 * milter client (delivery/milter.h) per session, fed at connect, HELO,
 * MAIL, RCPT (the RCPT's answer waits for it) and at the end of data
 * (after DMARC), its verdicts and message changes applied. The client runs
 * one stage at a time, so the stages queue here in order. */
#include "base/log.h"
#include "delivery/milter.h"
#include "net/net.h"
#include "proto/smtp/smtp_checks.h"

enum op_kind { OP_CONNECT, OP_HELO, OP_MAIL, OP_RCPT, OP_MESSAGE };

struct op {
	enum op_kind kind;
	enum smtp_check_wait wait;
	char *arg;		/* HELO name, "<address>" */
};

#define MILTER_OPS_MAX 8

struct milter_state {
	struct smtp_check_ctx *c;
	struct milter_client *mc;
	struct op ops[MILTER_OPS_MAX];	/* ops[0] runs when busy */
	size_t n_ops;
	bool busy;
	/* The client was dropped in a transaction (timeout): a new one
	 * replays connect and HELO at the next MAIL. */
	bool reconnect;
};

static void pump(struct milter_state *st);

static struct event_base *session_base(struct smtp_session *s)
{
	return s->core.conn != NULL
		       ? net_thread_base(conn_thread(s->core.conn)) : NULL;
}

static void queue_op(struct milter_state *st, enum op_kind kind,
		     enum smtp_check_wait wait, const char *arg)
{
	if (st->mc == NULL)
		return;
	if (st->n_ops == MILTER_OPS_MAX) {
		/* cannot happen: every stage waits for the one before */
		smtp_check_verdict(st->c, SMTP_CHECK_TEMPFAIL,
				   SMTP_STATUS(0, NULL, NULL));
		return;
	}
	st->ops[st->n_ops++] = (struct op){
		kind, wait, arg != NULL ? xstrdup(arg) : NULL,
	};
	smtp_check_begin(st->c, wait);
	pump(st);
}

/* The milter's reply as a status: "554 5.7.1 text" (first line). */
static struct smtp_status reply_status(const struct milter_result *r,
				       char *buf, size_t size)
{
	const char *text = r->reply != NULL ? r->reply : "";
	size_t skip = 0;

	if (strlen(text) > 4)
		skip = 4;
	if (r->enhanced[0] != '\0' &&
	    strncmp(text + skip, r->enhanced, strlen(r->enhanced)) == 0)
		skip += strlen(r->enhanced) + 1;
	snprintf(buf, size, "%.*s", (int)strcspn(text + MIN(skip, strlen(text)),
						 "\r\n"),
		 text + MIN(skip, strlen(text)));
	return SMTP_STATUS(r->code, r->enhanced, buf);
}

static enum smtp_check_action action_of(enum milter_verdict v)
{
	switch (v) {
	case MILTER_REJECT: return SMTP_CHECK_REJECT;
	case MILTER_TEMPFAIL: return SMTP_CHECK_TEMPFAIL;
	case MILTER_DISCARD: return SMTP_CHECK_DISCARD;
	default: return SMTP_CHECK_ACCEPT;
	}
}

/* The end of data: the message changes and the quarantine. */
static void apply_message(struct milter_state *st,
			  const struct milter_result *r)
{
	struct smtp_session *s = st->c->s;
	struct smtp_tx *tx = s->tx;

	if (r->quarantine && r->verdict != MILTER_REJECT &&
	    r->verdict != MILTER_TEMPFAIL && r->verdict != MILTER_DISCARD)
		smtp_check_verdict(st->c, SMTP_CHECK_QUARANTINE,
				   SMTP_STATUS(0, NULL, NULL));
	if (r->changed && tx != NULL) {
		/* the milters' headers and body replace the message in its
		 * buffer (after the room for our own fields); the stream
		 * parse no longer matches it */
		strbuf_truncate(&tx->msg, tx->msg_room);
		strbuf_append_str(&tx->msg, r->message);
		smtp_tx_drop_mime(tx);
		smtp_check_log(st->c, "milter_edits=%u%s", r->n_header_edits,
			       r->body_replaced ? "+body" : "");
	}
	/* Integration point: recipients added or deleted and CHGFROM are
	 * logged, not applied yet (they need the delivery's recipient
	 * resolution at the end of data). */
	for (size_t i = 0; i < r->n_rcpt_adds; i++)
		log_notice(tx != NULL ? tx->id : NULL, "milter %s: ADDRCPT %s "
			   "not applied", r->by != NULL ? r->by : "",
			   r->rcpt_adds[i].address);
	for (size_t i = 0; i < r->n_rcpt_dels; i++)
		log_notice(tx != NULL ? tx->id : NULL, "milter: DELRCPT %s not "
			   "applied", r->rcpt_dels[i]);
	if (r->new_from != NULL)
		log_notice(tx != NULL ? tx->id : NULL, "milter: CHGFROM %s not "
			   "applied", r->new_from);
}

static void op_done(void *arg, const struct milter_result *r)
{
	struct milter_state *st = arg;
	struct smtp_check_ctx *c = st->c;
	struct op op = st->ops[0];
	char text[512];
	enum smtp_check_action a = action_of(r->verdict);

	memmove(st->ops, st->ops + 1, (st->n_ops - 1) * sizeof(*st->ops));
	st->n_ops--;
	st->busy = false;
	if (a == SMTP_CHECK_REJECT || a == SMTP_CHECK_TEMPFAIL) {
		struct smtp_status status = reply_status(r, text, sizeof(text));

		if (op.kind == OP_RCPT)
			smtp_check_rcpt_refuse(c, status);
		else if (op.kind == OP_CONNECT || op.kind == OP_HELO)
			smtp_check_session_verdict(c, a, status);
		else
			smtp_check_verdict(c, a, status);
	} else if (a == SMTP_CHECK_DISCARD) {
		if (op.kind == OP_CONNECT || op.kind == OP_HELO)
			smtp_check_session_verdict(c, a,
						   SMTP_STATUS(0, NULL, NULL));
		else
			smtp_check_verdict(c, a, SMTP_STATUS(0, NULL, NULL));
	}
	if (op.kind == OP_MESSAGE) {
		apply_message(st, r);
		smtp_check_log(c, "milter=%s%s%s%s",
			       r->quarantine && a == SMTP_CHECK_ACCEPT
				       ? "quarantine"
				       : milter_verdict_name(r->verdict),
			       r->by != NULL ? "(" : "",
			       r->by != NULL ? r->by : "",
			       r->by != NULL ? ")" : "");
	} else if (a != SMTP_CHECK_ACCEPT) {
		smtp_check_log(c, "milter_%s=%s",
			       op.kind == OP_RCPT ? "rcpt"
			       : op.kind == OP_MAIL ? "mail" : "connect",
			       milter_verdict_name(r->verdict));
	}
	free(op.arg);
	pump(st);
	smtp_check_end(c, op.wait);	/* last: it may run the next stage */
}

static void pump(struct milter_state *st)
{
	struct smtp_session *s = st->c->s;
	struct op *op = &st->ops[0];

	if (st->busy || st->n_ops == 0 || st->mc == NULL)
		return;
	st->busy = true;
	switch (op->kind) {
	case OP_CONNECT: {
		struct milter_connect_info ci = {
			.hostname = NULL, .address = NULL,
		};
		char name[64];

		if (s->core.conn != NULL) {
			ci.address = conn_peer_ip(s->core.conn);
			ci.port = conn_peer_port(s->core.conn);
		}
		/* no verified reverse name here: "[address]" as Postfix
		 * gives for an unknown client */
		snprintf(name, sizeof(name), "[%s]",
			 ci.address != NULL ? ci.address : "unknown");
		ci.hostname = name;
		if (ci.address != NULL && strcmp(ci.address, "unix") == 0)
			ci.address = NULL;
		milter_client_connect(st->mc, &ci, op_done, st);
		break;
	}
	case OP_HELO:
		milter_client_helo(st->mc, op->arg, op_done, st);
		break;
	case OP_MAIL:
	case OP_RCPT: {
		struct str a = str_c(op->arg);

		if (op->kind == OP_MAIL)
			milter_client_mail(st->mc, &a, 1, op_done, st);
		else
			milter_client_rcpt(st->mc, &a, 1, op_done, st);
		break;
	}
	case OP_MESSAGE:
		milter_client_message(st->mc, smtp_tx_msg(s->tx), op_done, st);
		break;
	}
}

static void client_new(struct milter_state *st)
{
	struct smtp_session *s = st->c->s;
	const struct smtp_inbound_settings *set = smtp_check_settings(st->c);
	struct event_base *base = session_base(s);
	const char *tls_version, *cipher;

	if (base == NULL)
		return;
	st->mc = milter_client_new(base, set->milters, set->n_milters,
				   conn_sid(s->core.conn));
	milter_client_macro(st->mc, "j", s->server->core.hostname);
	milter_client_macro(st->mc, "{daemon_name}", "posthorn");
	milter_client_macro(st->mc, "v", "Posthorn");
	milter_client_macro(st->mc, "{client_addr}",
			    conn_peer_ip(s->core.conn));
	if (conn_tls_info(s->core.conn, &tls_version, &cipher)) {
		milter_client_macro(st->mc, "{tls_version}", tls_version);
		milter_client_macro(st->mc, "{cipher}", cipher);
	}
	queue_op(st, OP_CONNECT, SMTP_CHECK_BY_RCPT, NULL);
	if (s->helo != NULL)
		queue_op(st, OP_HELO, SMTP_CHECK_BY_RCPT, s->helo);
}

/* Drop the client: cancel what is queued or running. */
static void client_drop(struct milter_state *st, bool reconnect)
{
	milter_client_free(&st->mc);
	st->busy = false;
	st->reconnect = reconnect;
	while (st->n_ops > 0) {
		struct op op = st->ops[--st->n_ops];

		free(op.arg);
		smtp_check_end(st->c, op.wait);
	}
}

static bool milter_open(struct smtp_check_ctx *c)
{
	struct milter_state *st = c->state;

	if (smtp_check_settings(c)->n_milters == 0)
		return false;
	st->c = c;
	client_new(st);
	return true;
}

static void milter_helo(struct smtp_check_ctx *c)
{
	struct milter_state *st = c->state;

	if (st->mc != NULL)
		queue_op(st, OP_HELO, SMTP_CHECK_BY_RCPT, c->s->helo);
}

static void milter_mail(struct smtp_check_ctx *c)
{
	struct milter_state *st = c->state;
	struct smtp_tx *tx = c->s->tx;
	char *path;

	if (st->mc == NULL && st->reconnect)
		client_new(st);
	if (st->mc == NULL)
		return;
	milter_client_macro(st->mc, "i", tx->id);
	milter_client_macro(st->mc, "{mail_addr}", tx->sender);
	path = xasprintf("<%s>", tx->sender);
	queue_op(st, OP_MAIL, SMTP_CHECK_BY_RCPT, path);
	free(path);
}

static void milter_rcpt(struct smtp_check_ctx *c, const char *address)
{
	struct milter_state *st = c->state;
	char *path;

	if (st->mc == NULL)
		return;
	milter_client_macro(st->mc, "{rcpt_addr}", address);
	path = xasprintf("<%s>", address);
	queue_op(st, OP_RCPT, SMTP_CHECK_BY_RCPT, path);
	free(path);
}

static void milter_eom(struct smtp_check_ctx *c)
{
	struct milter_state *st = c->state;

	if (st->mc != NULL)
		queue_op(st, OP_MESSAGE, SMTP_CHECK_BY_EOM, NULL);
}

static void milter_timeout(struct smtp_check_ctx *c,
			   enum smtp_check_wait wait UNUSED)
{
	struct milter_state *st = c->state;

	smtp_check_log(c, "milter=timeout");
	client_drop(st, true);
	smtp_check_verdict(c, SMTP_CHECK_TEMPFAIL, SMTP_STATUS(0, NULL, NULL));
}

static void milter_tx_end(struct smtp_check_ctx *c)
{
	struct milter_state *st = c->state;

	if (st->busy || st->n_ops > 0)
		client_drop(st, true);
	else if (st->mc != NULL)
		milter_client_abort(st->mc);
}

static void milter_close(struct smtp_check_ctx *c)
{
	client_drop(c->state, false);
}

const struct smtp_check smtp_check_milter = {
	.name = "milter",
	.state_size = sizeof(struct milter_state),
	.open = milter_open,
	.helo = milter_helo,
	.mail = milter_mail,
	.rcpt = milter_rcpt,
	.eom = milter_eom,
	.timeout = milter_timeout,
	.tx_end = milter_tx_end,
	.close = milter_close,
};
