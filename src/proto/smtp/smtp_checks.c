/* smtp_checks.c: the inbound check pipeline (see smtp_checks.h): the table
 * of checks, their per-session handles, the verdicts, results and log
 * words of the session and of its transaction, and the two waits (an
 * RCPT's answer, the end of data) that hold the session, never the
 * thread, until the checks' operations are over or the bound runs out. */
#include "base/log.h"
#include "mail/header.h"
#include "net/net.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_dns.h"

#include <event2/event.h>
#include <stdarg.h>

#define SMTP_CHECKS_DEFAULT_TIMEOUT_MS 20000

/* The checks in the order their hooks run: adding one is a line here and
 * its extern in smtp_checks.h. DMARC goes after SPF and DKIM (its eom
 * reads their results), milters last. */
static const struct smtp_check *const check_table[] = {
	&smtp_check_dnsbl,
	&smtp_check_spf,
	&smtp_check_dkim,
	&smtp_check_dmarc,
	&smtp_check_milter,	/* after every other check: its eom runs last */
};
#define N_CHECKS ARRAY_SIZE(check_table)

/* What a check decided for a scope (the session or a transaction). */
struct checks_scope {
	enum smtp_check_action action;
	struct smtp_status status;	/* strings in the scope's arena */
	struct auth_results results;
	struct strbuf log;		/* " spf=pass dnsbl=0" */
};

struct checks_edit {
	const char *name, *value;	/* value NULL: delete */
	unsigned index;			/* 0: add */
};

enum checks_wait_kind { WAIT_NONE, WAIT_RCPT, WAIT_EOM };

struct smtp_checks {
	struct smtp_check_ctx ctx[N_CHECKS];
	struct event_base *base;
	struct arena conn_arena;
	struct checks_scope conn;
	/* The transaction's part: from smtp_checks_mail to tx_end. */
	bool in_tx;
	struct arena tx_arena;
	struct checks_scope tx;
	double score;
	struct checks_edit *edits;	/* tx_arena */
	size_t n_edits, cap_edits;
	struct strbuf log_line;
	/* The RCPT being checked. */
	struct smtp_status rcpt_refuse;	/* code 0: none */
	/* A wait: what it holds, what runs after it. */
	enum checks_wait_kind waiting;
	struct event *timer;
	bool held;
	/* Hooks are running (eom, timeout): an operation that ends inside
	 * them does not resume the wait; the caller looks again after. */
	bool busy;
	smtp_checks_rcpt_fn *rcpt_done;
	void *rcpt_arg;
	smtp_checks_eom_fn *eom_done;
	size_t eom_next;
};

static const char *const action_names[] = {
	[SMTP_CHECK_ACCEPT] = "accept",
	[SMTP_CHECK_QUARANTINE] = "quarantine",
	[SMTP_CHECK_DISCARD] = "discard",
	[SMTP_CHECK_TEMPFAIL] = "tempfail",
	[SMTP_CHECK_REJECT] = "reject",
};

const char *smtp_check_action_name(enum smtp_check_action a)
{
	return a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

static struct smtp_checks *ctx_checks(struct smtp_check_ctx *c)
{
	return c->s->checks;
}

static void scope_init(struct checks_scope *sc, struct arena *a)
{
	sc->action = SMTP_CHECK_ACCEPT;
	sc->status = (struct smtp_status){ 0, NULL, NULL };
	auth_results_init(&sc->results, a);
	sc->log = (struct strbuf)STRBUF_INIT;
}

static void scope_deinit(struct checks_scope *sc)
{
	strbuf_free(&sc->log);
}

/* ---- for checks ---- */

struct dns_resolver *smtp_check_resolver(struct smtp_check_ctx *c)
{
	if (c->s->core.conn == NULL)
		return NULL;
	return smtp_dns_get(c->s->server->dns, c->s->core.conn,
			    session_sid(&c->s->core));
}

const struct smtp_inbound_settings *smtp_check_settings(
	const struct smtp_check_ctx *c)
{
	return &c->s->server->set.inbound;
}

static unsigned checks_pending(const struct smtp_checks *ch,
			       enum smtp_check_wait wait)
{
	unsigned n = 0;

	for (size_t i = 0; i < N_CHECKS; i++)
		n += ch->ctx[i].pending[wait];
	return n;
}

void smtp_check_begin(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	ASSERT(wait < SMTP_CHECK_WAIT_COUNT);
	c->pending[wait]++;
}

static void checks_resume(struct smtp_session *s);

void smtp_check_end(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	struct smtp_checks *ch = ctx_checks(c);

	ASSERT(wait < SMTP_CHECK_WAIT_COUNT && c->pending[wait] > 0);
	c->pending[wait]--;
	if (ch->busy || !ch->held)
		return;
	/* An EOM wait also waits for what an RCPT would. */
	if ((ch->waiting == WAIT_RCPT &&
	     checks_pending(ch, SMTP_CHECK_BY_RCPT) == 0) ||
	    (ch->waiting == WAIT_EOM &&
	     checks_pending(ch, SMTP_CHECK_BY_RCPT) == 0 &&
	     checks_pending(ch, SMTP_CHECK_BY_EOM) == 0))
		checks_resume(c->s);
}

static struct checks_scope *ctx_scope(struct smtp_check_ctx *c, bool session,
				      struct arena **arena_r)
{
	struct smtp_checks *ch = ctx_checks(c);

	if (ch->in_tx && !session) {
		*arena_r = &ch->tx_arena;
		return &ch->tx;
	}
	*arena_r = &ch->conn_arena;
	return &ch->conn;
}

void smtp_check_result(struct smtp_check_ctx *c, const char *method,
		       const char *result, const char *reason,
		       const struct auth_result_prop *props, size_t n_props)
{
	struct arena *a;
	struct checks_scope *sc = ctx_scope(c, false, &a);

	auth_results_add(&sc->results, method, result, reason, props, n_props);
}

static void scope_vlog(struct smtp_check_ctx *c, bool session, const char *fmt,
		       va_list ap)
{
	struct arena *a;
	struct checks_scope *sc = ctx_scope(c, session, &a);

	strbuf_putc(&sc->log, ' ');
	strbuf_vprintf(&sc->log, fmt, ap);
}

void smtp_check_log(struct smtp_check_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	scope_vlog(c, false, fmt, ap);
	va_end(ap);
}

void smtp_check_session_log(struct smtp_check_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	scope_vlog(c, true, fmt, ap);
	va_end(ap);
}

static struct smtp_status status_copy(struct arena *a, struct smtp_status st)
{
	return (struct smtp_status){
		st.code,
		st.enhanced != NULL ? arena_strdup(a, st.enhanced) : NULL,
		st.text != NULL ? arena_strdup(a, st.text) : NULL,
	};
}

static void scope_verdict(struct smtp_check_ctx *c, bool session,
			  enum smtp_check_action action, struct smtp_status st)
{
	struct arena *a;
	struct checks_scope *sc = ctx_scope(c, session, &a);

	if (action <= sc->action && sc->action != SMTP_CHECK_ACCEPT)
		return;		/* the first of the worst wins */
	if (action == SMTP_CHECK_ACCEPT)
		return;
	sc->action = action;
	sc->status = status_copy(a, st);
}

void smtp_check_verdict(struct smtp_check_ctx *c, enum smtp_check_action a,
			struct smtp_status st)
{
	scope_verdict(c, false, a, st);
}

void smtp_check_session_verdict(struct smtp_check_ctx *c,
				enum smtp_check_action a,
				struct smtp_status st)
{
	scope_verdict(c, true, a, st);
}

void smtp_check_rcpt_refuse(struct smtp_check_ctx *c, struct smtp_status st)
{
	struct smtp_checks *ch = ctx_checks(c);

	if (ch->rcpt_refuse.code == 0 && ch->in_tx)
		ch->rcpt_refuse = status_copy(&ch->tx_arena, st);
}

void smtp_check_score(struct smtp_check_ctx *c, double points)
{
	ctx_checks(c)->score += points;
}

static void edit_add(struct smtp_check_ctx *c, const char *name,
		     unsigned index, const char *value)
{
	struct smtp_checks *ch = ctx_checks(c);
	struct checks_edit *e;

	if (!ch->in_tx)
		return;
	if (ch->n_edits == ch->cap_edits) {
		size_t cap = ch->cap_edits == 0 ? 8 : ch->cap_edits * 2;
		struct checks_edit *edits = arena_alloc(&ch->tx_arena,
							cap * sizeof(*edits));

		if (ch->n_edits > 0)
			memcpy(edits, ch->edits, ch->n_edits * sizeof(*edits));
		ch->edits = edits;
		ch->cap_edits = cap;
	}
	e = &ch->edits[ch->n_edits++];
	e->name = arena_strdup(&ch->tx_arena, name);
	e->value = value != NULL ? arena_strdup(&ch->tx_arena, value) : NULL;
	e->index = index;	/* A field our own checks write is a verdict we believe (a
	 * milter's X-Spam-Status): the Junk decision reads it. */
	if (value != NULL && c->s->tx != NULL)
		smtp_junk_our_field(c->s->tx, str_c(name), str_c(value));
}

void smtp_check_header_add(struct smtp_check_ctx *c, const char *name,
			   const char *value)
{
	edit_add(c, name, 0, value != NULL ? value : "");
}

void smtp_check_header_change(struct smtp_check_ctx *c, const char *name,
			      unsigned index, const char *value)
{
	if (index > 0)
		edit_add(c, name, index, value);
}

struct smtp_check_ctx *smtp_checks_find(struct smtp_session *s,
					const struct smtp_check *check)
{
	if (s->checks == NULL)
		return NULL;
	for (size_t i = 0; i < N_CHECKS; i++) {
		if (s->checks->ctx[i].check == check)
			return &s->checks->ctx[i];
	}
	return NULL;
}

/* ---- the session's side ---- */

bool smtp_checks_active(const struct smtp_session *s)
{
	return s->checks != NULL;
}

void smtp_checks_open(struct smtp_session *s)
{
	const struct smtp_inbound_settings *set = &s->server->set.inbound;
	struct smtp_checks *ch;

	if (!set->checks || s->core.service->mode != SMTP_MODE_MTA ||
	    s->trusted)
		return;
	ch = xcalloc(1, sizeof(*ch));
	s->checks = ch;
	ch->base = net_thread_base(conn_thread(s->core.conn));
	arena_init(&ch->conn_arena, 0);
	scope_init(&ch->conn, &ch->conn_arena);
	for (size_t i = 0; i < N_CHECKS; i++) {
		struct smtp_check_ctx *c = &ch->ctx[i];

		c->s = s;
		c->check = check_table[i];
		c->state = c->check->state_size > 0 ?
			xcalloc(1, c->check->state_size) : NULL;
		c->enabled = c->check->open == NULL || c->check->open(c);
	}
}

#define FOR_ENABLED(ch, c, hook) \
	for (struct smtp_check_ctx *c = (ch)->ctx; c < (ch)->ctx + N_CHECKS; c++) \
		if (c->enabled && c->check->hook != NULL)

void smtp_checks_helo(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL)
		return;
	FOR_ENABLED(ch, c, helo)
		c->check->helo(c);
}

void smtp_checks_mail(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL)
		return;
	if (ch->in_tx)
		smtp_checks_tx_end(s);
	ch->in_tx = true;
	arena_init(&ch->tx_arena, 0);
	scope_init(&ch->tx, &ch->tx_arena);
	ch->score = 0;
	ch->edits = NULL;
	ch->n_edits = ch->cap_edits = 0;
	FOR_ENABLED(ch, c, mail)
		c->check->mail(c);
}

/* The worse of the session's and the transaction's verdicts. */
static enum smtp_check_action checks_action(const struct smtp_checks *ch,
					    struct smtp_status *st_r)
{
	const struct checks_scope *sc = &ch->conn;

	if (ch->in_tx && ch->tx.action > ch->conn.action)
		sc = &ch->tx;
	*st_r = sc->status;
	if (sc->action == SMTP_CHECK_REJECT && st_r->code == 0)
		*st_r = SMTP_STATUS(550, "5.7.1", "Message refused by policy");
	if (sc->action == SMTP_CHECK_TEMPFAIL && st_r->code == 0)
		*st_r = SMTP_STATUS(451, "4.7.1", "Try again later");
	return sc->action;
}

static void checks_timer_stop(struct smtp_checks *ch)
{
	if (ch->timer != NULL) {
		event_free(ch->timer);
		ch->timer = NULL;
	}
}

static void checks_timeout(evutil_socket_t fd, short what, void *arg);

/* Hold the session (no input, outlives its conn) for a wait. */
static void checks_hold(struct smtp_session *s, enum checks_wait_kind kind)
{
	struct smtp_checks *ch = s->checks;
	unsigned ms = s->server->set.inbound.check_timeout_ms;
	struct timeval tv;

	if (ms == 0)
		ms = SMTP_CHECKS_DEFAULT_TIMEOUT_MS;
	tv = (struct timeval){ ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	ch->waiting = kind;
	checks_timer_stop(ch);
	ch->timer = evtimer_new(ch->base, checks_timeout, s);
	evtimer_add(ch->timer, &tv);
	if (!ch->held) {
		ch->held = true;
		session_hold(&s->core);
		session_pending_begin(&s->core);
	}
}

/* The RCPT's answer once nothing is pending. */
static int checks_rcpt_finish(struct smtp_session *s, bool gone)
{
	struct smtp_checks *ch = s->checks;
	smtp_checks_rcpt_fn *done = ch->rcpt_done;
	void *arg = ch->rcpt_arg;
	struct smtp_status st, refuse = ch->rcpt_refuse;
	enum smtp_check_action a = checks_action(ch, &st);

	ch->waiting = WAIT_NONE;
	ch->rcpt_done = NULL;
	if (refuse.code == 0 &&
	    (a == SMTP_CHECK_REJECT || a == SMTP_CHECK_TEMPFAIL))
		refuse = st;
	return done(s, arg, refuse.code != 0 ? &refuse : NULL, gone);
}

int smtp_checks_rcpt(struct smtp_session *s, const char *address,
		     smtp_checks_rcpt_fn *done, void *arg)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL || !ch->in_tx)
		return done(s, arg, NULL, false);
	ch->rcpt_refuse = (struct smtp_status){ 0, NULL, NULL };
	ch->rcpt_done = done;
	ch->rcpt_arg = arg;
	FOR_ENABLED(ch, c, rcpt)
		c->check->rcpt(c, address);
	if (checks_pending(ch, SMTP_CHECK_BY_RCPT) == 0)
		return checks_rcpt_finish(s, false);
	checks_hold(s, WAIT_RCPT);
	return 0;
}

void smtp_checks_body(struct smtp_session *s, const char *p, size_t n)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL || !ch->in_tx || n == 0)
		return;
	FOR_ENABLED(ch, c, body)
		c->check->body(c, p, n);
}

static void checks_build_log(struct smtp_checks *ch)
{
	struct smtp_status st;
	enum smtp_check_action a = checks_action(ch, &st);

	strbuf_reset(&ch->log_line);
	strbuf_printf(&ch->log_line, " checks:%s%s action=%s",
		      ch->conn.log.n > 0 ? strbuf_cstr(&ch->conn.log) : "",
		      ch->in_tx && ch->tx.log.n > 0 ? strbuf_cstr(&ch->tx.log) : "",
		      smtp_check_action_name(a));
}

static void checks_eom_finish(struct smtp_session *s, bool gone)
{
	struct smtp_checks *ch = s->checks;
	smtp_checks_eom_fn *done = ch->eom_done;

	ch->waiting = WAIT_NONE;
	ch->eom_done = NULL;
	done(s, gone);
}

/* Run the eom hooks in order, each once everything before it is over.
 * True when the pipeline is through (done may have run: do not touch the
 * transaction after). */
static bool checks_eom_advance(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	for (;;) {
		if (checks_pending(ch, SMTP_CHECK_BY_RCPT) > 0 ||
		    checks_pending(ch, SMTP_CHECK_BY_EOM) > 0) {
			checks_hold(s, WAIT_EOM);
			return false;
		}
		if (ch->eom_next == N_CHECKS)
			return true;
		struct smtp_check_ctx *c = &ch->ctx[ch->eom_next++];

		if (c->enabled && c->check->eom != NULL) {
			ch->busy = true;
			c->check->eom(c);
			ch->busy = false;
		}
	}
}

void smtp_checks_eom(struct smtp_session *s, smtp_checks_eom_fn *done)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL || !ch->in_tx) {
		done(s, false);
		return;
	}
	ch->eom_done = done;
	ch->eom_next = 0;
	ch->waiting = WAIT_EOM;
	if (checks_eom_advance(s))
		checks_eom_finish(s, false);
}

/* A wait is over (the last operation ended, or the bound ran out): let go
 * of the session and go on. */
static void checks_resume(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;
	enum checks_wait_kind kind = ch->waiting;
	bool gone;

	if (kind == WAIT_EOM && !checks_eom_advance(s))
		return;		/* the next eom hook waits again */
	checks_timer_stop(ch);
	ch->held = false;
	gone = s->core.conn == NULL || conn_is_closing(s->core.conn);
	if (!gone)
		session_release(&s->core);
	if (kind == WAIT_RCPT) {
		int ret = checks_rcpt_finish(s, gone);

		if (!gone && ret < 0)
			session_bad(&s->core);
	} else {
		checks_eom_finish(s, gone);
	}
	session_pending_end(&s->core);	/* may free s */
}

static void checks_timeout(evutil_socket_t fd UNUSED, short what UNUSED,
			   void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_checks *ch = s->checks;
	enum smtp_check_wait waits[2] = { SMTP_CHECK_BY_RCPT, SMTP_CHECK_BY_EOM };
	size_t n_waits = ch->waiting == WAIT_EOM ? 2 : 1;

	event_free(ch->timer);
	ch->timer = NULL;
	ch->busy = true;
	/* Each check ends what it has out; one without a timeout hook is
	 * a bug, but the session must not hang for it. */
	for (size_t w = 0; w < n_waits; w++) {
		for (size_t i = 0; i < N_CHECKS; i++) {
			struct smtp_check_ctx *c = &ch->ctx[i];

			if (c->pending[waits[w]] == 0)
				continue;
			log_info(session_sid(&s->core), "inbound check %s: "
				 "timed out", c->check->name);
			if (c->check->timeout != NULL)
				c->check->timeout(c, waits[w]);
			if (c->pending[waits[w]] > 0) {
				log_error(session_sid(&s->core), "inbound check "
					  "%s: operations left after its timeout",
					  c->check->name);
				c->pending[waits[w]] = 0;
			}
		}
	}
	ch->busy = false;
	checks_resume(s);
}

enum smtp_check_action smtp_checks_action(const struct smtp_session *s,
					  struct smtp_status *st_r)
{
	if (s->checks == NULL) {
		*st_r = (struct smtp_status){ 0, NULL, NULL };
		return SMTP_CHECK_ACCEPT;
	}
	return checks_action(s->checks, st_r);
}

double smtp_checks_score(const struct smtp_session *s)
{
	return s->checks != NULL ? s->checks->score : 0;
}

/* Rename, in place and at the same length (the stream parse's offsets stay
 * right), every incoming Authentication-Results field that claims to be
 * ours (RFC 8601 5): it was not written by us for this message. */
static void checks_rename_forged(struct smtp_session *s, const char *id)
{
	static const char renamed[] = "X-Claimed-Auth-Results";
	struct smtp_tx *tx = s->tx;
	struct str msg = smtp_tx_msg(tx);
	struct str block = str_make(msg.p, header_section_size(msg));
	struct header_field f;
	size_t pos = 0;

	_Static_assert(sizeof(renamed) == sizeof("Authentication-Results"),
		       "same length");
	while (header_next(block, &pos, &f)) {
		if (!str_caseeq(f.name, STR_LIT("Authentication-Results")) ||
		    !auth_results_claims(f.value, id))
			continue;
		memcpy(tx->msg.p + (f.name.p - tx->msg.p), renamed,
		       sizeof(renamed) - 1);
		log_info(session_sid(&s->core), "smtp tx %s: renamed an "
			 "Authentication-Results field claiming to be ours",
			 tx->id);
	}
}

/* A field edit from a check (a milter): change or delete the index'th
 * field of its name. The header section is rewritten, so the stream
 * parse is dropped (the store parses again). */
static void checks_apply_edit(struct smtp_session *s,
			      const struct checks_edit *e)
{
	struct smtp_tx *tx = s->tx;
	struct str msg = smtp_tx_msg(tx);
	struct str block = str_make(msg.p, header_section_size(msg));
	struct header_field f;
	size_t pos = 0, start;
	unsigned seen = 0;

	for (;;) {
		start = pos;
		if (!header_next(block, &pos, &f))
			return;
		if (str_caseeq(f.name, str_c(e->name)) && ++seen == e->index)
			break;
	}
	/* header_next skips lines without a colon; the field starts at
	 * its name. */
	start = (size_t)(f.name.p - msg.p);

	struct strbuf field = STRBUF_INIT;
	size_t off = tx->msg_room + start, len = pos - start;

	if (e->value != NULL)
		strbuf_printf(&field, "%.*s:%s%s\r\n", (int)f.name.n, f.name.p,
			      e->value[0] == ' ' || e->value[0] == '\t' ? "" :
			      " ", e->value);
	smtp_tx_drop_mime(tx);
	if (field.n <= len) {
		memcpy(tx->msg.p + off, field.p != NULL ? field.p : "", field.n);
		memmove(tx->msg.p + off + field.n, tx->msg.p + off + len,
			tx->msg.n - off - len);
		tx->msg.n -= len - field.n;
	} else {
		size_t grow = field.n - len;

		strbuf_grow(&tx->msg, grow);
		memmove(tx->msg.p + off + field.n, tx->msg.p + off + len,
			tx->msg.n - off - len);
		memcpy(tx->msg.p + off, field.p, field.n);
		tx->msg.n += grow;
	}
	tx->msg.p[tx->msg.n] = '\0';
	strbuf_free(&field);
}

void smtp_checks_header(struct smtp_session *s, struct strbuf *out)
{
	struct smtp_checks *ch = s->checks;
	const char *id;
	struct auth_results all;
	struct arena a;

	if (ch == NULL || !ch->in_tx)
		return;
	id = s->server->set.inbound.authserv_id != NULL ?
	     s->server->set.inbound.authserv_id : s->server->core.hostname;
	arena_init(&a, 0);
	auth_results_init(&all, &a);
	for (int k = 0; k < 2; k++) {
		const struct auth_results *r = k == 0 ? &ch->conn.results :
					       &ch->tx.results;

		for (size_t i = 0; i < r->n; i++)
			auth_results_add(&all, r->items[i].method,
					 r->items[i].result, r->items[i].reason,
					 r->items[i].props, r->items[i].n_props);
	}
	auth_results_format(out, id, all.items, all.n);
	arena_deinit(&a);
	for (size_t i = 0; i < ch->n_edits; i++) {
		const struct checks_edit *e = &ch->edits[i];

		if (e->index == 0)
			strbuf_printf(out, "%s:%s%s\r\n", e->name,
				      e->value[0] == ' ' || e->value[0] == '\t' ?
				      "" : " ", e->value);
	}
	checks_rename_forged(s, id);
	for (size_t i = 0; i < ch->n_edits; i++) {
		if (ch->edits[i].index > 0)
			checks_apply_edit(s, &ch->edits[i]);
	}
}

const char *smtp_checks_log_line(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL || !ch->in_tx)
		return "";
	checks_build_log(ch);
	return strbuf_cstr(&ch->log_line);
}

void smtp_checks_tx_end(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL || !ch->in_tx)
		return;
	ASSERT(ch->waiting == WAIT_NONE);
	FOR_ENABLED(ch, c, tx_end)
		c->check->tx_end(c);
	for (size_t i = 0; i < N_CHECKS; i++) {
		if (ch->ctx[i].pending[SMTP_CHECK_BY_EOM] > 0) {
			log_error(session_sid(&s->core), "inbound check %s: "
				  "operations left after the transaction",
				  ch->ctx[i].check->name);
			ch->ctx[i].pending[SMTP_CHECK_BY_EOM] = 0;
		}
	}
	scope_deinit(&ch->tx);
	strbuf_free(&ch->log_line);
	arena_deinit(&ch->tx_arena);
	ch->in_tx = false;
}

void smtp_checks_close(struct smtp_session *s)
{
	struct smtp_checks *ch = s->checks;

	if (ch == NULL)
		return;
	ch->waiting = WAIT_NONE;
	smtp_checks_tx_end(s);
	FOR_ENABLED(ch, c, close)
		c->check->close(c);
	for (size_t i = 0; i < N_CHECKS; i++)
		free(ch->ctx[i].state);
	checks_timer_stop(ch);
	scope_deinit(&ch->conn);
	arena_deinit(&ch->conn_arena);
	free(ch);
	s->checks = NULL;
}
