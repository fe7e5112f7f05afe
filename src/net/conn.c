/* conn.c: the connection object: a bufferevent (socket or OpenSSL) with
 * zero-copy line and byte reads, bounded input, deferred close, STARTTLS
 * upgrade by replacing the bufferevent on the same socket, COMPRESS by
 * stacking a DEFLATE filter on it. */
#include "net/net_int.h"
#include "base/log.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

struct conn {
	struct conn *prev, *next;
	struct net_thread *thread;
	struct net_listener *listener;
	struct bufferevent *bev; /* NULL once torn down */
	/* under COMPRESS: the socket or TLS bufferevent below bev, the
	 * DEFLATE filter; timeouts go there, where the bytes move */
	struct bufferevent *wire;
	int fd;
	SSL *ssl;
	struct event *kick; /* deferred on_input and final close */
	struct event *eof_timer; /* bound after a half-close */
	struct sockaddr_storage addr;
	char sid[LOG_SID_SIZE];
	char peer_ip[INET6_ADDRSTRLEN];
	unsigned peer_port;
	unsigned local_port;
	bool loopback;
	bool tcp;         /* an AF_INET/AF_INET6 socket (not a local one) */
	bool opened;      /* on_open was called */
	bool closing;     /* conn_close: flushing output */
	bool dead;        /* torn down, on_close pending */
	bool paused;
	bool handshaking;
	bool starttls_pending;
	bool discarding;  /* inside an overlong line */
	bool kick_input;
	bool kick_drained; /* compressed: the wire's output went out */
	bool kick_corrupt; /* compressed: the input did not inflate */
	bool eof;         /* the client half-closed; finishing up */
	bool outbound;    /* from conn_connect(): owns its listener */
	bool refusal;     /* only says the listener's busy line */
	bool unauth;      /* in the thread's unauthenticated list */
	bool authenticated;
	struct conn *unauth_prev, *unauth_next;
	bool connecting;  /* outbound, TCP connect in progress */
	unsigned depth;   /* nesting of handler callbacks */
	unsigned idle_timeout;
	unsigned connect_timeout;
	size_t pending_drain;
	uint64_t bytes_in;
	uint64_t bytes_out;
	struct timespec started;
	const char *close_reason;
	char *dyn_reason; /* outbound: a detailed close reason */
	void *data;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_kick_cb(evutil_socket_t fd, short what, void *arg);
static void conn_finish(struct conn *conn);
static void conn_close_reason(struct conn *conn, const char *reason);
static void conn_teardown_later(struct conn *conn, const char *reason);

static void conn_count_in_cb(struct evbuffer *buf UNUSED,
			     const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *conn = arg;

	conn->bytes_in += info->n_added;
}

static void conn_count_out_cb(struct evbuffer *buf,
			      const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *conn = arg;

	conn->bytes_out += info->n_deleted;
	/* Under COMPRESS the filter's write callback runs when its output
	 * moved down to the wire, not when the wire sent it: the drain that
	 * flow control and a flushing close wait for is the wire's. */
	if (conn->wire != NULL && info->n_deleted > 0 &&
	    evbuffer_get_length(buf) == 0) {
		conn->kick_drained = true;
		event_active(conn->kick, EV_READ, 0);
	}
}

static void conn_apply_timeouts(struct conn *conn)
{
	unsigned secs = conn->connecting    ? conn->connect_timeout
			: conn->handshaking ? conn->listener->handshake_timeout
					    : conn->idle_timeout;
	struct timeval tv = { (time_t)secs, 0 };

	struct bufferevent *bev = conn->wire != NULL ? conn->wire : conn->bev;

	if (conn->bev == NULL)
		return;
	if (secs == 0)
		bufferevent_set_timeouts(bev, NULL, NULL);
	else
		bufferevent_set_timeouts(bev, &tv, &tv);
}

/* Callbacks, input bound and timeouts of a new conn->bev; count_bytes
 * when its buffers are the ones on the wire. */
static void conn_setup_callbacks(struct conn *conn, bool count_bytes)
{
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb,
			  conn_event_cb, conn);
	bufferevent_setwatermark(conn->bev, EV_READ, 0,
				 conn->listener->max_input);
	if (count_bytes) {
		evbuffer_add_cb(bufferevent_get_input(conn->bev),
				conn_count_in_cb, conn);
		evbuffer_add_cb(bufferevent_get_output(conn->bev),
				conn_count_out_cb, conn);
	}
	conn_apply_timeouts(conn);
	bufferevent_enable(conn->bev, conn->paused ? EV_WRITE
						   : EV_READ | EV_WRITE);
}

/* Set up conn->bev on conn->fd, plain or TLS (accepting). */
static void conn_setup_bev(struct conn *conn, bool tls)
{
	struct event_base *base = conn->thread->base;

	if (tls) {
		/* outbound: conn_starttls_client() made the SSL */
		if (!conn->outbound)
			conn->ssl = net_tls_ssl_new(conn->listener->tls);
		conn->bev = bufferevent_openssl_socket_new(
			base, conn->fd, conn->ssl,
			conn->outbound ? BUFFEREVENT_SSL_CONNECTING
				       : BUFFEREVENT_SSL_ACCEPTING, 0);
		if (conn->bev == NULL)
			PANIC("bufferevent_openssl_socket_new failed");
		bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
		conn->handshaking = true;
	} else {
		conn->bev = bufferevent_socket_new(base, conn->fd, 0);
		if (conn->bev == NULL)
			PANIC("bufferevent_socket_new failed");
	}
	conn_setup_callbacks(conn, true);
}

static void conn_call_open(struct conn *conn)
{
	if (conn->refusal) {
		/* The handshake is done: the busy line can be read. */
		conn_write_str(conn, conn->listener->busy_line);
		conn_close_reason(conn, "refused");
		return;
	}
	conn->opened = true;
	if (conn->listener->handler->on_open != NULL) {
		conn->depth++;
		conn->listener->handler->on_open(conn);
		conn->depth--;
	}
}

static void conn_set_local_port(struct conn *conn)
{
	struct sockaddr_storage local;
	socklen_t locallen = sizeof(local);

	if (getsockname(conn->fd, (struct sockaddr *)&local, &locallen) == 0) {
		if (local.ss_family == AF_INET)
			conn->local_port = ntohs(
				((struct sockaddr_in *)&local)->sin_port);
		else if (local.ss_family == AF_INET6)
			conn->local_port = ntohs(
				((struct sockaddr_in6 *)&local)->sin6_port);
	}
}

/* The parts of a new conn common to accepted and outbound ones. */
static struct conn *conn_alloc(struct net_thread *thread,
			       struct net_listener *listener, int fd,
			       const struct sockaddr *addr, socklen_t addrlen)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));

	conn->thread = thread;
	conn->listener = listener;
	conn->fd = fd;
	conn->idle_timeout = listener->idle_timeout;
	clock_gettime(CLOCK_MONOTONIC, &conn->started);
	log_sid_new(conn->sid);
	memcpy(&conn->addr, addr, MIN((size_t)addrlen, sizeof(conn->addr)));
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, conn->peer_ip,
			  sizeof(conn->peer_ip));
		conn->peer_port = ntohs(sin->sin_port);
		conn->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, conn->peer_ip,
			  sizeof(conn->peer_ip));
		conn->peer_port = ntohs(sin6->sin6_port);
		conn->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
				 (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
				  sin6->sin6_addr.s6_addr[12] == 127);
	} else {
		memcpy(conn->peer_ip, "unix", 5);
		conn->loopback = true;
	}
	conn->kick = event_new(thread->base, -1, 0, conn_kick_cb, conn);
	conn->next = thread->conns;
	if (thread->conns != NULL)
		thread->conns->prev = conn;
	thread->conns = conn;
	return conn;
}

/* ---- the unauthenticated pool ---- */

static void conn_unauth_link(struct conn *conn)
{
	struct net_thread *thread = conn->thread;

	conn->unauth = true;
	conn->unauth_prev = thread->unauth_tail;
	if (thread->unauth_tail != NULL)
		thread->unauth_tail->unauth_next = conn;
	else
		thread->unauth_head = conn;
	thread->unauth_tail = conn;
	atomic_fetch_add(&thread->n_unauth, 1);
}

/* Out of the pool: its counts are given back now, not at the close. */
static void conn_unauth_unlink(struct conn *conn)
{
	struct net_thread *thread = conn->thread;
	struct net_server *server = thread->server;

	if (!conn->unauth)
		return;
	conn->unauth = false;
	if (conn->unauth_prev != NULL)
		conn->unauth_prev->unauth_next = conn->unauth_next;
	else
		thread->unauth_head = conn->unauth_next;
	if (conn->unauth_next != NULL)
		conn->unauth_next->unauth_prev = conn->unauth_prev;
	else
		thread->unauth_tail = conn->unauth_prev;
	conn->unauth_prev = conn->unauth_next = NULL;
	atomic_fetch_sub(&thread->n_unauth, 1);
	atomic_fetch_sub(&server->n_unauth, 1);
	iplimit_release(server->unauth_iplimit, (struct sockaddr *)&conn->addr);
}

void conn_set_authenticated(struct conn *conn)
{
	conn->authenticated = true;
	conn_unauth_unlink(conn);
}

bool conn_is_authenticated(const struct conn *conn)
{
	return conn->authenticated;
}

bool conn_evict_oldest_unauth(struct net_thread *thread, const char *why)
{
	struct conn *conn = thread->unauth_head;

	if (conn == NULL)
		return false;
	conn_unauth_unlink(conn);
	atomic_fetch_add(&conn->listener->stats.evicted, 1);
	log_info(conn->sid, "%s: pushed out %s: %s", conn->listener->name,
		 conn->peer_ip, why);
	if (!conn->opened || conn->listener->handler->on_limit == NULL) {
		conn_abort(conn, why);
		return true;
	}
	conn->depth++;
	conn->listener->handler->on_limit(conn, why);
	conn->depth--;
	/* the handler queued its reply and closed */
	if (!conn_is_closing(conn))
		conn_close_reason(conn, why);
	return true;
}

struct conn *conn_new(struct net_thread *thread, struct net_listener *listener,
		      int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct conn *conn = conn_alloc(thread, listener, fd, addr, addrlen);
	int one = 1;

	conn_unauth_link(conn);
	/* A reply is written whole; with Nagle its last small segment (the
	 * tagged OK after a FETCH) waits for the ACK of the data before it,
	 * which the client delays by up to 40 ms. */
	conn->tcp = addr->sa_family == AF_INET || addr->sa_family == AF_INET6;
	if (conn->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_set_local_port(conn);
	log_info(conn->sid, "connect from %s port %u to %s port %u%s",
		 conn->peer_ip, conn->peer_port, listener->name,
		 conn->local_port,
		 listener->tls_mode == NET_TLS_IMPLICIT ? " (TLS)" : "");
	conn_setup_bev(conn, listener->tls_mode == NET_TLS_IMPLICIT);
	if (!conn->handshaking)
		conn_call_open(conn);
	return conn;
}

void conn_new_refusal(struct net_thread *thread, struct net_listener *listener,
		      int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct conn *conn = conn_alloc(thread, listener, fd, addr, addrlen);

	conn->refusal = true;
	thread->n_refusing++;
	conn_setup_bev(conn, true);
}

struct conn *conn_new_outbound(struct net_thread *thread,
			       struct net_listener *listener, int fd,
			       const struct sockaddr *addr, socklen_t addrlen,
			       unsigned connect_timeout)
{
	struct conn *conn = conn_alloc(thread, listener, fd, addr, addrlen);

	conn->outbound = true;
	conn->connecting = true;
	conn->connect_timeout = connect_timeout;
	log_info(conn->sid, "%s: connecting to %s port %u", listener->name,
		 conn->peer_ip, conn->peer_port);
	conn_setup_bev(conn, false);
	if (bufferevent_socket_connect(conn->bev, addr, (int)addrlen) < 0) {
		char buf[200];

		snprintf(buf, sizeof(buf), "connect failed: %s",
			 strerror(errno));
		conn->dyn_reason = xstrdup(buf);
		conn_teardown_later(conn, conn->dyn_reason);
	}
	return conn;
}

/* Stop all I/O now; on_close and the free follow in conn_finish. */
static void conn_teardown(struct conn *conn, const char *reason)
{
	if (conn->dead)
		return;
	conn->dead = true;
	conn->close_reason = reason;
	if (conn->bev != NULL) {
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	if (conn->ssl != NULL) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	close(conn->fd);
	conn->fd = -1;
	conn->pending_drain = 0;
}

/* Teardown, then finish from the loop (never under a handler's feet). */
static void conn_teardown_later(struct conn *conn, const char *reason)
{
	conn_teardown(conn, reason);
	event_active(conn->kick, EV_READ, 0);
}

static void conn_finish(struct conn *conn)
{
	struct net_thread *thread = conn->thread;
	struct net_listener *l = conn->listener;
	struct net_server *server = thread->server;
	struct timespec now;

	ASSERT(conn->dead);
	if (conn->opened || conn->outbound) {
		conn->depth++;
		l->handler->on_close(conn, conn->close_reason);
		conn->depth--;
	}
	ASSERT(conn->depth == 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - conn->started.tv_sec) +
		      (double)(now.tv_nsec - conn->started.tv_nsec) / 1e9;
	log_info(conn->sid, "close: %s, in=%llu out=%llu, %.3fs",
		 conn->close_reason, (unsigned long long)conn->bytes_in,
		 (unsigned long long)conn->bytes_out, secs);
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		thread->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	event_free(conn->kick);
	if (conn->eof_timer != NULL)
		event_free(conn->eof_timer);
	if (conn->outbound) {
		free(conn->dyn_reason);
		net_listener_free_outbound(&conn->listener);
	} else if (conn->refusal) {
		thread->n_refusing--;
	} else {
		conn_unauth_unlink(conn);
		if (server->set.max_conns_per_ip != 0)
			iplimit_release(server->iplimit,
					(struct sockaddr *)&conn->addr);
		atomic_fetch_sub(&l->stats.current, 1);
		atomic_fetch_sub(&server->nconns, 1);
	}
	free(conn);
}

void conn_destroy_now(struct conn *conn, const char *reason)
{
	if (conn->dead && conn->depth == 0) {
		/* already torn down, waiting for its kick */
		event_del(conn->kick);
		conn_finish(conn);
		return;
	}
	conn_teardown(conn, reason);
	conn_finish(conn);
}

struct conn *conn_next(const struct conn *conn)
{
	return conn->next;
}

static void conn_apply_drain(struct conn *conn)
{
	if (conn->pending_drain == 0 || conn->bev == NULL)
		return;
	evbuffer_drain(bufferevent_get_input(conn->bev), conn->pending_drain);
	conn->pending_drain = 0;
}

/* After a half-close: close once the input is used up and the replies
 * are out. */
static void conn_check_eof(struct conn *conn)
{
	if (conn->eof && !conn->dead && !conn->closing &&
	    conn_input_pending(conn) == 0 && conn_output_pending(conn) == 0)
		conn_teardown_later(conn, "client closed");
}

static void conn_call_input(struct conn *conn)
{
	if (conn->dead || conn->closing || conn->paused || conn->handshaking ||
	    conn->starttls_pending)
		return;
	conn->depth++;
	conn->listener->handler->on_input(conn);
	conn->depth--;
	conn_apply_drain(conn);
	conn_check_eof(conn);
}

static void conn_eof_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			      void *arg)
{
	struct conn *conn = arg;

	/* the handler did not finish in time after a half-close */
	if (!conn->dead)
		conn_teardown_later(conn, "client closed");
}

static void conn_kick_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			 void *arg)
{
	struct conn *conn = arg;

	if (conn->dead) {
		conn_finish(conn);
		return;
	}
	if (conn->kick_corrupt) {
		conn_teardown_later(conn, "corrupt DEFLATE input");
		return;
	}
	if (conn->kick_drained) {
		conn->kick_drained = false;
		conn_write_cb(conn->bev, conn);
		if (conn->dead)
			return;
	}
	if (conn->kick_input) {
		conn->kick_input = false;
		if (conn_input_pending(conn) > 0)
			conn_call_input(conn);
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;

	if (conn->closing) {
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	conn_call_input(conn);
}

static void conn_upgrade(struct conn *conn)
{
	conn->starttls_pending = false;
	/* the plain bufferevent does not own the socket; it may be in one of
	 * its own callbacks, libevent defers the real free */
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	conn_setup_bev(conn, true);
}

static void conn_write_cb(struct bufferevent *bev UNUSED, void *arg)
{
	struct conn *conn = arg;

	if (conn_output_pending(conn) > 0)
		return;	/* compressed: still on the wire, see count_out */
	if (conn->starttls_pending) {
		conn_upgrade(conn);
		return;
	}
	if (conn->closing) {
		conn_teardown_later(conn, conn->close_reason);
		return;
	}
	if (conn->listener->handler->on_drained != NULL && !conn->dead) {
		conn->depth++;
		conn->listener->handler->on_drained(conn);
		conn->depth--;
		conn_apply_drain(conn);
	}
	conn_check_eof(conn);
}

static const char *conn_error_reason(struct conn *conn, char *buf,
				     size_t size)
{
	unsigned long e = 0, last;
	int err = EVUTIL_SOCKET_ERROR();

	if (conn->ssl != NULL) {
		/* libevent stores SSL_get_error() codes (small numbers) next
		 * to the ERR queue entries; keep the first real entry */
		while ((last = bufferevent_get_openssl_error(conn->bev)) != 0) {
			if (e == 0 && ERR_GET_LIB(last) != 0)
				e = last;
		}
	}
	if (e != 0) {
		char ebuf[200];

		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(buf, size, "%s: %s",
			 conn->handshaking ? "TLS handshake failed" : "TLS error",
			 ebuf);
	} else if (err != 0) {
		snprintf(buf, size, "%s%s",
			 conn->handshaking ? "TLS handshake: " : "",
			 strerror(err));
	} else {
		snprintf(buf, size, "%s",
			 conn->handshaking ? "TLS handshake failed"
					   : "connection error");
	}
	return buf;
}

/* Outbound: the TCP connect finished, failed or timed out. */
static void conn_connect_event(struct conn *conn, short what)
{
	char buf[300];

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		conn->connecting = false;
		conn_set_local_port(conn);
		conn_apply_timeouts(conn);
		log_info(conn->sid, "%s: connected to %s port %u",
			 conn->listener->name, conn->peer_ip, conn->peer_port);
		conn_call_open(conn);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		snprintf(buf, sizeof(buf), "connect to %s port %u timed out",
			 conn->peer_ip, conn->peer_port);
	} else {
		int err = EVUTIL_SOCKET_ERROR();

		snprintf(buf, sizeof(buf), "connect to %s port %u failed: %s",
			 conn->peer_ip, conn->peer_port,
			 err != 0 ? strerror(err) : "connection error");
	}
	log_info(conn->sid, "%s", buf);
	free(conn->dyn_reason);
	conn->dyn_reason = xstrdup(buf);
	conn_teardown_later(conn, conn->dyn_reason);
}

static void conn_event_cb(struct bufferevent *bev UNUSED, short what,
			  void *arg)
{
	struct conn *conn = arg;
	char buf[300];

	if (conn->dead)
		return;
	if (conn->connecting) {
		conn_connect_event(conn, what);
		return;
	}
	if ((what & BEV_EVENT_CONNECTED) != 0) {
		const char *version, *cipher;

		conn->handshaking = false;
		conn_apply_timeouts(conn);
		if (conn_tls_info(conn, &version, &cipher))
			log_info(conn->sid, "TLS established: %s %s", version,
				 cipher);
		if (!conn->opened)
			conn_call_open(conn);
		else if (conn_input_pending(conn) > 0)
			conn_call_input(conn);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		conn_teardown_later(conn, conn->handshaking
						  ? "TLS handshake timeout"
						  : "idle timeout");
	} else if ((what & BEV_EVENT_EOF) != 0 && !conn->handshaking &&
		   (conn->closing || conn_output_pending(conn) > 0 ||
		    conn_input_pending(conn) > 0)) {
		/* a half-close behind the last commands: they are still
		 * served and answered, then the conn closes
		 * (conn_check_eof), within a bound */
		if (!conn->closing && !conn->eof) {
			unsigned secs = conn->idle_timeout != 0
						? conn->idle_timeout : 60;
			struct timeval tv = { (time_t)MIN(secs, 60u), 0 };

			conn->eof = true;
			conn->eof_timer = evtimer_new(conn->thread->base,
						      conn_eof_timer_cb, conn);
			evtimer_add(conn->eof_timer, &tv);
		}
	} else if ((what & BEV_EVENT_EOF) != 0) {
		conn_teardown_later(conn, conn->handshaking
						  ? "client closed during TLS "
						    "handshake"
						  : "client closed");
	} else if ((what & BEV_EVENT_ERROR) != 0) {
		/* the reason must outlive this frame */
		conn_error_reason(conn, buf, sizeof(buf));
		log_info(conn->sid, "%s", buf);
		if (conn->outbound) {
			/* a client wants the details (for its DSNs) */
			free(conn->dyn_reason);
			conn->dyn_reason = xstrdup(buf);
			conn_teardown_later(conn, conn->dyn_reason);
			return;
		}
		conn_teardown_later(conn, conn->handshaking
						  ? "TLS handshake failed"
						  : "connection error");
	}
}

int conn_read_line(struct conn *conn, size_t max, struct str *line_r,
		   unsigned *flags_r)
{
	struct evbuffer *in;
	struct evbuffer_ptr p;
	size_t eol_len, len;

	conn_apply_drain(conn);
	if (conn->bev == NULL)
		return 0;
	in = bufferevent_get_input(conn->bev);
	for (;;) {
		p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (!conn->discarding)
			break;
		/* the rest of an overlong line */
		if (p.pos < 0) {
			evbuffer_drain(in, evbuffer_get_length(in));
			return 0;
		}
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		conn->discarding = false;
	}
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > max + 1) {
			evbuffer_drain(in, evbuffer_get_length(in));
			conn->discarding = true;
			return -1;
		}
		return 0;
	}
	len = (size_t)p.pos;
	if (len > max + 1) {
		evbuffer_drain(in, len + eol_len);
		return -1;
	}
	const char *s = (const char *)evbuffer_pullup(in, (ssize_t)len + 1);
	unsigned flags;

	if (len > 0 && s[len - 1] == '\r') {
		len--;
		flags = CONN_LINE_CRLF;
	} else {
		flags = CONN_LINE_BARE_LF;
	}
	if (len > max) {
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		return -1;
	}
	if (memchr(s, '\r', len) != NULL)
		flags |= CONN_LINE_BARE_CR;
	conn->pending_drain = (size_t)p.pos + eol_len;
	*line_r = str_make(s, len);
	*flags_r = flags;
	return 1;
}

size_t conn_input_peek(struct conn *conn, struct str *data_r)
{
	struct evbuffer_iovec vec;

	conn_apply_drain(conn);
	if (conn->bev == NULL ||
	    evbuffer_peek(bufferevent_get_input(conn->bev), -1, NULL, &vec,
			  1) < 1) {
		*data_r = str_make("", 0);
		return 0;
	}
	*data_r = str_make(vec.iov_base, vec.iov_len);
	return vec.iov_len;
}

void conn_input_drain(struct conn *conn, size_t n)
{
	conn_apply_drain(conn);
	if (conn->bev == NULL)
		return;
	ASSERT(n <= evbuffer_get_length(bufferevent_get_input(conn->bev)));
	evbuffer_drain(bufferevent_get_input(conn->bev), n);
}

size_t conn_read_bytes(struct conn *conn, size_t n, struct str *data_r)
{
	size_t len = conn_input_peek(conn, data_r);

	if (len > n) {
		len = n;
		data_r->n = n;
	}
	conn->pending_drain = len;
	return len;
}

size_t conn_input_pending(struct conn *conn)
{
	if (conn->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_input(conn->bev)) -
	       conn->pending_drain;
}

void conn_ack_input(struct conn *conn)
{
#ifdef TCP_QUICKACK
	int one = 1;

	/* Setting TCP_QUICKACK sends a scheduled delayed ACK now and leaves
	 * the "interactive" mode that delays the next ones; the kernel
	 * re-enters it by itself, so this is set each time it is needed
	 * (Dovecot sets it on every output flush). */
	if (conn->bev != NULL && conn->tcp)
		setsockopt(conn->fd, IPPROTO_TCP, TCP_QUICKACK, &one,
			   sizeof(one));
#else
	(void)conn;
#endif
}

void conn_write(struct conn *conn, const void *data, size_t n)
{
	if (conn->bev == NULL || conn->closing)
		return;
	bufferevent_write(conn->bev, data, n);
}

void conn_write_str(struct conn *conn, const char *s)
{
	conn_write(conn, s, strlen(s));
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
	va_list ap;

	if (conn->bev == NULL || conn->closing)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(conn->bev), fmt, ap);
	va_end(ap);
}

size_t conn_output_pending(struct conn *conn)
{
	size_t n;

	if (conn->bev == NULL)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(conn->bev));
	if (conn->wire != NULL)
		n += evbuffer_get_length(bufferevent_get_output(conn->wire));
	return n;
}

static void conn_close_reason(struct conn *conn, const char *reason)
{
	if (conn->dead || conn->closing)
		return;
	conn->closing = true;
	conn->close_reason = reason;
	conn->starttls_pending = false;
	bufferevent_disable(conn->bev, EV_READ);
	if (conn_output_pending(conn) == 0) {
		conn_teardown_later(conn, reason);
		return;
	}
	/* a client that never reads must not hold us forever */
	if (conn->idle_timeout == 0 || conn->idle_timeout > 60) {
		conn->idle_timeout = 60;
		conn_apply_timeouts(conn);
	}
}

void conn_close(struct conn *conn)
{
	conn_close_reason(conn, "closed");
}

void conn_abort(struct conn *conn, const char *reason)
{
	conn_teardown_later(conn, reason);
}

bool conn_is_closing(const struct conn *conn)
{
	return conn->closing || conn->dead;
}

void conn_notify_shutdown(struct conn *conn)
{
	if (conn->dead || conn->closing)
		return;
	if (!conn->opened || conn->listener->handler->on_shutdown == NULL) {
		conn_close(conn);
		return;
	}
	conn->depth++;
	conn->listener->handler->on_shutdown(conn);
	conn->depth--;
	conn_apply_drain(conn);
}

void conn_set_idle_timeout(struct conn *conn, unsigned seconds)
{
	conn->idle_timeout = seconds;
	if (!conn->handshaking && !conn->closing)
		conn_apply_timeouts(conn);
}

void conn_pause_input(struct conn *conn)
{
	conn->paused = true;
	if (conn->bev != NULL)
		bufferevent_disable(conn->bev, EV_READ);
}

void conn_resume_input(struct conn *conn)
{
	if (!conn->paused || conn->dead || conn->closing)
		return;
	conn->paused = false;
	bufferevent_enable(conn->bev, EV_READ);
	conn->kick_input = true;
	event_active(conn->kick, EV_READ, 0);
}

int conn_starttls(struct conn *conn)
{
	conn_apply_drain(conn);
	if (conn->dead || conn->closing || conn->ssl != NULL ||
	    conn->listener->tls == NULL || conn->starttls_pending)
		return -1;
	if (conn_input_pending(conn) > 0) {
		log_info(conn->sid, "STARTTLS refused: plaintext input "
			 "pipelined behind the command");
		return -1;
	}
	bufferevent_disable(conn->bev, EV_READ);
	conn->discarding = false;
	if (conn_output_pending(conn) == 0) {
		conn_upgrade(conn);
	} else {
		/* the plaintext reply goes out first, see conn_write_cb */
		conn->starttls_pending = true;
	}
	return 0;
}

int conn_compress(struct conn *conn)
{
	conn_apply_drain(conn);
	if (conn->dead || conn->closing || conn->wire != NULL ||
	    conn->starttls_pending || conn->handshaking)
		return -1;
	/* What is in the wire's output (the reply saying yes) goes first,
	 * uncompressed; input after the command, if any, is inflated when
	 * the filter reads the wire's input. */
	conn->wire = conn->bev;
	conn->bev = net_deflate_wrap(conn->wire, conn);
	conn->discarding = false;
	conn_setup_callbacks(conn, false);
	if (evbuffer_get_length(bufferevent_get_input(conn->wire)) > 0)
		bufferevent_trigger(conn->wire, EV_READ, 0);
	return 0;
}

void conn_deflate_failed(struct conn *conn)
{
	conn->kick_corrupt = true;
	event_active(conn->kick, EV_READ, 0);
}

bool conn_is_compressed(const struct conn *conn)
{
	return conn->wire != NULL;
}

bool conn_is_tls(const struct conn *conn)
{
	return conn->ssl != NULL || conn->starttls_pending;
}

bool conn_tls_info(struct conn *conn, const char **version_r,
		   const char **cipher_r)
{
	if (conn->ssl == NULL || conn->handshaking)
		return false;
	*version_r = SSL_get_version(conn->ssl);
	*cipher_r = SSL_get_cipher_name(conn->ssl);
	return true;
}

const char *conn_sid(const struct conn *conn)
{
	return conn->sid;
}

const char *conn_peer_ip(const struct conn *conn)
{
	return conn->peer_ip;
}

unsigned conn_peer_port(const struct conn *conn)
{
	return conn->peer_port;
}

unsigned conn_local_port(const struct conn *conn)
{
	return conn->local_port;
}

bool conn_is_loopback(const struct conn *conn)
{
	return conn->loopback;
}

bool conn_peer_cred(struct conn *conn, uid_t *uid_r, pid_t *pid_r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (conn->addr.ss_family != AF_UNIX ||
	    getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred))
		return false;
	*uid_r = cred.uid;
	*pid_r = cred.pid;
	return true;
}

const char *conn_listener_name(const struct conn *conn)
{
	return conn->listener->name;
}

void *conn_handler_ctx(const struct conn *conn)
{
	return conn->listener->handler_ctx;
}

void conn_set_data(struct conn *conn, void *data)
{
	conn->data = data;
}

void *conn_data(const struct conn *conn)
{
	return conn->data;
}

struct net_thread *conn_thread(const struct conn *conn)
{
	return conn->thread;
}

bool conn_server_shutting_down(const struct conn *conn)
{
	return atomic_load(&conn->thread->server->shutting_down);
}

int conn_starttls_client(struct conn *conn, struct net_tls *tls,
			 const char *server_name)
{
	conn_apply_drain(conn);
	if (!conn->outbound || conn->dead || conn->closing ||
	    conn->ssl != NULL || conn->starttls_pending)
		return -1;
	/* the server's reply to STARTTLS proves our output went out; input
	 * behind that reply would be injected plaintext */
	if (conn_input_pending(conn) > 0 || conn_output_pending(conn) > 0) {
		log_info(conn->sid, "STARTTLS: plaintext pipelined behind "
			 "the server's reply");
		return -1;
	}
	conn->ssl = net_tls_ssl_new(tls);
	if (server_name != NULL && server_name[0] != '\0') {
		SSL_set_tlsext_host_name(conn->ssl, server_name);
		/* checked into the verify result; the handshake goes on
		 * either way (the context verifies with SSL_VERIFY_NONE) */
		SSL_set1_host(conn->ssl, server_name);
	}
	conn->discarding = false;
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	conn_setup_bev(conn, true);
	return 0;
}

bool conn_tls_peer_verified(struct conn *conn, const char **error_r)
{
	long res;

	if (conn->ssl == NULL || conn->handshaking) {
		*error_r = "no TLS";
		return false;
	}
	if (SSL_get0_peer_certificate(conn->ssl) == NULL) {
		*error_r = "no peer certificate";
		return false;
	}
	res = SSL_get_verify_result(conn->ssl);
	if (res != X509_V_OK) {
		*error_r = X509_verify_cert_error_string(res);
		return false;
	}
	return true;
}

struct x509_st *conn_tls_peer_cert(struct conn *conn)
{
	if (conn->ssl == NULL || conn->handshaking)
		return NULL;
	return SSL_get0_peer_certificate(conn->ssl);
}

struct stack_st_X509 *conn_tls_peer_chain(struct conn *conn)
{
	if (conn->ssl == NULL || conn->handshaking)
		return NULL;
	return SSL_get_peer_cert_chain(conn->ssl);
}
