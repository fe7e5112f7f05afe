/* net.h: the I/O threads and listeners. A server owns N threads, each with
 * its own libevent loop and task queue; every TCP listener is opened once
 * per thread with SO_REUSEPORT so the kernel spreads connections. Limits
 * on connections (total and per client IP) are shared by all threads. */
#ifndef POSTHORN_NET_NET_H
#define POSTHORN_NET_NET_H

#include "base/base.h"
#include "base/task_queue.h"
#include "net/conn.h"
#include "net/tls.h"

#include <stdatomic.h>
#include <sys/types.h>

struct event_base;
struct net_server;
struct net_thread;
struct net_listener;

struct net_server_settings {
	unsigned threads;          /* 0 = one per online CPU */
	unsigned max_conns;        /* all listeners together; 0 = no limit */
	unsigned max_conns_per_ip; /* per client IP, all kinds; 0 = no limit */
	/* Connections not yet authenticated (see conn_set_authenticated),
	 * all listeners together: when the pool is full, a newcomer pushes
	 * the oldest one out (slowloris holds the oldest). 0 = no limit. */
	unsigned max_unauth;
	/* Of those, per client IP; more are refused. 0 = no limit. */
	unsigned max_unauth_per_ip;
};

enum net_tls_mode {
	NET_TLS_NONE,     /* plaintext; STARTTLS possible if tls is set */
	NET_TLS_IMPLICIT, /* handshake first (465, 993, 995) */
};

struct net_listen_spec {
	const char *name;      /* for logs and counters ("smtp", "imaps") */
	const char *address;   /* IPv4/IPv6 literal ("0.0.0.0", "::1");
				  IPv6 sockets are V6ONLY: listen on "::"
				  and "0.0.0.0" for both families */
	unsigned port;         /* 0 = ephemeral, see net_listener_port() */
	const char *unix_path; /* instead of address/port. A socket nobody
				  listens on is replaced; one that answers,
				  or a file that is not a socket, is an
				  error. Only the socket made here is
				  removed when the listener is freed. */
	unsigned unix_mode;    /* chmod of the unix socket (0666 lets every
				  local user connect); 0 = as the umask
				  leaves it */
	bool unix_chown;       /* lchown it to unix_uid:unix_gid, each
				  (uid_t/gid_t)-1 to keep it */
	uid_t unix_uid;
	gid_t unix_gid;
	enum net_tls_mode tls_mode;
	struct net_tls *tls;   /* required for implicit; enables STARTTLS;
				  the listener takes its own reference */
	const struct conn_handler *handler;
	void *handler_ctx;
	/* Sent to a client refused by a limit, e.g.
	 * "421 4.7.0 Too many connections\r\n" (on implicit TLS after the
	 * handshake, while few such refusals are in progress); NULL = just
	 * close. */
	const char *busy_line;
	/* Bound of buffered input per conn (bufferevent read high watermark);
	 * must exceed the longest line/literal chunk the protocol reads at
	 * once. 0 = 64 KiB. */
	size_t max_input;
	/* Seconds allowed for a TLS handshake (implicit or STARTTLS); 0 = 30. */
	unsigned handshake_timeout;
	/* Initial idle timeout of new conns in seconds; 0 = none. */
	unsigned idle_timeout;
};

/* Counters for metrics; read them with atomic_load. */
struct net_listener_stats {
	atomic_uint current;
	atomic_ulong total;
	atomic_ulong refused;
	atomic_ulong evicted;	/* pushed out of the unauthenticated pool */
};

/* Creates the threads' loops (not running yet). Sets SIGPIPE to ignored
 * for the process. Returns NULL with a malloc'd *error_r on failure. */
struct net_server *net_server_new(const struct net_server_settings *set,
				  char **error_r);
/* Frees a server that is not running (never started, or shut down). */
void net_server_free(struct net_server **server);

/* Bind a listener (before net_server_start, e.g. as root). Strings of the
 * spec are copied. Returns NULL with a malloc'd *error_r on failure. */
struct net_listener *net_listen(struct net_server *server,
				const struct net_listen_spec *spec,
				char **error_r);
/* A listening TCP socket on address:port (port 0: an ephemeral one,
 * written back to *port), with SO_REUSEPORT when asked. -1 with a
 * malloc'd *error_r naming the address, the port and errno
 * ("bind 127.0.0.1 port 25: Address already in use (EADDRINUSE)"). */
int net_bind_tcp(const char *address, unsigned *port, bool reuseport,
		 char **error_r);
/* Whether address:port can be bound now without SO_REUSEPORT, so that a
 * socket listening there (anyone's) is a conflict: 0, or the errno with a
 * malloc'd *error_r as above (EINVAL also for an invalid address). The
 * probe socket is closed again; nothing listens. */
int net_probe_tcp(const char *address, unsigned port, char **error_r);

/* The bound TCP port (the chosen one when the spec said 0). */
unsigned net_listener_port(const struct net_listener *listener);
struct net_listener_stats *net_listener_stats(struct net_listener *listener);

/* Start the I/O threads. -1 with a malloc'd *error_r on failure. */
int net_server_start(struct net_server *server, char **error_r);
/* Async-signal-safe and thread-safe: wake net_server_wait(). */
void net_server_request_shutdown(struct net_server *server);
/* Block until net_server_request_shutdown() was called. */
void net_server_wait(struct net_server *server);
/* Thread-safe: close every listener; open conns go on. */
void net_server_stop_accepting(struct net_server *server);
/* Close the listeners, call on_shutdown of every conn, wait up to
 * timeout_ms for the conns to end, and abort the rest ("shutdown"); returns
 * when every conn is closed. The threads go on running their loops and task
 * queues: a session closed while it waits for work it handed to another
 * thread (a store write) is freed when that work's completion runs. Call
 * from a thread that is not an I/O thread; a second call does nothing. */
void net_server_close_conns(struct net_server *server, unsigned timeout_ms);
/* net_server_close_conns() unless done, then stop and join the threads;
 * what was posted to their task queues before this call runs first. */
void net_server_shutdown(struct net_server *server, unsigned timeout_ms);
/* Connections open now, all listeners. */
unsigned net_server_conn_count(struct net_server *server);
/* Of those, not authenticated yet. */
unsigned net_server_unauth_count(struct net_server *server);

unsigned net_server_thread_count(const struct net_server *server);
struct net_thread *net_server_thread(struct net_server *server, unsigned i);
/* The I/O thread running the caller, or NULL outside I/O threads. */
struct net_thread *net_thread_current(void);
/* Post callbacks here to run them on that thread (thread-safe). */
struct task_queue *net_thread_task_queue(struct net_thread *thread);
struct event_base *net_thread_base(struct net_thread *thread);
unsigned net_thread_index(const struct net_thread *thread);

#endif
