/* net_server.c: the I/O threads (one libevent loop and task queue each),
 * listeners bound once per thread with SO_REUSEPORT, connection limits,
 * and the shutdown sequence. */
#include "net/net_int.h"
#include "base/counts.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>
#include <event2/listener.h>

static _Thread_local struct net_thread *net_current_thread;

static void net_thread_tasks_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				void *arg)
{
	struct net_thread *thread = arg;

	task_queue_run(thread->tasks);
}

struct net_server *net_server_new(const struct net_server_settings *set,
				  char **error_r)
{
	struct net_server *server = xcalloc(1, sizeof(*server));

	/* writes to a peer that went away must fail with EPIPE, not kill
	 * the process (libevent and OpenSSL write without MSG_NOSIGNAL) */
	signal(SIGPIPE, SIG_IGN);
	server->set = *set;
	server->nthreads = set->threads;
	if (server->nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		server->nthreads = n > 0 ? (unsigned)n : 1;
	}
	server->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (server->wake_fd < 0) {
		*error_r = xasprintf("eventfd: %s", strerror(errno));
		free(server);
		return NULL;
	}
	server->iplimit = counts_new();
	server->unauth_iplimit = counts_new();
	server->threads = xcalloc(server->nthreads, sizeof(*server->threads));
	for (unsigned i = 0; i < server->nthreads; i++) {
		struct net_thread *t = &server->threads[i];

		t->server = server;
		t->index = i;
		t->base = event_base_new();
		if (t->base == NULL) {
			*error_r = xasprintf("event_base_new failed");
			net_server_free(&server);
			return NULL;
		}
		t->tasks = task_queue_new();
		t->task_ev = event_new(t->base, task_queue_fd(t->tasks),
				       EV_READ | EV_PERSIST,
				       net_thread_tasks_cb, t);
		event_add(t->task_ev, NULL);
	}
	return server;
}

/* Remove the socket file we made, and only that one: another process may
 * have replaced it since (a second daemon, an admin's test). */
static void net_unix_remove(const struct net_listener *l)
{
	struct stat st;

	if (lstat(l->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->unix_dev && st.st_ino == l->unix_ino &&
	    unlink(l->unix_path) < 0)
		log_debug(NULL, "%s: unlink %s: %s", l->name, l->unix_path,
			  strerror(errno));
}

static void net_listener_free(struct net_listener *l)
{
	for (unsigned i = 0; i < l->server->nthreads; i++) {
		struct net_listen_inst *inst = &l->insts[i];

		if (inst->evl != NULL)
			evconnlistener_free(inst->evl);
		else if (inst->fd >= 0)
			close(inst->fd);
	}
	if (l->unix_path != NULL)
		net_unix_remove(l);
	net_tls_unref(&l->tls);
	free(l->insts);
	free(l->name);
	free(l->unix_path);
	free(l->busy_line);
	free(l);
}

void net_server_free(struct net_server **serverp)
{
	struct net_server *server = *serverp;

	if (server == NULL)
		return;
	ASSERT(!server->started);
	while (server->listeners != NULL) {
		struct net_listener *l = server->listeners;

		server->listeners = l->next;
		net_listener_free(l);
	}
	for (unsigned i = 0; i < server->nthreads; i++) {
		struct net_thread *t = &server->threads[i];

		ASSERT(t->conns == NULL);
		if (t->task_ev != NULL)
			event_free(t->task_ev);
		task_queue_free(&t->tasks);
		if (t->base != NULL)
			event_base_free(t->base);
	}
	counts_free(&server->iplimit);
	counts_free(&server->unauth_iplimit);
	close(server->wake_fd);
	free(server->threads);
	free(server);
	*serverp = NULL;
}

/* The sockaddr of an address literal and port; false when address is not
 * an IPv4 or IPv6 literal. */
static bool net_sockaddr(const char *address, unsigned port,
			 struct sockaddr_storage *ss, socklen_t *len_r)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len_r = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*sin6);
		return true;
	}
	return false;
}

/* A bound TCP socket, not listening yet; -errno or -EINVAL (bad address,
 * message in *error_r) on failure. */
static int net_bind_tcp_fd(const char *address, unsigned port, bool reuseport,
			   char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, fd, err;

	if (port > 65535) {
		*error_r = xasprintf("invalid port %u", port);
		return -EINVAL;
	}
	if (!net_sockaddr(address, port, &ss, &sslen)) {
		*error_r = xasprintf("invalid address '%s'", address);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		*error_r = xasprintf("socket: %s (%s)", strerror(err),
				     errno_name(err));
		return -err;
	}
	/* SO_REUSEADDR only lets the bind pass over TIME_WAIT leftovers of
	 * an earlier run, never over a socket that listens. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		err = errno;
		*error_r = xasprintf("SO_REUSEPORT: %s (%s)", strerror(err),
				     errno_name(err));
		close(fd);
		return -err;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		err = errno;
		*error_r = xasprintf("bind %s port %u: %s (%s)", address, port,
				     strerror(err), errno_name(err));
		close(fd);
		return -err;
	}
	return fd;
}

int net_probe_tcp(const char *address, unsigned port, char **error_r)
{
	int fd = net_bind_tcp_fd(address, port, false, error_r);

	if (fd < 0)
		return -fd;
	close(fd);
	return 0;
}

int net_bind_tcp(const char *address, unsigned *port, bool reuseport,
		 char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd = net_bind_tcp_fd(address, *port, reuseport, error_r), err;

	if (fd < 0)
		return -1;
	if (listen(fd, 511) < 0) {
		err = errno;
		*error_r = xasprintf("listen %s port %u: %s (%s)", address,
				     *port, strerror(err), errno_name(err));
		close(fd);
		return -1;
	}
	if (*port == 0) {
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
			err = errno;
			*error_r = xasprintf("getsockname: %s (%s)",
					     strerror(err), errno_name(err));
			close(fd);
			return -1;
		}
		*port = ntohs(ss.ss_family == AF_INET ?
			      ((struct sockaddr_in *)&ss)->sin_port :
			      ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
}

/* sun for path; a path longer than sun_path (a deep data dir) is reached
 * through its directory's /proc/self/fd entry, which is short, with the
 * directory open in *dirfd_r (-1 otherwise; the caller closes it). */
static bool net_unix_addr(const char *path, struct sockaddr_un *sun,
			  int *dirfd_r, char **error_r)
{
	const char *slash = strrchr(path, '/');
	int dirfd = -1;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path) && slash != NULL &&
	    slash != path) {
		char *dir = xasprintf("%.*s", (int)(slash - path), path);

		dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		free(dir);
		if (dirfd >= 0 &&
		    (size_t)snprintf(sun->sun_path, sizeof(sun->sun_path),
				     "/proc/self/fd/%d/%s", dirfd, slash + 1) >=
		    sizeof(sun->sun_path)) {
			close(dirfd);
			dirfd = -1;
		}
	}
	if (dirfd < 0) {
		if (strlen(path) >= sizeof(sun->sun_path)) {
			*error_r = xasprintf("unix socket path too long: %s",
					     path);
			return false;
		}
		memcpy(sun->sun_path, path, strlen(path) + 1);
	}
	*dirfd_r = dirfd;
	return true;
}

/* What is at path before we bind there: nothing, or a socket nobody
 * listens on (left by a crash: removed). A socket someone answers on is
 * theirs (EADDRINUSE), and a file that is not a socket is never removed. */
static int net_unix_clear(const char *path, const struct sockaddr_un *sun,
			  char **error_r)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = xasprintf("stat %s: %s (%s)", path, strerror(errno),
				     errno_name(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = xasprintf("bind %s: the path exists and is not a "
				     "socket (not removed)", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = xasprintf("socket: %s (%s)", strerror(errno),
				     errno_name(errno));
		return -1;
	}
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (ret == 0) {
		*error_r = xasprintf("bind %s: %s (%s): another process "
				     "listens on it", path,
				     strerror(EADDRINUSE),
				     errno_name(EADDRINUSE));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		*error_r = xasprintf("unlink %s: %s (%s)", path,
				     strerror(errno), errno_name(errno));
		return -1;
	}
	return 0;
}

/* Bind the unix socket, give it its owner and mode, then listen: nobody
 * can connect before the permissions are right. *st_r identifies the
 * socket file we made (only that one is removed at the end). */
static int net_bind_unix(const struct net_listen_spec *spec, struct stat *st_r,
			 char **error_r)
{
	const char *path = spec->unix_path;
	struct sockaddr_un sun;
	int dirfd, fd, err;

	if (!net_unix_addr(path, &sun, &dirfd, error_r))
		return -1;
	if (net_unix_clear(path, &sun, error_r) < 0) {
		fd = -1;
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		*error_r = xasprintf("socket: %s (%s)", strerror(err),
				     errno_name(err));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = errno;
		*error_r = xasprintf("bind %s: %s (%s)", path, strerror(err),
				     errno_name(err));
		goto fail;
	}
	if (lstat(path, st_r) < 0) {
		err = errno;
		*error_r = xasprintf("stat %s: %s (%s)", path, strerror(err),
				     errno_name(err));
		goto fail_unlink;
	}
	if (spec->unix_chown &&
	    lchown(path, spec->unix_uid, spec->unix_gid) < 0) {
		err = errno;
		*error_r = xasprintf("chown %s: %s (%s)", path, strerror(err),
				     errno_name(err));
		goto fail_unlink;
	}
	if (spec->unix_mode != 0 && chmod(path, (mode_t)spec->unix_mode) < 0) {
		err = errno;
		*error_r = xasprintf("chmod %s: %s (%s)", path, strerror(err),
				     errno_name(err));
		goto fail_unlink;
	}
	if (listen(fd, 511) < 0) {
		err = errno;
		*error_r = xasprintf("listen %s: %s (%s)", path, strerror(err),
				     errno_name(err));
		goto fail_unlink;
	}
	goto out;
fail_unlink:
	unlink(path);
fail:
	close(fd);
	fd = -1;
out:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

struct net_listener *net_listen(struct net_server *server,
				const struct net_listen_spec *spec,
				char **error_r)
{
	ASSERT(!server->started);
	ASSERT(spec->handler != NULL && spec->handler->on_input != NULL &&
	       spec->handler->on_close != NULL);
	if (spec->tls_mode == NET_TLS_IMPLICIT && spec->tls == NULL) {
		*error_r = xasprintf("listener %s: implicit TLS without a "
				     "TLS context", spec->name);
		return NULL;
	}
	if ((spec->unix_path == NULL) == (spec->address == NULL)) {
		*error_r = xasprintf("listener %s: give an address or a unix "
				     "socket path", spec->name);
		return NULL;
	}
	struct net_listener *l = xcalloc(1, sizeof(*l));

	l->server = server;
	l->name = xstrdup(spec->name != NULL ? spec->name : "listener");
	l->tls_mode = spec->tls_mode;
	l->tls = spec->tls;
	if (l->tls != NULL)
		net_tls_ref(l->tls);
	l->handler = spec->handler;
	l->handler_ctx = spec->handler_ctx;
	l->busy_line = spec->busy_line != NULL ? xstrdup(spec->busy_line)
					       : NULL;
	l->max_input = spec->max_input != 0 ? spec->max_input : 64 * 1024;
	l->handshake_timeout = spec->handshake_timeout != 0
				       ? spec->handshake_timeout : 30;
	l->idle_timeout = spec->idle_timeout;
	l->insts = xcalloc(server->nthreads, sizeof(*l->insts));
	for (unsigned i = 0; i < server->nthreads; i++) {
		l->insts[i].listener = l;
		l->insts[i].thread = &server->threads[i];
		l->insts[i].fd = -1;
	}
	if (spec->unix_path != NULL) {
		/* one socket, on one thread (spread by listener count) */
		struct stat st;
		int fd = net_bind_unix(spec, &st, error_r);
		unsigned n = 0;

		if (fd < 0) {
			net_listener_free(l);
			return NULL;
		}
		l->unix_path = xstrdup(spec->unix_path);
		l->unix_dev = st.st_dev;
		l->unix_ino = st.st_ino;
		for (struct net_listener *o = server->listeners; o != NULL;
		     o = o->next)
			n++;
		l->insts[n % server->nthreads].fd = fd;
	} else {
		l->port = spec->port;
		/* Every thread's socket has SO_REUSEPORT, which would let
		 * them join another process's sockets on the port (the
		 * same user's, e.g. a second daemon): first make sure
		 * nobody listens there. */
		if (l->port != 0) {
			int err = net_probe_tcp(spec->address, l->port,
						error_r);

			if (err != 0) {
				net_listener_free(l);
				return NULL;
			}
		}
		for (unsigned i = 0; i < server->nthreads; i++) {
			int fd = net_bind_tcp(spec->address, &l->port, true,
					      error_r);

			if (fd < 0) {
				net_listener_free(l);
				return NULL;
			}
			l->insts[i].fd = fd;
		}
	}
	l->next = server->listeners;
	server->listeners = l;
	return l;
}

unsigned net_listener_port(const struct net_listener *listener)
{
	return listener->port;
}

struct net_listener_stats *net_listener_stats(struct net_listener *listener)
{
	return &listener->stats;
}

/* Concurrent TLS handshakes per thread that only say "busy": beyond
 * that, refusals on implicit-TLS listeners close at once (a flood must not
 * buy handshakes with it). */
#define NET_MAX_REFUSING 64

static void net_refuse(struct net_listen_inst *inst, int fd,
		       const struct sockaddr *addr, int addrlen, const char *ip,
		       const char *why)
{
	struct net_listener *l = inst->listener;

	atomic_fetch_add(&l->stats.refused, 1);
	log_notice(NULL, "%s: refused %s: %s", l->name, ip, why);
	if (l->busy_line != NULL && l->tls_mode == NET_TLS_IMPLICIT) {
		if (inst->thread->n_refusing < NET_MAX_REFUSING) {
			conn_new_refusal(inst->thread, l, fd, addr,
					 (socklen_t)addrlen);
			return;
		}
	} else if (l->busy_line != NULL) {
		/* best effort: a fresh socket's send buffer is empty */
		if (send(fd, l->busy_line, strlen(l->busy_line),
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug(NULL, "%s: busy line to %s: %s", l->name, ip,
				  strerror(errno));
	}
	close(fd);
}

/* The unauthenticated pool is full: push out the oldest of this thread,
 * or have the thread that holds the most push out its own. */
static void net_evict_task(void *arg)
{
	struct net_thread *thread = arg;

	(void)conn_evict_oldest_unauth(thread,
				       "Too many unauthenticated connections");
}

static void net_make_room(struct net_thread *thread)
{
	struct net_server *server = thread->server;
	struct net_thread *fullest = NULL;

	if (conn_evict_oldest_unauth(thread,
				     "Too many unauthenticated connections"))
		return;
	/* another thread's count may change meanwhile: a hint */
	for (unsigned i = 0; i < server->nthreads; i++) {
		struct net_thread *t = &server->threads[i];

		if (t != thread && (fullest == NULL ||
				    atomic_load(&t->n_unauth) >
				    atomic_load(&fullest->n_unauth)))
			fullest = t;
	}
	if (fullest != NULL)
		task_queue_post(fullest->tasks, net_evict_task, fullest);
}

static void net_accept_cb(struct evconnlistener *evl UNUSED,
			  evutil_socket_t fd, struct sockaddr *addr,
			  int addrlen, void *arg)
{
	struct net_listen_inst *inst = arg;
	struct net_listener *l = inst->listener;
	struct net_server *server = l->server;
	char ip[INET6_ADDRSTRLEN] = "unix";
	uint8_t key[16];

	if (iplimit_key(addr, key))
		inet_ntop(addr->sa_family,
			  addr->sa_family == AF_INET
				  ? (const void *)&((struct sockaddr_in *)addr)->sin_addr
				  : (const void *)&((struct sockaddr_in6 *)addr)->sin6_addr,
			  ip, sizeof(ip));
	if (atomic_load(&server->shutting_down)) {
		net_refuse(inst, fd, addr, addrlen, ip, "shutting down");
		return;
	}
	unsigned n = atomic_fetch_add(&server->nconns, 1);

	if (server->set.max_conns != 0 && n >= server->set.max_conns) {
		atomic_fetch_sub(&server->nconns, 1);
		net_refuse(inst, fd, addr, addrlen, ip, "too many connections");
		return;
	}
	if (server->set.max_conns_per_ip != 0 &&
	    !iplimit_acquire(server->iplimit, addr,
			     server->set.max_conns_per_ip)) {
		atomic_fetch_sub(&server->nconns, 1);
		net_refuse(inst, fd, addr, addrlen, ip,
			   "too many connections from this address");
		return;
	}
	if (!iplimit_acquire(server->unauth_iplimit, addr,
			     server->set.max_unauth_per_ip)) {
		if (server->set.max_conns_per_ip != 0)
			iplimit_release(server->iplimit, addr);
		atomic_fetch_sub(&server->nconns, 1);
		net_refuse(inst, fd, addr, addrlen, ip,
			   "too many unauthenticated connections from this "
			   "address");
		return;
	}
	if (atomic_fetch_add(&server->n_unauth, 1) >= server->set.max_unauth &&
	    server->set.max_unauth != 0)
		net_make_room(inst->thread);
	atomic_fetch_add(&l->stats.current, 1);
	atomic_fetch_add(&l->stats.total, 1);
	/* conn_new owns the counts from here and gives them back on close */
	conn_new(inst->thread, l, fd, addr, (socklen_t)addrlen);
}

static void net_accept_resume_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				 void *arg)
{
	struct net_listen_inst *inst = arg;

	if (inst->evl != NULL)
		evconnlistener_enable(inst->evl);
}

static void net_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct net_listen_inst *inst = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: stop accepting on this socket for a moment
	 * instead of spinning; the kernel keeps the backlog. */
	log_warn(NULL, "%s: accept: %s", inst->listener->name, strerror(err));
	evconnlistener_disable(evl);
	struct timeval tv = { 1, 0 };
	event_base_once(inst->thread->base, -1, EV_TIMEOUT,
			net_accept_resume_cb, inst, &tv);
}

static void *net_thread_main(void *arg)
{
	struct net_thread *thread = arg;

	net_current_thread = thread;
	event_base_loop(thread->base, EVLOOP_NO_EXIT_ON_EMPTY);
	net_current_thread = NULL;
	return NULL;
}

int net_server_start(struct net_server *server, char **error_r)
{
	ASSERT(!server->started);
	for (struct net_listener *l = server->listeners; l != NULL;
	     l = l->next) {
		for (unsigned i = 0; i < server->nthreads; i++) {
			struct net_listen_inst *inst = &l->insts[i];

			if (inst->fd < 0)
				continue;
			inst->evl = evconnlistener_new(
				inst->thread->base, net_accept_cb, inst,
				LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
				inst->fd);
			if (inst->evl == NULL) {
				*error_r = xasprintf("%s: evconnlistener_new "
						     "failed", l->name);
				return -1;
			}
			evconnlistener_set_error_cb(inst->evl,
						    net_accept_error_cb);
		}
	}
	for (unsigned i = 0; i < server->nthreads; i++) {
		struct net_thread *t = &server->threads[i];
		int err = pthread_create(&t->tid, NULL, net_thread_main, t);

		if (err != 0) {
			*error_r = xasprintf("pthread_create: %s",
					     strerror(err));
			net_server_shutdown(server, 0);
			return -1;
		}
		t->started = true;
		server->started = true;
	}
	return 0;
}

void net_server_request_shutdown(struct net_server *server)
{
	uint64_t one = 1;
	/* write(2) is async-signal-safe; a full counter is already "set" */
	ssize_t r = write(server->wake_fd, &one, sizeof(one));

	(void)r;
}

void net_server_wait(struct net_server *server)
{
	uint64_t v;

	while (read(server->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

static void net_thread_close_listeners(struct net_thread *thread)
{
	for (struct net_listener *l = thread->server->listeners; l != NULL;
	     l = l->next) {
		struct net_listen_inst *inst = &l->insts[thread->index];

		if (inst->evl != NULL) {
			evconnlistener_free(inst->evl);
			inst->evl = NULL;
			inst->fd = -1;
		} else if (inst->fd >= 0) {
			close(inst->fd);
			inst->fd = -1;
		}
	}
}

static void net_stop_accepting_task(void *arg)
{
	net_thread_close_listeners(arg);
}

void net_server_stop_accepting(struct net_server *server)
{
	if (!server->started) {
		for (unsigned i = 0; i < server->nthreads; i++)
			net_thread_close_listeners(&server->threads[i]);
		return;
	}
	for (unsigned i = 0; i < server->nthreads; i++)
		task_queue_post(server->threads[i].tasks,
				net_stop_accepting_task, &server->threads[i]);
}

static void net_shutdown_task(void *arg)
{
	struct net_thread *thread = arg;
	struct conn *conn, *next;

	net_thread_close_listeners(thread);
	for (conn = thread->conns; conn != NULL; conn = next) {
		next = conn_next(conn);
		conn_notify_shutdown(conn);
	}
}

static void net_close_conns_task(void *arg)
{
	struct net_thread *thread = arg;

	while (thread->conns != NULL)
		conn_destroy_now(thread->conns, "shutdown");
	atomic_fetch_add(&thread->server->threads_closed, 1);
}

/* Posted after everything else the thread was handed, so the completions
 * already in its queue run before its loop ends. */
static void net_stop_task(void *arg)
{
	struct net_thread *thread = arg;

	/* e.g. an outbound conn opened after net_server_close_conns() */
	while (thread->conns != NULL)
		conn_destroy_now(thread->conns, "shutdown");
	event_base_loopbreak(thread->base);
}

static uint64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void net_sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

void net_server_close_conns(struct net_server *server, unsigned timeout_ms)
{
	unsigned running = 0;

	if (!server->started) {
		net_server_stop_accepting(server);
		return;
	}
	ASSERT(net_current_thread == NULL);
	if (server->conns_closed)
		return;
	server->conns_closed = true;
	atomic_store(&server->shutting_down, true);
	for (unsigned i = 0; i < server->nthreads; i++)
		task_queue_post(server->threads[i].tasks, net_shutdown_task,
				&server->threads[i]);
	uint64_t deadline = net_now_ms() + timeout_ms;

	while (atomic_load(&server->nconns) > 0 && net_now_ms() < deadline)
		net_sleep_ms(5);
	atomic_store(&server->threads_closed, 0);
	for (unsigned i = 0; i < server->nthreads; i++) {
		if (!server->threads[i].started)
			continue;	/* net_server_start() failed */
		task_queue_post(server->threads[i].tasks, net_close_conns_task,
				&server->threads[i]);
		running++;
	}
	while (atomic_load(&server->threads_closed) < running)
		net_sleep_ms(1);
}

void net_server_shutdown(struct net_server *server, unsigned timeout_ms)
{
	if (!server->started) {
		net_server_stop_accepting(server);
		return;
	}
	net_server_close_conns(server, timeout_ms);
	for (unsigned i = 0; i < server->nthreads; i++) {
		struct net_thread *t = &server->threads[i];

		if (!t->started)
			continue;
		task_queue_post(t->tasks, net_stop_task, t);
		pthread_join(t->tid, NULL);
		t->started = false;
	}
	server->started = false;
	log_info(NULL, "network shut down");
}

unsigned net_server_conn_count(struct net_server *server)
{
	return atomic_load(&server->nconns);
}

unsigned net_server_unauth_count(struct net_server *server)
{
	return atomic_load(&server->n_unauth);
}

unsigned net_server_thread_count(const struct net_server *server)
{
	return server->nthreads;
}

struct net_thread *net_server_thread(struct net_server *server, unsigned i)
{
	ASSERT(i < server->nthreads);
	return &server->threads[i];
}

struct net_thread *net_thread_current(void)
{
	return net_current_thread;
}

struct task_queue *net_thread_task_queue(struct net_thread *thread)
{
	return thread->tasks;
}

struct event_base *net_thread_base(struct net_thread *thread)
{
	return thread->base;
}

unsigned net_thread_index(const struct net_thread *thread)
{
	return thread->index;
}
