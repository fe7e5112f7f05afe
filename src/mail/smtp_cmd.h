/* smtp_cmd.h: an SMTP/LMTP command line split into verb and argument, and
 * the arguments of MAIL FROM and RCPT TO (path plus ESMTP parameters). */
#ifndef POSTHORN_MAIL_SMTP_CMD_H
#define POSTHORN_MAIL_SMTP_CMD_H

#include "mail/smtp_param.h"
#include "mail/smtp_path.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets including the
 * CRLF. The caller reading lines enforces it (500 5.5.2 Line too long). */
#define SMTP_CMD_LINE_MAX 512
/* RFC 5321 4.5.3.1.5: a reply line, including the CRLF. */
#define SMTP_REPLY_LINE_MAX 512

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,		/* LMTP, RFC 2033 */
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_cmd {
	enum smtp_verb verb;	/* SMTP_VERB_UNKNOWN when not recognised */
	struct str name;	/* the verb as sent */
	struct str arg;		/* after the first space, trailing blanks
				 * removed; empty when there is none */
};

/* Split a command line given without its CRLF. The verb is matched
 * case-insensitively. The views point into line. Returns false when the
 * line is empty or starts with a blank (syntax error, 500 5.5.2). */
bool smtp_cmd_split(struct str line, struct smtp_cmd *cmd_r);
/* The upper-case name of a verb ("UNKNOWN" for SMTP_VERB_UNKNOWN). */
const char *smtp_cmd_verb_name(enum smtp_verb verb);

/* Not an extension: with this bit in the ext mask of smtp_cmd_parse_mail()
 * and smtp_cmd_parse_rcpt(), a path without a domain ("<root>") is taken
 * (SMTP_PATH_BARE), for the local submission socket to qualify. */
#define SMTP_CMD_BARE_PATHS (1u << 30)

struct smtp_mail {
	struct smtp_path path;
	struct smtp_mail_params params;
};

struct smtp_rcpt {
	struct smtp_path path;
	struct smtp_rcpt_params params;
};

/* Parse the argument of MAIL: "FROM:" [SP] "<path>" [SP params]. "FROM:"
 * is case-insensitive; one space after the colon is tolerated, nothing
 * else. UTF-8 in the path is allowed only with the SMTPUTF8 parameter.
 * ext is the mask of offered extensions (enum smtp_ext). Returns true and
 * fills *mail_r (release with smtp_cmd_mail_clear()), or false with the
 * reply in *err_r and *mail_r cleared. */
bool smtp_cmd_parse_mail(struct str arg, unsigned ext,
			 struct smtp_mail *mail_r, struct smtp_status *err_r);
/* Parse the argument of RCPT: "TO:" [SP] "<path>" [SP params]; also
 * accepts "<postmaster>". smtputf8 says whether the transaction's MAIL
 * FROM had SMTPUTF8. Same contract as smtp_cmd_parse_mail(). */
bool smtp_cmd_parse_rcpt(struct str arg, unsigned ext, bool smtputf8,
			 struct smtp_rcpt *rcpt_r, struct smtp_status *err_r);

void smtp_cmd_mail_clear(struct smtp_mail *mail);
void smtp_cmd_rcpt_clear(struct smtp_rcpt *rcpt);

#endif
