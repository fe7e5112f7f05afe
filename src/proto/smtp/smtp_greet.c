/* smtp_greet.c: the greeting, and the pre-greeting test of MTA clients on
 * port 25 as Postfix's postscreen does it: the greeting is held for
 * greet_delay_ms and a client that talks first is refused; an address
 * that waited is remembered for a while (a bounded, expiring cache) and
 * greeted at once next time, so senders that open a connection per
 * message pay the pause once, not per message. */
#include "base/log.h"
#include "base/lru.h"
#include "proto/smtp/smtp_int.h"

#include <pthread.h>
#include <time.h>

#define GREET_DEFAULT_TTL_S (24u * 3600)
#define GREET_DEFAULT_MAX 100000u

struct greet_pass {
	uint64_t until_s;	/* monotonic */
};

struct smtp_greet_cache {
	pthread_mutex_t lock;
	struct lru passed;	/* of struct greet_pass, by address */
	unsigned ttl_s;
};

static uint64_t greet_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct smtp_greet_cache *smtp_greet_cache_new(unsigned max, unsigned ttl_s)
{
	struct smtp_greet_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	lru_init(&c->passed, max != 0 ? max : GREET_DEFAULT_MAX,
		 sizeof(struct greet_pass), NULL);
	c->ttl_s = ttl_s != 0 ? ttl_s : GREET_DEFAULT_TTL_S;
	return c;
}

void smtp_greet_cache_free(struct smtp_greet_cache **cp)
{
	struct smtp_greet_cache *c = *cp;

	if (c == NULL)
		return;
	lru_deinit(&c->passed);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

static bool greet_cache_passed(struct smtp_greet_cache *c, const char *ip)
{
	struct greet_pass *p;
	bool passed = false;

	pthread_mutex_lock(&c->lock);
	p = lru_find(&c->passed, ip);
	if (p != NULL && p->until_s > greet_now_s())
		passed = true;
	else if (p != NULL)
		lru_remove(&c->passed, p);
	pthread_mutex_unlock(&c->lock);
	return passed;
}

static void greet_cache_add(struct smtp_greet_cache *c, const char *ip)
{
	struct greet_pass *p;

	pthread_mutex_lock(&c->lock);
	p = lru_get(&c->passed, ip, NULL);
	p->until_s = greet_now_s() + c->ttl_s;
	pthread_mutex_unlock(&c->lock);
}

void smtp_greet(struct smtp_session *s)
{
	conn_printf(s->core.conn, "220 %s %s Posthorn\r\n",
		    s->server->core.hostname,
		    s->core.service->mode == SMTP_MODE_LMTP ? "LMTP" : "ESMTP");
	smtp_session_enter(s, SMTP_STATE_INIT);
}

/* The client waited the whole pause: it passed. */
static void greet_delay_over(struct session *core)
{
	struct smtp_session *s = (struct smtp_session *)core;

	greet_cache_add(s->server->greet_cache, s->core.peer_ip);
	smtp_greet(s);
}

void smtp_greet_start(struct smtp_session *s)
{
	if (s->core.service->mode != SMTP_MODE_MTA ||
	    s->server->set.greet_delay_ms == 0 || s->trusted ||
	    greet_cache_passed(s->server->greet_cache, s->core.peer_ip)) {
		smtp_greet(s);
		return;
	}
	session_timer(&s->core, s->server->set.greet_delay_ms,
		      greet_delay_over);
}

void smtp_greet_early_talker(struct smtp_session *s)
{
	/* RFC 5321 4.3.1: the client waits for the greeting; spam engines
	 * that do not are refused. */
	log_notice(session_sid(&s->core), "smtp client %s talked before the "
		   "greeting", s->core.peer_ip);
	smtp_reply(s, 554, "5.5.0", "Protocol error: talked before the greeting");
	session_close(&s->core);
}
