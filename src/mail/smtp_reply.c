/* smtp_reply.c: SMTP reply parser: collects lines, checks the three-digit
 * code and continuation markers, and finds the enhanced status code. */
#include "mail/smtp_reply.h"

struct smtp_reply_parser {
	struct strbuf line;	/* the line being read, without its LF */
	struct strbuf text;	/* the reply's lines so far */
	unsigned code;
	unsigned n_lines;
	char enhanced[16];
	bool done;		/* the last feed returned DONE */
	bool failed;
};

struct smtp_reply_parser *smtp_reply_parser_new(void)
{
	struct smtp_reply_parser *p = xcalloc(1, sizeof(*p));

	p->line = STRBUF_INIT;
	p->text = STRBUF_INIT;
	return p;
}

void smtp_reply_parser_free(struct smtp_reply_parser **pp)
{
	struct smtp_reply_parser *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	strbuf_free(&p->line);
	strbuf_free(&p->text);
	free(p);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "d.ddd.ddd" (RFC 3463: class, subject 1-3 digits, detail 1-3 digits)
 * of class `cls` at the start of s, followed by a space or the end. */
static void find_enhanced(struct str s, char cls, char out[16])
{
	size_t i = 0, digits;

	out[0] = '\0';
	if (s.n < 5 || s.p[0] != cls || s.p[1] != '.')
		return;
	i = 2;
	for (int part = 0; part < 2; part++) {
		digits = 0;
		while (i < s.n && is_digit(s.p[i]) && digits < 4) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return;
		if (part == 0) {
			if (i >= s.n || s.p[i] != '.')
				return;
			i++;
		}
	}
	if (i < s.n && s.p[i] != ' ')
		return;
	memcpy(out, s.p, i);
	out[i] = '\0';
}

/* One complete line (CR already removed). 1 = last line of the reply,
 * 0 = more lines follow, -1 = error. */
static int parse_line(struct smtp_reply_parser *p, struct str line,
		      const char **error_r)
{
	unsigned code;
	bool last;

	if (line.n < 3 || !is_digit(line.p[0]) || !is_digit(line.p[1]) ||
	    !is_digit(line.p[2]) || line.p[0] < '2' || line.p[0] > '5') {
		*error_r = "malformed reply line";
		return -1;
	}
	if (line.n > 3 && line.p[3] != ' ' && line.p[3] != '-') {
		*error_r = "malformed reply line";
		return -1;
	}
	code = (unsigned)(line.p[0] - '0') * 100 +
	       (unsigned)(line.p[1] - '0') * 10 + (unsigned)(line.p[2] - '0');
	if (p->n_lines > 0 && code != p->code) {
		*error_r = "reply code changes inside a multiline reply";
		return -1;
	}
	if (p->n_lines >= SMTP_REPLY_MAX_LINES) {
		*error_r = "too many lines in a reply";
		return -1;
	}
	last = line.n == 3 || line.p[3] == ' ';
	struct str text = line.n > 4 ? str_from(line, 4) : str_make("", 0);

	if (p->n_lines == 0)
		find_enhanced(text, line.p[0], p->enhanced);
	else
		strbuf_putc(&p->text, '\n');
	strbuf_append_str(&p->text, text);
	p->code = code;
	p->n_lines++;
	return last ? 1 : 0;
}

enum smtp_reply_result smtp_reply_parser_feed(struct smtp_reply_parser *p,
					      const void *data, size_t len,
					      size_t *used_r,
					      struct smtp_reply *reply_r,
					      const char **error_r)
{
	const char *s = data;
	size_t i = 0;

	*used_r = 0;
	if (p->failed) {
		*error_r = "reply parser failed before";
		return SMTP_REPLY_ERROR;
	}
	if (p->done) {
		p->done = false;
		p->n_lines = 0;
		p->code = 0;
		p->enhanced[0] = '\0';
		strbuf_reset(&p->text);
	}
	while (i < len) {
		const char *lf = memchr(s + i, '\n', len - i);
		size_t n = lf != NULL ? (size_t)(lf - (s + i)) : len - i;

		/* code, separator, text, CR */
		if (p->line.n + n > SMTP_REPLY_MAX_LINE + 5) {
			p->failed = true;
			*used_r = i;
			*error_r = "reply line too long";
			return SMTP_REPLY_ERROR;
		}
		strbuf_append(&p->line, s + i, n);
		i += n;
		if (lf == NULL)
			break;
		i++;
		struct str line = strbuf_str(&p->line);

		if (line.n > 0 && line.p[line.n - 1] == '\r')
			line.n--;
		int ret = parse_line(p, line, error_r);

		strbuf_reset(&p->line);
		if (ret < 0) {
			p->failed = true;
			*used_r = i;
			return SMTP_REPLY_ERROR;
		}
		if (ret > 0) {
			p->done = true;
			*used_r = i;
			reply_r->code = p->code;
			memcpy(reply_r->enhanced, p->enhanced,
			       sizeof(reply_r->enhanced));
			reply_r->text = strbuf_str(&p->text);
			reply_r->n_lines = p->n_lines;
			return SMTP_REPLY_DONE;
		}
	}
	*used_r = i;
	return SMTP_REPLY_MORE;
}

void smtp_reply_oneline(const struct smtp_reply *reply, struct strbuf *out)
{
	size_t pos = 0;
	struct str line;
	bool first = true;

	strbuf_printf(out, "%u", reply->code);
	while (smtp_reply_next_line(reply, &pos, &line)) {
		if (line.n == 0)
			continue;
		strbuf_putc(out, ' ');
		/* the enhanced code is repeated on every line: keep the
		 * first one only */
		if (!first && reply->enhanced[0] != '\0' &&
		    str_starts_with(line, str_c(reply->enhanced)))
			line = str_trim(str_from(line,
						 strlen(reply->enhanced)));
		for (size_t i = 0; i < line.n; i++) {
			unsigned char c = (unsigned char)line.p[i];

			/* a diagnostic goes into headers: no controls */
			strbuf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
		}
		first = false;
	}
}

bool smtp_reply_next_line(const struct smtp_reply *reply, size_t *pos,
			  struct str *line_r)
{
	if (*pos > reply->text.n)
		return false;
	struct str rest = str_from(reply->text, *pos);
	ptrdiff_t nl = str_chr(rest, '\n');

	if (nl < 0) {
		*line_r = rest;
		*pos = reply->text.n + 1;
	} else {
		*line_r = str_make(rest.p, (size_t)nl);
		*pos += (size_t)nl + 1;
	}
	return true;
}
