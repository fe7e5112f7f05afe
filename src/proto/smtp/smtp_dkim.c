/* smtp_dkim.c: DKIM-sign the mail we originate (authenticated submission,
 * the local sendmail socket, trusted networks) when it goes to remote
 * recipients and its From domain is a local domain with a key. */
#include "base/log.h"
#include "delivery/dkim_keys.h"
#include "proto/smtp/smtp_int.h"

#include <time.h>

void smtp_dkim_sign(struct smtp_session *s, struct strbuf *out)
{
	const struct dkim_keys *keys = s->server->set.dkim;
	struct smtp_tx *tx = s->tx;
	struct strbuf domain = STRBUF_INIT;
	struct store_reader *reader;
	const char *error;
	int local;

	/* Mail from strangers (port 25, LMTP) is not ours to sign: only mail
	 * the session may relay, and only when some of it leaves. */
	if (keys == NULL || dkim_keys_count(keys) == 0 || tx->n_remotes == 0 ||
	    s->core.service->mode == SMTP_MODE_LMTP || !smtp_session_may_relay(s))
		return;
	if (!dkim_keys_signing_domain(str_make(tx->msg.p, tx->msg.n),
				      tx->sender, &domain) ||
	    !dkim_keys_have(keys, strbuf_cstr(&domain)))
		goto out;
	/* A key file left behind for a domain that was deleted signs
	 * nothing. */
	if ((reader = smtp_session_reader(s)) == NULL)
		goto out;
	local = store_domain_exists(reader, strbuf_cstr(&domain), &error);
	if (local <= 0) {
		if (local < 0)
			log_warn(conn_sid(s->core.conn), "smtp tx %s: not DKIM-signed: "
				 "store: %s", tx->id, error);
		goto out;
	}
	if (dkim_keys_sign(keys, strbuf_cstr(&domain),
			   str_make(tx->msg.p, tx->msg.n), (int64_t)time(NULL),
			   out, &error) < 0)
		log_warn(conn_sid(s->core.conn), "smtp tx %s: not DKIM-signed for %s: %s",
			 tx->id, strbuf_cstr(&domain), error);
out:
	strbuf_free(&domain);
}
