/* dnsbl.h: DNS list sites in Postfix postscreen's syntax ("zone[=pattern]
 * [*weight]", e.g. "zen.example*2 bl.example=127.0.0.[2..11]
 * wl.example=127.0.[0..255].[1..3]*-2") and the test of an answer address
 * against a site's pattern (RFC 5782 lists answer 127.0.0.x). Pure. */
#ifndef POSTHORN_MAIL_DNSBL_H
#define POSTHORN_MAIL_DNSBL_H

#include "base/str.h"

struct dnsbl_site {
	char *zone;		/* lower case, no final dot */
	/* Per octet of the answer: the values allowed (a bit set); a
	 * site without a pattern takes 127.0.0.0/8 answers. */
	uint8_t allow[4][32];
	int weight;		/* 1 when not given; negative: an allowlist */
};

/* Parse a list separated by blanks or commas. Returns the count with
 * *sites_r malloc'd (free with dnsbl_sites_free), or -1 with *bad_r the
 * site that is wrong (a view into text). */
int dnsbl_sites_parse(struct str text, struct dnsbl_site **sites_r,
		      struct str *bad_r);
void dnsbl_sites_free(struct dnsbl_site **sites, size_t n);
/* Whether the numeric IPv4 answer matches the site's pattern. */
bool dnsbl_site_match(const struct dnsbl_site *site, const char *addr);

#endif
