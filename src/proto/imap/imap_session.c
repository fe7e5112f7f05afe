/* imap_session.c: the IMAP session's own part: the state machine and its
 * modes, tagged and untagged replies (with the pending mailbox updates
 * before a tagged OK), the end and resumption of a command, login, and
 * store requests with ordered completion. The session core
 * (proto/common/session.h) does the rest, the driver is imap_server.c. */
#include "base/log.h"
#include "mail/mutf7.h"
#include "mail/imap_string.h"
#include "net/net.h"
#include "proto/common/session_read.h"
#include "proto/imap/imap_int.h"

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
	/* Not after LOGOUT's BYE either: the session is over (as Dovecot,
	 * which sends no updates then). */
	if (s->view != NULL && strcmp(status, "BAD") != 0 &&
	    s->state != IMAP_STATE_LOGOUT)
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
	log_error(session_sid(&s->core), "imap %s: %s", what, error);
	imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
	return -1;
}

int imap_store_write_failed(struct imap_session *s, const char *what,
			    const struct store_result *res)
{
	if (res->unavailable)
		return imap_store_failed(s, what, res->error);
	log_error(session_sid(&s->core), "imap %s: %s", what, res->error);
	imap_tagged(s, "NO", "[SERVERBUG] %s", res->error);
	return -1;
}

void imap_session_enter(struct imap_session *s, enum imap_state state)
{
	session_trace(&s->core, "state", state_names[s->state],
		      state_names[state]);
	s->state = state;
}

void imap_session_mode(struct imap_session *s, enum imap_mode mode)
{
	session_trace(&s->core, "mode", mode_names[s->mode], mode_names[mode]);
	s->mode = mode;
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


struct store_reader *imap_session_reader(struct imap_session *s)
{
	return session_reader(&s->core);
}

void imap_user_read(struct store_reader *r, struct imap_read *rd, void *arg)
{
	struct imap_user_lookup *ul = arg;
	struct store_user u;
	const char *error;

	/* Not found or failed: user_id stays 0, whose mailboxes are none
	 * (the user was deleted meanwhile, or the store is away). */
	if (r != NULL && store_user_by_address(r, &rd->arena, ul->address, &u,
					       &error) == 1)
		ul->user_id = u.id;
}

bool imap_session_login(struct imap_session *s, const char *user,
			const char *mech, bool user_id_read)
{
	if (!session_login(&s->core, user, mech))
		return false;
	if (!user_id_read) {
		struct imap_user_lookup ul = { user, 0 };
		struct imap_read rd = { 0 };

		arena_init(&rd.arena, 0);
		imap_user_read(imap_session_reader(s), &rd, &ul);
		arena_deinit(&rd.arena);
		s->user_id = ul.user_id;
	}
	imap_session_enter(s, IMAP_STATE_AUTH);
	conn_set_idle_timeout(s->core.conn, s->server->set.idle_timeout_s);
	/* From now on APPEND may carry messages up to APPENDLIMIT. */
	imap_reader_free(&s->reader);
	s->reader = imap_reader_new(s->server->set.max_command_size +
				    s->server->set.max_append_size,
				    s->server->set.max_append_size);
	s->reader_authed = true;
	return true;
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
	arena_clear(&s->meta_arena);
	/* The command is done with its bytes: an idle session keeps no
	 * APPEND-sized buffer. */
	if (s->reader != NULL)
		imap_reader_reset(s->reader);
	imap_append_parse_free(&s->append_parse);
	if (s->logout && s->core.conn != NULL)
		conn_close(s->core.conn);
}

void imap_session_after(struct imap_session *s, int ret)
{
	/* NO is an answer, not a client error: only BAD counts. */
	if (ret < 0 && s->replied_bad)
		session_bad(&s->core);
	if (ret != 0) {
		imap_session_cmd_done(s);
		return;
	}
	/* Suspended: SASL and IDLE go on reading lines; anything else
	 * waits for the store or for output with input paused. */
	if (s->mode == IMAP_MODE_COMMAND) {
		imap_session_mode(s, IMAP_MODE_BUSY);
		session_hold(&s->core);
	}
}

void imap_session_resume(struct imap_session *s)
{
	imap_session_cmd_done(s);
	if (s->mode == IMAP_MODE_BUSY) {
		imap_session_mode(s, IMAP_MODE_COMMAND);
		session_release(&s->core);
	} else if (s->mode != IMAP_MODE_COMMAND) {
		imap_session_mode(s, IMAP_MODE_COMMAND);
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

	sub->done(s, result, sub->arg);
	store_result_free(&result);
	free(sub);
	(void)session_pending_end(&s->core);	/* may free the session */
}

void imap_session_submit(struct imap_session *s, const struct store_req *req,
			 imap_store_done_fn *done, void *arg)
{
	struct imap_submission *sub = xcalloc(1, sizeof(*sub));

	sub->s = s;
	sub->done = done;
	sub->arg = arg;
	session_pending_begin(&s->core);
	store_submit(session_store(&s->core), req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     imap_session_store_done, sub);
}

/* ---- store reads ---- */

void imap_read_error(struct imap_read *rd, const char *error)
{
	rd->error = arena_strdup(&rd->arena, error != NULL ? error :
				 "store unavailable");
}

static void imap_read_run(struct store_reader *r, void *arg)
{
	struct imap_read *rd = arg;

	if (r == NULL) {
		rd->error = "store unavailable";
		return;
	}
	rd->fn(r, rd, rd->arg);
}

static void imap_read_free(struct imap_read *rd)
{
	arena_deinit(&rd->arena);
	strbuf_free(&rd->out);
	free(rd);
}

static int imap_read_done(struct session *core, void *arg, bool gone)
{
	struct imap_read *rd = arg;
	struct imap_session *s = rd->s;
	int ret = 0;

	if (!gone) {
		imap_write(s, rd->out.p, rd->out.n);
		ret = rd->done(s, rd, rd->arg);
	}
	imap_read_free(rd);
	if (gone || !session_reads_pooled(core))
		return ret;	/* inline: the handler's caller goes on */
	/* Came back later, as a continuation does. */
	if (ret == 0) {
		/* Still suspended (output to drain, another read out). */
		session_hold(core);
		return 0;
	}
	if (ret < 0 && s->replied_bad)
		session_bad(core);
	imap_session_resume(s);
	return 1;
}

int imap_session_read(struct imap_session *s, imap_read_fn *fn,
		      imap_read_done_fn *done, void *arg)
{
	struct imap_read *rd = xcalloc(1, sizeof(*rd));

	arena_init(&rd->arena, 0);
	rd->s = s;
	rd->fn = fn;
	rd->done = done;
	rd->arg = arg;
	return session_read(&s->core, imap_read_run, imap_read_done, rd);
}

/* ---- continuations ---- */

void imap_session_continue(struct imap_session *s)
{
	int ret;

	/* A continuation runs once its output went out, not while a store
	 * request (or a yield) or the login gate holds the command. */
	if (s->mode != IMAP_MODE_BUSY || s->cont == NULL ||
	    s->core.pending > 0 || s->core.timer != NULL)
		return;
	ret = s->cont(s);
	if (ret == 0)
		return;
	if (ret < 0 && s->replied_bad)
		session_bad(&s->core);
	imap_session_resume(s);
}

/* A yield counts as a pending completion: a session closed meanwhile is
 * freed here, not under the task. */
static void imap_session_yield_task(void *arg)
{
	struct imap_session *s = arg;

	if (!session_pending_end(&s->core) || s->core.conn == NULL)
		return;
	imap_session_continue(s);
}

void imap_session_yield(struct imap_session *s)
{
	session_pending_begin(&s->core);
	task_queue_post(net_thread_task_queue(conn_thread(s->core.conn)),
			imap_session_yield_task, s);
}
