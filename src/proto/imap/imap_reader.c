/* imap_reader.c: one IMAP command from lines and literals. The command is
 * kept as sent (lines joined by CRLF, literal bytes inline) so the tokenizer
 * sees exactly the grammar of RFC 9051. */
#include "proto/imap/imap_reader.h"

#include "base/strbuf.h"

/* Longest tag accepted: RFC 9051 sets no limit, but a longer tag is not a
 * client's but an attack (and the tag is echoed in every reply). */
#define IMAP_TAG_MAX 256
/* A reset keeps a buffer up to this size for the next command; a larger
 * one (an APPEND) is freed, so an idle session holds no big buffer. */
#define IMAP_READER_KEEP 4096

struct imap_reader {
	size_t max_command, max_literal;
	struct strbuf cmd;
	uint64_t literal_left;
	bool in_command;	/* a line of this command was fed */
	bool done;		/* the last status ended the command */
	char tag[IMAP_TAG_MAX + 1];
};

struct imap_reader *imap_reader_new(size_t max_command, size_t max_literal)
{
	struct imap_reader *r = xcalloc(1, sizeof(*r));

	r->max_command = max_command;
	r->max_literal = max_literal;
	imap_reader_reset(r);
	return r;
}

void imap_reader_free(struct imap_reader **r)
{
	if (*r == NULL)
		return;
	strbuf_free(&(*r)->cmd);
	free(*r);
	*r = NULL;
}

void imap_reader_reset(struct imap_reader *r)
{
	if (r->cmd.cap > IMAP_READER_KEEP)
		strbuf_free(&r->cmd);
	else
		strbuf_reset(&r->cmd);
	r->literal_left = 0;
	r->in_command = false;
	r->done = false;
	r->tag[0] = '*';
	r->tag[1] = '\0';
}

/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051) */
static bool tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

/* Does the line end with a literal announcement outside a quoted string?
 * Sets the size and whether it is synchronizing. Quoted strings are
 * followed from the start of the line: a literal never sits inside one and
 * every line after a literal starts outside of one. */
static bool line_literal(struct str line, uint64_t *size_r, bool *sync_r,
			 bool *too_big_r)
{
	bool quoted = false;
	size_t i, open, end;

	*too_big_r = false;
	for (i = 0; i < line.n; i++) {
		if (!quoted) {
			if (line.p[i] == '"')
				quoted = true;
		} else if (line.p[i] == '\\' && i + 1 < line.n) {
			i++;
		} else if (line.p[i] == '"') {
			quoted = false;
		}
	}
	if (quoted || line.n < 3 || line.p[line.n - 1] != '}')
		return false;
	end = line.n - 1;
	*sync_r = true;
	if (line.p[end - 1] == '+') {
		*sync_r = false;
		end--;
	}
	open = end;
	while (open > 0 && line.p[open - 1] >= '0' && line.p[open - 1] <= '9')
		open--;
	if (open == end || open == 0 || line.p[open - 1] != '{')
		return false;
	/* number64: values past the 63-bit range are simply too big */
	if (!str_to_u64(str_make(line.p + open, end - open), INT64_MAX, size_r))
		*too_big_r = true;
	return true;
}

enum imap_reader_status imap_reader_line(struct imap_reader *r, struct str line,
					 uint64_t *literal_r, bool *sync_r,
					 bool *must_close_r)
{
	uint64_t size = 0;
	bool sync = true, too_big;

	ASSERT(r->literal_left == 0);
	*must_close_r = false;
	if (r->done || !r->in_command)
		imap_reader_reset(r);
	if (!r->in_command) {
		size_t i = 0;

		while (i < line.n && tag_char((unsigned char)line.p[i]))
			i++;
		if (i == 0 || i > IMAP_TAG_MAX ||
		    (i < line.n && line.p[i] != ' ')) {
			r->done = true;
			return IMAP_READER_BAD;
		}
		memcpy(r->tag, line.p, i);
		r->tag[i] = '\0';
		r->in_command = true;
	}

	bool literal = line_literal(line, &size, &sync, &too_big);

	if (r->cmd.n + line.n > r->max_command) {
		/* the bytes of a non-synchronizing literal are on their way */
		*must_close_r = literal && !sync;
		r->done = true;
		return IMAP_READER_OVERFLOW;
	}
	strbuf_append_str(&r->cmd, line);
	if (!literal) {
		r->done = true;
		return IMAP_READER_COMMAND;
	}
	if (too_big || size > r->max_literal) {
		r->done = true;
		if (sync)
			return IMAP_READER_TOOBIG;
		*must_close_r = true;
		return IMAP_READER_OVERFLOW;
	}
	if (r->cmd.n + 2 + size > r->max_command) {
		r->done = true;
		*must_close_r = !sync;
		return IMAP_READER_OVERFLOW;
	}
	strbuf_append(&r->cmd, "\r\n", 2);
	/* Room for the literal at once (bounded above): an APPEND's message
	 * is not moved chunk by chunk as the buffer grows. */
	strbuf_grow(&r->cmd, (size_t)size);
	r->literal_left = size;
	*literal_r = size;
	*sync_r = sync;
	return IMAP_READER_LITERAL;
}

void imap_reader_literal(struct imap_reader *r, struct str chunk)
{
	ASSERT(chunk.n <= r->literal_left);
	strbuf_append_str(&r->cmd, chunk);
	r->literal_left -= chunk.n;
}

uint64_t imap_reader_literal_left(const struct imap_reader *r)
{
	return r->literal_left;
}

bool imap_reader_partial(const struct imap_reader *r)
{
	return r->in_command && !r->done;
}

struct str imap_reader_command(const struct imap_reader *r)
{
	return strbuf_str(&r->cmd);
}

size_t imap_reader_buffered(const struct imap_reader *r)
{
	return r->cmd.cap;
}

const char *imap_reader_tag(const struct imap_reader *r)
{
	return r->tag;
}
