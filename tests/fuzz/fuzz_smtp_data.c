/* fuzz_smtp_data.c: the DATA reader fed whole and in pieces must agree;
 * an accepted message dot-stuffed again must read back the same; any
 * input dot-stuffed must read back as DONE. The first two bytes pick the
 * limits and the piece size. */
#include "base/strbuf.h"
#include "mail/dotstuff.h"
#include "mail/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum smtp_data_result read_all(struct str in,
				      const struct smtp_data_limits *lim,
				      size_t piece, struct strbuf *out,
				      size_t *consumed_r)
{
	struct smtp_data *r = smtp_data_new(lim);
	enum smtp_data_result res = SMTP_DATA_MORE;
	size_t off = 0;

	while (off < in.n) {
		size_t n = MIN(piece, in.n - off), used;

		res = smtp_data_feed(r, out, in.p + off, n, &used);
		ASSERT(used <= n);
		ASSERT(res != SMTP_DATA_MORE || used == n);
		off += used;
		if (res != SMTP_DATA_MORE)
			break;
	}
	smtp_data_free(&r);
	*consumed_r = off;
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct smtp_data_limits unlimited = { 0, SIZE_MAX };
	struct smtp_data_limits lim = { 0, 0 };
	struct strbuf whole = STRBUF_INIT, drip = STRBUF_INIT;
	struct str in;
	size_t piece, c1, c2;
	enum smtp_data_result r1, r2;

	if (size < 2)
		return 0;
	if (data[0] & 0x80)
		lim.max_size = data[0] & 0x7f;
	if (data[1] & 0x80)
		lim.max_line = (data[1] & 0x7f) + 2u;
	piece = (data[1] & 7) + 1;
	in = str_make((const char *)data + 2, size - 2);

	r1 = read_all(in, &lim, SIZE_MAX, &whole, &c1);
	r2 = read_all(in, &lim, piece, &drip, &c2);
	ASSERT(r1 == r2 && c1 == c2);
	if (r1 == SMTP_DATA_DONE) {
		struct strbuf wire = STRBUF_INIT, back = STRBUF_INIT;
		size_t c3;

		ASSERT(str_eq(strbuf_str(&whole), strbuf_str(&drip)));
		ASSERT(lim.max_size == 0 || whole.n <= lim.max_size);
		ASSERT(c1 >= 3 && memcmp(in.p + c1 - 3, ".\r\n", 3) == 0);
		dotstuff_message(&wire, strbuf_str(&whole));
		ASSERT(read_all(strbuf_str(&wire), &unlimited, piece, &back, &c3) ==
		       SMTP_DATA_DONE);
		ASSERT(c3 == wire.n);
		ASSERT(str_eq(strbuf_str(&back), strbuf_str(&whole)));
		strbuf_free(&wire);
		strbuf_free(&back);
	} else if (r1 != SMTP_DATA_MORE) {
		ASSERT(smtp_data_status(r1).code >= 500);
	} else {
		ASSERT(c1 == in.n);
	}
	/* anything, once stuffed, is one clean message */
	{
		struct strbuf wire = STRBUF_INIT, back = STRBUF_INIT;
		struct dotstuff ds;
		size_t c4;

		dotstuff_init(&ds);
		for (size_t off = 0; off < in.n; off += piece)
			dotstuff_feed(&ds, &wire, in.p + off,
				      MIN(piece, in.n - off));
		dotstuff_finish(&ds, &wire);
		ASSERT(read_all(strbuf_str(&wire), &unlimited, SIZE_MAX, &back,
				&c4) ==
		       SMTP_DATA_DONE);
		ASSERT(c4 == wire.n);
		strbuf_free(&wire);
		strbuf_free(&back);
	}
	strbuf_free(&whole);
	strbuf_free(&drip);
	return 0;
}
