/* smtp_check_dmarc.c: DMARC (RFC 7489) in the inbound pipeline: the From
 * domain is read as soon as the header section has streamed in, its policy
 * record looked up while the body goes on; at the end of data the SPF and
 * DKIM results decide pass/fail, the policy refuses or quarantines, and
 * the outcome is counted for the aggregate reports through the writer. */
#include "base/log.h"
#include "delivery/dmarc_store.h"
#include "mail/dmarc.h"
#include "net/net.h"
#include "proto/smtp/smtp_checks.h"

#include <time.h>

/* Header bytes kept to find the From field: far past any honest header;
 * what is past it is not looked at (the From field of such a message must
 * come early, as it does). */
#define DMARC_MAX_HEADER (256 * 1024)

struct dmarc_state {
	struct smtp_check_ctx *c;
	struct strbuf header;
	bool header_done;
	enum dmarc_from from_kind;
	struct strbuf from;		/* the From domain, lower case */
	struct arena arena;		/* this tx: names, TXT copies */
	struct str names[2];
	size_t n_names, next;
	struct dns_query *q;
	bool running;			/* a lookup counted as pending */
	bool found_done;
	bool eval_in_callback;		/* discovery started at eom */
	struct dmarc_found found;
};

static void dmarc_evaluate_tx(struct dmarc_state *st);

static void state_clear(struct dmarc_state *st)
{
	dns_cancel(&st->q);
	if (st->running) {
		st->running = false;
		smtp_check_end(st->c, SMTP_CHECK_BY_EOM);
	}
	strbuf_free(&st->header);
	strbuf_free(&st->from);
	arena_deinit(&st->arena);
	st->header_done = false;
	st->found_done = false;
	st->eval_in_callback = false;
	st->n_names = st->next = 0;
	memset(&st->found, 0, sizeof(st->found));
}

static void discovery_over(struct dmarc_state *st)
{
	st->found_done = true;
	if (st->eval_in_callback)
		dmarc_evaluate_tx(st);
	if (st->running) {
		st->running = false;
		smtp_check_end(st->c, SMTP_CHECK_BY_EOM);
	}
}

static void lookup_next(struct dmarc_state *st);

static void got_txt(void *arg, const struct dns_txt_result *res)
{
	struct dmarc_state *st = arg;
	enum dmarc_dns dns = res->status == DNS_OK ? DMARC_DNS_ANSWER :
			     res->status == DNS_TEMPFAIL ? DMARC_DNS_TEMPERROR :
			     DMARC_DNS_NONE;
	struct str *txts = arena_alloc(&st->arena,
				       (res->n + 1) * sizeof(*txts));

	st->q = NULL;
	/* the record's views must outlive the callback */
	for (size_t i = 0; i < res->n; i++)
		txts[i] = arena_str(&st->arena,
				    str_make(res->txts[i], res->lens[i]));
	if (dmarc_discover(&st->found, st->next, st->n_names, dns, txts,
			   res->n)) {
		discovery_over(st);
		return;
	}
	st->next++;
	lookup_next(st);
}

static void lookup_next(struct dmarc_state *st)
{
	struct dns_resolver *r = smtp_check_resolver(st->c);

	if (r == NULL) {
		dmarc_discover(&st->found, st->next, st->n_names,
			       DMARC_DNS_TEMPERROR, NULL, 0);
		discovery_over(st);
		return;
	}
	st->q = dns_lookup_txt(r, st->names[st->next].p, got_txt, st);
}

/* The header section is complete (or as much of it as we keep): find the
 * From domain and start the policy discovery. */
static void header_complete(struct dmarc_state *st)
{
	const struct smtp_inbound_settings *set = smtp_check_settings(st->c);

	st->header_done = true;
	st->from_kind = dmarc_from_domain(strbuf_str(&st->header), &st->from);
	strbuf_free(&st->header);
	if (st->from_kind != DMARC_FROM_ONE) {
		st->found_done = true;
		return;
	}
	arena_init(&st->arena, 0);
	st->n_names = dmarc_lookup_names(&st->arena, set->psl,
					 strbuf_str(&st->from), st->names);
	if (st->n_names == 0) {
		st->from_kind = DMARC_FROM_BAD;
		st->found_done = true;
		return;
	}
	st->running = true;
	smtp_check_begin(st->c, SMTP_CHECK_BY_EOM);
	lookup_next(st);
}

static bool dmarc_open(struct smtp_check_ctx *c)
{
	const struct smtp_inbound_settings *set = smtp_check_settings(c);
	struct dmarc_state *st = c->state;

	st->c = c;
	return set->dmarc && set->psl != NULL;
}

static void dmarc_mail(struct smtp_check_ctx *c)
{
	state_clear(c->state);
}

static void dmarc_body(struct smtp_check_ctx *c, const char *p, size_t n)
{
	struct dmarc_state *st = c->state;
	size_t from, keep;

	if (st->header_done)
		return;
	from = st->header.n > 3 ? st->header.n - 3 : 0;
	keep = MIN(n, DMARC_MAX_HEADER - st->header.n);
	strbuf_append(&st->header, p, keep);
	/* the empty line that ends the header: LF LF or LF CR LF */
	for (size_t i = from; i + 1 < st->header.n; i++) {
		if (st->header.p[i] != '\n')
			continue;
		if (st->header.p[i + 1] == '\n' ||
		    (st->header.p[i + 1] == '\r' && i + 2 < st->header.n &&
		     st->header.p[i + 2] == '\n')) {
			header_complete(st);
			return;
		}
	}
	if (st->header.n >= DMARC_MAX_HEADER || (st->header.n > 0 &&
						 st->header.p[0] == '\n'))
		header_complete(st);
}

/* ---- the DKIM results (smtp_check_dkim.c) ---- */

static enum dmarc_auth dkim_auth(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return DMARC_AUTH_NONE;
	case DKIM_RESULT_PASS: return DMARC_AUTH_PASS;
	case DKIM_RESULT_FAIL: return DMARC_AUTH_FAIL;
	case DKIM_RESULT_NEUTRAL: return DMARC_AUTH_NEUTRAL;
	case DKIM_RESULT_POLICY: return DMARC_AUTH_POLICY;
	case DKIM_RESULT_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case DKIM_RESULT_PERMERROR: return DMARC_AUTH_PERMERROR;
	}
	return DMARC_AUTH_NONE;
}

/* The result, d= and s= of every DKIM-Signature the DKIM check verified
 * (none when it does not run: then only SPF can align). */
static size_t dkim_inputs(struct smtp_session *s, struct arena *a,
			  struct dmarc_dkim **sigs_r)
{
	const struct dkim_verify *dv = smtp_check_dkim_results(s);
	size_t n = dv != NULL ? dkim_verify_result_count(dv) : 0, k = 0;

	*sigs_r = arena_alloc(a, (n + 1) * sizeof(**sigs_r));
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *r = dkim_verify_result(dv, i);

		if (r->kind != DKIM_SIG_DKIM || r->domain[0] == '\0')
			continue;
		(*sigs_r)[k++] = (struct dmarc_dkim){
			.result = dkim_auth(r->result),
			.domain = str_c(r->domain),
			.selector = str_c(r->selector),
		};
	}
	return k;
}

static enum dmarc_auth spf_auth(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return DMARC_AUTH_NONE;
	case SPF_NEUTRAL: return DMARC_AUTH_NEUTRAL;
	case SPF_PASS: return DMARC_AUTH_PASS;
	case SPF_FAIL: return DMARC_AUTH_FAIL;
	case SPF_SOFTFAIL: return DMARC_AUTH_SOFTFAIL;
	case SPF_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case SPF_PERMERROR: return DMARC_AUTH_PERMERROR;
	}
	return DMARC_AUTH_NONE;
}

/* The domain of an address, "" for none. */
static const char *addr_domain(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

	return at != NULL ? at + 1 : "";
}

static void lower(char *p)
{
	for (; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

struct dmarc_row_req {
	struct dmarc_store_req q;
	struct arena arena;
};

static void row_done(void *arg, struct store_result *res)
{
	struct dmarc_row_req *r = arg;

	if (res->status != 0)
		log_warn(NULL, "dmarc: report row not stored: %s", res->error);
	store_result_free(&res);
	arena_deinit(&r->arena);
	free(r);
}

static char *rua_text(struct arena *a, const struct dmarc_record *rec)
{
	struct strbuf b = STRBUF_INIT;
	char *out;

	for (size_t i = 0; i < rec->rua_count; i++) {
		if (i > 0)
			strbuf_putc(&b, ',');
		strbuf_append_str(&b, rec->rua[i].uri);
		if (rec->rua[i].max_size > 0)
			strbuf_printf(&b, "!%llu",
				      (unsigned long long)rec->rua[i].max_size);
	}
	out = arena_strdup(a, strbuf_cstr(&b));
	strbuf_free(&b);
	return out;
}

/* Count the message for the aggregate report of its policy domain, in
 * the writer's next batch; nothing waits for it. */
static void record_row(struct dmarc_state *st, const struct dmarc_input *in,
		       const struct dmarc_eval *e, enum dmarc_disposition disp,
		       enum dmarc_override why, const char *spf_scope)
{
	const struct dmarc_record *rec = &st->found.rec;
	struct smtp_session *s = st->c->s;
	struct dmarc_row_req *r;
	struct strbuf sigs = STRBUF_INIT;
	struct arena *a;
	const char *policy_domain;
	int64_t day = (int64_t)time(NULL) / 86400;

	if (st->found.kind != DMARC_FOUND_RECORD || rec->rua_count == 0)
		return;		/* nobody asked for reports */
	r = xcalloc(1, sizeof(*r));
	a = &r->arena;
	arena_init(a, 0);
	dmarc_store_req_init(&r->q, DMARC_STORE_RECORD);
	/* the record's domain: the From domain or its organisational one */
	policy_domain = st->names[st->found.at_org ? 1 : 0].p + 7;
	for (size_t i = 0; i < in->dkim_count; i++)
		strbuf_printf(&sigs, "%s%s %.*s %.*s", i > 0 ? ";" : "",
			      dmarc_auth_name(in->dkim[i].result),
			      (int)in->dkim[i].domain.n, in->dkim[i].domain.p,
			      (int)in->dkim[i].selector.n,
			      in->dkim[i].selector.p);
	r->q.row = (struct dmarc_row){
		.day = day,
		.header_from = arena_strdup(a, strbuf_cstr(&st->from)),
		.policy_domain = arena_strdup(a, policy_domain),
		.source_ip = arena_strdup(a, s->core.peer_ip),
		.envelope_from = arena_strdup(a, addr_domain(s->tx->sender)),
		.disposition = dmarc_disposition_name(disp),
		.override = dmarc_override_name(why),
		.dmarc_dkim = e->dkim_aligned ? "pass" : "fail",
		.dmarc_spf = e->spf_aligned ? "pass" : "fail",
		.dkim = arena_strdup(a, strbuf_cstr(&sigs)),
		.spf_result = dmarc_auth_name(in->spf),
		.spf_domain = arena_str(a, in->spf_domain).p,
		.spf_scope = spf_scope,
	};
	lower((char *)r->q.row.envelope_from);
	lower((char *)r->q.row.spf_domain);
	r->q.policy = (struct dmarc_policy_row){
		.day = day,
		.domain = r->q.row.policy_domain,
		.p = dmarc_policy_name(rec->p),
		.sp = dmarc_policy_name(rec->sp),
		.pct = rec->pct,
		.adkim = rec->adkim == DMARC_ALIGN_STRICT ? "s" : "r",
		.aspf = rec->aspf == DMARC_ALIGN_STRICT ? "s" : "r",
		.fo = arena_str(a, rec->fo).p,
		.rua = rua_text(a, rec),
	};
	strbuf_free(&sigs);
	store_submit(session_store(&s->core), &r->q.req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     row_done, r);
}

static void dmarc_evaluate_tx(struct dmarc_state *st)
{
	struct smtp_check_ctx *c = st->c;
	struct smtp_session *s = c->s;
	const struct smtp_inbound_settings *set = smtp_check_settings(c);
	const struct dmarc_local local = { set->dmarc_reject,
					   set->dmarc_quarantine };
	struct arena a;
	struct dmarc_input in = {
		.from_domain = strbuf_str(&st->from),
		.from_kind = st->from_kind,
	};
	struct dmarc_dkim *sigs;
	struct dmarc_eval e;
	enum dmarc_disposition disp;
	enum dmarc_override why;
	enum spf_result spf;
	const char *spf_domain, *scope;
	bool helo = s->tx->sender[0] == '\0';

	arena_init(&a, 0);
	/* RFC 7489 3.1.2 with RFC 7208 2.4: SPF's MAIL FROM identity, which
	 * is postmaster@HELO for the null sender */
	scope = helo ? "helo" : "mfrom";
	if (smtp_check_spf_result(s, &spf, &spf_domain)) {
		in.spf = spf_auth(spf);
		in.spf_domain = str_c(spf_domain);
	} else {
		in.spf = DMARC_AUTH_NONE;
		in.spf_domain = str_c(helo ? (s->helo != NULL ? s->helo : "") :
				      addr_domain(s->tx->sender));
	}
	in.dkim_count = dkim_inputs(s, &a, &sigs);
	in.dkim = sigs;
	dmarc_evaluate(set->psl, &in, &st->found, NULL, NULL, &e);
	disp = dmarc_disposition(&e, &local, &why);

	struct auth_result_prop props[2];
	size_t n_props = 0;

	if (st->from_kind == DMARC_FROM_ONE)
		props[n_props++] = (struct auth_result_prop){
			"header.from", strbuf_cstr(&st->from) };
	if (st->found.kind == DMARC_FOUND_RECORD)
		props[n_props++] = (struct auth_result_prop){
			"policy.dmarc", dmarc_policy_name(e.policy) };
	/* a reason only where it tells the reader something: why it failed
	 * or was an error of the sender's; none and temperror say it all
	 * (and every stored message carries the field) */
	smtp_check_result(c, "dmarc", dmarc_result_name(e.result),
			  e.result == DMARC_RESULT_FAIL ||
			  e.result == DMARC_RESULT_PERMERROR ? e.reason : NULL,
			  props, n_props);
	smtp_check_log(c, "dmarc=%s(%s%s%s)", dmarc_result_name(e.result),
		       st->from_kind == DMARC_FROM_ONE ?
		       strbuf_cstr(&st->from) : dmarc_from_name(st->from_kind),
		       st->found.kind == DMARC_FOUND_RECORD ? " p=" : "",
		       st->found.kind == DMARC_FOUND_RECORD ?
		       dmarc_policy_name(e.policy) : "");
	if (disp == DMARC_DISP_REJECT) {
		char *text = e.from_conflict ?
			xasprintf("From fields with different domains "
				  "(RFC 7489 6.6.1)") :
			xasprintf("DMARC policy of %s rejects this message",
				  strbuf_cstr(&st->from));

		smtp_check_verdict(c, SMTP_CHECK_REJECT,
				   SMTP_STATUS(550, "5.7.1", text));
		free(text);
	} else if (disp == DMARC_DISP_QUARANTINE) {
		smtp_check_verdict(c, SMTP_CHECK_QUARANTINE,
				   SMTP_STATUS(0, NULL, NULL));
	}
	record_row(st, &in, &e, disp, why, scope);
	arena_deinit(&a);
}

static void dmarc_eom(struct smtp_check_ctx *c)
{
	struct dmarc_state *st = c->state;

	if (!st->header_done)
		header_complete(st);	/* a message that is all header */
	if (!st->found_done) {
		/* the lookup started just now: evaluate when it is over */
		st->eval_in_callback = true;
		return;
	}
	dmarc_evaluate_tx(st);
}

static void dmarc_timeout(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	struct dmarc_state *st = c->state;

	if (wait != SMTP_CHECK_BY_EOM || !st->running)
		return;
	dns_cancel(&st->q);
	memset(&st->found, 0, sizeof(st->found));
	st->found.kind = DMARC_FOUND_TEMPERROR;
	st->found.reason = "DNS lookup timed out";
	discovery_over(st);
}

static void dmarc_tx_end(struct smtp_check_ctx *c)
{
	state_clear(c->state);
}

const struct smtp_check smtp_check_dmarc = {
	.name = "dmarc",
	.state_size = sizeof(struct dmarc_state),
	.open = dmarc_open,
	.mail = dmarc_mail,
	.body = dmarc_body,
	.eom = dmarc_eom,
	.timeout = dmarc_timeout,
	.tx_end = dmarc_tx_end,
	.close = dmarc_tx_end,
};
