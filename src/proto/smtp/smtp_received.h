/* smtp_received.h: the Received: trace header the server prepends to each
 * accepted message (RFC 5321 4.4, protocol names of RFC 3848). */
#ifndef POSTHORN_PROTO_SMTP_SMTP_RECEIVED_H
#define POSTHORN_PROTO_SMTP_SMTP_RECEIVED_H

#include "base/strbuf.h"

#include <time.h>

struct smtp_received {
	const char *helo;	/* the client's HELO/EHLO argument */
	const char *peer_ip;	/* "192.0.2.1", "2001:db8::1" or "unix" */
	/* The local sendmail socket: the unix user instead of helo and
	 * peer_ip ("from local user NAME (uid N)"); NULL otherwise. */
	const char *local_user;
	unsigned long local_uid;
	const char *hostname;	/* ours */
	bool esmtp;		/* EHLO rather than HELO */
	bool lmtp;		/* LHLO (then esmtp is ignored) */
	bool authenticated;
	/* The AUTH user to name ("(authenticated as USER)"), or NULL;
	 * printable ASCII without parentheses, as smtp_received_clean_helo
	 * leaves it. */
	const char *auth_user;
	const char *tls_version; /* NULL without TLS */
	const char *tls_cipher;
	const char *id;		/* the queue id of the reply */
	const char *for_rcpt;	/* the single recipient, or NULL */
	time_t when;
};

/* Append "Received: ...\r\n" (folded lines, each below 998 octets as long
 * as helo is: the caller passes a helo of at most 255 octets, bytes other
 * than printable ASCII already replaced). Times are written in UTC. */
void smtp_received_append(struct strbuf *out, const struct smtp_received *r);

/* Copy the HELO argument for a trace header: at most 255 octets, every
 * byte that is not printable ASCII, and '(' ')' '\\', replaced by '?'. */
char *smtp_received_clean_helo(struct str helo);

#endif
