/* qp.c: quoted-printable decoding as a small state machine, so the input
 * can be split anywhere; encoding of a whole buffer. */
#include "base/codec.h"
#include "mail/qp.h"

enum {
	QP_TEXT,	/* nothing held */
	QP_WS,		/* held: a run of spaces and tabs */
	QP_EQ,		/* held: "=" */
	QP_EQ_HEX,	/* held: "=" and one hex digit */
	QP_EQ_WS,	/* held: "=" and spaces: a soft break if a line end
			   follows */
	QP_EQ_CR,	/* "=" CR: a soft break whatever follows */
};

static void flush(struct qp_decoder *d, struct strbuf *out)
{
	strbuf_append(out, d->held, d->n_held);
	d->n_held = 0;
	d->state = QP_TEXT;
}

static void hold(struct qp_decoder *d, struct strbuf *out, unsigned char c,
		 int state)
{
	if (d->n_held == sizeof(d->held))
		flush(d, out);
	d->held[d->n_held++] = (char)c;
	d->state = state;
}

void qp_decoder_feed(struct qp_decoder *d, struct strbuf *out, const void *data,
		     size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		bool ws = c == ' ' || c == '\t';

		switch (d->state) {
		case QP_TEXT:
			if (c == '=')
				hold(d, out, c, QP_EQ);
			else if (ws)
				hold(d, out, c, QP_WS);
			else
				strbuf_putc(out, (char)c);
			i++;
			continue;
		case QP_WS:
			if (ws) {
				hold(d, out, c, QP_WS);
				i++;
				continue;
			}
			if (c == '\r' || c == '\n') {
				/* Trailing spaces are padding. */
				d->n_held = 0;
				d->state = QP_TEXT;
				continue;
			}
			flush(d, out);
			continue;
		case QP_EQ:
			if (hex_digit_value(c) >= 0) {
				hold(d, out, c, QP_EQ_HEX);
			} else if (c == '\n') {
				d->n_held = 0;
				d->state = QP_TEXT;
			} else if (c == '\r') {
				d->n_held = 0;
				d->state = QP_EQ_CR;
			} else if (ws) {
				hold(d, out, c, QP_EQ_WS);
			} else {
				flush(d, out);
				continue;
			}
			i++;
			continue;
		case QP_EQ_HEX:
			if (hex_digit_value(c) >= 0) {
				strbuf_putc(out, (char)(hex_digit_value((unsigned char)
					d->held[1]) * 16 + hex_digit_value(c)));
				d->n_held = 0;
				d->state = QP_TEXT;
				i++;
			} else {
				flush(d, out);
			}
			continue;
		case QP_EQ_WS:
			if (ws) {
				hold(d, out, c, QP_EQ_WS);
			} else if (c == '\n') {
				d->n_held = 0;
				d->state = QP_TEXT;
			} else if (c == '\r') {
				d->n_held = 0;
				d->state = QP_EQ_CR;
			} else {
				flush(d, out);
				continue;
			}
			i++;
			continue;
		case QP_EQ_CR:
			d->state = QP_TEXT;
			if (c == '\n')
				i++;
			continue;
		}
	}
}

void qp_decoder_finish(struct qp_decoder *d, struct strbuf *out)
{
	if (d->state == QP_EQ || d->state == QP_EQ_HEX)
		flush(d, out);
	*d = QP_DECODER_INIT;
}

/* RFC 2045 6.7 (5): encoded lines are at most 76 characters. */
#define QP_LINE_MAX 76

void qp_encode(struct strbuf *out, const void *data, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = data;
	size_t col = 0;

	strbuf_grow(out, len + len / 16 + 16);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		bool eol, plain;
		size_t w;

		if (c == '\r' && i + 1 < len && s[i + 1] == '\n') {
			strbuf_append(out, "\r\n", 2);
			col = 0;
			i++;
			continue;
		}
		/* the last byte before a hard break or the end */
		eol = i + 1 == len ||
		      (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n');
		plain = (c >= 33 && c <= 126 && c != '=') ||
			((c == ' ' || c == '\t') && !eol);
		w = plain ? 1 : 3;
		/* leave room for the '=' of a soft break unless the line
		 * ends right after this byte */
		if (col + w > (eol ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
			strbuf_append(out, "=\r\n", 3);
			col = 0;
			/* A soft break starts a line the input did not
			 * have: never let it begin like a MIME boundary
			 * ("--", RFC 2046 5.1.1) or an mbox "From ". */
			if (c == '-' || c == 'F') {
				plain = false;
				w = 3;
			}
		}
		if (plain) {
			strbuf_putc(out, (char)c);
		} else {
			strbuf_putc(out, '=');
			strbuf_putc(out, hex[c >> 4]);
			strbuf_putc(out, hex[c & 15]);
		}
		col += w;
	}
}
