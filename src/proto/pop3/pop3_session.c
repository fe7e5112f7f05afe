/* pop3_session.c: the POP3 session's own part: replies, the state
 * machine, login into a locked maildrop snapshot, multi-line bodies under
 * back-pressure (pop3_body.c), and the UPDATE state's one store write. The session core
 * (proto/common/session.h) does the rest, the driver is pop3_server.c. */
#include "base/log.h"
#include "net/net.h"
#include "proto/common/session_read.h"
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

/* What the maildrop open does off the I/O thread when there is a read
 * pool: the user's id, the lock (ours, then the nodes'), the snapshot. */
struct pop3_open {
	struct pop3_server *server;
	struct store *store;
	char *address, *how;
	enum { OPEN_OK, OPEN_FAILED, OPEN_IN_USE, OPEN_NO_DROP } result;
	char error[256];	/* OPEN_FAILED, OPEN_NO_DROP */
	struct pop3_maildrop drop;	/* OPEN_OK: locked and loaded */
};

static void pop3_open_fail(struct pop3_open *o, int result, const char *what,
			   const char *error)
{
	o->result = result;
	snprintf(o->error, sizeof(o->error), "%s: %s", what, error);
}

/* On a read pool thread (or here without one). */
static void pop3_open_run(struct store_reader *reader, void *arg)
{
	struct pop3_open *o = arg;
	struct store_user user;
	struct arena a;
	const char *error = "no store reader";
	int ret = -1;

	arena_init(&a, 0);
	if (reader == NULL ||
	    (ret = store_user_by_address(reader, &a, o->address, &user,
					 &error)) <= 0) {
		pop3_open_fail(o, OPEN_FAILED, "login",
			       ret == 0 ? "user vanished" : error);
		arena_deinit(&a);
		return;
	}
	arena_deinit(&a);
	if ((ret = pop3_maildrop_lock(o->server, o->store, user.id,
				      &error)) <= 0) {
		if (ret < 0)
			pop3_open_fail(o, OPEN_FAILED, "maildrop lock", error);
		else
			o->result = OPEN_IN_USE;
		return;
	}
	if (pop3_maildrop_load(&o->drop, reader, user.id, &error) < 0) {
		pop3_maildrop_unlock(o->server, o->store, user.id);
		pop3_open_fail(o, OPEN_NO_DROP, "maildrop", error);
		return;
	}
	o->result = OPEN_OK;
}

static void pop3_open_free(struct pop3_open *o)
{
	pop3_maildrop_clear(&o->drop);
	free(o->address);
	free(o->how);
	free(o);
}

/* The maildrop is open (or not): log in and answer. */
static int pop3_open_done(struct session *core, void *arg, bool gone)
{
	struct pop3_session *s = (struct pop3_session *)core;
	struct pop3_open *o = arg;
	int ret = -1;

	if (o->result == OPEN_OK) {
		/* Locked: the session's from now on, even when the client
		 * left meanwhile (pop3_free unlocks). */
		s->drop = o->drop;
		o->drop = (struct pop3_maildrop){ 0 };
		s->locked = true;
	}
	if (gone) {
		pop3_open_free(o);
		return -1;
	}
	switch (o->result) {
	case OPEN_OK:
		if (!session_login(&s->core, o->address, o->how)) {
			pop3_maildrop_release(s);
			pop3_maildrop_clear(&s->drop);
			break;
		}
		pop3_session_enter(s, POP3_STATE_TRANSACTION);
		conn_set_idle_timeout(s->core.conn, s->server->set.autologout_s);
		log_info(session_sid(&s->core), "pop3 maildrop user=%s messages=%u",
			 s->core.user, s->drop.count);
		pop3_ok(s, "%s has %u messages (%llu octets)", s->core.user,
			s->drop.count, (unsigned long long)s->drop.size);
		ret = 1;
		break;
	case OPEN_IN_USE:
		log_info(session_sid(&s->core), "pop3 login %s user=%s: maildrop in use",
			 o->how, o->address);
		pop3_err(s, "[IN-USE] Maildrop already locked by another session");
		break;
	case OPEN_FAILED:
		log_error(session_sid(&s->core), "pop3 %s %s", o->address, o->error);
		pop3_err(s, "[SYS/TEMP] Temporary failure, try again later");
		break;
	case OPEN_NO_DROP:
		log_error(session_sid(&s->core), "pop3 %s %s", o->address, o->error);
		pop3_err(s, "[SYS/TEMP] Cannot open the maildrop, try again later");
		break;
	}
	pop3_open_free(o);
	return ret;
}

int pop3_session_login(struct pop3_session *s, const char *address,
		       const char *how)
{
	struct pop3_open *o = xcalloc(1, sizeof(*o));

	free(s->user_arg);
	s->user_arg = NULL;
	o->server = s->server;
	o->store = session_store(&s->core);
	o->address = xstrdup(address);
	o->how = xstrdup(how);
	return session_read(&s->core, pop3_open_run, pop3_open_done, o);
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

/* The maildrop is released: the last answer. */
static int pop3_session_bye(struct session *core, void *arg UNUSED, bool gone)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (gone) {
		/* pop3_closed left the log line to us (a read was out) */
		if (core->conn == NULL)
			pop3_session_log_end(s, "closed during quit");
		return -1;
	}
	/* RFC 1939 6: -ERR when the deletions could not all be made;
	 * the store write is one transaction, so none were. */
	if (s->update_failed)
		pop3_err(s, "[SYS/TEMP] Deleting the messages failed, none deleted");
	else if (s->drop.n_deleted == 0)
		pop3_ok(s, "Bye, no messages deleted");
	else
		pop3_ok(s, "Bye, %u messages deleted", s->drop.n_deleted);
	conn_close(s->core.conn);
	return 1;
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
	if (!session_pending_end(&s->core) || s->core.conn == NULL)
		return;		/* freed with the session */
	s->update_failed = !ok;
	pop3_maildrop_release_then(s, pop3_session_bye);
}

int pop3_session_update(struct pop3_session *s)
{
	size_t n;

	if (s->drop.n_deleted == 0) {
		pop3_session_enter(s, POP3_STATE_UPDATE);
		return pop3_maildrop_release_then(s, pop3_session_bye);
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

