/* mime_param.h: MIME header parameters (RFC 2045 section 5.1), with RFC 2231
 * continuations, charsets and languages decoded to UTF-8. */
#ifndef POSTHORN_MAIL_MIME_PARAM_H
#define POSTHORN_MAIL_MIME_PARAM_H

#include "base/arena.h"
#include "base/strbuf.h"

/* Parameters kept per header field; more are ignored. */
#define MIME_PARAM_MAX 64

struct mime_param {
	struct str name;	/* lowercase, without RFC 2231 '*' suffixes */
	struct str value;	/* UTF-8 after RFC 2231 decoding */
};

/* Parse the parameter list "; a=b; c*0*=..." that follows the value of a
 * Content-Type or Content-Disposition field (s starts at the first ';' or
 * anywhere before it). Strings are allocated from a, the array too.
 * Returns the number of parameters (at most MIME_PARAM_MAX). Never fails:
 * syntax errors skip to the next ';'. */
unsigned mime_param_parse(struct arena *a, struct str s,
			  struct mime_param **params_r);
/* The value of parameter name (lowercase), or a view with p == NULL. */
struct str mime_param_get(const struct mime_param *params, unsigned n,
			  struct str name);

#endif
