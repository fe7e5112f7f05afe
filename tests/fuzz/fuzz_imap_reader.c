/* fuzz_imap_reader.c: a client byte stream through imap_reader as a session
 * drives it (lines, then literal bytes in chunks); checks the limits, that
 * every command starts with its tag, and that the reader and the grammar
 * agree on the literals (no silent loss of step). The first byte picks the
 * literal chunk size and the limits. */
#include "base/strbuf.h"
#include "proto/imap/imap_reader.h"
#include "proto/imap/imap_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk an assembled command as the tokenizer reads it: quoted strings,
 * and a CRLF only right after a literal announcement "{n}" / "{n+}" (also
 * "~{n}") outside a quoted string, followed by exactly n literal bytes.
 * A CRLF anywhere else, or a literal running past the end, would mean the
 * reader and the grammar disagree on where a command's lines end. */
static void check_literals(struct str cmd)
{
	bool quoted = false;
	size_t i = 0;

	while (i < cmd.n) {
		char ch = cmd.p[i];

		if (quoted) {
			if (ch == '\\' && i + 1 < cmd.n && cmd.p[i + 1] != '\r')
				i++;
			else if (ch == '"')
				quoted = false;
			ASSERT(ch != '\r' || i + 1 == cmd.n ||
			       cmd.p[i + 1] != '\n');
			i++;
			continue;
		}
		if (ch == '"') {
			quoted = true;
			i++;
			continue;
		}
		if (ch != '\r' || i + 1 >= cmd.n || cmd.p[i + 1] != '\n') {
			i++;
			continue;
		}
		/* "{digits[+]}" ends right before the CRLF */
		size_t end = i, d;
		uint64_t n = 0;

		ASSERT(end >= 3 && cmd.p[end - 1] == '}');
		end--;
		if (cmd.p[end - 1] == '+')
			end--;
		for (d = end; d > 0 && cmd.p[d - 1] >= '0' && cmd.p[d - 1] <= '9'; d--)
			;
		ASSERT(d < end && d > 0 && cmd.p[d - 1] == '{');
		/* leading zeros are allowed; the value fits, the reader took it */
		for (size_t k = d; k < end; k++) {
			ASSERT(n <= (UINT64_MAX - 9) / 10);
			n = n * 10 + (uint64_t)(cmd.p[k] - '0');
		}
		ASSERT(n <= cmd.n - (i + 2));
		i += 2 + (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_reader *r;
	size_t chunk, max_cmd, max_lit, pos = 1;
	const char *in = (const char *)data;

	if (size < 1)
		return 0;
	chunk = (data[0] & 7) + 1;
	max_cmd = (data[0] & 0x08) ? 64 : 65536;
	max_lit = (data[0] & 0x10) ? 16 : 8192;
	r = imap_reader_new(max_cmd, max_lit);
	while (pos < size) {
		const char *crlf = memmem(in + pos, size - pos, "\r\n", 2);
		size_t len = crlf != NULL ? (size_t)(crlf - (in + pos)) : size - pos;
		uint64_t lit = 0;
		bool sync = false, close = false;
		enum imap_reader_status st;

		st = imap_reader_line(r, str_make(in + pos, len), &lit, &sync,
				      &close);
		pos += len + (crlf != NULL ? 2 : 0);
		switch (st) {
		case IMAP_READER_COMMAND: {
			struct str cmd = imap_reader_command(r);
			const char *tag = imap_reader_tag(r);
			struct imap_cursor c;
			struct str word;

			ASSERT(!close);
			ASSERT(cmd.n <= max_cmd);
			ASSERT(strlen(tag) > 0 && strlen(tag) <= cmd.n);
			ASSERT(memcmp(cmd.p, tag, strlen(tag)) == 0);
			imap_cursor_init(&c, cmd);
			ASSERT(imap_cursor_word(&c, &word));
			ASSERT(word.n >= strlen(tag));
			check_literals(cmd);
			break;
		}
		case IMAP_READER_LITERAL:
			ASSERT(!close);
			ASSERT(lit <= max_lit && lit < max_cmd);
			ASSERT(imap_reader_literal_left(r) == lit);
			while (imap_reader_literal_left(r) > 0 && pos < size) {
				size_t n = MIN(chunk, size - pos);

				n = MIN(n, (size_t)imap_reader_literal_left(r));
				imap_reader_literal(r, str_make(in + pos, n));
				pos += n;
			}
			break;
		case IMAP_READER_TOOBIG:
		case IMAP_READER_BAD:
			ASSERT(!close);
			ASSERT(imap_reader_literal_left(r) == 0);
			break;
		case IMAP_READER_OVERFLOW:
			ASSERT(imap_reader_literal_left(r) == 0);
			if (close)
				pos = size;
			break;
		}
	}
	imap_reader_free(&r);
	return 0;
}
