/* smtp_check_spf.c: SPF (RFC 7208) in the inbound pipeline: at MAIL the
 * evaluation of the MAIL FROM identity (postmaster@HELO for <>) starts on
 * the thread's asynchronous resolver and runs while RCPT and DATA go on;
 * the end of data waits for it. Our own evaluator (mail/spf.h) rather than
 * libspf2, whose lookups block the calling thread. */
#include "base/log.h"
#include "proto/smtp/smtp_checks.h"

#include <sys/socket.h>

enum spf_identity { SPF_ID_MAILFROM, SPF_ID_HELO, SPF_ID_COUNT };

struct spf_run {
	struct smtp_check_ctx *c;
	enum spf_identity id;
	struct spf *spf;
	struct dns_query *q;	/* the lookup out, or NULL */
	bool running;		/* counted as pending */
	bool done;
	enum spf_result result;
	char *domain;
};

struct spf_state {
	struct spf_run runs[SPF_ID_COUNT];
};

static void run_step(struct spf_run *run);

static void run_clear(struct spf_run *run)
{
	dns_cancel(&run->q);
	spf_free(&run->spf);
	free(run->domain);
	run->domain = NULL;
	run->done = false;
}

/* The evaluation is over: record it and let the pipeline go on. */
static void run_finish(struct spf_run *run, enum spf_result result,
		       const char *reason)
{
	struct smtp_check_ctx *c = run->c;
	struct smtp_session *s = c->s;
	const struct smtp_inbound_settings *set = smtp_check_settings(c);
	bool helo = run->id == SPF_ID_HELO || s->tx->sender[0] == '\0';
	struct auth_result_prop prop = {
		helo ? "smtp.helo" : "smtp.mailfrom",
		helo ? s->helo : spf_sender(run->spf),
	};

	run->done = true;
	run->result = result;
	run->domain = xstrdup(spf_domain(run->spf));
	smtp_check_result(c, "spf", spf_result_name(result), reason, &prop, 1);
	smtp_check_log(c, "%s=%s", run->id == SPF_ID_HELO ? "spf_helo" : "spf",
		       spf_result_name(result));
	if (run->id == SPF_ID_MAILFROM && result == SPF_FAIL &&
	    set->spf_reject_fail)
		/* RFC 7372 3.2: 5.7.23 for an SPF failure. */
		smtp_check_verdict(c, SMTP_CHECK_REJECT,
				   SMTP_STATUS(550, "5.7.23", "SPF check failed"));
	spf_free(&run->spf);
	run->running = false;
	smtp_check_end(c, SMTP_CHECK_BY_EOM);
}

static void run_answer(struct spf_run *run, enum dns_status st,
		       const char *const *items, size_t n)
{
	static const enum spf_dns_status map[] = {
		[DNS_OK] = SPF_DNS_OK,
		[DNS_NXDOMAIN] = SPF_DNS_NXDOMAIN,
		[DNS_NODATA] = SPF_DNS_NODATA,
		[DNS_TEMPFAIL] = SPF_DNS_TEMPFAIL,
	};

	run->q = NULL;
	spf_answer(run->spf, map[st], items, n);
	run_step(run);
}

static void got_txt(void *arg, const struct dns_txt_result *res)
{
	run_answer(arg, res->status, res->txts, res->n);
}

static void got_addr(void *arg, const struct dns_addr_result *res)
{
	run_answer(arg, res->status, res->addrs, res->n_addrs);
}

static void got_mx(void *arg, const struct dns_mx_result *res)
{
	run_answer(arg, res->status, res->hosts, res->n_hosts);
}

static void got_names(void *arg, const struct dns_names_result *res)
{
	run_answer(arg, res->status, res->names, res->n);
}

static void run_step(struct spf_run *run)
{
	const struct spf_query *q;

	while (!spf_step(run->spf, &q)) {
		struct dns_resolver *r = smtp_check_resolver(run->c);

		if (r == NULL) {
			spf_answer(run->spf, SPF_DNS_TEMPFAIL, NULL, 0);
			continue;
		}
		switch (q->type) {
		case SPF_Q_TXT:
			run->q = dns_lookup_txt(r, q->name, got_txt, run);
			break;
		case SPF_Q_A:
		case SPF_Q_AAAA:
			run->q = dns_lookup_addr_family(r, q->name,
				q->type == SPF_Q_A ? AF_INET : AF_INET6,
				got_addr, run);
			break;
		case SPF_Q_MX:
			run->q = dns_lookup_mx(r, q->name, got_mx, run);
			break;
		case SPF_Q_PTR:
			run->q = dns_lookup_ptr(r, q->name, got_names, run);
			break;
		}
		return;
	}
	const char *reason;
	enum spf_result result = spf_result(run->spf, &reason);

	run_finish(run, result, reason);
}

static void run_start(struct smtp_check_ctx *c, enum spf_identity id)
{
	struct spf_state *st = c->state;
	struct spf_run *run = &st->runs[id];
	struct smtp_session *s = c->s;
	const char *helo = s->helo != NULL ? s->helo : "";
	char *postmaster = NULL;

	run_clear(run);
	run->c = c;
	run->id = id;
	if (id == SPF_ID_HELO)
		postmaster = xasprintf("postmaster@%s", helo);
	run->spf = spf_new(s->core.peer_ip,
			   id == SPF_ID_HELO ? postmaster : s->tx->sender,
			   id == SPF_ID_HELO ? helo : NULL, helo,
			   s->server->core.hostname);
	free(postmaster);
	run->running = true;
	smtp_check_begin(c, SMTP_CHECK_BY_EOM);
	run_step(run);
}

static bool spf_open(struct smtp_check_ctx *c)
{
	return smtp_check_settings(c)->spf;
}

static void spf_mail(struct smtp_check_ctx *c)
{
	run_start(c, SPF_ID_MAILFROM);
	/* For <> the MAIL FROM check is the HELO check already. */
	if (smtp_check_settings(c)->spf_helo && c->s->tx->sender[0] != '\0')
		run_start(c, SPF_ID_HELO);
}

static void spf_timeout(struct smtp_check_ctx *c, enum smtp_check_wait wait)
{
	struct spf_state *st = c->state;

	if (wait != SMTP_CHECK_BY_EOM)
		return;
	for (size_t i = 0; i < SPF_ID_COUNT; i++) {
		struct spf_run *run = &st->runs[i];

		if (!run->running)
			continue;
		dns_cancel(&run->q);
		run_finish(run, SPF_TEMPERROR, "DNS lookups timed out");
	}
}

static void spf_tx_end(struct smtp_check_ctx *c)
{
	struct spf_state *st = c->state;

	for (size_t i = 0; i < SPF_ID_COUNT; i++) {
		struct spf_run *run = &st->runs[i];

		if (run->running) {
			run->running = false;
			smtp_check_end(c, SMTP_CHECK_BY_EOM);
		}
		run_clear(run);
	}
}

bool smtp_check_spf_result(struct smtp_session *s, enum spf_result *result_r,
			   const char **domain_r)
{
	struct smtp_check_ctx *c = smtp_checks_find(s, &smtp_check_spf);
	struct spf_state *st;

	if (c == NULL || !c->enabled)
		return false;
	st = c->state;
	if (!st->runs[SPF_ID_MAILFROM].done)
		return false;
	*result_r = st->runs[SPF_ID_MAILFROM].result;
	*domain_r = st->runs[SPF_ID_MAILFROM].domain;
	return true;
}

const struct smtp_check smtp_check_spf = {
	.name = "spf",
	.state_size = sizeof(struct spf_state),
	.open = spf_open,
	.mail = spf_mail,
	.timeout = spf_timeout,
	.tx_end = spf_tx_end,
	.close = spf_tx_end,
};
