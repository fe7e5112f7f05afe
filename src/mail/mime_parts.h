/* mime_parts.h: the part tree stored with a message (compact binary form),
 * and IMAP section numbers (1, 1.2, 2.HEADER, 3.MIME, TEXT) resolved to
 * byte ranges without parsing the message again. */
#ifndef POSTHORN_MAIL_MIME_PARTS_H
#define POSTHORN_MAIL_MIME_PARTS_H

#include "mail/mime.h"

/* Append the serialised form of tree to out. */
void mime_parts_serialize(const struct mime_tree *tree, struct strbuf *out);
/* Rebuild a tree from mime_parts_serialize() output. Returns NULL and sets
 * *error_r (a static string) when the blob is truncated or inconsistent;
 * never reads past blob[len). */
struct mime_tree *mime_parts_deserialize(const void *blob, size_t len,
					 const char **error_r);

enum mime_section_kind {
	MIME_SECTION_BODY,	/* "", "1", "1.2": the body (all for "") */
	MIME_SECTION_HEADER,	/* "HEADER", "2.HEADER", "HEADER.FIELDS ..." */
	MIME_SECTION_TEXT,	/* "TEXT", "2.TEXT" */
	MIME_SECTION_MIME,	/* "1.MIME" */
};

struct mime_section {
	const struct mime_part *part;	/* the part addressed */
	enum mime_section_kind kind;
	uint64_t start, end;		/* byte range in the message */
};

/* Resolve an IMAP section specifier (the text between [ and ], any case
 * for the keywords; a ".FIELDS..." suffix after HEADER is accepted and
 * left to the caller). Returns false when the section does not exist in
 * this message (RFC 3501: such a fetch returns an empty string). */
bool mime_parts_find_section(const struct mime_tree *tree, struct str section,
			     struct mime_section *r);

#endif
