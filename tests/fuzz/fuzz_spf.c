/* fuzz_spf.c: the SPF record parser and macro expander on any bytes, and a
 * whole check_host() whose every TXT answer is the input (so include and
 * redirect chains recurse into it) and other answers come from its bytes:
 * it must end within the lookup limits, and never read out of bounds. */
#include "base/base.h"
#include "mail/auth_results.h"
#include "mail/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	struct strbuf out = STRBUF_INIT;
	struct spf *spf;
	const struct spf_query *q;
	unsigned steps = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	(void)spf_record_valid(str_make(text, size));
	(void)spf_expand(str_make(text, size), size > 0 && data[0] & 1,
			 size > 1 && data[1] & 1 ? "2001:db8::1" : "192.0.2.1",
			 "a-b@c.example", "c.example", "h.example", "r", NULL,
			 &out);
	(void)auth_results_claims(str_make(text, size), "mx.example");
	spf = spf_new("192.0.2.1", "a-b@c.example", NULL, "h.example", "r");
	while (!spf_step(spf, &q)) {
		const char *items[2] = { text, "192.0.2.1" };
		uint8_t b = size > 0 ? data[steps % size] : 0;

		ASSERT(++steps < 200);
		if (q->type == SPF_Q_TXT)
			spf_answer(spf, SPF_DNS_OK, items, 1);
		else
			spf_answer(spf, (enum spf_dns_status)(b % 4), items + (b & 4 ? 0 : 1), 1);
	}
	const char *reason;

	(void)spf_result(spf, &reason);
	ASSERT(spf_lookups(spf) <= 11);
	spf_free(&spf);
	strbuf_free(&out);
	free(text);
	return 0;
}
