/* mutf7.c: modified UTF-7 <-> UTF-8. Printable ASCII stands for itself
 * ("&" as "&-"); other characters are UTF-16BE in modified base64 (',' for
 * '/', no padding) between '&' and '-'. */
#include "mail/mutf7.h"

static const char mb64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mb64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static void put_utf8(struct strbuf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_append(out, b, n);
}

/* Decode one shifted run in[0..len) (between '&' and '-'). */
static int decode_run(const char *in, size_t len, struct strbuf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int v = mb64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;

		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			put_utf8(out, 0x10000 + ((high - 0xd800) << 10) +
				 (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit == 0 || (unit >= 0x20 && unit <= 0x7e)) {
			/* printable ASCII must stand for itself */
			return -1;
		} else {
			put_utf8(out, unit);
		}
	}
	/* at most 4 leftover bits, all zero; no dangling high surrogate */
	if (nbits >= 6 || bits != 0 || high != 0)
		return -1;
	return 0;
}

int mutf7_decode(const char *in, size_t len, struct strbuf *out)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			strbuf_putc(out, (char)c);
			i++;
			continue;
		}
		size_t start = ++i;

		while (i < len && in[i] != '-')
			i++;
		if (i == len)
			return -1;
		if (i == start)
			strbuf_putc(out, '&');
		else if (decode_run(in + start, i - start, out) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* Decode one UTF-8 character at in[*pos]; -1 when invalid. */
static int64_t next_utf8(const unsigned char *in, size_t len, size_t *pos)
{
	size_t i = *pos, n;
	uint32_t cp, min;

	if (in[i] < 0x80) {
		*pos = i + 1;
		return in[i];
	} else if ((in[i] & 0xe0) == 0xc0) {
		n = 1;
		cp = in[i] & 0x1f;
		min = 0x80;
	} else if ((in[i] & 0xf0) == 0xe0) {
		n = 2;
		cp = in[i] & 0x0f;
		min = 0x800;
	} else if ((in[i] & 0xf8) == 0xf0) {
		n = 3;
		cp = in[i] & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len - i - 1 < n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((in[i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (in[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pos = i + n + 1;
	return cp;
}

bool mutf7_utf8_valid(const char *in, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		if (next_utf8((const unsigned char *)in, len, &pos) < 0)
			return false;
	}
	return true;
}

static void flush_bits(struct strbuf *out, uint32_t *bits, unsigned *nbits)
{
	while (*nbits >= 6) {
		*nbits -= 6;
		strbuf_putc(out, mb64[(*bits >> *nbits) & 0x3f]);
	}
	*bits &= (1u << *nbits) - 1;
}

int mutf7_encode(const char *in, size_t len, struct strbuf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t pos = 0;
	bool shifted = false;
	uint32_t bits = 0;
	unsigned nbits = 0;

	if (!mutf7_utf8_valid(in, len))
		return -1;
	while (pos < len) {
		uint32_t cp = (uint32_t)next_utf8(u, len, &pos);

		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (nbits > 0)
					strbuf_putc(out, mb64[(bits << (6 - nbits)) & 0x3f]);
				strbuf_putc(out, '-');
				shifted = false;
				bits = 0;
				nbits = 0;
			}
			strbuf_putc(out, (char)cp);
			if (cp == '&')
				strbuf_putc(out, '-');
			continue;
		}
		if (!shifted) {
			strbuf_putc(out, '&');
			shifted = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			bits = (bits << 16) | (0xd800 | (cp >> 10));
			nbits += 16;
			flush_bits(out, &bits, &nbits);
			cp = 0xdc00 | (cp & 0x3ff);
		}
		bits = (bits << 16) | cp;
		nbits += 16;
		flush_bits(out, &bits, &nbits);
	}
	if (shifted) {
		if (nbits > 0)
			strbuf_putc(out, mb64[(bits << (6 - nbits)) & 0x3f]);
		strbuf_putc(out, '-');
	}
	return 0;
}
