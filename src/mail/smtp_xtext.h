/* smtp_xtext.h: the xtext encoding of RFC 3461 section 4 (ENVID, ORCPT,
 * AUTH=): printable ASCII except '+' and '=' as is, the rest as "+XX". */
#ifndef POSTHORN_MAIL_SMTP_XTEXT_H
#define POSTHORN_MAIL_SMTP_XTEXT_H

#include "base/strbuf.h"

/* Append the xtext form of s to out (hex digits in uppercase). */
void smtp_xtext_encode(struct strbuf *out, struct str s);
/* Append the decoded bytes of xtext s to out. Accepts hex digits of either
 * case. Returns false, leaving out as it was, when s holds a byte outside
 * 33..126, a bare '=', or a '+' not followed by two hex digits. */
bool smtp_xtext_decode(struct strbuf *out, struct str s);

#endif
