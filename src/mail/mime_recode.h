/* mime_recode.h: fit a message to SMTP's line limit for a peer that takes
 * no longer lines (no BINARYMIME): the parts holding a line over 998
 * octets are re-encoded as quoted-printable, the rest is left as it is;
 * and make a message with binary parts (IMAP APPEND of a literal8) one
 * that any client can read: those parts become base64. */
#ifndef POSTHORN_MAIL_MIME_RECODE_H
#define POSTHORN_MAIL_MIME_RECODE_H

#include "base/strbuf.h"

/* RFC 5321 4.5.3.1.6: 1000 octets with the CRLF. */
#define MIME_RECODE_LINE_MAX 998

/* The longest line of msg in octets, its line end (CRLF or LF) not
 * counted. */
size_t mime_recode_longest_line(struct str msg);

/* Does the header section carry a signature over the body that a
 * re-encoding would break (DKIM-Signature, ARC-Message-Signature)? */
bool mime_recode_is_signed(struct str msg);

/* Append msg to out with each leaf part (the message itself when it is not
 * multipart) that has an identity transfer encoding (none, 7bit, 8bit,
 * binary) and a line over MIME_RECODE_LINE_MAX re-encoded as
 * quoted-printable (RFC 2045 6.7; a relay may convert so, RFC 6152 3):
 * its Content-Transfer-Encoding fields are replaced by one naming
 * quoted-printable (and a message that had no MIME-Version gets one). The
 * decoded content is the original byte for byte; every other byte of msg
 * is copied unchanged. Returns the number of parts re-encoded; *left_r is
 * set when the result still has a line over the limit (a header field, a
 * preamble, a multipart whose boundary was not found, parts past the
 * parser's limits). */
unsigned mime_recode_long_lines(struct str msg, struct strbuf *out,
				bool *left_r);

/* Append msg to out with each leaf part whose Content-Transfer-Encoding
 * is "binary" re-encoded as base64 (lines of 76 characters, CRLF; its
 * Content-Transfer-Encoding fields replaced by one naming base64, as
 * above), so that the stored message has no NUL and no bare line end
 * there, and the decoded content (IMAP BINARY[n], RFC 3516) is the
 * original byte for byte. Every other byte is copied unchanged. Returns
 * the number of parts re-encoded. */
unsigned mime_recode_binary(struct str msg, struct strbuf *out);

#endif
