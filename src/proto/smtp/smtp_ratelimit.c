/* smtp_ratelimit.c: the SMTP rate limits on one table (base/rate_table.h)
 * shared by every I/O thread: connections, messages (at MAIL) and
 * recipients (at RCPT, accepted or not) per minute per client source on
 * port 25, messages and recipients per minute per authenticated user, and
 * the refused recipients of one session (address probing). */
#include "base/log.h"
#include "base/rate_table.h"
#include "proto/smtp/smtp_int.h"

#include <stdio.h>

#define RATE_PERIOD_MS 60000u
#define RATE_DEFAULT_V6_PREFIX 64u

struct smtp_ratelimit {
	struct smtp_rate_settings set;
	struct cidr *exempt;
	size_t n_exempt;
	struct rate_table *table;
};

struct smtp_ratelimit *smtp_ratelimit_new(const struct smtp_rate_settings *set)
{
	struct smtp_ratelimit *rl = xcalloc(1, sizeof(*rl));

	rl->set = *set;
	rl->set.exempt = NULL;
	if (rl->set.ipv6_prefix == 0)
		rl->set.ipv6_prefix = RATE_DEFAULT_V6_PREFIX;
	if (set->exempt != NULL) {
		struct str bad;
		int n = cidr_list_parse(str_c(set->exempt), &rl->exempt, &bad);

		/* The config checked the list. */
		if (n < 0)
			PANIC("rate_limit_exempt: bad network %.*s", (int)bad.n,
			      bad.p);
		rl->n_exempt = (size_t)n;
	}
	rl->table = rate_table_new(set->table_size);
	return rl;
}

void smtp_ratelimit_free(struct smtp_ratelimit **rlp)
{
	struct smtp_ratelimit *rl = *rlp;

	if (rl == NULL)
		return;
	rate_table_free(&rl->table);
	free(rl->exempt);
	free(rl);
	*rlp = NULL;
}

/* Take one of what (a one-letter kind) for who against limit per minute;
 * the log says which limit refused whom. */
static bool rate_take(struct smtp_session *s, char what, const char *who,
		      unsigned limit, const char *name)
{
	struct smtp_ratelimit *rl = s->server->ratelimit;
	char key[CIDR_SOURCE_MAX + 320];
	unsigned retry_ms;

	if (limit == 0)
		return true;
	snprintf(key, sizeof(key), "%c %s", what, who);
	if (rate_table_take(rl->table, key, 1, limit, RATE_PERIOD_MS, &retry_ms))
		return true;
	log_notice(session_sid(&s->core), "smtp client %s: rate limit %s "
		   "(%u per minute) reached by %s, retry in %u ms",
		   s->core.peer_ip, name, limit, who, retry_ms);
	return false;
}

bool smtp_ratelimit_connect(struct smtp_session *s)
{
	struct smtp_ratelimit *rl = s->server->ratelimit;
	enum smtp_mode mode = (enum smtp_mode)s->core.service->mode;

	cidr_source(s->core.peer_ip, rl->set.ipv6_prefix, s->rate_source);
	s->rate_exempt = mode == SMTP_MODE_LMTP || mode == SMTP_MODE_LOCAL ||
			 s->trusted ||
			 (rl->n_exempt > 0 &&
			  cidr_list_match(rl->exempt, rl->n_exempt,
					  s->core.peer_ip));
	if (s->rate_exempt || mode != SMTP_MODE_MTA ||
	    rate_take(s, 'c', s->rate_source, rl->set.connections,
		      "connections"))
		return true;
	smtp_reply(s, 421, "4.7.0", "%s Too many connections from your "
		   "address, try again later", s->server->core.hostname);
	session_close(&s->core);
	return false;
}

/* The limit of the session's kind: per user after AUTH, else per source
 * on port 25; 0 (none) on submission before AUTH (it cannot send). */
static bool rate_session_take(struct smtp_session *s, bool rcpt)
{
	const struct smtp_rate_settings *set = &s->server->ratelimit->set;

	if (s->rate_exempt)
		return true;
	if (s->core.user != NULL)
		return rate_take(s, rcpt ? 'R' : 'M', s->core.user,
				 rcpt ? set->user_recipients : set->user_messages,
				 rcpt ? "user_recipients" : "user_messages");
	if (s->core.service->mode != SMTP_MODE_MTA)
		return true;
	return rate_take(s, rcpt ? 'r' : 'm', s->rate_source,
			 rcpt ? set->recipients : set->messages,
			 rcpt ? "recipients" : "messages");
}

bool smtp_ratelimit_mail(struct smtp_session *s)
{
	if (rate_session_take(s, false))
		return true;
	smtp_reply(s, 451, "4.7.1", "Too many messages, slow down and try "
		   "again later");
	return false;
}

bool smtp_ratelimit_rcpt(struct smtp_session *s)
{
	if (rate_session_take(s, true))
		return true;
	smtp_reply(s, 451, "4.7.1", "Too many recipients, slow down and try "
		   "again later");
	return false;
}

void smtp_ratelimit_refused(struct smtp_session *s)
{
	unsigned max = s->server->ratelimit->set.max_refused_recipients;

	if (s->rate_exempt || max == 0 || s->core.conn == NULL ||
	    ++s->refused_rcpts < max)
		return;
	log_notice(session_sid(&s->core), "smtp client %s: %u recipients "
		   "refused, dropping the session", s->core.peer_ip,
		   s->refused_rcpts);
	session_bye(&s->core, SESSION_BYE_ERRORS,
		    "Too many refused recipients, closing connection");
}
