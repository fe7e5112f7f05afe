/* imap_server.c: the IMAP front-end on the session core: the server and
 * its listeners' contexts, and the driver the core calls (the greeting,
 * the input loop over command lines and literals through imap_reader, SASL
 * responses and IDLE, continuations of suspended commands once output
 * drained, the parting replies, shutdown and the end). */
#include "base/log.h"
#include "net/net.h"
#include "proto/imap/imap_commands.h"

static const struct session_ops imap_session_ops;

struct imap_server *imap_server_new(const struct imap_settings *set,
				    const struct session_env *env)
{
	struct imap_server *server = xcalloc(1, sizeof(*server));
	struct imap_settings *ss = &server->set;
	struct session_server_settings core = set->core;

	if (core.max_bad_commands == 0)
		core.max_bad_commands = IMAP_DEFAULT_MAX_BAD;
	session_server_init(&server->core, &imap_session_ops, env, &core);
	*ss = *set;
	ss->core.hostname = server->core.hostname;
	if (ss->max_command_size == 0)
		ss->max_command_size = IMAP_DEFAULT_MAX_COMMAND;
	if (ss->max_append_size == 0)
		ss->max_append_size = IMAP_DEFAULT_MAX_APPEND;
	if (ss->login_timeout_s == 0)
		ss->login_timeout_s = IMAP_DEFAULT_LOGIN_TIMEOUT;
	if (ss->idle_timeout_s == 0)
		ss->idle_timeout_s = IMAP_DEFAULT_IDLE_TIMEOUT;
	for (unsigned t = 0; t < 2; t++) {
		server->services[t].server = &server->core;
		server->services[t].starttls = t == 1;
	}
	ss->learn_spam_command = ss->learn_ham_command = NULL;
	server->learn = imap_learn_new(set, env->storep);
	imap_notify_attach(server);
	return server;
}

void imap_server_free(struct imap_server **serverp)
{
	struct imap_server *server = *serverp;

	if (server == NULL)
		return;
	imap_notify_detach(server);
	imap_learn_free(&server->learn);
	imap_recent_reset();
	session_server_deinit(&server->core);
	free(server);
	*serverp = NULL;
}

void *imap_server_listener_ctx(struct imap_server *server, bool starttls)
{
	return &server->services[starttls ? 1 : 0];
}

/* ---- the driver ---- */

static void imap_open(struct session *core)
{
	struct imap_session *s = (struct imap_session *)core;
	struct strbuf caps = STRBUF_INIT;
	struct conn *conn = core->conn;

	s->server = (struct imap_server *)core->server;
	s->state = IMAP_STATE_NOT_AUTH;
	s->mode = IMAP_MODE_COMMAND;
	arena_init(&s->cmd_arena, 0);
	arena_init(&s->msg_arena, 0);
	arena_init(&s->meta_arena, 0);
	s->reader = imap_reader_new(s->server->set.max_command_size,
				    s->server->set.max_command_size);
	s->thread = imap_thread_get(s->server, conn_thread(conn));
	s->next = s->thread->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	s->thread->sessions = s;
	imap_notify_subscribe(session_store(core));
	conn_set_idle_timeout(conn, s->server->set.login_timeout_s);
	imap_session_capabilities(s, &caps);
	imap_untagged(s, "OK [CAPABILITY %s] %s Posthorn IMAP ready",
		      strbuf_cstr(&caps), s->server->core.hostname);
	strbuf_free(&caps);
}

/* One line of a command. */
static void imap_line(struct imap_session *s, struct str line)
{
	uint64_t literal = 0;
	bool sync = false, must_close = false;

	/* A new command: parses of a command that did not run go. */
	if (!imap_reader_partial(s->reader))
		imap_append_parse_free(&s->append_parse);
	switch (imap_reader_line(s->reader, line, &literal, &sync,
				 &must_close)) {
	case IMAP_READER_COMMAND:
		imap_commands_run(s, imap_reader_command(s->reader));
		return;
	case IMAP_READER_LITERAL:
		/* APPEND's message is parsed as it arrives */
		if (imap_append_parse_wanted(imap_reader_command(s->reader)))
			imap_append_parse_begin(&s->append_parse,
				imap_reader_command(s->reader).n);
		if (sync)
			conn_write_str(s->core.conn, "+ Ready for literal data\r\n");
		return;
	case IMAP_READER_TOOBIG:
		conn_printf(s->core.conn, "%s NO [TOOBIG] Literal too large\r\n",
			    imap_reader_tag(s->reader));
		session_bad(&s->core);
		return;
	case IMAP_READER_OVERFLOW:
		conn_printf(s->core.conn, "%s BAD Command too long\r\n",
			    imap_reader_tag(s->reader));
		imap_reader_reset(s->reader);
		if (must_close) {
			imap_untagged(s, "BYE Cannot resynchronise, closing");
			session_close(&s->core);
			return;
		}
		session_bad(&s->core);
		return;
	case IMAP_READER_BAD:
		imap_untagged(s, "BAD Malformed command");
		session_bad(&s->core);
		return;
	}
}

/* All the input is read and a command is not complete (literal bytes or
 * the line after a literal to come). A client that writes the literal and
 * its closing CRLF in two sends without TCP_NODELAY (Python's imaplib)
 * holds the CRLF until our ACK of the literal, which the kernel would
 * delay by 40 ms as we have nothing to send: serial APPENDs ran at 23/s.
 * ACK now. */
static void imap_wait_rest(struct imap_session *s)
{
	if (imap_reader_partial(s->reader))
		conn_ack_input(s->core.conn);
}

static void imap_input(struct session *core)
{
	struct imap_session *s = (struct imap_session *)core;
	struct conn *conn = core->conn;
	struct str line, data;
	unsigned flags;
	size_t max;
	int ret;

	/* held: a password check of AUTHENTICATE is out (SASL mode). */
	while (!conn_is_closing(conn) && s->mode != IMAP_MODE_BUSY &&
	       !core->held) {
		uint64_t left = imap_reader_literal_left(s->reader);

		if (s->mode == IMAP_MODE_COMMAND && left > 0) {
			if (conn_read_bytes(conn, left > SIZE_MAX ? SIZE_MAX :
					    (size_t)left, &data) == 0) {
				imap_wait_rest(s);
				return;
			}
			imap_reader_literal(s->reader, data);
			imap_append_parse_feed(s->append_parse, data);
			continue;
		}
		max = s->mode == IMAP_MODE_SASL ? IMAP_SASL_LINE_MAX :
		      s->server->set.max_command_size;
		ret = conn_read_line(conn, max, &line, &flags);
		if (ret == 0) {
			if (s->mode == IMAP_MODE_COMMAND)
				imap_wait_rest(s);
			return;
		}
		if (ret < 0 && s->mode == IMAP_MODE_SASL) {
			session_sasl_too_long(core);
			continue;
		}
		if (ret < 0) {
			/* The tag went with the discarded line, and what
			 * follows may be the rest of a literal: stop here. */
			imap_untagged(s, "BYE Line too long");
			imap_session_enter(s, IMAP_STATE_LOGOUT);
			session_close(core);
			return;
		}
		switch (s->mode) {
		case IMAP_MODE_SASL:
			session_sasl_line(core, line);
			break;
		case IMAP_MODE_IDLE:
			imap_idle_line(s, line);
			break;
		case IMAP_MODE_COMMAND:
			imap_line(s, line);
			break;
		case IMAP_MODE_BUSY:
			break;
		}
	}
}

static void imap_drained(struct session *core)
{
	imap_session_continue((struct imap_session *)core);
}

static void imap_shutdown(struct session *core)
{
	struct imap_session *s = (struct imap_session *)core;

	imap_untagged(s, "BYE Server shutting down");
	/* A client that does not read (a FETCH waiting for it) would hold
	 * the shutdown until the output timeout. */
	if (conn_output_pending(core->conn) > IMAP_OUTPUT_HIGH)
		conn_abort(core->conn, "shutdown");
	else
		session_close(core);
}

static void imap_bye(struct session *core, enum session_bye why,
		     const char *text)
{
	struct imap_session *s = (struct imap_session *)core;

	imap_untagged(s, "BYE %s%s", why == SESSION_BYE_LIMIT ?
		      "[UNAVAILABLE] " : "", text);
	imap_session_enter(s, IMAP_STATE_LOGOUT);
}

static void imap_closed(struct session *core, const char *reason UNUSED)
{
	struct imap_session *s = (struct imap_session *)core;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->thread->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void imap_free(struct session *core)
{
	struct imap_session *s = (struct imap_session *)core;

	imap_view_free(&s->view);
	imap_reader_free(&s->reader);
	imap_append_parse_free(&s->append_parse);
	arena_deinit(&s->cmd_arena);
	arena_deinit(&s->msg_arena);
	arena_deinit(&s->meta_arena);
}

static const struct session_ops imap_session_ops = {
	.proto = "imap",
	.size = sizeof(struct imap_session),
	.open = imap_open,
	.input = imap_input,
	.drained = imap_drained,
	.shutdown = imap_shutdown,
	.bye = imap_bye,
	.sasl_challenge = imap_sasl_challenge,
	.sasl_end = imap_sasl_end,
	.closed = imap_closed,
	.free = imap_free,
};
