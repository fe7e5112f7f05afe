/* http.c: evhttp serving /metrics and /health; anything else is 404. */
#include "base/base.h"
#include "daemon/http.h"
#include "net/net.h"

#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct http_endpoint {
	struct evhttp *http;
	http_metrics_fn *metrics;
	void *ctx;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *content_type, const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  content_type);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_endpoint *h = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		reply_text(req, 405, "Method Not Allowed", "text/plain", "", 0);
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0) {
		struct strbuf body = STRBUF_INIT;

		h->metrics(h->ctx, &body);
		reply_text(req, 200, "OK", "text/plain; version=0.0.4",
			   strbuf_cstr(&body), body.n);
		strbuf_free(&body);
	} else if (path != NULL && strcmp(path, "/health") == 0) {
		reply_text(req, 200, "OK", "text/plain", "ok\n", 3);
	} else {
		reply_text(req, 404, "Not Found", "text/plain", "not found\n", 10);
	}
}

struct http_endpoint *http_endpoint_new(struct event_base *base,
					http_metrics_fn *metrics, void *ctx)
{
	struct http_endpoint *h = xcalloc(1, sizeof(*h));

	h->http = evhttp_new(base);
	if (h->http == NULL)
		PANIC("evhttp_new failed");
	h->metrics = metrics;
	h->ctx = ctx;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_gencb(h->http, on_request, h);
	return h;
}

int http_endpoint_listen(struct http_endpoint *h, const char *address,
			 unsigned port, char **error_r)
{
	/* Bound by net/ like every other listener, so a failure names the
	 * errno (evhttp's own bind does not tell why). */
	int fd = net_bind_tcp(address, &port, false, error_r);

	if (fd < 0)
		return -1;
	if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
		close(fd);
		*error_r = xasprintf("cannot serve HTTP on %s port %u", address,
				     port);
		return -1;
	}
	return 0;
}

void http_endpoint_free(struct http_endpoint **hp)
{
	struct http_endpoint *h = *hp;

	if (h == NULL)
		return;
	evhttp_free(h->http);
	free(h);
	*hp = NULL;
}
