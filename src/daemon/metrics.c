/* metrics.c: the counters posthornd exposes on GET /metrics. */
#include "base/strbuf.h"
#include "daemon/daemon.h"
#include "net/net.h"

#include <time.h>

void daemon_metrics(void *ctx, struct strbuf *out)
{
	struct daemon *d = ctx;
	struct store_stats st;

	store_get_stats(d->store, &st);
	strbuf_printf(out,
		      "# HELP posthorn_uptime_seconds Seconds since posthornd started.\n"
		      "# TYPE posthorn_uptime_seconds gauge\n"
		      "posthorn_uptime_seconds %lld\n"
		      "# HELP posthorn_store_requests_total Write requests handled by the store writer.\n"
		      "# TYPE posthorn_store_requests_total counter\n"
		      "posthorn_store_requests_total %llu\n"
		      "# HELP posthorn_store_commits_total Transactions committed (one fsync each).\n"
		      "# TYPE posthorn_store_commits_total counter\n"
		      "posthorn_store_commits_total %llu\n"
		      "# HELP posthorn_store_failed_total Write requests that failed.\n"
		      "# TYPE posthorn_store_failed_total counter\n"
		      "posthorn_store_failed_total %llu\n",
		      (long long)(time(NULL) - d->started),
		      (unsigned long long)st.requests, (unsigned long long)st.commits,
		      (unsigned long long)st.failed);
	if (d->net != NULL)
		strbuf_printf(out,
			      "# HELP posthorn_connections Connections open now.\n"
			      "# TYPE posthorn_connections gauge\n"
			      "posthorn_connections %u\n",
			      net_server_conn_count(d->net));
	daemon_outbound_metrics(d, out);
	strbuf_append_c(out,
			"# HELP posthorn_listener_connections_total Connections accepted per listener.\n"
			"# TYPE posthorn_listener_connections_total counter\n"
			"# HELP posthorn_listener_refused_total Connections refused by a limit.\n"
			"# TYPE posthorn_listener_refused_total counter\n");
	for (unsigned i = 0; i < d->n_listeners; i++) {
		struct net_listener_stats *ls = net_listener_stats(d->listeners[i].listener);

		strbuf_printf(out,
			      "posthorn_listener_connections_total{listener=\"%s\"} %lu\n"
			      "posthorn_listener_refused_total{listener=\"%s\"} %lu\n",
			      d->listeners[i].name, atomic_load(&ls->total),
			      d->listeners[i].name, atomic_load(&ls->refused));
	}
}
