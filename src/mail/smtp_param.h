/* smtp_param.h: the ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321
 * 4.1.2 Mail-parameters / Rcpt-parameters): SIZE, BODY, SMTPUTF8, RET,
 * ENVID, AUTH, REQUIRETLS, NOTIFY, ORCPT, checked against what we offer. */
#ifndef POSTHORN_MAIL_SMTP_PARAM_H
#define POSTHORN_MAIL_SMTP_PARAM_H

#include "base/str.h"
#include "mail/smtp_status.h"

/* Extensions the server advertised; a parameter of an extension not in the
 * mask is answered like an unknown one (555 5.5.4). */
enum smtp_ext {
	SMTP_EXT_SIZE = 1 << 0,		/* RFC 1870 */
	SMTP_EXT_8BITMIME = 1 << 1,	/* RFC 6152: BODY=7BIT|8BITMIME */
	SMTP_EXT_BINARYMIME = 1 << 2,	/* RFC 3030: BODY=BINARYMIME */
	SMTP_EXT_SMTPUTF8 = 1 << 3,	/* RFC 6531 */
	SMTP_EXT_DSN = 1 << 4,		/* RFC 3461: RET ENVID NOTIFY ORCPT */
	SMTP_EXT_AUTH = 1 << 5,		/* RFC 4954: AUTH= */
	SMTP_EXT_REQUIRETLS = 1 << 6,	/* RFC 8689 */
};
#define SMTP_EXT_ALL ((1u << 7) - 1)

/* RFC 3461 4.4 and 4.2 length limits on the raw (xtext) values. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500

enum smtp_body {
	SMTP_BODY_UNSET = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_UNSET = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* MAIL FROM parameters, stored with the message (DSN fields feed later
 * reports). Strings are malloc'd and NUL-terminated, NULL when absent. */
struct smtp_mail_params {
	bool has_size;
	uint64_t size;		/* SIZE=n, saturated at UINT64_MAX; whether it
				 * is too big (552 5.3.4) is the caller's call */
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char *envid;		/* ENVID, xtext-decoded */
	char *auth;		/* AUTH= mailbox, xtext-decoded; "" for <> */
	bool requiretls;
};

enum smtp_notify {
	SMTP_NOTIFY_NEVER = 1 << 0,
	SMTP_NOTIFY_SUCCESS = 1 << 1,
	SMTP_NOTIFY_FAILURE = 1 << 2,
	SMTP_NOTIFY_DELAY = 1 << 3,
};

/* RCPT TO parameters. */
struct smtp_rcpt_params {
	unsigned notify;	/* enum smtp_notify mask; 0 when not given */
	char *orcpt_type;	/* ORCPT addr-type, lowercased ("rfc822") */
	char *orcpt;		/* ORCPT address, xtext-decoded */
};

/* Parse the parameters after the path of MAIL FROM (s is what follows the
 * '>' and its separating space; may be empty). Keywords are
 * case-insensitive and separated by spaces. ext is a mask of enum
 * smtp_ext. Returns true and fills *params_r (release with
 * smtp_param_mail_clear()), or false with the reply in *err_r: 501 5.5.4
 * for syntax and duplicates, 555 5.5.4 for an unknown or unoffered keyword
 * or a value it does not take. On failure *params_r is cleared. */
bool smtp_param_parse_mail(struct str s, unsigned ext,
			   struct smtp_mail_params *params_r,
			   struct smtp_status *err_r);
/* The same for RCPT TO. */
bool smtp_param_parse_rcpt(struct str s, unsigned ext,
			   struct smtp_rcpt_params *params_r,
			   struct smtp_status *err_r);

void smtp_param_mail_clear(struct smtp_mail_params *params);
void smtp_param_rcpt_clear(struct smtp_rcpt_params *params);

#endif
