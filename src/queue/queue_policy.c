/* queue_policy.c: retry schedule arithmetic (see queue_policy.h). */
#include "queue/queue_policy.h"

void queue_policy_default(struct queue_policy *p)
{
	p->retry_min = 300;
	p->retry_max = 3600;
	p->max_age = 5 * 86400;
	p->delay_notice = 4 * 3600;
}

int64_t queue_next_try(const struct queue_policy *p, int64_t created,
		       uint32_t attempts, int64_t now)
{
	uint64_t delay = MAX(p->retry_min, 1u);
	uint64_t cap = MAX(p->retry_max, (unsigned)delay);
	int64_t deadline = created + (int64_t)p->max_age;

	if (now - created >= (int64_t)p->max_age)
		return -1;
	if (attempts == 0)
		return now;
	/* Double attempts - 1 times, stopping at the cap (no overflow). */
	for (uint32_t i = 1; i < attempts && delay < cap; i++)
		delay *= 2;
	delay = MIN(delay, cap);
	return MIN(now + (int64_t)delay, deadline);
}

bool queue_delay_notice_due(const struct queue_policy *p, int64_t created,
			    bool delay_notified, int64_t now)
{
	return p->delay_notice != 0 && !delay_notified &&
		now - created >= (int64_t)p->delay_notice;
}
