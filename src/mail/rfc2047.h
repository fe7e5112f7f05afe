/* rfc2047.h: decoding of RFC 2047 encoded words in header text to UTF-8. */
#ifndef POSTHORN_MAIL_RFC2047_H
#define POSTHORN_MAIL_RFC2047_H

#include "base/strbuf.h"

/* Append in to out with every =?charset?B|Q?text?= decoded to UTF-8;
 * whitespace between two adjacent encoded words is dropped. Text outside
 * encoded words is kept (invalid UTF-8 becomes U+FFFD), and so is a
 * malformed encoded word. An unknown charset gives its bytes as UTF-8 where
 * valid, U+FFFD elsewhere. Never fails. */
void rfc2047_decode(struct strbuf *out, struct str in);

#endif
