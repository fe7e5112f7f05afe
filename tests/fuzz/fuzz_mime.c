/* fuzz_mime.c: the MIME parser fed in chunks (size from the first byte);
 * ENVELOPE and BODYSTRUCTURE must be syntactically valid IMAP, the chunked
 * parse must equal the whole one, offsets must stay inside the input, and
 * the stored form must round-trip, the extracted text must be UTF-8; the
 * long-line re-encoding keeps the part tree and decodes to the original;
 * a parse behind MIME_PREFIX_STANDIN, shifted, equals one behind a real
 * prefix (the stream parse at SMTP DATA). */
#include "base/strbuf.h"
#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/charset.h"
#include "mail/mime_parts.h"
#include "mail/mime_recode.h"
#include "mail/qp.h"
#include "mail/mime_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One IMAP value at s[*pos]: NIL, a number, a quoted string, a literal or
 * a parenthesised list of values separated by single spaces (or nothing
 * between two lists). */
static bool imap_value(struct str s, size_t *pos, unsigned depth)
{
	size_t i = *pos;

	if (i >= s.n || depth > 1000)
		return false;
	if (s.p[i] == '(') {
		i++;
		for (bool first = true; i < s.n && s.p[i] != ')'; first = false) {
			/* Address and body lists have no space between
			 * their parenthesised members. */
			if (!first && s.p[i] == ' ')
				i++;
			else if (!first && (s.p[i - 1] != ')' || s.p[i] != '('))
				return false;
			if (!imap_value(s, &i, depth + 1))
				return false;
		}
		if (i >= s.n)
			return false;
		*pos = i + 1;
		return true;
	}
	if (s.p[i] == '"') {
		for (i++; i < s.n && s.p[i] != '"'; i++) {
			unsigned char c = (unsigned char)s.p[i];

			if (c == '\\') {
				i++;
				if (i >= s.n || (s.p[i] != '"' && s.p[i] != '\\'))
					return false;
			} else if (c == 0 || c >= 0x80 || c == '\r' || c == '\n') {
				return false;
			}
		}
		if (i >= s.n)
			return false;
		*pos = i + 1;
		return true;
	}
	if (s.p[i] == '{') {
		uint64_t n = 0;

		for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++)
			n = n * 10 + (uint64_t)(s.p[i] - '0');
		if (i + 3 > s.n || memcmp(s.p + i, "}\r\n", 3) != 0)
			return false;
		i += 3;
		if (n > s.n - i || memchr(s.p + i, '\0', n) != NULL)
			return false;
		*pos = i + n;
		return true;
	}
	if (s.n - i >= 3 && memcmp(s.p + i, "NIL", 3) == 0) {
		*pos = i + 3;
		return true;
	}
	if (s.p[i] < '0' || s.p[i] > '9')
		return false;
	while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
		i++;
	*pos = i;
	return true;
}

static void check_imap(const struct strbuf *b)
{
	size_t pos = 0;

	if (!imap_value(strbuf_str(b), &pos, 0) || pos != b->n)
		PANIC("invalid IMAP output: %s", strbuf_cstr(b));
}

static void check_part(const struct mime_part *p, uint64_t size)
{
	const struct mime_part *c;

	if (p->hdr_start > p->body_start || p->body_start > p->body_end ||
	    p->body_end > size)
		PANIC("bad offsets");
	for (c = p->children; c != NULL; c = c->next) {
		if (c->hdr_start < p->hdr_start || c->body_end > p->body_end)
			PANIC("child outside its parent");
		check_part(c, size);
	}
}

static void render(const struct mime_tree *t, struct strbuf *out)
{
	struct strbuf env = STRBUF_INIT, body = STRBUF_INIT, bs = STRBUF_INIT;

	imap_envelope_write(&env, t->root);
	/* the address lines of SEARCH FROM/TO/CC/BCC, from the same parse */
	if (t->root->env != NULL) {
		static const int fields[] = { MIME_ENV_FROM, MIME_ENV_TO,
					      MIME_ENV_CC, MIME_ENV_BCC };

		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			imap_envelope_search_text(&body,
						  t->root->env[fields[i]]);
		strbuf_reset(&body);
	}
	imap_bodystructure_write(&body, t->root, false);
	imap_bodystructure_write(&bs, t->root, true);
	check_imap(&env);
	check_imap(&body);
	check_imap(&bs);
	strbuf_append_str(out, strbuf_str(&env));
	strbuf_append_str(out, strbuf_str(&body));
	strbuf_append_str(out, strbuf_str(&bs));
	strbuf_free(&env);
	strbuf_free(&body);
	strbuf_free(&bs);
}

/* The same tree before and after mime_recode; a leaf whose body changed
 * is quoted-printable now and decodes to the old body. */
static void compare_recoded(const struct mime_part *a, struct str in,
			    const struct mime_part *b, struct str out)
{
	const struct mime_part *ca, *cb;

	if (a->n_children != b->n_children || !str_caseeq(a->type, b->type) ||
	    !str_caseeq(a->subtype, b->subtype))
		PANIC("recoding changed the part tree");
	if (a->children == NULL) {
		struct str ba = str_make(in.p + a->body_start,
					 a->body_end - a->body_start);
		struct str bb = str_make(out.p + b->body_start,
					 b->body_end - b->body_start);

		if (!str_eq(ba, bb)) {
			struct qp_decoder d = QP_DECODER_INIT;
			struct strbuf dec = STRBUF_INIT;

			if (!str_caseeq(b->encoding, STR_LIT("quoted-printable")))
				PANIC("a part changed without being re-encoded");
			qp_decoder_feed(&d, &dec, bb.p, bb.n);
			qp_decoder_finish(&d, &dec);
			if (!str_eq(strbuf_str(&dec), ba))
				PANIC("a re-encoded part decodes differently");
			strbuf_free(&dec);
		}
	}
	for (ca = a->children, cb = b->children; ca != NULL;
	     ca = ca->next, cb = cb->next)
		compare_recoded(ca, in, cb, out);
}

static void check_recode(struct str in)
{
	struct strbuf out = STRBUF_INIT;
	struct mime_tree *ta, *tb;
	bool left;
	unsigned n = mime_recode_long_lines(in, &out, &left);

	if (n == 0 && !str_eq(strbuf_str(&out), in))
		PANIC("nothing re-encoded, yet the bytes changed");
	if (left != (mime_recode_longest_line(strbuf_str(&out)) >
		     MIME_RECODE_LINE_MAX))
		PANIC("left_r is wrong");
	ta = mime_parse(in.p, in.n, NULL);
	tb = mime_parse(out.p, out.n, NULL);
	compare_recoded(ta->root, in, tb->root, strbuf_str(&out));
	mime_tree_free(&ta);
	mime_tree_free(&tb);
	strbuf_free(&out);
}

static void check_standin(const uint8_t *data, size_t size,
			  const struct mime_limits *lim)
{
	static const char prefix[] = "Return-Path: <a@b.test>\r\n"
		"Received: from x\r\n\tby y; Mon, 2 Nov 2026 10:00:00 +0000\r\n";
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, whole = STRBUF_INIT;
	struct mime_parser *p = mime_parser_new(lim);
	struct mime_tree *t, *s;

	strbuf_append(&whole, prefix, sizeof(prefix) - 1);
	strbuf_append(&whole, data, size);
	t = mime_parse(whole.p, whole.n, lim);
	mime_parser_feed(p, MIME_PREFIX_STANDIN, MIME_PREFIX_STANDIN_LEN);
	mime_parser_feed(p, data, size);
	s = mime_parser_finish(&p);
	mime_tree_shift(s, (int64_t)(sizeof(prefix) - 1) -
			   (int64_t)MIME_PREFIX_STANDIN_LEN);
	render(t, &a);
	mime_parts_serialize(t, &a);
	render(s, &b);
	mime_parts_serialize(s, &b);
	if (!str_eq(strbuf_str(&a), strbuf_str(&b)))
		PANIC("the stand-in prefix parse differs");
	mime_tree_free(&t);
	mime_tree_free(&s);
	strbuf_free(&a);
	strbuf_free(&b);
	strbuf_free(&whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = {
		"", "1", "2", "1.1", "1.2.1", "HEADER", "TEXT", "1.MIME",
		"2.HEADER", "2.TEXT", "1.1.MIME",
	};
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, blob = STRBUF_INIT;
	struct mime_limits lim = MIME_LIMITS_DEFAULT;
	struct mime_parser *p;
	struct mime_tree *whole, *chunked, *back;
	struct mime_section sec;
	const char *error;
	size_t chunk, i, n;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 32 + 1;
	data++;
	size--;
	/* Small limits so the fuzzer reaches them. */
	lim.max_depth = 8;
	lim.max_parts = 50;
	lim.max_header_size = 1024;

	check_recode(str_make((const char *)data, size));
	{
		/* the top header whole: the prefixes differ in length */
		struct mime_limits big = lim;

		big.max_header_size = MIME_HEADER_MAX;
		check_standin(data, size, &big);
	}
	whole = mime_parse(data, size, &lim);
	p = mime_parser_new(&lim);
	for (i = 0; i < size; i += n) {
		n = MIN(chunk, size - i);
		mime_parser_feed(p, data + i, n);
	}
	chunked = mime_parser_finish(&p);
	check_part(whole->root, size);
	render(whole, &a);
	render(chunked, &b);
	if (!str_eq(strbuf_str(&a), strbuf_str(&b)))
		PANIC("chunked parse differs");

	mime_parts_serialize(whole, &blob);
	back = mime_parts_deserialize(blob.p, blob.n, &error);
	if (back == NULL)
		PANIC("round trip failed: %s", error);
	strbuf_reset(&b);
	render(back, &b);
	if (!str_eq(strbuf_str(&a), strbuf_str(&b)))
		PANIC("round trip differs");
	for (i = 0; i < ARRAY_SIZE(sections); i++)
		if (mime_parts_find_section(back, str_c(sections[i]), &sec) &&
		    (sec.start > sec.end || sec.end > size))
			PANIC("section %s out of range", sections[i]);

	strbuf_reset(&a);
	strbuf_reset(&b);
	mime_text_extract(whole, data, size, &a);
	charset_utf8_sanitize(&b, strbuf_str(&a));
	if (!str_eq(strbuf_str(&a), strbuf_str(&b)))
		PANIC("extracted text is not UTF-8");

	/* The raw input as a blob must be rejected or give a sane tree. */
	mime_tree_free(&back);
	back = mime_parts_deserialize(data, size, &error);
	if (back != NULL) {
		strbuf_reset(&b);
		render(back, &b);
		mime_tree_free(&back);
	}

	mime_tree_free(&whole);
	mime_tree_free(&chunked);
	strbuf_free(&a);
	strbuf_free(&b);
	strbuf_free(&blob);
	return 0;
}
