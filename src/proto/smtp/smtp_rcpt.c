/* smtp_rcpt.c: RCPT TO: the recipient's resolution (users, aliases,
 * domains) and quota check as one store read, on the store read pool
 * when there is one (the session held, so pipelined RCPTs answer in
 * order), then the answer and the transaction's new destinations. */
#include "base/log.h"
#include "net/conn.h"
#include "proto/common/session_read.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_commands.h"

#include <stdio.h>
#include <strings.h>

/* One RCPT's lookup: what it needs, copied from the session before it
 * goes out (the read must not touch the session), and what it found. */
struct smtp_rcpt_req {
	struct arena arena;		/* res and the strings it points to */
	const struct delivery_names *names;	/* the server's */
	const char *postmaster;		/* the server's */
	bool postmaster_default;
	bool may_relay;
	bool pm;			/* "<postmaster>" */
	char *local;			/* the path's local part (arena) */
	char *address;			/* canonical (arena) */
	uint64_t size;			/* MAIL's SIZE=, or 0 */
	struct smtp_rcpt rcpt;
	/* results */
	enum {
		RCPT_RESOLVED,		/* res (and quota_n) say */
		RCPT_NO_READER,
		RCPT_RELAY_DENIED,
		RCPT_NO_POSTMASTER,
	} outcome;
	struct delivery_resolution res;
	int quota_n;			/* users left out as full, -1 error */
	char quota_error[256];
	const char *accepted;		/* the address, once resolved (tx) */
};

/* On a read pool thread (or here without one). */
static void smtp_rcpt_lookup(struct store_reader *reader, void *arg)
{
	struct smtp_rcpt_req *q = arg;
	struct delivery_resolution *res = &q->res;
	const char *error;
	bool pm = q->pm;

	if (reader == NULL) {
		q->outcome = RCPT_NO_READER;
		return;
	}
	if (!pm) {
		delivery_resolve_names(reader, q->names, &q->arena, q->address,
				       res);
		if (!res->local_domain && res->status != DELIVERY_ERROR &&
		    !q->may_relay) {
			q->outcome = RCPT_RELAY_DENIED;
			return;
		}
		/* postmaster@ any local domain without a user or alias of
		 * its own goes to the postmaster too (only local domains
		 * give UNKNOWN_USER). */
		pm = res->status == DELIVERY_UNKNOWN_USER &&
		     strcasecmp(q->local, "postmaster") == 0;
	}
	if (pm) {
		delivery_resolve_names(reader, q->names, &q->arena,
				       q->postmaster, res);
		if (q->postmaster_default && res->n_remotes > 0) {
			q->outcome = RCPT_NO_POSTMASTER;
			return;
		}
	}
	q->outcome = RCPT_RESOLVED;
	if (res->status == DELIVERY_LOCAL || res->status == DELIVERY_MIXED) {
		q->quota_n = delivery_quota_filter(reader, res, q->size, &error);
		if (q->quota_n < 0)
			snprintf(q->quota_error, sizeof(q->quota_error), "%s",
				 error);
	}
}

/* RFC 3461 NOTIFY as stored with a queued recipient. */
static const char *smtp_notify_text(struct arena *a, unsigned notify)
{
	if ((notify & SMTP_NOTIFY_NEVER) != 0)
		return "NEVER";
	return arena_printf(a, "%s%s%s",
			    (notify & SMTP_NOTIFY_SUCCESS) != 0 ? "SUCCESS," : "",
			    (notify & SMTP_NOTIFY_FAILURE) != 0 ? "FAILURE," : "",
			    (notify & SMTP_NOTIFY_DELAY) != 0 ? "DELAY," : "");
}

/* res's strings are in the request's arena: what the transaction keeps
 * is copied into its own. */
static void smtp_tx_add(struct smtp_tx *tx, const struct delivery_resolution *res,
			const struct smtp_rcpt_params *params)
{
	const char *orcpt = "", *notify;
	size_t n;

	tx->rcpt_user0[tx->n_rcpts] = tx->n_users;
	tx->rcpt_remote[tx->n_rcpts] = res->n_remotes > 0;
	if (res->n_locals > 0) {
		tx->user_ids = xrealloc(tx->user_ids, (tx->n_users + res->n_locals) *
					sizeof(*tx->user_ids));
		tx->user_quotas = xrealloc(tx->user_quotas,
					   (tx->n_users + res->n_locals) *
					   sizeof(*tx->user_quotas));
		for (size_t i = 0; i < res->n_locals; i++) {
			if (tx->n_users == 0)
				tx->delivered_to = arena_strdup(&tx->arena,
						res->locals[i].address);
			else if (res->locals[i].user_id != tx->user_ids[0])
				tx->several_locals = true;
			tx->user_quotas[tx->n_users] = res->locals[i].quota;
			tx->user_ids[tx->n_users++] = res->locals[i].user_id;
		}
	}
	if (res->n_remotes > 0) {
		tx->remotes = xrealloc(tx->remotes, (tx->n_remotes + res->n_remotes) *
				       sizeof(*tx->remotes));
		if (params->orcpt != NULL)
			orcpt = arena_printf(&tx->arena, "%s;%s",
					     params->orcpt_type, params->orcpt);
		notify = smtp_notify_text(&tx->arena, params->notify);
		n = strlen(notify);
		if (n > 0 && notify[n - 1] == ',')
			notify = arena_strndup(&tx->arena, notify, n - 1);
		for (size_t i = 0; i < res->n_remotes; i++) {
			tx->remotes[tx->n_remotes++] = (struct queue_rcpt){
				.address = arena_strdup(&tx->arena,
							res->remotes[i]),
				.orcpt = orcpt,
				.notify = notify,
			};
		}
	}
}

static void smtp_rcpt_req_free(struct smtp_rcpt_req *q)
{
	smtp_cmd_rcpt_clear(&q->rcpt);
	arena_deinit(&q->arena);
	free(q);
}

/* The inbound checks let the resolved recipient in, or not. */
static int smtp_rcpt_checked(struct smtp_session *s, void *arg,
			     const struct smtp_status *refuse, bool gone)
{
	struct smtp_rcpt_req *q = arg;
	struct smtp_tx *tx = s->tx;
	int ret = -1;

	if (gone) {
		ret = -1;
	} else if (refuse != NULL) {
		smtp_reply_status(s, *refuse);
		log_info(session_sid(&s->core), "smtp tx %s: rcpt <%s> refused "
			 "by the inbound checks: %u %s", tx->id, q->accepted,
			 refuse->code, refuse->text);
	} else {
		smtp_tx_add(tx, &q->res, &q->rcpt.params);
		tx->rcpts[tx->n_rcpts++] = q->accepted;
		smtp_session_enter(s, SMTP_STATE_RCPT);
		smtp_reply(s, 250, "2.1.5", "Ok");
		ret = 1;
	}
	smtp_rcpt_req_free(q);
	return ret;
}

/* The answer, on the session's thread. */
static int smtp_rcpt_done(struct session *core, void *arg, bool gone)
{
	struct smtp_session *s = (struct smtp_session *)core;
	struct smtp_rcpt_req *q = arg;
	struct smtp_tx *tx = s->tx;
	struct delivery_resolution *res = &q->res;
	const char *address;
	int ret = -1;

	if (gone) {
		smtp_rcpt_req_free(q);
		return -1;
	}
	address = arena_strdup(&tx->arena, q->address);
	switch (q->outcome) {
	case RCPT_RESOLVED:
		break;
	case RCPT_NO_READER:
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		goto out;
	case RCPT_RELAY_DENIED:
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied", address);
		goto out;
	case RCPT_NO_POSTMASTER:
		smtp_reply(s, 550, "5.1.1", "<%s>: no postmaster here", address);
		goto out;
	}
	if ((res->status == DELIVERY_LOCAL || res->status == DELIVERY_MIXED) &&
	    smtp_quota_rcpt(s, address, res, q->quota_n, q->quota_error) <= 0)
		goto out;
	switch (res->status) {
	case DELIVERY_LOCAL:
	case DELIVERY_REMOTE:
	case DELIVERY_MIXED:
		q->accepted = address;
		return smtp_checks_rcpt(s, address, smtp_rcpt_checked, q);
	case DELIVERY_UNKNOWN_USER:
		if (delivery_names_builtin(q->names, address))
			smtp_reply(s, 550, "5.1.1", "<%s>: User unknown (no "
				   "[server] admin to take it)", address);
		else
			smtp_reply(s, 550, "5.1.1", "<%s>: User unknown",
				   address);
		break;
	case DELIVERY_LOOP:
		smtp_reply(s, 554, "5.4.6", "<%s>: Alias loop", address);
		break;
	case DELIVERY_TOO_MANY:
		smtp_reply(s, 554, "5.3.4", "<%s>: Alias expands to too many recipients",
			   address);
		break;
	case DELIVERY_ERROR:
		log_error(session_sid(&s->core), "resolve %s: %s", address, res->error);
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		break;
	}
out:
	smtp_rcpt_req_free(q);
	if (ret < 0)
		smtp_ratelimit_refused(s);
	return ret;
}

int smtp_rcpt_cmd(void *ctx, struct str arg)
{
	struct smtp_session *s = ctx;
	struct smtp_tx *tx = s->tx;
	struct smtp_status st;
	struct smtp_rcpt rcpt;
	struct strbuf addr = STRBUF_INIT;
	struct smtp_rcpt_req *q;

	if (tx->n_rcpts >= s->server->set.max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		smtp_ratelimit_refused(s);
		return -1;
	}
	if (!smtp_cmd_parse_rcpt(arg, smtp_session_ext(s) |
				 smtp_local_path_opts(s),
				 tx->mail.params.smtputf8, &rcpt, &st)) {
		smtp_reply_status(s, st);
		smtp_ratelimit_refused(s);
		return -1;
	}
	if (!smtp_ratelimit_rcpt(s)) {
		smtp_cmd_rcpt_clear(&rcpt);
		smtp_ratelimit_refused(s);
		return -1;
	}
	smtp_local_qualify(s, &rcpt.path);
	q = xcalloc(1, sizeof(*q));
	arena_init(&q->arena, 0);
	smtp_path_append_canonical(&addr, &rcpt.path);
	q->address = arena_strdup(&q->arena, addr.p);
	strbuf_free(&addr);
	q->local = arena_strdup(&q->arena, rcpt.path.local);
	q->rcpt = rcpt;
	q->names = smtp_local_names(s->server);
	q->postmaster = s->server->set.postmaster;
	q->postmaster_default = s->server->postmaster_default;
	q->may_relay = smtp_session_may_relay(s);
	q->size = tx->mail.params.has_size ? tx->mail.params.size : 0;
	/* RFC 5321 4.5.1: "<postmaster>" is always accepted; it goes to the
	 * configured address, which the admin chose (so it is no relay).
	 * Without AUTH only our own domains, and no relay tricks
	 * ("user%remote@local", "<@local:user@remote>", ...): the
	 * resolution says whether the domain is ours (its first lookup). */
	q->pm = (rcpt.path.flags & SMTP_PATH_POSTMASTER) != 0;
	if (!q->pm && !q->may_relay &&
	    (rcpt.path.flags & SMTP_PATH_RELAY_TRICKS) != 0) {
		q->outcome = RCPT_RELAY_DENIED;
		return smtp_rcpt_done(&s->core, q, false);
	}
	return session_read(&s->core, smtp_rcpt_lookup, smtp_rcpt_done, q);
}
