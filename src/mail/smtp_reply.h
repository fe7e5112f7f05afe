/* smtp_reply.h: push parser for SMTP server replies as a client reads them
 * (RFC 5321 4.2): single and multiline replies ("250-..." ... "250 ..."),
 * with the enhanced status code (RFC 2034/3463) of the first line. */
#ifndef POSTHORN_MAIL_SMTP_REPLY_H
#define POSTHORN_MAIL_SMTP_REPLY_H

#include "base/strbuf.h"

/* Bounds: one reply line (text after the code, without CRLF; RFC 5321
 * allows 512 octets per line, peers send longer) and lines per reply. */
#define SMTP_REPLY_MAX_LINE 2048
#define SMTP_REPLY_MAX_LINES 128

struct smtp_reply {
	unsigned code;		/* 200..599 */
	/* "5.1.1" when the first line starts with an enhanced code whose
	 * class matches code's first digit, else "" */
	char enhanced[16];
	/* The text of every line (after "250-" / "250 "; the enhanced code
	 * is left in), lines joined by '\n'; NUL-terminated. */
	struct str text;
	unsigned n_lines;
};

struct smtp_reply_parser;

struct smtp_reply_parser *smtp_reply_parser_new(void);
void smtp_reply_parser_free(struct smtp_reply_parser **p);

enum smtp_reply_result {
	SMTP_REPLY_MORE,	/* all bytes consumed, no complete reply yet */
	SMTP_REPLY_DONE,	/* a reply is complete: see *reply_r */
	SMTP_REPLY_ERROR,	/* not an SMTP reply, or past a bound */
};

/* Feed bytes; *used_r says how many were consumed. DONE stops right after
 * the reply's last line: *reply_r is valid until the next feed, and the
 * bytes after *used_r belong to the next reply (feed them again). After
 * ERROR (with *error_r a static string) the parser is stuck: the
 * connection must be closed. Bare LF line ends are accepted. */
enum smtp_reply_result smtp_reply_parser_feed(struct smtp_reply_parser *p,
					      const void *data, size_t len,
					      size_t *used_r,
					      struct smtp_reply *reply_r,
					      const char **error_r);

/* The reply on one line for logs and DSN Diagnostic-Code:
 * "550 5.1.1 No such user" with the lines joined by a space. */
void smtp_reply_oneline(const struct smtp_reply *reply, struct strbuf *out);

/* Iterate the lines of reply->text: start with *pos = 0; returns false
 * after the last line. */
bool smtp_reply_next_line(const struct smtp_reply *reply, size_t *pos,
			  struct str *line_r);

#endif
