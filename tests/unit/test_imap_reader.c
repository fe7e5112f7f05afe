/* Unit tests for proto/imap/imap_reader: commands assembled from lines and
 * literals, limits, and the same results with literals fed byte by byte. */
#include "unit.h"

#include "base/strbuf.h"
#include "proto/imap/imap_reader.h"

/* Play the session: split the client's byte stream into lines while the
 * reader wants lines, hand it literal bytes (chunk at a time) when it wants
 * them, and log every status. */
static void run(const char *stream, size_t len, size_t chunk, size_t max_cmd,
		size_t max_lit, struct strbuf *log)
{
	struct imap_reader *r = imap_reader_new(max_cmd, max_lit);
	size_t pos = 0;

	while (pos < len) {
		uint64_t lit = 0;
		bool sync = false, close = true;
		const char *crlf = memmem(stream + pos, len - pos, "\r\n", 2);

		assert_non_null(crlf);
		struct str line = str_make(stream + pos, (size_t)(crlf - (stream + pos)));

		pos += line.n + 2;
		switch (imap_reader_line(r, line, &lit, &sync, &close)) {
		case IMAP_READER_COMMAND:
			assert_false(close);
			strbuf_printf(log, "C:%s:", imap_reader_tag(r));
			for (size_t i = 0; i < imap_reader_command(r).n; i++) {
				char ch = imap_reader_command(r).p[i];

				if (ch == '\0')
					strbuf_append_c(log, "<NUL>");
				else
					strbuf_putc(log, ch);
			}
			strbuf_putc(log, '\n');
			break;
		case IMAP_READER_LITERAL:
			assert_false(close);
			strbuf_printf(log, "L:%llu:%d\n", (unsigned long long)lit, sync);
			assert_int_equal(imap_reader_literal_left(r), lit);
			while (imap_reader_literal_left(r) > 0) {
				size_t n = MIN(chunk, (size_t)imap_reader_literal_left(r));

				if (pos + n > len)
					fail_msg("literal past the stream: %s", stream);
				imap_reader_literal(r, str_make(stream + pos, n));
				pos += n;
			}
			break;
		case IMAP_READER_TOOBIG:
			assert_false(close);
			strbuf_printf(log, "T:%s\n", imap_reader_tag(r));
			break;
		case IMAP_READER_OVERFLOW:
			strbuf_printf(log, "O:%s:%d\n", imap_reader_tag(r), close);
			if (close)
				pos = len;
			break;
		case IMAP_READER_BAD:
			assert_false(close);
			strbuf_printf(log, "B:%s\n", imap_reader_tag(r));
			break;
		}
	}
	imap_reader_free(&r);
	assert_null(r);
}

#define CASE(in, out) { in, sizeof(in) - 1, out }

static const struct {
	const char *in;
	size_t len;
	const char *log;
} cases[] = {
	CASE("a1 NOOP\r\n", "C:a1:a1 NOOP\n"),
	CASE("a1\r\n", "C:a1:a1\n"),
	CASE("a2 LOGIN {3}\r\nbob {4+}\r\npass\r\n",
	     "L:3:1\nL:4:0\nC:a2:a2 LOGIN {3}\r\nbob {4+}\r\npass\n"),
	/* a literal announcement inside a quoted string is text */
	CASE("a3 SELECT \"x{5}\"\r\n", "C:a3:a3 SELECT \"x{5}\"\n"),
	CASE("a3 SELECT \"x \\\" {5}\"\r\n", "C:a3:a3 SELECT \"x \\\" {5}\"\n"),
	CASE("a3 LOGIN \"x\" {1}\r\ny\r\n",
	     "L:1:1\nC:a3:a3 LOGIN \"x\" {1}\r\ny\n"),
	/* literal8 with a NUL and a CRLF inside */
	CASE("a4 APPEND INBOX ~{4}\r\n\0x\r\n\r\n",
	     "L:4:1\nC:a4:a4 APPEND INBOX ~{4}\r\n<NUL>x\r\n\n"),
	CASE("a5 LOGIN {0}\r\n {0}\r\n\r\n",
	     "L:0:1\nL:0:1\nC:a5:a5 LOGIN {0}\r\n {0}\r\n\n"),
	/* too big: the sync literal is refused, the next command reads fine */
	CASE("a6 APPEND INBOX {11}\r\na7 NOOP\r\n", "T:a6\nC:a7:a7 NOOP\n"),
	CASE("a6 APPEND INBOX {99999999999999999999999}\r\na7 NOOP\r\n",
	     "T:a6\nC:a7:a7 NOOP\n"),
	/* a non-sync literal above the limit: the bytes are coming, close */
	CASE("a8 APPEND INBOX {11+}\r\n12345678901\r\n", "O:a8:1\n"),
	/* line past the command limit */
	CASE("a9 SELECT aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nb1 NOOP\r\n",
	     "O:a9:0\nC:b1:b1 NOOP\n"),
	/* a sync literal within the literal limit that overflows the command */
	CASE("b2 LOGIN {10}\r\n0123456789 aaaaaaaaaaaaaaaaaaaaaaaaaaaa {10}\r\nb3 NOOP\r\n",
	     "L:10:1\nO:b2:0\nC:b3:b3 NOOP\n"),
	CASE("b2 LOGIN {10}\r\n0123456789 aaaaaaaaaaaaaaaaaaaaaaaaaaaa {10+}\r\n0123456789\r\n",
	     "L:10:1\nO:b2:1\n"),
	/* malformed lines */
	CASE("\r\n", "B:*\n"),
	CASE(" NOOP\r\n", "B:*\n"),
	CASE("a(b NOOP\r\n", "B:*\n"),
	CASE("a+ NOOP\r\nc1 NOOP\r\n", "B:*\nC:c1:c1 NOOP\n"),
	CASE("a\x80 NOOP\r\n", "B:*\n"),
	/* ']' is an ASTRING-CHAR and allowed in a tag */
	CASE("a] NOOP\r\n", "C:a]:a] NOOP\n"),
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t chunks[] = { 1000, 1, 3 };

		for (size_t k = 0; k < ARRAY_SIZE(chunks); k++) {
			struct strbuf log = STRBUF_INIT;

			run(cases[i].in, cases[i].len, chunks[k], 64, 10, &log);
			if (strlen(cases[i].log) != log.n ||
			    memcmp(cases[i].log, log.p, log.n) != 0)
				fail_msg("case %zu chunk %zu: got '%s'", i,
					 chunks[k], strbuf_cstr(&log));
			strbuf_free(&log);
		}
	}
}

static void test_tag_and_reset(void **state)
{
	struct imap_reader *r = imap_reader_new(1000, 1000);
	uint64_t lit;
	bool sync, close;

	(void)state;
	assert_string_equal(imap_reader_tag(r), "*");
	assert_false(imap_reader_partial(r));
	assert_int_equal(imap_reader_line(r, STR_LIT("x1 APPEND a {3}"), &lit,
					  &sync, &close), IMAP_READER_LITERAL);
	assert_string_equal(imap_reader_tag(r), "x1");
	/* partial: what the session ACKs at once while it waits (the
	 * literal, then the rest of the line) */
	assert_true(imap_reader_partial(r));
	imap_reader_literal(r, STR_LIT("ab"));
	assert_int_equal(imap_reader_literal_left(r), 1);
	assert_true(imap_reader_partial(r));
	/* the connection gives up on the command (e.g. a timeout) */
	imap_reader_reset(r);
	assert_string_equal(imap_reader_tag(r), "*");
	assert_int_equal(imap_reader_literal_left(r), 0);
	assert_int_equal(imap_reader_line(r, STR_LIT("x2 NOOP"), &lit, &sync,
					  &close), IMAP_READER_COMMAND);
	assert_true(str_eq(imap_reader_command(r), STR_LIT("x2 NOOP")));
	assert_false(imap_reader_partial(r));
	assert_int_equal(imap_reader_line(r, STR_LIT("x3 LOGIN {1}"), &lit,
					  &sync, &close), IMAP_READER_LITERAL);
	imap_reader_literal(r, STR_LIT("u"));
	assert_int_equal(imap_reader_literal_left(r), 0);
	assert_true(imap_reader_partial(r));
	assert_int_equal(imap_reader_line(r, STR_LIT(" p"), &lit, &sync,
					  &close), IMAP_READER_COMMAND);
	assert_false(imap_reader_partial(r));
	imap_reader_free(&r);
}

/* A big command (an APPEND) does not leave its buffer behind: after the
 * reset the session does once a command is done, or the next command,
 * the reader holds at most 4 KiB. */
static void test_big_command_buffer_freed(void **state)
{
	struct imap_reader *r = imap_reader_new(2u << 20, 2u << 20);
	static char chunk[65536];
	uint64_t lit;
	bool sync, close;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(imap_reader_line(r, STR_LIT("a APPEND x {1048576}"),
					  &lit, &sync, &close),
			 IMAP_READER_LITERAL);
	assert_int_equal(lit, 1048576);
	for (int i = 0; i < 16; i++)
		imap_reader_literal(r, str_make(chunk, sizeof(chunk)));
	assert_int_equal(imap_reader_line(r, STR_LIT(""), &lit, &sync, &close),
			 IMAP_READER_COMMAND);
	assert_int_equal(imap_reader_command(r).n, 20 + 2 + 1048576);
	assert_true(imap_reader_buffered(r) >= 1048576);
	imap_reader_reset(r);
	assert_true(imap_reader_buffered(r) <= 4096);
	/* the same without an explicit reset: the next command */
	assert_int_equal(imap_reader_line(r, STR_LIT("b APPEND x {1048576}"),
					  &lit, &sync, &close),
			 IMAP_READER_LITERAL);
	for (int i = 0; i < 16; i++)
		imap_reader_literal(r, str_make(chunk, sizeof(chunk)));
	assert_int_equal(imap_reader_line(r, STR_LIT(""), &lit, &sync, &close),
			 IMAP_READER_COMMAND);
	assert_int_equal(imap_reader_line(r, STR_LIT("c NOOP"), &lit, &sync,
					  &close), IMAP_READER_COMMAND);
	assert_true(str_eq(imap_reader_command(r), STR_LIT("c NOOP")));
	assert_true(imap_reader_buffered(r) <= 4096);
	/* small commands keep working after a reset */
	imap_reader_reset(r);
	assert_int_equal(imap_reader_line(r, STR_LIT("d NOOP"), &lit, &sync,
					  &close), IMAP_READER_COMMAND);
	assert_true(str_eq(imap_reader_command(r), STR_LIT("d NOOP")));
	imap_reader_free(&r);
}

/* A tag past 256 bytes is refused rather than echoed. */
static void test_long_tag(void **state)
{
	struct imap_reader *r = imap_reader_new(100000, 1000);
	char line[300];
	uint64_t lit;
	bool sync, close;

	(void)state;
	memset(line, 't', sizeof(line));
	memcpy(line + 257, " NOOP", 5);
	assert_int_equal(imap_reader_line(r, str_make(line, 262), &lit, &sync,
					  &close), IMAP_READER_BAD);
	memcpy(line + 256, " NOOP", 5);
	assert_int_equal(imap_reader_line(r, str_make(line, 261), &lit, &sync,
					  &close), IMAP_READER_COMMAND);
	assert_int_equal(strlen(imap_reader_tag(r)), 256);
	imap_reader_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_tag_and_reset),
		cmocka_unit_test(test_long_tag),
		cmocka_unit_test(test_big_command_buffer_freed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
