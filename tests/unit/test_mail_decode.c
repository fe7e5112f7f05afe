/* Unit tests for the mail decoders: quoted-printable and base64 streams
 * (whole and one byte at a time), RFC 2047 encoded words, RFC 2231
 * parameters, charset conversion and IMAP string quoting. */
#include "unit.h"

#include "mail/b64stream.h"
#include "mail/charset.h"
#include "mail/imap_string.h"
#include "mail/mime_param.h"
#include "mail/qp.h"
#include "mail/rfc2047.h"

#include <string.h>

struct codec_case {
	const char *in;
	const char *out;
};

static const struct codec_case qp_cases[] = {
	{ "caf=E9 =c3=a9", "caf\xe9 \xc3\xa9" },
	{ "soft=\r\nbreak=\nhere", "softbreakhere" },
	{ "trailing   \r\nspaces\t\nkept inside", "trailing\r\nspaces\nkept inside" },
	{ "soft with space=  \r\nnext", "soft with spacenext" },
	{ "bad =ZZ and =4 and =", "bad =ZZ and =4 and =" },
	{ "a=3D=3db", "a==b" },
	{ "end with spaces   ", "end with spaces" },
	{ "", "" },
};

static const struct codec_case b64_cases[] = {
	{ "SGVsbG8sIHdvcmxkIQ==", "Hello, world!" },
	{ "SGVs\r\nbG8s\r\nIHdv cmxk\tIQ", "Hello, world!" },
	{ "SGk=SGk=", "HiHi" },
	{ "!!S*G*k", "Hi" },
	{ "S", "" },
	{ "", "" },
};

static void check_qp(const char *in, size_t step, const char *expected)
{
	struct qp_decoder d = QP_DECODER_INIT;
	struct strbuf out = STRBUF_INIT;
	size_t i, len = strlen(in);

	for (i = 0; i < len; i += step)
		qp_decoder_feed(&d, &out, in + i, MIN(step, len - i));
	qp_decoder_finish(&d, &out);
	assert_string_equal(strbuf_cstr(&out), expected);
	strbuf_free(&out);
}

static void check_b64(const char *in, size_t step, const char *expected)
{
	struct b64stream d = B64STREAM_INIT;
	struct strbuf out = STRBUF_INIT;
	size_t i, len = strlen(in);

	for (i = 0; i < len; i += step)
		b64stream_feed(&d, &out, in + i, MIN(step, len - i));
	b64stream_finish(&d, &out);
	assert_string_equal(strbuf_cstr(&out), expected);
	strbuf_free(&out);
}

static void test_qp(void **state)
{
	unsigned i;
	size_t step;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(qp_cases); i++)
		for (step = 1; step <= 7; step++)
			check_qp(qp_cases[i].in, step, qp_cases[i].out);
	for (i = 0; i < ARRAY_SIZE(qp_cases); i++)
		check_qp(qp_cases[i].in, 1000, qp_cases[i].out);
}

static void test_b64(void **state)
{
	unsigned i;
	size_t step;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(b64_cases); i++) {
		for (step = 1; step <= 5; step++)
			check_b64(b64_cases[i].in, step, b64_cases[i].out);
		check_b64(b64_cases[i].in, 1000, b64_cases[i].out);
	}
}

static const struct codec_case rfc2047_cases[] = {
	{ "=?ISO-8859-1?Q?Caf=E9?= report", "Caf\xc3\xa9 report" },
	{ "=?utf-8?b?w6k=?=", "\xc3\xa9" },
	/* Whitespace between encoded words goes, around text it stays. */
	{ "=?utf-8?q?a?= =?utf-8?q?b?=\r\n =?utf-8?q?_c?= d",
	  "ab c d" },
	{ "x =?UTF-8*en?Q?y_z?=", "x y z" },
	/* Malformed words are text. */
	{ "=?utf-8?x?abc?= =?utf-8?q?no end", "=?utf-8?x?abc?= =?utf-8?q?no end" },
	{ "=??q?a?=", "=??q?a?=" },
	/* Unknown charset: valid UTF-8 kept, other bytes replaced. */
	{ "=?x-unknown?q?ok=FF?=", "ok\xef\xbf\xbd" },
	/* Raw 8-bit text outside words: UTF-8 kept, garbage replaced. */
	{ "J\xc3\xb6rg \xff", "J\xc3\xb6rg \xef\xbf\xbd" },
	{ "=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	/* iconv writes U+7FFFFFFF as 6 bytes: not UTF-8, each replaced. */
	{ "=?UCS-4BE?B?f////wAAAEE=?=", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "A" },
	{ "", "" },
};

static void test_rfc2047(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rfc2047_cases); i++) {
		struct strbuf out = STRBUF_INIT;

		rfc2047_decode(&out, str_c(rfc2047_cases[i].in));
		assert_string_equal(strbuf_cstr(&out), rfc2047_cases[i].out);
		strbuf_free(&out);
	}
}

/* Hundreds of thousands of word starts that never close: one pass (each
 * '=' used to scan to the end of the text: hours for this one). */
static void test_rfc2047_unclosed(void **state)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < 500000; i++)
		strbuf_append_c(&in, "=?a?Q?x");
	rfc2047_decode(&out, strbuf_str(&in));
	assert_int_equal(out.n, in.n);
	assert_memory_equal(out.p, in.p, in.n);
	/* And closed words among them still decode. */
	strbuf_reset(&in);
	strbuf_reset(&out);
	for (size_t i = 0; i < 100000; i++)
		strbuf_append_c(&in, "=?a?Q?x =?utf-8?Q?=41?= ");
	rfc2047_decode(&out, strbuf_str(&in));
	assert_true(strncmp(strbuf_cstr(&out), "=?a?Q?x A =?a?Q?x A ", 20) == 0);
	assert_int_equal(out.n, 100000 * 10);
	strbuf_free(&in);
	strbuf_free(&out);
}

static void test_params(void **state)
{
	struct arena a;
	struct mime_param *p;
	unsigned n;

	(void)state;
	arena_init(&a, 0);
	n = mime_param_parse(&a, str_c("; Charset=\"utf-8\" (comment); "
				       "title*0*=us-ascii'en'This%20is%20;"
				       " title*1=\"fun; really\"; title*2*=%21;"
				       " junk; NAME=x.txt ; name=dup"),
			     &p);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].name.p, "charset");
	assert_string_equal(p[0].value.p, "utf-8");
	assert_string_equal(p[1].name.p, "title");
	assert_string_equal(p[1].value.p, "This is fun; really!");
	assert_string_equal(p[2].name.p, "name");
	assert_string_equal(p[2].value.p, "x.txt");
	assert_true(str_eq(mime_param_get(p, n, STR_LIT("title")),
			   STR_LIT("This is fun; really!")));
	assert_null(mime_param_get(p, n, STR_LIT("absent")).p);

	/* Charset conversion and an unknown charset. */
	n = mime_param_parse(&a, str_c("; filename*=iso-8859-1''caf%E9.txt;"
				       " x*=bogus-cs''%FFa; y*0=a; y*2=c"), &p);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].value.p, "caf\xc3\xa9.txt");
	assert_string_equal(p[1].value.p, "\xef\xbf\xbd" "a");
	/* A missing section ends the value. */
	assert_string_equal(p[2].value.p, "a");

	n = mime_param_parse(&a, str_c(""), &p);
	assert_int_equal(n, 0);
	arena_deinit(&a);
}

static void test_imap_string(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	imap_string_write(&out, STR_LIT("a \"b\" \\c\td"));
	assert_string_equal(strbuf_cstr(&out), "\"a \\\"b\\\" \\\\c\td\"");
	strbuf_reset(&out);
	imap_string_write(&out, STR_LIT("two\r\nlines"));
	assert_string_equal(strbuf_cstr(&out), "{10}\r\ntwo\r\nlines");
	strbuf_reset(&out);
	imap_string_write(&out, STR_LIT("n\0ul"));
	assert_string_equal(strbuf_cstr(&out), "\"nul\"");
	strbuf_reset(&out);
	imap_string_write(&out, STR_LIT("\xc3\xa9\0"));
	assert_string_equal(strbuf_cstr(&out), "{2}\r\n\xc3\xa9");
	strbuf_reset(&out);
	imap_string_write_nstring(&out, STR_NULL);
	imap_string_write_nstring(&out, STR_LIT(""));
	assert_string_equal(strbuf_cstr(&out), "NIL\"\"");
	strbuf_free(&out);
}

static void test_charset(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	assert_true(charset_to_utf8(&out, STR_LIT("windows-1252"),
				    STR_LIT("\x80")));
	assert_string_equal(strbuf_cstr(&out), "\xe2\x82\xac");
	strbuf_reset(&out);
	/* Invalid UTF-8 (overlong, surrogate, truncated) is replaced. */
	charset_utf8_sanitize(&out, STR_LIT("\xc0\xaf\xed\xa0\x80\xe2\x82"));
	assert_string_equal(strbuf_cstr(&out),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	strbuf_reset(&out);
	assert_false(charset_to_utf8(&out, STR_LIT("no-such-charset"),
				     STR_LIT("ok")));
	assert_string_equal(strbuf_cstr(&out), "ok");
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_rfc2047_unclosed),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_imap_string),
		cmocka_unit_test(test_charset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
