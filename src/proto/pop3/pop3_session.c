/* pop3_session.c: the POP3 server session: the state machine, the input
 * loop (pipelined command lines, SASL responses), the one dispatcher that
 * checks the command table's flags, login into a locked maildrop snapshot,
 * multi-line bodies under back-pressure, and the UPDATE state's one store
 * write. */
#include "base/log.h"
#include "net/net.h"
#include "proto/pop3/pop3_int.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {
	[POP3_STATE_AUTHORIZATION] = "authorization",
	[POP3_STATE_AUTH] = "auth",
	[POP3_STATE_AUTH_WAIT] = "auth-wait",
	[POP3_STATE_TRANSACTION] = "transaction",
	[POP3_STATE_UPDATE] = "update",
};

/* ---- server ---- */

struct pop3_server *pop3_server_new(const struct pop3_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl)
{
	struct pop3_server *server = xcalloc(1, sizeof(*server));

	server->set = *set;
	server->set.hostname = xstrdup(set->hostname);
	if (server->set.max_bad_commands == 0)
		server->set.max_bad_commands = POP3_DEFAULT_MAX_BAD_COMMANDS;
	if (server->set.autologout_s == 0)
		server->set.autologout_s = POP3_DEFAULT_AUTOLOGOUT_S;
	server->storep = storep;
	server->sasl = sasl;
	server->throttle = auth_throttle_new(
		set->auth_fail_delay_ms != 0 ? set->auth_fail_delay_ms : 1000,
		MAX(set->auth_fail_delay_max_ms != 0 ? set->auth_fail_delay_max_ms :
		    30000, set->auth_fail_delay_ms));
	for (unsigned t = 0; t < 2; t++) {
		server->services[t].server = server;
		server->services[t].starttls = t == 1;
	}
	pthread_mutex_init(&server->lock, NULL);
	reader_set_init(&server->readers, storep);
	return server;
}

void pop3_server_free(struct pop3_server **serverp)
{
	struct pop3_server *server = *serverp;

	if (server == NULL)
		return;
	/* n_locked may be > 0 here: a session whose QUIT write was still in
	 * the store when the I/O threads stopped is never completed. */
	reader_set_deinit(&server->readers);
	free(server->locked);
	auth_throttle_free(&server->throttle);
	pthread_mutex_destroy(&server->lock);
	free((char *)server->set.hostname);
	free(server);
	*serverp = NULL;
}

void *pop3_server_listener_ctx(struct pop3_server *server, bool starttls)
{
	return &server->services[starttls ? 1 : 0];
}

struct store_reader *pop3_session_reader(struct pop3_session *s)
{
	return reader_set_get(&s->server->readers, s->core.conn);
}

/* ---- replies, state, policy ---- */

static void pop3_vreply(struct pop3_session *s, const char *status,
			const char *fmt, va_list ap) PRINTF_FMT(3, 0);

static void pop3_vreply(struct pop3_session *s, const char *status,
			const char *fmt, va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	conn_printf(s->core.conn, "%s %s\r\n", status, text);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, "+OK", fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vreply(s, "-ERR", fmt, ap);
	va_end(ap);
}

void pop3_session_enter(struct pop3_session *s, enum pop3_state state)
{
	log_debug(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
		  "pop3 state %s -> %s", state_names[s->state],
		  state_names[state]);
	s->state = state;
}

bool pop3_session_plaintext_ok(const struct pop3_session *s)
{
	if (conn_is_tls(s->core.conn))
		return true;
	switch (s->server->set.plaintext) {
	case POP3_PLAINTEXT_ALWAYS:
		return true;
	case POP3_PLAINTEXT_LOOPBACK:
		return conn_is_loopback(s->core.conn);
	case POP3_PLAINTEXT_NEVER:
		break;
	}
	return false;
}

bool pop3_session_cmd_allowed(const struct pop3_session *s,
			      const struct cmd_def *def, const char **err_r)
{
	unsigned f = def->flags;

	if ((f & POP3_CMD_AUTHORIZATION) != 0 &&
	    s->state != POP3_STATE_AUTHORIZATION) {
		*err_r = "Already authenticated";
		return false;
	}
	if ((f & POP3_CMD_TRANSACTION) != 0 &&
	    s->state != POP3_STATE_TRANSACTION) {
		*err_r = "Not authenticated";
		return false;
	}
	if ((f & POP3_CMD_STLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn))) {
		*err_r = "TLS not available";
		return false;
	}
	if ((f & POP3_CMD_PLAINTEXT) != 0 && !pop3_session_plaintext_ok(s)) {
		*err_r = "[AUTH] Plaintext authentication disallowed without TLS; use STLS";
		return false;
	}
	return true;
}

bool pop3_session_cmd_offered(const struct pop3_session *s,
			      const struct cmd_def *def)
{
	unsigned f = def->flags;

	if ((f & POP3_CMD_AUTHORIZATION) != 0 &&
	    s->state != POP3_STATE_AUTHORIZATION)
		return false;
	if ((f & POP3_CMD_STLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn)))
		return false;
	return (f & POP3_CMD_PLAINTEXT) == 0 || pop3_session_plaintext_ok(s);
}

void pop3_session_bad(struct pop3_session *s)
{
	if (++s->bad_commands < s->server->set.max_bad_commands)
		return;
	log_info(conn_sid(s->core.conn), "pop3 client %s: too many errors",
		 conn_peer_ip(s->core.conn));
	pop3_err(s, "Too many errors, closing connection");
	conn_close(s->core.conn);
}

/* ---- login ---- */

int pop3_session_login(struct pop3_session *s, const char *address,
		       const char *how)
{
	struct store_reader *reader = pop3_session_reader(s);
	struct store_user user;
	struct arena a;
	const char *error = "no store reader";
	int ret = -1;

	auth_throttle_succeeded(s->server->throttle, conn_peer_ip(s->core.conn));
	free(s->user_arg);
	s->user_arg = NULL;
	arena_init(&a, 0);
	if (reader == NULL ||
	    (ret = store_user_by_address(reader, &a, address, &user, &error)) <= 0) {
		log_error(conn_sid(s->core.conn), "pop3 login %s: %s", address,
			  ret == 0 ? "user vanished" : error);
		pop3_err(s, "[SYS/TEMP] Temporary failure, try again later");
		arena_deinit(&a);
		return -1;
	}
	arena_deinit(&a);
	if (!pop3_maildrop_lock(s->server, user.id)) {
		log_info(conn_sid(s->core.conn), "pop3 login %s user=%s: maildrop in use",
			 how, address);
		pop3_err(s, "[IN-USE] Maildrop already locked by another session");
		return -1;
	}
	if (pop3_maildrop_load(&s->drop, reader, user.id, &error) < 0) {
		pop3_maildrop_unlock(s->server, user.id);
		log_error(conn_sid(s->core.conn), "pop3 maildrop of %s: %s", address,
			  error);
		pop3_err(s, "[SYS/TEMP] Cannot open the maildrop, try again later");
		return -1;
	}
	s->locked = true;
	s->core.user = xstrdup(address);
	pop3_session_enter(s, POP3_STATE_TRANSACTION);
	conn_set_idle_timeout(s->core.conn, s->server->set.autologout_s);
	log_info(conn_sid(s->core.conn), "pop3 login %s user=%s ip=%s messages=%u",
		 how, s->core.user, conn_peer_ip(s->core.conn), s->drop.count);
	pop3_ok(s, "%s has %u messages (%llu octets)", s->core.user, s->drop.count,
		(unsigned long long)s->drop.size);
	return 1;
}

/* ---- multi-line bodies ---- */

/* Queue body output until the high-water mark; ends the body when all is
 * queued. */
static void pop3_session_pump(struct pop3_session *s)
{
	while (s->out_n > 0 && conn_output_pending(s->core.conn) < POP3_OUTPUT_HIGH) {
		size_t n = MIN(s->out_n, POP3_SEND_CHUNK);

		dotstuff_feed(&s->ds, &s->out, s->out_p, n);
		s->out_p += n;
		s->out_n -= n;
		if (s->out_n == 0)
			dotstuff_finish(&s->ds, &s->out);
		conn_write(s->core.conn, s->out.p, s->out.n);
		strbuf_reset(&s->out);
	}
	if (s->out_n > 0)
		return;
	s->sending = false;
	s->out_p = NULL;
	arena_clear(&s->msg_arena);
}

/* Whether p is already in its multi-line form: CRLF line ends only, the
 * last line ended, no line starting with '.'. Most stored messages are
 * (SMTP and IMAP APPEND store CRLF), and they go out without a copy. */
static bool pop3_body_is_clean(const char *p, size_t n)
{
	const char *end = p + n, *q;

	if (n < 2 || p[0] == '.' || p[n - 2] != '\r' || p[n - 1] != '\n')
		return false;
	for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
		if (q[-1] != '\r' || (q + 1 < end && q[1] == '.'))
			return false;
	}
	for (q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++) {
		if (q + 1 == end || q[1] != '\n')
			return false;
	}
	return true;
}

int pop3_session_send_body(struct pop3_session *s, const char *p, size_t n)
{
	dotstuff_init(&s->ds);
	if (n == 0 || (n <= POP3_SEND_CHUNK && pop3_body_is_clean(p, n))) {
		conn_write(s->core.conn, p, n);
		conn_write_str(s->core.conn, ".\r\n");
		arena_clear(&s->msg_arena);
		return 1;
	}
	s->out_p = p;
	s->out_n = n;
	s->sending = true;
	pop3_session_pump(s);
	return s->sending ? 0 : 1;
}

/* ---- UPDATE ---- */

static void pop3_session_free(struct pop3_session **sp, const char *reason)
{
	struct pop3_session *s = *sp;

	log_info(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
		 "pop3 session end user=%s ip=%s retrieved=%u deleted=%u reason=%s",
		 s->core.user != NULL ? s->core.user : "", s->core.peer_ip, s->retrieved,
		 s->expunged, reason);
	if (s->locked)
		pop3_maildrop_unlock(s->server, s->drop.user_id);
	pop3_maildrop_clear(&s->drop);
	auth_sasl_free(&s->core.sasl);
	if (s->timer != NULL)
		event_free(s->timer);
	secret_free(&s->held_line);
	free(s->user_arg);
	free(s->core.user);
	free(s->update_uids);
	arena_deinit(&s->msg_arena);
	strbuf_free(&s->out);
	free(s);
	*sp = NULL;
}

static void pop3_session_updated(void *arg, struct store_result *result)
{
	struct pop3_session *s = arg;
	bool ok = result->status == 0;

	s->update_pending = false;
	if (ok)
		s->expunged = (uint32_t)result->n_uids;
	else
		log_error(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
			  "pop3 update of %s: %s", s->core.user, result->error);
	store_result_free(&result);
	if (s->core.conn == NULL) {
		/* The client left while the store worked. */
		pop3_session_free(&s, ok ? "closed during update" :
				  "update failed, client gone");
		return;
	}
	/* RFC 1939 6: -ERR when the deletions could not all be made;
	 * the store write is one transaction, so none were. */
	if (ok)
		pop3_ok(s, "Bye, %u messages deleted", s->drop.n_deleted);
	else
		pop3_err(s, "[SYS/TEMP] Deleting the messages failed, none deleted");
	conn_close(s->core.conn);
}

int pop3_session_update(struct pop3_session *s)
{
	size_t n;

	if (s->drop.n_deleted == 0) {
		pop3_ok(s, "Bye, no messages deleted");
		conn_close(s->core.conn);
		return 1;
	}
	n = pop3_maildrop_deleted_ranges(&s->drop, &s->update_uids);
	s->update_req = (struct store_req){
		.type = STORE_REQ_EXPUNGE,
		.u.expunge = {
			.mailbox_id = s->drop.mailbox_id,
			.uids = s->update_uids,
			.n_uids = n,
		},
	};
	pop3_session_enter(s, POP3_STATE_UPDATE);
	conn_pause_input(s->core.conn);
	s->update_pending = true;
	store_submit(*s->server->storep, &s->update_req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     pop3_session_updated, s);
	return 0;
}

/* ---- input ---- */

static void pop3_session_command(struct pop3_session *s, struct str line);

static void pop3_session_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				  void *arg)
{
	struct pop3_session *s = arg;
	char *line = s->held_line;

	event_free(s->timer);
	s->timer = NULL;
	s->held_line = NULL;
	/* The throttle's delay is over: run the held login, then read on. */
	pop3_session_enter(s, POP3_STATE_AUTHORIZATION);
	s->throttle_passed = true;
	pop3_session_command(s, str_c(line));
	s->throttle_passed = false;
	secret_free(&line);
	conn_resume_input(s->core.conn);
}

/* Hold a login command for delay_ms without holding the thread. */
static void pop3_session_hold(struct pop3_session *s, struct str line,
			      unsigned delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	ASSERT(s->timer == NULL);
	s->held_line = str_dup(line);
	s->timer = evtimer_new(net_thread_base(conn_thread(s->core.conn)),
			       pop3_session_timer_cb, s);
	if (s->timer == NULL)
		PANIC("evtimer_new failed");
	pop3_session_enter(s, POP3_STATE_AUTH_WAIT);
	conn_pause_input(s->core.conn);
	evtimer_add(s->timer, &tv);
}

static void pop3_session_command(struct pop3_session *s, struct str line)
{
	const struct cmd_def *def;
	const char *err;
	unsigned delay;

	switch (pop3_cmd_parse(line, &s->cmd)) {
	case POP3_CMD_OK:
		break;
	case POP3_CMD_EMPTY:
		pop3_err(s, "Empty command");
		pop3_session_bad(s);
		return;
	case POP3_CMD_TOO_LONG:
		pop3_err(s, "Line too long");
		pop3_session_bad(s);
		return;
	case POP3_CMD_BAD:
		pop3_err(s, "Syntax error");
		pop3_session_bad(s);
		return;
	}
	def = cmd_table_lookup(pop3_commands, pop3_commands_count, s->cmd.name);
	if (def == NULL) {
		pop3_err(s, "Unknown command");
		pop3_session_bad(s);
		return;
	}
	if ((def->flags & POP3_CMD_NO_ARG) != 0 && s->cmd.arg.n > 0) {
		pop3_err(s, "Syntax: %s takes no argument", def->name);
		pop3_session_bad(s);
		return;
	}
	if (!pop3_session_cmd_allowed(s, def, &err)) {
		pop3_err(s, "%s", err);
		pop3_session_bad(s);
		return;
	}
	if ((def->flags & POP3_CMD_THROTTLED) != 0 && !s->throttle_passed) {
		delay = auth_throttle_delay_ms(s->server->throttle,
					       conn_peer_ip(s->core.conn));
		if (delay > 0) {
			pop3_session_hold(s, line, delay);
			return;
		}
	}
	if (def->handler(s, s->cmd.arg) < 0)
		pop3_session_bad(s);
}

/* Handle every buffered line while nothing waits: several commands per
 * read (PIPELINING), in order. */
static void pop3_session_lines(struct pop3_session *s)
{
	struct conn *conn = s->core.conn;
	struct str line;
	unsigned flags;
	int ret;

	while (!conn_is_closing(conn)) {
		if (s->state == POP3_STATE_AUTH_WAIT ||
		    s->state == POP3_STATE_UPDATE || s->sending ||
		    conn_output_pending(conn) >= POP3_OUTPUT_HIGH)
			return;
		ret = conn_read_line(conn, POP3_AUTH_LINE_MAX, &line, &flags);
		if (ret == 0)
			return;
		if (ret < 0) {
			if (s->state == POP3_STATE_AUTH) {
				auth_sasl_free(&s->core.sasl);
				pop3_session_enter(s, POP3_STATE_AUTHORIZATION);
			}
			pop3_err(s, "Line too long");
			pop3_session_bad(s);
			continue;
		}
		if (s->state == POP3_STATE_AUTH)
			pop3_auth_response(s, line);
		else
			pop3_session_command(s, line);
	}
}

/* In TRANSACTION the commands of one read share a store snapshot: a
 * pipelined run of RETRs then locks the database once, not per message
 * (two fcntl() calls each). The maildrop is fixed at login, so nothing
 * is missed; the snapshot ends before going back to the event loop. */
static void pop3_session_input(struct pop3_session *s)
{
	struct store_reader *reader = NULL;
	const char *error;

	if (s->state == POP3_STATE_TRANSACTION && !s->sending &&
	    conn_input_pending(s->core.conn) > 0 &&
	    (reader = pop3_session_reader(s)) != NULL &&
	    store_reader_begin(reader, &error) < 0) {
		log_error(conn_sid(s->core.conn), "pop3 store snapshot: %s", error);
		reader = NULL;
	}
	pop3_session_lines(s);
	if (reader != NULL)
		store_reader_end(reader);
}

/* ---- conn callbacks ---- */

static void pop3_on_open(struct conn *conn)
{
	struct pop3_service *service = conn_handler_ctx(conn);
	struct pop3_server *server = service->server;
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	uint64_t counter;

	s->core.conn = conn;
	s->service = service;
	s->server = server;
	s->state = POP3_STATE_AUTHORIZATION;
	snprintf(s->core.peer_ip, sizeof(s->core.peer_ip), "%s", conn_peer_ip(conn));
	arena_init(&s->msg_arena, 0);
	conn_set_data(conn, s);
	conn_set_idle_timeout(conn, server->set.autologout_s);
	pthread_mutex_lock(&server->lock);
	counter = ++server->apop_counter;
	pthread_mutex_unlock(&server->lock);
	/* RFC 1939 7: a timestamp unique to this greeting, for APOP. */
	snprintf(s->timestamp, sizeof(s->timestamp), "<%ld.%llu.%lld@%s>",
		 (long)getpid(), (unsigned long long)counter,
		 (long long)time(NULL), server->set.hostname);
	pop3_ok(s, "Posthorn POP3 server ready %s", s->timestamp);
}

static void pop3_on_input(struct conn *conn)
{
	pop3_session_input(conn_data(conn));
}

static void pop3_on_drained(struct conn *conn)
{
	struct pop3_session *s = conn_data(conn);

	if (s == NULL)
		return;
	if (s->sending)
		pop3_session_pump(s);
	if (!s->sending)
		pop3_session_input(s);
}

static void pop3_on_shutdown(struct conn *conn)
{
	struct pop3_session *s = conn_data(conn);

	if (s->state == POP3_STATE_UPDATE)
		return;	/* closes once the store answered */
	/* No UPDATE: the maildrop is left as it was (RFC 1939 6). */
	if (!s->sending)
		pop3_err(s, "[SYS/TEMP] Server shutting down");
	conn_close(conn);
}

static void pop3_on_close(struct conn *conn, const char *reason)
{
	struct pop3_session *s = conn_data(conn);

	if (s == NULL)
		return;
	conn_set_data(conn, NULL);
	if (s->state == POP3_STATE_UPDATE && s->update_pending) {
		/* pop3_session_updated() frees the session. */
		s->core.conn = NULL;
		return;
	}
	pop3_session_free(&s, reason);
}

const struct conn_handler pop3_conn_handler = {
	.on_open = pop3_on_open,
	.on_input = pop3_on_input,
	.on_drained = pop3_on_drained,
	.on_shutdown = pop3_on_shutdown,
	.on_close = pop3_on_close,
};
