/* mime.h: push-style RFC 5322 + MIME parser. Feed the message bytes in any
 * split; finish gives the part tree with byte offsets and the parsed MIME
 * fields of every part, enough for IMAP BODYSTRUCTURE and section fetches. */
#ifndef POSTHORN_MAIL_MIME_H
#define POSTHORN_MAIL_MIME_H

#include "base/arena.h"
#include "mail/mime_param.h"

struct mime_limits {
	unsigned max_depth;	/* deeper multipart/message parts are leaves */
	unsigned max_parts;	/* parts past this are not created */
	size_t max_header_size;	/* header bytes kept per part for parsing */
};

/* The header bound is as long as the default message line bound ([smtp]
 * max_line_length), so that one header line of that length, or several
 * long ones (a 50 000-byte To: beside a 50 000-byte Subject:), are parsed
 * whole; only one part's header is held at a time. */
#define MIME_HEADER_MAX (1024 * 1024)
#define MIME_LIMITS_DEFAULT ((struct mime_limits){ 64, 5000, MIME_HEADER_MAX })

/* The ENVELOPE fields of a message, in RFC 3501 order. */
enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_COUNT
};

/* Every string below is a NUL-terminated view into the tree's arena; a
 * field absent from the header has p == NULL. Values are unfolded and
 * trimmed; type, subtype and encoding are as written (any case). */
struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned n_children;
	unsigned depth;		/* root = 0 */
	uint64_t hdr_start;	/* offsets into the message as fed */
	uint64_t body_start;	/* first byte after the blank line */
	uint64_t body_end;	/* exclusive; the line end before a
				   boundary belongs to the boundary */
	uint64_t body_lines;
	struct str type, subtype;	/* defaults filled in (text/plain) */
	struct mime_param *params;
	unsigned n_params;
	struct str id, description, encoding, disposition, language, location,
		md5;
	struct mime_param *disp_params;
	unsigned n_disp_params;
	/* The header of a message (the root, and the child of a
	 * message/rfc822 part): its ENVELOPE fields, else NULL. */
	struct str *env;
};

struct mime_tree {
	struct arena arena;
	struct mime_part *root;
	uint64_t size;		/* bytes fed */
};

struct mime_parser;

/* limits NULL means MIME_LIMITS_DEFAULT. */
struct mime_parser *mime_parser_new(const struct mime_limits *limits);
/* Feed the next len bytes of the message. Any split gives the same tree. */
void mime_parser_feed(struct mime_parser *p, const void *data, size_t len);
/* End of input: free the parser, set *p to NULL and return the tree (the
 * caller frees it with mime_tree_free). Never fails: any input, even an
 * empty one, gives a tree with at least the root part. */
struct mime_tree *mime_parser_finish(struct mime_parser **p);
/* Same as a parser fed msg in one go. */
struct mime_tree *mime_parse(const void *msg, size_t len,
			     const struct mime_limits *limits);
void mime_tree_free(struct mime_tree **t);

/* Parsing a message as it arrives, before the header fields stored above
 * it (Return-Path:, Received:, a DKIM signature) are known: feed a parser
 * MIME_PREFIX_STANDIN, then the message; once the real prefix is known,
 * mime_tree_shift(tree, prefix length - MIME_PREFIX_STANDIN_LEN) gives
 * the tree a parser fed prefix + message gives. The prefix must be whole
 * header lines (CRLF or LF ended, at least one, none starting with
 * whitespace) with no Content-* or ENVELOPE field, as ours are. The one
 * difference left: a top header near limits.max_header_size keeps a few
 * more or fewer of its bytes for parsing. */
#define MIME_PREFIX_STANDIN "X:\r\n"
#define MIME_PREFIX_STANDIN_LEN (sizeof(MIME_PREFIX_STANDIN) - 1)
/* Move every offset of the tree but the root's header start (0) by
 * delta bytes, and its size. */
void mime_tree_shift(struct mime_tree *t, int64_t delta);

/* True for multipart/ * (any case). */
bool mime_part_is_multipart(const struct mime_part *part);
/* True for message/rfc822 and message/global (any case). */
bool mime_part_is_message(const struct mime_part *part);

#endif
