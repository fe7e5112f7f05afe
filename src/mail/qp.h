/* qp.h: streaming, tolerant quoted-printable decoder and a whole-buffer
 * encoder (RFC 2045 6.7). */
#ifndef POSTHORN_MAIL_QP_H
#define POSTHORN_MAIL_QP_H

#include "base/strbuf.h"

struct qp_decoder {
	int state;
	char held[80];	/* undecided bytes: "=", "=X", trailing spaces */
	size_t n_held;
};

#define QP_DECODER_INIT ((struct qp_decoder){ 0, { 0 }, 0 })

/* Decode the next len bytes, appending to out; any split gives the same
 * output. =XX becomes a byte (either hex case), "=" before a line end is a
 * soft break (trailing spaces after it allowed), spaces before a line end
 * are dropped, a malformed "=" sequence is kept as it is. Line ends are
 * passed through as written. */
void qp_decoder_feed(struct qp_decoder *d, struct strbuf *out, const void *data,
		     size_t len);
/* End of input: flush what is held and reset d. */
void qp_decoder_finish(struct qp_decoder *d, struct strbuf *out);

/* Append data quoted-printable encoded: each CRLF is a hard line break,
 * every other byte outside printable ASCII (a lone CR or LF included), '='
 * and a space or tab before a line end become =XX, and soft breaks keep
 * each line at most 76 characters (a line a soft break starts never begins
 * with '-' or 'F', so it cannot pass for a boundary or a "From " line). Decoding gives data back byte for
 * byte. */
void qp_encode(struct strbuf *out, const void *data, size_t len);

#endif
