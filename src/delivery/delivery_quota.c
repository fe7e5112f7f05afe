/* delivery_quota.c: storage quotas on the accept path: whether a message
 * fits a user's quota, and the recipients of a resolution it does not. */
#include "delivery/delivery.h"

int delivery_quota_fits(struct store_reader *reader, int64_t user_id,
			uint64_t quota, uint64_t size, uint64_t *usage_r,
			const char **error_r)
{
	*usage_r = 0;
	if (quota == 0)
		return 1;
	if (store_user_usage(reader, user_id, usage_r, error_r) < 0)
		return -1;
	if (*usage_r >= quota)
		return 0;
	return size <= quota - *usage_r;
}

int delivery_quota_filter(struct store_reader *reader,
			  struct delivery_resolution *res, uint64_t size,
			  const char **error_r)
{
	struct delivery_local tmp;
	size_t kept = 0, n = res->n_locals, with_quota = 0;
	bool *full;
	uint64_t usage;
	int ret;

	/* The common case, nobody with a quota, reads and allocates
	 * nothing. */
	for (size_t i = 0; i < n; i++) {
		if (res->locals[i].quota > 0)
			with_quota++;
	}
	if (with_quota == 0)
		return 0;
	full = xcalloc(n, sizeof(*full));
	for (size_t i = 0; i < n; i++) {
		int fits = delivery_quota_fits(reader, res->locals[i].user_id,
					       res->locals[i].quota, size,
					       &usage, error_r);

		if (fits < 0) {
			free(full);
			return -1;
		}
		full[i] = fits == 0;
	}
	/* Stable partition: the kept ones first, in their order. */
	for (size_t i = 0; i < n; i++) {
		if (full[i])
			continue;
		if (i != kept) {
			tmp = res->locals[i];
			memmove(&res->locals[kept + 1], &res->locals[kept],
				(i - kept) * sizeof(*res->locals));
			memmove(&full[kept + 1], &full[kept],
				(i - kept) * sizeof(*full));
			res->locals[kept] = tmp;
			full[kept] = false;
		}
		kept++;
	}
	ret = (int)(n - kept);
	res->n_locals = kept;
	/* The status follows what is left; with nothing left it stays
	 * LOCAL and the caller refuses the recipient. */
	if (kept == 0 && res->n_remotes > 0)
		res->status = DELIVERY_REMOTE;
	free(full);
	return ret;
}
