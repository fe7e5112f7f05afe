/* smtp_commands.h: private to proto/smtp: the command table, its one
 * policy check and the dispatcher, and the AUTH replies the session core
 * asks for. smtp_session.c does not use it: the driver (smtp_server.c)
 * and the handlers do. */
#ifndef POSTHORN_PROTO_SMTP_SMTP_COMMANDS_H
#define POSTHORN_PROTO_SMTP_SMTP_COMMANDS_H

#include "proto/common/cmd_table.h"
#include "proto/smtp/smtp_int.h"

enum smtp_cmd_flag {
	SMTP_CMD_NEEDS_HELO = 1 << 0,	/* 503 before HELO/EHLO */
	SMTP_CMD_NO_TX = 1 << 1,	/* 503 inside a transaction */
	SMTP_CMD_NEEDS_MAIL = 1 << 2,	/* 503 without MAIL */
	SMTP_CMD_NEEDS_RCPT = 1 << 3,	/* 503 without a recipient */
	SMTP_CMD_NO_ARG = 1 << 4,	/* 501 with an argument */
	SMTP_CMD_STARTTLS = 1 << 5,	/* only on a STARTTLS listener before
					 * TLS and before AUTH */
	SMTP_CMD_SASL = 1 << 6,		/* only on submission, before AUTH */
	SMTP_CMD_SUBMIT_AUTH = 1 << 7,	/* submission: 530 before AUTH */
	SMTP_CMD_EHLO_ONLY = 1 << 8,	/* only after EHLO (not HELO) */
	SMTP_CMD_NOT_LMTP = 1 << 9,	/* HELO, EHLO: 500 on LMTP */
	SMTP_CMD_LMTP_ONLY = 1 << 10,	/* LHLO: 500 on SMTP */
};
extern const struct cmd_def smtp_commands[];
extern const size_t smtp_commands_count;

/* Whether the table entry may run now; the one policy check. On false
 * *st_r is the reply. */
bool smtp_session_cmd_allowed(const struct smtp_session *s,
			      const struct cmd_def *def,
			      struct smtp_status *st_r);
/* One command line: split, look up, check, run; failures count towards
 * the bad-command budget. */
void smtp_commands_run(struct smtp_session *s, struct str line);

/* The session core's SASL callbacks: "334 challenge", and the answer to
 * the end of an AUTH exchange. */
void smtp_auth_challenge(struct session *core, const char *b64);
void smtp_auth_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech);

#endif
