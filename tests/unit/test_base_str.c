/* Unit tests for base/str and base/strbuf. */
#include "unit.h"

#include "base/strbuf.h"

static void test_split_and_trim(void **state)
{
	struct str head, tail;

	(void)state;
	assert_true(str_split(STR_LIT("key = value"), '=', &head, &tail));
	assert_true(str_eq(str_trim(head), STR_LIT("key")));
	assert_true(str_eq(str_trim(tail), STR_LIT("value")));
	assert_false(str_split(STR_LIT("novalue"), '=', &head, &tail));
	assert_true(str_eq(head, STR_LIT("novalue")));
	assert_int_equal(tail.n, 0);
	assert_int_equal(str_trim(STR_LIT(" \t ")).n, 0);
}

static void test_compare(void **state)
{
	(void)state;
	assert_true(str_caseeq(STR_LIT("EHLO"), STR_LIT("ehlo")));
	assert_false(str_eq(STR_LIT("EHLO"), STR_LIT("ehlo")));
	assert_false(str_caseeq(STR_LIT("EHLO"), STR_LIT("EHL")));
	assert_true(str_casestarts_with(STR_LIT("MAIL FROM:<a>"), STR_LIT("mail from:")));
	assert_true(str_ends_with(STR_LIT("hello (fwd)"), STR_LIT("(fwd)")));
	assert_true(str_ends_with(STR_LIT("x"), STR_LIT("")));
	assert_false(str_ends_with(STR_LIT("fwd)"), STR_LIT("(fwd)")));
	assert_false(str_ends_with(STR_LIT("(fwd) "), STR_LIT("(fwd)")));
	/* FNV-1a 64 test vectors */
	assert_true(str_hash(STR_LIT("")) == 0xcbf29ce484222325u);
	assert_true(str_hash(STR_LIT("a")) == 0xaf63dc4c8601ec8cu);
	assert_true(str_hash(STR_LIT("foobar")) == 0x85944171f73967e8u);
	assert_int_equal(str_find(STR_LIT("abcabd"), STR_LIT("abd")), 3);
	assert_int_equal(str_find(STR_LIT("abc"), STR_LIT("x")), -1);
	assert_int_equal(str_chr(STR_NULL, 'a'), -1);
}

static void test_to_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_true(str_to_u64(STR_LIT("12345"), UINT64_MAX, &v));
	assert_int_equal(v, 12345);
	assert_true(str_to_u64(STR_LIT("18446744073709551615"), UINT64_MAX, &v));
	assert_true(v == UINT64_MAX);
	assert_false(str_to_u64(STR_LIT("18446744073709551616"), UINT64_MAX, &v));
	assert_false(str_to_u64(STR_LIT("101"), 100, &v));
	assert_false(str_to_u64(STR_LIT(""), 100, &v));
	assert_false(str_to_u64(STR_LIT("1a"), 100, &v));
	assert_false(str_to_u64(STR_LIT("-1"), 100, &v));
}

static void test_read_milli(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(str_read_milli(STR_LIT("7.5 / 15"), &v), 3);
	assert_int_equal(v, 7500);
	assert_int_equal(str_read_milli(STR_LIT("-0.2567"), &v), 7);
	assert_int_equal(v, -256);
	assert_int_equal(str_read_milli(STR_LIT("+3"), &v), 2);
	assert_int_equal(v, 3000);
	assert_int_equal(str_read_milli(STR_LIT(".5"), &v), 2);
	assert_int_equal(v, 500);
	assert_int_equal(str_read_milli(STR_LIT("1000000000000"), &v), 13);
	assert_int_equal(str_read_milli(STR_LIT("1000000000001"), &v), 0);
	assert_int_equal(str_read_milli(STR_LIT("-"), &v), 0);
	assert_int_equal(str_read_milli(STR_LIT("."), &v), 0);
	assert_int_equal(str_read_milli(STR_LIT(" 1"), &v), 0);
	assert_int_equal(str_read_milli(STR_LIT(""), &v), 0);
}

static void test_strbuf(void **state)
{
	struct strbuf b = STRBUF_INIT;

	(void)state;
	assert_string_equal(strbuf_cstr(&b), "");
	for (int i = 0; i < 1000; i++)
		strbuf_printf(&b, "%d,", i % 10);
	assert_int_equal(b.n, 2000);
	assert_int_equal(strlen(b.p), 2000);
	strbuf_truncate(&b, 3);
	assert_string_equal(b.p, "0,1");
	strbuf_append(&b, "\0x", 2);
	assert_int_equal(b.n, 5);
	assert_int_equal(b.p[5], '\0');
	size_t len;
	char *p = strbuf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_null(b.p);
	free(p);
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_and_trim),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_to_u64),
		cmocka_unit_test(test_read_milli),
		cmocka_unit_test(test_strbuf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
