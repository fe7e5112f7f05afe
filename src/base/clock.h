/* clock.h: the monotonic clock in milliseconds, and the clock type that
 * modules with timeouts take so that tests can give them a fake one. */
#ifndef POSTHORN_BASE_CLOCK_H
#define POSTHORN_BASE_CLOCK_H

#include "base/base.h"

/* Milliseconds on a clock that only goes forward (ctx is the owner's). */
typedef uint64_t clock_ms_fn(void *ctx);

/* CLOCK_MONOTONIC in milliseconds; ctx unused (a clock_ms_fn). */
uint64_t clock_monotonic_ms(void *ctx);

#endif
