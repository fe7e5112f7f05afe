/* smtp_dkim.c: DKIM-sign the mail we originate (authenticated submission,
 * the local sendmail socket, trusted networks) when it goes to remote
 * recipients and its From domain is a local domain with a key; a line too
 * long for SMTP is re-encoded first, so the signature survives the relay. */
#include "base/log.h"
#include "delivery/dkim_keys.h"
#include "mail/mime_recode.h"
#include "proto/smtp/smtp_int.h"

#include <time.h>

/* A line over 998 octets would have the outbound client re-encode the
 * message for a peer without BINARYMIME, after our signature, breaking it;
 * so its parts are re-encoded as quoted-printable here, before signing
 * (the local recipients of the same blob get the same, equivalent
 * message). A message someone signed already is left alone, as the
 * outbound client leaves it: re-encoding would break that signature. */
static void smtp_dkim_fit_lines(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct str m = smtp_tx_msg(tx);
	struct strbuf out = STRBUF_INIT;
	size_t longest = mime_recode_longest_line(m);
	unsigned n;
	bool left;

	if (longest <= MIME_RECODE_LINE_MAX || mime_recode_is_signed(m))
		return;
	n = mime_recode_long_lines(m, &out, &left);
	log_info(session_sid(&s->core), "smtp tx %s: a line of %zu octets: %u "
		 "part(s) re-encoded as quoted-printable before signing%s",
		 tx->id, longest, n, left ? "; a line over 998 octets "
		 "remains (a header or a part that cannot be re-encoded)" : "");
	if (n == 0) {
		strbuf_free(&out);
		return;
	}
	/* the re-encoded message is stored: the parse of what arrived and
	 * the room before it go */
	smtp_tx_drop_mime(tx);
	strbuf_free(&tx->msg);
	tx->msg = out;
	tx->msg_room = 0;
}

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
	if (!dkim_keys_signing_domain(smtp_tx_msg(tx),
				      tx->sender, &domain) ||
	    !dkim_keys_have(keys, strbuf_cstr(&domain)))
		goto out;
	/* A key file left behind for a domain that was deleted signs
	 * nothing. */
	if ((reader = session_reader(&s->core)) == NULL)
		goto out;
	local = store_domain_exists(reader, strbuf_cstr(&domain), &error);
	if (local <= 0) {
		if (local < 0)
			log_warn(session_sid(&s->core), "smtp tx %s: not DKIM-signed: "
				 "store: %s", tx->id, error);
		goto out;
	}
	smtp_dkim_fit_lines(s);
	if (dkim_keys_sign(keys, strbuf_cstr(&domain),
			   smtp_tx_msg(tx), (int64_t)time(NULL),
			   out, &error) < 0)
		log_warn(session_sid(&s->core), "smtp tx %s: not DKIM-signed for %s: %s",
			 tx->id, strbuf_cstr(&domain), error);
out:
	strbuf_free(&domain);
}
