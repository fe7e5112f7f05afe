/* services.c: the table from config protocol to front-end handler. A
 * protocol with no handler yet is logged and not opened, so a port that
 * cannot be served is never left accepting. */
#include "base/log.h"
#include "daemon/services.h"
#include "net/net.h"

/* Filled in as the front-ends arrive (SMTP, LMTP, IMAP, POP3). */
static const struct conn_handler *const handlers[CONFIG_PROTOCOL_COUNT] = {
	[CONFIG_PROTOCOL_HTTP] = NULL,	/* served by daemon/http.c */
};

static int listen_one(struct daemon *d, const struct config_listener *l,
		      const struct conn_handler *handler, const char *address,
		      char **error_r)
{
	struct net_listen_spec spec = {
		.name = l->name,
		.address = address,
		.port = l->port,
		.unix_path = l->path,
		.tls_mode = l->tls == CONFIG_TLS_IMPLICIT ? NET_TLS_IMPLICIT : NET_TLS_NONE,
		.tls = l->tls == CONFIG_TLS_NONE ? NULL : d->tls,
		.handler = handler,
		.handler_ctx = d,
		.idle_timeout = 300,
	};
	struct net_listener *nl = net_listen(d->net, &spec, error_r);

	if (nl == NULL)
		return -1;
	d->listeners[d->n_listeners].name = l->name;
	d->listeners[d->n_listeners++].listener = nl;
	log_info(NULL, "listener %s: %s on %s:%u (tls %s)", l->name,
		 config_protocol_name(l->protocol), l->path != NULL ? l->path : address,
		 l->port, config_tls_mode_name(l->tls));
	return 0;
}

int services_listen(struct daemon *d, char **error_r)
{
	unsigned sockets = 0;

	for (unsigned i = 0; i < d->cfg->listener_count; i++)
		sockets += d->cfg->listeners[i].address_count + 1;
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
