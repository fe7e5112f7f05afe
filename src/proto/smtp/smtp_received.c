/* smtp_received.c: building the Received: header. The HELO name is the
 * client's word, so it is cleaned before it goes into a header that later
 * readers parse. */
#include "proto/smtp/smtp_received.h"

char *smtp_received_clean_helo(struct str helo)
{
	size_t n = MIN(helo.n, (size_t)255);
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)helo.p[i];

		s[i] = c > 0x20 && c < 0x7f && c != '(' && c != ')' &&
		       c != '\\' ? (char)c : '?';
	}
	s[n] = '\0';
	return s;
}

void smtp_received_append(struct strbuf *out, const struct smtp_received *r)
{
	struct tm tm;
	char date[64];
	bool tls = r->tls_version != NULL;
	/* RFC 3848: SMTP for HELO; else ESMTP/LMTP with S (TLS), A (AUTH). */
	bool ext = r->lmtp || r->esmtp;

	gmtime_r(&r->when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (r->local_user != NULL)
		strbuf_printf(out, "Received: from local user %s (uid %lu)",
			      r->local_user, r->local_uid);
	else
		strbuf_printf(out, "Received: from %s ([%s])",
			      r->helo[0] != '\0' ? r->helo : "unknown",
			      r->peer_ip);
	strbuf_printf(out, "\r\n\tby %s (Posthorn) with %s%s%s\r\n",
		      r->hostname, r->lmtp ? "LMTP" : r->esmtp ? "ESMTP" : "SMTP",
		      tls && ext ? "S" : "", r->authenticated && ext ? "A" : "");
	if (r->auth_user != NULL)
		strbuf_printf(out, "\t(authenticated as %s)\r\n", r->auth_user);
	if (tls)
		strbuf_printf(out, "\t(using %s with cipher %s)\r\n",
			      r->tls_version,
			      r->tls_cipher != NULL ? r->tls_cipher : "unknown");
	strbuf_printf(out, "\tid %s", r->id);
	if (r->for_rcpt != NULL)
		strbuf_printf(out, "\r\n\tfor <%s>", r->for_rcpt);
	strbuf_printf(out, ";\r\n\t%s\r\n", date);
}
