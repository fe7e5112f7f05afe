/* milter_edit.h: a message's header fields as milters edit them (Sendmail
 * semantics of ADDHEADER, INSHEADER and CHGHEADER), and the body a milter
 * replaces; writes the edited message back out with CRLF line ends. */
#ifndef POSTHORN_MAIL_MILTER_EDIT_H
#define POSTHORN_MAIL_MILTER_EDIT_H

#include "base/strbuf.h"

struct milter_headers;

/* The fields of header_section (the header lines of a message, without
 * the empty line after them; LF or CRLF line ends). Lines without a colon
 * are dropped. Bounded by the section's size. */
struct milter_headers *milter_headers_new(struct str header_section);
void milter_headers_free(struct milter_headers **h);

size_t milter_headers_count(const struct milter_headers *h);
/* Field i: name and raw value (after the colon, folded with CRLF, without
 * the field's final line end). */
void milter_headers_get(const struct milter_headers *h, size_t i,
			struct str *name_r, struct str *value_r);

/* value is the text after the colon as the field is to be written (so
 * " yes" gives "Name: yes"); LF or CRLF folding inside becomes CRLF. */
void milter_headers_add(struct milter_headers *h, struct str name,
			struct str value);
/* Insert before field index (0 = first; past the end = add). */
void milter_headers_insert(struct milter_headers *h, size_t index,
			   struct str name, struct str value);
/* Replace the occurrence-th field called name (case-insensitive, 1-based;
 * 0 counts as 1); an empty value deletes it. A missing occurrence with a
 * value adds the field at the end (as Sendmail does); without one nothing
 * happens. */
void milter_headers_change(struct milter_headers *h, struct str name,
			   uint32_t occurrence, struct str value);

/* Append every field, each ending in CRLF. */
void milter_headers_write(const struct milter_headers *h, struct strbuf *out);

/* Append body bytes a milter sent (REPLBODY) with bare LF made CRLF; a
 * CR that ended the previous piece is remembered in *pending_cr. */
void milter_body_append(struct strbuf *out, struct str piece,
			bool *pending_cr);

#endif
