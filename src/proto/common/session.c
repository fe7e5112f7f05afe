/* session.c: the session core's life cycle: the conn callbacks shared by
 * every front-end, the bad-command budget, parting replies, holding input,
 * one timer, and keeping a session alive past its conn while a completion
 * is pending. The login gate and SASL are in session_login.c. */
#include "proto/common/session.h"
#include "proto/common/session_int.h"

#include "base/counts.h"
#include "base/log.h"
#include "net/net.h"

#include <event2/event.h>
#include <stdio.h>

#define SESSION_DEFAULT_MAX_BAD 10

void session_server_init(struct session_server *server,
			 const struct session_ops *ops,
			 const struct session_env *env,
			 const struct session_server_settings *set)
{
	server->ops = ops;
	server->env = *env;
	server->hostname = xstrdup(set->hostname);
	server->plaintext = set->plaintext;
	server->max_bad_commands = set->max_bad_commands != 0 ?
				   set->max_bad_commands :
				   SESSION_DEFAULT_MAX_BAD;
	server->max_user_ip = set->max_user_ip;
	reader_set_init(&server->readers, env->storep);
	server->userips = counts_new();
}

void session_server_deinit(struct session_server *server)
{
	reader_set_deinit(&server->readers);
	counts_free(&server->userips);
	free(server->hostname);
	server->hostname = NULL;
}

struct store_reader *session_reader(struct session *s)
{
	return reader_set_get(&s->server->readers, s->conn);
}

struct store *session_store(const struct session *s)
{
	return *s->server->env.storep;
}

const char *session_sid(const struct session *s)
{
	return s->conn != NULL ? conn_sid(s->conn) : NULL;
}

void session_trace(const struct session *s, const char *what,
		   const char *from, const char *to)
{
	log_debug(session_sid(s), "%s %s %s -> %s", s->server->ops->proto,
		  what, from, to);
}

bool session_plaintext_ok(const struct session *s)
{
	if (s->conn == NULL || conn_is_tls(s->conn))
		return true;
	switch (s->server->plaintext) {
	case SESSION_PLAINTEXT_ALWAYS:
		return true;
	case SESSION_PLAINTEXT_LOOPBACK:
		return conn_is_loopback(s->conn);
	case SESSION_PLAINTEXT_NEVER:
		break;
	}
	return false;
}

void session_close(struct session *s)
{
	if (s->conn != NULL)
		conn_close(s->conn);
}

void session_bye(struct session *s, enum session_bye why, const char *text)
{
	if (s->conn == NULL || conn_is_closing(s->conn))
		return;
	s->server->ops->bye(s, why, text);
	conn_close(s->conn);
}

void session_bad(struct session *s)
{
	if (s->conn == NULL ||
	    ++s->bad_commands < s->server->max_bad_commands)
		return;
	log_info(session_sid(s), "%s client %s: too many errors",
		 s->server->ops->proto, s->peer_ip);
	session_bye(s, SESSION_BYE_ERRORS, "Too many errors, closing connection");
}

void session_hold(struct session *s)
{
	s->held = true;
	if (s->conn != NULL)
		conn_pause_input(s->conn);
}

void session_release(struct session *s)
{
	s->held = false;
	if (s->conn != NULL && !conn_is_closing(s->conn))
		conn_resume_input(s->conn);
}

static void session_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
			     void *arg)
{
	struct session *s = arg;
	void (*fn)(struct session *s) = s->timer_fn;

	event_free(s->timer);
	s->timer = NULL;
	s->timer_fn = NULL;
	fn(s);
}

void session_timer(struct session *s, unsigned ms,
		   void (*fn)(struct session *s))
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ASSERT(s->timer == NULL && s->conn != NULL);
	s->timer = evtimer_new(net_thread_base(conn_thread(s->conn)),
			       session_timer_cb, s);
	if (s->timer == NULL)
		PANIC("evtimer_new failed");
	s->timer_fn = fn;
	evtimer_add(s->timer, &tv);
}

static void session_free(struct session *s)
{
	const struct session_ops *ops = s->server->ops;

	session_login_deinit(s);
	if (s->timer != NULL)
		event_free(s->timer);
	ops->free(s);
	free(s);
}

void session_pending_begin(struct session *s)
{
	s->pending++;
}

bool session_pending_end(struct session *s)
{
	ASSERT(s->pending > 0);
	if (--s->pending > 0 || s->conn != NULL)
		return true;
	session_free(s);
	return false;
}

/* ---- conn callbacks ---- */

static void session_on_open(struct conn *conn)
{
	const struct session_service *service = conn_handler_ctx(conn);
	struct session_server *server = service->server;
	struct session *s = xcalloc(1, server->ops->size);

	s->conn = conn;
	s->server = server;
	s->service = service;
	snprintf(s->peer_ip, sizeof(s->peer_ip), "%s", conn_peer_ip(conn));
	conn_set_data(conn, s);
	server->ops->open(s);
}

static void session_on_input(struct conn *conn)
{
	struct session *s = conn_data(conn);

	/* A held session reads nothing, even input already buffered. */
	if (s == NULL || s->held)
		return;
	s->server->ops->input(s);
}

static void session_on_drained(struct conn *conn)
{
	struct session *s = conn_data(conn);

	if (s != NULL && s->server->ops->drained != NULL)
		s->server->ops->drained(s);
}

static void session_on_shutdown(struct conn *conn)
{
	struct session *s = conn_data(conn);

	if (s == NULL) {
		conn_close(conn);
		return;
	}
	s->server->ops->shutdown(s);
}

static void session_on_limit(struct conn *conn, const char *why)
{
	struct session *s = conn_data(conn);

	if (s == NULL) {
		conn_close(conn);
		return;
	}
	log_notice(session_sid(s), "%s client %s: %s", s->server->ops->proto,
		   s->peer_ip, why);
	session_bye(s, SESSION_BYE_LIMIT, why);
}

static void session_on_close(struct conn *conn, const char *reason)
{
	struct session *s = conn_data(conn);

	if (s == NULL)
		return;
	conn_set_data(conn, NULL);
	log_debug(conn_sid(conn), "%s session closed: %s",
		  s->server->ops->proto, reason);
	if (s->server->ops->closed != NULL)
		s->server->ops->closed(s, reason);
	s->conn = NULL;
	/* A timer (greeting, login delay) would run without a conn. */
	if (s->timer != NULL) {
		event_free(s->timer);
		s->timer = NULL;
	}
	if (s->pending > 0)
		return;	/* the last completion frees it */
	session_free(s);
}

const struct conn_handler session_conn_handler = {
	.on_open = session_on_open,
	.on_input = session_on_input,
	.on_drained = session_on_drained,
	.on_shutdown = session_on_shutdown,
	.on_limit = session_on_limit,
	.on_close = session_on_close,
};
