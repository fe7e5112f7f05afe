/* fuzz_utf8_fold.c: case folding on any bytes: valid UTF-8 folds to valid
 * UTF-8, and any slice cut at ASCII bytes, folded, is found again in the
 * whole (what SEARCH relies on). */
#include "base/utf8_fold.h"
#include "mail/charset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct strbuf folded = STRBUF_INIT, check = STRBUF_INIT;
	struct strbuf part = STRBUF_INIT;
	size_t a = 0, b = size;

	utf8_fold(&folded, in);
	charset_utf8_sanitize(&check, in);
	if (str_eq(in, strbuf_str(&check))) {
		strbuf_reset(&check);
		charset_utf8_sanitize(&check, strbuf_str(&folded));
		if (!str_eq(strbuf_str(&folded), strbuf_str(&check)))
			PANIC("folding valid UTF-8 gave invalid UTF-8");
	}
	if (!utf8_fold_contains(in, strbuf_str(&folded)))
		PANIC("the folded input is not found in the input");

	/* a slice from the first ASCII byte of the second third to the last
	 * ASCII byte boundary of the last third */
	for (a = size / 3; a < size && data[a] >= 0x80; a++)
		;
	for (b = size - size / 3; b > a && b < size && data[b] >= 0x80; b--)
		;
	if (a <= b) {
		utf8_fold(&part, str_make(in.p + a, b - a));
		if (!utf8_fold_contains(in, strbuf_str(&part)))
			PANIC("a folded slice is not found in the input");
	}
	strbuf_free(&folded);
	strbuf_free(&check);
	strbuf_free(&part);
	return 0;
}
