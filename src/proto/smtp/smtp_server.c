/* smtp_server.c: the SMTP front-end on the session core: the server and
 * its listeners' contexts, and the driver the core calls (opening a
 * session, the input loop over command lines, SASL responses and the DATA
 * and BDAT streams, the parting replies, shutdown and the end). */
#include "base/log.h"
#include "net/net.h"
#include "proto/smtp/smtp_checks.h"
#include "proto/smtp/smtp_commands.h"
#include "proto/smtp/smtp_dns.h"
#include "proto/smtp/smtp_received.h"

#include <pwd.h>

static const struct session_ops smtp_session_ops;

struct smtp_server *smtp_server_new(const struct smtp_settings *set,
				    const struct session_env *env)
{
	struct smtp_server *server = xcalloc(1, sizeof(*server));

	session_server_init(&server->core, &smtp_session_ops, env, &set->core);
	server->set = *set;
	server->set.core.hostname = server->core.hostname;
	server->set.trusted_networks = NULL;
	server->postmaster_default = set->postmaster == NULL;
	server->set.postmaster = set->postmaster != NULL ?
		xstrdup(set->postmaster) :
		xasprintf("postmaster@%s", server->core.hostname);
	if (set->trusted_networks != NULL) {
		struct str bad;
		int n = cidr_list_parse(str_c(set->trusted_networks),
					&server->trusted, &bad);

		/* The config checked the list. */
		if (n < 0)
			PANIC("trusted_networks: bad network %.*s", (int)bad.n,
			      bad.p);
		server->n_trusted = (size_t)n;
	}
	if (server->set.command_timeout_s == 0)
		server->set.command_timeout_s = SMTP_DEFAULT_TIMEOUT_S;
	if (server->set.data_timeout_s == 0)
		server->set.data_timeout_s = SMTP_DEFAULT_TIMEOUT_S;
	if (server->set.max_recipients == 0)
		server->set.max_recipients = SMTP_DEFAULT_MAX_RECIPIENTS;
	server->greet_cache = smtp_greet_cache_new(set->greet_pass_max,
						   set->greet_pass_ttl_s);
	server->ratelimit = smtp_ratelimit_new(&set->rate);
	server->set.rate.exempt = NULL;
	/* Our copies: the settings' strings are the caller's. */
	server->set.inbound.authserv_id = set->inbound.authserv_id != NULL ?
		xstrdup(set->inbound.authserv_id) : NULL;
	server->set.inbound.dnsbl = NULL;
	if (set->inbound.dnsbl != NULL) {
		struct str bad;
		int n = dnsbl_sites_parse(str_c(set->inbound.dnsbl),
					  &server->dnsbl, &bad);

		/* The daemon checked the list. */
		if (n < 0)
			PANIC("dnsbl: bad site %.*s", (int)bad.n, bad.p);
		server->n_dnsbl = (size_t)n;
	}
	memset(&server->set.inbound.dns, 0, sizeof(server->set.inbound.dns));
	server->set.inbound.milters = NULL;
	if (set->inbound.n_milters > 0) {
		struct milter_spec *ms = xcalloc(set->inbound.n_milters,
						 sizeof(*ms));

		for (size_t i = 0; i < set->inbound.n_milters; i++) {
			const struct milter_spec *m = &set->inbound.milters[i];

			ms[i] = *m;
			ms[i].name = xstrdup(m->name);
			ms[i].host = m->host != NULL ? xstrdup(m->host) : NULL;
			ms[i].unix_path = m->unix_path != NULL
						  ? xstrdup(m->unix_path) : NULL;
		}
		server->set.inbound.milters = ms;
	}
	server->dns = smtp_dns_new(set->inbound.no_dns ? NULL :
				   &set->inbound.dns);
	for (unsigned m = 0; m < SMTP_MODE_COUNT; m++) {
		for (unsigned t = 0; t < 2; t++) {
			server->services[m][t].server = &server->core;
			server->services[m][t].mode = m;
			server->services[m][t].starttls = t == 1;
		}
	}
	return server;
}

void smtp_server_free(struct smtp_server **serverp)
{
	struct smtp_server *server = *serverp;

	if (server == NULL)
		return;
	smtp_greet_cache_free(&server->greet_cache);
	smtp_ratelimit_free(&server->ratelimit);
	smtp_dns_free(&server->dns);
	free((char *)server->set.inbound.authserv_id);
	dnsbl_sites_free(&server->dnsbl, server->n_dnsbl);
	for (size_t i = 0; i < server->set.inbound.n_milters; i++) {
		free((char *)server->set.inbound.milters[i].name);
		free((char *)server->set.inbound.milters[i].host);
		free((char *)server->set.inbound.milters[i].unix_path);
	}
	free((void *)server->set.inbound.milters);
	free((char *)server->set.postmaster);
	free(server->trusted);
	session_server_deinit(&server->core);
	free(server);
	*serverp = NULL;
}

void smtp_server_set_dns(struct smtp_server *server,
			 const struct dns_settings *dns, bool no_dns)
{
	smtp_dns_reconfigure(server->dns, no_dns ? NULL : dns);
}

void *smtp_server_listener_ctx(struct smtp_server *server, enum smtp_mode mode,
			       bool starttls)
{
	ASSERT(mode < SMTP_MODE_COUNT);
	return &server->services[mode][starttls ? 1 : 0];
}

/* ---- the driver ---- */

/* The local socket: who connected. False (reply queued) when the kernel
 * does not say. */
static bool smtp_session_local_user(struct smtp_session *s)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	uid_t uid;
	pid_t pid;

	if (!conn_peer_cred(s->core.conn, &uid, &pid)) {
		log_error(session_sid(&s->core), "smtp local: no peer credentials");
		conn_write_str(s->core.conn, "421 4.3.0 Cannot identify the local user\r\n");
		return false;
	}
	s->local_uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL)
		s->local_user = smtp_received_clean_helo(str_c(pw.pw_name));
	else
		s->local_user = xasprintf("uid%lu", (unsigned long)uid);
	log_info(session_sid(&s->core), "smtp local user=%s uid=%lu pid=%ld",
		 s->local_user, (unsigned long)uid, (long)pid);
	return true;
}

static void smtp_open(struct session *core)
{
	struct smtp_session *s = (struct smtp_session *)core;
	enum smtp_mode mode = (enum smtp_mode)core->service->mode;

	s->server = (struct smtp_server *)core->server;
	s->state = SMTP_STATE_GREETING;
	smtp_session_set_timeout(s);
	if (mode == SMTP_MODE_LOCAL && !smtp_session_local_user(s)) {
		session_close(core);
		return;
	}
	if (mode == SMTP_MODE_MTA && s->server->n_trusted > 0 &&
	    cidr_list_match(s->server->trusted, s->server->n_trusted,
			    core->peer_ip)) {
		s->trusted = true;
		log_info(session_sid(core), "smtp client %s is in trusted_networks",
			 core->peer_ip);
	}
	if (!smtp_ratelimit_connect(s))
		return;
	/* The local socket's peer is known by uid, an LMTP peer is the MTA
	 * that delivers to us, a trusted client is our own: none of them
	 * waits in the pool of strangers. */
	if (mode == SMTP_MODE_LOCAL || mode == SMTP_MODE_LMTP || s->trusted)
		conn_set_authenticated(core->conn);
	/* The connect stage's lookups run while the greeting waits. */
	smtp_checks_open(s);
	smtp_greet_start(s);
}

static void smtp_input(struct session *core)
{
	struct smtp_session *s = (struct smtp_session *)core;
	struct conn *conn = core->conn;
	struct str line;
	unsigned flags;
	int ret;

	if (s->state == SMTP_STATE_GREETING) {
		smtp_greet_early_talker(s);
		return;
	}
	while (!conn_is_closing(conn) && !core->held) {
		if (s->state == SMTP_STATE_DATA) {
			if (!smtp_session_data(s))
				return;
			continue;
		}
		if (s->state == SMTP_STATE_BDAT) {
			if (!smtp_session_bdat(s))
				return;
			continue;
		}
		ret = conn_read_line(conn, SMTP_AUTH_LINE_MAX, &line, &flags);
		if (ret == 0)
			return;
		if (ret < 0 && session_in_sasl(core)) {
			session_sasl_too_long(core);
		} else if (ret < 0) {
			smtp_reply(s, 500, "5.5.2", "Line too long");
			session_bad(core);
		} else if (session_in_sasl(core)) {
			session_sasl_line(core, line);
		} else {
			smtp_commands_run(s, line);
		}
	}
}

static void smtp_shutdown(struct session *core)
{
	struct smtp_session *s = (struct smtp_session *)core;

	if (s->state == SMTP_STATE_DELIVERING) {
		s->close_after_delivery = true;
		return;
	}
	if (s->state != SMTP_STATE_GREETING)
		smtp_reply(s, 421, "4.3.2", "%s Service shutting down",
			   s->server->core.hostname);
	session_close(core);
}

static void smtp_bye(struct session *core, enum session_bye why UNUSED,
		     const char *text)
{
	struct smtp_session *s = (struct smtp_session *)core;

	/* 421 for both: a limit and a spent error budget are "try again
	 * later, or differently" (RFC 5321 3.8). */
	smtp_reply(s, 421, "4.7.0", "%s %s", s->server->core.hostname, text);
}

static void smtp_closed(struct session *core, const char *reason)
{
	struct smtp_session *s = (struct smtp_session *)core;

	/* A delivering transaction is logged when the store answers. */
	if (s->state != SMTP_STATE_DELIVERING && s->tx != NULL)
		smtp_session_log_tx(s, reason);
}

static void smtp_free(struct session *core)
{
	struct smtp_session *s = (struct smtp_session *)core;

	smtp_checks_close(s);
	smtp_tx_free(&s->tx);
	free(s->helo);
	free(s->local_user);
}

static const struct session_ops smtp_session_ops = {
	.proto = "smtp",
	.size = sizeof(struct smtp_session),
	.open = smtp_open,
	.input = smtp_input,
	.shutdown = smtp_shutdown,
	.bye = smtp_bye,
	.sasl_challenge = smtp_auth_challenge,
	.sasl_end = smtp_auth_end,
	.closed = smtp_closed,
	.free = smtp_free,
};
