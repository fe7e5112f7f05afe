/* smtp_path.h: RFC 5321 reverse- and forward-paths ("<local@domain>"),
 * with the quoted local parts, address literals, source routes and the
 * relay tricks a server must notice, and SMTPUTF8 (RFC 6531) addresses. */
#ifndef POSTHORN_MAIL_SMTP_PATH_H
#define POSTHORN_MAIL_SMTP_PATH_H

#include "base/strbuf.h"
#include "mail/smtp_status.h"

/* RFC 5321 4.5.3.1: octets, the path including its angle brackets. */
#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_LABEL_MAX 63
#define SMTP_PATH_MAX 256

/* Options for smtp_path_parse(). */
enum smtp_path_opt {
	/* A reverse-path (MAIL FROM): "<>" is allowed, errors name the
	 * sender (X.1.7) rather than the recipient (X.1.3). */
	SMTP_PATH_OPT_REVERSE = 1 << 0,
	/* SMTPUTF8 was given: UTF-8 is allowed in local part and domain. */
	SMTP_PATH_OPT_UTF8 = 1 << 1,
	/* "<postmaster>" without a domain is allowed (RCPT TO, RFC 5321
	 * 4.1.1.3). */
	SMTP_PATH_OPT_POSTMASTER = 1 << 2,
	/* A path without a domain ("<root>") is allowed: the local
	 * submission socket qualifies it with its origin domain. */
	SMTP_PATH_OPT_BARE = 1 << 3,
};

/* What a parsed path looked like. */
enum smtp_path_flag {
	SMTP_PATH_NULL = 1 << 0,	 /* "<>" */
	SMTP_PATH_POSTMASTER = 1 << 1,	 /* "<postmaster>", no domain */
	SMTP_PATH_SOURCE_ROUTE = 1 << 2, /* "<@a,@b:user@c>" */
	SMTP_PATH_QUOTED = 1 << 3,	 /* local part was a quoted string */
	SMTP_PATH_PERCENT = 1 << 4,	 /* '%' in the local part */
	SMTP_PATH_BANG = 1 << 5,	 /* '!' in the local part */
	SMTP_PATH_AT = 1 << 6,		 /* '@' inside a quoted local part */
	SMTP_PATH_UTF8 = 1 << 7,	 /* non-ASCII (valid UTF-8) somewhere */
	SMTP_PATH_LITERAL = 1 << 8,	 /* domain is an address literal */
	SMTP_PATH_BARE = 1 << 9,	 /* no domain (SMTP_PATH_OPT_BARE) */
};

/* The flags that mark an attempt to relay through this host
 * ("user%remote@local", "remote!user@local", "\"user@remote\"@local",
 * "<@local:user@remote>"). */
#define SMTP_PATH_RELAY_TRICKS                                          \
	(SMTP_PATH_SOURCE_ROUTE | SMTP_PATH_PERCENT | SMTP_PATH_BANG |  \
	 SMTP_PATH_AT)

struct smtp_path {
	/* Decoded local part (quotes and backslashes removed), malloc'd and
	 * NUL-terminated; "" for the null path. */
	char *local;
	/* Domain with ASCII letters lowercased, or the address literal
	 * ("[1.2.3.4]", "[IPv6:::1]"); "" for the null path, for
	 * "<postmaster>" and for a bare local part. The source route is
	 * checked and dropped. */
	char *domain;
	unsigned flags;	/* enum smtp_path_flag */
};

/* Parse the path at the start of s (s.p[0] must be '<'); *len_r gets the
 * octets it spans, up to and including the '>', so the caller can look at
 * what follows. On success fills *path_r (release with smtp_path_clear())
 * and returns true. On a syntax error, a limit breach or a forbidden form
 * returns false with the reply in *err_r and *path_r zeroed. opts is a mask
 * of enum smtp_path_opt. */
bool smtp_path_parse(struct str s, unsigned opts, struct smtp_path *path_r,
		     size_t *len_r, struct smtp_status *err_r);

/* Append the canonical address: "local@domain", the local part quoted
 * (only '"' and '\' escaped) when it is not a dot-atom; "" for the null
 * path; "postmaster" for "<postmaster>", the local part alone for a bare
 * one. No angle brackets. */
void smtp_path_append_canonical(struct strbuf *out,
				const struct smtp_path *path);

/* Free the strings and zero *path. Safe on a zeroed path. */
void smtp_path_clear(struct smtp_path *path);

#endif
