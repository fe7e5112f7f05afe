/* imap_fetch.c: FETCH attribute parsing and rendering. Section fetches use
 * the part tree stored at delivery (meta->parts) to find byte ranges, so a
 * FETCH never parses the message again; ENVELOPE and BODYSTRUCTURE are
 * stored pre-rendered. */
#include "proto/imap/imap_fetch.h"

#include "mail/b64stream.h"
#include "mail/header.h"
#include "mail/imap_string.h"
#include "mail/mime_parts.h"
#include "mail/qp.h"

enum fetch_kind {
	FETCH_FLAGS,
	FETCH_INTERNALDATE,
	FETCH_RFC822_SIZE,
	FETCH_RFC822,
	FETCH_RFC822_HEADER,
	FETCH_RFC822_TEXT,
	FETCH_ENVELOPE,
	FETCH_BODY,
	FETCH_BODYSTRUCTURE,
	FETCH_UID,
	FETCH_MODSEQ,
	FETCH_SECTION,		/* BODY[...], BODY.PEEK[...] */
	FETCH_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	FETCH_BINARY_SIZE,
};

enum section_text {
	SECTION_NONE,		/* "" or part numbers only */
	SECTION_HEADER,
	SECTION_FIELDS,
	SECTION_FIELDS_NOT,
	SECTION_TEXT,
	SECTION_MIME,
};

struct fetch_att {
	enum fetch_kind kind;
	bool peek;
	/* sections: the part numbers ("" or "1.2"), what follows them */
	const char *part;
	enum section_text text;
	const char **fields;
	size_t n_fields;
	const char *echo;	/* the section as written in the reply */
	bool partial;
	uint32_t offset, length;
};

struct imap_fetch_plan {
	struct fetch_att *atts;
	size_t n;
	uint64_t changedsince;
	bool vanished;
};

/* ---- parsing ---- */

static const struct {
	const char *name;
	enum fetch_kind kind;
} simple_atts[] = {
	{ "FLAGS", FETCH_FLAGS },
	{ "INTERNALDATE", FETCH_INTERNALDATE },
	{ "RFC822.SIZE", FETCH_RFC822_SIZE },
	{ "RFC822", FETCH_RFC822 },
	{ "RFC822.HEADER", FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", FETCH_RFC822_TEXT },
	{ "ENVELOPE", FETCH_ENVELOPE },
	{ "BODY", FETCH_BODY },
	{ "BODYSTRUCTURE", FETCH_BODYSTRUCTURE },
	{ "UID", FETCH_UID },
	{ "MODSEQ", FETCH_MODSEQ },
};

static bool fail(struct imap_cursor *c, const char *error)
{
	if (c->error == NULL)
		c->error = error;
	return false;
}

/* A name of letters, digits and dots (BODY.PEEK, RFC822.SIZE). */
static struct str att_name(struct imap_cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end &&
	       ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z') ||
		(*c->p >= '0' && *c->p <= '9') || *c->p == '.'))
		c->p++;
	return str_make(start, (size_t)(c->p - start));
}

/* A header field name is an astring; it must also be a valid RFC 5322
 * field name (printable ASCII but ':'), else nothing could match. */
static bool field_name_ok(struct str s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == ':')
			return false;
	}
	return true;
}

/* A field name in the reply: as an atom when it is one, else a string. */
static void echo_field(struct strbuf *echo, struct str name)
{
	for (size_t i = 0; i < name.n; i++) {
		if (strchr("(){%*\"\\]", name.p[i]) != NULL) {
			imap_string_write(echo, name);
			return;
		}
	}
	strbuf_append_str(echo, name);
}

/* ASCII case-insensitive order of a name (not NUL-terminated) and a
 * field of the list. */
static int name_field_cmp(struct str name, const char *field)
{
	for (size_t i = 0;; i++) {
		int a = i < name.n ? (unsigned char)name.p[i] : 0;
		int b = (unsigned char)field[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b || b == 0)
			return a - b;
	}
}

static int field_cmp(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;

	return name_field_cmp(str_c(a), b);
}

/* " (name name ...)" after HEADER.FIELDS[.NOT] */
static bool parse_header_list(struct imap_cursor *c, struct arena *a,
			      struct fetch_att *att, struct strbuf *echo)
{
	const char **fields = NULL;
	size_t n = 0, cap = 0;
	struct str s;

	if (!imap_cursor_sp(c) || !imap_cursor_skip_char(c, '('))
		return fail(c, "Expected a header field list");
	strbuf_append_c(echo, " (");
	for (;;) {
		if (!imap_cursor_astring(c, a, &s))
			goto bad;
		if (!field_name_ok(s)) {
			fail(c, "Invalid header field name");
			goto bad;
		}
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			fields = xrealloc(fields, cap * sizeof(*fields));
		}
		fields[n] = arena_strndup(a, s.p, s.n);
		if (n > 0)
			strbuf_putc(echo, ' ');
		echo_field(echo, s);
		n++;
		if (imap_cursor_skip_char(c, ')'))
			break;
		if (!imap_cursor_sp(c))
			goto bad;
	}
	strbuf_putc(echo, ')');
	/* Sorted: each header line of each message is looked up by
	 * bisection, however long the list. */
	qsort(fields, n, sizeof(*fields), field_cmp);
	att->fields = arena_alloc(a, n * sizeof(*fields));
	memcpy(att->fields, fields, n * sizeof(*fields));
	att->n_fields = n;
	free(fields);
	return true;
bad:
	free(fields);
	return false;
}

/* "[" section-spec "]" (binary: only part numbers) */
static bool parse_section(struct imap_cursor *c, struct arena *a,
			  struct fetch_att *att, bool binary)
{
	struct strbuf part = STRBUF_INIT, echo = STRBUF_INIT;
	uint32_t num;

	if (!imap_cursor_skip_char(c, '['))
		return fail(c, "Expected [");
	while (imap_cursor_peek(c) >= '0' && imap_cursor_peek(c) <= '9') {
		if (!imap_cursor_nz_number(c, &num))
			goto bad;
		strbuf_printf(&part, "%s%u", part.n > 0 ? "." : "", num);
		if (!imap_cursor_skip_char(c, '.'))
			break;
		if (imap_cursor_peek(c) < '0' || imap_cursor_peek(c) > '9') {
			if (binary) {
				fail(c, "Invalid BINARY section");
				goto bad;
			}
			/* the section-text after the part numbers */
			c->p--;
			break;
		}
	}
	att->text = SECTION_NONE;
	strbuf_append_str(&echo, strbuf_str(&part));
	if (!binary && imap_cursor_peek(c) != ']') {
		struct str kw;

		if (part.n > 0 && !imap_cursor_skip_char(c, '.')) {
			fail(c, "Invalid section");
			goto bad;
		}
		kw = att_name(c);
		if (part.n > 0)
			strbuf_putc(&echo, '.');
		if (str_caseeq(kw, STR_LIT("HEADER"))) {
			att->text = SECTION_HEADER;
			strbuf_append_c(&echo, "HEADER");
		} else if (str_caseeq(kw, STR_LIT("TEXT"))) {
			att->text = SECTION_TEXT;
			strbuf_append_c(&echo, "TEXT");
		} else if (str_caseeq(kw, STR_LIT("MIME")) && part.n > 0) {
			att->text = SECTION_MIME;
			strbuf_append_c(&echo, "MIME");
		} else if (str_caseeq(kw, STR_LIT("HEADER.FIELDS"))) {
			att->text = SECTION_FIELDS;
			strbuf_append_c(&echo, "HEADER.FIELDS");
			if (!parse_header_list(c, a, att, &echo))
				goto bad;
		} else if (str_caseeq(kw, STR_LIT("HEADER.FIELDS.NOT"))) {
			att->text = SECTION_FIELDS_NOT;
			strbuf_append_c(&echo, "HEADER.FIELDS.NOT");
			if (!parse_header_list(c, a, att, &echo))
				goto bad;
		} else {
			fail(c, "Invalid section");
			goto bad;
		}
	}
	if (!imap_cursor_skip_char(c, ']')) {
		fail(c, "Expected ]");
		goto bad;
	}
	att->part = arena_strndup(a, strbuf_cstr(&part), part.n);
	att->echo = arena_strndup(a, strbuf_cstr(&echo), echo.n);
	strbuf_free(&part);
	strbuf_free(&echo);
	return true;
bad:
	strbuf_free(&part);
	strbuf_free(&echo);
	return false;
}

/* "<" number "." nz-number ">" */
static bool parse_partial(struct imap_cursor *c, struct fetch_att *att)
{
	if (!imap_cursor_skip_char(c, '<'))
		return true;
	if (!imap_cursor_number(c, &att->offset) ||
	    !imap_cursor_skip_char(c, '.') ||
	    !imap_cursor_nz_number(c, &att->length) ||
	    !imap_cursor_skip_char(c, '>'))
		return fail(c, "Invalid partial <offset.length>");
	att->partial = true;
	return true;
}

static bool parse_att(struct imap_cursor *c, struct arena *a,
		      struct fetch_att *att)
{
	struct str name = att_name(c);

	memset(att, 0, sizeof(*att));
	if (str_caseeq(name, STR_LIT("BODY")) && imap_cursor_peek(c) == '[') {
		att->kind = FETCH_SECTION;
		return parse_section(c, a, att, false) && parse_partial(c, att);
	}
	if (str_caseeq(name, STR_LIT("BODY.PEEK"))) {
		att->kind = FETCH_SECTION;
		att->peek = true;
		return parse_section(c, a, att, false) && parse_partial(c, att);
	}
	if (str_caseeq(name, STR_LIT("BINARY")) ||
	    str_caseeq(name, STR_LIT("BINARY.PEEK"))) {
		att->kind = FETCH_BINARY;
		att->peek = name.n > 6;
		return parse_section(c, a, att, true) && parse_partial(c, att);
	}
	if (str_caseeq(name, STR_LIT("BINARY.SIZE"))) {
		att->kind = FETCH_BINARY_SIZE;
		return parse_section(c, a, att, true);
	}
	for (size_t i = 0; i < ARRAY_SIZE(simple_atts); i++) {
		if (str_caseeq(name, str_c(simple_atts[i].name))) {
			att->kind = simple_atts[i].kind;
			return true;
		}
	}
	return fail(c, "Unknown FETCH attribute");
}

static void plan_add(struct imap_fetch_plan *p, size_t *cap,
		     const struct fetch_att *att)
{
	if (p->n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		p->atts = xrealloc(p->atts, *cap * sizeof(*p->atts));
	}
	p->atts[p->n++] = *att;
}

/* " (CHANGEDSINCE n [VANISHED])" in any order (RFC 7162) */
static bool parse_modifiers(struct imap_cursor *c, struct imap_fetch_plan *p)
{
	if (imap_cursor_peek(c) != ' ')
		return true;
	c->p++;
	if (!imap_cursor_skip_char(c, '('))
		return fail(c, "Expected FETCH modifiers");
	for (;;) {
		struct str name = att_name(c);

		if (str_caseeq(name, STR_LIT("CHANGEDSINCE")) &&
		    p->changedsince == 0) {
			if (!imap_cursor_sp(c) ||
			    !imap_cursor_number64(c, &p->changedsince))
				return false;
			if (p->changedsince == 0)
				return fail(c, "CHANGEDSINCE must be positive");
		} else if (str_caseeq(name, STR_LIT("VANISHED")) && !p->vanished) {
			p->vanished = true;
		} else {
			return fail(c, "Unknown FETCH modifier");
		}
		if (imap_cursor_skip_char(c, ')'))
			break;
		if (!imap_cursor_sp(c))
			return false;
	}
	/* RFC 7162 3.2.6: VANISHED needs CHANGEDSINCE */
	if (p->vanished && p->changedsince == 0)
		return fail(c, "VANISHED without CHANGEDSINCE");
	return true;
}

struct imap_fetch_plan *imap_fetch_parse(struct imap_cursor *c, struct arena *a)
{
	struct imap_fetch_plan tmp = { NULL, 0, 0, false }, *p;
	struct fetch_att att;
	size_t cap = 0;
	const char *start = c->p;

	if (imap_cursor_skip_char(c, '(')) {
		for (;;) {
			if (!parse_att(c, a, &att))
				goto bad;
			plan_add(&tmp, &cap, &att);
			if (imap_cursor_skip_char(c, ')'))
				break;
			if (!imap_cursor_sp(c))
				goto bad;
		}
	} else {
		const char *save = c->p;
		struct str name = att_name(c);
		static const enum fetch_kind all[] = {
			FETCH_FLAGS, FETCH_INTERNALDATE, FETCH_RFC822_SIZE,
			FETCH_ENVELOPE, FETCH_BODY,
		};
		size_t n_macro = 0;

		if (str_caseeq(name, STR_LIT("FAST")))
			n_macro = 3;
		else if (str_caseeq(name, STR_LIT("ALL")))
			n_macro = 4;
		else if (str_caseeq(name, STR_LIT("FULL")))
			n_macro = 5;
		if (n_macro > 0) {
			for (size_t i = 0; i < n_macro; i++) {
				memset(&att, 0, sizeof(att));
				att.kind = all[i];
				plan_add(&tmp, &cap, &att);
			}
		} else {
			c->p = save;
			if (!parse_att(c, a, &att))
				goto bad;
			plan_add(&tmp, &cap, &att);
		}
	}
	if (!parse_modifiers(c, &tmp))
		goto bad;
	p = arena_alloc(a, sizeof(*p));
	*p = tmp;
	p->atts = arena_alloc(a, tmp.n * sizeof(*tmp.atts));
	memcpy(p->atts, tmp.atts, tmp.n * sizeof(*tmp.atts));
	free(tmp.atts);
	return p;
bad:
	free(tmp.atts);
	fail(c, "Invalid FETCH attributes");
	c->p = start;
	return NULL;
}

static bool att_needs_parts(const struct fetch_att *att)
{
	switch (att->kind) {
	case FETCH_RFC822_HEADER:
	case FETCH_RFC822_TEXT:
		return true;
	case FETCH_SECTION:
		return att->part[0] != '\0' || att->text != SECTION_NONE;
	case FETCH_BINARY:
	case FETCH_BINARY_SIZE:
		return att->part[0] != '\0';
	default:
		return false;
	}
}

bool imap_fetch_needs_meta(const struct imap_fetch_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->atts[i].kind == FETCH_ENVELOPE ||
		    p->atts[i].kind == FETCH_BODY ||
		    p->atts[i].kind == FETCH_BODYSTRUCTURE ||
		    att_needs_parts(&p->atts[i]))
			return true;
	}
	return false;
}

bool imap_fetch_needs_blob(const struct imap_fetch_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		switch (p->atts[i].kind) {
		case FETCH_RFC822:
		case FETCH_RFC822_HEADER:
		case FETCH_RFC822_TEXT:
		case FETCH_SECTION:
		case FETCH_BINARY:
		case FETCH_BINARY_SIZE:
			return true;
		default:
			break;
		}
	}
	return false;
}

bool imap_fetch_sets_seen(const struct imap_fetch_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		switch (p->atts[i].kind) {
		case FETCH_RFC822:
		case FETCH_RFC822_TEXT:
			return true;
		case FETCH_SECTION:
		case FETCH_BINARY:
			if (!p->atts[i].peek)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static bool plan_has(const struct imap_fetch_plan *p, enum fetch_kind kind)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->atts[i].kind == kind)
			return true;
	}
	return false;
}

bool imap_fetch_wants_modseq(const struct imap_fetch_plan *p)
{
	return p->changedsince != 0 || plan_has(p, FETCH_MODSEQ);
}

bool imap_fetch_wants_flags(const struct imap_fetch_plan *p)
{
	return plan_has(p, FETCH_FLAGS);
}

uint64_t imap_fetch_changedsince(const struct imap_fetch_plan *p)
{
	return p->changedsince;
}

size_t imap_fetch_count(const struct imap_fetch_plan *p)
{
	return p->n;
}

bool imap_fetch_vanished(const struct imap_fetch_plan *p)
{
	return p->vanished;
}

/* ---- rendering ---- */

void imap_fetch_write_flags(struct strbuf *out, uint32_t flags,
			    const char *keywords, bool recent)
{
	static const struct { uint32_t bit; const char *name; } sys[] = {
		{ STORE_FLAG_SEEN, "\\Seen" },
		{ STORE_FLAG_ANSWERED, "\\Answered" },
		{ STORE_FLAG_FLAGGED, "\\Flagged" },
		{ STORE_FLAG_DELETED, "\\Deleted" },
		{ STORE_FLAG_DRAFT, "\\Draft" },
	};
	size_t start = out->n;

	strbuf_putc(out, '(');
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		if (flags & sys[i].bit) {
			if (out->n > start + 1)
				strbuf_putc(out, ' ');
			strbuf_append_c(out, sys[i].name);
		}
	}
	if (recent) {
		if (out->n > start + 1)
			strbuf_putc(out, ' ');
		strbuf_append_c(out, "\\Recent");
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (out->n > start + 1)
			strbuf_putc(out, ' ');
		strbuf_append_c(out, keywords);
	}
	strbuf_putc(out, ')');
}

/* The date-time in the zone it was given in (APPEND), as Dovecot returns
 * it: "01-Jan-2020 10:00:00 +0100" comes back as it went. */
static void write_internaldate(struct strbuf *out, int64_t utc, int zone)
{
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t t = utc + (int64_t)zone * 60;
	int az = zone < 0 ? -zone : zone;
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	/* civil from days (H. Hinnant) */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);

	strbuf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", (int)d,
		      months[m - 1], (int)y, (int)(secs / 3600),
		      (int)(secs / 60 % 60), (int)(secs % 60),
		      zone < 0 ? '-' : '+', az / 60, az % 60);
}

/* A literal of data[0..n) with NUL bytes sent as 0x80 (a literal cannot
 * carry NUL; the length stays the same). */
static void write_literal(struct strbuf *out, const char *data, size_t n)
{
	size_t start;

	strbuf_printf(out, "{%zu}\r\n", n);
	start = out->n;
	strbuf_append(out, data, n);
	for (size_t i = start; i < out->n; i++) {
		if (out->p[i] == '\0')
			out->p[i] = (char)0x80;
	}
}

static bool field_listed(const struct fetch_att *att, struct str name)
{
	size_t lo = 0, hi = att->n_fields;

	if (memchr(name.p, '\0', name.n) != NULL)
		return false;	/* field names in the list have none */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = name_field_cmp(name, att->fields[mid]);

		if (r == 0)
			return true;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* The fields of a header block kept by HEADER.FIELDS[.NOT], as written
 * (folding kept), then the blank line. */
static void filter_header(const struct fetch_att *att, struct str block,
			  struct strbuf *out)
{
	struct header_field f;
	size_t pos = 0;

	while (header_next(block, &pos, &f)) {
		bool listed = field_listed(att, f.name);
		const char *end = f.value.p + f.value.n;

		if (listed != (att->text == SECTION_FIELDS))
			continue;
		strbuf_append(out, f.name.p, (size_t)(end - f.name.p));
		if (end == f.name.p || end[-1] != '\n')
			strbuf_append(out, "\r\n", 2);
	}
	strbuf_append(out, "\r\n", 2);
}

enum binary_cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

/* RFC 3516 decodes 7bit, 8bit, binary (and none: 7bit), base64 and
 * quoted-printable. */
static enum binary_cte binary_cte(const struct mime_part *part)
{
	struct str enc = part->encoding;

	if (enc.p == NULL || enc.n == 0 || str_caseeq(enc, STR_LIT("7bit")) ||
	    str_caseeq(enc, STR_LIT("8bit")) ||
	    str_caseeq(enc, STR_LIT("binary")))
		return CTE_IDENTITY;
	if (str_caseeq(enc, STR_LIT("base64")))
		return CTE_BASE64;
	if (str_caseeq(enc, STR_LIT("quoted-printable")))
		return CTE_QP;
	return CTE_UNKNOWN;
}

/* Decoders stream: decoding in slices gives the bytes of one pass. With
 * out == NULL only the decoded length is returned, the bytes go through a
 * slice-sized buffer (BINARY.SIZE of a 25 MB part holds no second copy of
 * it). */
#define BINARY_SLICE 65536

static size_t binary_decode(enum binary_cte cte, struct str body,
			    struct strbuf *out)
{
	struct b64stream b64 = B64STREAM_INIT;
	struct qp_decoder qp = QP_DECODER_INIT;
	struct strbuf scratch = STRBUF_INIT;
	struct strbuf *dst = out != NULL ? out : &scratch;
	size_t start = dst->n, total = 0;

	for (size_t pos = 0; pos < body.n; pos += BINARY_SLICE) {
		size_t len = MIN(BINARY_SLICE, body.n - pos);

		if (cte == CTE_BASE64)
			b64stream_feed(&b64, dst, body.p + pos, len);
		else
			qp_decoder_feed(&qp, dst, body.p + pos, len);
		if (out == NULL) {
			total += scratch.n;
			strbuf_reset(&scratch);
		}
	}
	if (cte == CTE_BASE64)
		b64stream_finish(&b64, dst);
	else
		qp_decoder_finish(&qp, dst);
	total += out == NULL ? scratch.n : dst->n - start;
	strbuf_free(&scratch);
	return total;
}

struct render {
	const struct imap_fetch_msg *m;
	struct mime_tree *tree;
	struct strbuf tmp;
	/* the part whose decoded bytes tmp holds (NULL: none), so that
	 * "BINARY.SIZE[1] BINARY[1]" decodes part 1 once */
	const char *tmp_part;
	/* bytes read by range for the attribute being rendered */
	struct strbuf raw;
	/* the whole message, read when it had no stored part tree */
	struct strbuf whole;
	const char *error;	/* a failed store read */
	/* NULL, or where a large body literal is handed to the caller
	 * instead of being read (imap_fetch_render_from) */
	struct imap_fetch_stream *stream;
};

/* The message bytes [start, end), clamped to the message: a view of
 * m->data, or read from the store into r->raw (valid until the next
 * read). False on a store error (r->error set). */
static bool msg_range(struct render *r, uint64_t start, uint64_t end,
		      struct str *s_r)
{
	const struct imap_fetch_msg *m = r->m;
	const char *base = m->data != NULL ? m->data : r->whole.p;
	int ret;

	end = MIN(end, (uint64_t)m->size);
	start = MIN(start, end);
	if (base != NULL || start == end) {
		*s_r = base != NULL ? str_make(base + start, (size_t)(end - start)) :
		       STR_LIT("");
		return true;
	}
	strbuf_reset(&r->raw);
	ret = store_blob_append(m->reader, m->blob_id, start,
				(size_t)(end - start), &r->raw, &r->error);
	if (ret == 0 || (ret > 0 && r->raw.n != end - start)) {
		r->error = "message bytes shorter than recorded";
		ret = -1;
	}
	if (ret < 0)
		return false;
	*s_r = strbuf_str(&r->raw);
	return true;
}

static const struct mime_tree *render_tree(struct render *r)
{
	const char *error;
	struct str all;

	if (r->tree != NULL)
		return r->tree;
	if (r->m->meta != NULL && r->m->meta->parts != NULL &&
	    r->m->meta->parts_size > 0)
		r->tree = mime_parts_deserialize(r->m->meta->parts,
						 r->m->meta->parts_size, &error);
	if (r->tree != NULL)
		return r->tree;
	/* a message stored without its part tree (or a damaged one): parse
	 * the bytes, read whole once for this message */
	if (r->m->data == NULL && msg_range(r, 0, r->m->size, &all)) {
		strbuf_append_str(&r->whole, all);
		strbuf_reset(&r->raw);
	}
	r->tree = mime_parse(r->m->data != NULL ? r->m->data : r->whole.p,
			     r->m->data != NULL ? r->m->size : r->whole.n, NULL);
	return r->tree;
}

/* The byte range of a BODY[...] section, clamped to the message; false
 * when the message has no such section. */
static bool section_range(struct render *r, const struct fetch_att *att,
			  uint64_t *start_r, uint64_t *end_r)
{
	struct mime_section sec;
	struct strbuf spec = STRBUF_INIT;
	bool found;

	if (att->part[0] == '\0' && att->text == SECTION_NONE) {
		*start_r = 0;
		*end_r = r->m->size;
		return true;
	}
	strbuf_printf(&spec, "%s%s%s", att->part,
		      att->part[0] != '\0' && att->text != SECTION_NONE ? "." : "",
		      att->text == SECTION_TEXT ? "TEXT" :
		      att->text == SECTION_MIME ? "MIME" :
		      att->text == SECTION_NONE ? "" : "HEADER");
	found = mime_parts_find_section(render_tree(r), strbuf_str(&spec), &sec);
	strbuf_free(&spec);
	if (!found)
		return false;
	*end_r = MIN(sec.end, (uint64_t)r->m->size);
	*start_r = MIN(sec.start, *end_r);
	return true;
}

/* <offset.length> narrows the range before anything is read. */
static void range_partial(const struct fetch_att *att, uint64_t *start,
			  uint64_t *end)
{
	if (!att->partial)
		return;
	if (att->offset >= *end - *start) {
		*start = *end;
		return;
	}
	*start += att->offset;
	*end = MIN(*end, *start + att->length);
}

static struct str apply_partial(const struct fetch_att *att, struct str s)
{
	if (!att->partial)
		return s;
	if (att->offset >= s.n)
		return STR_LIT("");
	return str_make(s.p + att->offset, MIN(s.n - att->offset, att->length));
}

/* Does the message hold a NUL byte in [start, end)? Read in slices. 1
 * yes, 0 no, -1 on a store error (r->error). */
static int range_has_nul(struct render *r, uint64_t start, uint64_t end)
{
	struct str s;

	for (uint64_t pos = start; pos < end; pos += IMAP_FETCH_STREAM_STEP) {
		if (!msg_range(r, pos, MIN(end, pos + IMAP_FETCH_STREAM_STEP),
			       &s))
			return -1;
		if (memchr(s.p, '\0', s.n) != NULL)
			return 1;
	}
	return 0;
}

/* A literal of the message bytes [start, end) (literal8 when binary and
 * they hold a NUL; else NULs go as 0x80): a large one read by range from
 * the store is left to the caller (r->stream, 1 returned) after its
 * "{n}\r\n", so it is never in memory whole. 0 written, -2 store error. */
static int range_literal(struct render *r, uint64_t start, uint64_t end,
			 bool binary, struct strbuf *out)
{
	struct str s;
	int nul = 0;

	if (r->stream != NULL && r->m->data == NULL &&
	    end - start >= IMAP_FETCH_STREAM_MIN) {
		if (binary && (nul = range_has_nul(r, start, end)) < 0)
			return -2;
		strbuf_printf(out, "%s{%llu}\r\n", nul ? "~" : "",
			      (unsigned long long)(end - start));
		*r->stream = (struct imap_fetch_stream){
			.start = start, .end = end, .nul_as_0x80 = !binary,
		};
		return 1;
	}
	if (!msg_range(r, start, end, &s))
		return -2;
	if (!binary) {
		write_literal(out, s.p, s.n);
		return 0;
	}
	strbuf_printf(out, "%s{%zu}\r\n", memchr(s.p, '\0', s.n) != NULL ?
		      "~" : "", s.n);
	strbuf_append_str(out, s);
	return 0;
}

/* The literal of a BODY[...] section, partial applied when partial is
 * set: a plain range through range_literal(), a header filtered in
 * memory. 0 written, 1 left to the caller, -2 store error. */
static bool section_bytes(struct render *r, const struct fetch_att *att,
			  bool partial, struct str *s_r);

static int section_literal(struct render *r, const struct fetch_att *att,
			   bool partial, struct strbuf *out)
{
	uint64_t start, end;
	struct str s;

	if (att->text != SECTION_FIELDS && att->text != SECTION_FIELDS_NOT &&
	    section_range(r, att, &start, &end)) {
		if (partial)
			range_partial(att, &start, &end);
		return range_literal(r, start, end, false, out);
	}
	if (!section_bytes(r, att, partial, &s))
		return -2;
	write_literal(out, s.p, s.n);
	return 0;
}

/* The bytes of a BODY[...] section, with att's partial applied when
 * partial is set: only those bytes are read (HEADER.FIELDS reads the
 * header it filters). False on a store error. */
static bool section_bytes(struct render *r, const struct fetch_att *att,
			  bool partial, struct str *s_r)
{
	uint64_t start, end;

	if (!section_range(r, att, &start, &end)) {
		*s_r = STR_LIT("");
		return true;
	}
	if (att->text != SECTION_FIELDS && att->text != SECTION_FIELDS_NOT) {
		if (partial)
			range_partial(att, &start, &end);
		return msg_range(r, start, end, s_r);
	}
	if (!msg_range(r, start, end, s_r))
		return false;
	strbuf_reset(&r->tmp);
	r->tmp_part = NULL;
	filter_header(att, *s_r, &r->tmp);
	*s_r = strbuf_str(&r->tmp);
	if (partial)
		*s_r = apply_partial(att, *s_r);
	return true;
}

/* The decoded bytes of a BINARY section, with att's partial applied
 * (size_only: only their length counts, bytes_r->p may be NULL; no
 * partial). 1, 0 for an unknown CTE, -1 on a store error. With stream_r
 * (not size_only), bytes that need no decoding are written to it as a
 * literal by range_literal() instead (2; r->stream set when it left
 * them to the caller). The parts that
 * need no decoding are read by range (and not at all for their size); a
 * decoded part is kept for the next attribute of the same part, and a
 * large one is only counted for BINARY.SIZE. */
static int binary_bytes(struct render *r, const struct fetch_att *att,
			bool size_only, struct str *bytes_r,
			struct strbuf *stream_r)
{
	struct mime_section sec;
	enum binary_cte cte = CTE_IDENTITY;
	uint64_t start = 0, end = r->m->size;
	struct str body;

	if (att->part[0] != '\0') {
		if (!mime_parts_find_section(render_tree(r), str_c(att->part),
					     &sec)) {
			*bytes_r = STR_LIT("");
			return 1;
		}
		end = MIN(sec.end, (uint64_t)r->m->size);
		start = MIN(sec.start, end);
		cte = binary_cte(sec.part);
	}
	if (cte == CTE_UNKNOWN)
		return 0;
	if (cte == CTE_IDENTITY) {
		if (size_only) {
			*bytes_r = str_make(NULL, (size_t)(end - start));
			return 1;
		}
		range_partial(att, &start, &end);
		if (stream_r != NULL)
			return range_literal(r, start, end, true, stream_r) == -2 ?
			       -1 : 2;
		return msg_range(r, start, end, bytes_r) ? 1 : -1;
	}
	if (r->tmp_part != NULL && strcmp(r->tmp_part, att->part) == 0) {
		*bytes_r = strbuf_str(&r->tmp);
	} else {
		if (!msg_range(r, start, end, &body))
			return -1;
		if (size_only && body.n > BINARY_SLICE) {
			*bytes_r = str_make(NULL, binary_decode(cte, body, NULL));
			return 1;
		}
		strbuf_reset(&r->tmp);
		binary_decode(cte, body, &r->tmp);
		r->tmp_part = att->part;
		*bytes_r = strbuf_str(&r->tmp);
	}
	if (bytes_r->p == NULL)
		*bytes_r = STR_LIT("");
	if (!size_only)
		*bytes_r = apply_partial(att, *bytes_r);
	return 1;
}

static int render_att(struct render *r, const struct fetch_att *att,
		      struct strbuf *out, const char **error_r)
{
	const struct imap_fetch_msg *m = r->m;
	struct str s;
	int ret;

	switch (att->kind) {
	case FETCH_FLAGS:
		strbuf_append_c(out, "FLAGS ");
		imap_fetch_write_flags(out, m->msg->flags, m->msg->keywords,
				       m->recent);
		break;
	case FETCH_INTERNALDATE:
		strbuf_append_c(out, "INTERNALDATE ");
		write_internaldate(out, m->msg->internal_date,
				   m->msg->internal_zone);
		break;
	case FETCH_RFC822_SIZE:
		strbuf_printf(out, "RFC822.SIZE %llu",
			      (unsigned long long)m->msg->size);
		break;
	case FETCH_RFC822:
		strbuf_append_c(out, "RFC822 ");
		return range_literal(r, 0, m->size, false, out);
	case FETCH_RFC822_HEADER:
	case FETCH_RFC822_TEXT: {
		struct fetch_att sec = { .part = "",
			.text = att->kind == FETCH_RFC822_HEADER ?
				SECTION_HEADER : SECTION_TEXT };

		strbuf_append_c(out, att->kind == FETCH_RFC822_HEADER ?
				"RFC822.HEADER " : "RFC822.TEXT ");
		return section_literal(r, &sec, false, out);
	}
	case FETCH_ENVELOPE:
		ASSERT(m->meta != NULL);
		strbuf_append_c(out, "ENVELOPE ");
		strbuf_append_c(out, m->meta->envelope);
		break;
	case FETCH_BODY:
		ASSERT(m->meta != NULL);
		strbuf_append_c(out, "BODY ");
		strbuf_append_c(out, m->meta->body);
		break;
	case FETCH_BODYSTRUCTURE:
		ASSERT(m->meta != NULL);
		strbuf_append_c(out, "BODYSTRUCTURE ");
		strbuf_append_c(out, m->meta->bodystructure);
		break;
	case FETCH_UID:
	case FETCH_MODSEQ:
		PANIC("UID and MODSEQ are rendered by imap_fetch_render");
	case FETCH_SECTION:
		strbuf_printf(out, "BODY[%s]", att->echo);
		if (att->partial)
			strbuf_printf(out, "<%u>", att->offset);
		strbuf_putc(out, ' ');
		return section_literal(r, att, true, out);
	case FETCH_BINARY: {
		size_t mark = out->n;

		strbuf_printf(out, "BINARY[%s]", att->echo);
		if (att->partial)
			strbuf_printf(out, "<%u>", att->offset);
		strbuf_putc(out, ' ');
		if ((ret = binary_bytes(r, att, false, &s, out)) <= 0) {
			strbuf_truncate(out, mark);
			*error_r = "Unknown Content-Transfer-Encoding";
			return ret == 0 ? -1 : -2;
		}
		if (ret == 2)	/* written, or left to the caller */
			return r->stream != NULL && r->stream->end > 0 ? 1 : 0;
		strbuf_printf(out, "%s{%zu}\r\n",
			      memchr(s.p, '\0', s.n) != NULL ? "~" : "", s.n);
		strbuf_append_str(out, s);
		break;
	}
	case FETCH_BINARY_SIZE:
		if ((ret = binary_bytes(r, att, true, &s, NULL)) <= 0) {
			*error_r = "Unknown Content-Transfer-Encoding";
			return ret == 0 ? -1 : -2;
		}
		strbuf_printf(out, "BINARY.SIZE[%s] %zu", att->echo, s.n);
		break;
	}
	return 0;
}

int imap_fetch_render(const struct imap_fetch_plan *p,
		      const struct imap_fetch_msg *m, bool uid_command,
		      bool with_modseq, struct strbuf *out,
		      const char **error_r)
{
	return imap_fetch_render_from(p, m, uid_command, with_modseq, 0, out,
				      NULL, error_r);
}

int imap_fetch_render_from(const struct imap_fetch_plan *p,
			   const struct imap_fetch_msg *m, bool uid_command,
			   bool with_modseq, size_t from, struct strbuf *out,
			   struct imap_fetch_stream *stream,
			   const char **error_r)
{
	struct render r = { .m = m, .stream = stream };
	size_t start = out->n;
	bool uid = uid_command || plan_has(p, FETCH_UID);
	bool modseq = with_modseq || plan_has(p, FETCH_MODSEQ);
	/* after the bytes of a streamed literal, items came before */
	bool first = from == 0;
	int ret = 0;

	if (stream != NULL)
		*stream = (struct imap_fetch_stream){ 0 };
	if (from == 0) {
		strbuf_printf(out, "* %u FETCH (", m->seq);
		if (uid) {
			strbuf_printf(out, "UID %u", m->msg->uid);
			first = false;
		}
	}
	for (size_t i = from; i < p->n && ret == 0; i++) {
		const struct fetch_att *att = &p->atts[i];

		if (att->kind == FETCH_UID || att->kind == FETCH_MODSEQ)
			continue;
		if (!first)
			strbuf_putc(out, ' ');
		first = false;
		ret = render_att(&r, att, out, error_r);
		if (ret == 1)
			stream->next = i + 1;
	}
	if (ret == 0 && modseq) {
		if (!first)
			strbuf_putc(out, ' ');
		strbuf_printf(out, "MODSEQ (%llu)",
			      (unsigned long long)m->msg->modseq);
	}
	if (r.tree != NULL)
		mime_tree_free(&r.tree);
	strbuf_free(&r.tmp);
	strbuf_free(&r.raw);
	strbuf_free(&r.whole);
	if (ret == -2)
		*error_r = r.error;
	if (ret < 0) {
		strbuf_truncate(out, start);
		return ret;
	}
	if (ret == 1)
		return 1;
	strbuf_append_c(out, ")\r\n");
	return 0;
}
