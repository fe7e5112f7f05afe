/* imap_session.c: the IMAP server session: the state machine, the input
 * loop (command lines and literals through imap_reader, SASL responses,
 * IDLE), the one dispatcher that checks the command table's flags, store
 * requests with ordered completion, and change events from the store writer
 * to the sessions that have a mailbox selected. */
#include "base/log.h"
#include "mail/mutf7.h"
#include "mail/imap_string.h"
#include "net/net.h"
#include "proto/imap/imap_int.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
	[IMAP_STATE_NOT_AUTH] = "not-authenticated",
	[IMAP_STATE_AUTH] = "authenticated",
	[IMAP_STATE_SELECTED] = "selected",
	[IMAP_STATE_LOGOUT] = "logout",
};

static const char *const mode_names[] = {
	[IMAP_MODE_COMMAND] = "command",
	[IMAP_MODE_SASL] = "sasl",
	[IMAP_MODE_IDLE] = "idle",
	[IMAP_MODE_BUSY] = "busy",
};

/* ---- change notifications ----
 * One hub per process: the store has no unsubscribe, and the writer may
 * still report changes while store_close() finishes after the server is
 * freed, so the subscription's argument must outlive any server. */
static struct {
	pthread_mutex_t lock;		/* also guards server->threads */
	struct imap_server *server;
	pthread_mutex_t subscribe_lock;	/* never taken inside a subscriber */
	struct store *store;		/* the store subscribed to */
} hub = { PTHREAD_MUTEX_INITIALIZER, NULL, PTHREAD_MUTEX_INITIALIZER, NULL };

static void imap_thread_changes(void *arg)
{
	struct imap_thread *t = arg;
	int64_t *changed;
	size_t n;

	pthread_mutex_lock(&hub.lock);
	changed = t->changed;
	n = t->n_changed;
	t->changed = NULL;
	t->n_changed = t->cap_changed = 0;
	t->posted = false;
	pthread_mutex_unlock(&hub.lock);

	for (struct imap_session *s = t->sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->view == NULL)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (changed[i] != s->view->mailbox_id)
				continue;
			s->view->changed = true;
			/* IDLE reports at once; others at their next command. */
			if (s->mode == IMAP_MODE_IDLE)
				imap_view_sync(s, true, false, NULL);
			break;
		}
	}
	free(changed);
}

/* Runs on the store writer thread: note the mailbox for each I/O thread
 * and wake it once. */
static void imap_hub_change(void *arg UNUSED, int64_t user_id UNUSED,
			    int64_t mailbox_id, uint64_t modseq UNUSED)
{
	struct imap_server *server;

	pthread_mutex_lock(&hub.lock);
	server = hub.server;
	for (size_t i = 0; server != NULL && i < server->n_threads; i++) {
		struct imap_thread *t = server->threads[i];
		size_t j;

		/* t->sessions belongs to the I/O thread: not read here. */
		if (t == NULL)
			continue;
		for (j = 0; j < t->n_changed; j++) {
			if (t->changed[j] == mailbox_id)
				break;
		}
		if (j < t->n_changed)
			continue;
		if (t->n_changed == t->cap_changed) {
			t->cap_changed = t->cap_changed * 2 + 8;
			t->changed = xrealloc(t->changed, t->cap_changed *
					      sizeof(*t->changed));
		}
		t->changed[t->n_changed++] = mailbox_id;
		if (!t->posted) {
			t->posted = true;
			task_queue_post(net_thread_task_queue(t->thread),
					imap_thread_changes, t);
		}
	}
	pthread_mutex_unlock(&hub.lock);
}

static void imap_hub_subscribe(struct store *store)
{
	pthread_mutex_lock(&hub.subscribe_lock);
	if (hub.store != store) {
		store_subscribe(store, imap_hub_change, NULL);
		hub.store = store;
	}
	pthread_mutex_unlock(&hub.subscribe_lock);
}

/* ---- server ---- */

struct imap_server *imap_server_new(const struct imap_settings *set,
				    struct store *const *storep,
				    struct auth_sasl_ctx *sasl)
{
	struct imap_server *server = xcalloc(1, sizeof(*server));
	struct imap_settings *ss = &server->set;

	*ss = *set;
	ss->hostname = xstrdup(set->hostname);
	if (ss->max_command_size == 0)
		ss->max_command_size = IMAP_DEFAULT_MAX_COMMAND;
	if (ss->max_append_size == 0)
		ss->max_append_size = IMAP_DEFAULT_MAX_APPEND;
	if (ss->max_bad_commands == 0)
		ss->max_bad_commands = IMAP_DEFAULT_MAX_BAD;
	if (ss->login_timeout_s == 0)
		ss->login_timeout_s = IMAP_DEFAULT_LOGIN_TIMEOUT;
	if (ss->idle_timeout_s == 0)
		ss->idle_timeout_s = IMAP_DEFAULT_IDLE_TIMEOUT;
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
	pthread_mutex_lock(&hub.lock);
	ASSERT(hub.server == NULL);
	hub.server = server;
	pthread_mutex_unlock(&hub.lock);
	return server;
}

void imap_server_free(struct imap_server **serverp)
{
	struct imap_server *server = *serverp;

	if (server == NULL)
		return;
	pthread_mutex_lock(&hub.lock);
	hub.server = NULL;
	pthread_mutex_unlock(&hub.lock);
	pthread_mutex_lock(&hub.subscribe_lock);
	hub.store = NULL;
	pthread_mutex_unlock(&hub.subscribe_lock);
	for (size_t i = 0; i < server->n_threads; i++) {
		struct imap_thread *t = server->threads[i];

		if (t == NULL)
			continue;
		store_reader_free(&t->reader);
		free(t->changed);
		free(t);
	}
	free(server->threads);
	imap_recent_reset();
	auth_throttle_free(&server->throttle);
	free((char *)server->set.hostname);
	free(server);
	*serverp = NULL;
}

void *imap_server_listener_ctx(struct imap_server *server, bool starttls)
{
	return &server->services[starttls ? 1 : 0];
}

static struct imap_thread *imap_thread_get(struct imap_server *server,
					   struct net_thread *thread)
{
	size_t i = net_thread_index(thread);
	struct imap_thread *t;

	pthread_mutex_lock(&hub.lock);
	if (i >= server->n_threads) {
		server->threads = xrealloc(server->threads,
					   (i + 1) * sizeof(*server->threads));
		for (size_t j = server->n_threads; j <= i; j++)
			server->threads[j] = NULL;
		server->n_threads = i + 1;
	}
	t = server->threads[i];
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->server = server;
		t->thread = thread;
		server->threads[i] = t;
	}
	pthread_mutex_unlock(&hub.lock);
	return t;
}

struct store *imap_session_store(struct imap_session *s)
{
	return *s->server->storep;
}

struct store_reader *imap_session_reader(struct imap_session *s)
{
	struct imap_thread *t = s->thread;

	/* Only this thread uses t->reader. */
	if (t->reader == NULL) {
		char *error = NULL;

		t->reader = store_reader_new(imap_session_store(s), &error);
		if (t->reader == NULL) {
			log_error(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
				  "store reader: %s", error);
			free(error);
			return NULL;
		}
	}
	return t->reader;
}

/* ---- replies and state ---- */

void imap_write(struct imap_session *s, const void *data, size_t n)
{
	if (s->core.conn != NULL)
		conn_write(s->core.conn, data, n);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	struct strbuf b = STRBUF_INIT;
	va_list ap;

	if (s->core.conn == NULL)
		return;
	strbuf_append_c(&b, "* ");
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	strbuf_append_c(&b, "\r\n");
	conn_write(s->core.conn, b.p, b.n);
	strbuf_free(&b);
}

void imap_tagged(struct imap_session *s, const char *status,
		 const char *fmt, ...)
{
	struct strbuf b = STRBUF_INIT;
	va_list ap;

	if (s->core.conn == NULL)
		return;
	if (s->view != NULL && strcmp(status, "BAD") != 0)
		imap_view_sync(s, s->cmd == NULL ||
			       (s->cmd->flags & IMAP_CMD_NO_EXPUNGE) == 0,
			       false, NULL);
	if (strcmp(status, "BAD") == 0)
		s->replied_bad = true;
	strbuf_printf(&b, "%s %s ", s->tag != NULL ? s->tag : "*", status);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	strbuf_append_c(&b, "\r\n");
	conn_write(s->core.conn, b.p, b.n);
	strbuf_free(&b);
}

int imap_bad_syntax(struct imap_session *s, const struct imap_cursor *c)
{
	imap_tagged(s, "BAD", "Syntax error: %s",
		    c->error != NULL ? c->error : "unexpected arguments");
	return -1;
}

int imap_store_failed(struct imap_session *s, const char *what,
		      const char *error)
{
	log_error(conn_sid(s->core.conn), "imap %s: %s", what, error);
	imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
	return -1;
}

void imap_session_enter(struct imap_session *s, enum imap_state state)
{
	log_debug(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
		  "imap state %s -> %s", state_names[s->state],
		  state_names[state]);
	s->state = state;
}

void imap_session_mode(struct imap_session *s, enum imap_mode mode)
{
	log_debug(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
		  "imap mode %s -> %s", mode_names[s->mode], mode_names[mode]);
	s->mode = mode;
}

bool imap_session_plaintext_ok(const struct imap_session *s)
{
	if (conn_is_tls(s->core.conn))
		return true;
	switch (s->server->set.plaintext) {
	case IMAP_PLAINTEXT_ALWAYS:
		return true;
	case IMAP_PLAINTEXT_LOOPBACK:
		return conn_is_loopback(s->core.conn);
	case IMAP_PLAINTEXT_NEVER:
		break;
	}
	return false;
}

void imap_session_write_name(struct imap_session *s, struct strbuf *out,
			     const char *name)
{
	struct strbuf enc = STRBUF_INIT;

	if (s->utf8 || mutf7_encode(name, strlen(name), &enc) < 0) {
		/* Names in the store are valid UTF-8; UTF8=ACCEPT sends
		 * them as they are. */
		imap_string_write(out, str_c(name));
	} else {
		imap_string_write(out, strbuf_str(&enc));
	}
	strbuf_free(&enc);
}

void imap_session_capabilities(struct imap_session *s, struct strbuf *out)
{
	const char *status, *text;

	strbuf_append_c(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR UIDPLUS "
			"MULTIAPPEND SPECIAL-USE CHILDREN LIST-EXTENDED "
			"LIST-STATUS ESEARCH STATUS=SIZE BINARY UTF8=ACCEPT "
			"CONDSTORE QRESYNC");
	strbuf_printf(out, " APPENDLIMIT=%llu",
		      (unsigned long long)s->server->set.max_append_size);
	for (size_t i = 0; i < imap_commands_count; i++) {
		const struct cmd_def *def = &imap_commands[i];

		if (def->capability == NULL)
			continue;
		/* IDLE, MOVE... are offered in every state; STARTTLS only
		 * where it may run. */
		if ((def->flags & IMAP_CMD_STARTTLS) != 0 &&
		    !imap_session_cmd_allowed(s, def, &status, &text))
			continue;
		strbuf_printf(out, " %s", def->capability);
	}
	if (s->state == IMAP_STATE_NOT_AUTH) {
		const char *mechs = auth_sasl_mechanisms(s->server->sasl,
							 imap_session_plaintext_ok(s));
		struct str rest = str_c(mechs), mech;

		while (rest.n > 0) {
			str_split(rest, ' ', &mech, &rest);
			if (mech.n > 0)
				strbuf_printf(out, " AUTH=%.*s", (int)mech.n,
					      mech.p);
		}
		if (!imap_session_plaintext_ok(s))
			strbuf_append_c(out, " LOGINDISABLED");
	}
}

bool imap_session_cmd_allowed(const struct imap_session *s,
			      const struct cmd_def *def, const char **status_r,
			      const char **text_r)
{
	unsigned f = def->flags;

	*status_r = "BAD";
	if ((f & IMAP_CMD_STARTTLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn))) {
		*text_r = "TLS not available";
		return false;
	}
	if ((f & IMAP_CMD_NOT_AUTH) != 0 && s->state != IMAP_STATE_NOT_AUTH) {
		*text_r = "Already authenticated";
		return false;
	}
	if ((f & IMAP_CMD_AUTH) != 0 && s->state == IMAP_STATE_NOT_AUTH) {
		*text_r = "Log in first";
		return false;
	}
	if ((f & IMAP_CMD_SELECTED) != 0 && s->state != IMAP_STATE_SELECTED) {
		*text_r = "No mailbox selected";
		return false;
	}
	return true;
}

/* A failed command counts towards the bad-command limit. */
static void imap_session_bad(struct imap_session *s)
{
	if (s->core.conn == NULL || ++s->bad_commands < s->server->set.max_bad_commands)
		return;
	imap_untagged(s, "BYE Too many invalid commands");
	imap_session_enter(s, IMAP_STATE_LOGOUT);
	conn_close(s->core.conn);
}

void imap_session_login(struct imap_session *s, const char *user,
			const char *mech)
{
	struct store_reader *r = imap_session_reader(s);
	struct store_user u;
	const char *error;
	struct arena a;

	arena_init(&a, 0);
	if (r != NULL && store_user_by_address(r, &a, user, &u, &error) == 1)
		s->user_id = u.id;
	arena_deinit(&a);
	free(s->core.user);
	s->core.user = xstrdup(user);
	auth_throttle_succeeded(s->server->throttle, conn_peer_ip(s->core.conn));
	log_info(conn_sid(s->core.conn), "imap login user=%s ip=%s mech=%s result=ok",
		 user, conn_peer_ip(s->core.conn), mech);
	imap_session_enter(s, IMAP_STATE_AUTH);
	conn_set_idle_timeout(s->core.conn, s->server->set.idle_timeout_s);
	/* From now on APPEND may carry messages up to APPENDLIMIT. */
	imap_reader_free(&s->reader);
	s->reader = imap_reader_new(s->server->set.max_command_size +
				    s->server->set.max_append_size,
				    s->server->set.max_append_size);
	s->reader_authed = true;
}

/* ---- commands ---- */

static void imap_session_free(struct imap_session **sp)
{
	struct imap_session *s = *sp;

	imap_view_free(&s->view);
	auth_sasl_free(&s->core.sasl);
	imap_reader_free(&s->reader);
	if (s->timer != NULL)
		event_free(s->timer);
	arena_deinit(&s->cmd_arena);
	arena_deinit(&s->msg_arena);
	free(s->core.user);
	free(s);
	*sp = NULL;
}

/* The command has finished: forget its state. */
static void imap_session_cmd_done(struct imap_session *s)
{
	s->cmd = NULL;
	s->cont = NULL;
	s->cmd_state = NULL;
	s->tag = NULL;
	s->replied_bad = false;
	arena_clear(&s->cmd_arena);
	arena_clear(&s->msg_arena);
	/* The command is done with its bytes: an idle session keeps no
	 * APPEND-sized buffer. */
	if (s->reader != NULL)
		imap_reader_reset(s->reader);
	if (s->logout && s->core.conn != NULL)
		conn_close(s->core.conn);
}

/* After a handler or continuation returned ret. */
static void imap_session_after(struct imap_session *s, int ret)
{
	/* NO is an answer, not a client error: only BAD counts. */
	if (ret < 0 && s->replied_bad)
		imap_session_bad(s);
	if (ret != 0) {
		imap_session_cmd_done(s);
		return;
	}
	/* Suspended: SASL and IDLE go on reading lines; anything else
	 * waits for the store or for output with input paused. */
	if (s->mode == IMAP_MODE_COMMAND) {
		imap_session_mode(s, IMAP_MODE_BUSY);
		if (s->core.conn != NULL)
			conn_pause_input(s->core.conn);
	}
}

void imap_session_resume(struct imap_session *s)
{
	imap_session_cmd_done(s);
	if (s->mode == IMAP_MODE_BUSY) {
		imap_session_mode(s, IMAP_MODE_COMMAND);
		if (s->core.conn != NULL && !conn_is_closing(s->core.conn))
			conn_resume_input(s->core.conn);
	} else if (s->mode != IMAP_MODE_COMMAND) {
		imap_session_mode(s, IMAP_MODE_COMMAND);
	}
}

static void imap_session_run(struct imap_session *s)
{
	imap_session_after(s, s->cmd->handler(s, s->cmd_arg));
}

static void imap_session_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED,
				  void *arg)
{
	struct imap_session *s = arg;

	event_free(s->timer);
	s->timer = NULL;
	imap_session_mode(s, IMAP_MODE_COMMAND);
	conn_resume_input(s->core.conn);
	imap_session_run(s);
}

/* Hold the command for the failed-login throttle's delay. */
static void imap_session_hold(struct imap_session *s, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	ASSERT(s->timer == NULL);
	s->timer = evtimer_new(net_thread_base(conn_thread(s->core.conn)),
			       imap_session_timer_cb, s);
	if (s->timer == NULL)
		PANIC("evtimer_new failed");
	imap_session_mode(s, IMAP_MODE_BUSY);
	conn_pause_input(s->core.conn);
	evtimer_add(s->timer, &tv);
}

static void imap_session_command(struct imap_session *s, struct str command)
{
	struct imap_cursor c;
	struct str tag, name, sub;
	const char *status, *text;
	const struct cmd_def *def;

	imap_cursor_init(&c, command);
	if (!imap_cursor_word(&c, &tag) || memchr(tag.p, '+', tag.n) != NULL) {
		imap_untagged(s, "BAD Missing or invalid tag");
		imap_session_bad(s);
		return;
	}
	s->tag = arena_strndup(&s->cmd_arena, tag.p, tag.n);
	if (!imap_cursor_sp(&c) || !imap_cursor_word(&c, &name)) {
		imap_tagged(s, "BAD", "Missing command");
		imap_session_after(s, -1);
		return;
	}
	if (str_caseeq(name, STR_LIT("UID"))) {
		if (!imap_cursor_sp(&c) || !imap_cursor_word(&c, &sub)) {
			imap_tagged(s, "BAD", "Missing UID command");
			imap_session_after(s, -1);
			return;
		}
		name = str_c(arena_printf(&s->cmd_arena, "UID %.*s",
					  (int)sub.n, sub.p));
	}
	def = cmd_table_lookup(imap_commands, imap_commands_count, name);
	if (def == NULL) {
		imap_tagged(s, "BAD", "Unknown command");
		imap_session_after(s, -1);
		return;
	}
	if (!imap_session_cmd_allowed(s, def, &status, &text)) {
		imap_tagged(s, status, "%s", text);
		imap_session_after(s, -1);
		return;
	}
	if (command.n > s->server->set.max_command_size &&
	    (def->flags & IMAP_CMD_BIG) == 0) {
		imap_tagged(s, "BAD", "Command too long");
		imap_session_after(s, -1);
		return;
	}
	s->cmd = def;
	if (imap_cursor_at_end(&c))
		s->cmd_arg = str_make(c.p, 0);
	else if (imap_cursor_sp(&c))
		s->cmd_arg = str_make(c.p, (size_t)(c.end - c.p));
	else {
		imap_tagged(s, "BAD", "Expected a space after the command");
		imap_session_after(s, -1);
		return;
	}
	if ((def->flags & IMAP_CMD_THROTTLED) != 0) {
		unsigned delay = auth_throttle_delay_ms(s->server->throttle,
							conn_peer_ip(s->core.conn));

		if (delay > 0) {
			/* The command lives in the reader until the next
			 * feed, which waits for the timer. */
			s->cmd_arg = arena_str(&s->cmd_arena, s->cmd_arg);
			imap_session_hold(s, delay);
			return;
		}
	}
	imap_session_run(s);
}

/* One line of a command. */
static void imap_session_line(struct imap_session *s, struct str line)
{
	uint64_t literal = 0;
	bool sync = false, must_close = false;

	switch (imap_reader_line(s->reader, line, &literal, &sync,
				 &must_close)) {
	case IMAP_READER_COMMAND:
		imap_session_command(s, imap_reader_command(s->reader));
		return;
	case IMAP_READER_LITERAL:
		if (sync)
			conn_write_str(s->core.conn, "+ Ready for literal data\r\n");
		return;
	case IMAP_READER_TOOBIG:
		conn_printf(s->core.conn, "%s NO [TOOBIG] Literal too large\r\n",
			    imap_reader_tag(s->reader));
		imap_session_bad(s);
		return;
	case IMAP_READER_OVERFLOW:
		conn_printf(s->core.conn, "%s BAD Command too long\r\n",
			    imap_reader_tag(s->reader));
		imap_reader_reset(s->reader);
		if (must_close) {
			imap_untagged(s, "BYE Cannot resynchronise, closing");
			conn_close(s->core.conn);
			return;
		}
		imap_session_bad(s);
		return;
	case IMAP_READER_BAD:
		imap_untagged(s, "BAD Malformed command");
		imap_session_bad(s);
		return;
	}
}

/* ---- store requests ---- */

struct imap_submission {
	struct imap_session *s;
	imap_store_done_fn *done;
	void *arg;
};

static void imap_session_store_done(void *arg, struct store_result *result)
{
	struct imap_submission *sub = arg;
	struct imap_session *s = sub->s;

	ASSERT(s->store_pending > 0);
	s->store_pending--;
	sub->done(s, result, sub->arg);
	store_result_free(&result);
	free(sub);
	if (s->core.conn == NULL && s->store_pending == 0)
		imap_session_free(&s);
}

void imap_session_submit(struct imap_session *s, const struct store_req *req,
			 imap_store_done_fn *done, void *arg)
{
	struct imap_submission *sub = xcalloc(1, sizeof(*sub));

	sub->s = s;
	sub->done = done;
	sub->arg = arg;
	s->store_pending++;
	store_submit(imap_session_store(s), req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     imap_session_store_done, sub);
}

/* ---- conn callbacks ---- */

static void imap_on_open(struct conn *conn)
{
	struct imap_service *service = conn_handler_ctx(conn);
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct strbuf caps = STRBUF_INIT;

	s->core.conn = conn;
	s->service = service;
	s->server = service->server;
	s->state = IMAP_STATE_NOT_AUTH;
	s->mode = IMAP_MODE_COMMAND;
	arena_init(&s->cmd_arena, 0);
	arena_init(&s->msg_arena, 0);
	s->reader = imap_reader_new(s->server->set.max_command_size,
				    s->server->set.max_command_size);
	s->thread = imap_thread_get(s->server, conn_thread(conn));
	s->next = s->thread->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	s->thread->sessions = s;
	conn_set_data(conn, s);
	imap_hub_subscribe(imap_session_store(s));
	conn_set_idle_timeout(conn, s->server->set.login_timeout_s);
	imap_session_capabilities(s, &caps);
	imap_untagged(s, "OK [CAPABILITY %s] %s Posthorn IMAP ready",
		      strbuf_cstr(&caps), s->server->set.hostname);
	strbuf_free(&caps);
}

static void imap_on_input(struct conn *conn)
{
	struct imap_session *s = conn_data(conn);
	struct str line, data;
	unsigned flags;
	size_t max;
	int ret;

	while (!conn_is_closing(conn) && s->mode != IMAP_MODE_BUSY) {
		uint64_t left = imap_reader_literal_left(s->reader);

		if (s->mode == IMAP_MODE_COMMAND && left > 0) {
			if (conn_read_bytes(conn, left > SIZE_MAX ? SIZE_MAX :
					    (size_t)left, &data) == 0)
				return;
			imap_reader_literal(s->reader, data);
			continue;
		}
		max = s->mode == IMAP_MODE_SASL ? IMAP_SASL_LINE_MAX :
		      s->server->set.max_command_size;
		ret = conn_read_line(conn, max, &line, &flags);
		if (ret == 0)
			return;
		if (ret < 0) {
			if (s->mode == IMAP_MODE_SASL) {
				auth_sasl_free(&s->core.sasl);
				imap_tagged(s, "BAD", "Response too long");
				imap_session_resume(s);
				imap_session_bad(s);
				continue;
			}
			/* The tag went with the discarded line, and what
			 * follows may be the rest of a literal: stop here. */
			imap_untagged(s, "BYE Line too long");
			imap_session_enter(s, IMAP_STATE_LOGOUT);
			conn_close(conn);
			return;
		}
		switch (s->mode) {
		case IMAP_MODE_SASL:
			imap_sasl_response(s, line);
			break;
		case IMAP_MODE_IDLE:
			imap_idle_line(s, line);
			break;
		case IMAP_MODE_COMMAND:
			imap_session_line(s, line);
			break;
		case IMAP_MODE_BUSY:
			break;
		}
	}
}

/* Run the suspended command's continuation when nothing else holds it. */
static void imap_session_continue(struct imap_session *s)
{
	int ret;

	if (s->mode != IMAP_MODE_BUSY || s->cont == NULL ||
	    s->store_pending > 0 || s->timer != NULL)
		return;
	ret = s->cont(s);
	if (ret == 0)
		return;
	if (ret < 0 && s->replied_bad)
		imap_session_bad(s);
	imap_session_resume(s);
}

static void imap_on_drained(struct conn *conn)
{
	struct imap_session *s = conn_data(conn);

	if (s != NULL)
		imap_session_continue(s);
}

/* A yield counts as a pending completion: a session closed meanwhile is
 * freed here, not under the task. */
static void imap_session_yield_task(void *arg)
{
	struct imap_session *s = arg;

	ASSERT(s->store_pending > 0);
	s->store_pending--;
	if (s->core.conn == NULL) {
		if (s->store_pending == 0)
			imap_session_free(&s);
		return;
	}
	imap_session_continue(s);
}

void imap_session_yield(struct imap_session *s)
{
	s->store_pending++;
	task_queue_post(net_thread_task_queue(conn_thread(s->core.conn)),
			imap_session_yield_task, s);
}

static void imap_on_shutdown(struct conn *conn)
{
	struct imap_session *s = conn_data(conn);

	imap_untagged(s, "BYE Server shutting down");
	/* A client that does not read (a FETCH waiting for it) would hold
	 * the shutdown until the output timeout. */
	if (conn_output_pending(conn) > IMAP_OUTPUT_HIGH)
		conn_abort(conn, "shutdown");
	else
		conn_close(conn);
}

static void imap_on_close(struct conn *conn, const char *reason)
{
	struct imap_session *s = conn_data(conn);

	if (s == NULL)
		return;
	log_debug(conn_sid(conn), "imap session closed: %s", reason);
	conn_set_data(conn, NULL);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->thread->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->core.conn = NULL;
	if (s->store_pending > 0)
		return;	/* the last completion frees the session */
	imap_session_free(&s);
}

const struct conn_handler imap_conn_handler = {
	.on_open = imap_on_open,
	.on_input = imap_on_input,
	.on_drained = imap_on_drained,
	.on_shutdown = imap_on_shutdown,
	.on_close = imap_on_close,
};
