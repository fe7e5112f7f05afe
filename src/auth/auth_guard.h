/* auth_guard.h: the failed-login record every protocol shares (SMTP AUTH,
 * IMAP LOGIN/AUTHENTICATE, POP3 USER/PASS, APOP and AUTH), kept per client
 * source (an IPv4 address, an IPv6 /64) and per source and target user, so
 * that guesses are limited per source however many connections it opens.
 * Thread-safe; memory bounded. */
#ifndef POSTHORN_AUTH_AUTH_GUARD_H
#define POSTHORN_AUTH_AUTH_GUARD_H

#include "base/base.h"
#include "base/cidr.h"
#include "base/clock.h"

/* A delay longer than this makes real clients time out their login. */
#define AUTH_GUARD_MAX_DELAY_MS 15000u
#define AUTH_GUARD_DEFAULT_DELAY_MS 1000u
#define AUTH_GUARD_DEFAULT_MAX_PENDING 4u
#define AUTH_GUARD_DEFAULT_QUIET_MS (15u * 60 * 1000)
#define AUTH_GUARD_DEFAULT_MAX_ENTRIES 16384u
/* How soon an attempt refused for checks in flight (BUSY) asks again. */
#define AUTH_GUARD_BUSY_RETRY_MS 50u
/* "2001:db8:1:2::/64" and the like, NUL included. */
#define AUTH_GUARD_SOURCE_MAX CIDR_SOURCE_MAX

/* Milliseconds from any fixed origin, never going back. */
typedef clock_ms_fn auth_guard_clock_fn;

struct auth_guard_settings {
	/* The first failure from a source delays its next attempts by
	 * delay_ms, each further one doubles it, up to max_delay_ms (at
	 * most AUTH_GUARD_MAX_DELAY_MS). 0: the defaults. */
	unsigned delay_ms;
	unsigned max_delay_ms;
	/* Attempts from one source that may wait for their delay at the
	 * same time; more are refused without a password check. */
	unsigned max_pending;
	/* A source (and a user record) forgets its failures after quiet_ms
	 * without one. */
	unsigned quiet_ms;
	/* Records kept of each kind; the one unused longest goes first. */
	size_t max_entries;
	/* Sources never delayed (e.g. a webmail host): copied. */
	const struct cidr *exempt;
	size_t n_exempt;
};

struct auth_guard;

enum auth_guard_verdict {
	AUTH_GUARD_GO,		/* check the password now */
	AUTH_GUARD_WAIT,	/* check it after *delay_ms_r */
	AUTH_GUARD_REFUSE,	/* too many attempts wait already: answer
				 * "try again later" without checking, after
				 * *delay_ms_r too (so that refusals do not
				 * come back faster than checks) */
	AUTH_GUARD_BUSY,	/* max_pending checks of the source are in
				 * flight (auth_guard_check_begin) and none
				 * failed yet: ask again after *delay_ms_r */
};

/* One attempt's place in the guard: which source it counted against, and
 * whether it holds one of the source's pending places. */
struct auth_guard_ticket {
	char source[AUTH_GUARD_SOURCE_MAX];
	bool pending;
	/* a check in flight (auth_guard_check_begin) */
	char checking_source[AUTH_GUARD_SOURCE_MAX];
	bool checking;
};

struct auth_guard *auth_guard_new(const struct auth_guard_settings *set);
void auth_guard_free(struct auth_guard **g);
/* Replace the clock (default: CLOCK_MONOTONIC). Call before any use. */
void auth_guard_set_clock(struct auth_guard *g, auth_guard_clock_fn *clock,
			  void *ctx);

/* The source an address counts against ("192.0.2.1", "2001:db8::/64";
 * anything that is not an address, e.g. "unix", stands for itself). */
void auth_guard_source(const char *ip, char source_r[AUTH_GUARD_SOURCE_MAX]);

/* Before checking a password from ip. The delay grows with the source's
 * failures, whoever they were for. On WAIT the ticket holds a pending
 * place until auth_guard_done(); a REFUSE holds none. */
enum auth_guard_verdict auth_guard_ask(struct auth_guard *g, const char *ip,
				       unsigned *delay_ms_r,
				       struct auth_guard_ticket *ticket_r);
/* The attempt's wait is over (its check runs now) or it was abandoned
 * (the client left): give its pending place back. Idempotent. */
void auth_guard_done(struct auth_guard *g, struct auth_guard_ticket *ticket);
/* A password check from ip starts / has ended (after its failure, if
 * any, was recorded): while max_pending checks of a source are in flight,
 * auth_guard_ask() answers BUSY, so that checks that do not block a thread
 * cannot run a source's guesses in parallel before the first failure is
 * known. end is idempotent. Exempt sources are not counted. */
void auth_guard_check_begin(struct auth_guard *g, const char *ip,
			    struct auth_guard_ticket *ticket);
void auth_guard_check_end(struct auth_guard *g,
			  struct auth_guard_ticket *ticket);
/* A failed login of user (as the client wrote it; NULL or "" when the
 * exchange never named one) from ip. */
void auth_guard_failed(struct auth_guard *g, const char *ip, const char *user);
/* A successful login of user from ip: forget that user's failures from
 * that source, and only those (a login to one's own account does not wipe
 * the guesses made at others). */
void auth_guard_succeeded(struct auth_guard *g, const char *ip,
			  const char *user);
/* The failures counted against ip's source now. */
unsigned auth_guard_failures(struct auth_guard *g, const char *ip);
/* Records kept: sources, and source-and-user pairs. */
size_t auth_guard_count(struct auth_guard *g, size_t *users_r);

#endif
