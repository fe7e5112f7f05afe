/* fuzz_milter_reply.c: the milter reply decoder over a stream of packets,
 * decoded from the whole input and from input growing one byte at a time,
 * must give the same replies and stop at the same place; every view lies
 * inside its packet and the step rules accept or refuse without a crash. */
#include "base/strbuf.h"
#include "mail/milter_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct str s, const uint8_t *p, size_t n)
{
	return s.n == 0 || ((const uint8_t *)s.p >= p &&
			    (const uint8_t *)s.p + s.n <= p + n);
}

static void record(struct strbuf *log, const struct milter_reply *r,
		   const uint8_t *p, size_t n)
{
	const char *error;

	ASSERT(inside(r->name, p, n) && inside(r->value, p, n) &&
	       inside(r->args, p, n));
	if (r->kind == MILTER_R_REPLYCODE)
		ASSERT(r->code >= 400 && r->code <= 599);
	(void)milter_reply_allowed(MILTER_CMD_BODYEOB, r, MILTER_F_ALL,
				   MILTER_P_OFFER, &error);
	(void)milter_reply_allowed(MILTER_CMD_BODY, r, 0, MILTER_P_SKIP,
				   &error);
	(void)milter_optneg_check(r, MILTER_F_ALL, MILTER_P_OFFER, &error);
	strbuf_printf(log, "%c|%u|%u|%s|", (char)r->kind, (unsigned)r->index,
		      r->code, r->enhanced);
	strbuf_append_str(log, r->name);
	strbuf_putc(log, '|');
	strbuf_append_str(log, r->value);
	strbuf_putc(log, '|');
	strbuf_append_str(log, r->args);
	strbuf_putc(log, '\n');
	if (r->kind == MILTER_R_ADDHEADER || r->kind == MILTER_R_CHGHEADER) {
		struct strbuf v = STRBUF_INIT;

		milter_value_crlf(&v, r->value);
		strbuf_free(&v);
	}
}

/* Decode everything; piece = 0: all at once, else grow the buffer by
 * piece bytes at a time (a reader that has only part of the input). */
static enum milter_decode_result run(const uint8_t *data, size_t size,
				     size_t piece, struct strbuf *log,
				     size_t *consumed_r)
{
	size_t off = 0, have = piece == 0 ? size : 0;
	enum milter_decode_result res = MILTER_DECODE_MORE;

	for (;;) {
		struct milter_reply r;
		const char *error;
		size_t used;

		res = milter_decode(data + off, have - off, &used, &r, &error);
		if (res == MILTER_DECODE_ERROR)
			break;
		if (res == MILTER_DECODE_DONE) {
			ASSERT(used >= 5 && used <= have - off);
			record(log, &r, data + off, used);
			off += used;
			continue;
		}
		if (have == size)
			break;
		have = MIN(size, have + piece);
	}
	*consumed_r = off;
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	size_t ca, cb;
	enum milter_decode_result ra, rb;

	ra = run(data, size, 0, &a, &ca);
	rb = run(data, size, 1, &b, &cb);
	ASSERT(ra == rb && ca == cb);
	ASSERT(a.n == b.n && memcmp(strbuf_cstr(&a), strbuf_cstr(&b), a.n) == 0);
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
