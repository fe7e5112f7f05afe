/* utf8_fold.h: case folding of UTF-8 text for case-insensitive substring
 * matches (IMAP SEARCH's i;unicode-casemap, approximated by simple
 * per-code-point lowercase mapping). */
#ifndef POSTHORN_BASE_UTF8_FOLD_H
#define POSTHORN_BASE_UTF8_FOLD_H

#include "base/strbuf.h"

/* Append s to out with every code point mapped to lowercase ("ÄRGER" and
 * "ärger" fold alike). Non-ASCII code points are mapped with the C.UTF-8
 * locale's tables; when that locale is missing only ASCII is folded.
 * Invalid UTF-8 bytes are copied unchanged. */
void utf8_fold(struct strbuf *out, struct str s);
/* True when needle (already folded) occurs in the folding of haystack.
 * An empty needle always matches. */
bool utf8_fold_contains(struct str haystack, struct str folded_needle);
/* Number of code points in s (an invalid byte counts as one). */
size_t utf8_length(struct str s);

#endif
