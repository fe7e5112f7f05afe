/* header.c: RFC 5322 header fields and the shared lexical helpers. */
#include "mail/header.h"

bool header_next(struct str block, size_t *pos, struct header_field *f_r)
{
	size_t i = *pos, line, colon, end;

	while (i < block.n) {
		line = i;
		colon = SIZE_MAX;
		/* Find the end of the field: a line end not followed by WSP. */
		for (;;) {
			while (i < block.n && block.p[i] != '\n') {
				if (colon == SIZE_MAX && block.p[i] == ':')
					colon = i;
				i++;
			}
			if (i >= block.n)
				break;
			i++;
			if (i >= block.n ||
			    (block.p[i] != ' ' && block.p[i] != '\t'))
				break;
		}
		end = i;
		if (colon == SIZE_MAX || colon == line)
			continue;
		*pos = end;
		f_r->name = str_trim(str_make(block.p + line, colon - line));
		f_r->value = str_make(block.p + colon + 1, end - colon - 1);
		return true;
	}
	*pos = block.n;
	return false;
}

void header_unfold(struct strbuf *out, struct str value)
{
	size_t start = out->n, i;

	for (i = 0; i < value.n; i++) {
		char c = value.p[i];

		if (c == '\r' || c == '\n')
			continue;
		if ((c == ' ' || c == '\t') && out->n == start)
			continue;
		strbuf_putc(out, c);
	}
	while (out->n > start &&
	       (out->p[out->n - 1] == ' ' || out->p[out->n - 1] == '\t'))
		out->n--;
	if (out->p != NULL)
		out->p[out->n] = '\0';
}

void header_skip_cfws(struct str s, size_t *pos, struct str *comment_r)
{
	size_t i = *pos, start;
	unsigned depth;

	while (i < s.n) {
		char c = s.p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '(')
			break;
		depth = 1;
		start = ++i;
		while (i < s.n && depth > 0) {
			if (s.p[i] == '\\' && i + 1 < s.n)
				i++;
			else if (s.p[i] == '(')
				depth++;
			else if (s.p[i] == ')')
				depth--;
			i++;
		}
		if (comment_r != NULL)
			*comment_r = str_make(s.p + start,
					      i - start - (depth == 0 ? 1 : 0));
	}
	*pos = i;
}

void header_read_quoted(struct str s, size_t *pos, struct strbuf *out)
{
	size_t i = *pos + 1;

	while (i < s.n && s.p[i] != '"') {
		if (s.p[i] == '\\' && i + 1 < s.n)
			i++;
		if (s.p[i] != '\r' && s.p[i] != '\n')
			strbuf_putc(out, s.p[i]);
		i++;
	}
	*pos = i < s.n ? i + 1 : i;
}

struct str header_read_token(struct str s, size_t *pos, const char *specials)
{
	size_t i = *pos, start = i;

	while (i < s.n) {
		unsigned char c = (unsigned char)s.p[i];

		if (c <= ' ' || c == 0x7f || strchr(specials, c) != NULL)
			break;
		i++;
	}
	*pos = i;
	return str_make(s.p + start, i - start);
}

size_t header_section_size(struct str message)
{
	size_t i = 0;

	while (i < message.n) {
		const char *nl = memchr(message.p + i, '\n', message.n - i);
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (message.p + i));
		if (len == 0 || (len == 1 && message.p[i] == '\r'))
			return i;
		i += len + 1;
	}
	return message.n;
}
