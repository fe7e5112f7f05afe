/* imap_envelope.h: the IMAP ENVELOPE (RFC 3501 section 7.4.2, RFC 9051) of a
 * parsed message, with RFC 5322 address lists and groups. */
#ifndef POSTHORN_MAIL_IMAP_ENVELOPE_H
#define POSTHORN_MAIL_IMAP_ENVELOPE_H

#include "mail/mime.h"

/* Append "(date subject from sender reply-to to cc bcc in-reply-to
 * message-id)" for a message part (msg->env; a part without env gives an
 * envelope of NILs). Sender and Reply-To default to From. Values are the
 * raw header values (encoded words are left for the client). */
void imap_envelope_write(struct strbuf *out, const struct mime_part *msg);
/* Append the IMAP address list for a raw address header value: a list of
 * (name adl mailbox host), groups as (NIL NIL "group" NIL) .. (NIL NIL NIL
 * NIL), or NIL when the value is absent or holds no address. */
void imap_envelope_write_addresses(struct strbuf *out, struct str value);
/* Append the addresses of the same value the way SEARCH FROM/TO/CC/BCC
 * also matches them (issue 11, RFC 3501 6.4.4): one line each, "Name
 * <local@domain>" with the display name (or the comment the envelope
 * takes for it) decoded, "<local@domain>" without one, the local part
 * without its quotes and the CFWS between the pieces gone; a group's name
 * on a line of its own. Nothing for an absent value. */
void imap_envelope_search_text(struct strbuf *out, struct str value);

#endif
