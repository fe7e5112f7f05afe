/* Unit tests for mail/smtp_reply: single and multiline replies, enhanced
 * codes, bounds and errors, each case fed whole and one byte at a time. */
#include "unit.h"

#include "mail/smtp_reply.h"

static const size_t chunk_sizes[] = { SIZE_MAX, 1, 2, 5 };

struct parsed {
	enum smtp_reply_result res;
	unsigned code;
	char enhanced[16];
	char *text;
	unsigned n_lines;
	size_t used;	/* bytes of input consumed */
};

/* Feed `in` in chunks until the first DONE or ERROR. */
static void parse_one(struct smtp_reply_parser *p, const char *in,
		      size_t chunk, struct parsed *out)
{
	size_t len = strlen(in), off = 0;
	struct smtp_reply reply;
	const char *error;

	memset(out, 0, sizeof(*out));
	out->res = SMTP_REPLY_MORE;
	while (off < len) {
		size_t n = MIN(chunk, len - off), used;

		out->res = smtp_reply_parser_feed(p, in + off, n, &used,
						  &reply, &error);
		assert_true(used <= n);
		off += used;
		if (out->res == SMTP_REPLY_MORE) {
			assert_int_equal(used, n);
			continue;
		}
		if (out->res == SMTP_REPLY_DONE) {
			out->code = reply.code;
			memcpy(out->enhanced, reply.enhanced, 16);
			out->text = str_dup(reply.text);
			out->n_lines = reply.n_lines;
		}
		break;
	}
	out->used = off;
}

static void check_done(const char *in, unsigned code, const char *enhanced,
		       const char *text, unsigned n_lines)
{
	for (size_t c = 0; c < ARRAY_SIZE(chunk_sizes); c++) {
		struct smtp_reply_parser *p = smtp_reply_parser_new();
		struct parsed r;

		parse_one(p, in, chunk_sizes[c], &r);
		assert_int_equal(r.res, SMTP_REPLY_DONE);
		assert_int_equal(r.code, code);
		assert_string_equal(r.enhanced, enhanced);
		assert_string_equal(r.text, text);
		assert_int_equal(r.n_lines, n_lines);
		assert_int_equal(r.used, strlen(in));
		free(r.text);
		smtp_reply_parser_free(&p);
		assert_null(p);
	}
}

static void check_error(const char *in)
{
	for (size_t c = 0; c < ARRAY_SIZE(chunk_sizes); c++) {
		struct smtp_reply_parser *p = smtp_reply_parser_new();
		struct parsed r;

		parse_one(p, in, chunk_sizes[c], &r);
		assert_int_equal(r.res, SMTP_REPLY_ERROR);
		smtp_reply_parser_free(&p);
	}
}

static void test_single_line(void **state UNUSED)
{
	check_done("220 mx.example.org ESMTP ready\r\n", 220, "",
		   "mx.example.org ESMTP ready", 1);
	check_done("250 2.1.0 Ok\r\n", 250, "2.1.0", "2.1.0 Ok", 1);
	check_done("550 5.1.1 <x@y>: No such user\r\n", 550, "5.1.1",
		   "5.1.1 <x@y>: No such user", 1);
	/* bare code, bare LF */
	check_done("354\n", 354, "", "", 1);
	check_done("250 2.0.0\r\n", 250, "2.0.0", "2.0.0", 1);
}

static void test_enhanced_mismatch(void **state UNUSED)
{
	/* class must match the code */
	check_done("550 4.1.1 odd\r\n", 550, "", "4.1.1 odd", 1);
	/* not a code: too many digits, no space after */
	check_done("250 2.1234.0 x\r\n", 250, "", "2.1234.0 x", 1);
	check_done("250 2.1.0x\r\n", 250, "", "2.1.0x", 1);
	check_done("250 2.1\r\n", 250, "", "2.1", 1);
	check_done("451 4.7.10 slow down\r\n", 451, "4.7.10",
		   "4.7.10 slow down", 1);
}

static void test_multiline(void **state UNUSED)
{
	check_done("250-mx.example.org\r\n250-PIPELINING\r\n"
		   "250-SIZE 10240000\r\n250 STARTTLS\r\n",
		   250, "", "mx.example.org\nPIPELINING\nSIZE 10240000\n"
		   "STARTTLS", 4);
	check_done("550-5.1.1 first\r\n550 5.1.1 second\r\n", 550, "5.1.1",
		   "5.1.1 first\n5.1.1 second", 2);
	/* "250-" with nothing after is an empty line */
	check_done("250-\r\n250 x\r\n", 250, "", "\nx", 2);
}

static void test_errors(void **state UNUSED)
{
	check_error("hello\r\n");
	check_error("25\r\n");
	check_error("2500 x\r\n");
	check_error("250_x\r\n");
	check_error("199 too low\r\n");
	check_error("600 too high\r\n");
	check_error("250-a\r\n251 b\r\n");
	check_error("\r\n");

	char *big = xmalloc(SMTP_REPLY_MAX_LINE + 100);

	memcpy(big, "250 ", 4);
	memset(big + 4, 'a', SMTP_REPLY_MAX_LINE + 10);
	memcpy(big + 4 + SMTP_REPLY_MAX_LINE + 10, "\r\n", 3);
	check_error(big);
	/* the longest line allowed */
	big[4 + SMTP_REPLY_MAX_LINE] = '\0';
	struct strbuf b = STRBUF_INIT;

	strbuf_printf(&b, "%s\r\n", big);
	for (size_t c = 0; c < ARRAY_SIZE(chunk_sizes); c++) {
		struct smtp_reply_parser *p = smtp_reply_parser_new();
		struct parsed r;

		parse_one(p, strbuf_cstr(&b), chunk_sizes[c], &r);
		assert_int_equal(r.res, SMTP_REPLY_DONE);
		assert_int_equal(strlen(r.text), SMTP_REPLY_MAX_LINE);
		free(r.text);
		smtp_reply_parser_free(&p);
	}
	strbuf_free(&b);
	free(big);

	/* too many lines */
	struct strbuf many = STRBUF_INIT;

	for (unsigned i = 0; i <= SMTP_REPLY_MAX_LINES; i++)
		strbuf_append_c(&many, "250-x\r\n");
	strbuf_append_c(&many, "250 end\r\n");
	check_error(strbuf_cstr(&many));
	strbuf_free(&many);
}

/* Pipelined replies in one buffer come out one at a time, and a failed
 * parser stays failed. */
static void test_pipelined(void **state UNUSED)
{
	const char *in = "250 2.1.0 Ok\r\n250-2.1.5 a\r\n250 2.1.5 b\r\n"
			 "354 go\r\n";
	unsigned want[] = { 250, 250, 354 };

	for (size_t c = 0; c < ARRAY_SIZE(chunk_sizes); c++) {
		struct smtp_reply_parser *p = smtp_reply_parser_new();
		size_t off = 0;

		for (size_t k = 0; k < ARRAY_SIZE(want); k++) {
			struct parsed r;

			parse_one(p, in + off, chunk_sizes[c], &r);
			assert_int_equal(r.res, SMTP_REPLY_DONE);
			assert_int_equal(r.code, want[k]);
			if (k == 1)
				assert_int_equal(r.n_lines, 2);
			free(r.text);
			off += r.used;
		}
		assert_int_equal(off, strlen(in));
		smtp_reply_parser_free(&p);
	}

	struct smtp_reply_parser *p = smtp_reply_parser_new();
	struct smtp_reply reply;
	const char *error;
	size_t used;

	assert_int_equal(smtp_reply_parser_feed(p, "xx\r\n", 4, &used, &reply,
						&error), SMTP_REPLY_ERROR);
	assert_int_equal(smtp_reply_parser_feed(p, "250 ok\r\n", 8, &used,
						&reply, &error),
			 SMTP_REPLY_ERROR);
	smtp_reply_parser_free(&p);
}

static void test_oneline(void **state UNUSED)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new();
	const char *in = "550-5.1.1 The email account\r\n"
			 "550-5.1.1 does not\texist\r\n550 5.1.1 sorry\r\n";
	struct smtp_reply reply;
	struct strbuf out = STRBUF_INIT;
	const char *error;
	size_t used, pos = 0;
	struct str line;

	assert_int_equal(smtp_reply_parser_feed(p, in, strlen(in), &used,
						&reply, &error),
			 SMTP_REPLY_DONE);
	smtp_reply_oneline(&reply, &out);
	assert_string_equal(strbuf_cstr(&out),
			    "550 5.1.1 The email account does not exist sorry");
	assert_true(smtp_reply_next_line(&reply, &pos, &line));
	assert_true(str_eq(line, STR_LIT("5.1.1 The email account")));
	assert_true(smtp_reply_next_line(&reply, &pos, &line));
	assert_true(smtp_reply_next_line(&reply, &pos, &line));
	assert_true(str_eq(line, STR_LIT("5.1.1 sorry")));
	assert_false(smtp_reply_next_line(&reply, &pos, &line));
	strbuf_free(&out);
	smtp_reply_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_enhanced_mismatch),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_oneline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
