/* fuzz_base_subject.c: the RFC 5256 base subject of any bytes is valid
 * UTF-8 with no leading or trailing space and no "re:" leader left. */
#include "mail/base_subject.h"
#include "mail/charset.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf out = STRBUF_INIT, check = STRBUF_INIT;
	struct str s;

	base_subject(&out, str_make((const char *)data, size));
	s = strbuf_str(&out);
	charset_utf8_sanitize(&check, s);
	if (!str_eq(s, strbuf_str(&check)))
		PANIC("base subject is not UTF-8");
	if (s.n > 0 && (s.p[0] == ' ' || s.p[s.n - 1] == ' '))
		PANIC("base subject keeps a leading or trailing space");
	if (s.n >= 3 && memcmp(s.p, "re:", 3) == 0)
		PANIC("base subject keeps a re: leader");
	strbuf_free(&out);
	strbuf_free(&check);
	return 0;
}
