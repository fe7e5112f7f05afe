/* Unit tests for mail/smtp_data (the DATA reader) and mail/dotstuff, each
 * case fed whole, in small chunks and one byte at a time. */
#include "unit.h"

#include "mail/dotstuff.h"
#include "mail/smtp_data.h"

static const size_t chunk_sizes[] = { SIZE_MAX, 1, 2, 3, 7 };

struct run {
	enum smtp_data_result result;
	size_t consumed;	/* of the whole input */
	struct strbuf out;
	uint64_t size;
};

/* Feed in pieces of at most chunk bytes, each piece in a fresh out buffer
 * segment; stop at the first final result. */
static void run_reader(struct str in, const struct smtp_data_limits *limits,
		       size_t chunk, struct run *run_r)
{
	struct smtp_data *r = smtp_data_new(limits);
	size_t off = 0;

	run_r->out = STRBUF_INIT;
	run_r->result = SMTP_DATA_MORE;
	while (off < in.n) {
		size_t n = MIN(chunk, in.n - off), used = SIZE_MAX;

		run_r->result = smtp_data_feed(r, &run_r->out, in.p + off, n,
					       &used);
		assert_true(used <= n);
		if (run_r->result == SMTP_DATA_MORE)
			assert_int_equal(used, n);
		off += used;
		if (run_r->result != SMTP_DATA_MORE)
			break;
	}
	run_r->consumed = off;
	run_r->size = smtp_data_size(r);
	smtp_data_free(&r);
	assert_null(r);
}

struct data_case {
	const char *in;
	enum smtp_data_result result;
	const char *out;	/* for SMTP_DATA_DONE */
	const char *rest;	/* input left after the end of data */
};

static const struct data_case cases[] = {
	{ "Hello\r\n.\r\n", SMTP_DATA_DONE, "Hello\r\n", "" },
	{ ".\r\n", SMTP_DATA_DONE, "", "" },
	{ "\r\n.\r\n", SMTP_DATA_DONE, "\r\n", "" },
	{ "..leading\r\n.\r\n", SMTP_DATA_DONE, ".leading\r\n", "" },
	{ ".x\r\n.\r\n", SMTP_DATA_DONE, "x\r\n", "" },
	{ "a\r\n..\r\n.\r\n", SMTP_DATA_DONE, "a\r\n.\r\n", "" },
	{ ". \r\n.\r\n", SMTP_DATA_DONE, " \r\n", "" },
	{ "a.\r\nb\r\n.\r\n", SMTP_DATA_DONE, "a.\r\nb\r\n", "" },
	{ "\xff\x00\x01\r\n.\r\n", SMTP_DATA_DONE, "\xff", "" },
	/* pipelined bytes after the end stay in the input */
	{ "a\r\n.\r\nQUIT\r\n", SMTP_DATA_DONE, "a\r\n", "QUIT\r\n" },
	{ "a\r\n.\r\n.\r\n", SMTP_DATA_DONE, "a\r\n", ".\r\n" },
	{ "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
	  SMTP_DATA_DONE, "Subject: x\r\n\r\nbody\r\n",
	  "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" },
	/* incomplete */
	{ "a\r\n.\r", SMTP_DATA_MORE, NULL, "" },
	{ "a\r\n.", SMTP_DATA_MORE, NULL, "" },
	{ "a\r\n", SMTP_DATA_MORE, NULL, "" },
	/* SMTP smuggling: none of these ends the data, every one is an
	 * error reported at the real end, and nothing after it leaks */
	{ "a\n.\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\r.\rMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\n.\r\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\r\n.\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\r.\r\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\r\n.\rMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF,
	  NULL, "NOOP\r\n" },
	{ "a\r\n.\r\r\nMAIL FROM:<evil@x>\r\n.\r\nNOOP\r\n",
	  SMTP_DATA_BARE_CRLF, NULL, "NOOP\r\n" },
	{ "a\n\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF, NULL, "NOOP\r\n" },
	{ "a\r\r\n.\r\nNOOP\r\n", SMTP_DATA_BARE_CRLF, NULL, "NOOP\r\n" },
	{ "\n.\r\nx\r\n.\r\n", SMTP_DATA_BARE_CRLF, NULL, "" },
	/* after a bare LF the next '.' is not at a line start */
	{ ".\n.\r\n", SMTP_DATA_MORE, NULL, "" },
	{ ".\n.\r\n.\r\n", SMTP_DATA_BARE_CRLF, NULL, "" },
	{ "\r.\r\n\r\n.\r\n", SMTP_DATA_BARE_CRLF, NULL, "" },
	{ "a\r\n\n.\n\r\n.\r\n", SMTP_DATA_BARE_CRLF, NULL, "" },
	{ "a\n.\n", SMTP_DATA_MORE, NULL, "" },
	{ "a\r.\r", SMTP_DATA_MORE, NULL, "" },
};

static void test_reader_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct data_case *c = &cases[i];
		/* the 0xff case holds NUL bytes: measure it by hand */
		struct str in = str_c(c->in);

		if (c->in[0] == '\xff')
			in = STR_LIT("\xff\x00\x01\r\n.\r\n");
		for (size_t k = 0; k < ARRAY_SIZE(chunk_sizes); k++) {
			struct run run;

			run_reader(in, NULL, chunk_sizes[k], &run);
			if (run.result != c->result)
				fail_msg("case %zu chunk %zu: result %d", i,
					 chunk_sizes[k], run.result);
			assert_true(str_eq(str_from(in, run.consumed),
					   str_c(c->rest)));
			if (c->in[0] == '\xff') {
				assert_int_equal(run.out.n, 5);
				assert_memory_equal(run.out.p,
						    "\xff\x00\x01\r\n", 5);
			} else if (c->out != NULL) {
				assert_string_equal(strbuf_cstr(&run.out),
						    c->out);
			}
			/* a refused message never holds the smuggled part */
			if (c->result == SMTP_DATA_BARE_CRLF)
				assert_null(strstr(strbuf_cstr(&run.out),
						   "MAIL"));
			strbuf_free(&run.out);
		}
	}
}

static void build_line(struct strbuf *b, const char *lead, size_t n)
{
	strbuf_append_c(b, lead);
	for (size_t i = 0; i < n; i++)
		strbuf_putc(b, 'x');
	strbuf_append_c(b, "\r\n");
}

static void test_line_limit(void **state)
{
	const struct smtp_data_limits rfc = { 0, SMTP_DATA_LINE_MAX };

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(chunk_sizes); k++) {
		struct strbuf in = STRBUF_INIT;
		struct run run;

		/* 998 + CRLF = 1000: fine */
		build_line(&in, "", 998);
		strbuf_append_c(&in, ".\r\n");
		run_reader(strbuf_str(&in), &rfc, chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_DONE);
		assert_int_equal(run.out.n, 1000);
		strbuf_free(&run.out);

		/* a stuffed dot does not count */
		strbuf_reset(&in);
		build_line(&in, "..", 997);
		strbuf_append_c(&in, ".\r\n");
		run_reader(strbuf_str(&in), &rfc, chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_DONE);
		assert_int_equal(run.out.n, 1000);
		strbuf_free(&run.out);

		/* 999 + CRLF: too long, reported at the end, input consumed */
		strbuf_reset(&in);
		build_line(&in, "", 999);
		strbuf_append_c(&in, "short\r\n.\r\nQUIT\r\n");
		run_reader(strbuf_str(&in), &rfc, chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_LINE_TOO_LONG);
		assert_int_equal(run.consumed, in.n - 6);
		assert_int_equal(run.size, 1001 + 7);
		strbuf_free(&run.out);

		/* a configured limit */
		strbuf_reset(&in);
		build_line(&in, "", 8);
		build_line(&in, "", 9);
		strbuf_append_c(&in, ".\r\n");
		run_reader(strbuf_str(&in), &(struct smtp_data_limits){ 0, 10 },
			   chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_LINE_TOO_LONG);
		assert_int_equal(run.consumed, in.n);
		/* storing stopped at the fault: no CRLF after the 9 x */
		assert_int_equal(run.out.n, 10 + 9);
		strbuf_free(&run.out);
		strbuf_free(&in);
	}
}

/* With no limit given, a line of SMTP_DATA_LINE_DEFAULT octets (CRLF
 * included) passes whole; one more octet is refused, and the reader still
 * finds the end of data. */
static void test_long_line_default(void **state)
{
	static const size_t sizes[] = { SIZE_MAX, 1, 4096, 65537 };

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		struct strbuf in = STRBUF_INIT;
		struct run run;

		strbuf_append_c(&in, "Subject: x\r\n\r\n");
		build_line(&in, "", SMTP_DATA_LINE_DEFAULT - 2);
		build_line(&in, "..", 23000);
		strbuf_append_c(&in, ".\r\n");
		run_reader(strbuf_str(&in), NULL, sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_DONE);
		assert_int_equal(run.consumed, in.n);
		/* the output is the input less one stuffed dot and the end */
		assert_int_equal(run.out.n, in.n - 1 - 3);
		assert_memory_equal(run.out.p, in.p, 14 + SMTP_DATA_LINE_DEFAULT);
		strbuf_free(&run.out);

		strbuf_reset(&in);
		build_line(&in, "", SMTP_DATA_LINE_DEFAULT - 1);
		strbuf_append_c(&in, ".\r\nQUIT\r\n");
		run_reader(strbuf_str(&in), NULL, sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_LINE_TOO_LONG);
		assert_int_equal(run.consumed, in.n - 6);
		strbuf_free(&run.out);
		strbuf_free(&in);
	}
}

static void test_size_limit(void **state)
{
	const struct smtp_data_limits lim = { 10, 0 };

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(chunk_sizes); k++) {
		struct run run;

		/* exactly 10 octets */
		run_reader(STR_LIT("01234567\r\n.\r\n"), &lim, chunk_sizes[k],
			   &run);
		assert_int_equal(run.result, SMTP_DATA_DONE);
		assert_string_equal(strbuf_cstr(&run.out), "01234567\r\n");
		strbuf_free(&run.out);

		/* 11: refused at the end, the rest of the input kept */
		run_reader(STR_LIT("012345678\r\nmore\r\n.\r\nQUIT\r\n"), &lim,
			   chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_TOO_BIG);
		assert_int_equal(run.consumed, 20);
		assert_int_equal(run.size, 17);
		assert_true(run.out.n <= 10);
		strbuf_free(&run.out);

		/* a bare LF outranks the size */
		run_reader(STR_LIT("012345678\r\nmo\nre\r\n.\r\n"), &lim,
			   chunk_sizes[k], &run);
		assert_int_equal(run.result, SMTP_DATA_BARE_CRLF);
		strbuf_free(&run.out);
	}
}

static void test_status(void **state)
{
	(void)state;
	assert_int_equal(smtp_data_status(SMTP_DATA_DONE).code, 250);
	assert_int_equal(smtp_data_status(SMTP_DATA_TOO_BIG).code, 552);
	assert_string_equal(smtp_data_status(SMTP_DATA_TOO_BIG).enhanced,
			    "5.3.4");
	assert_int_equal(smtp_data_status(SMTP_DATA_BARE_CRLF).code / 100, 5);
	assert_int_equal(smtp_data_status(SMTP_DATA_LINE_TOO_LONG).code, 552);
	assert_string_equal(smtp_data_status(SMTP_DATA_LINE_TOO_LONG).enhanced,
			    "5.3.4");
}

struct stuff_case {
	const char *in;
	const char *out;
};

static const struct stuff_case stuff_cases[] = {
	{ "", ".\r\n" },
	{ "a", "a\r\n.\r\n" },
	{ "a\r\n", "a\r\n.\r\n" },
	{ "\n", "\r\n.\r\n" },
	{ ".", "..\r\n.\r\n" },
	{ ".a\n.\n", "..a\r\n..\r\n.\r\n" },
	{ "a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n" },
	{ "a.b\r\n", "a.b\r\n.\r\n" },
	{ "a\rb", "a\r\nb\r\n.\r\n" },
	{ "x\r", "x\r\n.\r\n" },
	{ "a\r\n\r\n", "a\r\n\r\n.\r\n" },
	{ "a\r\r\n.", "a\r\n\r\n..\r\n.\r\n" },
	{ "a\n\n.x\n", "a\r\n\r\n..x\r\n.\r\n" },
};

static void test_dotstuff(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(stuff_cases); i++) {
		struct str in = str_c(stuff_cases[i].in);
		struct strbuf out = STRBUF_INIT;

		strbuf_append_c(&out, "+OK\r\n");
		dotstuff_message(&out, in);
		assert_string_equal(strbuf_cstr(&out) + 5, stuff_cases[i].out);
		for (size_t k = 1; k < ARRAY_SIZE(chunk_sizes); k++) {
			struct dotstuff ds;

			strbuf_reset(&out);
			dotstuff_init(&ds);
			for (size_t off = 0; off < in.n; off += chunk_sizes[k])
				dotstuff_feed(&ds, &out, in.p + off,
					      MIN(chunk_sizes[k], in.n - off));
			dotstuff_finish(&ds, &out);
			assert_string_equal(strbuf_cstr(&out),
					    stuff_cases[i].out);
		}
		strbuf_free(&out);
	}
}

/* Whatever CRLF message goes through the stuffer comes out of the reader
 * the same, with nothing consumed past the end. */
static void test_round_trip(void **state)
{
	static const char alphabet[] = { '.', '.', 'a', 'b', '\r', '\n', ' ' };
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 500; round++) {
		struct strbuf msg = STRBUF_INIT, wire = STRBUF_INIT;
		size_t len = (size_t)(rand_r(&seed) % 60);

		/* a message of CRLF lines (no bare CR or LF) */
		for (size_t i = 0; i < len; i++) {
			char c = alphabet[rand_r(&seed) % ARRAY_SIZE(alphabet)];

			if (c == '\r' || c == '\n')
				strbuf_append_c(&msg, "\r\n");
			else
				strbuf_putc(&msg, c);
		}
		if (msg.n > 0 && (msg.n < 2 || msg.p[msg.n - 1] != '\n'))
			strbuf_append_c(&msg, "\r\n");
		dotstuff_message(&wire, strbuf_str(&msg));
		strbuf_append_c(&wire, "NEXT");
		for (size_t k = 0; k < ARRAY_SIZE(chunk_sizes); k++) {
			struct run run;

			run_reader(strbuf_str(&wire), NULL, chunk_sizes[k], &run);
			assert_int_equal(run.result, SMTP_DATA_DONE);
			assert_int_equal(run.consumed, wire.n - 4);
			assert_int_equal(run.out.n, msg.n);
			if (msg.n > 0)
				assert_memory_equal(run.out.p, msg.p, msg.n);
			strbuf_free(&run.out);
		}
		strbuf_free(&msg);
		strbuf_free(&wire);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_cases),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_long_line_default),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_dotstuff),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
