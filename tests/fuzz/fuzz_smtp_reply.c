/* fuzz_smtp_reply.c: the SMTP reply parser fed whole and one byte at a
 * time must give the same replies (codes, enhanced codes, text) and stop
 * at the same place; every reply's one-line form holds no control bytes. */
#include "base/strbuf.h"
#include "mail/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse everything in pieces of `piece` bytes; record the replies. */
static enum smtp_reply_result parse_all(const uint8_t *data, size_t size,
					size_t piece, struct strbuf *log,
					size_t *consumed_r)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new();
	enum smtp_reply_result res = SMTP_REPLY_MORE;
	size_t off = 0;

	while (off < size) {
		size_t n = MIN(piece, size - off), used;
		struct smtp_reply reply;
		const char *error;

		res = smtp_reply_parser_feed(p, data + off, n, &used, &reply,
					     &error);
		ASSERT(used <= n);
		off += used;
		if (res == SMTP_REPLY_ERROR)
			break;
		if (res == SMTP_REPLY_MORE) {
			ASSERT(used == n);
			continue;
		}
		ASSERT(reply.code >= 200 && reply.code <= 599);
		ASSERT(reply.n_lines >= 1 &&
		       reply.n_lines <= SMTP_REPLY_MAX_LINES);
		ASSERT(reply.enhanced[0] == '\0' ||
		       reply.enhanced[0] == (char)('0' + reply.code / 100));
		ASSERT(reply.text.p[reply.text.n] == '\0');

		struct strbuf one = STRBUF_INIT;

		smtp_reply_oneline(&reply, &one);
		for (size_t i = 0; i < one.n; i++)
			ASSERT((unsigned char)one.p[i] >= 0x20 &&
			       one.p[i] != 0x7f);
		strbuf_printf(log, "%u|%s|%u|", reply.code, reply.enhanced,
			      reply.n_lines);
		strbuf_append_str(log, reply.text);
		strbuf_putc(log, '\n');
		strbuf_free(&one);
	}
	smtp_reply_parser_free(&p);
	*consumed_r = off;
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	size_t ca, cb;
	enum smtp_reply_result ra, rb;

	ra = parse_all(data, size, SIZE_MAX, &a, &ca);
	rb = parse_all(data, size, 1, &b, &cb);
	ASSERT(ra == rb);
	ASSERT(a.n == b.n && memcmp(strbuf_cstr(&a), strbuf_cstr(&b), a.n) == 0);
	if (ra != SMTP_REPLY_ERROR)
		ASSERT(ca == size && cb == size);
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
