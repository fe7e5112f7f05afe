/* pop3_cmd.h: a POP3 command line split into keyword and arguments
 * (RFC 1939 3, RFC 2449 4 line limit), message-number arguments, and the
 * extent of a TOP reply. Pure: no I/O, no allocation. */
#ifndef POSTHORN_PROTO_POP3_POP3_CMD_H
#define POSTHORN_PROTO_POP3_POP3_CMD_H

#include "base/str.h"

/* RFC 2449 4: a command line is at most 255 octets with its CRLF. */
#define POP3_CMD_LINE_MAX 253
/* AUTH with an initial response and SASL response lines may be longer
 * (SCRAM, Kerberos tickets); RFC 4954's 12288 is the bound SMTP uses too. */
#define POP3_AUTH_LINE_MAX 12288
#define POP3_CMD_NAME_MAX 16
#define POP3_CMD_MAX_ARGS 2

enum pop3_cmd_result {
	POP3_CMD_OK,
	POP3_CMD_EMPTY,		/* nothing but spaces */
	POP3_CMD_TOO_LONG,	/* over POP3_CMD_LINE_MAX (AUTH excepted) */
	POP3_CMD_BAD,		/* keyword not 1-16 letters/digits, or a
				 * control character in the line */
};

struct pop3_cmd {
	struct str name;	/* the keyword as sent (views into the line) */
	/* Everything after the keyword and its separating spaces, trailing
	 * spaces removed: PASS takes it whole (passwords may hold spaces). */
	struct str arg;
	struct str args[POP3_CMD_MAX_ARGS];	/* arg split at spaces */
	size_t n_args;		/* POP3_CMD_MAX_ARGS + 1 when there are more */
};

/* Split a line (without its CRLF). On POP3_CMD_OK *cmd_r holds views into
 * line; on any other result *cmd_r is zeroed. */
enum pop3_cmd_result pop3_cmd_parse(struct str line, struct pop3_cmd *cmd_r);

/* A message number or count: 1-10 decimal digits, value from min to
 * UINT32_MAX. False for anything else (signs, spaces, overflow). */
bool pop3_cmd_number(struct str s, uint32_t min, uint32_t *value_r);

/* How many bytes of a message TOP sends: the header, the blank line that
 * ends it, and then at most `lines` lines of the body (a line ends at LF).
 * A message without a blank line is all header and is sent whole. */
size_t pop3_cmd_top_size(const char *msg, size_t size, uint32_t lines);

#endif
