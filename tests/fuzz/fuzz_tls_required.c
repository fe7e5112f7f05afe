/* fuzz_tls_required.c: "TLS-Required: No" detection on any bytes: no read
 * past the input, a hit only where the field name is in the header, and
 * nothing after the header's end changes the answer. */
#include "mail/tls_required.h"
#include "base/strbuf.h"

#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_name(const char *p, size_t n)
{
	static const char name[] = "tls-required";

	for (size_t i = 0; i + sizeof(name) - 1 <= n; i++) {
		if (strncasecmp(p + i, name, sizeof(name) - 1) == 0)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: no NUL after it */
	char *copy = xmalloc(size + 1);
	struct strbuf more = STRBUF_INIT;
	bool no;

	if (size > 0)
		memcpy(copy, data, size);
	no = tls_required_no(str_make(copy, size));
	if (no && !has_name(copy, size))
		PANIC("a hit without the field name");
	/* end the header and put the field in the body: same answer */
	strbuf_append(&more, copy, size);
	strbuf_append_str(&more, STR_LIT("\r\n\r\nTLS-Required: No\r\n"));
	if (tls_required_no(strbuf_str(&more)) != no)
		PANIC("the body changed the answer");
	strbuf_free(&more);
	free(copy);
	return 0;
}
