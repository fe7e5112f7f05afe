/* smtp_xtext.c: xtext (RFC 3461 section 4) encode and decode. */
#include "base/codec.h"
#include "mail/smtp_xtext.h"

void smtp_xtext_encode(struct strbuf *out, struct str s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			strbuf_putc(out, (char)c);
		} else {
			char enc[3] = { '+', hex[c >> 4], hex[c & 15] };

			strbuf_append(out, enc, sizeof(enc));
		}
	}
}

bool smtp_xtext_decode(struct strbuf *out, struct str s)
{
	size_t start = out->n;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '+') {
			int hi, lo;

			if (s.n - i < 3)
				goto bad;
			hi = hex_digit_value((unsigned char)s.p[i + 1]);
			lo = hex_digit_value((unsigned char)s.p[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			strbuf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else if (c >= 33 && c <= 126 && c != '=') {
			strbuf_putc(out, (char)c);
		} else {
			goto bad;
		}
	}
	return true;
bad:
	strbuf_truncate(out, start);
	return false;
}
