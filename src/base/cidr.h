/* cidr.h: IPv4 and IPv6 networks in CIDR notation ("10.0.0.0/8",
 * "2001:db8::/32", a bare address for one host) and matching a peer
 * address against a list of them. Pure: no I/O, no DNS. */
#ifndef POSTHORN_BASE_CIDR_H
#define POSTHORN_BASE_CIDR_H

#include "base/base.h"
#include "base/str.h"

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network bytes, host bits zeroed */
	unsigned prefix;		/* 0..32 or 0..128 */
};

/* Parse one network. A bare address is a host (/32, /128). Host bits set
 * below the prefix ("10.1.2.3/8") are an error: the admin meant something
 * else. Returns false on any syntax error. */
bool cidr_parse(struct str s, struct cidr *cidr_r);

/* Parse a list separated by blanks and/or commas; an empty list is valid.
 * Returns the count (>= 0) with *list_r malloc'd (NULL when empty), or -1
 * with *bad_r the first token that is not a network (a view into text). */
int cidr_list_parse(struct str text, struct cidr **list_r, struct str *bad_r);

/* Whether the address text ("192.0.2.1", "2001:db8::1") lies in one of
 * the networks. An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") also
 * matches IPv4 networks. Anything that is not an address ("unix") matches
 * nothing. */
bool cidr_list_match(const struct cidr *list, size_t n, const char *ip);

/* "2001:db8::/64" and the like, NUL included. */
#define CIDR_SOURCE_MAX 64
/* The source a client address counts against in a per-client limit: an
 * IPv4 address ("192.0.2.1", also for "::ffff:192.0.2.1"), an IPv6
 * address cut to its first v6_prefix bits ("2001:db8::/64"; 1..128, 128
 * gives the bare address); anything that is not an address ("unix")
 * stands for itself (cut to CIDR_SOURCE_MAX - 1 bytes). */
void cidr_source(const char *ip, unsigned v6_prefix,
		 char source_r[CIDR_SOURCE_MAX]);

#endif
