/* smtp_check_dnsbl.c: DNS block- and allowlists of the client address
 * (RFC 5782): at connect every list is asked (the A answer filtered by
 * the site's pattern, the TXT for the reply text) while the greeting
 * delay runs; the weights of the lists that answered are summed and, at
 * the threshold, every RCPT of the session gets 554 5.7.1 with the text
 * of the heaviest blocklist that listed the client. */
#include "base/log.h"
#include "dns/dns_rdata.h"
#include "mail/dnsbl.h"
#include "proto/smtp/smtp_checks.h"

#include <stdio.h>
#include <sys/socket.h>

struct dnsbl_lookup {
	struct smtp_check_ctx *c;
	const struct dnsbl_site *site;
	struct dns_query *a_q, *txt_q;
	bool listed;
	char *text;
};

struct dnsbl_state {
	struct dnsbl_lookup *lookups;
	size_t n;
	size_t out;		/* lookups with a query still out */
	bool decided;
};

static void dnsbl_decide(struct smtp_check_ctx *c)
{
	struct dnsbl_state *st = c->state;
	struct smtp_session *s = c->s;
	const struct smtp_inbound_settings *set = smtp_check_settings(c);
	int threshold = set->dnsbl_threshold > 0 ? set->dnsbl_threshold : 1;
	int sum = 0, best = 0;
	const struct dnsbl_lookup *worst = NULL;
	struct strbuf lists = STRBUF_INIT;

	st->decided = true;
	for (size_t i = 0; i < st->n; i++) {
		const struct dnsbl_lookup *l = &st->lookups[i];

		if (!l->listed)
			continue;
		sum += l->site->weight;
		strbuf_printf(&lists, "%s%s", lists.n > 0 ? "," : "",
			      l->site->zone);
		if (l->site->weight > best) {
			best = l->site->weight;
			worst = l;
		}
	}
	smtp_check_session_log(c, "dnsbl=%d%s%s%s", sum, lists.n > 0 ? "(" : "",
			       lists.n > 0 ? strbuf_cstr(&lists) : "",
			       lists.n > 0 ? ")" : "");
	if (sum >= threshold && worst != NULL) {
		char text[400];

		snprintf(text, sizeof(text), "Service unavailable; client [%s] "
			 "blocked using %s%s%s", s->core.peer_ip,
			 worst->site->zone, worst->text != NULL ? ": " : "",
			 worst->text != NULL ? worst->text : "");
		log_notice(session_sid(&s->core), "smtp client %s listed: %s "
			   "(score %d)", s->core.peer_ip, strbuf_cstr(&lists),
			   sum);
		smtp_check_session_verdict(c, SMTP_CHECK_REJECT,
					   SMTP_STATUS(554, "5.7.1", text));
	}
	strbuf_free(&lists);
}

/* A query of l is over: when it was the last of all, decide. */
static void dnsbl_query_over(struct dnsbl_lookup *l)
{
	struct smtp_check_ctx *c = l->c;
	struct dnsbl_state *st = c->state;

	if (l->a_q != NULL || l->txt_q != NULL)
		return;
	if (--st->out > 0)
		return;
	dnsbl_decide(c);
	smtp_check_end(c, SMTP_CHECK_BY_RCPT);
}

static void got_a(void *arg, const struct dns_addr_result *res)
{
	struct dnsbl_lookup *l = arg;

	l->a_q = NULL;
	for (size_t i = 0; res->status == DNS_OK && i < res->n_addrs; i++) {
		if (dnsbl_site_match(l->site, res->addrs[i]))
			l->listed = true;
	}
	dnsbl_query_over(l);
}

static void got_txt(void *arg, const struct dns_txt_result *res)
{
	struct dnsbl_lookup *l = arg;

	l->txt_q = NULL;
	if (res->status == DNS_OK && res->n > 0) {
		/* The client's words in our reply: printable ASCII only. */
		size_t n = MIN(res->lens[0], (size_t)200);

		l->text = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)res->txts[0][i];

			l->text[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		l->text[n] = '\0';
	}
	dnsbl_query_over(l);
}

static bool dnsbl_open(struct smtp_check_ctx *c)
{
	struct dnsbl_state *st = c->state;
	struct smtp_server *server = c->s->server;
	struct dns_resolver *r;

	if (server->n_dnsbl == 0)
		return false;
	st->lookups = xcalloc(server->n_dnsbl, sizeof(*st->lookups));
	st->n = server->n_dnsbl;
	r = smtp_check_resolver(c);
	for (size_t i = 0; i < st->n; i++) {
		struct dnsbl_lookup *l = &st->lookups[i];
		char name[DNS_NAME_MAX];

		l->c = c;
		l->site = &server->dnsbl[i];
		if (r == NULL ||
		    !dns_reverse_name(c->s->core.peer_ip, l->site->zone, name))
			continue;
		l->a_q = dns_lookup_addr_family(r, name, AF_INET, got_a, l);
		l->txt_q = dns_lookup_txt(r, name, got_txt, l);
		st->out++;
	}
	if (st->out > 0)
		smtp_check_begin(c, SMTP_CHECK_BY_RCPT);
	else
		dnsbl_decide(c);
	return true;
}

static void dnsbl_cancel(struct smtp_check_ctx *c, bool end)
{
	struct dnsbl_state *st = c->state;

	for (size_t i = 0; i < st->n; i++) {
		dns_cancel(&st->lookups[i].a_q);
		dns_cancel(&st->lookups[i].txt_q);
	}
	if (st->out > 0) {
		st->out = 0;
		if (!st->decided)
			dnsbl_decide(c);	/* with what came */
		if (end)
			smtp_check_end(c, SMTP_CHECK_BY_RCPT);
	}
}

static void dnsbl_timeout(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	if (wait == SMTP_CHECK_BY_RCPT) {
		smtp_check_session_log(c, "dnsbl_timeout");
		dnsbl_cancel(c, true);
	}
}

static void dnsbl_close(struct smtp_check_ctx *c)
{
	struct dnsbl_state *st = c->state;

	dnsbl_cancel(c, true);
	for (size_t i = 0; i < st->n; i++)
		free(st->lookups[i].text);
	free(st->lookups);
	st->lookups = NULL;
	st->n = 0;
}

const struct smtp_check smtp_check_dnsbl = {
	.name = "dnsbl",
	.state_size = sizeof(struct dnsbl_state),
	.open = dnsbl_open,
	.timeout = dnsbl_timeout,
	.close = dnsbl_close,
};
