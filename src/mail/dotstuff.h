/* dotstuff.h: write a message as an SMTP DATA / POP3 multi-line body:
 * lines starting with '.' get another '.', every line ends in CRLF, and
 * ".\r\n" ends it. */
#ifndef POSTHORN_MAIL_DOTSTUFF_H
#define POSTHORN_MAIL_DOTSTUFF_H

#include "base/strbuf.h"

/* Streaming state; the message may be fed in chunks split anywhere. */
struct dotstuff {
	bool bol;	/* at the start of a line */
	bool cr;	/* a CR was seen and not written yet */
};

void dotstuff_init(struct dotstuff *ds);
/* Append the stuffed form of the next chunk to out. A bare LF and a bare
 * CR each become CRLF (a receiver must never see either). */
void dotstuff_feed(struct dotstuff *ds, struct strbuf *out, const void *data,
		   size_t len);
/* End the message: a CRLF when the last line had none, then ".\r\n".
 * An empty message gives just ".\r\n". ds may be fed again after
 * dotstuff_init(). */
void dotstuff_finish(struct dotstuff *ds, struct strbuf *out);

/* The whole message at once: init, feed, finish. */
void dotstuff_message(struct strbuf *out, struct str msg);

#endif
