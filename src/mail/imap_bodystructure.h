/* imap_bodystructure.h: IMAP BODY and BODYSTRUCTURE (RFC 3501 section
 * 7.4.2, RFC 9051) of a parsed part tree. */
#ifndef POSTHORN_MAIL_IMAP_BODYSTRUCTURE_H
#define POSTHORN_MAIL_IMAP_BODYSTRUCTURE_H

#include "mail/mime.h"

/* Append the body structure of part (normally tree->root): without
 * extension data for BODY (extended false), with it (md5, disposition,
 * language, location; multipart: parameters, disposition, language,
 * location) for BODYSTRUCTURE. The output is valid IMAP for any tree: a
 * multipart without children gets one empty text/plain child, a
 * message/rfc822 left opaque (too deep, encoded) gets a NIL envelope and an
 * empty body. Non-ASCII parameter values are written as RFC 2231
 * "name*" "utf-8''..." pairs. */
void imap_bodystructure_write(struct strbuf *out, const struct mime_part *part,
			      bool extended);

#endif
