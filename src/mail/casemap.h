/* casemap.h: sort keys in the i;unicode-casemap collation (RFC 5051), the
 * one IMAP SORT compares strings with (RFC 5256 3, RFC 5957). */
#ifndef POSTHORN_MAIL_CASEMAP_H
#define POSTHORN_MAIL_CASEMAP_H

#include "base/strbuf.h"

/* Append the key of s to out: each code point mapped to its titlecase
 * (Unicode's simple mapping), then the whole decomposed (NFD). Two
 * strings compare as their keys do with memcmp ("apple" < "_x", since
 * 'A' < '_'; "Émile" sorts with "E"). Invalid UTF-8 bytes are copied as
 * they are, and then the text is not decomposed. */
void casemap_key(struct strbuf *out, struct str s);

#endif
