/* cidr.c: CIDR parsing and matching with inet_pton and byte masks. */
#include "base/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The address text into family and bytes. */
static bool parse_ip(const char *s, int *family_r, unsigned char b[16])
{
	if (inet_pton(AF_INET, s, b) == 1) {
		*family_r = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		*family_r = AF_INET6;
		return true;
	}
	return false;
}

static bool prefix_match(const unsigned char *a, const unsigned char *net,
			 unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (0xff00u >> rest) & 0xff) == 0;
}

bool cidr_parse(struct str s, struct cidr *cidr_r)
{
	char ip[INET6_ADDRSTRLEN];
	struct str addr, len;
	uint64_t prefix;
	unsigned max;

	memset(cidr_r, 0, sizeof(*cidr_r));
	if (!str_split(s, '/', &addr, &len)) {
		addr = s;
		len = STR_LIT("");
	} else if (len.n == 0 || len.n > 3) {
		return false;
	}
	if (addr.n == 0 || addr.n >= sizeof(ip) ||
	    memchr(addr.p, '\0', addr.n) != NULL)
		return false;
	memcpy(ip, addr.p, addr.n);
	ip[addr.n] = '\0';
	if (!parse_ip(ip, &cidr_r->family, cidr_r->addr))
		return false;
	max = cidr_r->family == AF_INET ? 32 : 128;
	if (len.n == 0) {
		prefix = max;
	} else {
		for (size_t i = 0; i < len.n; i++) {
			if (len.p[i] < '0' || len.p[i] > '9')
				return false;
		}
		if (!str_to_u64(len, max, &prefix))
			return false;
	}
	cidr_r->prefix = (unsigned)prefix;
	/* Host bits must be zero. */
	for (unsigned bit = 0; bit < max; bit += 8) {
		unsigned char host = bit >= prefix ? 0xff :
				     bit + 8 > prefix ?
				     (unsigned char)(0xffu >> (prefix - bit)) : 0;

		if ((cidr_r->addr[bit / 8] & host) != 0)
			return false;
	}
	return true;
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

int cidr_list_parse(struct str text, struct cidr **list_r, struct str *bad_r)
{
	struct cidr *list = NULL;
	size_t n = 0, i = 0;

	while (i < text.n) {
		size_t start;
		struct str tok;

		while (i < text.n && is_sep(text.p[i]))
			i++;
		if (i == text.n)
			break;
		start = i;
		while (i < text.n && !is_sep(text.p[i]))
			i++;
		tok = str_make(text.p + start, i - start);
		list = xrealloc(list, (n + 1) * sizeof(*list));
		if (!cidr_parse(tok, &list[n])) {
			free(list);
			*list_r = NULL;
			*bad_r = tok;
			return -1;
		}
		n++;
	}
	*list_r = list;
	return (int)n;
}

bool cidr_list_match(const struct cidr *list, size_t n, const char *ip)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char b[16];
	int family;

	if (!parse_ip(ip, &family, b))
		return false;
	if (family == AF_INET6 && memcmp(b, v4mapped, 12) == 0) {
		memmove(b, b + 12, 4);
		family = AF_INET;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].family == family &&
		    prefix_match(b, list[i].addr, list[i].prefix))
			return true;
	}
	return false;
}

void cidr_source(const char *ip, unsigned v6_prefix,
		 char source_r[CIDR_SOURCE_MAX])
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, ip, a) != 1) {
		snprintf(source_r, CIDR_SOURCE_MAX, "%s", ip);
		return;
	}
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		inet_ntop(AF_INET, a + 12, text, sizeof(text));
		snprintf(source_r, CIDR_SOURCE_MAX, "%s", text);
		return;
	}
	v6_prefix = MAX(1u, MIN(v6_prefix, 128u));
	if (v6_prefix == 128) {
		inet_ntop(AF_INET6, a, text, sizeof(text));
		snprintf(source_r, CIDR_SOURCE_MAX, "%s", text);
		return;
	}
	/* One site or home network gets a whole prefix (a /64 usually):
	 * counting its addresses one by one would count nothing. */
	for (unsigned bit = v6_prefix; bit < 128; bit++)
		a[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	inet_ntop(AF_INET6, a, text, sizeof(text));
	snprintf(source_r, CIDR_SOURCE_MAX, "%s/%u", text, v6_prefix);
}
