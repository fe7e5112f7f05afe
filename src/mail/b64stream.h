/* b64stream.h: streaming, tolerant base64 decoder for MIME bodies: bytes
 * outside the alphabet are skipped, padding may be missing or wrong. */
#ifndef POSTHORN_MAIL_B64STREAM_H
#define POSTHORN_MAIL_B64STREAM_H

#include "base/strbuf.h"

struct b64stream {
	uint32_t bits;
	unsigned n;	/* sextets held in bits */
};

#define B64STREAM_INIT ((struct b64stream){ 0, 0 })

/* Decode the next len bytes, appending to out. Any split gives the same
 * output. A '=' ends the current quantum; decoding goes on after it
 * (concatenated base64). */
void b64stream_feed(struct b64stream *d, struct strbuf *out, const void *data,
		    size_t len);
/* Flush a final partial quantum (2 or 3 sextets) and reset d. */
void b64stream_finish(struct b64stream *d, struct strbuf *out);

#endif
