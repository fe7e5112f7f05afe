/* clock.c: the monotonic clock in milliseconds (clock.h). */
#include "base/clock.h"

#include <time.h>

uint64_t clock_monotonic_ms(void *ctx UNUSED)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
