/* smtp_quota.c: storage quotas of local recipients: at RCPT (the mailbox
 * is full, or the declared SIZE= does not fit; the answer to the check
 * smtp_rcpt.c made) and, on LMTP, per recipient
 * after the data with the real size. Users without a quota cost nothing:
 * their usage is never read. */
#include "base/log.h"
#include "net/conn.h"
#include "proto/smtp/smtp_int.h"

int smtp_quota_rcpt(struct smtp_session *s, const char *address,
		    const struct delivery_resolution *res, int n,
		    const char *error)
{
	if (n < 0) {
		log_error(conn_sid(s->core.conn), "quota of %s: %s", address, error);
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return -1;
	}
	if (n > 0 && res->n_locals == 0 && res->n_remotes == 0) {
		/* RFC 3463 4.2.2: temporary, the sender retries (the owner
		 * may make room meanwhile). */
		log_info(conn_sid(s->core.conn), "rcpt <%s>: mailbox full", address);
		smtp_reply(s, 452, "4.2.2", "<%s>: Mailbox full", address);
		return 0;
	}
	for (int i = 0; i < n; i++)
		log_info(conn_sid(s->core.conn), "rcpt <%s>: target <%s> left out: mailbox full",
			 address, res->locals[res->n_locals + (size_t)i].address);
	return 1;
}

int smtp_quota_lmtp(struct smtp_session *s, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	struct store_reader *reader = NULL;
	size_t kept = 0, with_quota = 0;
	bool *drop;
	int left = 0;

	for (size_t i = 0; i < tx->n_users; i++) {
		if (tx->user_quotas[i] > 0)
			with_quota++;
	}
	if (with_quota == 0)
		return (int)tx->n_rcpts;
	drop = xcalloc(tx->n_users + 1, sizeof(*drop));
	for (size_t i = 0; i < tx->n_users; i++) {
		const char *error = "no store reader";
		uint64_t usage;
		int fits;

		if (tx->user_quotas[i] == 0)
			continue;
		if (reader == NULL && (reader = session_reader(&s->core)) == NULL)
			fits = -1;
		else
			fits = delivery_quota_fits(reader, tx->user_ids[i],
						   tx->user_quotas[i], size,
						   &usage, &error);
		if (fits < 0) {
			log_error(conn_sid(s->core.conn), "smtp tx %s: quota: %s",
				  tx->id, error);
			free(drop);
			return -1;
		}
		drop[i] = fits == 0;
	}
	for (size_t r = 0; r < tx->n_rcpts; r++) {
		size_t end = r + 1 < tx->n_rcpts ? tx->rcpt_user0[r + 1] :
			     tx->n_users;
		size_t n_kept = 0;

		for (size_t i = tx->rcpt_user0[r]; i < end; i++) {
			if (!drop[i])
				n_kept++;
		}
		tx->rcpt_full[r] = n_kept == 0 && !tx->rcpt_remote[r];
		if (tx->rcpt_full[r])
			log_info(conn_sid(s->core.conn), "smtp tx %s: <%s>: mailbox full",
				 tx->id, tx->rcpts[r]);
		else
			left++;
		if (n_kept > 0 && n_kept < end - tx->rcpt_user0[r])
			log_info(conn_sid(s->core.conn), "smtp tx %s: <%s>: %zu of its users left out: mailbox full",
				 tx->id, tx->rcpts[r],
				 end - tx->rcpt_user0[r] - n_kept);
	}
	/* The users go; the recipients' ranges are not needed any more. */
	for (size_t i = 0; i < tx->n_users; i++) {
		if (drop[i])
			continue;
		tx->user_ids[kept] = tx->user_ids[i];
		tx->user_quotas[kept++] = tx->user_quotas[i];
	}
	tx->n_users = kept;
	free(drop);
	return left;
}
