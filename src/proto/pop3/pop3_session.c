/* pop3_session.c: the POP3 session's own part: replies, the state
 * machine, login into a locked maildrop snapshot, multi-line bodies under
 * back-pressure, and the UPDATE state's one store write. The session core
 * (proto/common/session.h) does the rest, the driver is pop3_server.c. */
#include "base/log.h"
#include "net/net.h"
#include "proto/pop3/pop3_int.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const state_names[] = {
	[POP3_STATE_AUTHORIZATION] = "authorization",
	[POP3_STATE_AUTH] = "auth",
	[POP3_STATE_TRANSACTION] = "transaction",
	[POP3_STATE_UPDATE] = "update",
};

/* ---- replies and state ---- */

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
	session_trace(&s->core, "state", state_names[s->state],
		      state_names[state]);
	s->state = state;
}

/* ---- login ---- */

int pop3_session_login(struct pop3_session *s, const char *address,
		       const char *how)
{
	struct store_reader *reader = session_reader(&s->core);
	struct store_user user;
	struct arena a;
	const char *error = "no store reader";
	int ret = -1;

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
	if ((ret = pop3_maildrop_lock(s->server, session_store(&s->core),
				      user.id, &error)) <= 0) {
		if (ret < 0) {
			log_error(conn_sid(s->core.conn), "pop3 maildrop lock "
				  "of %s: %s", address, error);
			pop3_err(s, "[SYS/TEMP] Temporary failure, try again later");
			return -1;
		}
		log_info(conn_sid(s->core.conn), "pop3 login %s user=%s: maildrop in use",
			 how, address);
		pop3_err(s, "[IN-USE] Maildrop already locked by another session");
		return -1;
	}
	if (pop3_maildrop_load(&s->drop, reader, user.id, &error) < 0) {
		pop3_maildrop_unlock(s->server, session_store(&s->core), user.id);
		log_error(conn_sid(s->core.conn), "pop3 maildrop of %s: %s", address,
			  error);
		pop3_err(s, "[SYS/TEMP] Cannot open the maildrop, try again later");
		return -1;
	}
	s->locked = true;
	if (!session_login(&s->core, address, how)) {
		pop3_maildrop_unlock(s->server, session_store(&s->core), user.id);
		pop3_maildrop_clear(&s->drop);
		s->locked = false;
		return -1;
	}
	pop3_session_enter(s, POP3_STATE_TRANSACTION);
	conn_set_idle_timeout(s->core.conn, s->server->set.autologout_s);
	log_info(session_sid(&s->core), "pop3 maildrop user=%s messages=%u",
		 s->core.user, s->drop.count);
	pop3_ok(s, "%s has %u messages (%llu octets)", s->core.user, s->drop.count,
		(unsigned long long)s->drop.size);
	return 1;
}

/* ---- multi-line bodies ---- */

void pop3_session_pump(struct pop3_session *s)
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

/* The one log line of a session's end. */
void pop3_session_log_end(struct pop3_session *s, const char *reason)
{
	log_info(session_sid(&s->core),
		 "pop3 session end user=%s ip=%s retrieved=%u deleted=%u reason=%s",
		 s->core.user != NULL ? s->core.user : "", s->core.peer_ip,
		 s->retrieved, s->expunged, reason);
}

static void pop3_session_updated(void *arg, struct store_result *result)
{
	struct pop3_session *s = arg;
	bool ok = result->status == 0;

	if (ok)
		s->expunged = (uint32_t)result->n_uids;
	else
		log_error(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
			  "pop3 update of %s: %s", s->core.user, result->error);
	store_result_free(&result);
	if (s->core.conn == NULL)	/* the client left while the store worked */
		pop3_session_log_end(s, ok ? "closed during update" :
				     "update failed, client gone");
	if (!session_pending_end(&s->core))
		return;		/* freed with the session */
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
	session_hold(&s->core);
	session_pending_begin(&s->core);
	store_submit(session_store(&s->core), &s->update_req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     pop3_session_updated, s);
	return 0;
}

