/* auth_cache.h: recent successful password checks, so that a client that
 * logs in every minute costs one hash verification per TTL, not one per
 * login (Dovecot's auth cache). An entry is keyed by a keyed hash of the
 * login name and the password (never the password itself) and holds a
 * keyed hash of the credentials it was checked against: when the user's
 * password hash, SCRAM keys, address or disabled state change (by the
 * daemon or by the admin command in another process), the looked-up
 * credentials no longer match and the entry is dropped. Thread-safe;
 * bounded in entries; a failed check is never cached. */
#ifndef POSTHORN_AUTH_AUTH_CACHE_H
#define POSTHORN_AUTH_AUTH_CACHE_H

#include "auth/auth_login.h"
#include "base/clock.h"

#define AUTH_CACHE_DEFAULT_TTL_MS (5u * 60 * 1000)
#define AUTH_CACHE_DEFAULT_SIZE 10000u

/* Milliseconds from any fixed origin, never going back. */
typedef clock_ms_fn auth_cache_clock_fn;

struct auth_cache;

/* ttl_ms 0: every lookup misses (the cache is off). max_entries 0: the
 * default; the entry used least recently goes first. */
struct auth_cache *auth_cache_new(unsigned ttl_ms, size_t max_entries);
void auth_cache_free(struct auth_cache **cache);
/* Replace the clock (default: CLOCK_MONOTONIC). Call before any use. */
void auth_cache_set_clock(struct auth_cache *cache, auth_cache_clock_fn *fn,
			  void *ctx);

/* True when user (as typed) logged in with password within the TTL
 * against exactly these credentials, and the account is not disabled.
 * An entry found stale (expired, other credentials) is removed. */
bool auth_cache_lookup(struct auth_cache *cache, const char *user,
		       const char *password,
		       const struct auth_credentials *cred);
/* Remember that password was right for user against cred. */
void auth_cache_add(struct auth_cache *cache, const char *user,
		    const char *password, const struct auth_credentials *cred);
/* Forget every entry (e.g. on reload). */
void auth_cache_clear(struct auth_cache *cache);
size_t auth_cache_count(struct auth_cache *cache);

#endif
