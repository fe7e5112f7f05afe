/* spam_verdict.c: the verdict fields as SpamAssassin and rspamd write
 * them:
 *   X-Spam-Flag: YES
 *   X-Spam-Status: Yes, score=7.3 required=5.0 tests=... autolearn=no
 *   X-Spamd-Result: default: True [7.50 / 15.00]; SYMBOL(1.00)[...]
 *   X-Rspamd-Score: 7.5      X-Spam-Score: 7.5      X-Spam: Yes
 * Each value is unfolded into a bounded buffer first. */
#include "mail/spam_verdict.h"
#include "mail/header.h"

#include <ctype.h>

/* A verdict is near the start of its field; the rest (rspamd's symbol
 * list) can be kilobytes and is not needed. */
#define VERDICT_VALUE_MAX 512

void spam_verdict_init(struct spam_verdict *v)
{
	*v = (struct spam_verdict){ 0 };
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static struct str trim(struct str s)
{
	while (s.n > 0 && is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* The leading number of s (after blanks), its end in *end_r. */
static bool read_score(struct str s, size_t *end_r, int64_t *score_r)
{
	size_t i = 0, n;

	while (i < s.n && is_blank(s.p[i]))
		i++;
	n = str_read_milli(str_make(s.p + i, s.n - i), score_r);
	*end_r = i + n;
	return n > 0;
}

bool spam_verdict_parse_score(struct str s, int64_t *score_r)
{
	size_t end;

	s = trim(s);
	return read_score(s, &end, score_r) && end == s.n;
}

void spam_verdict_add_score(struct spam_verdict *v, int64_t score)
{
	if (!v->has_score || score > v->score)
		v->score = score;
	v->has_score = true;
}

/* "Yes"/"True" at the start of s, as a whole word. */
static bool starts_yes(struct str s, bool *yes_r)
{
	static const char *const words[] = { "yes", "true", "no", "false" };

	s = trim(s);
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		size_t n = strlen(words[i]);

		if (s.n >= n && strncasecmp(s.p, words[i], n) == 0 &&
		    (s.n == n || !isalnum((unsigned char)s.p[n]))) {
			*yes_r = i < 2;
			return true;
		}
	}
	return false;
}

/* X-Spam-Status: "Yes, score=7.3 required=5.0 ..." */
static bool field_status(struct spam_verdict *v, struct str s)
{
	bool yes, any = false;
	int64_t score;
	size_t end;

	if (starts_yes(s, &yes)) {
		v->flag |= yes;
		any = true;
	}
	for (size_t i = 0; i + 6 <= s.n; i++) {
		if (strncasecmp(s.p + i, "score=", 6) != 0 ||
		    (i > 0 && isalnum((unsigned char)s.p[i - 1])))
			continue;
		if (read_score(str_make(s.p + i + 6, s.n - i - 6), &end,
			       &score)) {
			spam_verdict_add_score(v, score);
			any = true;
		}
		break;
	}
	return any;
}

/* X-Spamd-Result: "default: True [7.50 / 15.00]; ..." (the metric's
 * name, whether it is spam, its score / the reject score). */
static bool field_spamd_result(struct spam_verdict *v, struct str s)
{
	const char *colon = memchr(s.p, ':', s.n);
	const char *open;
	struct str rest;
	int64_t score;
	bool yes, any = false;
	size_t end;

	if (colon == NULL)
		return false;
	rest = str_make(colon + 1, s.n - (size_t)(colon + 1 - s.p));
	if (starts_yes(rest, &yes)) {
		v->flag |= yes;
		any = true;
	}
	open = memchr(rest.p, '[', rest.n);
	if (open != NULL &&
	    read_score(str_make(open + 1, rest.n - (size_t)(open + 1 - rest.p)),
		       &end, &score)) {
		spam_verdict_add_score(v, score);
		any = true;
	}
	return any;
}

bool spam_verdict_field(struct spam_verdict *v, struct str name,
			struct str value)
{
	char buf[VERDICT_VALUE_MAX];
	struct strbuf sb = STRBUF_INIT;
	struct str s;
	int64_t score;
	size_t end;
	bool yes, ok = false;
	enum { FLAG, STATUS, SPAMD, SCORE } kind;

	if (str_caseeq(name, STR_LIT("X-Spam-Flag")) ||
	    str_caseeq(name, STR_LIT("X-Spam")))
		kind = FLAG;
	else if (str_caseeq(name, STR_LIT("X-Spam-Status")))
		kind = STATUS;
	else if (str_caseeq(name, STR_LIT("X-Spamd-Result")))
		kind = SPAMD;
	else if (str_caseeq(name, STR_LIT("X-Rspamd-Score")) ||
		 str_caseeq(name, STR_LIT("X-Spam-Score")))
		kind = SCORE;
	else
		return false;
	header_unfold(&sb, str_make(value.p, MIN(value.n, VERDICT_VALUE_MAX)));
	memcpy(buf, sb.p != NULL ? sb.p : "", MIN(sb.n, sizeof(buf)));
	s = str_make(buf, MIN(sb.n, sizeof(buf)));
	strbuf_free(&sb);
	switch (kind) {
	case FLAG:
		if (starts_yes(s, &yes)) {
			v->flag |= yes;
			ok = true;
		}
		break;
	case STATUS:
		ok = field_status(v, s);
		break;
	case SPAMD:
		ok = field_spamd_result(v, s);
		break;
	case SCORE:
		if (read_score(s, &end, &score)) {
			spam_verdict_add_score(v, score);
			ok = true;
		}
		break;
	}
	if (ok)
		v->fields++;
	return ok;
}

void spam_verdict_header(struct spam_verdict *v, struct str header)
{
	struct header_field f;
	size_t pos = 0;

	header.n = header_section_size(header);
	while (header_next(header, &pos, &f))
		(void)spam_verdict_field(v, f.name, f.value);
}

bool spam_verdict_is_junk(const struct spam_verdict *v, int64_t threshold)
{
	return v->flag || (v->has_score && v->score >= threshold);
}
