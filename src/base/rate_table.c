/* rate_table.c: GCRA over a bounded LRU table. Times are kept in
 * microseconds so that limit / period need not divide evenly in
 * milliseconds. */
#include "base/rate_table.h"
#include "base/lru.h"

#include <pthread.h>

struct rate_entry {
	uint64_t tat_us;	/* when the key's bucket is full again */
};

struct rate_table {
	pthread_mutex_t lock;
	clock_ms_fn *clock;
	void *clock_ctx;
	struct lru keys;	/* of struct rate_entry */
};

struct rate_table *rate_table_new(size_t max_entries)
{
	struct rate_table *t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->clock = clock_monotonic_ms;
	lru_init(&t->keys, max_entries != 0 ? max_entries :
		 RATE_TABLE_DEFAULT_MAX, sizeof(struct rate_entry), NULL);
	return t;
}

void rate_table_free(struct rate_table **tp)
{
	struct rate_table *t = *tp;

	if (t == NULL)
		return;
	lru_deinit(&t->keys);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

void rate_table_set_clock(struct rate_table *t, clock_ms_fn *clock, void *ctx)
{
	t->clock = clock;
	t->clock_ctx = ctx;
}

bool rate_table_take(struct rate_table *t, const char *key, unsigned cost,
		     unsigned limit, unsigned period_ms, unsigned *retry_ms_r)
{
	uint64_t period_us = (uint64_t)MAX(period_ms, 1u) * 1000;
	uint64_t step_us, now_us, tat, want;
	struct rate_entry *e;
	bool ok;

	if (retry_ms_r != NULL)
		*retry_ms_r = 0;
	if (limit == 0)
		return true;
	cost = MAX(cost, 1u);
	/* One event's share of the period; the bucket holds limit of them. */
	step_us = MAX(period_us / limit, 1u);
	pthread_mutex_lock(&t->lock);
	now_us = t->clock(t->clock_ctx) * 1000;
	e = lru_find(&t->keys, key);
	tat = e != NULL ? MAX(e->tat_us, now_us) : now_us;
	want = tat + (uint64_t)cost * step_us;
	ok = cost <= limit && want - now_us <= period_us;
	if (ok) {
		e = lru_get(&t->keys, key, NULL);
		e->tat_us = want;
	} else if (retry_ms_r != NULL) {
		uint64_t wait = cost <= limit ?
				(want - now_us - period_us + 999) / 1000 :
				UINT32_MAX;

		*retry_ms_r = (unsigned)MIN(wait, (uint64_t)UINT32_MAX);
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

size_t rate_table_count(struct rate_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = lru_count(&t->keys);
	pthread_mutex_unlock(&t->lock);
	return n;
}
