/* imap_append_parse.h: APPEND's literals fed to the MIME parser as their
 * bytes arrive, so that the message is parsed while it is read (the
 * parse at the end of the literal costs nothing) and is held once: in the
 * command reader's buffer, which the store request points into. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_APPEND_PARSE_H
#define POSTHORN_PROTO_IMAP_IMAP_APPEND_PARSE_H

#include "base/str.h"
#include "mail/mime.h"

struct imap_append_parse;

/* Is cmd (a command read so far: tag SP name ...) an APPEND, whose
 * literals are worth parsing as they arrive? */
bool imap_append_parse_wanted(struct str cmd);
/* A literal begins at byte offset of the command; *ap is made when NULL.
 * The bytes that follow (imap_append_parse_feed) are parsed as they
 * would be stored: every lone LF as CRLF (cmd_append's CRLF rule). */
void imap_append_parse_begin(struct imap_append_parse **ap, size_t offset);
/* The next bytes of the literal begun last. */
void imap_append_parse_feed(struct imap_append_parse *ap, struct str chunk);
/* The parse of the literal that began at offset (the caller frees it),
 * or NULL when none began there (a quoted string, or ap NULL). */
struct mime_tree *imap_append_parse_take(struct imap_append_parse *ap,
					 size_t offset);
/* Every parse not taken is dropped (a command refused, a literal cut
 * off by a disconnect). */
void imap_append_parse_free(struct imap_append_parse **ap);

#endif
