/* Unit tests for mail/base_subject: RFC 5256 2.1 base subjects. */
#include "unit.h"

#include "base/strbuf.h"
#include "mail/base_subject.h"

static const struct {
	const char *raw, *base;
} cases[] = {
	{ "Hello", "hello" },
	{ "Re: Hello", "hello" },
	{ "RE:   Hello  ", "hello" },
	{ "Re: Re: re:hello", "hello" },
	{ "Fwd: Hello", "hello" },
	{ "FW: Hello", "hello" },
	{ "Re[2]: Hello", "hello" },
	{ "re [2] : Hello", "hello" },
	{ "[posthorn-dev] Re: Hello", "hello" },
	{ "[list] [other] Re: [list] Hello", "hello" },
	{ "Hello (fwd)", "hello" },
	{ "Hello (fwd) (FWD)  ", "hello" },
	{ "[Fwd: Re: Hello]", "hello" },
	{ "Re: [Fwd: Hello (fwd)]", "hello" },
	{ "[fwd: [fwd: hello]]", "hello" },
	/* a blob that is the whole subject stays */
	{ "[list]", "[list]" },
	{ "Re: [list]", "[list]" },
	/* whitespace runs (and folding) become one space */
	{ "Re: Hello\r\n\tWorld", "hello world" },
	{ "a  \t b", "a b" },
	/* encoded words are decoded before the rules apply */
	{ "=?UTF-8?Q?Re=3A_=C3=84rger?=", "\xc3\xa4rger" },
	{ "=?ISO-8859-1?Q?AW=3A?= Hallo", "aw: hallo" },
	/* not leaders */
	{ "Read me", "read me" },
	{ "Fwdx: y", "fwdx: y" },
	{ "Rex: y", "rex: y" },
	{ "Re", "re" },
	{ "", "" },
	{ "Re:", "" },
	{ "   ", "" },
	{ "[unclosed Re: x", "[unclosed re: x" },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf out = STRBUF_INIT;

		base_subject(&out, str_c(cases[i].raw));
		if (strcmp(strbuf_cstr(&out), cases[i].base) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].raw,
				 strbuf_cstr(&out), cases[i].base);
		strbuf_free(&out);
	}
}

/* A million subject blobs without a reply leader: stripped in one pass
 * (each used to make the leader check walk all the others again). */
static void test_many_blobs(void **state)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < 1000000; i++)
		strbuf_append_c(&in, "[x]");
	base_subject(&out, strbuf_str(&in));
	assert_string_equal(strbuf_cstr(&out), "[x]");
	strbuf_append_c(&in, " Re: hello");
	strbuf_reset(&out);
	assert_true(base_subject(&out, strbuf_str(&in)));
	assert_string_equal(strbuf_cstr(&out), "hello");
	strbuf_free(&in);
	strbuf_free(&out);
}

static void test_reply_or_forward(void **state)
{
	static const struct {
		const char *raw;
		bool reply;
	} replies[] = {
		{ "Hello", false }, { "[list] Hello", false },
		{ "  Hello  ", false }, { "[list]", false }, { "", false },
		{ "Re: Hello", true }, { "[list] Fwd: Hello", true },
		{ "Hello (fwd)", true }, { "[Fwd: Hello]", true },
		{ "Re[2]: Hello", true }, { "Read me", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
		struct strbuf out = STRBUF_INIT;

		if (base_subject(&out, str_c(replies[i].raw)) !=
		    replies[i].reply)
			fail_msg("\"%s\": reply should be %d", replies[i].raw,
				 replies[i].reply);
		strbuf_free(&out);
	}
}

static void test_appends(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	strbuf_append_c(&out, "x=");
	base_subject(&out, str_c("Re: Y"));
	assert_string_equal(strbuf_cstr(&out), "x=y");
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_many_blobs),
		cmocka_unit_test(test_reply_or_forward),
		cmocka_unit_test(test_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
