/* imap_token.c: the lexical layer of IMAP commands. Every reader either
 * consumes a whole token or nothing, and records the first error. */
#include "proto/imap/imap_token.h"

#include "base/strbuf.h"
#include "mail/mutf7.h"
#include "mail/rfc5322_date.h"
#include "store/store.h"

void imap_cursor_init(struct imap_cursor *c, struct str command)
{
	c->p = command.p;
	c->end = command.p + command.n;
	c->error = NULL;
}

bool imap_cursor_at_end(const struct imap_cursor *c)
{
	return c->p >= c->end;
}

int imap_cursor_peek(const struct imap_cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

bool imap_cursor_skip_char(struct imap_cursor *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool fail(struct imap_cursor *c, const char *error)
{
	if (c->error == NULL)
		c->error = error;
	return false;
}

bool imap_cursor_sp(struct imap_cursor *c)
{
	if (imap_cursor_skip_char(c, ' '))
		return true;
	return fail(c, "Expected a space");
}

/* ATOM-CHAR: any CHAR except atom-specials: ( ) { SP CTL % * " \ ] */
static bool atom_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", ch) == NULL;
}

static bool astring_char(unsigned char ch)
{
	return atom_char(ch) || ch == ']';
}

bool imap_cursor_atom(struct imap_cursor *c, struct str *atom_r)
{
	const char *start = c->p;

	while (c->p < c->end && atom_char((unsigned char)*c->p))
		c->p++;
	if (c->p == start)
		return fail(c, "Expected an atom");
	*atom_r = str_make(start, (size_t)(c->p - start));
	return true;
}

bool imap_cursor_word(struct imap_cursor *c, struct str *word_r)
{
	const char *start = c->p;

	while (c->p < c->end && astring_char((unsigned char)*c->p))
		c->p++;
	if (c->p == start)
		return fail(c, "Expected an atom");
	*word_r = str_make(start, (size_t)(c->p - start));
	return true;
}

static bool parse_quoted(struct imap_cursor *c, struct arena *a, struct str *s_r)
{
	const char *p = c->p + 1;
	struct strbuf b = STRBUF_INIT;

	for (;;) {
		if (p >= c->end) {
			strbuf_free(&b);
			return fail(c, "Unterminated quoted string");
		}
		unsigned char ch = (unsigned char)*p;

		if (ch == '"')
			break;
		if (ch == '\\') {
			if (p + 1 >= c->end || (p[1] != '"' && p[1] != '\\')) {
				strbuf_free(&b);
				return fail(c, "Bad escape in quoted string");
			}
			p++;
			ch = (unsigned char)*p;
		} else if (ch == '\0' || ch == '\r' || ch == '\n') {
			strbuf_free(&b);
			return fail(c, "Bad character in quoted string");
		}
		strbuf_putc(&b, (char)ch);
		p++;
	}
	*s_r = arena_str(a, strbuf_str(&b));
	strbuf_free(&b);
	c->p = p + 1;
	return true;
}

static bool parse_literal(struct imap_cursor *c, bool binary,
			  struct str *s_r)
{
	const char *p = c->p + binary;
	uint64_t n = 0;

	if (p >= c->end || *p != '{')
		return fail(c, "Expected a literal");
	p++;
	const char *digits = p;

	while (p < c->end && *p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return fail(c, "Literal too big");
		n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == digits)
		return fail(c, "Bad literal size");
	if (p < c->end && *p == '+')
		p++;
	if (c->end - p < 3 || p[0] != '}' || p[1] != '\r' || p[2] != '\n')
		return fail(c, "Bad literal");
	p += 3;
	if ((uint64_t)(c->end - p) < n)
		return fail(c, "Literal shorter than announced");
	if (!binary && memchr(p, '\0', n) != NULL)
		return fail(c, "NUL in a literal (use literal8)");
	*s_r = str_make(p, n);
	c->p = p + n;
	return true;
}

bool imap_cursor_string(struct imap_cursor *c, struct arena *a, struct str *s_r)
{
	int ch = imap_cursor_peek(c);

	if (ch == '"')
		return parse_quoted(c, a, s_r);
	if (ch == '{')
		return parse_literal(c, false, s_r);
	return fail(c, "Expected a string");
}

bool imap_cursor_string8(struct imap_cursor *c, struct arena *a,
			 struct str *s_r, bool *literal8_r)
{
	*literal8_r = imap_cursor_peek(c) == '~';
	if (*literal8_r)
		return parse_literal(c, true, s_r);
	return imap_cursor_string(c, a, s_r);
}

bool imap_cursor_astring(struct imap_cursor *c, struct arena *a, struct str *s_r)
{
	int ch = imap_cursor_peek(c);

	if (ch == '"' || ch == '{')
		return imap_cursor_string(c, a, s_r);
	return imap_cursor_word(c, s_r);
}

bool imap_cursor_nstring(struct imap_cursor *c, struct arena *a,
			 struct str *s_r, bool *nil_r)
{
	if (c->end - c->p >= 3 && strncasecmp(c->p, "NIL", 3) == 0 &&
	    (c->end - c->p == 3 || !atom_char((unsigned char)c->p[3]))) {
		c->p += 3;
		*nil_r = true;
		*s_r = STR_LIT("");
		return true;
	}
	*nil_r = false;
	return imap_cursor_string(c, a, s_r);
}

static bool parse_digits(struct imap_cursor *c, uint64_t max, bool nz,
			 uint64_t *n_r)
{
	const char *p = c->p;
	uint64_t n = 0;

	while (p < c->end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');

		if (n > (max - d) / 10)
			return fail(c, "Number too big");
		n = n * 10 + d;
		p++;
	}
	if (p == c->p)
		return fail(c, "Expected a number");
	if (nz && *c->p == '0')
		return fail(c, "Expected a non-zero number");
	c->p = p;
	*n_r = n;
	return true;
}

bool imap_cursor_number(struct imap_cursor *c, uint32_t *n_r)
{
	uint64_t n;

	if (!parse_digits(c, UINT32_MAX, false, &n))
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool imap_cursor_nz_number(struct imap_cursor *c, uint32_t *n_r)
{
	uint64_t n;

	if (!parse_digits(c, UINT32_MAX, true, &n))
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool imap_cursor_number64(struct imap_cursor *c, uint64_t *n_r)
{
	return parse_digits(c, INT64_MAX, false, n_r);
}

bool imap_cursor_mailbox(struct imap_cursor *c, struct arena *a, bool utf8,
			 const char **name_r)
{
	const char *start = c->p;
	struct str s;

	if (!imap_cursor_astring(c, a, &s))
		return false;
	if (str_caseeq(s, STR_LIT("INBOX"))) {
		*name_r = "INBOX";
		return true;
	}
	if (memchr(s.p, '\0', s.n) != NULL) {
		c->p = start;
		return fail(c, "NUL in a mailbox name");
	}
	if (utf8) {
		if (!mutf7_utf8_valid(s.p, s.n)) {
			c->p = start;
			return fail(c, "Mailbox name is not valid UTF-8");
		}
		*name_r = arena_strndup(a, s.p, s.n);
		return true;
	}

	struct strbuf b = STRBUF_INIT;

	if (mutf7_decode(s.p, s.n, &b) < 0) {
		strbuf_free(&b);
		c->p = start;
		return fail(c, "Mailbox name is not valid modified UTF-7");
	}
	*name_r = arena_strndup(a, strbuf_cstr(&b), b.n);
	strbuf_free(&b);
	return true;
}

/* A seq-number: nz-number or "*" (*star_r). */
static bool parse_seq_number(struct imap_cursor *c, uint32_t *n_r, bool *star_r)
{
	*star_r = imap_cursor_skip_char(c, '*');
	if (*star_r) {
		*n_r = 0;
		return true;
	}
	return imap_cursor_nz_number(c, n_r);
}

static int range_cmp(const void *pa, const void *pb)
{
	const struct imap_seq_range *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->hi < b->hi ? -1 : a->hi > b->hi;
}

/* Sort and merge the explicit ranges. Membership is then a binary search:
 * "1,1,1,..." costs log n per test, not its length. Returns the new count
 * (never more). */
static size_t seqset_normalise(struct imap_seq_range *r, size_t n)
{
	size_t out = 0;

	if (n < 2)
		return n;	/* also no qsort(NULL, 0): a set of '*' only */
	qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && (uint64_t)r[i].lo <= (uint64_t)r[out - 1].hi + 1) {
			r[out - 1].hi = MAX(r[out - 1].hi, r[i].hi);
			continue;
		}
		r[out++] = r[i];
	}
	return out;
}

static void add_range(struct imap_seq_range **ranges, size_t *n, size_t *cap,
		      uint32_t lo, uint32_t hi)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		*ranges = xrealloc(*ranges, *cap * sizeof(**ranges));
	}
	(*ranges)[*n].lo = MIN(lo, hi);
	(*ranges)[*n].hi = MAX(lo, hi);
	(*n)++;
}

bool imap_cursor_seqset(struct imap_cursor *c, struct arena *a,
			struct imap_seqset *set_r)
{
	const char *start = c->p, *old_error = c->error;
	struct imap_seq_range *ranges = NULL;
	size_t n = 0, cap = 0;
	/* "x:*" is [min(x, max), max(x, max)], so "x1:*,...,xk:*" is
	 * "xmin:*" plus the explicit [xmin, xmax], and a lone "*" is in any
	 * "x:*". */
	uint32_t xmin = UINT32_MAX, xmax = 0;
	bool star = false, with_x = false;

	for (;;) {
		uint32_t lo, hi;
		bool lo_star, hi_star;

		if (!parse_seq_number(c, &lo, &lo_star))
			goto bad;
		hi = lo;
		hi_star = lo_star;
		if (imap_cursor_skip_char(c, ':') &&
		    !parse_seq_number(c, &hi, &hi_star))
			goto bad;
		if (!lo_star && !hi_star) {
			add_range(&ranges, &n, &cap, lo, hi);
		} else {
			star = true;
			if (!lo_star || !hi_star) {
				uint32_t x = lo_star ? hi : lo;

				with_x = true;
				xmin = MIN(xmin, x);
				xmax = MAX(xmax, x);
			}
		}
		if (!imap_cursor_skip_char(c, ','))
			break;
	}
	if (with_x && xmin < xmax)
		add_range(&ranges, &n, &cap, xmin, xmax);
	n = seqset_normalise(ranges, n);
	set_r->ranges = arena_alloc(a, (n + 1) * sizeof(*ranges));
	if (n > 0)
		memcpy(set_r->ranges, ranges, n * sizeof(*ranges));
	set_r->n = n;
	set_r->star = star;
	set_r->star_from = with_x ? xmin : 0;
	free(ranges);
	return true;
bad:
	free(ranges);
	c->p = start;
	c->error = old_error;
	return fail(c, "Invalid sequence set");
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
			  uint32_t max)
{
	size_t lo = 0, hi = set->n;

	if (set->star) {
		uint32_t x = set->star_from != 0 ? set->star_from : max;

		if (n >= MIN(x, max) && n <= MAX(x, max))
			return true;
	}
	/* The first range ending at n or above. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->ranges[mid].hi < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < set->n && set->ranges[lo].lo <= n &&
	       n <= set->ranges[lo].hi;
}

struct flag_acc {
	uint32_t flags;
	const char **keywords;
	size_t n, cap;
};

static bool parse_flag(struct imap_cursor *c, struct flag_acc *acc)
{
	static const struct { const char *name; uint32_t bit; } sys[] = {
		{ "\\Seen", STORE_FLAG_SEEN },
		{ "\\Answered", STORE_FLAG_ANSWERED },
		{ "\\Flagged", STORE_FLAG_FLAGGED },
		{ "\\Deleted", STORE_FLAG_DELETED },
		{ "\\Draft", STORE_FLAG_DRAFT },
	};
	const char *start = c->p;
	struct str atom;

	if (imap_cursor_skip_char(c, '\\')) {
		if (!imap_cursor_atom(c, &atom)) {
			c->p = start;
			return false;
		}
		atom = str_make(start, (size_t)(c->p - start));
		for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
			if (str_caseeq(atom, str_c(sys[i].name))) {
				acc->flags |= sys[i].bit;
				return true;
			}
		}
		c->p = start;
		return fail(c, "Unknown or read-only system flag");
	}
	if (!imap_cursor_atom(c, &atom))
		return false;
	/* NIL is an atom by the grammar, but a client reads it as nil in
	 * a FETCH FLAGS list: refused (BAD). Dovecot 2.3 takes it and then
	 * answers FLAGS (NIL); we would rather no client met that. */
	if (str_caseeq(atom, STR_LIT("NIL"))) {
		c->p = start;
		return fail(c, "NIL is not a flag name");
	}
	/* One past the bound says "too many"; the rest is only read. */
	if (acc->n > IMAP_MAX_KEYWORDS)
		return true;
	for (size_t i = 0; i < acc->n; i++) {
		if (str_eq(atom, str_c(acc->keywords[i])))
			return true;
	}
	if (acc->n == acc->cap) {
		acc->cap = acc->cap == 0 ? 4 : acc->cap * 2;
		acc->keywords = xrealloc(acc->keywords,
					 acc->cap * sizeof(*acc->keywords));
	}
	acc->keywords[acc->n++] = str_dup(atom);
	return true;
}

static void flag_acc_free(struct flag_acc *acc)
{
	for (size_t i = 0; i < acc->n; i++)
		free((char *)acc->keywords[i]);
	free(acc->keywords);
}

static void flag_acc_finish(struct flag_acc *acc, struct arena *a,
			    uint32_t *flags_r, const char ***keywords_r,
			    size_t *n_keywords_r)
{
	const char **kw = arena_alloc(a, (acc->n + 1) * sizeof(*kw));

	for (size_t i = 0; i < acc->n; i++)
		kw[i] = arena_strdup(a, acc->keywords[i]);
	kw[acc->n] = NULL;
	*flags_r = acc->flags;
	*keywords_r = kw;
	*n_keywords_r = acc->n;
	flag_acc_free(acc);
}

bool imap_cursor_flag_list(struct imap_cursor *c, struct arena *a,
			   uint32_t *flags_r, const char ***keywords_r,
			   size_t *n_keywords_r)
{
	const char *start = c->p;
	struct flag_acc acc = { 0, NULL, 0, 0 };

	if (!imap_cursor_skip_char(c, '('))
		return fail(c, "Expected a flag list");
	if (!imap_cursor_skip_char(c, ')')) {
		for (;;) {
			if (!parse_flag(c, &acc))
				goto bad;
			if (imap_cursor_skip_char(c, ')'))
				break;
			if (!imap_cursor_sp(c))
				goto bad;
		}
	}
	flag_acc_finish(&acc, a, flags_r, keywords_r, n_keywords_r);
	return true;
bad:
	flag_acc_free(&acc);
	c->p = start;
	return false;
}

bool imap_cursor_flags_or_list(struct imap_cursor *c, struct arena *a,
			       uint32_t *flags_r, const char ***keywords_r,
			       size_t *n_keywords_r)
{
	const char *start = c->p;
	struct flag_acc acc = { 0, NULL, 0, 0 };

	if (imap_cursor_peek(c) == '(')
		return imap_cursor_flag_list(c, a, flags_r, keywords_r,
					     n_keywords_r);
	for (;;) {
		if (!parse_flag(c, &acc)) {
			flag_acc_free(&acc);
			c->p = start;
			return false;
		}
		if (!imap_cursor_skip_char(c, ' '))
			break;
	}
	flag_acc_finish(&acc, a, flags_r, keywords_r, n_keywords_r);
	return true;
}

bool imap_keywords_has(const char *keywords, struct str kw)
{
	struct str rest = str_c(keywords), word;

	while (rest.n > 0) {
		if (!str_split(rest, ' ', &word, &rest))
			rest = STR_NULL;
		if (str_caseeq(word, kw))
			return true;
	}
	return false;
}

size_t imap_keywords_count(const char *keywords)
{
	struct str rest = str_c(keywords), word;
	size_t n = 0;

	while (rest.n > 0) {
		if (!str_split(rest, ' ', &word, &rest))
			rest = STR_NULL;
		n += word.n > 0;
	}
	return n;
}

static bool fixed_digits(const char **p, const char *end, size_t n, int *v_r)
{
	int v = 0;

	if ((size_t)(end - *p) < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v_r = v;
	return true;
}

/* "-Mon-yyyy" after the day */
static bool month_year(const char **p, const char *end, int *mon_r, int *year_r)
{
	if (end - *p < 9 || (*p)[0] != '-' || (*p)[4] != '-')
		return false;
	*mon_r = rfc5322_date_month(str_make(*p + 1, 3));
	if (*mon_r == 0)
		return false;
	*p += 5;
	return fixed_digits(p, end, 4, year_r);
}

bool imap_cursor_date(struct imap_cursor *c, int64_t *t_r)
{
	const char *p = c->p;
	bool quoted = false;
	int day = 0, mon, year;

	if (p < c->end && *p == '"') {
		quoted = true;
		p++;
	}
	if (p < c->end && *p >= '0' && *p <= '9')
		day = *p++ - '0';
	else
		return fail(c, "Expected a date");
	if (p < c->end && *p >= '0' && *p <= '9')
		day = day * 10 + (*p++ - '0');
	if (!month_year(&p, c->end, &mon, &year) ||
	    !rfc5322_date_valid_day(year, mon, day))
		return fail(c, "Invalid date");
	if (quoted) {
		if (p >= c->end || *p != '"')
			return fail(c, "Invalid date");
		p++;
	}
	c->p = p;
	*t_r = rfc5322_date_timegm(year, mon, day, 0, 0, 0);
	return true;
}

bool imap_cursor_date_time(struct imap_cursor *c, int64_t *t_r, int *zone_r)
{
	const char *p = c->p;
	int day, mon, year, hour, min, sec, zone;
	bool neg;

	if (c->end - p < 28 || *p != '"')
		return fail(c, "Expected a date-time");
	p++;
	if (*p == ' ') {
		p++;
		if (!fixed_digits(&p, c->end, 1, &day))
			return fail(c, "Invalid date-time");
	} else if (!fixed_digits(&p, c->end, 2, &day)) {
		return fail(c, "Invalid date-time");
	}
	if (!month_year(&p, c->end, &mon, &year) ||
	    !rfc5322_date_valid_day(year, mon, day) || c->end - p < 16 ||
	    *p++ != ' ' || !fixed_digits(&p, c->end, 2, &hour) || *p++ != ':' ||
	    !fixed_digits(&p, c->end, 2, &min) || *p++ != ':' ||
	    !fixed_digits(&p, c->end, 2, &sec) || *p++ != ' ' ||
	    (*p != '+' && *p != '-'))
		return fail(c, "Invalid date-time");
	neg = *p++ == '-';
	if (!fixed_digits(&p, c->end, 4, &zone) || p >= c->end || *p != '"' ||
	    hour > 23 || min > 59 || sec > 60 || zone % 100 > 59)
		return fail(c, "Invalid date-time");
	p++;
	c->p = p;
	zone = (zone / 100) * 60 + zone % 100;
	if (neg)
		zone = -zone;
	*t_r = rfc5322_date_timegm(year, mon, day, hour, min, sec) -
	       (int64_t)zone * 60;
	*zone_r = zone;
	return true;
}
