/* dnsbl.c: DNS list site syntax and answer patterns (see dnsbl.h). */
#include "mail/dnsbl.h"

#include <arpa/inet.h>
#include <ctype.h>

static void allow_set(uint8_t *bits, unsigned lo, unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		bits[v / 8] |= (uint8_t)(1u << (v % 8));
}

static bool read_num(struct str s, size_t *i, unsigned *v_r)
{
	unsigned v = 0;
	size_t start = *i;

	while (*i < s.n && isdigit((unsigned char)s.p[*i]) && *i - start < 3)
		v = v * 10 + (unsigned)(s.p[(*i)++] - '0');
	*v_r = v;
	return *i > start && v <= 255;
}

/* One octet: "N", "[a..b]", "[a;b;c]" (postscreen's forms). */
static bool parse_octet(struct str s, size_t *i, uint8_t *bits)
{
	unsigned lo, hi;

	if (*i < s.n && s.p[*i] != '[') {
		if (!read_num(s, i, &lo))
			return false;
		allow_set(bits, lo, lo);
		return true;
	}
	(*i)++;
	for (;;) {
		if (!read_num(s, i, &lo))
			return false;
		hi = lo;
		if (*i + 1 < s.n && s.p[*i] == '.' && s.p[*i + 1] == '.') {
			*i += 2;
			if (!read_num(s, i, &hi) || hi < lo)
				return false;
		}
		allow_set(bits, lo, hi);
		if (*i < s.n && s.p[*i] == ';') {
			(*i)++;
			continue;
		}
		if (*i < s.n && s.p[*i] == ']') {
			(*i)++;
			return true;
		}
		return false;
	}
}

static bool parse_site(struct str t, struct dnsbl_site *site)
{
	ptrdiff_t star = -1, eq = str_chr(t, '=');
	struct str zone;

	for (size_t i = t.n; i > 0; i--) {
		if (t.p[i - 1] == '*') {
			star = (ptrdiff_t)(i - 1);
			break;
		}
	}
	memset(site, 0, sizeof(*site));
	site->weight = 1;
	if (star >= 0) {
		struct str w = str_from(t, (size_t)star + 1);
		bool neg = w.n > 0 && w.p[0] == '-';
		uint64_t v;

		if (neg)
			w = str_from(w, 1);
		if (!str_to_u64(w, 1000, &v))
			return false;
		site->weight = neg ? -(int)v : (int)v;
		t.n = (size_t)star;
	}
	zone = eq >= 0 && (size_t)eq < t.n ? str_make(t.p, (size_t)eq) : t;
	if (zone.n == 0 || zone.n > 200)
		return false;
	for (size_t i = 0; i < zone.n; i++) {
		char c = zone.p[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '.' && c != '_')
			return false;
	}
	if (eq >= 0 && (size_t)eq < t.n) {
		struct str pat = str_from(t, (size_t)eq + 1);
		size_t i = 0;

		for (int o = 0; o < 4; o++) {
			if (o > 0 && (i >= pat.n || pat.p[i++] != '.'))
				return false;
			if (!parse_octet(pat, &i, site->allow[o]))
				return false;
		}
		if (i != pat.n)
			return false;
	} else {
		allow_set(site->allow[0], 127, 127);
		for (int o = 1; o < 4; o++)
			allow_set(site->allow[o], 0, 255);
	}
	site->zone = str_dup(zone);
	for (char *p = site->zone; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (site->zone[strlen(site->zone) - 1] == '.')
		site->zone[strlen(site->zone) - 1] = '\0';
	return site->zone[0] != '\0';
}

int dnsbl_sites_parse(struct str text, struct dnsbl_site **sites_r,
		      struct str *bad_r)
{
	struct dnsbl_site *sites = NULL;
	size_t n = 0, i = 0;

	*sites_r = NULL;
	while (i < text.n) {
		size_t start;

		while (i < text.n && (text.p[i] == ' ' || text.p[i] == '\t' ||
				      text.p[i] == ','))
			i++;
		if (i == text.n)
			break;
		start = i;
		while (i < text.n && text.p[i] != ' ' && text.p[i] != '\t' &&
		       text.p[i] != ',')
			i++;
		sites = xrealloc(sites, (n + 1) * sizeof(*sites));
		if (!parse_site(str_make(text.p + start, i - start), &sites[n])) {
			*bad_r = str_make(text.p + start, i - start);
			dnsbl_sites_free(&sites, n);
			return -1;
		}
		n++;
	}
	*sites_r = sites;
	return (int)n;
}

void dnsbl_sites_free(struct dnsbl_site **sites, size_t n)
{
	if (*sites == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*sites)[i].zone);
	free(*sites);
	*sites = NULL;
}

bool dnsbl_site_match(const struct dnsbl_site *site, const char *addr)
{
	uint8_t a[4];

	if (inet_pton(AF_INET, addr, a) != 1)
		return false;
	for (int o = 0; o < 4; o++) {
		if ((site->allow[o][a[o] / 8] & (1u << (a[o] % 8))) == 0)
			return false;
	}
	return true;
}
