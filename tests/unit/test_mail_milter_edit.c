/* Unit tests for mail/milter_edit: the Sendmail semantics of adding,
 * inserting, changing and deleting header fields, and CRLF for milter
 * text (header folds and replaced bodies fed in pieces). */
#include "unit.h"

#include "mail/milter_edit.h"

static void assert_headers(const struct milter_headers *h, const char *want)
{
	struct strbuf b = STRBUF_INIT;

	milter_headers_write(h, &b);
	assert_string_equal(strbuf_cstr(&b), want);
	strbuf_free(&b);
}

static void test_parse_and_write(void **state UNUSED)
{
	struct milter_headers *h = milter_headers_new(
		STR_LIT("From: a@example.org\r\nSubject: one\r\n two\r\n"
			"no colon line\r\nTo: b@example.net\n"));
	struct str name, value;

	assert_int_equal(milter_headers_count(h), 3);
	milter_headers_get(h, 1, &name, &value);
	assert_true(str_eq(name, STR_LIT("Subject")));
	assert_true(str_eq(value, STR_LIT(" one\r\n two")));
	assert_headers(h, "From: a@example.org\r\nSubject: one\r\n two\r\n"
			  "To: b@example.net\r\n");
	milter_headers_free(&h);
	assert_null(h);

	h = milter_headers_new(STR_NULL);
	assert_int_equal(milter_headers_count(h), 0);
	assert_headers(h, "");
	milter_headers_free(&h);
}

static void test_edits(void **state UNUSED)
{
	struct milter_headers *h = milter_headers_new(
		STR_LIT("Received: one\r\nSubject: s\r\nReceived: two\r\n"));

	milter_headers_add(h, STR_LIT("X-Spam"), STR_LIT(" Yes"));
	milter_headers_insert(h, 0, STR_LIT("X-Top"), STR_LIT(" t"));
	milter_headers_insert(h, 2, STR_LIT("X-Mid"), STR_LIT(" m;\n\tfold"));
	milter_headers_insert(h, 99, STR_LIT("X-End"), STR_LIT(" e"));
	assert_headers(h, "X-Top: t\r\nReceived: one\r\nX-Mid: m;\r\n\tfold\r\n"
			  "Subject: s\r\nReceived: two\r\nX-Spam: Yes\r\n"
			  "X-End: e\r\n");
	/* second Received (case-insensitive), then delete the first */
	milter_headers_change(h, STR_LIT("received"), 2, STR_LIT(" 2nd"));
	milter_headers_change(h, STR_LIT("Received"), 0, STR_NULL);
	/* a missing occurrence: added with a value, ignored without */
	milter_headers_change(h, STR_LIT("Subject"), 3, STR_LIT(" new"));
	milter_headers_change(h, STR_LIT("X-None"), 1, STR_NULL);
	milter_headers_change(h, STR_LIT("X-Spam"), 1, STR_NULL);
	assert_headers(h, "X-Top: t\r\nX-Mid: m;\r\n\tfold\r\nSubject: s\r\n"
			  "received: 2nd\r\nX-End: e\r\nSubject: new\r\n");
	milter_headers_free(&h);
}

static void test_body(void **state UNUSED)
{
	const char *in = "a\nb\r\nc\r\n\nd";
	const size_t pieces[] = { SIZE_MAX, 1, 2, 3 };

	for (size_t k = 0; k < ARRAY_SIZE(pieces); k++) {
		struct strbuf b = STRBUF_INIT;
		bool cr = false;
		size_t n = strlen(in);

		for (size_t off = 0; off < n;) {
			size_t m = MIN(pieces[k], n - off);

			milter_body_append(&b, str_make(in + off, m), &cr);
			off += m;
		}
		assert_string_equal(strbuf_cstr(&b), "a\r\nb\r\nc\r\n\r\nd");
		strbuf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_write),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
