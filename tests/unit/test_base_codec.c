/* Unit tests for base/codec: RFC 4648 test vectors and bad input. */
#include "unit.h"

#include "base/codec.h"

static const char *const vectors[][2] = {
	{ "", "" },	      { "f", "Zg==" },	       { "fo", "Zm8=" },
	{ "foo", "Zm9v" },    { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_base64_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct strbuf b = STRBUF_INIT;

		base64_encode(&b, vectors[i][0], strlen(vectors[i][0]));
		assert_string_equal(strbuf_cstr(&b), vectors[i][1]);
		strbuf_reset(&b);
		assert_true(base64_decode(&b, str_c(vectors[i][1])));
		assert_string_equal(strbuf_cstr(&b), vectors[i][0]);
		strbuf_free(&b);
	}
}

static void test_base64_bad(void **state)
{
	static const char *const bad[] = { "Zg=", "Zg=a", "Z===", "Zm9v!A==",
					   "=Zm9", "Zg==Zg==", "Zm 9v" };
	struct strbuf b = STRBUF_INIT;

	(void)state;
	strbuf_append_c(&b, "keep");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_false(base64_decode(&b, str_c(bad[i])));
		assert_string_equal(strbuf_cstr(&b), "keep");
	}
	strbuf_free(&b);
}

static void test_hex(void **state)
{
	struct strbuf b = STRBUF_INIT;

	(void)state;
	hex_encode(&b, "\x00\xff\x10", 3);
	assert_string_equal(strbuf_cstr(&b), "00ff10");
	strbuf_reset(&b);
	assert_true(hex_decode(&b, STR_LIT("00FF10")));
	assert_memory_equal(b.p, "\x00\xff\x10", 3);
	strbuf_reset(&b);
	assert_false(hex_decode(&b, STR_LIT("0")));
	assert_false(hex_decode(&b, STR_LIT("0g")));
	assert_int_equal(b.n, 0);
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_bad),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
