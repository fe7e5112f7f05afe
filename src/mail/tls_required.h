/* tls_required.h: the RFC 8689 "TLS-Required: No" header field,
 * by which a sender asks that the recipient side's TLS policies (MTA-STS,
 * DANE, a configured "TLS required") be ignored for its message. */
#ifndef POSTHORN_MAIL_TLS_REQUIRED_H
#define POSTHORN_MAIL_TLS_REQUIRED_H

#include "base/str.h"

/* Does the top header section of message (RFC 5322, CRLF or LF lines; it
 * ends at the first empty line) hold a "TLS-Required:" field (name in any
 * case) whose value, unfolded and with surrounding white space dropped, is
 * "No" in any case? Fields in the body or in an attached message do not
 * count. Pure: no allocation; linear in the header size. The caller applies
 * RFC 8689's other rule: with REQUIRETLS the field is ignored. */
bool tls_required_no(struct str message);

#endif
