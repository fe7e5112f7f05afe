/* smtp_junk.c: Junk filing on port 25. The verdict comes from fields we
 * trust: those our own filters add (fed here by the check pipeline), and
 * the whole header of a message relayed by a trusted_networks host (a
 * front-end filter that scanned it); a message from anyone else may
 * carry any X-Spam-* field it likes, and none of them is read. Checks
 * may also ask for Junk outright (DMARC p=quarantine, a milter). */
#include "base/log.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_int.h"

void smtp_junk_our_field(struct smtp_tx *tx, struct str name, struct str value)
{
	(void)spam_verdict_field(&tx->spam, name, value);
}

void smtp_junk_request(struct smtp_tx *tx, const char *why)
{
	if (!tx->junk)
		tx->junk_why = why;
	tx->junk = true;
}

bool smtp_junk_decide(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const struct smtp_settings *set = &s->server->set;
	const char *from = "our filters";

	if (s->core.service->mode != SMTP_MODE_MTA)
		return false;
	if (tx->junk) {
		log_info(session_sid(&s->core), "smtp tx %s junk: %s", tx->id,
			 tx->junk_why != NULL ? tx->junk_why : "requested");
		return true;
	}
	if (!set->junk)
		return false;
	if (s->trusted) {
		spam_verdict_header(&tx->spam, smtp_tx_msg(tx));
		from = "trusted relay";
	}
	/* The pipeline's own score (smtp_check_score) is one more verdict. */
	if (smtp_checks_active(s) && smtp_checks_score(s) != 0) {
		double m = smtp_checks_score(s) * 1000;

		spam_verdict_add_score(&tx->spam,
				       (int64_t)(m < 0 ? m - 0.5 : m + 0.5));
	}
	if (!spam_verdict_is_junk(&tx->spam, set->junk_score))
		return false;
	log_info(session_sid(&s->core), "smtp tx %s junk: %s verdict "
		 "flag=%s score=%s%lld.%03lld (junk_score %lld.%03lld)",
		 tx->id, from, tx->spam.flag ? "yes" : "no",
		 tx->spam.has_score && tx->spam.score < 0 ? "-" : "",
		 (long long)(tx->spam.has_score ? llabs(tx->spam.score) / 1000 : 0),
		 (long long)(tx->spam.has_score ? llabs(tx->spam.score) % 1000 : 0),
		 (long long)(set->junk_score / 1000),
		 (long long)llabs(set->junk_score % 1000));
	return true;
}
