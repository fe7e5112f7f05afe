/* queue_policy.h: the retry schedule of outbound queue entries: exponential
 * back-off between retry_min and retry_max, give up after max_age, and when
 * a delay notice is due. Pure arithmetic on the caller's clock. */
#ifndef POSTHORN_QUEUE_QUEUE_POLICY_H
#define POSTHORN_QUEUE_QUEUE_POLICY_H

#include "base/base.h"

struct queue_policy {
	unsigned retry_min;	/* seconds, default 300 */
	unsigned retry_max;	/* default 3600 */
	unsigned max_age;	/* give up after, default 5 days */
	unsigned delay_notice;	/* send a delay DSN after, default 4 h; 0 = never */
};

/* The defaults above (also those of the [queue] config section). */
void queue_policy_default(struct queue_policy *p);

/* When to try again after `attempts` failed tries, for an entry queued at
 * `created`: now + retry_min * 2^(attempts - 1), capped at retry_max
 * (attempts 0 means now; a retry_min of 0 counts as 1 s). The last try is
 * never scheduled after created + max_age, so the entry gets one try at
 * its deadline. -1 when now - created >= max_age: give up (bounce). */
int64_t queue_next_try(const struct queue_policy *p, int64_t created,
		       uint32_t attempts, int64_t now);

/* True when a delay notice should be sent now for an entry still pending:
 * delay_notice is set, none was sent yet, and the entry is that old. */
bool queue_delay_notice_due(const struct queue_policy *p, int64_t created,
			    bool delay_notified, int64_t now);

#endif
