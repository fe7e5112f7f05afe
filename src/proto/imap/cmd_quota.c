/* cmd_quota.c: the QUOTA extension (RFC 9208) with the STORAGE resource:
 * GETQUOTAROOT, GETQUOTA and SETQUOTA (refused: quotas are the admin's),
 * and the quota check of APPEND and COPY ([OVERQUOTA], RFC 9051 7.1).
 * Each user has one quota root, "", over all their mailboxes. */
#include "base/log.h"
#include "proto/imap/imap_commands.h"

/* The user's quota (0 = none) and, when there is one, usage. 0, or -1
 * with the NO reply queued. */
static int quota_read(struct imap_session *s, uint64_t *quota_r,
		      uint64_t *usage_r)
{
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	struct store_user user;
	int ret = -1;

	*quota_r = 0;
	*usage_r = 0;
	if (r != NULL)
		ret = store_user_by_address(r, &s->cmd_arena, s->core.user, &user,
					    &error);
	if (ret == 0)
		error = "the logged-in user is gone";
	if (ret == 1) {
		*quota_r = user.quota;
		if (user.quota == 0 ||
		    store_user_usage(r, s->user_id, usage_r, &error) == 0)
			return 0;
	}
	return imap_store_failed(s, "quota", error);
}

int imap_quota_check(struct imap_session *s, uint64_t bytes)
{
	uint64_t quota, usage;

	if (quota_read(s, &quota, &usage) < 0)
		return -1;
	if (quota == 0 || (usage <= quota && bytes <= quota - usage))
		return 1;
	imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
	return 0;
}

/* "* QUOTA "" (STORAGE used limit)\r\n" in KiB rounded up (RFC 9208 5.1);
 * "()" without a quota. */
static void quota_response(struct strbuf *out, uint64_t quota, uint64_t usage)
{
	if (quota == 0) {
		strbuf_append_c(out, "* QUOTA \"\" ()\r\n");
		return;
	}
	strbuf_printf(out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
		      (unsigned long long)((usage + 1023) / 1024),
		      (unsigned long long)((quota + 1023) / 1024));
}

int cmd_getquotaroot(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_reader *r = imap_session_reader(s);
	struct strbuf out = STRBUF_INIT;
	const char *name, *error = "store unavailable";
	struct store_mailbox mb;
	struct imap_cursor c;
	uint64_t quota, usage;
	int ret = -1;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_mailbox(&c, &s->cmd_arena, s->utf8, &name) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (r != NULL)
		ret = store_mailbox_by_name(r, &s->cmd_arena, s->user_id, name,
					    &mb, &error);
	if (ret < 0)
		return imap_store_failed(s, "store", error);
	if (ret == 0) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return -1;
	}
	if (quota_read(s, &quota, &usage) < 0)
		return -1;
	strbuf_append_c(&out, "* QUOTAROOT ");
	imap_session_write_name(s, &out, mb.name);
	strbuf_append_c(&out, " \"\"\r\n");
	if (quota > 0)
		quota_response(&out, quota, usage);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "GETQUOTAROOT completed");
	return 1;
}

int cmd_getquota(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct strbuf out = STRBUF_INIT;
	struct imap_cursor c;
	uint64_t quota, usage;
	struct str root;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_astring(&c, &s->cmd_arena, &root) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (root.n != 0) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
		return -1;
	}
	if (quota_read(s, &quota, &usage) < 0)
		return -1;
	quota_response(&out, quota, usage);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "GETQUOTA completed");
	return 1;
}

int cmd_setquota(void *session, struct str arg UNUSED)
{
	struct imap_session *s = session;

	/* RFC 9208 4.3: a server may refuse to change limits. */
	imap_tagged(s, "NO", "[NOPERM] Quotas are set by the administrator");
	return -1;
}
