/* pop3_server.c: the POP3 front-end on the session core: the server with
 * its maildrop locks and its listeners' contexts, and the driver the core
 * calls (the greeting with its APOP timestamp, the input loop over
 * pipelined command lines and SASL responses, multi-line bodies once
 * output drained, the parting replies, shutdown and the end). */
#include "base/log.h"
#include "net/net.h"
#include "proto/common/session_read.h"
#include "proto/pop3/pop3_commands.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const struct session_ops pop3_session_ops;

struct pop3_server *pop3_server_new(const struct pop3_settings *set,
				    const struct session_env *env)
{
	struct pop3_server *server = xcalloc(1, sizeof(*server));

	session_server_init(&server->core, &pop3_session_ops, env, &set->core);
	server->set = *set;
	server->set.core.hostname = server->core.hostname;
	if (server->set.autologout_s == 0)
		server->set.autologout_s = POP3_DEFAULT_AUTOLOGOUT_S;
	for (unsigned t = 0; t < 2; t++) {
		server->services[t].server = &server->core;
		server->services[t].starttls = t == 1;
	}
	pthread_mutex_init(&server->lock, NULL);
	return server;
}

void pop3_server_free(struct pop3_server **serverp)
{
	struct pop3_server *server = *serverp;

	if (server == NULL)
		return;
	/* n_locked may be > 0 here: a session whose QUIT write was still in
	 * the store when the I/O threads stopped is never completed. */
	free(server->locked);
	pthread_mutex_destroy(&server->lock);
	session_server_deinit(&server->core);
	free(server);
	*serverp = NULL;
}

void *pop3_server_listener_ctx(struct pop3_server *server, bool starttls)
{
	return &server->services[starttls ? 1 : 0];
}

/* ---- the driver ---- */

static void pop3_open(struct session *core)
{
	struct pop3_session *s = (struct pop3_session *)core;
	struct pop3_server *server = (struct pop3_server *)core->server;
	uint64_t counter;

	s->server = server;
	s->state = POP3_STATE_AUTHORIZATION;
	conn_set_idle_timeout(core->conn, server->set.autologout_s);
	if (!server->set.apop) {
		/* No timestamp: clients that see one try APOP first, and
		 * some do not fall back when it fails. */
		pop3_ok(s, "Posthorn POP3 server ready");
		return;
	}
	pthread_mutex_lock(&server->lock);
	counter = ++server->apop_counter;
	pthread_mutex_unlock(&server->lock);
	/* RFC 1939 7: a timestamp unique to this greeting, for APOP. */
	snprintf(s->timestamp, sizeof(s->timestamp), "<%ld.%llu.%lld@%s>",
		 (long)getpid(), (unsigned long long)counter,
		 (long long)time(NULL), server->core.hostname);
	pop3_ok(s, "Posthorn POP3 server ready %s", s->timestamp);
}

/* Handle every buffered line while nothing waits: several commands per
 * read (PIPELINING), in order. */
static void pop3_lines(struct pop3_session *s)
{
	struct conn *conn = s->core.conn;
	struct str line;
	unsigned flags;
	int ret;

	while (!conn_is_closing(conn)) {
		if (s->core.held || s->state == POP3_STATE_UPDATE ||
		    s->sending || conn_output_pending(conn) >= POP3_OUTPUT_HIGH)
			return;
		ret = conn_read_line(conn, POP3_AUTH_LINE_MAX, &line, &flags);
		if (ret == 0)
			return;
		if (ret < 0 && session_in_sasl(&s->core)) {
			session_sasl_too_long(&s->core);
		} else if (ret < 0) {
			pop3_err(s, "Line too long");
			session_bad(&s->core);
		} else if (session_in_sasl(&s->core)) {
			session_sasl_line(&s->core, line);
		} else {
			pop3_commands_run(s, line);
		}
	}
}

/* In TRANSACTION the commands of one read share a store snapshot: a
 * pipelined run of RETRs then locks the database once, not per message
 * (two fcntl() calls each). The maildrop is fixed at login, so nothing
 * is missed; the snapshot ends before going back to the event loop. With
 * a read pool the reads run there, each on its own. */
static void pop3_input(struct session *core)
{
	struct pop3_session *s = (struct pop3_session *)core;
	struct store_reader *reader = NULL;
	const char *error;

	if (s->state == POP3_STATE_TRANSACTION && !s->sending &&
	    !session_reads_pooled(core) &&
	    conn_input_pending(core->conn) > 0 &&
	    (reader = session_reader(core)) != NULL &&
	    store_reader_begin(reader, &error) < 0) {
		log_error(session_sid(core), "pop3 store snapshot: %s", error);
		reader = NULL;
	}
	pop3_lines(s);
	if (reader != NULL)
		store_reader_end(reader);
}

static void pop3_drained(struct session *core)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (s->sending)
		pop3_session_pump(s);
	if (!s->sending && !core->held)
		pop3_input(core);
}

static void pop3_shutdown(struct session *core)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (s->state == POP3_STATE_UPDATE)
		return;	/* closes once the store answered */
	/* No UPDATE: the maildrop is left as it was (RFC 1939 6). */
	if (!s->sending)
		pop3_err(s, "[SYS/TEMP] Server shutting down");
	session_close(core);
}

static void pop3_bye(struct session *core, enum session_bye why,
		     const char *text)
{
	struct pop3_session *s = (struct pop3_session *)core;

	/* RFC 3206: SYS/TEMP says "try again later". */
	pop3_err(s, "%s%s", why == SESSION_BYE_LIMIT ? "[SYS/TEMP] " : "",
		 text);
}

static void pop3_closed(struct session *core, const char *reason)
{
	struct pop3_session *s = (struct pop3_session *)core;

	/* With QUIT's write (or unlock) pending, its completion logs the
	 * end; a read out otherwise answers nothing. */
	if (s->state != POP3_STATE_UPDATE || core->pending == 0)
		pop3_session_log_end(s, reason);
}

static void pop3_free(struct session *core)
{
	struct pop3_session *s = (struct pop3_session *)core;

	pop3_maildrop_release(s);
	pop3_maildrop_clear(&s->drop);
	free(s->user_arg);
	free(s->update_uids);
	pop3_body_free(s);
}

static const struct session_ops pop3_session_ops = {
	.proto = "pop3",
	.size = sizeof(struct pop3_session),
	.open = pop3_open,
	.input = pop3_input,
	.drained = pop3_drained,
	.shutdown = pop3_shutdown,
	.bye = pop3_bye,
	.sasl_challenge = pop3_auth_challenge,
	.sasl_end = pop3_auth_end,
	.closed = pop3_closed,
	.free = pop3_free,
};
