/* imap_commands.c: the IMAP command table, the dispatcher that checks
 * its flags before any handler runs, and the capability list built from
 * it. "UID x" commands are entries of their own, so that RFC 3501 7.4.1 (no
 * EXPUNGE during FETCH, STORE, SEARCH) is a flag. */
#include "proto/imap/imap_commands.h"

#include <string.h>

#define A IMAP_CMD_AUTH
#define SEL (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)

const struct cmd_def imap_commands[] = {
	{ "CAPABILITY", cmd_capability, 0, NULL },
	{ "NOOP", cmd_noop, 0, NULL },
	{ "LOGOUT", cmd_logout, 0, NULL },
	{ "ID", cmd_id, 0, "ID" },
	{ "ENABLE", cmd_enable, A, "ENABLE" },
	{ "STARTTLS", cmd_starttls, IMAP_CMD_NOT_AUTH | IMAP_CMD_STARTTLS,
	  "STARTTLS" },
	{ "LOGIN", cmd_login, IMAP_CMD_NOT_AUTH | IMAP_CMD_THROTTLED, NULL },
	{ "AUTHENTICATE", cmd_authenticate,
	  IMAP_CMD_NOT_AUTH | IMAP_CMD_THROTTLED, NULL },
	{ "IDLE", cmd_idle, A, "IDLE" },
	{ "COMPRESS", cmd_compress, A, "COMPRESS=DEFLATE" },
	{ "SELECT", cmd_select, A, NULL },
	{ "EXAMINE", cmd_examine, A, NULL },
	{ "CREATE", cmd_create, A, NULL },
	{ "DELETE", cmd_delete, A, NULL },
	{ "RENAME", cmd_rename, A, NULL },
	{ "SUBSCRIBE", cmd_subscribe, A, NULL },
	{ "UNSUBSCRIBE", cmd_unsubscribe, A, NULL },
	{ "LIST", cmd_list, A, NULL },
	{ "LSUB", cmd_lsub, A, NULL },
	{ "NAMESPACE", cmd_namespace, A, "NAMESPACE" },
	{ "STATUS", cmd_status, A, NULL },
	{ "APPEND", cmd_append, A | IMAP_CMD_BIG, NULL },
	{ "CHECK", cmd_check, SEL, NULL },
	{ "CLOSE", cmd_close, SEL, NULL },
	{ "UNSELECT", cmd_unselect, SEL, "UNSELECT" },
	{ "EXPUNGE", cmd_expunge, SEL, NULL },
	{ "UID EXPUNGE", cmd_uid_expunge, SEL | IMAP_CMD_UID, NULL },
	{ "STORE", cmd_store, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID STORE", cmd_store, SEL | IMAP_CMD_UID, NULL },
	{ "COPY", cmd_copy, SEL, NULL },
	{ "UID COPY", cmd_copy, SEL | IMAP_CMD_UID, NULL },
	{ "MOVE", cmd_move, SEL, "MOVE" },
	{ "UID MOVE", cmd_move, SEL | IMAP_CMD_UID, NULL },
	{ "FETCH", cmd_fetch, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID FETCH", cmd_fetch, SEL | IMAP_CMD_UID, NULL },
	{ "SEARCH", cmd_search, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID SEARCH", cmd_search, SEL | IMAP_CMD_UID, NULL },
	/* RFC 9208: one quota root "" per user, the STORAGE resource. */
	{ "GETQUOTAROOT", cmd_getquotaroot, A, "QUOTA" },
	{ "GETQUOTA", cmd_getquota, A, "QUOTA=RES-STORAGE" },
	{ "SETQUOTA", cmd_setquota, A, NULL },
	{ "SORT", cmd_sort, SEL | IMAP_CMD_NO_EXPUNGE, "SORT SORT=DISPLAY" },
	{ "UID SORT", cmd_sort, SEL | IMAP_CMD_UID, NULL },
	{ "THREAD", cmd_thread, SEL | IMAP_CMD_NO_EXPUNGE,
	  "THREAD=ORDEREDSUBJECT THREAD=REFERENCES" },
	{ "UID THREAD", cmd_thread, SEL | IMAP_CMD_UID, NULL },
};

const size_t imap_commands_count = ARRAY_SIZE(imap_commands);

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
		const char *mechs = session_sasl_mechanisms(&s->core);
		struct str rest = str_c(mechs), mech;

		while (rest.n > 0) {
			str_split(rest, ' ', &mech, &rest);
			if (mech.n > 0)
				strbuf_printf(out, " AUTH=%.*s", (int)mech.n,
					      mech.p);
		}
		if (!session_plaintext_ok(&s->core))
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

static void imap_commands_exec(struct imap_session *s)
{
	imap_session_after(s, s->cmd->handler(s, s->cmd_arg));
}

/* The login gate opened: run the held LOGIN / AUTHENTICATE, or refuse
 * it. */
static void imap_gate_open(struct session *core, struct str arg, bool go)
{
	struct imap_session *s = (struct imap_session *)core;

	imap_session_mode(s, IMAP_MODE_COMMAND);
	if (!go) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Too many login attempts "
			    "from your address, try again later");
		/* a NO, but a connection that keeps asking is hammering:
		 * it spends its error budget */
		session_bad(&s->core);
		imap_session_after(s, -1);
		return;
	}
	s->cmd_arg = arena_str(&s->cmd_arena, arg);
	imap_commands_exec(s);
}

void imap_commands_run(struct imap_session *s, struct str command)
{
	struct imap_cursor c;
	struct str tag, name, sub;
	const char *status, *text;
	const struct cmd_def *def;

	imap_cursor_init(&c, command);
	if (!imap_cursor_word(&c, &tag) || memchr(tag.p, '+', tag.n) != NULL) {
		imap_untagged(s, "BAD Missing or invalid tag");
		session_bad(&s->core);
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
	if ((def->flags & IMAP_CMD_THROTTLED) != 0 &&
	    !session_login_gate(&s->core, s->cmd_arg, imap_gate_open)) {
		imap_session_mode(s, IMAP_MODE_BUSY);
		return;
	}
	imap_commands_exec(s);
}
