/* charset.c: MIME charset to UTF-8 through glibc iconv, with a validating
 * fast path for UTF-8 and US-ASCII. */
#include "mail/charset.h"

#include <errno.h>
#include <iconv.h>

#define REPLACEMENT "\xef\xbf\xbd"

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void charset_utf8_sanitize(struct strbuf *out, struct str in)
{
	const unsigned char *p = (const unsigned char *)in.p;
	size_t i = 0, len;

	while (i < in.n) {
		len = utf8_seq_len(p + i, in.n - i);
		if (len == 0) {
			strbuf_append(out, REPLACEMENT, 3);
			i++;
		} else {
			strbuf_append(out, p + i, len);
			i += len;
		}
	}
}

static bool charset_is_utf8(struct str cs)
{
	return str_caseeq(cs, STR_LIT("utf-8")) ||
	       str_caseeq(cs, STR_LIT("utf8")) ||
	       str_caseeq(cs, STR_LIT("us-ascii")) ||
	       str_caseeq(cs, STR_LIT("ascii"));
}

bool charset_to_utf8(struct strbuf *out, struct str cs, struct str in)
{
	char name[64];
	iconv_t cd;
	char *inp, *outp;
	size_t inleft, outleft, r, start;

	if (charset_is_utf8(cs)) {
		charset_utf8_sanitize(out, in);
		return true;
	}
	if (cs.n == 0 || cs.n >= sizeof(name) || memchr(cs.p, '\0', cs.n)) {
		charset_utf8_sanitize(out, in);
		return false;
	}
	memcpy(name, cs.p, cs.n);
	name[cs.n] = '\0';
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		charset_utf8_sanitize(out, in);
		return false;
	}
	start = out->n;
	inp = (char *)in.p;
	inleft = in.n;
	while (inleft > 0) {
		strbuf_grow(out, inleft * 4 + 16);
		outp = out->p + out->n;
		outleft = out->cap - out->n - 1;
		r = iconv(cd, &inp, &inleft, &outp, &outleft);
		out->n = (size_t)(outp - out->p);
		out->p[out->n] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or an incomplete sequence at the end: one byte
		 * becomes one replacement character. */
		strbuf_append(out, REPLACEMENT, 3);
		inp++;
		inleft--;
	}
	iconv_close(cd);
	/* glibc writes code points past U+10FFFF (from UCS-4 and the like)
	 * as 5- and 6-byte sequences, which are not UTF-8. */
	{
		struct strbuf tmp = STRBUF_INIT;

		charset_utf8_sanitize(&tmp, str_make(out->p + start,
						     out->n - start));
		if (!str_eq(strbuf_str(&tmp), str_make(out->p + start,
						       out->n - start))) {
			strbuf_truncate(out, start);
			strbuf_append_str(out, strbuf_str(&tmp));
		}
		strbuf_free(&tmp);
	}
	return true;
}
