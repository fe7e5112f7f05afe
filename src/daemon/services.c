/* services.c: the table from config protocol to front-end handler. A
 * protocol with no handler yet is logged and not opened, so a port that
 * cannot be served is never left accepting. */
#include "auth/auth_worker.h"
#include "base/cidr.h"
#include "base/log.h"
#include "daemon/services.h"
#include "delivery/dkim_keys.h"
#include "mail/dnsbl.h"
#include "mail/psl.h"
#include "net/net.h"
#include "proto/imap/imap_server.h"
#include "proto/pop3/pop3_server.h"
#include "proto/smtp/smtp_server.h"
#include "store/store_read_pool.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

/* Every front-end runs on the session core: the context says which. */
static const struct conn_handler *const handlers[CONFIG_PROTOCOL_COUNT] = {
	[CONFIG_PROTOCOL_SMTP] = &session_conn_handler,
	[CONFIG_PROTOCOL_SUBMISSION] = &session_conn_handler,
	[CONFIG_PROTOCOL_SUBMISSIONS] = &session_conn_handler,
	[CONFIG_PROTOCOL_LMTP] = &session_conn_handler,
	[CONFIG_PROTOCOL_IMAP] = &session_conn_handler,
	[CONFIG_PROTOCOL_IMAPS] = &session_conn_handler,
	[CONFIG_PROTOCOL_LOCAL] = &session_conn_handler,
	[CONFIG_PROTOCOL_POP3] = &session_conn_handler,
	[CONFIG_PROTOCOL_POP3S] = &session_conn_handler,
	[CONFIG_PROTOCOL_HTTP] = NULL,	/* served by daemon/http.c */
};

/* Front-end state shared by the listeners, from services_listen() to
 * services_free() (the I/O threads use it until they are joined). */
static struct auth_sasl_ctx *sasl_ctx;
static struct auth_guard *guard;
static struct auth_worker *auth_worker;
static struct store_read_pool *read_pool;
static struct smtp_server *smtp_server;
static struct imap_server *imap_server;
static struct pop3_server *pop3_server;
/* Read at start, as root (before privileges are dropped). */
static struct dkim_keys *dkim_keys;
/* Read once at the first start, shared read-only by every I/O thread. */
static struct psl *psl;
static struct smtp_local *smtp_local;

/* [smtp] local_trusted_users, or its default: root, [server] user and,
 * on a dev server, the user running posthornd (tests and `make run` send
 * as anyone). malloc'd. */
static char *local_trusted_users(const struct config *cfg)
{
	struct passwd *pw;

	if (cfg->smtp.local_trusted_users != NULL)
		return xstrdup(cfg->smtp.local_trusted_users);
	pw = cfg->server.dev ? getpwuid(geteuid()) : NULL;
	return xasprintf("root %s %s",
			 cfg->server.user != NULL ? cfg->server.user : "",
			 pw != NULL ? pw->pw_name : "");
}

static enum session_plaintext plaintext_rule(const struct config *cfg)
{
	switch (cfg->auth.allow_plaintext) {
	case CONFIG_PLAINTEXT_ALWAYS:
		return SESSION_PLAINTEXT_ALWAYS;
	case CONFIG_PLAINTEXT_LOOPBACK:
		return SESSION_PLAINTEXT_LOOPBACK;
	case CONFIG_PLAINTEXT_NEVER:
		break;
	}
	return SESSION_PLAINTEXT_NEVER;
}

/* The failed-login guard every protocol shares. */
static struct auth_guard *guard_new(const struct config *cfg)
{
	struct auth_guard_settings set = {
		.delay_ms = (unsigned)cfg->auth.fail_delay_ms,
		.max_delay_ms = (unsigned)cfg->auth.fail_delay_max_ms,
		.max_pending = cfg->auth.max_pending_per_ip,
	};
	struct cidr *exempt = NULL;
	struct auth_guard *g;
	struct str bad;
	int n = 0;

	if (cfg->auth.trusted_networks != NULL) {
		n = cidr_list_parse(str_c(cfg->auth.trusted_networks), &exempt,
				    &bad);
		/* The config checked the list. */
		if (n < 0)
			PANIC("[auth] trusted_networks: %.*s", (int)bad.n, bad.p);
	}
	set.exempt = exempt;
	set.n_exempt = (size_t)n;
	g = auth_guard_new(&set);
	free(exempt);
	return g;
}

static int services_init(struct daemon *d, char **error_r)
{
	const struct config *cfg = d->cfg;
	const char *error;
	struct session_server_settings core = {
		.hostname = cfg->server.hostname,
		.plaintext = plaintext_rule(cfg),
		.max_user_ip = cfg->server.max_user_connections_per_ip,
	};
	struct session_env env;
	struct smtp_settings smtp_set = {
		.core = core,
		.max_message_size = cfg->smtp.max_message_size,
		.max_line_length = (size_t)cfg->smtp.max_line_length,
		.max_recipients = cfg->smtp.max_recipients,
		.greet_delay_ms = (unsigned)cfg->smtp.greeting_delay_ms,
		.greet_pass_ttl_s = cfg->smtp.greeting_cache_ttl,
		.greet_pass_max = cfg->smtp.greeting_cache_size,
		.trusted_networks = cfg->smtp.trusted_networks,
		.command_timeout_s = (unsigned)((cfg->smtp.command_timeout_ms + 999) / 1000),
		.data_timeout_s = (unsigned)((cfg->smtp.data_timeout_ms + 999) / 1000),
		.received_auth = cfg->smtp.received_auth,
		/* RFC 5321 4.5.1: someone must read it */
		.postmaster = cfg->smtp.postmaster != NULL ? cfg->smtp.postmaster :
			      cfg->server.admin,
		.vrfy_authenticated = cfg->smtp.vrfy_expn == CONFIG_VRFY_AUTHENTICATED,
		.sender_any = cfg->smtp.sender_check == CONFIG_SENDER_ANY,
		.rate = {
			.connections = cfg->smtp.connections_per_minute,
			.messages = cfg->smtp.messages_per_minute,
			.recipients = cfg->smtp.recipients_per_minute,
			.user_messages = cfg->smtp.user_messages_per_minute,
			.user_recipients = cfg->smtp.user_recipients_per_minute,
			.max_refused_recipients =
				cfg->smtp.max_refused_recipients,
			.ipv6_prefix = cfg->smtp.rate_limit_ipv6_prefix,
			.table_size = cfg->smtp.rate_limit_table_size,
			.exempt = cfg->smtp.rate_limit_exempt,
		},
		.junk = cfg->smtp.junk,
		.junk_score = cfg->smtp.junk_score_milli,
		.inbound = {
			.checks = cfg->inbound.checks,
			.check_timeout_ms = (unsigned)cfg->inbound.check_timeout_ms,
			.authserv_id = cfg->inbound.authserv_id,
			.spf = cfg->inbound.spf,
			.spf_helo = cfg->inbound.spf_helo,
			.spf_reject_fail = cfg->inbound.spf_reject_fail,
			.dnsbl = cfg->inbound.dnsbl,
			.dnsbl_threshold = (int)cfg->inbound.dnsbl_threshold,
			.dkim = cfg->inbound.dkim,
			.dkim_max_signatures =
				cfg->inbound.dkim_verify_max_signatures,
			.arc = cfg->inbound.arc,
			.dns = { .upstream = cfg->dns.upstream },
			/* as the queue runner: the dev config has no DNS
			 * unless [dns] upstream names one */
			.no_dns = cfg->server.dev && cfg->dns.upstream == NULL,
			.dmarc = cfg->inbound.dmarc,
			.dmarc_reject = cfg->inbound.dmarc_reject,
			.dmarc_quarantine = cfg->inbound.dmarc_quarantine,
		},
	};
	struct pop3_settings pop3_set = { .core = core, .apop = cfg->pop3.apop };
	struct milter_spec milters[16];
	size_t n_milters = MIN(cfg->milter_count, ARRAY_SIZE(milters));

	for (size_t i = 0; i < n_milters; i++) {
		const struct config_milter *m = &cfg->milters[i];

		milters[i] = (struct milter_spec){
			.name = m->name, .host = m->host, .port = m->port,
			.unix_path = m->unix_path,
			.timeout_ms = (unsigned)m->timeout_ms,
			.connect_timeout_ms = (unsigned)m->connect_timeout_ms,
			.on_error = m->on_error == CONFIG_MILTER_ACCEPT
					    ? MILTER_ON_ERROR_ACCEPT
				    : m->on_error == CONFIG_MILTER_REJECT
					    ? MILTER_ON_ERROR_REJECT
					    : MILTER_ON_ERROR_TEMPFAIL,
		};
	}
	smtp_set.inbound.milters = milters;
	smtp_set.inbound.n_milters = n_milters;

	smtp_set.core.max_bad_commands = cfg->smtp.max_bad_commands;
	if (cfg->inbound.dnsbl != NULL) {
		struct dnsbl_site *sites;
		struct str bad;
		int n = dnsbl_sites_parse(str_c(cfg->inbound.dnsbl), &sites, &bad);

		if (n < 0) {
			*error_r = xasprintf("[inbound] dnsbl: not a DNS list "
					     "site: %.*s", (int)bad.n, bad.p);
			return -1;
		}
		dnsbl_sites_free(&sites, (size_t)n);
	}
	if (sasl_ctx == NULL) {
		sasl_ctx = auth_sasl_ctx_new(&error);
		if (sasl_ctx == NULL) {
			*error_r = xasprintf("SASL: %s", error);
			return -1;
		}
	}
	if (guard == NULL)
		guard = guard_new(cfg);
	if (auth_worker == NULL) {
		struct auth_worker_settings aset = {
			.threads = cfg->auth.workers,
			.cache_ttl_ms = (unsigned)cfg->auth.cache_ttl_ms,
			.cache_size = cfg->auth.cache_size,
		};

		auth_worker = auth_worker_new(&aset);
	}
	if (read_pool == NULL && cfg->store.read_workers > 0)
		read_pool = store_read_pool_new(&d->store,
						cfg->store.read_workers);
	env = (struct session_env){
		.storep = &d->store,
		.sasl = sasl_ctx,
		.guard = guard,
		.auth = auth_worker,
		.reads = read_pool,
	};
	if (dkim_keys == NULL)
		dkim_keys = dkim_keys_load(cfg->dkim.key_dir, cfg->dkim.selector);
	smtp_set.dkim = dkim_keys;
	if (psl == NULL && cfg->inbound.checks && cfg->inbound.dmarc) {
		psl = psl_load(cfg->inbound.psl_file, &error);
		if (psl == NULL)
			/* mail still flows; DMARC does not run */
			log_error(NULL, "dmarc: %s: %s (%s): DMARC is off",
				  cfg->inbound.psl_file, error,
				  strerror(errno));
	}
	smtp_set.inbound.psl = psl;
	if (smtp_local == NULL) {
		char *trusted = local_trusted_users(cfg);

		smtp_local = smtp_local_new(cfg->server.origin, cfg->server.admin,
					    trusted);
		free(trusted);
		if (cfg->server.admin == NULL)
			log_warn(NULL, "no [server] admin: mail for root, "
				 "postmaster, abuse and mailer-daemon@%s is "
				 "refused", cfg->server.origin);
	}
	smtp_set.local = smtp_local;
	if (smtp_server == NULL)
		smtp_server = smtp_server_new(&smtp_set, &env);
	if (imap_server == NULL) {
		struct imap_settings imap_set = {
			.core = core,
			.max_command_size = (size_t)cfg->imap.max_command_size,
			.max_append_size = cfg->imap.max_append_size != 0 ?
					   cfg->imap.max_append_size :
					   cfg->smtp.max_message_size,
			.login_timeout_s = (unsigned)(cfg->imap.login_timeout_ms / 1000),
			.idle_timeout_s = (unsigned)(cfg->imap.idle_timeout_ms / 1000),
			.learn_spam_command = cfg->imap.learn_spam_command,
			.learn_ham_command = cfg->imap.learn_ham_command,
			.learn_jobs = cfg->imap.learn_max_jobs,
			.learn_timeout_ms = (unsigned)cfg->imap.learn_timeout_ms,
		};

		imap_set.core.max_bad_commands = cfg->imap.max_bad_commands;
		imap_server = imap_server_new(&imap_set, &env);
	}
	if (pop3_server == NULL)
		pop3_server = pop3_server_new(&pop3_set, &env);
	return 0;
}

void services_dns_reload(const struct config *cfg)
{
	struct dns_settings dns = { .upstream = cfg->dns.upstream };

	if (smtp_server != NULL)
		smtp_server_set_dns(smtp_server, &dns,
				    cfg->server.dev && cfg->dns.upstream == NULL);
}

const struct dkim_keys *services_dkim_keys(void)
{
	return dkim_keys;
}

/* The owner, group and mode of a listener's unix socket: as configured;
 * else, for a socket other than the local one (open to every user), the
 * group the daemon runs as when it drops privileges, so that an MTA
 * delivering by LMTP can be given access by joining that group. */
static int socket_owner(const struct daemon *d, const struct config_listener *l,
			struct net_listen_spec *spec, char **error_r)
{
	const struct config *cfg = d->cfg;
	const char *group = l->group;

	spec->unix_mode = l->mode;
	spec->unix_uid = (uid_t)-1;
	spec->unix_gid = (gid_t)-1;
	if (l->owner != NULL) {
		struct passwd *pw = getpwnam(l->owner);

		if (pw == NULL) {
			*error_r = xasprintf("listener %s: unknown owner '%s'",
					     l->name, l->owner);
			return -1;
		}
		spec->unix_uid = pw->pw_uid;
		spec->unix_chown = true;
	}
	if (group == NULL && l->protocol != CONFIG_PROTOCOL_LOCAL &&
	    geteuid() == 0 && cfg->server.user != NULL) {
		struct passwd *pw = getpwnam(cfg->server.user);

		group = cfg->server.group;
		if (group == NULL && pw != NULL) {
			spec->unix_gid = pw->pw_gid;
			spec->unix_chown = true;
		}
	}
	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			*error_r = xasprintf("listener %s: unknown group '%s'",
					     l->name, group);
			return -1;
		}
		spec->unix_gid = gr->gr_gid;
		spec->unix_chown = true;
	}
	return 0;
}

void services_drain(struct daemon *d UNUSED)
{
	if (read_pool != NULL)
		store_read_pool_drain(read_pool);
	if (auth_worker != NULL)
		auth_worker_drain(auth_worker);
}

void services_free(struct daemon *d UNUSED)
{
	store_read_pool_free(&read_pool);
	auth_worker_free(&auth_worker);
	smtp_server_free(&smtp_server);
	smtp_local_free(&smtp_local);
	dkim_keys_free(&dkim_keys);
	psl_free(&psl);
	imap_server_free(&imap_server);
	pop3_server_free(&pop3_server);
	auth_guard_free(&guard);
	auth_sasl_ctx_free(&sasl_ctx);
}

/* The handler_ctx of a listener: the front-end's own where it has one. */
static void *listener_ctx(struct daemon *d, const struct config_listener *l)
{
	switch (l->protocol) {
	case CONFIG_PROTOCOL_SMTP:
		return smtp_server_listener_ctx(smtp_server, SMTP_MODE_MTA,
						l->tls == CONFIG_TLS_STARTTLS &&
						d->tls != NULL);
	case CONFIG_PROTOCOL_SUBMISSION:
	case CONFIG_PROTOCOL_SUBMISSIONS:
		return smtp_server_listener_ctx(smtp_server, SMTP_MODE_SUBMISSION,
						l->tls == CONFIG_TLS_STARTTLS &&
						d->tls != NULL);
	case CONFIG_PROTOCOL_LMTP:
		return smtp_server_listener_ctx(smtp_server, SMTP_MODE_LMTP,
						l->tls == CONFIG_TLS_STARTTLS &&
						d->tls != NULL);
	case CONFIG_PROTOCOL_LOCAL:
		return smtp_server_listener_ctx(smtp_server, SMTP_MODE_LOCAL,
						false);
	case CONFIG_PROTOCOL_POP3:
	case CONFIG_PROTOCOL_POP3S:
		return pop3_server_listener_ctx(pop3_server,
						l->tls == CONFIG_TLS_STARTTLS &&
						d->tls != NULL);
	case CONFIG_PROTOCOL_IMAP:
	case CONFIG_PROTOCOL_IMAPS:
		return imap_server_listener_ctx(imap_server,
						l->tls == CONFIG_TLS_STARTTLS &&
						d->tls != NULL);
	default:
		return d;
	}
}

/* The protocol's "busy, try again later" for a client a limit refuses
 * before any session exists (malloc'd). */
static char *busy_line(const struct daemon *d, enum config_protocol p)
{
	static const char text[] = "Too many connections, try again later";

	switch (p) {
	case CONFIG_PROTOCOL_IMAP:
	case CONFIG_PROTOCOL_IMAPS:
		return xasprintf("* BYE [UNAVAILABLE] %s\r\n", text);
	case CONFIG_PROTOCOL_POP3:
	case CONFIG_PROTOCOL_POP3S:
		return xasprintf("-ERR [SYS/TEMP] %s\r\n", text);
	default:
		return xasprintf("421 4.7.0 %s %s\r\n", d->cfg->server.hostname,
				 text);
	}
}

static int listen_one(struct daemon *d, const struct config_listener *l,
		      const struct conn_handler *handler, const char *address,
		      char **error_r)
{
	char *busy = busy_line(d, l->protocol);
	struct net_listen_spec spec = {
		.name = l->name,
		.address = address,
		.port = l->port,
		.unix_path = l->path,
		.tls_mode = l->tls == CONFIG_TLS_IMPLICIT ? NET_TLS_IMPLICIT : NET_TLS_NONE,
		.tls = l->tls == CONFIG_TLS_NONE ? NULL : d->tls,
		.handler = handler,
		.handler_ctx = listener_ctx(d, l),
		.busy_line = busy,
		.idle_timeout = 300,
		/* An IMAP command line may be as long as max_command_size. */
		.max_input = l->protocol == CONFIG_PROTOCOL_IMAP ||
			     l->protocol == CONFIG_PROTOCOL_IMAPS ?
			     (size_t)d->cfg->imap.max_command_size + 4096 : 0,
	};
	struct net_listener *nl;

	if (l->path != NULL && socket_owner(d, l, &spec, error_r) < 0) {
		free(busy);
		return -1;
	}
	nl = net_listen(d->net, &spec, error_r);
	free(busy);
	if (nl == NULL)
		return -1;
	d->listeners[d->n_listeners].name = l->name;
	d->listeners[d->n_listeners++].listener = nl;
	log_info(NULL, "listener %s: %s on %s:%u (tls %s)", l->name,
		 config_protocol_name(l->protocol), l->path != NULL ? l->path : address,
		 l->port, config_tls_mode_name(l->tls));
	return 0;
}

bool services_available(enum config_protocol protocol)
{
	return protocol == CONFIG_PROTOCOL_HTTP || handlers[protocol] != NULL;
}

int services_listen(struct daemon *d, char **error_r)
{
	unsigned sockets = 0;

	for (unsigned i = 0; i < d->cfg->listener_count; i++)
		sockets += d->cfg->listeners[i].address_count + 1;
	if (services_init(d, error_r) < 0)
		return -1;
	d->listeners = xcalloc(sockets, sizeof(*d->listeners));
	for (unsigned i = 0; i < d->cfg->listener_count; i++) {
		const struct config_listener *l = &d->cfg->listeners[i];
		const struct conn_handler *handler = handlers[l->protocol];

		if (l->protocol == CONFIG_PROTOCOL_HTTP)
			continue;
		if (handler == NULL) {
			log_info(NULL, "listener %s: protocol %s is not available yet, not opened",
				 l->name, config_protocol_name(l->protocol));
			continue;
		}
		if (l->path != NULL && listen_one(d, l, handler, NULL, error_r) < 0)
			return -1;
		for (unsigned a = 0; a < l->address_count; a++) {
			if (listen_one(d, l, handler, l->addresses[a], error_r) < 0)
				return -1;
		}
	}
	return 0;
}
