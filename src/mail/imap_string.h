/* imap_string.h: IMAP string output (RFC 3501 section 4.3): quoted strings
 * when the bytes allow it, literals otherwise, NIL for absent values. */
#ifndef POSTHORN_MAIL_IMAP_STRING_H
#define POSTHORN_MAIL_IMAP_STRING_H

#include "base/strbuf.h"

/* Append s as "quoted" (with \ and " escaped) when every byte is 7-bit and
 * neither CR nor LF, else as a literal {n}\r\n... . NUL bytes, which IMAP
 * strings cannot carry, are dropped. */
void imap_string_write(struct strbuf *out, struct str s);
/* As imap_string_write, but NIL when s.p == NULL. */
void imap_string_write_nstring(struct strbuf *out, struct str s);

#endif
