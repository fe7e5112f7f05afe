/* codec.h: base64 (RFC 4648) and hex encoding of whole buffers. Streaming
 * MIME decoding lives in mail/; these are for keys, tokens and SASL. */
#ifndef POSTHORN_BASE_CODEC_H
#define POSTHORN_BASE_CODEC_H

#include "base/strbuf.h"

/* The value of one base64 digit (0-63) or of one hex digit of either case
 * (0-15); -1 for any other byte. */
int base64_digit_value(unsigned char c);
int hex_digit_value(unsigned char c);

/* Append the base64 form of p[0..n) to out. */
void base64_encode(struct strbuf *out, const void *p, size_t n);
/* Append the decoded bytes of strict base64 s (padding required, no
 * whitespace) to out. Returns false, leaving out as it was, on bad input. */
bool base64_decode(struct strbuf *out, struct str s);
/* Append lowercase hex. */
void hex_encode(struct strbuf *out, const void *p, size_t n);
/* Decode hex of either case; false on odd length or a non-hex digit. */
bool hex_decode(struct strbuf *out, struct str s);

#endif
