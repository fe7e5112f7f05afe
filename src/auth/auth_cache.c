/* auth_cache.c: an LRU table (base/lru) under a mutex. Keys are
 * HMAC-SHA-256(secret, user NUL password) in hex and the value holds
 * HMAC-SHA-256(secret, the credentials) and an expiry; the secret is
 * random per process, so neither can be turned back into a password
 * off-line faster than the stored hash itself could. */
#include "auth/auth_cache.h"

#include "base/lru.h"
#include "base/strbuf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>

#define CACHE_MAC_SIZE 32

struct cache_value {
	unsigned char cred_mac[CACHE_MAC_SIZE];
	uint64_t expires_ms;
};

struct auth_cache {
	pthread_mutex_t lock;
	struct lru table;
	unsigned ttl_ms;
	unsigned char secret[32];
	auth_cache_clock_fn *clock;
	void *clock_ctx;
};

struct auth_cache *auth_cache_new(unsigned ttl_ms, size_t max_entries)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	lru_init(&c->table, max_entries != 0 ? max_entries :
		 AUTH_CACHE_DEFAULT_SIZE, sizeof(struct cache_value), NULL);
	c->ttl_ms = ttl_ms;
	c->clock = clock_monotonic_ms;
	if (RAND_bytes(c->secret, sizeof(c->secret)) != 1)
		PANIC("RAND_bytes failed");
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;

	if (c == NULL)
		return;
	lru_deinit(&c->table);
	pthread_mutex_destroy(&c->lock);
	secure_zero(c->secret, sizeof(c->secret));
	free(c);
	*cp = NULL;
}

void auth_cache_set_clock(struct auth_cache *c, auth_cache_clock_fn *fn,
			  void *ctx)
{
	c->clock = fn;
	c->clock_ctx = ctx;
}

/* HMAC over the parts, each followed by a NUL (so "ab","c" and "a","bc"
 * differ). */
static void cache_mac(const struct auth_cache *c, const char *const *parts,
		      size_t n, unsigned char out[CACHE_MAC_SIZE])
{
	struct strbuf b = STRBUF_INIT;
	unsigned int len = CACHE_MAC_SIZE;

	for (size_t i = 0; i < n; i++) {
		strbuf_append_c(&b, parts[i] != NULL ? parts[i] : "");
		strbuf_putc(&b, '\0');
	}
	if (HMAC(EVP_sha256(), c->secret, sizeof(c->secret),
		 (const unsigned char *)strbuf_str(&b).p, strbuf_str(&b).n,
		 out, &len) == NULL || len != CACHE_MAC_SIZE)
		PANIC("HMAC-SHA-256 failed");
	strbuf_free_secret(&b);
}

static void cache_key(const struct auth_cache *c, const char *user,
		      const char *password, char hex[CACHE_MAC_SIZE * 2 + 1])
{
	static const char digits[] = "0123456789abcdef";
	const char *parts[] = { user, password };
	unsigned char mac[CACHE_MAC_SIZE];

	cache_mac(c, parts, ARRAY_SIZE(parts), mac);
	for (size_t i = 0; i < CACHE_MAC_SIZE; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[CACHE_MAC_SIZE * 2] = '\0';
	secure_zero(mac, sizeof(mac));
}

static void cred_mac(const struct auth_cache *c,
		     const struct auth_credentials *cred,
		     unsigned char out[CACHE_MAC_SIZE])
{
	const char *parts[] = {
		cred->address, cred->password_hash, cred->scram_sha256,
		cred->disabled ? "disabled" : "enabled",
	};

	cache_mac(c, parts, ARRAY_SIZE(parts), out);
}

bool auth_cache_lookup(struct auth_cache *c, const char *user,
		       const char *password,
		       const struct auth_credentials *cred)
{
	char key[CACHE_MAC_SIZE * 2 + 1];
	unsigned char want[CACHE_MAC_SIZE];
	struct cache_value *v;
	bool hit = false;

	if (c->ttl_ms == 0 || cred->disabled || cred->address == NULL)
		return false;
	cache_key(c, user, password, key);
	cred_mac(c, cred, want);
	pthread_mutex_lock(&c->lock);
	v = lru_find(&c->table, key);
	if (v != NULL) {
		if (v->expires_ms > c->clock(c->clock_ctx) &&
		    CRYPTO_memcmp(v->cred_mac, want, CACHE_MAC_SIZE) == 0) {
			hit = true;
			(void)lru_get(&c->table, key, NULL);	/* now used */
		} else {
			lru_remove(&c->table, v);
		}
	}
	pthread_mutex_unlock(&c->lock);
	secure_zero(key, sizeof(key));
	return hit;
}

void auth_cache_add(struct auth_cache *c, const char *user,
		    const char *password, const struct auth_credentials *cred)
{
	char key[CACHE_MAC_SIZE * 2 + 1];
	unsigned char mac[CACHE_MAC_SIZE];
	struct cache_value *v;

	if (c->ttl_ms == 0 || cred->disabled || cred->address == NULL)
		return;
	cache_key(c, user, password, key);
	cred_mac(c, cred, mac);
	pthread_mutex_lock(&c->lock);
	v = lru_get(&c->table, key, NULL);
	memcpy(v->cred_mac, mac, CACHE_MAC_SIZE);
	v->expires_ms = c->clock(c->clock_ctx) + c->ttl_ms;
	pthread_mutex_unlock(&c->lock);
	secure_zero(key, sizeof(key));
}

void auth_cache_clear(struct auth_cache *c)
{
	void *v;

	pthread_mutex_lock(&c->lock);
	while ((v = lru_oldest(&c->table)) != NULL)
		lru_remove(&c->table, v);
	pthread_mutex_unlock(&c->lock);
}

size_t auth_cache_count(struct auth_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = lru_count(&c->table);
	pthread_mutex_unlock(&c->lock);
	return n;
}
