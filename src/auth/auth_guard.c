/* auth_guard.c: two bounded tables (base/lru.h) of failure records,
 * sources and source-and-user pairs. */
#include "auth/auth_guard.h"
#include "base/lru.h"
#include "base/str.h"

#include <ctype.h>
#include <pthread.h>

/* Longest user name kept in a pair's key; longer ones are cut. */
#define GUARD_USER_MAX 255

struct guard_record {
	uint64_t last_fail_ms;
	unsigned failures;
	unsigned pending;		/* sources only */
	unsigned checking;		/* sources only: checks in flight */
};

struct auth_guard {
	pthread_mutex_t lock;
	struct auth_guard_settings set;
	struct cidr *exempt;
	auth_guard_clock_fn *clock;
	void *clock_ctx;
	struct lru sources, users;	/* of struct guard_record */
};

/* A source with an attempt waiting or a check in flight keeps its record:
 * the attempt gives its place back to it. */
static bool guard_pinned(const void *value)
{
	const struct guard_record *r = value;

	return r->pending > 0 || r->checking > 0;
}

/* ---- the guard ---- */

struct auth_guard *auth_guard_new(const struct auth_guard_settings *set)
{
	struct auth_guard *g = xcalloc(1, sizeof(*g));

	g->set = *set;
	if (g->set.delay_ms == 0)
		g->set.delay_ms = AUTH_GUARD_DEFAULT_DELAY_MS;
	if (g->set.max_delay_ms == 0)
		g->set.max_delay_ms = AUTH_GUARD_MAX_DELAY_MS;
	g->set.max_delay_ms = MIN(MAX(g->set.max_delay_ms, g->set.delay_ms),
				  AUTH_GUARD_MAX_DELAY_MS);
	g->set.delay_ms = MIN(g->set.delay_ms, g->set.max_delay_ms);
	if (g->set.max_pending == 0)
		g->set.max_pending = AUTH_GUARD_DEFAULT_MAX_PENDING;
	if (g->set.quiet_ms == 0)
		g->set.quiet_ms = AUTH_GUARD_DEFAULT_QUIET_MS;
	if (g->set.max_entries == 0)
		g->set.max_entries = AUTH_GUARD_DEFAULT_MAX_ENTRIES;
	if (set->n_exempt > 0)
		g->exempt = xmemdup(set->exempt,
				    set->n_exempt * sizeof(*set->exempt));
	g->set.exempt = g->exempt;
	g->clock = clock_monotonic_ms;
	pthread_mutex_init(&g->lock, NULL);
	lru_init(&g->sources, g->set.max_entries, sizeof(struct guard_record),
		 guard_pinned);
	lru_init(&g->users, g->set.max_entries, sizeof(struct guard_record),
		 NULL);
	return g;
}

void auth_guard_free(struct auth_guard **gp)
{
	struct auth_guard *g = *gp;

	if (g == NULL)
		return;
	lru_deinit(&g->sources);
	lru_deinit(&g->users);
	pthread_mutex_destroy(&g->lock);
	free(g->exempt);
	free(g);
	*gp = NULL;
}

void auth_guard_set_clock(struct auth_guard *g, auth_guard_clock_fn *clock,
			  void *ctx)
{
	g->clock = clock;
	g->clock_ctx = ctx;
}

void auth_guard_source(const char *ip, char source_r[AUTH_GUARD_SOURCE_MAX])
{
	cidr_source(ip, 64, source_r);
}

/* "source user" with the user folded to lower case: "Alice@x" and
 * "alice@X" are the same target. */
static void guard_user_key(const char *source, const char *user,
			   char key_r[AUTH_GUARD_SOURCE_MAX + GUARD_USER_MAX + 2])
{
	size_t n = strlen(source), i;

	memcpy(key_r, source, n);
	key_r[n++] = ' ';
	for (i = 0; user[i] != '\0' && i < GUARD_USER_MAX; i++)
		key_r[n++] = (char)tolower((unsigned char)user[i]);
	key_r[n] = '\0';
}

static bool guard_quiet(const struct auth_guard *g, const struct guard_record *e,
			uint64_t now)
{
	return e->failures > 0 && now - e->last_fail_ms >= g->set.quiet_ms;
}

static unsigned guard_delay(const struct auth_guard *g, unsigned failures)
{
	uint64_t d = g->set.delay_ms;

	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && d < g->set.max_delay_ms; i++)
		d *= 2;
	return (unsigned)MIN(d, (uint64_t)g->set.max_delay_ms);
}

/* The source's record with decayed failures forgotten, or NULL. */
static struct guard_record *guard_source_entry(struct auth_guard *g,
					      const char *source, uint64_t now)
{
	struct guard_record *e = lru_find(&g->sources, source);

	if (e != NULL && guard_quiet(g, e, now)) {
		e->failures = 0;
		if (e->pending == 0 && e->checking == 0) {
			lru_remove(&g->sources, e);
			e = NULL;
		}
	}
	return e;
}

enum auth_guard_verdict auth_guard_ask(struct auth_guard *g, const char *ip,
				       unsigned *delay_ms_r,
				       struct auth_guard_ticket *ticket_r)
{
	enum auth_guard_verdict verdict = AUTH_GUARD_GO;
	struct guard_record *e;

	*delay_ms_r = 0;
	auth_guard_source(ip, ticket_r->source);
	ticket_r->pending = false;
	if (g->set.n_exempt > 0 &&
	    cidr_list_match(g->set.exempt, g->set.n_exempt, ip))
		return AUTH_GUARD_GO;
	pthread_mutex_lock(&g->lock);
	e = guard_source_entry(g, ticket_r->source, g->clock(g->clock_ctx));
	if (e != NULL && e->failures > 0) {
		*delay_ms_r = guard_delay(g, e->failures);
		if (e->pending >= g->set.max_pending) {
			verdict = AUTH_GUARD_REFUSE;
		} else {
			e->pending++;
			ticket_r->pending = true;
			verdict = AUTH_GUARD_WAIT;
		}
	} else if (e != NULL && e->checking >= g->set.max_pending) {
		/* Checks run off the I/O threads now, so nothing but this
		 * bounds how many guesses of one source are in flight before
		 * the first failure is known. */
		*delay_ms_r = AUTH_GUARD_BUSY_RETRY_MS;
		verdict = AUTH_GUARD_BUSY;
	}
	pthread_mutex_unlock(&g->lock);
	return verdict;
}

void auth_guard_check_begin(struct auth_guard *g, const char *ip,
			    struct auth_guard_ticket *ticket)
{
	struct guard_record *e;

	ASSERT(!ticket->checking);
	auth_guard_source(ip, ticket->checking_source);
	if (g->set.n_exempt > 0 &&
	    cidr_list_match(g->set.exempt, g->set.n_exempt, ip))
		return;
	pthread_mutex_lock(&g->lock);
	e = lru_get(&g->sources, ticket->checking_source, NULL);
	e->checking++;
	ticket->checking = true;
	pthread_mutex_unlock(&g->lock);
}

void auth_guard_check_end(struct auth_guard *g,
			  struct auth_guard_ticket *ticket)
{
	struct guard_record *e;

	if (!ticket->checking)
		return;
	ticket->checking = false;
	pthread_mutex_lock(&g->lock);
	e = lru_find(&g->sources, ticket->checking_source);
	if (e != NULL && e->checking > 0)
		e->checking--;
	if (e != NULL && e->checking == 0 && e->pending == 0 &&
	    e->failures == 0)
		lru_remove(&g->sources, e);
	pthread_mutex_unlock(&g->lock);
}

void auth_guard_done(struct auth_guard *g, struct auth_guard_ticket *ticket)
{
	struct guard_record *e;

	if (!ticket->pending)
		return;
	ticket->pending = false;
	pthread_mutex_lock(&g->lock);
	e = lru_find(&g->sources, ticket->source);
	if (e != NULL && e->pending > 0)
		e->pending--;
	pthread_mutex_unlock(&g->lock);
}

void auth_guard_failed(struct auth_guard *g, const char *ip, const char *user)
{
	char source[AUTH_GUARD_SOURCE_MAX];
	char key[AUTH_GUARD_SOURCE_MAX + GUARD_USER_MAX + 2];
	struct guard_record *e;
	uint64_t now;

	auth_guard_source(ip, source);
	guard_user_key(source, user != NULL ? user : "", key);
	pthread_mutex_lock(&g->lock);
	now = g->clock(g->clock_ctx);
	(void)guard_source_entry(g, source, now);	/* forget decayed ones */
	e = lru_get(&g->sources, source, NULL);
	if (e->failures < UINT32_MAX / 2)
		e->failures++;
	e->last_fail_ms = now;
	e = lru_get(&g->users, key, NULL);
	if (guard_quiet(g, e, now))
		e->failures = 0;
	if (e->failures < UINT32_MAX / 2)
		e->failures++;
	e->last_fail_ms = now;
	pthread_mutex_unlock(&g->lock);
}

void auth_guard_succeeded(struct auth_guard *g, const char *ip,
			  const char *user)
{
	char source[AUTH_GUARD_SOURCE_MAX];
	char key[AUTH_GUARD_SOURCE_MAX + GUARD_USER_MAX + 2];
	struct guard_record *u, *e;
	uint64_t now;

	auth_guard_source(ip, source);
	guard_user_key(source, user, key);
	pthread_mutex_lock(&g->lock);
	now = g->clock(g->clock_ctx);
	u = lru_find(&g->users, key);
	if (u != NULL) {
		/* The failures this user made are explained (typos, an old
		 * password); the source keeps those made at others. */
		e = guard_source_entry(g, source, now);
		if (e != NULL && !guard_quiet(g, u, now)) {
			e->failures -= MIN(e->failures, u->failures);
			if (e->failures == 0 && e->pending == 0 &&
			    e->checking == 0)
				lru_remove(&g->sources, e);
		}
		lru_remove(&g->users, u);
	}
	pthread_mutex_unlock(&g->lock);
}

unsigned auth_guard_failures(struct auth_guard *g, const char *ip)
{
	char source[AUTH_GUARD_SOURCE_MAX];
	struct guard_record *e;
	unsigned n;

	auth_guard_source(ip, source);
	pthread_mutex_lock(&g->lock);
	e = guard_source_entry(g, source, g->clock(g->clock_ctx));
	n = e != NULL ? e->failures : 0;
	pthread_mutex_unlock(&g->lock);
	return n;
}

size_t auth_guard_count(struct auth_guard *g, size_t *users_r)
{
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = lru_count(&g->sources);
	if (users_r != NULL)
		*users_r = lru_count(&g->users);
	pthread_mutex_unlock(&g->lock);
	return n;
}
