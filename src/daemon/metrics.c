/* metrics.c: the counters posthornd exposes on GET /metrics. */
#include "base/strbuf.h"
#include "daemon/daemon.h"

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
}
