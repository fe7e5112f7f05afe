/* dmarc_record.c: the DMARC policy record (RFC 7489 6.3, 6.4): a tag list
 * that starts with v=DMARC1, read leniently where the RFC lets a receiver
 * keep defaults, strictly where it decides whether DMARC applies. */
#include "mail/dmarc.h"

enum {
	SEEN_P = 1 << 0,
	SEEN_SP = 1 << 1,
	SEEN_PCT = 1 << 2,
	SEEN_ADKIM = 1 << 3,
	SEEN_ASPF = 1 << 4,
	SEEN_FO = 1 << 5,
	SEEN_RF = 1 << 6,
	SEEN_RI = 1 << 7,
	SEEN_RUA = 1 << 8,
	SEEN_RUF = 1 << 9,
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct str trim(struct str s)
{
	while (s.n > 0 && is_wsp(s.p[0]))
		s = str_from(s, 1);
	while (s.n > 0 && is_wsp(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool parse_policy(struct str v, enum dmarc_policy *p_r)
{
	if (str_caseeq(v, STR_LIT("none")))
		*p_r = DMARC_POLICY_NONE;
	else if (str_caseeq(v, STR_LIT("quarantine")))
		*p_r = DMARC_POLICY_QUARANTINE;
	else if (str_caseeq(v, STR_LIT("reject")))
		*p_r = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static void parse_align(struct str v, enum dmarc_align *a_r)
{
	if (str_caseeq(v, STR_LIT("s")))
		*a_r = DMARC_ALIGN_STRICT;
	else if (str_caseeq(v, STR_LIT("r")))
		*a_r = DMARC_ALIGN_RELAXED;
}

/* fo: a colon-separated list of 0, 1, d, s. */
static bool fo_ok(struct str v)
{
	struct str item, rest = v;
	bool more = true;

	while (more) {
		more = str_split(rest, ':', &item, &rest);
		item = trim(item);
		if (item.n != 1 || memchr("01ds", item.p[0], 4) == NULL)
			return false;
	}
	return true;
}

/* RFC 3986 scheme ":" and something, with no white space or control. */
static bool uri_ok(struct str u)
{
	size_t i = 0;

	if (u.n == 0 || !((u.p[0] | 0x20) >= 'a' && (u.p[0] | 0x20) <= 'z'))
		return false;
	while (i < u.n && u.p[i] != ':') {
		char c = u.p[i];

		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
			return false;
		i++;
	}
	if (i == u.n || i + 1 == u.n)
		return false;
	for (; i < u.n; i++)
		if ((unsigned char)u.p[i] <= ' ' || u.p[i] == 0x7f)
			return false;
	return true;
}

/* "uri[!size[kmgt]]"; false for something that is not a URI. */
static bool parse_uri(struct str s, struct dmarc_uri *u_r)
{
	ptrdiff_t bang = -1;
	uint64_t size = 0;

	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == '!')
			bang = (ptrdiff_t)i;
	u_r->uri = s;
	u_r->max_size = 0;
	if (bang >= 0) {
		struct str sz = str_from(s, (size_t)bang + 1);
		unsigned shift = 0;

		if (sz.n > 0) {
			switch (sz.p[sz.n - 1] | 0x20) {
			case 'k': shift = 10; sz.n--; break;
			case 'm': shift = 20; sz.n--; break;
			case 'g': shift = 30; sz.n--; break;
			case 't': shift = 40; sz.n--; break;
			}
		}
		if (!str_to_u64(sz, UINT64_MAX >> 40, &size))
			return false;
		u_r->uri = str_make(s.p, (size_t)bang);
		/* "!0" is no limit at all: nothing fits in 0 bytes */
		u_r->max_size = size << shift;
	}
	return uri_ok(u_r->uri);
}

static void parse_uris(struct str v, struct dmarc_uri *uris, size_t *count_r)
{
	struct str item, rest = v;
	bool more = true;

	*count_r = 0;
	while (more) {
		more = str_split(rest, ',', &item, &rest);
		item = trim(item);
		if (*count_r < DMARC_MAX_URIS && parse_uri(item, &uris[*count_r]))
			(*count_r)++;
	}
}

/* Take one "name=value" tag; false when the tag is not one. */
static bool split_tag(struct str tag, struct str *name_r, struct str *value_r)
{
	if (!str_split(tag, '=', name_r, value_r))
		return false;
	*name_r = trim(*name_r);
	*value_r = trim(*value_r);
	return name_r->n > 0;
}

/* Is this tag new? Later copies of a tag are ignored. */
static bool first(unsigned *seen, unsigned bit)
{
	bool was = (*seen & bit) != 0;

	*seen |= bit;
	return !was;
}

enum dmarc_parse dmarc_record_parse(struct str txt, struct dmarc_record *rec_r)
{
	struct str tag, rest, name, value;
	bool p_ok = false, sp_ok = true, more;
	unsigned seen = 0;
	uint64_t n;

	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->pct = 100;
	rec_r->ri = 86400;
	rec_r->fo = STR_LIT("0");
	rec_r->rf = STR_LIT("afrf");
	/* v=DMARC1 first; the value is case-sensitive (RFC 7489 6.4) */
	more = str_split(txt, ';', &tag, &rest);
	if (!split_tag(tag, &name, &value) || !str_eq(name, STR_LIT("v")) ||
	    !str_eq(value, STR_LIT("DMARC1")))
		return DMARC_PARSE_NOT_DMARC;
	while (more) {
		more = str_split(rest, ';', &tag, &rest);
		if (!split_tag(tag, &name, &value))
			continue;
		if (str_caseeq(name, STR_LIT("p"))) {
			if (first(&seen, SEEN_P))
				p_ok = parse_policy(value, &rec_r->p);
		} else if (str_caseeq(name, STR_LIT("sp"))) {
			if (first(&seen, SEEN_SP))
				sp_ok = parse_policy(value, &rec_r->sp);
		} else if (str_caseeq(name, STR_LIT("pct"))) {
			if (first(&seen, SEEN_PCT) &&
			    str_to_u64(value, 100, &n))
				rec_r->pct = (unsigned)n;
		} else if (str_caseeq(name, STR_LIT("adkim"))) {
			if (first(&seen, SEEN_ADKIM))
				parse_align(value, &rec_r->adkim);
		} else if (str_caseeq(name, STR_LIT("aspf"))) {
			if (first(&seen, SEEN_ASPF))
				parse_align(value, &rec_r->aspf);
		} else if (str_caseeq(name, STR_LIT("fo"))) {
			if (first(&seen, SEEN_FO) && fo_ok(value))
				rec_r->fo = value;
		} else if (str_caseeq(name, STR_LIT("rf"))) {
			if (first(&seen, SEEN_RF) && value.n > 0)
				rec_r->rf = value;
		} else if (str_caseeq(name, STR_LIT("ri"))) {
			if (first(&seen, SEEN_RI) &&
			    str_to_u64(value, UINT32_MAX, &n))
				rec_r->ri = (uint32_t)n;
		} else if (str_caseeq(name, STR_LIT("rua"))) {
			if (first(&seen, SEEN_RUA))
				parse_uris(value, rec_r->rua, &rec_r->rua_count);
		} else if (str_caseeq(name, STR_LIT("ruf"))) {
			if (first(&seen, SEEN_RUF))
				parse_uris(value, rec_r->ruf, &rec_r->ruf_count);
		}
		/* other tags (np, t, psd, future ones) are ignored */
	}
	if (!(seen & SEEN_SP))
		rec_r->sp = rec_r->p;
	if (p_ok && sp_ok)
		return DMARC_PARSE_OK;
	/* RFC 7489 6.6.3 step 6: with a valid rua, act as p=none (so that
	 * the owner still gets reports); without one, DMARC does not apply */
	if (rec_r->rua_count == 0)
		return DMARC_PARSE_INVALID;
	rec_r->p = DMARC_POLICY_NONE;
	rec_r->sp = DMARC_POLICY_NONE;
	rec_r->p_invalid = true;
	return DMARC_PARSE_OK;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	}
	return "none";
}
