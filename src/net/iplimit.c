/* iplimit.c: connection counts per client IP, shared by all I/O threads,
 * kept in base/counts.h by the address's 16 bytes (IPv4 mapped into
 * IPv6). */
#include "net/net_int.h"
#include "base/counts.h"

#include <netinet/in.h>

bool iplimit_key(const struct sockaddr *addr, uint8_t key_r[16])
{
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		memset(key_r, 0, 10);
		key_r[10] = 0xff;
		key_r[11] = 0xff;
		memcpy(key_r + 12, &sin->sin_addr, 4);
		return true;
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		memcpy(key_r, &sin6->sin6_addr, 16);
		return true;
	}
	return false;
}

bool iplimit_acquire(struct counts *lim, const struct sockaddr *addr,
		     unsigned max)
{
	uint8_t key[16];

	if (!iplimit_key(addr, key))
		return true;
	return counts_acquire(lim,
			      str_make((const char *)key, 16), max);
}

void iplimit_release(struct counts *lim, const struct sockaddr *addr)
{
	uint8_t key[16];

	if (iplimit_key(addr, key))
		counts_release(lim,
			       str_make((const char *)key, 16));
}
