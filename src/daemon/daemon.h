/* daemon.h: the state of posthornd shared by its files. */
#ifndef POSTHORN_DAEMON_DAEMON_H
#define POSTHORN_DAEMON_DAEMON_H

#include "base/strbuf.h"
#include "config/config.h"
#include "store/store.h"

struct event_base;
struct event;
struct http_endpoint;
struct keyhelper;
struct net_listener;
struct net_server;
struct net_tls;
struct outbound;

struct daemon {
	/* from the command line */
	const char *config_path;
	const char *data_dir;	/* --dev */
	const char *dev_conninfo;	/* --dev --store-conninfo */
	bool dev;
	int port_offset;

	/* The config the daemon started with: the front-ends, listeners
	 * and metrics point into it for the life of the process. */
	struct config *cfg;
	/* The config read by the last SIGHUP whose settings are in use
	 * (reload.c), or NULL. */
	struct config *live;
	int lock_fd;			/* the data dir lock, or -1 */
	struct keyhelper *keyhelper;	/* reads the TLS files as root */
	struct store *store;
	struct event_base *base;	/* the control thread's loop */
	struct event *signals[4];
	struct http_endpoint *http;
	struct net_tls *tls;		/* NULL without [tls] cert */
	struct net_server *net;
	struct outbound *outbound;	/* the queue runner, or NULL */
	struct daemon_listener {
		const char *name;
		struct net_listener *listener;
	} *listeners;			/* one per bound socket */
	unsigned n_listeners;
	time_t started;
	bool stopping;
};

/* outbound_svc.c: the queue runner (see delivery/outbound.h). */
int daemon_outbound_start(struct daemon *d, char **error_r);
/* SIGHUP: hand the runner the outbound settings of cfg (the routes, the
 * relay, delivery policy, queue and DNS; see outbound_reconfigure()).
 * -1 with a malloc'd *error_r when they cannot be read (the relay
 * password file): the runner keeps its settings. */
int daemon_outbound_reload(struct daemon *d, const struct config *cfg,
			   char **error_r);
void daemon_outbound_stop(struct daemon *d);
void daemon_outbound_free(struct daemon *d);
void daemon_outbound_metrics(struct daemon *d, struct strbuf *out);

/* reload.c: SIGHUP. */
void daemon_reload(struct daemon *d);
/* The config whose reloadable settings are in use. */
static inline const struct config *daemon_live_config(const struct daemon *d)
{
	return d->live != NULL ? d->live : d->cfg;
}

/* Build the metrics page (Prometheus text format). */
void daemon_metrics(void *ctx, struct strbuf *out);

#endif
