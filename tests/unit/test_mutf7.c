/* Unit tests for mail/mutf7 (modified UTF-7 mailbox names). */
#include "unit.h"

#include "mail/mutf7.h"

static const struct {
	const char *utf8, *mutf7;
} pairs[] = {
	{ "INBOX", "INBOX" },
	{ "", "" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
	{ "\xc3\x84rger & Co", "&AMQ-rger &- Co" },
	{ "\xc3\xa9", "&AOk-" },
	{ "\x7f\t", "&AH8ACQ-" },
	{ "&&", "&-&-" },
};

static void test_encode_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		struct strbuf b = STRBUF_INIT;

		assert_int_equal(mutf7_encode(pairs[i].utf8, strlen(pairs[i].utf8), &b), 0);
		assert_string_equal(strbuf_cstr(&b), pairs[i].mutf7);
		strbuf_reset(&b);
		assert_int_equal(mutf7_decode(pairs[i].mutf7, strlen(pairs[i].mutf7), &b), 0);
		assert_string_equal(strbuf_cstr(&b), pairs[i].utf8);
		strbuf_free(&b);
	}
}

static void test_decode_invalid(void **state)
{
	static const char *const bad[] = {
		"&",		/* not closed */
		"&U,BTFw",	/* not closed */
		"&AGE-",	/* encodes 'a', which must stand for itself */
		"&AAA-",	/* U+0000 */
		"\xc3\xa9",	/* raw 8-bit */
		"a\tb",		/* control character */
		"&2D0-",	/* lone high surrogate */
		"&3gA-",	/* lone low surrogate */
		"&AOl-",	/* non-zero padding bits */
		"&A.k-",	/* outside the alphabet */
		"&AOk=-",	/* padding is not used */
		"&AOkA-",	/* a full sextet left over */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct strbuf b = STRBUF_INIT;

		assert_int_equal(mutf7_decode(bad[i], strlen(bad[i]), &b), -1);
		strbuf_free(&b);
	}
}

static void test_encode_invalid(void **state)
{
	static const char *const bad[] = {
		"\xc3",			/* truncated */
		"\xc0\xaf",		/* overlong '/' */
		"\xed\xa0\x80",		/* surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\xff",
		"a\x80",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct strbuf b = STRBUF_INIT;

		assert_int_equal(mutf7_encode(bad[i], strlen(bad[i]), &b), -1);
		assert_false(mutf7_utf8_valid(bad[i], strlen(bad[i])));
		strbuf_free(&b);
	}
	assert_true(mutf7_utf8_valid("\xf4\x8f\xbf\xbf", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_decode_invalid),
		cmocka_unit_test(test_encode_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
