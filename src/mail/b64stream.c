/* b64stream.c: tolerant streaming base64 decoding. */
#include "base/codec.h"
#include "mail/b64stream.h"

void b64stream_finish(struct b64stream *d, struct strbuf *out)
{
	if (d->n == 2) {
		strbuf_putc(out, (char)(d->bits >> 4));
	} else if (d->n == 3) {
		strbuf_putc(out, (char)(d->bits >> 10));
		strbuf_putc(out, (char)(d->bits >> 2));
	}
	*d = B64STREAM_INIT;
}

void b64stream_feed(struct b64stream *d, struct strbuf *out, const void *data,
		    size_t len)
{
	const unsigned char *p = data;
	size_t i;
	int v;

	for (i = 0; i < len; i++) {
		if (p[i] == '=') {
			b64stream_finish(d, out);
			continue;
		}
		v = base64_digit_value(p[i]);
		if (v < 0)
			continue;
		d->bits = (d->bits << 6) | (uint32_t)v;
		if (++d->n == 4) {
			char b[3] = { (char)(d->bits >> 16), (char)(d->bits >> 8),
				      (char)d->bits };

			strbuf_append(out, b, 3);
			d->bits = 0;
			d->n = 0;
		}
	}
}
