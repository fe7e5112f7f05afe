/* header.h: RFC 5322 header blocks: splitting into fields, unfolding, and
 * the lexical pieces (CFWS, quoted strings, tokens) other parsers share. */
#ifndef POSTHORN_MAIL_HEADER_H
#define POSTHORN_MAIL_HEADER_H

#include "base/strbuf.h"

struct header_field {
	struct str name;	/* without the colon, trailing WSP removed */
	struct str value;	/* raw: still folded, with its line ends */
};

/* Read the next field of a header block (LF or CRLF line ends) starting at
 * *pos, and advance *pos. Lines without a colon are skipped. Returns false
 * when the block has no more fields. */
bool header_next(struct str block, size_t *pos, struct header_field *f_r);
/* The size of a message's header section (LF or CRLF line ends): up to
 * the empty line that ends it, not included, or all of message when
 * there is none. */
size_t header_section_size(struct str message);
/* Append value unfolded: CR and LF removed, leading and trailing spaces and
 * tabs trimmed. Other bytes (NUL too) are kept. */
void header_unfold(struct strbuf *out, struct str value);
/* Skip spaces, tabs, CR, LF and (nested) comments from *pos. When
 * comment_r is not NULL it is set to the contents of the last comment. */
void header_skip_cfws(struct str s, size_t *pos, struct str *comment_r);
/* At s.p[*pos] == '"': append the unescaped contents to out and move past
 * the closing quote (or to the end when it is missing). */
void header_read_quoted(struct str s, size_t *pos, struct strbuf *out);
/* Read bytes from *pos up to the first space, control character or one of
 * specials; returns the (possibly empty) view. */
struct str header_read_token(struct str s, size_t *pos, const char *specials);

#endif
