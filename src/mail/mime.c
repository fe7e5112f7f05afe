/* mime.c: the push MIME parser. Input is cut into lines (LF or CRLF); only a
 * bounded prefix of each line is kept for boundary matching, and a bounded
 * copy of each part's header for parsing, so memory does not grow with the
 * message. */
#include "mail/mime.h"

#include "base/strbuf.h"
#include "mail/header.h"

/* RFC 2046 boundaries are at most 70 bytes; keep room for lenient ones. */
#define BOUNDARY_MAX 200
#define LINE_PREFIX (BOUNDARY_MAX + 4)

struct open_part {
	struct mime_part *part;
	struct str boundary;	/* multipart with a boundary, else empty */
	bool closed;		/* close delimiter seen: in the epilogue */
	uint64_t body_lf;	/* LFs before body_start */
};

struct mime_parser {
	struct mime_limits lim;
	struct mime_tree *tree;
	struct open_part *stack;	/* root .. innermost open part */
	unsigned top;			/* index of the innermost */
	bool in_header;			/* stack[top] is in its header */
	unsigned n_parts;

	uint64_t offset;	/* bytes consumed */
	uint64_t lf_count;	/* LFs consumed */
	char line[LINE_PREFIX];
	size_t line_n;		/* bytes of the current line (may exceed
				   LINE_PREFIX; only the prefix is kept) */
	uint64_t line_start;
	uint64_t line_lf;	/* LFs before line_start */
	size_t prev_nl_len;	/* line end length of the previous line */
	size_t prev_len;	/* content length of the previous line */
	char line_last;		/* last byte of the current line */
	char last_byte;		/* last byte fed */

	struct strbuf hdr;	/* header of stack[top] while in_header */
	size_t hdr_line_start;	/* hdr.n when the current line began */
};

static const char *const env_names[MIME_ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

bool mime_part_is_multipart(const struct mime_part *part)
{
	return str_caseeq(part->type, STR_LIT("multipart"));
}

bool mime_part_is_message(const struct mime_part *part)
{
	return str_caseeq(part->type, STR_LIT("message")) &&
	       (str_caseeq(part->subtype, STR_LIT("rfc822")) ||
		str_caseeq(part->subtype, STR_LIT("global")));
}

static struct mime_part *part_new(struct mime_parser *p,
				  struct mime_part *parent, uint64_t hdr_start,
				  bool message_root)
{
	struct mime_part *part = arena_zalloc(&p->tree->arena, sizeof(*part));
	struct mime_part **tail;

	part->hdr_start = hdr_start;
	part->body_start = hdr_start;
	part->body_end = hdr_start;
	part->parent = parent;
	if (message_root)
		part->env = arena_zalloc(&p->tree->arena,
					 sizeof(struct str) * MIME_ENV_COUNT);
	if (parent != NULL) {
		part->depth = parent->depth + 1;
		for (tail = &parent->children; *tail != NULL;
		     tail = &(*tail)->next)
			;
		*tail = part;
		parent->n_children++;
	}
	p->n_parts++;
	return part;
}

static void push(struct mime_parser *p, struct mime_part *part)
{
	p->top++;
	ASSERT(p->top <= p->lim.max_depth);
	p->stack[p->top] = (struct open_part){ .part = part };
	p->in_header = true;
	strbuf_reset(&p->hdr);
	p->hdr_line_start = 0;
}

static struct str unfolded(struct arena *a, struct strbuf *tmp,
			   struct str value)
{
	strbuf_reset(tmp);
	header_unfold(tmp, value);
	return arena_str(a, strbuf_str(tmp));
}

/* "type/subtype; params" -> part fields; false when the syntax is bad. */
static bool parse_content_type(struct arena *a, struct mime_part *part,
			       struct str v)
{
	static const char specials[] = "()<>@,;:\\\"/[]?=";
	struct str type, subtype;
	size_t pos = 0;

	header_skip_cfws(v, &pos, NULL);
	type = header_read_token(v, &pos, specials);
	header_skip_cfws(v, &pos, NULL);
	if (type.n == 0 || pos >= v.n || v.p[pos] != '/')
		return false;
	pos++;
	header_skip_cfws(v, &pos, NULL);
	subtype = header_read_token(v, &pos, specials);
	if (subtype.n == 0)
		return false;
	part->type = arena_str(a, type);
	part->subtype = arena_str(a, subtype);
	part->n_params = mime_param_parse(a, str_from(v, pos), &part->params);
	return true;
}

static void parse_header(struct mime_parser *p, struct mime_part *part)
{
	struct arena *a = &p->tree->arena;
	struct strbuf tmp = STRBUF_INIT;
	struct str block = strbuf_str(&p->hdr), *dst, v;
	struct header_field f;
	bool have_type = false;
	size_t pos = 0;
	unsigned i;

	while (header_next(block, &pos, &f)) {
		dst = NULL;
		if (str_caseeq(f.name, STR_LIT("content-type"))) {
			if (have_type)
				continue;
			v = unfolded(a, &tmp, f.value);
			have_type = parse_content_type(a, part, v);
			continue;
		} else if (str_caseeq(f.name, STR_LIT("content-disposition"))) {
			size_t dpos = 0;

			if (part->disposition.p != NULL)
				continue;
			v = unfolded(a, &tmp, f.value);
			header_skip_cfws(v, &dpos, NULL);
			part->disposition = arena_str(a,
				header_read_token(v, &dpos, ";()\""));
			part->n_disp_params = mime_param_parse(a,
				str_from(v, dpos), &part->disp_params);
			continue;
		} else if (str_caseeq(f.name, STR_LIT("content-transfer-encoding"))) {
			dst = &part->encoding;
		} else if (str_caseeq(f.name, STR_LIT("content-id"))) {
			dst = &part->id;
		} else if (str_caseeq(f.name, STR_LIT("content-description"))) {
			dst = &part->description;
		} else if (str_caseeq(f.name, STR_LIT("content-language"))) {
			dst = &part->language;
		} else if (str_caseeq(f.name, STR_LIT("content-location"))) {
			dst = &part->location;
		} else if (str_caseeq(f.name, STR_LIT("content-md5"))) {
			dst = &part->md5;
		} else if (part->env != NULL) {
			for (i = 0; i < MIME_ENV_COUNT; i++)
				if (str_caseeq(f.name, str_c(env_names[i])))
					dst = &part->env[i];
		}
		if (dst != NULL && dst->p == NULL)
			*dst = unfolded(a, &tmp, f.value);
	}
	if (part->encoding.p != NULL) {
		/* The token alone, without comments. */
		size_t epos = 0;
		struct str e = part->encoding;

		header_skip_cfws(e, &epos, NULL);
		part->encoding = arena_str(a, header_read_token(e, &epos, "()"));
	}
	if (!have_type) {
		const struct mime_part *parent = part->parent;

		if (parent != NULL && mime_part_is_multipart(parent) &&
		    str_caseeq(parent->subtype, STR_LIT("digest"))) {
			part->type = STR_LIT("message");
			part->subtype = STR_LIT("rfc822");
			part->n_params = 0;
		} else {
			static const struct mime_param charset = {
				{ "charset", 7 }, { "us-ascii", 8 } };

			part->type = STR_LIT("text");
			part->subtype = STR_LIT("plain");
			part->params = (struct mime_param *)&charset;
			part->n_params = 1;
		}
	}
	strbuf_free(&tmp);
}

static bool encoding_is_identity(struct str e)
{
	return e.p == NULL || str_caseeq(e, STR_LIT("7bit")) ||
	       str_caseeq(e, STR_LIT("8bit")) ||
	       str_caseeq(e, STR_LIT("binary"));
}

/* The header of stack[top] ends; its body starts at body_start. */
static void header_end(struct mime_parser *p, uint64_t body_start)
{
	struct open_part *op = &p->stack[p->top];
	struct mime_part *part = op->part;
	bool can_nest = p->top < p->lim.max_depth &&
			p->n_parts < p->lim.max_parts;

	parse_header(p, part);
	part->body_start = body_start;
	part->body_end = body_start;
	op->body_lf = p->lf_count;
	p->in_header = false;
	strbuf_reset(&p->hdr);

	if (mime_part_is_multipart(part) && p->top < p->lim.max_depth) {
		struct str b = mime_param_get(part->params, part->n_params,
					      STR_LIT("boundary"));

		if (b.n > 0 && b.n <= BOUNDARY_MAX)
			op->boundary = b;
	} else if (mime_part_is_message(part) && can_nest &&
		   encoding_is_identity(part->encoding)) {
		push(p, part_new(p, part, body_start, true));
	}
}

/* Close stack[i] at line start l; eof means no line end to give back. */
static void end_part(struct mime_parser *p, unsigned i, uint64_t l, bool eof)
{
	struct mime_part *part = p->stack[i].part;
	/* LFs before l: a boundary line's own LF is already counted. */
	uint64_t end = l, lf = eof ? p->lf_count : p->line_lf;
	bool last_is_lf;

	if (!eof && p->prev_nl_len > 0 && end >= p->prev_nl_len) {
		end -= p->prev_nl_len;
		lf--;
		last_is_lf = p->prev_len == 0;
	} else {
		last_is_lf = eof ? p->last_byte == '\n' : true;
	}
	/* The line end before a boundary belongs to the boundary, even when
	 * it was the blank line that ended this part's header, or the end of
	 * the boundary line that began an empty part. */
	if (part->hdr_start > end)
		part->hdr_start = end;
	if (part->body_start > end)
		part->body_start = end;
	part->body_end = end;
	if (end == part->body_start)
		part->body_lines = 0;
	else
		part->body_lines = lf - p->stack[i].body_lf +
				   (last_is_lf ? 0 : 1);
}

/* Does the line start a delimiter of an open multipart? Returns its stack
 * index, or -1; *final_r tells a close delimiter. */
static int match_boundary(struct mime_parser *p, bool *final_r)
{
	size_t n = MIN(p->line_n, sizeof(p->line));
	int i;

	if (n < 3 || p->line[0] != '-' || p->line[1] != '-')
		return -1;
	for (i = (int)p->top; i >= 0; i--) {
		struct open_part *op = &p->stack[i];
		size_t bn = op->boundary.n;

		if (bn == 0 || op->closed || n < 2 + bn ||
		    memcmp(p->line + 2, op->boundary.p, bn) != 0)
			continue;
		*final_r = n >= 4 + bn && p->line[2 + bn] == '-' &&
			   p->line[3 + bn] == '-';
		return i;
	}
	return -1;
}

/* A whole line was consumed: line_start .. offset, nl_len its line end
 * (0 for a last line without one). */
static void line_done(struct mime_parser *p, size_t nl_len)
{
	bool final = false;
	int b;

	if (nl_len == 2)
		p->line_n--;	/* the CR is not content */
	p->line_lf = p->lf_count - (nl_len > 0 ? 1 : 0);
	b = match_boundary(p, &final);
	if (b >= 0) {
		unsigned i = (unsigned)b;

		if (p->in_header)
			strbuf_truncate(&p->hdr, p->hdr_line_start);
		/* A header cut by the boundary (and the empty header of an
		 * embedded message it may open) ends here. */
		while (p->in_header)
			header_end(p, p->line_start);
		while (p->top > i) {
			end_part(p, p->top, p->line_start, false);
			p->top--;
		}
		p->in_header = false;
		if (final)
			p->stack[i].closed = true;
		else if (p->n_parts < p->lim.max_parts)
			push(p, part_new(p, p->stack[i].part, p->offset, false));
	} else if (p->in_header && p->line_n == 0 && nl_len > 0) {
		strbuf_truncate(&p->hdr, p->hdr_line_start);
		header_end(p, p->offset);
	}
	p->prev_nl_len = nl_len;
	p->prev_len = p->line_n;
	p->line_n = 0;
	p->line_last = '\0';
	p->line_start = p->offset;
	p->hdr_line_start = p->hdr.n;
}

struct mime_parser *mime_parser_new(const struct mime_limits *limits)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	p->lim = limits != NULL ? *limits : MIME_LIMITS_DEFAULT;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = 1;
	p->tree = xcalloc(1, sizeof(*p->tree));
	arena_init(&p->tree->arena, 0);
	p->stack = xcalloc(p->lim.max_depth + 1, sizeof(*p->stack));
	p->tree->root = part_new(p, NULL, 0, true);
	p->stack[0] = (struct open_part){ .part = p->tree->root };
	p->in_header = true;
	return p;
}

/* Consume n bytes of line content (or a LF when nl). */
static void take(struct mime_parser *p, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (p->line_n < sizeof(p->line))
		memcpy(p->line + p->line_n, s,
		       MIN(n, sizeof(p->line) - p->line_n));
	p->line_n += n;
	p->line_last = s[n - 1];
	if (p->in_header && p->hdr.n < p->lim.max_header_size)
		strbuf_append(&p->hdr, s,
			      MIN(n, p->lim.max_header_size - p->hdr.n));
	p->offset += n;
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *s = data, *nl;
	size_t n;
	bool cr;

	if (len == 0)
		return;
	p->last_byte = s[len - 1];
	while (len > 0) {
		nl = memchr(s, '\n', len);
		if (nl == NULL) {
			take(p, s, len);
			return;
		}
		n = (size_t)(nl - s);
		take(p, s, n);
		cr = p->line_n > 0 && p->line_last == '\r';
		if (p->in_header && p->hdr.n < p->lim.max_header_size)
			strbuf_putc(&p->hdr, '\n');
		p->offset++;
		p->lf_count++;
		line_done(p, cr ? 2 : 1);
		len -= n + 1;
		s = nl + 1;
	}
}

struct mime_tree *mime_parser_finish(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	struct mime_tree *tree = p->tree;

	if (p->line_n > 0)
		line_done(p, 0);
	/* header_end may open an embedded message, whose header is empty. */
	while (p->in_header)
		header_end(p, p->offset);
	for (;;) {
		end_part(p, p->top, p->offset, true);
		if (p->top == 0)
			break;
		p->top--;
	}
	tree->size = p->offset;
	strbuf_free(&p->hdr);
	free(p->stack);
	free(p);
	*pp = NULL;
	return tree;
}

struct mime_tree *mime_parse(const void *msg, size_t len,
			     const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_new(limits);

	mime_parser_feed(p, msg, len);
	return mime_parser_finish(&p);
}

void mime_tree_free(struct mime_tree **t)
{
	if (*t == NULL)
		return;
	arena_deinit(&(*t)->arena);
	free(*t);
	*t = NULL;
}

static void part_shift(struct mime_part *part, int64_t delta)
{
	for (; part != NULL; part = part->next) {
		if (part->parent != NULL)
			part->hdr_start += (uint64_t)delta;
		part->body_start += (uint64_t)delta;
		part->body_end += (uint64_t)delta;
		part_shift(part->children, delta);
	}
}

void mime_tree_shift(struct mime_tree *t, int64_t delta)
{
	part_shift(t->root, delta);
	t->size += (uint64_t)delta;
}
