/* milter.c: the milter chain of one SMTP session on libevent
 * bufferevents: connect and OPTNEG in the background, one stage at a time
 * through the milters in order (lock-step: a command, its reply), the
 * modifications of end-of-message gathered and applied to the message
 * before the next milter sees it, failures mapped to each milter's
 * default action. */
#include "delivery/milter.h"
#include "base/log.h"
#include "mail/header.h"
#include "mail/milter_edit.h"
#include "mail/milter_proto.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* Output queued to one milter before BODY chunks (no reply expected)
 * wait for it to drain. */
#define MILTER_OUTPUT_MAX (256 * 1024)
/* A QUIT'ed connection is closed after this at the latest. */
#define MILTER_LINGER_MS 2000

/* Postfix's default macro lists per stage (milter_*_macros). */
static const char *const default_macros[MILTER_STAGE_COUNT] = {
	[MILTER_STAGE_CONNECT] = "j {daemon_name} {daemon_addr} {if_name} "
				 "{if_addr} v _ {client_addr} {client_name} "
				 "{client_port}",
	[MILTER_STAGE_HELO] = "{tls_version} {cipher} {cipher_bits} "
			      "{cert_subject} {cert_issuer}",
	[MILTER_STAGE_MAIL] = "i {auth_type} {auth_authen} {auth_author} "
			      "{mail_addr} {mail_host} {mail_mailer}",
	[MILTER_STAGE_RCPT] = "{rcpt_addr} {rcpt_host} {rcpt_mailer}",
	[MILTER_STAGE_DATA] = "i",
	[MILTER_STAGE_EOM] = "i",
	[MILTER_STAGE_EOH] = "i",
};

enum m_state {
	M_CONNECTING,
	M_NEGOTIATING,
	M_READY,
	M_DEAD,
};

enum op {
	OP_NONE,
	OP_CONNECT,
	OP_HELO,
	OP_MAIL,
	OP_RCPT,
	OP_MESSAGE,
};

/* Where a milter is in the message stage. */
enum phase {
	PH_DATA,
	PH_HEADERS,
	PH_EOH,
	PH_BODY,
	PH_EOB,
	PH_DONE,
};

/* A modification gathered before the final reply to BODYEOB. */
struct mod {
	enum milter_reply_kind kind;
	uint32_t index;
	char *name, *value, *args;
	size_t value_n;	/* REPLBODY bytes may hold NULs */
};

struct milter_client;

struct milter {
	struct milter_client *mc;
	size_t index;
	struct milter_spec spec;	/* strings are ours */
	struct bufferevent *bev;
	struct event *timer;
	enum m_state state;
	uint32_t actions, protocol;
	char *symlist[MILTER_STAGE_COUNT];	/* NULL = default list */
	bool skip_session;	/* ACCEPT at connect/HELO, or failed+accept */
	bool skip_tx;		/* ACCEPT inside the transaction */
	bool in_tx;		/* MAIL sent, the message not finished */
	enum milter_cmd waiting;	/* command whose reply we wait for, or 0 */
	bool blocked;		/* output above MILTER_OUTPUT_MAX */
	/* message stage */
	enum phase phase;
	size_t hdr_i, body_off;
	struct mod *mods;
	size_t n_mods;
	const char *error;	/* why it died, for logs */
};

struct milter_client {
	struct event_base *base;
	char *sid;		/* the SMTP session's, for logs */
	struct milter *m;
	size_t n;
	struct { char *name, *value; } *macros;
	size_t n_macros;
	struct strbuf out;	/* packets being built */
	/* the stage in progress */
	enum op op;
	size_t cur;
	milter_done_fn *done;
	void *done_arg;
	struct event *kick;	/* starts a stage from the loop */
	struct event *done_ev;	/* calls done from the loop */
	struct strbuf *args;	/* the stage's strings (MAIL, RCPT args) */
	size_t n_args;
	enum milter_family family;
	unsigned port;
	/* message stage */
	struct milter_headers *hdrs;
	struct str body;
	struct strbuf body_buf;	/* a replaced body */
	struct strbuf message;	/* the result's message */
	/* the result being built and what it points to */
	struct milter_result res;
	struct strbuf reply;
	char *quarantine_reason;
	struct milter_rcpt_add *adds;
	char **dels;
	char *new_from, *new_from_args;
};

static void advance(struct milter_client *mc);
static void m_fail(struct milter *m, const char *why);
static void m_emit(struct milter *m);

const char *milter_verdict_name(enum milter_verdict v)
{
	switch (v) {
	case MILTER_CONTINUE: return "continue";
	case MILTER_ACCEPT: return "accept";
	case MILTER_REJECT: return "reject";
	case MILTER_TEMPFAIL: return "tempfail";
	case MILTER_DISCARD: return "discard";
	}
	return "?";
}

/* ---- macros ---- */

void milter_client_macro(struct milter_client *mc, const char *name,
			 const char *value)
{
	for (size_t i = 0; i < mc->n_macros; i++) {
		if (strcmp(mc->macros[i].name, name) != 0)
			continue;
		free(mc->macros[i].value);
		mc->macros[i].value = value != NULL ? xstrdup(value) : NULL;
		return;
	}
	if (value == NULL)
		return;
	mc->macros = xrealloc(mc->macros,
			      (mc->n_macros + 1) * sizeof(*mc->macros));
	mc->macros[mc->n_macros].name = xstrdup(name);
	mc->macros[mc->n_macros].value = xstrdup(value);
	mc->n_macros++;
}

/* The macro called name (as a list spells it: "i", "{auth_authen}"). */
static const char *macro_name(struct milter_client *mc, struct str name)
{
	for (size_t i = 0; i < mc->n_macros; i++)
		if (mc->macros[i].value != NULL &&
		    str_eq(str_c(mc->macros[i].name), name))
			return mc->macros[i].name;
	return NULL;
}

static const char *macro_get(struct milter_client *mc, const char *name)
{
	for (size_t i = 0; i < mc->n_macros; i++)
		if (mc->macros[i].name == name)
			return mc->macros[i].value;
	return NULL;
}

/* The MACRO packet for cmd: the stage's list, the macros that have a
 * value. Nothing when none has. */
static void put_stage_macros(struct milter *m, enum milter_cmd cmd)
{
	struct milter_client *mc = m->mc;
	int stage = milter_cmd_stage(cmd);
	struct milter_macro list[32];
	size_t n = 0;
	struct str names, name;

	if (stage < 0)
		return;
	names = str_c(m->symlist[stage] != NULL ? m->symlist[stage]
						: default_macros[stage]);
	while (names.n > 0 && n < ARRAY_SIZE(list)) {
		if (!str_split(names, ' ', &name, &names))
			names = STR_NULL;
		const char *known = name.n > 0 ? macro_name(mc, name) : NULL;

		if (known == NULL)
			continue;
		list[n].name = known;
		list[n].value = str_c(macro_get(mc, known));
		n++;
	}
	if (n > 0)
		milter_put_macros(&mc->out, cmd, list, n);
}

/* ---- I/O ---- */

static void m_timer_ms(struct milter *m, unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(m->timer, &tv);
}

/* Send what mc->out holds to m. */
static void m_flush(struct milter *m)
{
	struct milter_client *mc = m->mc;

	if (mc->out.n > 0 && m->bev != NULL)
		bufferevent_write(m->bev, mc->out.p, mc->out.n);
	strbuf_reset(&mc->out);
}

/* Send cmd (with its macros), and wait for its reply when it has one. */
static void m_send(struct milter *m, enum milter_cmd cmd)
{
	m_flush(m);
	if (milter_step_replies(m->protocol, cmd)) {
		m->waiting = cmd;
		m_timer_ms(m, m->spec.timeout_ms);
	}
}

static void mods_free(struct milter *m)
{
	for (size_t i = 0; i < m->n_mods; i++) {
		free(m->mods[i].name);
		free(m->mods[i].value);
		free(m->mods[i].args);
	}
	free(m->mods);
	m->mods = NULL;
	m->n_mods = 0;
}

static void m_close(struct milter *m)
{
	if (m->bev != NULL)
		bufferevent_free(m->bev);
	m->bev = NULL;
	evtimer_del(m->timer);
	m->waiting = 0;
	m->blocked = false;
}

/* ---- results ---- */

static void res_reply(struct milter_client *mc, unsigned code,
		      const char *enhanced, const char *text)
{
	strbuf_reset(&mc->reply);
	strbuf_printf(&mc->reply, "%u %s %s", code, enhanced, text);
	mc->res.reply = strbuf_cstr(&mc->reply);
	mc->res.code = code;
	snprintf(mc->res.enhanced, sizeof(mc->res.enhanced), "%s", enhanced);
}

/* The verdict of a failed milter with its on_error. */
static void res_on_error(struct milter_client *mc, struct milter *m)
{
	mc->res.failed = true;
	mc->res.by = m->spec.name;
	if (m->spec.on_error == MILTER_ON_ERROR_REJECT) {
		mc->res.verdict = MILTER_REJECT;
		res_reply(mc, 550, "5.7.1", "Command rejected");
	} else {
		mc->res.verdict = MILTER_TEMPFAIL;
		res_reply(mc, 451, "4.7.1",
			  "Service unavailable - try again later");
	}
}

/* The stage is decided: build the result, call done from the loop (so
 * that done may free the client or start the next stage whatever milter
 * callback we are in). */
static void finish(struct milter_client *mc)
{
	struct timeval now = { 0, 0 };

	if (mc->op == OP_MESSAGE &&
	    (mc->res.verdict == MILTER_CONTINUE ||
	     mc->res.verdict == MILTER_ACCEPT) &&
	    (mc->res.n_header_edits > 0 || mc->res.body_replaced)) {
		strbuf_reset(&mc->message);
		milter_headers_write(mc->hdrs, &mc->message);
		strbuf_append(&mc->message, "\r\n", 2);
		strbuf_append_str(&mc->message, mc->body);
		mc->res.changed = true;
		mc->res.message = strbuf_str(&mc->message);
	}
	mc->res.rcpt_adds = mc->adds;
	mc->res.rcpt_dels = (const char *const *)mc->dels;
	mc->res.new_from = mc->new_from;
	mc->res.new_from_args = mc->new_from_args != NULL ? mc->new_from_args
							  : "";
	mc->op = OP_NONE;
	evtimer_add(mc->done_ev, &now);
}

static void call_done(evutil_socket_t fd UNUSED, short what UNUSED,
		      void *arg)
{
	struct milter_client *mc = arg;
	milter_done_fn *done = mc->done;

	mc->done = NULL;
	done(mc->done_arg, &mc->res);
}

/* ---- failures ---- */

static void m_fail(struct milter *m, const char *why)
{
	struct milter_client *mc = m->mc;
	bool current = mc->op != OP_NONE && mc->cur == m->index;

	if (m->state == M_DEAD)
		return;
	log_warn(mc->sid, "milter %s: %s (%s)", m->spec.name, why,
		 m->spec.on_error == MILTER_ON_ERROR_ACCEPT ? "going on without it"
		 : m->spec.on_error == MILTER_ON_ERROR_REJECT ? "rejecting"
							      : "tempfail");
	m->error = why;
	m->state = M_DEAD;
	m->in_tx = false;
	mods_free(m);
	m_close(m);
	if (current)
		advance(mc);
}

/* ---- replies ---- */

static struct mod *mod_add(struct milter *m, const struct milter_reply *r)
{
	struct mod *d;

	m->mods = xrealloc(m->mods, (m->n_mods + 1) * sizeof(*m->mods));
	d = &m->mods[m->n_mods++];
	d->kind = r->kind;
	d->index = r->index;
	d->name = str_dup(r->name);
	d->value = xmemdup(r->value.p != NULL ? r->value.p : "", r->value.n + 1);
	d->value[r->value.n] = '\0';
	d->value_n = r->value.n;
	d->args = str_dup(r->args);
	return d;
}

/* A header value from a milter as written after the colon: without
 * HDR_LEADSPC the milter gave it without the space. */
static void header_text(const struct milter *m, const char *value,
			struct strbuf *out)
{
	strbuf_reset(out);
	if ((m->protocol & MILTER_P_HDR_LEADSPC) == 0 && value[0] != '\0')
		strbuf_putc(out, ' ');
	strbuf_append_c(out, value);
}

/* The end of the message was accepted: apply m's modifications, in the
 * order they came, so the next milter sees them. */
static void apply_mods(struct milter *m)
{
	struct milter_client *mc = m->mc;
	struct strbuf v = STRBUF_INIT, body = STRBUF_INIT;
	bool replaced = false, cr = false;

	for (size_t i = 0; i < m->n_mods; i++) {
		struct mod *d = &m->mods[i];

		switch (d->kind) {
		case MILTER_R_ADDHEADER:
			header_text(m, d->value, &v);
			milter_headers_add(mc->hdrs, str_c(d->name),
					   strbuf_str(&v));
			mc->res.n_header_edits++;
			break;
		case MILTER_R_INSHEADER:
			header_text(m, d->value, &v);
			milter_headers_insert(mc->hdrs, d->index, str_c(d->name),
					      strbuf_str(&v));
			mc->res.n_header_edits++;
			break;
		case MILTER_R_CHGHEADER:
			header_text(m, d->value, &v);
			milter_headers_change(mc->hdrs, str_c(d->name), d->index,
					      strbuf_str(&v));
			mc->res.n_header_edits++;
			break;
		case MILTER_R_REPLBODY:
			milter_body_append(&body, str_make(d->value, d->value_n),
					   &cr);
			replaced = true;
			break;
		case MILTER_R_ADDRCPT:
		case MILTER_R_ADDRCPT_PAR:
			mc->adds = xrealloc(mc->adds, (mc->res.n_rcpt_adds + 1) *
						      sizeof(*mc->adds));
			mc->adds[mc->res.n_rcpt_adds].address = d->value;
			mc->adds[mc->res.n_rcpt_adds].args = d->args;
			mc->res.n_rcpt_adds++;
			d->value = d->args = NULL;	/* now mc's */
			break;
		case MILTER_R_DELRCPT:
			mc->dels = xrealloc(mc->dels, (mc->res.n_rcpt_dels + 1) *
						      sizeof(*mc->dels));
			mc->dels[mc->res.n_rcpt_dels++] = d->value;
			d->value = NULL;
			break;
		case MILTER_R_CHGFROM:
			free(mc->new_from);
			free(mc->new_from_args);
			mc->new_from = d->value;
			mc->new_from_args = d->args;
			d->value = d->args = NULL;
			break;
		case MILTER_R_QUARANTINE:
			mc->res.quarantine = true;
			mc->res.by = m->spec.name;
			free(mc->quarantine_reason);
			mc->quarantine_reason = d->value;
			mc->res.quarantine_reason = d->value;
			d->value = NULL;
			break;
		default:
			break;
		}
	}
	if (replaced) {
		strbuf_free(&mc->body_buf);
		mc->body_buf = body;
		mc->body = strbuf_str(&mc->body_buf);
		mc->res.body_replaced = true;
	} else {
		strbuf_free(&body);
	}
	strbuf_free(&v);
	mods_free(m);
}

/* The stage is over for m: on to the next milter. */
static void m_stage_done(struct milter *m)
{
	m->mc->cur++;
	advance(m->mc);
}

static void on_optneg(struct milter *m, const struct milter_reply *r)
{
	const char *error;

	if (!milter_optneg_check(r, MILTER_F_ALL, MILTER_P_OFFER, &error)) {
		m_fail(m, error);
		return;
	}
	m->actions = r->actions;
	/* steps we did not offer are ignored, as Postfix does */
	m->protocol = r->protocol & MILTER_P_OFFER;
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		if (r->symlist[i].n > 0)
			m->symlist[i] = str_dup(r->symlist[i]);
	m->state = M_READY;
	if (m->mc->op != OP_NONE && m->mc->cur == m->index)
		advance(m->mc);
}

/* A final reply to the command m waited for. */
static void on_final(struct milter *m, enum milter_cmd cmd,
		     const struct milter_reply *r)
{
	struct milter_client *mc = m->mc;
	bool eob = cmd == MILTER_CMD_BODYEOB;

	if (eob)
		m->in_tx = false;
	switch (r->kind) {
	case MILTER_R_CONTINUE:
		if (eob)
			apply_mods(m);
		m_emit(m);
		return;
	case MILTER_R_SKIP:
		/* the rest of the body is not wanted */
		m->body_off = mc->body.n;
		m->phase = PH_EOB;
		m_emit(m);
		return;
	case MILTER_R_ACCEPT:
		if (eob)
			apply_mods(m);
		else
			mods_free(m);
		if (mc->op == OP_CONNECT || mc->op == OP_HELO)
			m->skip_session = true;
		else
			m->skip_tx = true;
		if (mc->res.verdict == MILTER_CONTINUE)
			mc->res.verdict = MILTER_ACCEPT;
		m_stage_done(m);
		return;
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
		m_fail(m, r->kind == MILTER_R_SHUTDOWN ? "milter shut down"
						       : "milter connection failure");
		return;
	default:
		break;
	}
	/* REJECT, TEMPFAIL, REPLYCODE, DISCARD: the stage's verdict */
	mods_free(m);
	mc->res.by = m->spec.name;
	mc->res.quarantine = false;
	if (r->kind == MILTER_R_DISCARD) {
		mc->res.verdict = MILTER_DISCARD;
	} else if (r->kind == MILTER_R_REPLYCODE) {
		mc->res.verdict = r->code >= 500 ? MILTER_REJECT
						 : MILTER_TEMPFAIL;
		strbuf_reset(&mc->reply);
		milter_value_crlf(&mc->reply, r->value);
		mc->res.reply = strbuf_cstr(&mc->reply);
		mc->res.code = r->code;
		memcpy(mc->res.enhanced, r->enhanced, sizeof(mc->res.enhanced));
		if (mc->res.enhanced[0] == '\0')
			snprintf(mc->res.enhanced, sizeof(mc->res.enhanced),
				 "%c.7.1", (char)('0' + r->code / 100));
	} else if (r->kind == MILTER_R_REJECT) {
		mc->res.verdict = MILTER_REJECT;
		res_reply(mc, 550, "5.7.1",
			  eob ? "Message content rejected"
			      : "Command rejected");
	} else {
		mc->res.verdict = MILTER_TEMPFAIL;
		res_reply(mc, 451, "4.7.1",
			  "Service unavailable - try again later");
	}
	finish(mc);
}

static void on_reply(struct milter *m, const struct milter_reply *r)
{
	enum milter_cmd cmd = m->waiting;
	const char *error;

	if (cmd == 0) {
		m_fail(m, "reply without a command");
		return;
	}
	if (!milter_reply_allowed(cmd, r, m->actions, m->protocol, &error)) {
		m_fail(m, error);
		return;
	}
	if (r->kind == MILTER_R_PROGRESS) {
		m_timer_ms(m, m->spec.timeout_ms);
		return;
	}
	if (!milter_reply_is_final(r->kind)) {
		mod_add(m, r);
		return;
	}
	m->waiting = 0;
	evtimer_del(m->timer);
	if (r->kind == MILTER_R_OPTNEG)
		on_optneg(m, r);
	else
		on_final(m, cmd, r);
}

static void m_read(struct bufferevent *bev, void *arg)
{
	struct milter *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* m may die inside on_reply: stop at once then */
	while (m->state != M_DEAD) {
		size_t len = evbuffer_get_length(in), used, want;
		unsigned char h[4];
		struct milter_reply r;
		const char *error;
		uint32_t plen;

		if (len < 4)
			return;
		evbuffer_copyout(in, h, 4);
		plen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		       (uint32_t)h[2] << 8 | h[3];
		want = plen > MILTER_MAX_REPLY ? 4 : 4 + (size_t)plen;
		if (len < want)
			return;
		const unsigned char *p = evbuffer_pullup(in, (ssize_t)want);

		switch (milter_decode(p, want, &used, &r, &error)) {
		case MILTER_DECODE_MORE:
			return;
		case MILTER_DECODE_ERROR:
			m_fail(m, error);
			return;
		case MILTER_DECODE_DONE:
			break;
		}
		/* the reply's views point into the buffer: drain after */
		on_reply(m, &r);
		if (m->state != M_DEAD && m->bev != NULL)
			evbuffer_drain(in, used);
	}
}

static void m_written(struct bufferevent *bev UNUSED, void *arg)
{
	struct milter *m = arg;

	if (m->blocked) {
		m->blocked = false;
		m_emit(m);
	}
}

static void m_event(struct bufferevent *bev UNUSED, short what, void *arg)
{
	struct milter *m = arg;

	if (what & BEV_EVENT_CONNECTED) {
		m->state = M_NEGOTIATING;
		milter_put_optneg(&m->mc->out, MILTER_VERSION, MILTER_F_ALL,
				  MILTER_P_OFFER);
		m_send(m, MILTER_CMD_OPTNEG);
		return;
	}
	if (what & BEV_EVENT_EOF)
		m_fail(m, m->state == M_CONNECTING ? "connection refused"
						   : "milter closed the connection");
	else if (what & BEV_EVENT_ERROR)
		m_fail(m, m->state == M_CONNECTING ? "cannot connect"
						   : "connection error");
}

static void m_timeout(evutil_socket_t fd UNUSED, short what UNUSED,
		      void *arg)
{
	struct milter *m = arg;

	m_fail(m, m->state == M_CONNECTING && m->bev == NULL ? "cannot connect"
	       : m->state == M_CONNECTING ? "connect timeout"
	       : m->state == M_NEGOTIATING ? "timeout negotiating"
					   : "timeout waiting for a reply");
}

/* Start the connect; failures are reported from the loop. */
static void m_connect(struct milter *m)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (m->spec.host != NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET, m->spec.host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)m->spec.port);
			len = sizeof(*sin);
		} else if (inet_pton(AF_INET6, m->spec.host,
				     &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)m->spec.port);
			len = sizeof(*sin6);
		}
	} else if (m->spec.unix_path != NULL &&
		   strlen(m->spec.unix_path) <
			   sizeof(((struct sockaddr_un *)0)->sun_path)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, m->spec.unix_path,
		       strlen(m->spec.unix_path) + 1);
		len = sizeof(*sun);
	}
	m->state = M_CONNECTING;
	m->bev = bufferevent_socket_new(m->mc->base, -1,
					BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(m->bev, m_read, m_written, m_event, m);
	bufferevent_setwatermark(m->bev, EV_READ, 0,
				 MILTER_MAX_REPLY + 4 + 65536);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	m_timer_ms(m, m->spec.connect_timeout_ms);
	if (len == 0 ||
	    bufferevent_socket_connect(m->bev, (struct sockaddr *)&ss,
				       (int)len) < 0) {
		/* reported from the loop, like a refused connect */
		m_timer_ms(m, 0);
		bufferevent_free(m->bev);
		m->bev = NULL;
		return;
	}
	if (m->spec.host != NULL)
		setsockopt(bufferevent_getfd(m->bev), IPPROTO_TCP, TCP_NODELAY,
			   &one, sizeof(one));
}

/* ---- the stages ---- */

/* Header value as milters get it: CRLF folds as LF (as Sendmail and
 * Postfix store headers), without the leading space unless LEADSPC. */
static void put_header(struct milter *m, struct str name, struct str value)
{
	struct strbuf v = STRBUF_INIT;

	if ((m->protocol & MILTER_P_HDR_LEADSPC) == 0)
		while (value.n > 0 && (value.p[0] == ' ' || value.p[0] == '\t'))
			value = str_from(value, 1);
	for (size_t i = 0; i < value.n; i++)
		if (value.p[i] != '\r' || i + 1 >= value.n ||
		    value.p[i + 1] != '\n')
			strbuf_putc(&v, value.p[i]);
	milter_put_header(&m->mc->out, name, strbuf_str(&v));
	strbuf_free(&v);
}

/* Emit the message stage's next commands to m until one waits for a
 * reply (or output is too full), or finish m's stage. */
static void emit_message(struct milter *m)
{
	struct milter_client *mc = m->mc;

	while (m->waiting == 0 && !m->blocked) {
		enum milter_cmd cmd;

		switch (m->phase) {
		case PH_DATA:
			cmd = MILTER_CMD_DATA;
			m->phase = PH_HEADERS;
			m->hdr_i = 0;
			if (milter_step_skipped(m->protocol, cmd))
				continue;
			put_stage_macros(m, cmd);
			milter_put_bare(&mc->out, cmd);
			break;
		case PH_HEADERS:
			cmd = MILTER_CMD_HEADER;
			if (m->hdr_i >= milter_headers_count(mc->hdrs) ||
			    milter_step_skipped(m->protocol, cmd)) {
				m->phase = PH_EOH;
				continue;
			}
			{
				struct str name, value;

				milter_headers_get(mc->hdrs, m->hdr_i++, &name,
						   &value);
				put_header(m, name, value);
			}
			break;
		case PH_EOH:
			cmd = MILTER_CMD_EOH;
			m->phase = PH_BODY;
			m->body_off = 0;
			if (milter_step_skipped(m->protocol, cmd))
				continue;
			put_stage_macros(m, cmd);
			milter_put_bare(&mc->out, cmd);
			break;
		case PH_BODY:
			cmd = MILTER_CMD_BODY;
			if (m->body_off >= mc->body.n ||
			    milter_step_skipped(m->protocol, cmd)) {
				m->phase = PH_EOB;
				continue;
			}
			{
				size_t k = MIN(mc->body.n - m->body_off,
					       (size_t)MILTER_CHUNK_SIZE);

				milter_put_body(&mc->out,
						mc->body.p + m->body_off, k);
				m->body_off += k;
			}
			break;
		case PH_EOB:
			cmd = MILTER_CMD_BODYEOB;
			m->phase = PH_DONE;
			put_stage_macros(m, cmd);
			milter_put_bare(&mc->out, cmd);
			break;
		default:
			m_stage_done(m);
			return;
		}
		m_send(m, cmd);
		if (m->waiting == 0 && m->bev != NULL &&
		    evbuffer_get_length(bufferevent_get_output(m->bev)) >
			    MILTER_OUTPUT_MAX) {
			m->blocked = true;
			bufferevent_setwatermark(m->bev, EV_WRITE,
						 MILTER_OUTPUT_MAX / 2, 0);
		}
	}
}

/* Emit the stage's command to m (or, after a CONTINUE, what follows). */
static void m_emit(struct milter *m)
{
	struct milter_client *mc = m->mc;
	enum milter_cmd cmd;

	if (mc->op == OP_MESSAGE) {
		emit_message(m);
		return;
	}
	if (m->phase == PH_DONE) {	/* the command was answered */
		m_stage_done(m);
		return;
	}
	m->phase = PH_DONE;
	switch (mc->op) {
	case OP_CONNECT:
		cmd = MILTER_CMD_CONNECT;
		break;
	case OP_HELO:
		cmd = MILTER_CMD_HELO;
		break;
	case OP_MAIL:
		cmd = MILTER_CMD_MAIL;
		break;
	default:
		cmd = MILTER_CMD_RCPT;
		break;
	}
	if (milter_step_skipped(m->protocol, cmd)) {
		m_stage_done(m);
		return;
	}
	put_stage_macros(m, cmd);
	switch (cmd) {
	case MILTER_CMD_CONNECT:
		milter_put_connect(&mc->out, strbuf_str(&mc->args[0]),
				   mc->family, mc->port,
				   strbuf_str(&mc->args[1]));
		break;
	case MILTER_CMD_HELO:
		milter_put_helo(&mc->out, strbuf_str(&mc->args[0]));
		break;
	default: {
		struct str a[64];
		size_t n = MIN(mc->n_args, ARRAY_SIZE(a));

		for (size_t i = 0; i < n; i++)
			a[i] = strbuf_str(&mc->args[i]);
		if (cmd == MILTER_CMD_MAIL)
			milter_put_mail(&mc->out, a, n);
		else
			milter_put_rcpt(&mc->out, a, n);
		break;
	}
	}
	m_send(m, cmd);
	if (m->waiting == 0)
		m_stage_done(m);
}

/* Run the stage on the milters from mc->cur on. */
static void advance(struct milter_client *mc)
{
	while (mc->op != OP_NONE && mc->cur < mc->n) {
		struct milter *m = &mc->m[mc->cur];
		bool tx_op = mc->op == OP_MAIL || mc->op == OP_RCPT ||
			     mc->op == OP_MESSAGE;

		if (m->state == M_DEAD) {
			if (m->spec.on_error == MILTER_ON_ERROR_ACCEPT) {
				mc->cur++;
				continue;
			}
			res_on_error(mc, m);
			finish(mc);
			return;
		}
		if (m->skip_session || (tx_op && m->skip_tx)) {
			mc->cur++;
			continue;
		}
		if (m->state != M_READY)
			return;	/* on_optneg or m_fail goes on */
		if (m->waiting != 0)
			return;	/* cannot happen: one stage at a time */
		m->phase = mc->op == OP_MESSAGE ? PH_DATA : PH_HEADERS;
		if (mc->op == OP_MAIL)
			m->in_tx = true;
		m_emit(m);
		return;
	}
	if (mc->op != OP_NONE)
		finish(mc);
}

static void kick(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	advance(arg);
}

static void res_reset(struct milter_client *mc)
{
	for (size_t i = 0; i < mc->res.n_rcpt_adds; i++) {
		free((char *)mc->adds[i].address);
		free((char *)mc->adds[i].args);
	}
	free(mc->adds);
	mc->adds = NULL;
	for (size_t i = 0; i < mc->res.n_rcpt_dels; i++)
		free(mc->dels[i]);
	free(mc->dels);
	mc->dels = NULL;
	free(mc->new_from);
	free(mc->new_from_args);
	free(mc->quarantine_reason);
	mc->new_from = mc->new_from_args = mc->quarantine_reason = NULL;
	memset(&mc->res, 0, sizeof(mc->res));
	mc->res.verdict = MILTER_CONTINUE;
}

static void set_args(struct milter_client *mc, const struct str *args,
		     size_t n)
{
	for (size_t i = 0; i < mc->n_args; i++)
		strbuf_free(&mc->args[i]);
	free(mc->args);
	mc->args = xcalloc(n + 1, sizeof(*mc->args));
	for (size_t i = 0; i < n; i++)
		strbuf_append_str(&mc->args[i], args[i]);
	mc->n_args = n;
}

static void start(struct milter_client *mc, enum op op, milter_done_fn *done,
		  void *arg)
{
	struct timeval now = { 0, 0 };

	ASSERT(mc->op == OP_NONE && mc->done == NULL);
	res_reset(mc);
	mc->op = op;
	mc->cur = 0;
	mc->done = done;
	mc->done_arg = arg;
	evtimer_add(mc->kick, &now);
}

void milter_client_connect(struct milter_client *mc,
			   const struct milter_connect_info *info,
			   milter_done_fn *done, void *arg)
{
	struct str a[2] = { str_c(info->hostname), str_c(info->address) };

	set_args(mc, a, 2);
	mc->port = info->port;
	if (info->address == NULL)
		mc->family = MILTER_FAMILY_UNKNOWN;
	else if (info->unix_socket)
		mc->family = MILTER_FAMILY_UNIX;
	else if (strchr(info->address, ':') != NULL)
		mc->family = MILTER_FAMILY_INET6;
	else
		mc->family = MILTER_FAMILY_INET;
	start(mc, OP_CONNECT, done, arg);
}

void milter_client_helo(struct milter_client *mc, const char *helo,
			milter_done_fn *done, void *arg)
{
	struct str a = str_c(helo);

	set_args(mc, &a, 1);
	start(mc, OP_HELO, done, arg);
}

void milter_client_mail(struct milter_client *mc, const struct str *args,
			size_t n, milter_done_fn *done, void *arg)
{
	/* a new transaction: what milters accepted in the last one is over */
	milter_client_abort(mc);
	set_args(mc, args, n);
	start(mc, OP_MAIL, done, arg);
}

void milter_client_rcpt(struct milter_client *mc, const struct str *args,
			size_t n, milter_done_fn *done, void *arg)
{
	set_args(mc, args, n);
	start(mc, OP_RCPT, done, arg);
}

void milter_client_message(struct milter_client *mc, struct str message,
			   milter_done_fn *done, void *arg)
{
	size_t hs = header_section_size(message);
	struct str rest = str_from(message, hs);

	milter_headers_free(&mc->hdrs);
	mc->hdrs = milter_headers_new(str_make(message.p, hs));
	if (str_starts_with(rest, STR_LIT("\r\n")))
		rest = str_from(rest, 2);
	else if (str_starts_with(rest, STR_LIT("\n")))
		rest = str_from(rest, 1);
	mc->body = rest;
	strbuf_free(&mc->body_buf);
	start(mc, OP_MESSAGE, done, arg);
}

void milter_client_abort(struct milter_client *mc)
{
	ASSERT(mc->op == OP_NONE);
	for (size_t i = 0; i < mc->n; i++) {
		struct milter *m = &mc->m[i];

		m->skip_tx = false;
		if (!m->in_tx || m->state != M_READY)
			continue;
		m->in_tx = false;
		milter_put_bare(&mc->out, MILTER_CMD_ABORT);
		m_flush(m);
	}
}

/* ---- life ---- */

struct milter_client *milter_client_new(struct event_base *base,
					const struct milter_spec *specs,
					size_t n, const char *sid)
{
	struct milter_client *mc = xcalloc(1, sizeof(*mc));

	mc->base = base;
	mc->sid = sid != NULL ? xstrdup(sid) : NULL;
	mc->n = n;
	mc->m = xcalloc(n == 0 ? 1 : n, sizeof(*mc->m));
	mc->kick = evtimer_new(base, kick, mc);
	mc->done_ev = evtimer_new(base, call_done, mc);
	res_reset(mc);
	for (size_t i = 0; i < n; i++) {
		struct milter *m = &mc->m[i];

		m->mc = mc;
		m->index = i;
		m->spec = specs[i];
		m->spec.name = xstrdup(specs[i].name != NULL ? specs[i].name
							     : "milter");
		m->spec.host = specs[i].host != NULL ? xstrdup(specs[i].host)
						     : NULL;
		m->spec.unix_path = specs[i].unix_path != NULL
					    ? xstrdup(specs[i].unix_path)
					    : NULL;
		if (m->spec.connect_timeout_ms == 0)
			m->spec.connect_timeout_ms = 5000;
		if (m->spec.timeout_ms == 0)
			m->spec.timeout_ms = 30000;
		m->timer = evtimer_new(base, m_timeout, m);
		m_connect(m);
	}
	return mc;
}

/* A QUIT'ed connection: freed once its output is written, or closed. */
static void linger_done(struct bufferevent *bev, void *arg UNUSED)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void linger_event(struct bufferevent *bev, short what UNUSED,
			 void *arg UNUSED)
{
	bufferevent_free(bev);
}

void milter_client_free(struct milter_client **mcp)
{
	struct milter_client *mc = *mcp;

	if (mc == NULL)
		return;
	*mcp = NULL;
	for (size_t i = 0; i < mc->n; i++) {
		struct milter *m = &mc->m[i];

		if (m->state == M_READY && m->waiting == 0 && m->bev != NULL) {
			struct timeval tv = { MILTER_LINGER_MS / 1000, 0 };

			milter_put_bare(&mc->out, MILTER_CMD_QUIT);
			m_flush(m);
			bufferevent_setcb(m->bev, NULL, linger_done,
					  linger_event, NULL);
			bufferevent_setwatermark(m->bev, EV_WRITE, 0, 0);
			bufferevent_set_timeouts(m->bev, &tv, &tv);
			m->bev = NULL;	/* it frees itself */
		}
		m_close(m);
		event_free(m->timer);
		mods_free(m);
		for (int s = 0; s < MILTER_STAGE_COUNT; s++)
			free(m->symlist[s]);
		free((char *)m->spec.name);
		free((char *)m->spec.host);
		free((char *)m->spec.unix_path);
	}
	free(mc->m);
	event_free(mc->kick);
	event_free(mc->done_ev);
	for (size_t i = 0; i < mc->n_macros; i++) {
		free(mc->macros[i].name);
		free(mc->macros[i].value);
	}
	free(mc->macros);
	for (size_t i = 0; i < mc->n_args; i++)
		strbuf_free(&mc->args[i]);
	free(mc->args);
	res_reset(mc);
	milter_headers_free(&mc->hdrs);
	strbuf_free(&mc->body_buf);
	strbuf_free(&mc->message);
	strbuf_free(&mc->reply);
	strbuf_free(&mc->out);
	free(mc->sid);
	free(mc);
}
