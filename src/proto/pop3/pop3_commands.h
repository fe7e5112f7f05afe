/* pop3_commands.h: private to proto/pop3: the command table, its policy
 * checks and the dispatcher, and the AUTH replies the session core asks
 * for. pop3_session.c does not use it: the driver (pop3_server.c) and the
 * handlers do. */
#ifndef POSTHORN_PROTO_POP3_POP3_COMMANDS_H
#define POSTHORN_PROTO_POP3_POP3_COMMANDS_H

#include "proto/common/cmd_table.h"
#include "proto/pop3/pop3_int.h"

enum pop3_cmd_flag {
	POP3_CMD_AUTHORIZATION = 1 << 0,	/* only before login */
	POP3_CMD_TRANSACTION = 1 << 1,		/* only after login */
	POP3_CMD_STLS = 1 << 2,		/* STARTTLS listener, before TLS */
	POP3_CMD_PLAINTEXT = 1 << 3,	/* a cleartext password: TLS or the
					 * plaintext rule */
	POP3_CMD_THROTTLED = 1 << 4,	/* a login: passes the gate first */
	POP3_CMD_NO_ARG = 1 << 5,
	POP3_CMD_SASL = 1 << 6,		/* CAPA lists "SASL mechs" */
};
extern const struct cmd_def pop3_commands[];
extern const size_t pop3_commands_count;

/* Whether the table entry may run now; the one policy check. On false
 * *err_r is the -ERR text. */
bool pop3_session_cmd_allowed(const struct pop3_session *s,
			      const struct cmd_def *def, const char **err_r);
/* Whether CAPA lists the entry's capability now. */
bool pop3_session_cmd_offered(const struct pop3_session *s,
			      const struct cmd_def *def);
/* One command line: parse, look up, check, pass the login gate, run;
 * failures count towards the bad-command budget. */
void pop3_commands_run(struct pop3_session *s, struct str line);

/* The session core's SASL callbacks: "+ challenge", and the answer to the
 * end of an AUTH exchange. */
void pop3_auth_challenge(struct session *core, const char *b64);
void pop3_auth_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech);

#endif
