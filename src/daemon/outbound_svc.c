/* outbound_svc.c: the queue runner in posthornd: settings from the config
 * ([delivery], [relay], [routes], [queue], [dns]; again on SIGHUP),
 * started on I/O thread 0 after the store opens, stopped before the I/O
 * threads, freed before the store closes; its counters on /metrics. */
#include "base/log.h"
#include "daemon/daemon.h"
#include "daemon/services.h"
#include "delivery/outbound.h"
#include "net/net.h"

#include <errno.h>
#include <stdio.h>

static enum smtp_client_tls out_tls(enum config_outbound_tls t)
{
	switch (t) {
	case CONFIG_OUT_TLS_NONE:
		return SMTP_CLIENT_TLS_NONE;
	case CONFIG_OUT_TLS_MAY:
		return SMTP_CLIENT_TLS_MAY;
	case CONFIG_OUT_TLS_REQUIRED:
		return SMTP_CLIENT_TLS_REQUIRED;
	case CONFIG_OUT_TLS_VERIFY:
		return SMTP_CLIENT_TLS_VERIFY;
	}
	return SMTP_CLIENT_TLS_MAY;
}

/* The first line of the relay password file (malloc'd), or NULL. */
static char *read_password(const char *path, char **error_r)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	size_t n;

	if (f == NULL) {
		*error_r = xasprintf("cannot read %s: %s", path,
				     strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	char *pw = xstrdup(buf);

	secure_zero(buf, sizeof(buf));
	return pw;
}

/* The runner's settings from cfg; the routes and the password are
 * malloc'd into *routes_r and *password_r for the caller to free (the
 * runner copies what it keeps). */
static int outbound_settings(struct daemon *d, const struct config *cfg,
			     struct outbound_settings *set,
			     struct outbound_route **routes_r, char **password_r,
			     char **error_r)
{
	struct outbound_route *routes = xcalloc(cfg->route_count + 1,
						sizeof(*routes));
	char *password = NULL;

	for (unsigned i = 0; i < cfg->route_count; i++) {
		routes[i].domain = cfg->routes[i].domain;
		routes[i].host = cfg->routes[i].host;
		routes[i].port = cfg->routes[i].port;
		routes[i].tls = out_tls(cfg->routes[i].tls);
	}
	if (cfg->relay.password_file != NULL) {
		password = read_password(cfg->relay.password_file, error_r);
		if (password == NULL) {
			free(routes);
			return -1;
		}
	}
	*set = (struct outbound_settings){
		.hostname = cfg->server.hostname,
		.smtp_port = cfg->delivery.smtp_port,
		.connect_timeout =
			(unsigned)((cfg->delivery.connect_timeout_ms + 999) / 1000),
		.timeout_scale = cfg->delivery.timeout_percent / 100.0,
		.tls = out_tls(cfg->delivery.tls),
		.ca_file = cfg->delivery.ca_file,
		.relay = {
			.host = cfg->relay.host,
			.port = cfg->relay.port,
			.user = cfg->relay.user,
			.password = password,
			.tls = out_tls(cfg->relay.tls),
		},
		.routes = routes,
		.n_routes = cfg->route_count,
		/* a dev server on a laptop sends nothing to the Internet
		 * unless told where to */
		.routes_only = cfg->server.dev && cfg->dns.upstream == NULL,
		.policy = {
			.retry_min = cfg->queue.retry_min,
			.retry_max = cfg->queue.retry_max,
			.max_age = cfg->queue.max_age,
			.delay_notice = cfg->queue.delay_notice,
		},
		.max_connections = cfg->queue.max_connections,
		.max_per_destination = cfg->queue.max_per_destination,
		.claim_lease = cfg->queue.claim_lease,
		.dkim = services_dkim_keys(),
		.dns = {
			.upstream = cfg->dns.upstream,
			.trust_anchor_file = cfg->dns.trust_anchor,
		},
		/* reports to local senders such as root@origin */
		.names = {
			.origin = d->cfg->server.origin,
			.admin = d->cfg->server.admin,
		},
	};
	*routes_r = routes;
	*password_r = password;
	return 0;
}

int daemon_outbound_start(struct daemon *d, char **error_r)
{
	struct outbound_settings set;
	struct outbound_route *routes;
	char *password;

	if (outbound_settings(d, d->cfg, &set, &routes, &password, error_r) < 0)
		return -1;
	d->outbound = outbound_new(d->store, net_server_thread(d->net, 0), &set,
				   error_r);
	free(routes);
	secret_free(&password);
	if (d->outbound == NULL)
		return -1;
	outbound_start(d->outbound);
	return 0;
}

int daemon_outbound_reload(struct daemon *d, const struct config *cfg,
			   char **error_r)
{
	struct outbound_settings set;
	struct outbound_route *routes;
	char *password;

	if (d->outbound == NULL)
		return 0;
	if (outbound_settings(d, cfg, &set, &routes, &password, error_r) < 0)
		return -1;
	outbound_reconfigure(d->outbound, &set);
	free(routes);
	secret_free(&password);
	return 0;
}

void daemon_outbound_stop(struct daemon *d)
{
	if (d->outbound != NULL)
		outbound_stop(d->outbound, 5000);
}

void daemon_outbound_free(struct daemon *d)
{
	outbound_free(&d->outbound);
}

void daemon_outbound_metrics(struct daemon *d, struct strbuf *out)
{
	struct outbound_stats *st;

	if (d->outbound == NULL)
		return;
	st = outbound_stats(d->outbound);
	strbuf_printf(out,
		"# HELP posthorn_outbound_sessions_total Outbound SMTP sessions started.\n"
		"# TYPE posthorn_outbound_sessions_total counter\n"
		"posthorn_outbound_sessions_total %lu\n"
		"# HELP posthorn_outbound_sessions Outbound SMTP sessions open now.\n"
		"# TYPE posthorn_outbound_sessions gauge\n"
		"posthorn_outbound_sessions %u\n"
		"# HELP posthorn_outbound_connect_failures_total Sessions that failed before the first transaction.\n"
		"# TYPE posthorn_outbound_connect_failures_total counter\n"
		"posthorn_outbound_connect_failures_total %lu\n"
		"# HELP posthorn_outbound_recipients_total Outbound recipients by outcome.\n"
		"# TYPE posthorn_outbound_recipients_total counter\n"
		"posthorn_outbound_recipients_total{result=\"sent\"} %lu\n"
		"posthorn_outbound_recipients_total{result=\"deferred\"} %lu\n"
		"posthorn_outbound_recipients_total{result=\"failed\"} %lu\n"
		"# HELP posthorn_outbound_dsn_total Delivery status reports generated.\n"
		"# TYPE posthorn_outbound_dsn_total counter\n"
		"posthorn_outbound_dsn_total %lu\n"
		"# HELP posthorn_outbound_backoff_deferrals_total Recipients deferred without a connection: every address of their destination was marked failing.\n"
		"# TYPE posthorn_outbound_backoff_deferrals_total counter\n"
		"posthorn_outbound_backoff_deferrals_total %lu\n"
		"# HELP posthorn_outbound_failing_peers Outbound peers (address and port) marked failing now.\n"
		"# TYPE posthorn_outbound_failing_peers gauge\n"
		"posthorn_outbound_failing_peers %u\n",
		atomic_load(&st->sessions), atomic_load(&st->active_sessions),
		atomic_load(&st->connect_failures), atomic_load(&st->rcpt_sent),
		atomic_load(&st->rcpt_deferred), atomic_load(&st->rcpt_failed),
		atomic_load(&st->dsn_sent), atomic_load(&st->backoff_deferrals),
		atomic_load(&st->failing_peers));
}
