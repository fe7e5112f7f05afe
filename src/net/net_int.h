/* net_int.h: private to src/net: the thread, listener and server structs
 * shared by net_server.c and conn.c. */
#ifndef POSTHORN_NET_NET_INT_H
#define POSTHORN_NET_NET_INT_H

#include "net/net.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

struct evconnlistener;
struct counts;

struct net_thread {
	struct net_server *server;
	unsigned index;
	pthread_t tid;
	bool started;
	struct event_base *base;
	struct task_queue *tasks;
	struct event *task_ev;
	struct conn *conns; /* open conns of this thread, doubly linked */
	/* the unauthenticated ones, oldest first (conn.c) */
	struct conn *unauth_head, *unauth_tail;
	atomic_uint n_unauth;	/* other threads read it as a hint */
	unsigned n_refusing; /* TLS handshakes only to say "busy" */
};

/* One listening socket of a listener on one thread. */
struct net_listen_inst {
	struct net_listener *listener;
	struct net_thread *thread;
	int fd;                     /* -1 when this thread has none */
	struct evconnlistener *evl; /* after net_server_start */
};

struct net_listener {
	struct net_server *server;
	struct net_listener *next;
	char *name;
	char *unix_path;
	dev_t unix_dev;	/* the socket file we made at unix_path */
	ino_t unix_ino;
	unsigned port;
	enum net_tls_mode tls_mode;
	struct net_tls *tls;
	const struct conn_handler *handler;
	void *handler_ctx;
	char *busy_line;
	size_t max_input;
	unsigned handshake_timeout;
	unsigned idle_timeout;
	struct net_listen_inst *insts; /* one per thread */
	struct net_listener_stats stats;
};

struct net_server {
	struct net_server_settings set;
	unsigned nthreads;
	struct net_thread *threads;
	struct net_listener *listeners;
	struct counts *iplimit;		/* every conn, if max_conns_per_ip */
	struct counts *unauth_iplimit;	/* the unauthenticated ones */
	atomic_uint nconns;
	atomic_uint n_unauth;
	atomic_bool shutting_down;
	/* threads done with net_close_conns_task */
	atomic_uint threads_closed;
	bool started;
	bool conns_closed;	/* net_server_close_conns() ran */
	int wake_fd; /* eventfd for net_server_request_shutdown */
};

/* conn.c: create a conn for an accepted socket (takes fd), counted in the
 * server's limits (given back when it ends) and in the unauthenticated
 * pool. Returns NULL (fd closed, logged) when the bufferevent cannot be
 * set up. */
struct conn *conn_new(struct net_thread *thread, struct net_listener *listener,
		      int fd, const struct sockaddr *addr, socklen_t addrlen);
/* conn.c: an accepted socket refused by a limit on an implicit-TLS
 * listener: the handshake runs only to send the listener's busy line,
 * then the conn closes; the handler never sees it, no limit counts it. */
void conn_new_refusal(struct net_thread *thread, struct net_listener *listener,
		      int fd, const struct sockaddr *addr, socklen_t addrlen);
/* conn.c: push the oldest unauthenticated conn of thread out (its
 * handler's on_limit with why). False when the thread has none. */
bool conn_evict_oldest_unauth(struct net_thread *thread, const char *why);
/* conn.c: an outbound conn on a non-blocking socket fd (taken), connect
 * to addr started here; the conn owns listener (freed with
 * net_listener_free_outbound). Never NULL: a failed connect closes the conn
 * later with the reason in on_close. */
struct conn *conn_new_outbound(struct net_thread *thread,
			       struct net_listener *listener, int fd,
			       const struct sockaddr *addr, socklen_t addrlen,
			       unsigned connect_timeout);
/* conn_connect.c: free the private listener of an outbound conn. */
void net_listener_free_outbound(struct net_listener **listener);
/* conn.c: for shutdown: call on_shutdown (or close). */
void conn_notify_shutdown(struct conn *conn);
/* conn.c: close now and run on_close synchronously (loop is stopping). */
void conn_destroy_now(struct conn *conn, const char *reason);
struct conn *conn_next(const struct conn *conn);

/* iplimit.c: connections per client IP in a base/counts.h table. */
/* Count one more conn from addr; false (and not counted) when max is
 * reached (max 0 = no limit). Addresses without an IP always pass. */
bool iplimit_acquire(struct counts *lim, const struct sockaddr *addr,
		     unsigned max);
void iplimit_release(struct counts *lim, const struct sockaddr *addr);
/* The 16-byte key of an address (IPv4 mapped into IPv6); false for
 * addresses without an IP (unix sockets). */
bool iplimit_key(const struct sockaddr *addr, uint8_t key_r[16]);

/* conn_deflate.c: a filter bufferevent over under (which it frees with
 * itself) that inflates input and deflates output, raw DEFLATE. Corrupt
 * input calls conn_deflate_failed(conn) (libevent's filters report no
 * error of their own), which closes the connection from its kick. */
struct bufferevent *net_deflate_wrap(struct bufferevent *under,
				     struct conn *conn);
void conn_deflate_failed(struct conn *conn);

#endif
