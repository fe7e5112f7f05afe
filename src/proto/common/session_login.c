/* session_login.c: logins as every front-end does them: the gate before a
 * credentials check (the shared failed-login guard), the one log format of
 * failed logins, the per-user-and-address limit, plaintext password checks
 * and SASL exchanges. */
#include "proto/common/session.h"
#include "proto/common/session_int.h"

#include "auth/auth_store.h"
#include "auth/auth_worker.h"
#include "proto/common/session_read.h"
#include "store/store_read_pool.h"
#include "base/counts.h"
#include "base/log.h"
#include "base/str.h"
#include "net/net.h"

#include <ctype.h>
#include <string.h>

/* ---- sessions per user and address ---- */

static char *userip_key(const char *ip, const char *user)
{
	return xasprintf("%s %s", ip, user);
}

unsigned session_server_user_ip_count(struct session_server *server,
				      const char *user, const char *ip)
{
	char *key = userip_key(ip, user);
	unsigned n = counts_get(server->userips, str_c(key));

	free(key);
	return n;
}

/* ---- the gate and the record ---- */

void session_login_deinit(struct session *s)
{
	auth_guard_done(s->server->env.guard, &s->ticket);
	auth_guard_check_end(s->server->env.guard, &s->ticket);
	if (s->user_counted) {
		char *key = userip_key(s->peer_ip, s->user);

		counts_release(s->server->userips, str_c(key));
		free(key);
		s->user_counted = false;
	}
	free(s->user);
	s->user = NULL;
	secret_free(&s->gate_arg);
	s->gate_fn = NULL;
	auth_sasl_free(&s->sasl);
}

static void session_gate_open(struct session *s)
{
	session_gate_fn *fn = s->gate_fn;
	char *arg = s->gate_arg;

	auth_guard_done(s->server->env.guard, &s->ticket);
	s->gate_fn = NULL;
	s->gate_arg = NULL;
	if (s->gate_busy) {
		/* Waited for the source's checks in flight: ask again. */
		s->gate_busy = false;
		if (!session_login_gate(s, str_c(arg), fn)) {
			secret_free(&arg);
			return;
		}
		s->gate_go = true;
	}
	session_release(s);
	fn(s, str_c(arg), s->gate_go);
	secret_free(&arg);
}

bool session_login_gate(struct session *s, struct str arg, session_gate_fn *fn)
{
	unsigned delay;

	ASSERT(s->gate_fn == NULL);
	switch (auth_guard_ask(s->server->env.guard, s->peer_ip, &delay,
			       &s->ticket)) {
	case AUTH_GUARD_GO:
		return true;
	case AUTH_GUARD_REFUSE:
		log_notice(session_sid(s), "auth refused proto=%s ip=%s: too "
			   "many login attempts from this source waiting",
			   s->server->ops->proto, s->peer_ip);
		s->gate_go = false;
		break;
	case AUTH_GUARD_WAIT:
		s->gate_go = true;
		break;
	case AUTH_GUARD_BUSY:
		s->gate_busy = true;
		break;
	}
	/* Earlier failures from this source: the credentials are checked
	 * (or the attempt refused) only after the delay, without holding
	 * the thread. */
	s->gate_fn = fn;
	s->gate_arg = str_dup(arg);
	session_hold(s);
	session_timer(s, delay, session_gate_open);
	return false;
}

/* A login name as it may go into the log: printable ASCII without spaces
 * (so one fail2ban pattern cannot be fooled by "user=x ip=y"), at most 128
 * characters. */
static void session_log_name(const char *user, char out[130])
{
	size_t i;

	for (i = 0; user[i] != '\0' && i < 128; i++) {
		unsigned char c = (unsigned char)user[i];

		out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
}

void session_login_failed(struct session *s, const char *user,
			  const char *mech)
{
	char name[130];

	session_log_name(user != NULL ? user : "", name);
	auth_guard_failed(s->server->env.guard, s->peer_ip, user);
	log_notice(session_sid(s), "auth failed proto=%s user=%s ip=%s mech=%s",
		   s->server->ops->proto, name, s->peer_ip, mech);
}

bool session_login(struct session *s, const char *address, const char *mech)
{
	char *key = userip_key(s->peer_ip, address);
	bool ok;

	ASSERT(s->user == NULL);
	auth_guard_succeeded(s->server->env.guard, s->peer_ip, address);
	ok = counts_acquire(s->server->userips, str_c(key),
			    s->server->max_user_ip);
	free(key);
	if (!ok) {
		log_notice(session_sid(s), "login refused proto=%s user=%s "
			   "ip=%s: %u sessions of the user from this address",
			   s->server->ops->proto, address, s->peer_ip,
			   s->server->max_user_ip);
		session_bye(s, SESSION_BYE_LIMIT,
			    "Too many connections of this user from your "
			    "address");
		return false;
	}
	s->user = xstrdup(address);
	s->user_counted = true;
	if (s->conn != NULL)
		conn_set_authenticated(s->conn);
	log_info(session_sid(s), "login proto=%s user=%s ip=%s mech=%s",
		 s->server->ops->proto, address, s->peer_ip, mech);
	return true;
}

/* ---- password checks, off the I/O thread ---- */

/* One check in flight: the session is held and counts it as pending, so
 * that a session whose conn closes meanwhile is freed when it returns. */
struct session_check {
	struct auth_check check;	/* first: the completion's argument */
	struct session *s;
	struct task_queue *reply;
	char *mech;
	void (*fn)(struct session_check *sc);	/* on the session's thread */
	session_password_fn *password_fn;
};

static struct task_queue *session_task_queue(struct session *s)
{
	return net_thread_task_queue(conn_thread(s->conn));
}

static void session_check_free(struct session_check *sc)
{
	auth_check_clear(&sc->check);
	free(sc->mech);
	free(sc);
}

/* The check is done (posted to the session's thread). */
static void session_check_done(void *arg)
{
	struct session_check *sc = arg;
	struct session *s = sc->s;

	/* Recorded even when the client left meanwhile (a guess and a
	 * hang-up is still a guess), before the guard lets another check
	 * of the source start. */
	if (sc->check.result == 0)
		session_login_failed(s, sc->check.user, sc->mech);
	auth_guard_check_end(s->server->env.guard, &s->ticket);
	if (!session_pending_end(s) || s->conn == NULL) {
		/* The client left: nothing to answer. */
		session_check_free(sc);
		return;
	}
	session_release(s);
	sc->fn(sc);
	session_check_free(sc);
}

/* Without a worker (tests, fuzzers): verify here, complete later all
 * the same, so the protocol sees one behaviour. */
static void session_check_inline(struct session_check *sc)
{
	struct auth_check *c = &sc->check;

	c->result = auth_login_verify(c->found, &c->cred, c->password,
				      &c->address);
	task_queue_post(sc->reply, session_check_done, sc);
}

/* The credentials are looked up: verify them. */
static void session_check_verify(void *arg)
{
	struct session_check *sc = arg;
	struct session *s = sc->s;
	struct auth_worker *worker = s->server->env.auth;

	if (worker != NULL && auth_check_cached(worker, &sc->check)) {
		/* a cached right password runs no hash: its place among
		 * the source's checks in flight goes back now */
		auth_guard_check_end(s->server->env.guard, &s->ticket);
		task_queue_post(sc->reply, session_check_done, sc);
		return;
	}
	if (worker != NULL)
		auth_check_submit(worker, &sc->check, sc->reply,
				  session_check_done);
	else
		session_check_inline(sc);
}

/* On a read pool thread. */
static void session_check_lookup(struct store_reader *r, void *arg)
{
	struct session_check *sc = arg;

	sc->check.found = r != NULL ?
		auth_store_lookup(r, sc->check.user, &sc->check.cred) : -1;
}

static struct session_check *session_check_new(struct session *s,
					       const char *user,
					       const char *password,
					       const char *mech,
					       void (*fn)(struct session_check *))
{
	struct session_check *sc = xcalloc(1, sizeof(*sc));

	sc->s = s;
	sc->reply = session_task_queue(s);
	sc->mech = xstrdup(mech);
	sc->fn = fn;
	sc->check.user = xstrdup(user);
	sc->check.password = xstrdup(password);
	return sc;
}

/* Look the user up (on a read pool thread when there is one), then
 * verify; sc->fn runs on the session's thread, never before this
 * returns. */
static void session_check_start(struct session_check *sc)
{
	struct session *s = sc->s;
	struct store_read_pool *reads = s->server->env.reads;

	/* Held: no input is read until the check is answered. */
	session_hold(s);
	session_pending_begin(s);
	/* The check is in flight from its lookup on, not from its hash:
	 * counted only once the (pooled) lookup returned, every connection
	 * of a source would pass the gate while the lookups wait, and run
	 * its guess before the first failure is known. */
	auth_guard_check_begin(s->server->env.guard, s->peer_ip, &s->ticket);
	if (reads != NULL) {
		store_read_submit(reads, session_check_lookup, sc, sc->reply,
				  session_check_verify);
		return;
	}
	/* SQLite: an indexed lookup costs less than the hop (see
	 * docs/design.md); it runs here. */
	session_check_lookup(session_reader(s), sc);
	session_check_verify(sc);
}

static void session_password_checked(struct session_check *sc)
{
	sc->password_fn(sc->s, sc->check.result, sc->check.address);
}

void session_check_password(struct session *s, const char *user,
			    const char *password, const char *mech,
			    session_password_fn *fn)
{
	struct session_check *sc = session_check_new(s, user, password, mech,
						    session_password_checked);

	sc->password_fn = fn;
	session_check_start(sc);
}

/* ---- SASL ---- */

/* The exchange's lookups (SCRAM's keys) go through the reader of where
 * its step runs; without one every lookup fails: the exchange ends in
 * TEMPFAIL, as when the store fails during it. */
static int session_sasl_lookup(void *ctx, const char *authcid,
			       struct auth_credentials *cred_r)
{
	struct store_reader *r = *(struct store_reader **)ctx;

	return r != NULL ? auth_store_lookup(r, authcid, cred_r) : -1;
}

const char *session_sasl_mechanisms(const struct session *s)
{
	return auth_sasl_mechanisms(s->server->env.sasl,
				    session_plaintext_ok(s));
}

bool session_in_sasl(const struct session *s)
{
	return s->sasl != NULL;
}

/* checked: a password check recorded a failure already. */
static void session_sasl_finish(struct session *s, enum session_sasl_end end,
				bool checked)
{
	struct auth_sasl_session *sasl = s->sasl;

	s->sasl = NULL;
	if (end == SESSION_SASL_FAIL && !checked)
		session_login_failed(s, auth_sasl_authid(sasl),
				     auth_sasl_mech(sasl));
	s->server->ops->sasl_end(s, end, auth_sasl_user(sasl),
				 auth_sasl_mech(sasl));
	auth_sasl_free(&sasl);
}

static void session_sasl_result(struct session *s, enum auth_sasl_result res,
				char *challenge, bool checked);

/* A deferred PLAIN/LOGIN check came back (the session's thread). */
static void session_sasl_checked(struct session_check *sc)
{
	struct session *s = sc->s;
	char *address = sc->check.address;

	sc->check.address = NULL;	/* the exchange takes it */
	session_sasl_result(s, auth_sasl_checked(s->sasl, sc->check.result,
						 address), NULL, true);
}

static void session_sasl_check(struct session *s)
{
	const char *user, *password;

	if (!auth_sasl_check_args(s->sasl, &user, &password))
		PANIC("SASL check without credentials");
	session_check_start(session_check_new(s, user, password,
					      auth_sasl_mech(s->sasl),
					      session_sasl_checked));
}

/* One step of an exchange, where its lookup may run. */
struct session_sasl_job {
	struct auth_sasl_session *sasl;
	struct store_reader **reader;	/* &s->sasl_reader */
	char *resp;
	char *challenge;
	enum auth_sasl_result res;
};

/* On a read pool thread (the session is held: nobody else touches the
 * exchange), or inline. */
static void session_sasl_step_run(struct store_reader *r, void *arg)
{
	struct session_sasl_job *j = arg;

	*j->reader = r;
	j->res = auth_sasl_step(j->sasl, j->resp, &j->challenge);
	*j->reader = NULL;
	secret_free(&j->resp);
}

static int session_sasl_stepped(struct session *s, void *arg, bool gone)
{
	struct session_sasl_job *j = arg;
	enum auth_sasl_result res = j->res;
	char *challenge = j->challenge;

	free(j);
	if (gone) {
		free(challenge);
		return 0;
	}
	session_sasl_result(s, res, challenge, false);
	return 1;
}

/* Feed one client message (base64 text) to the exchange. A SCRAM step
 * looks the user's keys up: with a read pool it runs there (a lookup may
 * wait on PostgreSQL); PLAIN and LOGIN look nothing up in their steps
 * (their check is deferred) and run here. */
static void session_sasl_step(struct session *s, struct str b64)
{
	struct session_sasl_job *j = xcalloc(1, sizeof(*j));

	j->sasl = s->sasl;
	j->reader = &s->sasl_reader;
	j->resp = str_dup(b64);
	if (session_reads_pooled(s) &&
	    strncmp(auth_sasl_mech(s->sasl), "SCRAM-", 6) == 0) {
		(void)session_read(s, session_sasl_step_run,
				   session_sasl_stepped, j);
		return;
	}
	session_sasl_step_run(session_reader(s), j);
	(void)session_sasl_stepped(s, j, false);
}

static void session_sasl_result(struct session *s, enum auth_sasl_result res,
				char *challenge, bool checked)
{
	switch (res) {
	case AUTH_SASL_CONTINUE:
		s->server->ops->sasl_challenge(s, challenge);
		free(challenge);
		return;
	case AUTH_SASL_OK:
		session_sasl_finish(s, SESSION_SASL_OK, checked);
		return;
	case AUTH_SASL_FAIL:
		session_sasl_finish(s, SESSION_SASL_FAIL, checked);
		return;
	case AUTH_SASL_ERROR:
		session_sasl_finish(s, SESSION_SASL_MALFORMED, checked);
		return;
	case AUTH_SASL_TEMPFAIL:
		session_sasl_finish(s, SESSION_SASL_TEMPFAIL, checked);
		return;
	case AUTH_SASL_CHECK:
		session_sasl_check(s);
		return;
	}
}

bool session_sasl_start(struct session *s, struct str mech,
			struct str initial)
{
	char *mech_c;

	ASSERT(s->sasl == NULL);
	mech_c = str_dup(mech);
	s->sasl = auth_sasl_start(s->server->env.sasl, mech_c,
				  session_plaintext_ok(s),
				  session_sasl_lookup, &s->sasl_reader);
	free(mech_c);
	if (s->sasl == NULL)
		return false;
	auth_sasl_defer_check(s->sasl);
	session_sasl_step(s, initial);
	return true;
}

void session_sasl_line(struct session *s, struct str line)
{
	/* No line is read while a check is out: the session is held. */
	ASSERT(s->sasl != NULL);
	if (str_eq(line, STR_LIT("*"))) {
		session_sasl_finish(s, SESSION_SASL_CANCELLED, false);
		return;
	}
	session_sasl_step(s, line);
}

void session_sasl_too_long(struct session *s)
{
	ASSERT(s->sasl != NULL);
	session_sasl_finish(s, SESSION_SASL_TOO_LONG, false);
}
