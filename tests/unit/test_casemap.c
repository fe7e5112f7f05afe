/* Unit tests for mail/casemap: i;unicode-casemap sort keys (RFC 5051). */
#include "unit.h"

#include "base/strbuf.h"
#include "mail/casemap.h"

#include <string.h>

static void key(const char *in, const char *want)
{
	struct strbuf out = STRBUF_INIT;

	casemap_key(&out, str_c(in));
	if (out.n != strlen(want) || memcmp(out.p, want, out.n) != 0)
		fail_msg("%s: got %s, want %s", in, strbuf_cstr(&out), want);
	strbuf_free(&out);
}

/* a < b in the collation */
static void before(const char *a, const char *b)
{
	struct strbuf ka = STRBUF_INIT, kb = STRBUF_INIT;

	casemap_key(&ka, str_c(a));
	casemap_key(&kb, str_c(b));
	if (strcmp(strbuf_cstr(&ka), strbuf_cstr(&kb)) >= 0)
		fail_msg("%s should sort before %s", a, b);
	strbuf_free(&ka);
	strbuf_free(&kb);
}

static void test_keys(void **state)
{
	(void)state;
	key("", "");
	key("apple Pie", "APPLE PIE");
	/* titlecase, then canonical decomposition */
	key("\xc3\xa9milie", "E\xcc\x81MILIE");		/* émilie */
	key("\xc3\x89MILIE", "E\xcc\x81MILIE");		/* ÉMILIE */
	key("\xc7\x86", "\xc7\x85");			/* dž -> Dž */
	/* bytes that are not UTF-8 stay, the rest is still mapped */
	key("a\xff" "b", "A\xff" "B");
}

static void test_order(void **state)
{
	(void)state;
	/* titlecase puts letters before the ASCII punctuation between 'Z'
	 * and 'a' (a lowercase fold would not) */
	before("apple", "_under");
	before("Zebra", "[list]");
	before("ezra", "\xc3\xa9" "clair");		/* a mark sorts after Z */
	before("eclair", "\xc3\xa9" "a");
	before("Banana", "cherry");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
