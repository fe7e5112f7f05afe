/* outbound_peers.c: the failing-peer marks of the queue runner (see
 * outbound_peers.h) in a chained hash table keyed by address, port and
 * scope. Only failing peers have an entry, so it stays small. */
#include "delivery/outbound_peers.h"
#include "base/str.h"

#define PEERS_MIN_BUCKETS 64

struct peer {
	struct peer *next;	/* hash chain */
	uint64_t hash;
	char *addr, *scope;
	unsigned port;
	bool probing;		/* a session took the probe */
	struct outbound_peer_reason reason;	/* diag malloc'd */
};

struct outbound_peers {
	struct peer **buckets;
	size_t n_buckets;	/* a power of two */
	size_t count;
};

static uint64_t key_hash(const char *addr, unsigned port, const char *scope)
{
	uint64_t h = str_hash(str_make(addr, strlen(addr)));

	h ^= (uint64_t)port * 0x9E3779B97F4A7C15ULL;
	return h ^ (str_hash(str_make(scope, strlen(scope))) << 1);
}

static const char *key_scope(const struct outbound_peer_key *key)
{
	return key->scope != NULL ? key->scope : "";
}

static struct peer **find(const struct outbound_peers *peers,
			  const struct outbound_peer_key *key)
{
	const char *scope = key_scope(key);
	uint64_t h = key_hash(key->addr, key->port, scope);
	struct peer **pp = &peers->buckets[h & (peers->n_buckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->hash == h && (*pp)->port == key->port &&
		    strcmp((*pp)->addr, key->addr) == 0 &&
		    strcmp((*pp)->scope, scope) == 0)
			return pp;
	}
	return pp;	/* the chain's end: not found */
}

static void peer_free(struct peer *p)
{
	free(p->addr);
	free(p->scope);
	free((char *)p->reason.diag);
	free(p);
}

static void grow(struct outbound_peers *peers)
{
	size_t n = peers->n_buckets * 2;
	struct peer **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < peers->n_buckets; i++) {
		struct peer *p = peers->buckets[i], *next;

		for (; p != NULL; p = next) {
			next = p->next;
			p->next = b[p->hash & (n - 1)];
			b[p->hash & (n - 1)] = p;
		}
	}
	free(peers->buckets);
	peers->buckets = b;
	peers->n_buckets = n;
}

struct outbound_peers *outbound_peers_new(void)
{
	struct outbound_peers *peers = xcalloc(1, sizeof(*peers));

	peers->n_buckets = PEERS_MIN_BUCKETS;
	peers->buckets = xcalloc(peers->n_buckets, sizeof(*peers->buckets));
	return peers;
}

void outbound_peers_free(struct outbound_peers **peersp)
{
	struct outbound_peers *peers = *peersp;

	if (peers == NULL)
		return;
	*peersp = NULL;
	for (size_t i = 0; i < peers->n_buckets; i++) {
		struct peer *p = peers->buckets[i], *next;

		for (; p != NULL; p = next) {
			next = p->next;
			peer_free(p);
		}
	}
	free(peers->buckets);
	free(peers);
}

enum outbound_peer_state outbound_peers_state(
	const struct outbound_peers *peers, const struct outbound_peer_key *key,
	int64_t now, const struct outbound_peer_reason **reason_r)
{
	struct peer *p = *find(peers, key);

	if (reason_r != NULL)
		*reason_r = p != NULL ? &p->reason : NULL;
	if (p == NULL)
		return OUTBOUND_PEER_OK;
	if (p->probing)
		return OUTBOUND_PEER_BUSY;
	return now < p->reason.until ? OUTBOUND_PEER_FAILING
				     : OUTBOUND_PEER_PROBE;
}

void outbound_peers_fail(struct outbound_peers *peers,
			 const struct outbound_peer_key *key, int64_t until,
			 unsigned code, const char *enhanced, const char *diag)
{
	struct peer **pp = find(peers, key), *p = *pp;

	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->addr = xstrdup(key->addr);
		p->scope = xstrdup(key_scope(key));
		p->port = key->port;
		p->hash = key_hash(p->addr, p->port, p->scope);
		*pp = p;
		if (++peers->count > peers->n_buckets)
			grow(peers);
	}
	p->probing = false;
	p->reason.code = code;
	snprintf(p->reason.enhanced, sizeof(p->reason.enhanced), "%s",
		 enhanced != NULL ? enhanced : "");
	free((char *)p->reason.diag);
	p->reason.diag = xstrdup(diag != NULL ? diag : "");
	p->reason.until = until;
}

bool outbound_peers_ok(struct outbound_peers *peers,
		       const struct outbound_peer_key *key)
{
	struct peer **pp = find(peers, key), *p = *pp;

	if (p == NULL)
		return false;
	*pp = p->next;
	peers->count--;
	peer_free(p);
	return true;
}

bool outbound_peers_probe(struct outbound_peers *peers,
			  const struct outbound_peer_key *key, int64_t now)
{
	struct peer *p = *find(peers, key);

	if (p == NULL || p->probing || now < p->reason.until)
		return false;
	p->probing = true;
	return true;
}

void outbound_peers_probe_end(struct outbound_peers *peers,
			      const struct outbound_peer_key *key)
{
	struct peer *p = *find(peers, key);

	if (p != NULL)
		p->probing = false;
}

void outbound_peers_expire(struct outbound_peers *peers, const char *addr,
			   unsigned port, int64_t now)
{
	for (size_t i = 0; i < peers->n_buckets; i++) {
		for (struct peer *p = peers->buckets[i]; p != NULL;
		     p = p->next) {
			if (p->port == port && strcmp(p->addr, addr) == 0 &&
			    p->reason.until > now)
				p->reason.until = now;
		}
	}
}

size_t outbound_peers_sweep(struct outbound_peers *peers, int64_t now,
			    int64_t forget_before)
{
	size_t failing = 0;

	for (size_t i = 0; i < peers->n_buckets; i++) {
		struct peer **pp = &peers->buckets[i];

		while (*pp != NULL) {
			struct peer *p = *pp;

			if (!p->probing && p->reason.until < forget_before) {
				*pp = p->next;
				peers->count--;
				peer_free(p);
				continue;
			}
			if (p->probing || now < p->reason.until)
				failing++;
			pp = &p->next;
		}
	}
	return failing;
}

size_t outbound_peers_count(const struct outbound_peers *peers)
{
	return peers->count;
}
