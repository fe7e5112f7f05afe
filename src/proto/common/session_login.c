/* session_login.c: logins as every front-end does them: the gate before a
 * credentials check (the shared failed-login guard), the one log format of
 * failed logins, the per-user-and-address limit, plaintext password checks
 * and SASL exchanges. */
#include "proto/common/session.h"
#include "proto/common/session_int.h"

#include "auth/auth_store.h"
#include "base/counts.h"
#include "base/log.h"
#include "base/str.h"
#include "net/net.h"

#include <ctype.h>

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

int session_check_password(struct session *s, const char *user,
			   const char *password, const char *mech,
			   char **address_r)
{
	struct store_reader *reader = session_reader(s);
	int ret;

	*address_r = NULL;
	if (reader == NULL)
		return -1;
	ret = auth_login_plain(auth_store_lookup, reader, user, password,
			       address_r);
	if (ret == 0)
		session_login_failed(s, user, mech);
	return ret;
}

/* ---- SASL ---- */

/* The lookup of an exchange that has no store reader. */
static int session_no_lookup(void *ctx UNUSED, const char *authcid UNUSED,
			     struct auth_credentials *cred_r UNUSED)
{
	return -1;
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

static void session_sasl_finish(struct session *s, enum session_sasl_end end)
{
	struct auth_sasl_session *sasl = s->sasl;

	s->sasl = NULL;
	if (end == SESSION_SASL_FAIL)
		session_login_failed(s, auth_sasl_authid(sasl),
				     auth_sasl_mech(sasl));
	s->server->ops->sasl_end(s, end, auth_sasl_user(sasl),
				 auth_sasl_mech(sasl));
	auth_sasl_free(&sasl);
}

/* Feed one client message (base64 text) to the exchange. */
static void session_sasl_step(struct session *s, struct str b64)
{
	char *challenge = NULL, *resp = str_dup(b64);
	enum auth_sasl_result res = auth_sasl_step(s->sasl, resp, &challenge);

	secret_free(&resp);
	switch (res) {
	case AUTH_SASL_CONTINUE:
		s->server->ops->sasl_challenge(s, challenge);
		free(challenge);
		return;
	case AUTH_SASL_OK:
		session_sasl_finish(s, SESSION_SASL_OK);
		return;
	case AUTH_SASL_FAIL:
		session_sasl_finish(s, SESSION_SASL_FAIL);
		return;
	case AUTH_SASL_ERROR:
		session_sasl_finish(s, SESSION_SASL_MALFORMED);
		return;
	case AUTH_SASL_TEMPFAIL:
		session_sasl_finish(s, SESSION_SASL_TEMPFAIL);
		return;
	}
}

bool session_sasl_start(struct session *s, struct str mech,
			struct str initial)
{
	struct store_reader *reader = session_reader(s);
	char *mech_c;

	ASSERT(s->sasl == NULL);
	mech_c = str_dup(mech);
	/* Without a reader every lookup fails: the exchange ends in
	 * TEMPFAIL, as when the store fails during it. */
	s->sasl = auth_sasl_start(s->server->env.sasl, mech_c,
				  session_plaintext_ok(s),
				  reader != NULL ? auth_store_lookup :
				  session_no_lookup, reader);
	free(mech_c);
	if (s->sasl == NULL)
		return false;
	session_sasl_step(s, initial);
	return true;
}

void session_sasl_line(struct session *s, struct str line)
{
	ASSERT(s->sasl != NULL);
	if (str_eq(line, STR_LIT("*"))) {
		session_sasl_finish(s, SESSION_SASL_CANCELLED);
		return;
	}
	session_sasl_step(s, line);
}

void session_sasl_too_long(struct session *s)
{
	ASSERT(s->sasl != NULL);
	session_sasl_finish(s, SESSION_SASL_TOO_LONG);
}
