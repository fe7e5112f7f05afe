/* auth_throttle.c: a chained hash table of IPs with a list ordered by last
 * failure, so both lookups and evictions of the oldest entry are O(1). */
#include "auth/auth_throttle.h"
#include "base/str.h"

#include <pthread.h>
#include <time.h>

struct throttle_entry {
	struct throttle_entry *hnext;		/* bucket chain */
	struct throttle_entry *newer, *older;	/* by last failure */
	uint64_t last_ms;
	unsigned int delay_ms;
	char ip[AUTH_THROTTLE_IP_MAX];
};

struct auth_throttle {
	pthread_mutex_t lock;
	unsigned int initial_ms, max_ms, quiet_ms;
	size_t max_entries, count;
	auth_throttle_clock_fn *clock;
	void *clock_ctx;
	struct throttle_entry **buckets;
	size_t nbuckets;			/* power of two */
	struct throttle_entry *newest, *oldest;
};

static uint64_t throttle_monotonic_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t throttle_hash(const struct auth_throttle *t, const char *ip)
{
	return (size_t)str_hash(str_c(ip)) & (t->nbuckets - 1);
}

static void throttle_resize(struct auth_throttle *t)
{
	size_t n = 16;

	ASSERT(t->count == 0);
	while (n < t->max_entries / 2 && n < ((size_t)1 << 20))
		n *= 2;
	free(t->buckets);
	t->buckets = xcalloc(n, sizeof(*t->buckets));
	t->nbuckets = n;
}

struct auth_throttle *auth_throttle_new(unsigned int initial_delay_ms,
					unsigned int max_delay_ms)
{
	struct auth_throttle *t = xcalloc(1, sizeof(*t));

	ASSERT(initial_delay_ms >= 1 && max_delay_ms >= initial_delay_ms);
	pthread_mutex_init(&t->lock, NULL);
	t->initial_ms = initial_delay_ms;
	t->max_ms = max_delay_ms;
	t->quiet_ms = AUTH_THROTTLE_DEFAULT_QUIET_MS;
	t->max_entries = AUTH_THROTTLE_DEFAULT_MAX_ENTRIES;
	t->clock = throttle_monotonic_ms;
	throttle_resize(t);
	return t;
}

void auth_throttle_free(struct auth_throttle **tp)
{
	struct auth_throttle *t = *tp;

	if (t == NULL)
		return;
	while (t->newest != NULL) {
		struct throttle_entry *e = t->newest;

		t->newest = e->older;
		free(e);
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

void auth_throttle_set_clock(struct auth_throttle *t,
			     auth_throttle_clock_fn *clock, void *clock_ctx)
{
	t->clock = clock;
	t->clock_ctx = clock_ctx;
}

void auth_throttle_set_limits(struct auth_throttle *t, unsigned int quiet_ms,
			      size_t max_entries)
{
	ASSERT(max_entries >= 1);
	t->quiet_ms = quiet_ms;
	t->max_entries = max_entries;
	throttle_resize(t);
}

static struct throttle_entry *throttle_find(struct auth_throttle *t,
					    const char *ip)
{
	struct throttle_entry *e = t->buckets[throttle_hash(t, ip)];

	while (e != NULL && strcmp(e->ip, ip) != 0)
		e = e->hnext;
	return e;
}

static void throttle_unlink_age(struct auth_throttle *t,
				struct throttle_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void throttle_link_newest(struct auth_throttle *t,
				 struct throttle_entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

static void throttle_remove(struct auth_throttle *t, struct throttle_entry *e)
{
	struct throttle_entry **pp = &t->buckets[throttle_hash(t, e->ip)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	throttle_unlink_age(t, e);
	t->count--;
	free(e);
}

static bool throttle_expired(const struct auth_throttle *t,
			     const struct throttle_entry *e, uint64_t now)
{
	return now >= e->last_ms && now - e->last_ms >= t->quiet_ms;
}

static void throttle_check_ip(const char *ip)
{
	ASSERT(strlen(ip) < AUTH_THROTTLE_IP_MAX);
}

unsigned int auth_throttle_delay_ms(struct auth_throttle *t, const char *ip)
{
	struct throttle_entry *e;
	unsigned int delay = 0;
	uint64_t now;

	throttle_check_ip(ip);
	pthread_mutex_lock(&t->lock);
	now = t->clock(t->clock_ctx);
	e = throttle_find(t, ip);
	if (e != NULL && throttle_expired(t, e, now))
		throttle_remove(t, e);
	else if (e != NULL)
		delay = e->delay_ms;
	pthread_mutex_unlock(&t->lock);
	return delay;
}

void auth_throttle_failed(struct auth_throttle *t, const char *ip)
{
	struct throttle_entry *e;
	uint64_t now;
	size_t len = strlen(ip);

	throttle_check_ip(ip);
	pthread_mutex_lock(&t->lock);
	now = t->clock(t->clock_ctx);
	e = throttle_find(t, ip);
	if (e != NULL && throttle_expired(t, e, now)) {
		throttle_remove(t, e);
		e = NULL;
	}
	if (e != NULL) {
		e->delay_ms = (unsigned int)MIN((uint64_t)e->delay_ms * 2,
						(uint64_t)t->max_ms);
		throttle_unlink_age(t, e);
	} else {
		/* Drop what has decayed, then the oldest if still full. */
		while (t->oldest != NULL &&
		       (t->count >= t->max_entries ||
			throttle_expired(t, t->oldest, now)))
			throttle_remove(t, t->oldest);
		e = xcalloc(1, sizeof(*e));
		memcpy(e->ip, ip, len + 1);
		e->delay_ms = t->initial_ms;
		size_t h = throttle_hash(t, ip);
		e->hnext = t->buckets[h];
		t->buckets[h] = e;
		t->count++;
	}
	e->last_ms = now;
	throttle_link_newest(t, e);
	pthread_mutex_unlock(&t->lock);
}

void auth_throttle_succeeded(struct auth_throttle *t, const char *ip)
{
	struct throttle_entry *e;

	throttle_check_ip(ip);
	pthread_mutex_lock(&t->lock);
	e = throttle_find(t, ip);
	if (e != NULL)
		throttle_remove(t, e);
	pthread_mutex_unlock(&t->lock);
}

size_t auth_throttle_count(struct auth_throttle *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
