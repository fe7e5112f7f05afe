/* utf8_fold.c: lowercase folding of UTF-8 with glibc's C.UTF-8 tables. */
#include "base/utf8_fold.h"

#include <locale.h>
#include <pthread.h>
#include <wctype.h>

static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static locale_t fold_locale;

static void fold_init(void)
{
	fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decode one code point at s[*pos]; -1 (and one byte consumed) when the
 * bytes are not valid UTF-8. */
static int32_t utf8_next(struct str s, size_t *pos)
{
	const unsigned char *p = (const unsigned char *)s.p + *pos;
	size_t left = s.n - *pos, len;
	uint32_t cp, min;

	if (p[0] < 0x80) {
		*pos += 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2; cp = p[0] & 0x1f; min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3; cp = p[0] & 0x0f; min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4; cp = p[0] & 0x07; min = 0x10000;
	} else {
		*pos += 1;
		return -1;
	}
	if (left < len) {
		*pos += 1;
		return -1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*pos += 1;
			return -1;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		*pos += 1;
		return -1;
	}
	*pos += len;
	return (int32_t)cp;
}

static void utf8_put(struct strbuf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp; n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f)); n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
	}
	strbuf_append(out, b, n);
}

static uint32_t fold_cp(uint32_t cp)
{
	wint_t lc;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (fold_locale == (locale_t)0)
		return cp;
	lc = towlower_l((wint_t)cp, fold_locale);
	return lc <= 0x10ffff ? (uint32_t)lc : cp;
}

void utf8_fold(struct strbuf *out, struct str s)
{
	size_t pos = 0;

	pthread_once(&fold_once, fold_init);
	strbuf_grow(out, s.n);
	while (pos < s.n) {
		size_t start = pos;
		int32_t cp = utf8_next(s, &pos);

		if (cp < 0)
			strbuf_append(out, s.p + start, pos - start);
		else
			utf8_put(out, fold_cp((uint32_t)cp));
	}
}

bool utf8_fold_contains(struct str haystack, struct str folded_needle)
{
	struct strbuf folded = STRBUF_INIT;
	bool found;

	if (folded_needle.n == 0)
		return true;
	utf8_fold(&folded, haystack);
	found = folded.n >= folded_needle.n && memmem(folded.p, folded.n, folded_needle.p,
		       folded_needle.n) != NULL;
	strbuf_free(&folded);
	return found;
}

size_t utf8_length(struct str s)
{
	size_t pos = 0, n = 0;

	while (pos < s.n) {
		(void)utf8_next(s, &pos);
		n++;
	}
	return n;
}
