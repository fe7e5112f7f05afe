/* mime_param.c: parameter lists of MIME fields and RFC 2231 decoding. */
#include "base/codec.h"
#include "mail/mime_param.h"

#include "mail/charset.h"
#include "mail/header.h"

#define TSPECIALS "()<>@,;:\\\"/[]?="

struct raw_param {
	struct str name;	/* lowercase, with its '*' suffixes */
	struct str value;	/* unquoted */
};

static void pct_decode(struct strbuf *out, struct str s)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		if (s.p[i] == '%' && i + 2 < s.n && hex_digit_value(s.p[i + 1]) >= 0 && hex_digit_value(s.p[i + 2]) >= 0) {
			strbuf_putc(out, (char)(hex_digit_value(s.p[i + 1]) * 16 +
						hex_digit_value(s.p[i + 2])));
			i += 2;
		} else {
			strbuf_putc(out, s.p[i]);
		}
	}
}

/* Split "name*3*" into base "name", section 3 and extended = true.
 * Returns false for a plain name. */
static bool split_2231(struct str name, struct str *base_r, long *section_r,
		       bool *ext_r)
{
	ptrdiff_t star = str_chr(name, '*');
	struct str rest;
	uint64_t v;

	if (star < 0)
		return false;
	*base_r = str_make(name.p, (size_t)star);
	rest = str_from(name, (size_t)star + 1);
	*ext_r = false;
	if (rest.n == 0) {
		*section_r = -1;	/* "name*": extended, no sections */
		*ext_r = true;
		return true;
	}
	if (rest.p[rest.n - 1] == '*') {
		*ext_r = true;
		rest.n--;
	}
	if (!str_to_u64(rest, 999, &v))
		return false;
	*section_r = (long)v;
	return true;
}

/* Merge the sections of base name (sections 0.. in order, stopping at the
 * first missing one) and decode; append the UTF-8 value to out. */
static void decode_2231(struct strbuf *out, const struct raw_param *raw,
			unsigned n, struct str base)
{
	struct strbuf bytes = STRBUF_INIT;
	struct str charset = STR_NULL, b, v;
	long want, sec;
	unsigned i;
	bool ext, found, first_ext = false;

	for (want = -1; want < 1000; want++) {
		found = false;
		for (i = 0; i < n; i++) {
			if (!split_2231(raw[i].name, &b, &sec, &ext) ||
			    !str_eq(b, base) || sec != want)
				continue;
			v = raw[i].value;
			if (ext && (want == -1 || want == 0)) {
				/* charset'language'value */
				struct str cs, rest, lang;

				first_ext = true;
				if (str_split(v, '\'', &cs, &rest) &&
				    str_split(rest, '\'', &lang, &rest)) {
					charset = cs;
					v = rest;
				}
			}
			if (ext)
				pct_decode(&bytes, v);
			else
				strbuf_append_str(&bytes, v);
			found = true;
			break;
		}
		if (want == -1) {
			if (found)
				break;
			continue;
		}
		if (!found)
			break;
	}
	if (first_ext && charset.n > 0)
		charset_to_utf8(out, charset, strbuf_str(&bytes));
	else
		charset_utf8_sanitize(out, strbuf_str(&bytes));
	strbuf_free(&bytes);
}

static struct str lower_dup(struct arena *a, struct str s)
{
	char *p = arena_strndup(a, s.p, s.n);
	size_t i;

	for (i = 0; i < s.n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	return str_make(p, s.n);
}

unsigned mime_param_parse(struct arena *a, struct str s,
			  struct mime_param **params_r)
{
	struct raw_param raw[MIME_PARAM_MAX];
	struct mime_param *out;
	struct strbuf buf = STRBUF_INIT;
	unsigned n = 0, n_out = 0, i, j;
	size_t pos = 0;

	while (pos < s.n && n < MIME_PARAM_MAX) {
		struct str name, value;

		/* Skip to the next ';'. */
		while (pos < s.n && s.p[pos] != ';') {
			if (s.p[pos] == '"') {
				strbuf_reset(&buf);
				header_read_quoted(s, &pos, &buf);
			} else if (s.p[pos] == '(') {
				header_skip_cfws(s, &pos, NULL);
			} else {
				pos++;
			}
		}
		if (pos >= s.n)
			break;
		pos++;
		header_skip_cfws(s, &pos, NULL);
		name = header_read_token(s, &pos, TSPECIALS);
		header_skip_cfws(s, &pos, NULL);
		if (name.n == 0 || pos >= s.n || s.p[pos] != '=')
			continue;
		pos++;
		header_skip_cfws(s, &pos, NULL);
		if (pos < s.n && s.p[pos] == '"') {
			strbuf_reset(&buf);
			header_read_quoted(s, &pos, &buf);
			value = arena_str(a, strbuf_str(&buf));
		} else {
			value = header_read_token(s, &pos, ";");
			value = arena_str(a, value);
		}
		raw[n].name = lower_dup(a, name);
		raw[n].value = value;
		n++;
	}

	out = arena_alloc(a, sizeof(*out) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		struct str base;
		long sec;
		bool ext, dup = false;

		if (!split_2231(raw[i].name, &base, &sec, &ext)) {
			base = raw[i].name;
			for (j = 0; j < n_out; j++)
				dup = dup || str_eq(out[j].name, base);
			if (dup)
				continue;
			out[n_out].name = base;
			strbuf_reset(&buf);
			charset_utf8_sanitize(&buf, raw[i].value);
			out[n_out].value = arena_str(a, strbuf_str(&buf));
			n_out++;
			continue;
		}
		for (j = 0; j < n_out; j++)
			dup = dup || str_eq(out[j].name, base);
		if (dup || base.n == 0)
			continue;
		strbuf_reset(&buf);
		decode_2231(&buf, raw, n, base);
		out[n_out].name = arena_str(a, base);
		out[n_out].value = arena_str(a, strbuf_str(&buf));
		n_out++;
	}
	strbuf_free(&buf);
	*params_r = out;
	return n_out;
}

struct str mime_param_get(const struct mime_param *params, unsigned n,
			  struct str name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (str_eq(params[i].name, name))
			return params[i].value;
	return STR_NULL;
}
