/* auth_throttle.h: a growing pause after failed logins, per client IP. The
 * protocol holds its answer to the next attempt for auth_throttle_delay_ms()
 * with a timer (never sleeping the thread). Thread-safe, memory bounded. */
#ifndef POSTHORN_AUTH_AUTH_THROTTLE_H
#define POSTHORN_AUTH_AUTH_THROTTLE_H

#include "base/base.h"

#define AUTH_THROTTLE_DEFAULT_QUIET_MS (15u * 60 * 1000)
#define AUTH_THROTTLE_DEFAULT_MAX_ENTRIES 16384u
#define AUTH_THROTTLE_IP_MAX 64	/* bytes of an IP key, NUL included */

/* Milliseconds from any fixed origin, never going back. */
typedef uint64_t auth_throttle_clock_fn(void *ctx);

struct auth_throttle;

/* The first failure costs initial_delay_ms, each further one doubles it, up
 * to max_delay_ms (initial_delay_ms >= 1, max >= initial). */
struct auth_throttle *auth_throttle_new(unsigned int initial_delay_ms,
					unsigned int max_delay_ms);
void auth_throttle_free(struct auth_throttle **t);

/* Replace the clock (default: CLOCK_MONOTONIC). Call before any use. */
void auth_throttle_set_clock(struct auth_throttle *t,
			     auth_throttle_clock_fn *clock, void *clock_ctx);
/* An IP forgets its failures after quiet_ms without one; at most
 * max_entries IPs are remembered, the one that failed longest ago is
 * dropped first. Call before any use. */
void auth_throttle_set_limits(struct auth_throttle *t, unsigned int quiet_ms,
			      size_t max_entries);

/* How long to hold the answer to the next attempt from ip (0: no wait).
 * ip is the client address as text, shorter than AUTH_THROTTLE_IP_MAX. */
unsigned int auth_throttle_delay_ms(struct auth_throttle *t, const char *ip);
/* Record a failed login from ip: start or double its delay. */
void auth_throttle_failed(struct auth_throttle *t, const char *ip);
/* Record a successful login from ip: forget its failures. */
void auth_throttle_succeeded(struct auth_throttle *t, const char *ip);
/* Number of IPs currently remembered (decayed ones may still count). */
size_t auth_throttle_count(struct auth_throttle *t);

#endif
