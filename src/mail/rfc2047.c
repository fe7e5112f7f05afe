/* rfc2047.c: encoded-word decoding (B and Q), charsets through iconv. */
#include "base/codec.h"
#include "mail/rfc2047.h"

#include "mail/b64stream.h"
#include "mail/charset.h"

/* Where the scans of encoded_word stopped: the next '?' (or white space)
 * and the next "?=" (or white space) at or after a position. The
 * candidates come in ascending order, so a scan resumes where the last
 * one ended instead of running again to the end of the text: a header
 * of thousands of "=?cs?Q?x" without a closing "?=" costs one pass, not
 * one per '='. */
struct word_scan {
	size_t q_from, q_at;	/* no stop in [q_from, q_at) */
	size_t e_from, e_at;
};

static bool q_stop(struct str in, size_t k)
{
	return in.p[k] == '?' || in.p[k] == ' ' || in.p[k] == '\t' ||
	       in.p[k] == '\n';
}

static bool e_stop(struct str in, size_t k)
{
	return (in.p[k] == '?' && k + 1 < in.n && in.p[k + 1] == '=') ||
	       in.p[k] == ' ' || in.p[k] == '\t' || in.p[k] == '\n' ||
	       in.p[k] == '\r';
}

/* The first k >= from with stop(in, k), or in.n. */
static size_t next_stop(struct str in, size_t from, size_t *from_c,
			size_t *at_c, bool (*stop)(struct str, size_t))
{
	size_t k;

	if (from >= *from_c && from <= *at_c)
		return *at_c;
	for (k = from; k < in.n && !stop(in, k); k++)
		;
	*from_c = from;
	*at_c = k;
	return k;
}

/* Parse an encoded word at in.p[i]; on success append its decoded bytes
 * converted to UTF-8 to out and return its length, else 0. */
static size_t encoded_word(struct strbuf *out, struct str in, size_t i,
			   struct word_scan *sc)
{
	struct str s = str_from(in, i), charset, enc, text;
	struct strbuf bytes = STRBUF_INIT;
	size_t q1, q2, end, j;
	ptrdiff_t star;

	if (s.n < 8 || s.p[0] != '=' || s.p[1] != '?')
		return 0;
	q1 = next_stop(in, i + 2, &sc->q_from, &sc->q_at, q_stop) - i;
	if (q1 >= s.n || s.p[q1] != '?')
		return 0;
	if (q1 + 2 >= s.n || s.p[q1 + 2] != '?')
		return 0;
	q2 = q1 + 2;
	end = next_stop(in, i + q2 + 1, &sc->e_from, &sc->e_at, e_stop) - i;
	if (end + 1 >= s.n || s.p[end] != '?')
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
	struct word_scan sc = { 1, 0, 1, 0 };	/* nothing known yet */
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
		len = encoded_word(out, in, i, &sc);
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
			len = encoded_word(out, in, ws, &sc);
			if (len == 0)
				break;
			i = ws + len;
		}
		plain = i;
	}
	charset_utf8_sanitize(out, str_make(in.p + plain, in.n - plain));
}
