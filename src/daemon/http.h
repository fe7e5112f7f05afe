/* http.h: the HTTP endpoint for monitoring: GET /metrics (Prometheus text
 * format) and GET /health. Runs on the control thread's event loop. */
#ifndef POSTHORN_DAEMON_HTTP_H
#define POSTHORN_DAEMON_HTTP_H

#include "base/strbuf.h"

struct event_base;
struct http_endpoint;

/* Appends the metric lines at request time. */
typedef void http_metrics_fn(void *ctx, struct strbuf *out);

struct http_endpoint *http_endpoint_new(struct event_base *base,
					http_metrics_fn *metrics, void *ctx);
/* Listen on address:port; -1 with a malloc'd *error_r on failure. */
int http_endpoint_listen(struct http_endpoint *h, const char *address,
			 unsigned port, char **error_r);
void http_endpoint_free(struct http_endpoint **h);

#endif
