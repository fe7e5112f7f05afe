/* fuzz_dkim_verify.c: any bytes as a tag list, as a key record, and as a
 * message for the streaming DKIM verifier (keys: the RFC 8463 records for
 * "brisbane" and "test", the input itself for any other name); the results
 * (DKIM and ARC) must be the same whole and fed in chunks of the first
 * byte's size. */
#include "base/strbuf.h"
#include "mail/arc.h"
#include "mail/dkim_key_record.h"
#include "mail/dkim_tags.h"
#include "mail/dkim_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ed_rec[] =
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_rec[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3Fu"
	"tACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBf"
	"O2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

static void run(struct str msg, size_t chunk, struct strbuf *out)
{
	struct dkim_verify_params params = { .now = 1530000000,
					     .max_header = 64 * 1024 };
	struct arc_verify *av = arc_verify_new();
	struct arc_outcome arc;
	struct dkim_verify *v;

	arc_verify_hook(av, &params);
	v = dkim_verify_new(&params);

	for (size_t i = 0; i < msg.n;) {
		size_t take = MIN(chunk, msg.n - i);

		dkim_verify_feed(v, msg.p + i, take);
		i += take;
	}
	dkim_verify_end(v);
	for (size_t k = 0; k < dkim_verify_key_count(v); k++) {
		const char *name = dkim_verify_key_name(v, k);
		struct str txt = msg;

		if (strncmp(name, "brisbane.", 9) == 0)
			txt = STR_LIT(ed_rec);
		else if (strncmp(name, "test.", 5) == 0)
			txt = STR_LIT(rsa_rec);
		dkim_verify_key_answer(v, k, k % 3 == 2 ? DKIM_DNS_TEMPFAIL :
							  DKIM_DNS_OK,
				       &txt, 1);
	}
	dkim_verify_compute(v);
	for (size_t i = 0; i < dkim_verify_result_count(v); i++) {
		const struct dkim_sig_result *r = dkim_verify_result(v, i);

		strbuf_printf(out, "%s %s %s;", dkim_result_name(r->result),
			      r->reason, r->domain);
	}
	arc_verify_compute(av, v, &arc);
	strbuf_printf(out, "arc=%s %s %u %u", arc_result_name(arc.result),
		      arc.reason, arc.instances, arc.oldest_pass);
	dkim_verify_free(&v);
	arc_verify_free(&av);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct strbuf whole = STRBUF_INIT, chunked = STRBUF_INIT;
	struct dkim_key_record key;
	struct dkim_tags tags;
	const char *error;

	if (dkim_tags_parse(in, &tags, &error) == 0) {
		for (size_t i = 0; i < tags.n; i++) {
			if (tags.tag[i].end > size || tags.tag[i].name.n == 0)
				abort();
		}
	}
	if (dkim_key_record_parse(in, &key, &error) == 0)
		dkim_key_record_deinit(&key);
	/* the body canonicalizer: whole and chunked give the same bytes */
	for (int c = 0; c < 2; c++) {
		struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
		struct dkim_canon_body cb;
		size_t step = size > 0 ? (size_t)(data[0] % 5) + 1 : 1;

		dkim_canon_body_str((enum dkim_canon)c, in, &a);
		dkim_canon_body_init(&cb, (enum dkim_canon)c,
				     dkim_canon_sink_strbuf, &b);
		for (size_t i = 0; i < size; i += step)
			dkim_canon_body_feed(&cb, data + i, MIN(step, size - i));
		dkim_canon_body_finish(&cb);
		if (!str_eq(strbuf_str(&a), strbuf_str(&b)))
			abort();
		strbuf_free(&a);
		strbuf_free(&b);
	}
	run(in, size > 0 ? size : 1, &whole);
	run(in, size > 0 ? (size_t)(data[0] % 16) + 1 : 1, &chunked);
	if (!str_eq(strbuf_str(&whole), strbuf_str(&chunked)))
		abort();
	strbuf_free(&whole);
	strbuf_free(&chunked);
	return 0;
}
