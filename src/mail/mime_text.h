/* mime_text.h: the readable text of a parsed message, for a search index:
 * header fields with encoded words decoded, and the bodies of text/ *
 * parts transfer-decoded and converted to UTF-8. */
#ifndef POSTHORN_MAIL_MIME_TEXT_H
#define POSTHORN_MAIL_MIME_TEXT_H

#include "mail/mime.h"

/* Append the text of the message msg[0..len) whose tree is tree to out, as
 * UTF-8: for every message header (the top one and those of embedded
 * messages) one "Name: value\n" line per field, unfolded and RFC 2047
 * decoded, then each text part's body followed by "\n". Other parts give
 * nothing. tree must come from parsing exactly these bytes; offsets past
 * len are clamped. */
void mime_text_extract(const struct mime_tree *tree, const void *msg,
		       size_t len, struct strbuf *out);

/* One field of a header block: its name and its value unfolded, before
 * RFC 2047 decoding (valid during the call). */
typedef void mime_text_field_fn(void *arg, struct str name, struct str value);
/* Append the fields of the header block `block` (the field lines, up to
 * the empty line) to out as mime_text_extract() writes them: one
 * "Name: value\n" line each, unfolded and RFC 2047 decoded. fn (NULL:
 * none) sees each field as well, e.g. to pick addresses out. */
void mime_text_header(struct str block, struct strbuf *out,
		      mime_text_field_fn *fn, void *arg);

#endif
