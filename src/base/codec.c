/* codec.c: base64 and hex. */
#include "base/codec.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct strbuf *out, const void *p, size_t n)
{
	const unsigned char *s = p;

	strbuf_grow(out, (n + 2) / 3 * 4);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		char quad[4] = {
			b64_alphabet[(v >> 18) & 63],
			b64_alphabet[(v >> 12) & 63],
			left > 1 ? b64_alphabet[(v >> 6) & 63] : '=',
			left > 2 ? b64_alphabet[v & 63] : '=',
		};
		strbuf_append(out, quad, 4);
	}
}

int base64_digit_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool base64_decode(struct strbuf *out, struct str s)
{
	size_t start = out->n;

	if (s.n % 4 != 0)
		return false;
	for (size_t i = 0; i < s.n; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s.p[i + k];

			if (c == '=' && i + 4 == s.n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = pad > 0 ? -1 : base64_digit_value(c);
			if (v[k] < 0) {
				strbuf_truncate(out, start);
				return false;
			}
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
				(uint32_t)v[2] << 6 | (uint32_t)v[3];
		unsigned char bytes[3] = { bits >> 16, (bits >> 8) & 255,
					   bits & 255 };
		strbuf_append(out, bytes, 3 - (size_t)pad);
	}
	return true;
}

void hex_encode(struct strbuf *out, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = p;

	strbuf_grow(out, 2 * n);
	for (size_t i = 0; i < n; i++) {
		char pair[2] = { digits[s[i] >> 4], digits[s[i] & 15] };
		strbuf_append(out, pair, 2);
	}
}

int hex_digit_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool hex_decode(struct strbuf *out, struct str s)
{
	size_t start = out->n;

	if (s.n % 2 != 0)
		return false;
	for (size_t i = 0; i < s.n; i += 2) {
		int hi = hex_digit_value((unsigned char)s.p[i]);
		int lo = hex_digit_value((unsigned char)s.p[i + 1]);

		if (hi < 0 || lo < 0) {
			strbuf_truncate(out, start);
			return false;
		}
		strbuf_putc(out, (char)(hi << 4 | lo));
	}
	return true;
}
