/* rate_table.h: how fast each key (a client source, a user) does
 * something, against a limit of N per period: the generic cell rate
 * algorithm (one "theoretical arrival time" per key, a token bucket of N
 * refilled evenly over the period), in a bounded table (base/lru.h) that
 * drops the key unused longest when full. Thread-safe: one mutex. */
#ifndef POSTHORN_BASE_RATE_TABLE_H
#define POSTHORN_BASE_RATE_TABLE_H

#include "base/base.h"
#include "base/clock.h"

#define RATE_TABLE_DEFAULT_MAX 100000u

struct rate_table;

/* At most max_entries keys (0: RATE_TABLE_DEFAULT_MAX). A key evicted
 * to make room forgets what it used: the bound is on memory, so an
 * attacker with more sources than entries gets no more than the sources
 * it has give it anyway. */
struct rate_table *rate_table_new(size_t max_entries);
void rate_table_free(struct rate_table **t);
/* Replace the clock (default: CLOCK_MONOTONIC). Call before any use. */
void rate_table_set_clock(struct rate_table *t, clock_ms_fn *clock, void *ctx);

/* Count cost (>= 1) more for key, which may do limit per period_ms (a
 * burst of limit at once, then limit per period evenly). True when it
 * fits (counted); false when it would go over (nothing counted), with
 * *retry_ms_r (when given) how long until it would fit. limit 0: no
 * limit, always true and nothing kept. A cost above limit never fits. */
bool rate_table_take(struct rate_table *t, const char *key, unsigned cost,
		     unsigned limit, unsigned period_ms, unsigned *retry_ms_r);
/* Keys kept now. */
size_t rate_table_count(struct rate_table *t);

#endif
