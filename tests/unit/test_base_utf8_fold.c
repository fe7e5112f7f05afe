/* Unit tests for base/utf8_fold: lowercase folding of UTF-8, invalid
 * bytes, substring matches and code point counts. */
#include "unit.h"

#include "base/utf8_fold.h"

static void check_fold(const char *in, const char *want)
{
	struct strbuf b = STRBUF_INIT;

	utf8_fold(&b, str_c(in));
	assert_string_equal(strbuf_cstr(&b), want);
	strbuf_free(&b);
}

static void test_fold(void **state)
{
	(void)state;
	check_fold("", "");
	check_fold("Hello WORLD 42!", "hello world 42!");
	/* Latin-1, Latin Extended, Greek, Cyrillic */
	check_fold("\xc3\x84RGER \xc3\x96L \xc3\x9c" "BER", "\xc3\xa4rger \xc3\xb6l \xc3\xbc" "ber");
	check_fold("\xc5\x81\xc3\x93""D\xc5\xb9", "\xc5\x82\xc3\xb3""d\xc5\xba");
	check_fold("\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91", "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1");
	check_fold("\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90", "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0");
	/* already lowercase and uncased scripts are unchanged */
	check_fold("\xc3\xa4\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80", "\xc3\xa4\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80");
	/* invalid bytes are copied: lone continuation, overlong, surrogate,
	 * truncated sequence, bytes never valid */
	check_fold("A\x80" "B", "a\x80" "b");
	check_fold("\xc0\xafX", "\xc0\xafx");
	check_fold("\xed\xa0\x80Y", "\xed\xa0\x80y");
	check_fold("Z\xe2\x82", "z\xe2\x82");
	check_fold("\xff\xfeQ", "\xff\xfeq");
}

static void test_contains(void **state)
{
	struct strbuf needle = STRBUF_INIT;

	(void)state;
	utf8_fold(&needle, str_c("\xc3\x84rger"));
	assert_true(utf8_fold_contains(STR_LIT("Viel \xc3\x84RGER heute"),
				       strbuf_str(&needle)));
	assert_true(utf8_fold_contains(STR_LIT("viel \xc3\xa4rger"),
				       strbuf_str(&needle)));
	assert_false(utf8_fold_contains(STR_LIT("viel Arger"),
					strbuf_str(&needle)));
	assert_false(utf8_fold_contains(STR_LIT("\xc3\x84rge"),
					strbuf_str(&needle)));
	assert_false(utf8_fold_contains(STR_LIT(""), strbuf_str(&needle)));
	/* the empty needle is everywhere */
	assert_true(utf8_fold_contains(STR_LIT(""), STR_LIT("")));
	assert_true(utf8_fold_contains(STR_LIT("abc"), STR_LIT("")));
	strbuf_free(&needle);
}

static void test_length(void **state)
{
	(void)state;
	assert_int_equal(utf8_length(STR_LIT("")), 0);
	assert_int_equal(utf8_length(STR_LIT("abc")), 3);
	assert_int_equal(utf8_length(STR_LIT("\xc3\xa4" "b")), 2);
	assert_int_equal(utf8_length(STR_LIT("\xe6\x97\xa5\xf0\x9f\x98\x80")), 2);
	/* each invalid byte counts as one */
	assert_int_equal(utf8_length(STR_LIT("\xc3" "a\x80")), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
