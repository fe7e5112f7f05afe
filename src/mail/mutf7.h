/* mutf7.h: modified UTF-7 (RFC 3501 section 5.1.3), the IMAP4rev1 form of
 * mailbox names, to and from UTF-8. */
#ifndef POSTHORN_MAIL_MUTF7_H
#define POSTHORN_MAIL_MUTF7_H

#include "base/strbuf.h"

/* Append the UTF-8 form of mUTF-7 in[0..len) to out; -1 if invalid (out
 * then undefined). Invalid: bytes outside 0x20..0x7e, a '&' run that is not
 * closed by '-', uses bytes outside the modified base64 alphabet, encodes
 * printable ASCII or U+0000, has non-zero padding bits or an unpaired
 * surrogate. */
int mutf7_decode(const char *in, size_t len, struct strbuf *out);
/* Append the mUTF-7 form of UTF-8 in to out; -1 if in is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
int mutf7_encode(const char *in, size_t len, struct strbuf *out);
/* True when in[0..len) is valid UTF-8 (same rules as mutf7_encode). */
bool mutf7_utf8_valid(const char *in, size_t len);

#endif
