/* fuzz_rfc2047.c: header-text decoders on any bytes: RFC 2047 output must be
 * valid UTF-8; RFC 2231 parameters must parse; the QP and base64 streams
 * must give the same output whole and one byte at a time. */
#include "base/arena.h"
#include "mail/b64stream.h"
#include "mail/charset.h"
#include "mail/mime_param.h"
#include "mail/qp.h"
#include "mail/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct strbuf out = STRBUF_INIT, check = STRBUF_INIT;
	struct strbuf w = STRBUF_INIT, d = STRBUF_INIT;
	struct qp_decoder qp = QP_DECODER_INIT;
	struct b64stream b64 = B64STREAM_INIT;
	struct mime_param *params;
	struct arena a;
	unsigned n, i;
	size_t j;

	rfc2047_decode(&out, in);
	charset_utf8_sanitize(&check, strbuf_str(&out));
	if (!str_eq(strbuf_str(&out), strbuf_str(&check)))
		PANIC("rfc2047 output is not UTF-8");

	arena_init(&a, 0);
	n = mime_param_parse(&a, in, &params);
	for (i = 0; i < n; i++) {
		strbuf_reset(&check);
		charset_utf8_sanitize(&check, params[i].value);
		if (!str_eq(params[i].value, strbuf_str(&check)))
			PANIC("parameter value is not UTF-8");
	}
	arena_deinit(&a);

	qp_decoder_feed(&qp, &w, data, size);
	qp_decoder_finish(&qp, &w);
	for (j = 0; j < size; j++)
		qp_decoder_feed(&qp, &d, data + j, 1);
	qp_decoder_finish(&qp, &d);
	if (!str_eq(strbuf_str(&w), strbuf_str(&d)))
		PANIC("qp drip-fed output differs");
	strbuf_reset(&w);
	strbuf_reset(&d);
	b64stream_feed(&b64, &w, data, size);
	b64stream_finish(&b64, &w);
	for (j = 0; j < size; j++)
		b64stream_feed(&b64, &d, data + j, 1);
	b64stream_finish(&b64, &d);
	if (!str_eq(strbuf_str(&w), strbuf_str(&d)))
		PANIC("base64 drip-fed output differs");

	strbuf_free(&out);
	strbuf_free(&check);
	strbuf_free(&w);
	strbuf_free(&d);
	return 0;
}
