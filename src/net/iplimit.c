/* iplimit.c: connection counts per client IP, shared by all I/O threads: a
 * chained hash table under one mutex (held for a few instructions). */
#include "net/net_int.h"
#include "base/str.h"

#include <netinet/in.h>

#define IPLIMIT_BUCKETS 1024

struct iplimit_entry {
	struct iplimit_entry *next;
	uint8_t key[16];
	unsigned count;
};

struct iplimit {
	pthread_mutex_t lock;
	struct iplimit_entry *buckets[IPLIMIT_BUCKETS];
};

struct iplimit *iplimit_new(void)
{
	struct iplimit *lim = xcalloc(1, sizeof(*lim));

	pthread_mutex_init(&lim->lock, NULL);
	return lim;
}

void iplimit_free(struct iplimit **limp)
{
	struct iplimit *lim = *limp;

	if (lim == NULL)
		return;
	for (size_t i = 0; i < IPLIMIT_BUCKETS; i++) {
		while (lim->buckets[i] != NULL) {
			struct iplimit_entry *e = lim->buckets[i];

			lim->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&lim->lock);
	free(lim);
	*limp = NULL;
}

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

static size_t iplimit_hash(const uint8_t key[16])
{
	return (size_t)(str_hash(str_make((const char *)key, 16)) %
			IPLIMIT_BUCKETS);
}

bool iplimit_acquire(struct iplimit *lim, const struct sockaddr *addr,
		     unsigned max)
{
	uint8_t key[16];
	struct iplimit_entry *e;
	bool ok = true;

	if (!iplimit_key(addr, key))
		return true;
	size_t b = iplimit_hash(key);

	pthread_mutex_lock(&lim->lock);
	for (e = lim->buckets[b]; e != NULL; e = e->next) {
		if (memcmp(e->key, key, 16) == 0)
			break;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, 16);
		e->next = lim->buckets[b];
		lim->buckets[b] = e;
	}
	if (max != 0 && e->count >= max)
		ok = false;
	else
		e->count++;
	pthread_mutex_unlock(&lim->lock);
	return ok;
}

void iplimit_release(struct iplimit *lim, const struct sockaddr *addr)
{
	uint8_t key[16];
	struct iplimit_entry **pp;

	if (!iplimit_key(addr, key))
		return;
	size_t b = iplimit_hash(key);

	pthread_mutex_lock(&lim->lock);
	for (pp = &lim->buckets[b]; *pp != NULL; pp = &(*pp)->next) {
		struct iplimit_entry *e = *pp;

		if (memcmp(e->key, key, 16) != 0)
			continue;
		ASSERT(e->count > 0);
		if (--e->count == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&lim->lock);
}
