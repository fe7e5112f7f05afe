/* dkim_canon.c: RFC 6376 3.4 canonicalization of header fields and of the
 * body; the body side is a byte-at-a-time state machine so the verifier can
 * hash a message as it streams in and the signer uses the same code. */
#include "mail/dkim_canon.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

void dkim_canon_header(enum dkim_canon canon, struct str raw, struct str name,
		       struct str value, struct strbuf *out)
{
	bool space = false;
	size_t start;

	if (canon == DKIM_CANON_SIMPLE) {
		strbuf_append_str(out, raw);
		return;
	}
	for (size_t i = 0; i < name.n; i++)
		strbuf_putc(out, lower(name.p[i]));
	strbuf_putc(out, ':');
	start = out->n;
	for (size_t i = 0; i < value.n; i++) {
		char c = value.p[i];

		/* unfolding: the line ends of a folded value go */
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			space = true;
			continue;
		}
		if (space && out->n > start)
			strbuf_putc(out, ' ');
		space = false;
		strbuf_putc(out, c);
	}
	strbuf_append(out, "\r\n", 2);
}

void dkim_canon_body_init(struct dkim_canon_body *b, enum dkim_canon canon,
			  dkim_canon_sink_fn *sink, void *ctx)
{
	memset(b, 0, sizeof(*b));
	b->canon = canon;
	b->sink = sink;
	b->ctx = ctx;
}

static void flush(struct dkim_canon_body *b)
{
	if (b->buf_n > 0)
		b->sink(b->ctx, b->buf, b->buf_n);
	b->out_n += b->buf_n;
	b->buf_n = 0;
}

static void emit(struct dkim_canon_body *b, char c)
{
	if (b->buf_n == sizeof(b->buf))
		flush(b);
	b->buf[b->buf_n++] = c;
}

/* A byte that is part of a line: the held-back empty lines go out first
 * (a non-empty line follows them), then a pending space run. */
static void content(struct dkim_canon_body *b, char c)
{
	if (!b->in_line) {
		for (; b->empties > 0; b->empties--) {
			emit(b, '\r');
			emit(b, '\n');
		}
		b->in_line = true;
	}
	if (b->space)
		emit(b, ' ');
	b->space = false;
	emit(b, c);
}

static void line_end(struct dkim_canon_body *b)
{
	if (b->in_line) {
		emit(b, '\r');
		emit(b, '\n');
		b->in_line = false;
	} else {
		b->empties++;
	}
	/* spaces at the end of a line go (relaxed) */
	b->space = false;
}

/* A byte the canonicalizer passes on unchanged inside a line. */
static bool plain(char c, bool relaxed)
{
	return c != '\r' && !(relaxed && is_wsp(c));
}

void dkim_canon_body_feed(struct dkim_canon_body *b, const void *p, size_t n)
{
	const char *s = p;
	bool relaxed = b->canon == DKIM_CANON_RELAXED;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		/* the common case, inside a line with nothing pending: copy
		 * the run of ordinary bytes in one go */
		if (b->in_line && !b->cr && !b->space) {
			size_t run = i;

			while (run < n && plain(s[run], relaxed))
				run++;
			/* relaxed: one space between words stays as it is */
			while (relaxed && run + 1 < n && s[run] == ' ' &&
			       plain(s[run + 1], true)) {
				run += 2;
				while (run < n && plain(s[run], true))
					run++;
			}
			while (i < run) {
				size_t room = sizeof(b->buf) - b->buf_n;
				size_t take = MIN(room, run - i);

				memcpy(b->buf + b->buf_n, s + i, take);
				b->buf_n += take;
				i += take;
				if (b->buf_n == sizeof(b->buf))
					flush(b);
			}
			if (i == n)
				break;
			c = s[i];
		}
		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				line_end(b);
				continue;
			}
			/* a CR not followed by LF is an ordinary byte */
			content(b, '\r');
		}
		if (c == '\r')
			b->cr = true;
		else if (relaxed && is_wsp(c))
			b->space = true;
		else
			content(b, c);
	}
}

void dkim_canon_body_finish(struct dkim_canon_body *b)
{
	if (b->cr) {
		b->cr = false;
		content(b, '\r');
	}
	if (b->in_line)
		line_end(b);
	/* simple: an empty body is one CRLF; relaxed: it stays empty */
	if (b->canon == DKIM_CANON_SIMPLE && b->out_n + b->buf_n == 0) {
		emit(b, '\r');
		emit(b, '\n');
	}
	b->empties = 0;
	flush(b);
}

void dkim_canon_sink_strbuf(void *ctx, const void *p, size_t n)
{
	strbuf_append(ctx, p, n);
}

void dkim_canon_body_str(enum dkim_canon canon, struct str body,
			 struct strbuf *out)
{
	struct dkim_canon_body b;

	dkim_canon_body_init(&b, canon, dkim_canon_sink_strbuf, out);
	dkim_canon_body_feed(&b, body.p, body.n);
	dkim_canon_body_finish(&b);
}
