/* fuzz_spam_verdict.c: the spam verdict on any header bytes: no read past
 * the input, a verdict only from a verdict field's name, the worst of
 * several kept (adding a lower verdict after it changes nothing), and
 * nothing after the header's end changes the answer. */
#include "mail/spam_verdict.h"
#include "base/strbuf.h"

#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_name(const char *p, size_t n)
{
	static const char name[] = "x-spam";

	for (size_t i = 0; i + sizeof(name) - 1 <= n; i++) {
		if (strncasecmp(p + i, name, sizeof(name) - 1) == 0 ||
		    strncasecmp(p + i, "x-rspamd", 8) == 0)
			return true;
	}
	return false;
}

static bool same(const struct spam_verdict *a, const struct spam_verdict *b)
{
	return a->flag == b->flag && a->has_score == b->has_score &&
	       (!a->has_score || a->score == b->score);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: no NUL after it */
	char *copy = xmalloc(size + 1);
	struct strbuf more = STRBUF_INIT;
	struct spam_verdict v, w;
	int64_t score;

	if (size > 0)
		memcpy(copy, data, size);
	spam_verdict_init(&v);
	spam_verdict_header(&v, str_make(copy, size));
	if (v.fields > 0 && !has_name(copy, size))
		PANIC("a verdict without a verdict field");
	/* end the header, a verdict in the body: same answer */
	strbuf_append(&more, copy, size);
	strbuf_append_str(&more, STR_LIT("\r\n\r\nX-Spam-Flag: YES\r\n"));
	spam_verdict_init(&w);
	spam_verdict_header(&w, strbuf_str(&more));
	if (!same(&v, &w))
		PANIC("the body changed the answer");
	/* the lowest verdict there is (str_read_milli's bound) lowers nothing */
	w = v;
	(void)spam_verdict_field(&w, STR_LIT("X-Spam-Status"),
				 STR_LIT(" No, score=-1000000000000"));
	if (w.flag != v.flag || (v.has_score && w.score != v.score))
		PANIC("a lower verdict changed the worst one");
	(void)spam_verdict_parse_score(str_make(copy, size), &score);
	strbuf_free(&more);
	free(copy);
	return 0;
}
