/* dkim_canon.h: DKIM canonicalization (RFC 6376 3.4), shared by the signer
 * and the verifier: simple and relaxed header fields, and a streaming body
 * canonicalizer whose output does not depend on how the body is chunked. */
#ifndef POSTHORN_MAIL_DKIM_CANON_H
#define POSTHORN_MAIL_DKIM_CANON_H

#include "base/strbuf.h"

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* Append the canonical form of one header field. raw is the whole field as
 * it is in the message (name, colon, folded value, line end); name is the
 * name without the colon and value the raw text after the colon (as
 * header_next() gives them). simple (3.4.1): raw unchanged. relaxed
 * (3.4.2): "name:value\r\n" with the name in lower case, the value
 * unfolded, runs of spaces and tabs as one space, none at either end. */
void dkim_canon_header(enum dkim_canon canon, struct str raw, struct str name,
		       struct str value, struct strbuf *out);

typedef void dkim_canon_sink_fn(void *ctx, const void *p, size_t n);

/* The body canonicalizer (3.4.3, 3.4.4): fed the body in any chunks, it
 * passes the canonical bytes to sink in chunks of its own. Only CRLF ends a
 * line; a bare CR or LF is an ordinary byte. Empty lines are held back until
 * a non-empty line follows, so the ones at the end never go out. */
struct dkim_canon_body {
	enum dkim_canon canon;
	dkim_canon_sink_fn *sink;
	void *ctx;
	uint64_t out_n;		/* canonical bytes passed to sink so far */
	uint64_t empties;	/* empty lines held back */
	bool space;		/* relaxed: a WSP run not written yet */
	bool cr;		/* the last byte was a CR */
	bool in_line;		/* the current line has bytes out */
	size_t buf_n;
	char buf[1024];
};

void dkim_canon_body_init(struct dkim_canon_body *b, enum dkim_canon canon,
			  dkim_canon_sink_fn *sink, void *ctx);
void dkim_canon_body_feed(struct dkim_canon_body *b, const void *p, size_t n);
/* The end of the body: the last line's CRLF when it had none, simple's
 * CRLF for an empty body, then the rest to sink. */
void dkim_canon_body_finish(struct dkim_canon_body *b);

/* A sink that appends to the struct strbuf ctx. */
void dkim_canon_sink_strbuf(void *ctx, const void *p, size_t n);
/* Append the canonical form of a whole body (a convenience for tests and
 * the signer). */
void dkim_canon_body_str(enum dkim_canon canon, struct str body,
			 struct strbuf *out);

#endif
