/* conn_connect.c: outbound TCP connections: parse the numeric address,
 * make a non-blocking socket and a private listener record (name, handler,
 * limits) so an outbound conn runs the same code as an accepted one. */
#include "net/net_int.h"

#include <errno.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

void net_listener_free_outbound(struct net_listener **lp)
{
	struct net_listener *l = *lp;

	if (l == NULL)
		return;
	*lp = NULL;
	free(l->name);
	free(l);
}

/* "192.0.2.1", "2001:db8::1" or "[2001:db8::1]" into ss. */
static bool parse_address(const char *address, unsigned port,
			  struct sockaddr_storage *ss, socklen_t *len_r)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(address);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, address + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		if (n >= sizeof(buf))
			return false;
		memcpy(buf, address, n + 1);
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len_r = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*sin6);
		return true;
	}
	return false;
}

struct conn *conn_connect(struct net_thread *thread,
			  const struct conn_connect_spec *spec,
			  const char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (spec->port == 0 || spec->port > 65535 ||
	    !parse_address(spec->address, spec->port, &ss, &len)) {
		*error_r = "not a numeric address and port";
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		*error_r = "socket() failed";
		return NULL;
	}
	/* commands are small and pipelined by the client itself */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct net_listener *l = xcalloc(1, sizeof(*l));

	l->server = thread->server;
	l->name = xstrdup(spec->name != NULL ? spec->name : "out");
	l->port = spec->port;
	l->tls_mode = NET_TLS_NONE;
	l->handler = spec->handler;
	l->handler_ctx = spec->handler_ctx;
	l->max_input = spec->max_input != 0 ? spec->max_input : 64 * 1024;
	l->handshake_timeout = 30;
	l->idle_timeout = spec->idle_timeout;
	return conn_new_outbound(thread, l, fd, (struct sockaddr *)&ss, len,
				 spec->connect_timeout != 0
					 ? spec->connect_timeout : 30);
}
