/* daemon.h: the state of posthornd shared by its files. */
#ifndef POSTHORN_DAEMON_DAEMON_H
#define POSTHORN_DAEMON_DAEMON_H

#include "base/strbuf.h"
#include "config/config.h"
#include "store/store.h"

struct event_base;
struct event;
struct http_endpoint;
struct net_listener;
struct net_server;
struct net_tls;
struct outbound;

/* In the data dir: the pid of the posthornd that owns it, locked. */
#define DAEMON_LOCK_FILE "posthornd.lock"

struct daemon {
	/* from the command line */
	const char *config_path;
	const char *data_dir;	/* --dev */
	bool dev;
	int port_offset;

	struct config *cfg;
	int lock_fd;			/* the data dir lock, or -1 */
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
void daemon_outbound_stop(struct daemon *d);
void daemon_outbound_free(struct daemon *d);
void daemon_outbound_metrics(struct daemon *d, struct strbuf *out);

/* Build the metrics page (Prometheus text format). */
void daemon_metrics(void *ctx, struct strbuf *out);

#endif
