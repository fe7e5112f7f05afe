/* rfc2047.c: encoded-word decoding (B and Q), charsets through iconv. */
#include "base/codec.h"
#include "mail/rfc2047.h"

#include "mail/b64stream.h"
#include "mail/charset.h"

/* Parse an encoded word at in.p[i]; on success append its decoded bytes
 * converted to UTF-8 to out and return its length, else 0. */
static size_t encoded_word(struct strbuf *out, struct str in, size_t i)
{
	struct str s = str_from(in, i), charset, enc, text;
	struct strbuf bytes = STRBUF_INIT;
	size_t q1, q2, end, j;
	ptrdiff_t star;

	if (s.n < 8 || s.p[0] != '=' || s.p[1] != '?')
		return 0;
	for (q1 = 2; q1 < s.n && s.p[q1] != '?'; q1++)
		if (s.p[q1] == ' ' || s.p[q1] == '\t' || s.p[q1] == '\n')
			return 0;
	if (q1 + 2 >= s.n || s.p[q1 + 2] != '?')
		return 0;
	q2 = q1 + 2;
	for (end = q2 + 1; end + 1 < s.n; end++) {
		if (s.p[end] == '?' && s.p[end + 1] == '=')
			break;
		if (s.p[end] == ' ' || s.p[end] == '\t' || s.p[end] == '\n' ||
		    s.p[end] == '\r')
			return 0;
	}
	if (end + 1 >= s.n)
		return 0;
	charset = str_make(s.p + 2, q1 - 2);
	star = str_chr(charset, '*');	/* RFC 2231 language suffix */
	if (star >= 0)
		charset.n = (size_t)star;
	enc = str_make(s.p + q1 + 1, 1);
	text = str_make(s.p + q2 + 1, end - q2 - 1);
	if (charset.n == 0)
		return 0;
	if (str_caseeq(enc, STR_LIT("B"))) {
		struct b64stream dec = B64STREAM_INIT;

		b64stream_feed(&dec, &bytes, text.p, text.n);
		b64stream_finish(&dec, &bytes);
	} else if (str_caseeq(enc, STR_LIT("Q"))) {
		for (j = 0; j < text.n; j++) {
			if (text.p[j] == '_') {
				strbuf_putc(&bytes, ' ');
			} else if (text.p[j] == '=' && j + 2 < text.n &&
				   hex_digit_value(text.p[j + 1]) >= 0 &&
				   hex_digit_value(text.p[j + 2]) >= 0) {
				strbuf_putc(&bytes,
					    (char)(hex_digit_value(text.p[j + 1]) * 16 +
						   hex_digit_value(text.p[j + 2])));
				j += 2;
			} else {
				strbuf_putc(&bytes, text.p[j]);
			}
		}
	} else {
		return 0;
	}
	charset_to_utf8(out, charset, strbuf_str(&bytes));
	strbuf_free(&bytes);
	return end + 2;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void rfc2047_decode(struct strbuf *out, struct str in)
{
	size_t i = 0, plain = 0, len, ws;

	while (i < in.n) {
		if (in.p[i] != '=') {
			i++;
			continue;
		}
		/* Text before a candidate word ('=' is ASCII, so this never
		 * splits a UTF-8 sequence). */
		charset_utf8_sanitize(out, str_make(in.p + plain, i - plain));
		plain = i;
		len = encoded_word(out, in, i);
		if (len == 0) {
			i++;
			continue;
		}
		i += len;
		/* Whitespace between two encoded words is not text. */
		for (;;) {
			for (ws = i; ws < in.n && is_ws(in.p[ws]); ws++)
				;
			if (ws == i || ws >= in.n || in.p[ws] != '=')
				break;
			len = encoded_word(out, in, ws);
			if (len == 0)
				break;
			i = ws + len;
		}
		plain = i;
	}
	charset_utf8_sanitize(out, str_make(in.p + plain, in.n - plain));
}
