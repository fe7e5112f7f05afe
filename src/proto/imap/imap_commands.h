/* imap_commands.h: private to proto/imap: the command table, its one
 * policy check and the dispatcher, the capability list built from it, and
 * the handlers (cmd_*.c). imap_session.c and imap_view.c do not use it:
 * the driver (imap_server.c) and the handlers do. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_COMMANDS_H
#define POSTHORN_PROTO_IMAP_IMAP_COMMANDS_H

#include "proto/imap/imap_int.h"

extern const struct cmd_def imap_commands[];
extern const size_t imap_commands_count;
/* Whether def may run in the session's state; on false *status_r and
 * *text_r are the reply. */
bool imap_session_cmd_allowed(const struct imap_session *s,
			      const struct cmd_def *def, const char **status_r,
			      const char **text_r);
/* The capability list (without "CAPABILITY ") for the session's state. */
void imap_session_capabilities(struct imap_session *s, struct strbuf *out);
/* One complete command (tag, name, arguments, literals included): check
 * it against the table and run it, through the login gate for LOGIN and
 * AUTHENTICATE. */
void imap_commands_run(struct imap_session *s, struct str command);

/* Handlers (cmd_*.c); session is a struct imap_session. */
int cmd_capability(void *session, struct str arg);
int cmd_noop(void *session, struct str arg);
int cmd_logout(void *session, struct str arg);
int cmd_starttls(void *session, struct str arg);
int cmd_login(void *session, struct str arg);
int cmd_authenticate(void *session, struct str arg);
int cmd_enable(void *session, struct str arg);
int cmd_id(void *session, struct str arg);
int cmd_idle(void *session, struct str arg);
int cmd_select(void *session, struct str arg);
int cmd_examine(void *session, struct str arg);
int cmd_create(void *session, struct str arg);
int cmd_delete(void *session, struct str arg);
int cmd_rename(void *session, struct str arg);
int cmd_subscribe(void *session, struct str arg);
int cmd_unsubscribe(void *session, struct str arg);
int cmd_list(void *session, struct str arg);
int cmd_lsub(void *session, struct str arg);
int cmd_namespace(void *session, struct str arg);
int cmd_status(void *session, struct str arg);
int cmd_append(void *session, struct str arg);
int cmd_check(void *session, struct str arg);
int cmd_close(void *session, struct str arg);
int cmd_unselect(void *session, struct str arg);
int cmd_expunge(void *session, struct str arg);
int cmd_uid_expunge(void *session, struct str arg);
int cmd_store(void *session, struct str arg);
int cmd_copy(void *session, struct str arg);
int cmd_move(void *session, struct str arg);
int cmd_fetch(void *session, struct str arg);
int cmd_search(void *session, struct str arg);
int cmd_getquotaroot(void *session, struct str arg);
int cmd_getquota(void *session, struct str arg);
int cmd_setquota(void *session, struct str arg);
int cmd_sort(void *session, struct str arg);
int cmd_compress(void *session, struct str arg);
int cmd_thread(void *session, struct str arg);

/* cmd_auth.c: the session core's SASL callbacks ("+ challenge", and the
 * answer to the end of an AUTHENTICATE). */
void imap_sasl_challenge(struct session *core, const char *b64);
void imap_sasl_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech);
/* cmd_idle.c: a line while idling. */
void imap_idle_line(struct imap_session *s, struct str line);

#endif
