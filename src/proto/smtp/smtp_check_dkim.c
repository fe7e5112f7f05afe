/* smtp_check_dkim.c: DKIM (RFC 6376) and ARC (RFC 8617) verification in the
 * inbound pipeline: the message's bytes go to the streaming verifier as
 * they arrive, the key records are looked up as soon as the header is
 * complete (while the body still streams), and the end of data adds one
 * dkim= result per signature and one arc= result. */
#include "base/log.h"
#include "delivery/dkim_keys.h"
#include "mail/arc.h"
#include "proto/smtp/smtp_checks.h"

#include <ctype.h>
#include <time.h>

struct key_lookup {
	struct smtp_check_ctx *c;
	size_t index;			/* in the verifier */
	struct dns_query *q;
	bool running;			/* counted as pending */
};

struct dkim_state {
	struct dkim_verify *dv;
	struct arc_verify *av;		/* NULL when [inbound] arc is off */
	struct key_lookup *lookups;
	size_t n_lookups;
	bool keys_started;
	bool computed;
	enum arc_result arc;		/* the chain, once computed */
};

static void lookups_cancel(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;

	for (size_t i = 0; i < st->n_lookups; i++) {
		struct key_lookup *l = &st->lookups[i];

		dns_cancel(&l->q);
		if (l->running) {
			l->running = false;
			smtp_check_end(c, SMTP_CHECK_BY_EOM);
		}
	}
}

static void state_clear(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;

	lookups_cancel(c);
	free(st->lookups);
	dkim_verify_free(&st->dv);
	arc_verify_free(&st->av);
	memset(st, 0, sizeof(*st));
}

static void got_key(void *arg, const struct dns_txt_result *res)
{
	struct key_lookup *l = arg;
	struct dkim_state *st = l->c->state;
	struct str txt[16];
	size_t n = MIN(res->n, ARRAY_SIZE(txt));
	enum dkim_dns status = res->status == DNS_OK ? DKIM_DNS_OK :
			       res->status == DNS_TEMPFAIL ? DKIM_DNS_TEMPFAIL :
							     DKIM_DNS_NXDOMAIN;

	l->q = NULL;
	for (size_t i = 0; i < n; i++)
		txt[i] = str_make(res->txts[i], res->lens[i]);
	/* NODATA: the name exists without TXT, no key either */
	if (res->status == DNS_NODATA)
		status = DKIM_DNS_OK;
	dkim_verify_key_answer(st->dv, l->index, status, txt,
			       status == DKIM_DNS_OK ? n : 0);
	l->running = false;
	smtp_check_end(l->c, SMTP_CHECK_BY_EOM);
}

/* The header is complete: look up every key now, while the body streams. */
static void keys_start(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;
	size_t n = dkim_verify_key_count(st->dv);
	struct dns_resolver *r;

	st->keys_started = true;
	if (n == 0)
		return;
	r = smtp_check_resolver(c);
	st->lookups = xcalloc(n, sizeof(*st->lookups));
	st->n_lookups = n;
	for (size_t i = 0; i < n; i++) {
		struct key_lookup *l = &st->lookups[i];

		l->c = c;
		l->index = i;
		if (r == NULL) {
			dkim_verify_key_answer(st->dv, i, DKIM_DNS_TEMPFAIL,
					       NULL, 0);
			continue;
		}
		l->running = true;
		smtp_check_begin(c, SMTP_CHECK_BY_EOM);
		l->q = dns_lookup_txt(r, dkim_verify_key_name(st->dv, i),
				      got_key, l);
	}
}

static bool dkim_open(struct smtp_check_ctx *c)
{
	return smtp_check_settings(c)->dkim;
}

static void dkim_mail(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;
	const struct smtp_inbound_settings *set = smtp_check_settings(c);
	struct dkim_verify_params params = {
		.max_signatures = set->dkim_max_signatures,
		.now = (int64_t)time(NULL),
	};

	state_clear(c);
	if (set->arc) {
		st->av = arc_verify_new();
		arc_verify_hook(st->av, &params);
	}
	st->dv = dkim_verify_new(&params);
}

static void dkim_body(struct smtp_check_ctx *c, const char *p, size_t n)
{
	struct dkim_state *st = c->state;

	if (st->dv == NULL)
		return;
	dkim_verify_feed(st->dv, p, n);
	if (!st->keys_started && dkim_verify_header_done(st->dv))
		keys_start(c);
}

static void add_arc(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;
	struct arc_outcome out;
	struct auth_result_prop props[2];
	char oldest[16];
	size_t n = 0;

	arc_verify_compute(st->av, st->dv, &out);
	st->arc = out.result;
	props[n++] = (struct auth_result_prop){ "smtp.remote-ip",
						c->s->core.peer_ip };
	if (out.result == ARC_RESULT_PASS) {
		snprintf(oldest, sizeof(oldest), "%u", out.oldest_pass);
		props[n++] = (struct auth_result_prop){ "header.oldest-pass",
							oldest };
	}
	smtp_check_result(c, "arc", arc_result_name(out.result),
			  out.reason[0] != '\0' ? out.reason : NULL, props, n);
	smtp_check_log(c, "arc=%s", arc_result_name(out.result));
}

static void dkim_eom(struct smtp_check_ctx *c)
{
	struct dkim_state *st = c->state;
	size_t n;

	if (st->dv == NULL)
		return;
	dkim_verify_end(st->dv);
	/* A message without an empty line only ends its header here: its
	 * keys were never looked up and its signatures get temperror. */
	st->keys_started = true;
	dkim_verify_compute(st->dv);
	st->computed = true;
	n = dkim_verify_result_count(st->dv);
	if (n == 0) {
		smtp_check_result(c, "dkim", "none", NULL, NULL, 0);
		smtp_check_log(c, "dkim=none");
	}
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *r = dkim_verify_result(st->dv, i);
		struct auth_result_prop props[4];
		size_t np = 0;

		if (r->domain[0] != '\0') {
			props[np++] = (struct auth_result_prop){ "header.d",
								 r->domain };
			props[np++] = (struct auth_result_prop){ "header.i",
								 r->identity };
			props[np++] = (struct auth_result_prop){ "header.s",
								 r->selector };
			props[np++] = (struct auth_result_prop){ "header.b",
								 r->header_b };
		}
		smtp_check_result(c, "dkim", dkim_result_name(r->result),
				  r->reason[0] != '\0' ? r->reason : NULL,
				  props, np);
		smtp_check_log(c, "dkim=%s(d=%s)", dkim_result_name(r->result),
			       r->domain);
	}
	if (dkim_verify_skipped(st->dv) > 0)
		smtp_check_log(c, "dkim_skipped=%zu",
			       dkim_verify_skipped(st->dv));
	if (st->av != NULL)
		add_arc(c);
}

static void dkim_timeout(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	struct dkim_state *st = c->state;

	if (wait != SMTP_CHECK_BY_EOM)
		return;
	/* the keys still out count as a failed lookup: temperror */
	for (size_t i = 0; i < st->n_lookups; i++) {
		struct key_lookup *l = &st->lookups[i];

		if (!l->running)
			continue;
		dns_cancel(&l->q);
		dkim_verify_key_answer(st->dv, l->index, DKIM_DNS_TEMPFAIL,
				       NULL, 0);
		l->running = false;
		smtp_check_end(c, SMTP_CHECK_BY_EOM);
	}
}

const struct dkim_verify *smtp_check_dkim_results(struct smtp_session *s)
{
	struct smtp_check_ctx *c = smtp_checks_find(s, &smtp_check_dkim);
	struct dkim_state *st;

	if (c == NULL || !c->enabled)
		return NULL;
	st = c->state;
	return st->computed ? st->dv : NULL;
}

void smtp_check_dkim_seal(struct smtp_session *s, struct strbuf *header)
{
	struct smtp_check_ctx *c = smtp_checks_find(s, &smtp_check_dkim);
	const struct dkim_keys *keys = s->server->set.dkim;
	struct smtp_tx *tx = s->tx;
	struct dkim_state *st;
	struct strbuf ar = STRBUF_INIT;
	struct header_field f;
	struct str value;
	size_t pos = 0;
	const char *error;

	if (c == NULL || !c->enabled || keys == NULL || tx->n_remotes == 0)
		return;
	st = c->state;
	/* without our verification of the chain there is no cv= to give */
	if (!st->computed || st->av == NULL)
		return;
	if (!header_next(strbuf_str(header), &pos, &f) ||
	    !str_caseeq(f.name, STR_LIT("Authentication-Results")))
		return;
	value = str_trim(f.value);
	while (value.n > 0 && (value.p[value.n - 1] == '\n' ||
			       value.p[value.n - 1] == '\r'))
		value.n--;
	/* a copy: the seal is appended to the buffer value points into */
	strbuf_append_str(&ar, value);
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		const char *at = strrchr(tx->rcpts[i], '@');
		char *domain;
		int r;

		if (!tx->rcpt_remote[i] || at == NULL)
			continue;
		domain = xstrdup(at + 1);
		for (char *p = domain; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		r = dkim_keys_arc_seal(keys, domain, smtp_tx_msg(tx),
				       strbuf_str(&ar), st->arc,
				       (int64_t)time(NULL), header, &error);
		if (r < 0)
			log_warn(session_sid(&s->core), "smtp tx %s: not "
				 "ARC-sealed for %s: %s", tx->id, domain,
				 error);
		free(domain);
		if (r != 0)
			break;
	}
	strbuf_free(&ar);
}

const struct smtp_check smtp_check_dkim = {
	.name = "dkim",
	.state_size = sizeof(struct dkim_state),
	.open = dkim_open,
	.mail = dkim_mail,
	.body = dkim_body,
	.eom = dkim_eom,
	.timeout = dkim_timeout,
	.tx_end = state_clear,
	.close = state_clear,
};
