/* Unit tests for mail/mime, mail/mime_parts, mail/imap_envelope and
 * mail/imap_bodystructure: realistic messages against the ENVELOPE and
 * BODYSTRUCTURE RFC 3501 demands, each fed whole, byte by byte and in
 * random chunks; malformed input; the stored form and section lookup. */
#include "unit.h"

#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "mail/mime_text.h"

struct rendered {
	struct strbuf env, body, bs, blob;
};

static void render(const struct mime_tree *t, struct rendered *r)
{
	*r = (struct rendered){ STRBUF_INIT, STRBUF_INIT, STRBUF_INIT,
				STRBUF_INIT };
	imap_envelope_write(&r->env, t->root);
	imap_bodystructure_write(&r->body, t->root, false);
	imap_bodystructure_write(&r->bs, t->root, true);
	mime_parts_serialize(t, &r->blob);
}

static void rendered_free(struct rendered *r)
{
	strbuf_free(&r->env);
	strbuf_free(&r->body);
	strbuf_free(&r->bs);
	strbuf_free(&r->blob);
}

static void assert_same(const struct rendered *a, const struct rendered *b)
{
	assert_string_equal(strbuf_cstr(&a->env), strbuf_cstr(&b->env));
	assert_string_equal(strbuf_cstr(&a->body), strbuf_cstr(&b->body));
	assert_string_equal(strbuf_cstr(&a->bs), strbuf_cstr(&b->bs));
	assert_int_equal(a->blob.n, b->blob.n);
	assert_memory_equal(a->blob.p, b->blob.p, a->blob.n);
}

/* Parse msg whole, one byte at a time and in random chunks; check all give
 * the same result, that the stored form round-trips, and return the tree
 * of the whole parse. */
static struct mime_tree *parse_all_ways(const char *msg, size_t len,
					struct rendered *r)
{
	struct mime_tree *t = mime_parse(msg, len, NULL), *t2;
	struct mime_parser *p;
	struct rendered r2;
	const char *error;
	size_t i, n;
	unsigned round;

	render(t, r);
	assert_int_equal(t->size, len);

	p = mime_parser_new(NULL);
	for (i = 0; i < len; i++)
		mime_parser_feed(p, msg + i, 1);
	t2 = mime_parser_finish(&p);
	assert_null(p);
	render(t2, &r2);
	assert_same(r, &r2);
	rendered_free(&r2);
	mime_tree_free(&t2);

	srand(7);
	for (round = 0; round < 20; round++) {
		p = mime_parser_new(NULL);
		for (i = 0; i < len; i += n) {
			n = (size_t)(rand() % 17);	/* MIN evaluates twice */
			n = MIN(len - i, n);
			mime_parser_feed(p, msg + i, n);
		}
		t2 = mime_parser_finish(&p);
		render(t2, &r2);
		assert_same(r, &r2);
		rendered_free(&r2);
		mime_tree_free(&t2);
	}

	t2 = mime_parts_deserialize(r->blob.p, r->blob.n, &error);
	assert_non_null(t2);
	render(t2, &r2);
	assert_same(r, &r2);
	rendered_free(&r2);
	mime_tree_free(&t2);
	return t;
}

/* The bytes of a section, checked by slicing the input. */
static void assert_section(const struct mime_tree *t, const char *msg,
			   const char *section, const char *expected)
{
	struct mime_section s;

	assert_true(mime_parts_find_section(t, str_c(section), &s));
	assert_true(s.start <= s.end && s.end <= t->size);
	assert_int_equal(s.end - s.start, strlen(expected));
	assert_memory_equal(msg + s.start, expected, strlen(expected));
}

struct mime_case {
	const char *name;
	const char *msg;
	const char *envelope;
	const char *body;
	const char *bodystructure;
};

static const struct mime_case cases[] = {
	{ "plain text (RFC 5322 A.1.1)",
	  "From: John Doe <jdoe@machine.example>\r\n"
	  "To: Mary Smith <mary@example.net>\r\n"
	  "Subject: Saying Hello\r\n"
	  "Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n"
	  "Message-ID: <1234@local.machine.example>\r\n"
	  "\r\n"
	  "This is a message just to say hello.\r\n"
	  "So, \"Hello\".\r\n",
	  "(\"Fri, 21 Nov 1997 09:55:06 -0600\" \"Saying Hello\" "
	  "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	  "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	  "((\"John Doe\" NIL \"jdoe\" \"machine.example\")) "
	  "((\"Mary Smith\" NIL \"mary\" \"example.net\")) NIL NIL NIL "
	  "\"<1234@local.machine.example>\")",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 52 2)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 52 2"
	  " NIL NIL NIL NIL)" },
	{ "multipart/alternative with bare LF",
	  "From: a@b.example\n"
	  "Reply-To: Help Desk <help@b.example>\n"
	  "Subject: alt\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"XX\"\n"
	  "\n"
	  "preamble\n"
	  "--XX\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "\n"
	  "Hello\n"
	  "--XX\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "<p>Hello</p>\n"
	  "--XX--\n"
	  "epilogue\n",
	  "(NIL \"alt\" ((NIL NIL \"a\" \"b.example\")) "
	  "((NIL NIL \"a\" \"b.example\")) "
	  "((\"Help Desk\" NIL \"help\" \"b.example\")) NIL NIL NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 1)"
	  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL "
	  "\"quoted-printable\" 12 1) \"alternative\")",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 1"
	  " NIL NIL NIL NIL)"
	  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL "
	  "\"quoted-printable\" 12 1 NIL NIL NIL NIL) \"alternative\" "
	  "(\"boundary\" \"XX\") NIL NIL NIL)" },
	{ "multipart/mixed, base64 attachment, RFC 2231 filename",
	  "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
	  "To: Mary Smith <mary@x.test>, jdoe@one.test, Who? <one@y.test>\r\n"
	  "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
	  "Subject: =?ISO-8859-1?Q?Caf=E9?= report\r\n"
	  "Content-Type: multipart/mixed; boundary=frontier\r\n"
	  "\r\n"
	  "--frontier\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "See attached.\r\n"
	  "--frontier\r\n"
	  "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "Content-Disposition: attachment;\r\n"
	  " filename*0*=utf-8''%E2%82%AC;\r\n"
	  " filename*1=\".pdf\"\r\n"
	  "Content-ID: <att1@x>\r\n"
	  "Content-Description: The report\r\n"
	  "Content-Language: en, de\r\n"
	  "\r\n"
	  "JVBERi0=\r\n"
	  "--frontier--\r\n",
	  "(NIL \"=?ISO-8859-1?Q?Caf=E9?= report\" "
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	  "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"one.test\")"
	  "(\"Who?\" NIL \"one\" \"y.test\")) "
	  "((NIL NIL \"boss\" \"nil.test\")"
	  "(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) "
	  "NIL NIL NIL)",
	  "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 13 1)"
	  "(\"application\" \"pdf\" (\"name\" \"r.pdf\") \"<att1@x>\" "
	  "\"The report\" \"base64\" 8) \"mixed\")",
	  "((\"text\" \"plain\" NIL NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL)"
	  "(\"application\" \"pdf\" (\"name\" \"r.pdf\") \"<att1@x>\" "
	  "\"The report\" \"base64\" 8 NIL (\"attachment\" "
	  "(\"filename*\" \"utf-8''%E2%82%AC.pdf\")) (\"en\" \"de\") NIL) "
	  "\"mixed\" (\"boundary\" \"frontier\") NIL NIL NIL)" },
	{ "nested message/rfc822",
	  "From: outer@example.com\n"
	  "Subject: fwd\n"
	  "Content-Type: multipart/mixed; boundary=b1\n"
	  "\n"
	  "--b1\n"
	  "\n"
	  "see below\n"
	  "--b1\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "From: inner@example.com\n"
	  "Subject: inner\n"
	  "Content-Type: multipart/alternative; boundary=b2\n"
	  "\n"
	  "--b2\n"
	  "\n"
	  "hi\n"
	  "--b2--\n"
	  "--b1--\n",
	  "(NIL \"fwd\" ((NIL NIL \"outer\" \"example.com\")) "
	  "((NIL NIL \"outer\" \"example.com\")) "
	  "((NIL NIL \"outer\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1)"
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 104 "
	  "(NIL \"inner\" ((NIL NIL \"inner\" \"example.com\")) "
	  "((NIL NIL \"inner\" \"example.com\")) "
	  "((NIL NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 1)"
	  " \"alternative\") 8) \"mixed\")",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1"
	  " NIL NIL NIL NIL)"
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 104 "
	  "(NIL \"inner\" ((NIL NIL \"inner\" \"example.com\")) "
	  "((NIL NIL \"inner\" \"example.com\")) "
	  "((NIL NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 1"
	  " NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b2\") NIL NIL NIL)"
	  " 8 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)" },
	{ "group addresses (RFC 5322 A.1.3)",
	  "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n"
	  "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
	  "Cc: Undisclosed recipients:;\r\n"
	  "Bcc: jane@x.test (Jane Roe)\r\n"
	  "In-Reply-To: <a@b>\r\n"
	  "\r\n",
	  "(NIL NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) "
	  "((\"Pete\" NIL \"pete\" \"silly.test\")) "
	  "((\"Pete\" NIL \"pete\" \"silly.test\")) "
	  "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	  "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
	  "(NIL NIL NIL NIL)) "
	  "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
	  "((\"Jane Roe\" NIL \"jane\" \"x.test\")) \"<a@b>\" NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	  " NIL NIL NIL NIL)" },
	{ "empty input", "",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	  " NIL NIL NIL NIL)" },
	{ "header without body or line end", "Subject: x",
	  "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	  NULL },
	{ "body without header", "\r\nhello",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1)",
	  NULL },
	{ "unterminated multipart",
	  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nabc\n",
	  NULL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
	  " \"mixed\")",
	  NULL },
	{ "multipart whose boundary never comes",
	  "Content-Type: multipart/mixed; boundary=b\n\nno parts here\n",
	  NULL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	  " \"mixed\")",
	  NULL },
	{ "multipart without boundary parameter",
	  "Content-Type: multipart/mixed\n\n--b\n\nx\n",
	  NULL,
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	  " \"mixed\")",
	  NULL },
	{ "NUL, CR and 8-bit bytes in header values",
	  "Subject: a\0b\r\nFrom: J\xc3\xb6rg <j@x.test>\r\n"
	  "Date: \"odd\"\r\n\r\n",
	  "(\"\\\"odd\\\"\" \"ab\" (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.test\")) "
	  "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.test\")) "
	  "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.test\")) NIL NIL NIL NIL NIL)",
	  NULL, NULL },
	{ "digest defaults to message/rfc822, encoded message kept opaque",
	  "Content-Type: multipart/digest; boundary=d\n\n"
	  "--d\n\nSubject: one\n\nbody\n"
	  "--d\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
	  "U3ViamVjdDogdHdvCgo=\n"
	  "--d--\n",
	  NULL,
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 18 "
	  "(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
	  " 3)"
	  "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 20 "
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	  " 1) \"digest\")",
	  NULL },
};

static void test_cases(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct mime_case *c = &cases[i];
		size_t len = strlen(c->msg);
		struct mime_tree *t;
		struct rendered r;

		/* The NUL case has an embedded NUL: measure it by hand. */
		if (strncmp(c->msg, "Subject: a", 10) == 0 &&
		    c->msg[10] == '\0')
			len = 10 + 1 + strlen(c->msg + 11);
		print_message("case: %s\n", c->name);
		t = parse_all_ways(c->msg, len, &r);
		if (c->envelope != NULL)
			assert_string_equal(strbuf_cstr(&r.env), c->envelope);
		if (c->body != NULL)
			assert_string_equal(strbuf_cstr(&r.body), c->body);
		if (c->bodystructure != NULL)
			assert_string_equal(strbuf_cstr(&r.bs),
					    c->bodystructure);
		rendered_free(&r);
		mime_tree_free(&t);
	}
}

/* A message parsed after MIME_PREFIX_STANDIN, byte by byte as it would
 * arrive, then shifted, is the message parsed behind the real prefix. */
static void check_standin(const char *msg, size_t len, const char *prefix)
{
	struct strbuf whole = STRBUF_INIT;
	struct mime_parser *p = mime_parser_new(NULL);
	struct mime_tree *t, *t2;
	struct rendered r, r2;

	strbuf_append_c(&whole, prefix);
	strbuf_append(&whole, msg, len);
	t = mime_parse(whole.p, whole.n, NULL);
	render(t, &r);
	mime_parser_feed(p, MIME_PREFIX_STANDIN, MIME_PREFIX_STANDIN_LEN);
	for (size_t i = 0; i < len; i++)
		mime_parser_feed(p, msg + i, 1);
	t2 = mime_parser_finish(&p);
	mime_tree_shift(t2, (int64_t)strlen(prefix) -
			    (int64_t)MIME_PREFIX_STANDIN_LEN);
	assert_int_equal(t2->size, whole.n);
	render(t2, &r2);
	assert_same(&r, &r2);
	rendered_free(&r);
	rendered_free(&r2);
	mime_tree_free(&t);
	mime_tree_free(&t2);
	strbuf_free(&whole);
}

static void test_prefix_standin(void **state)
{
	static const char *const prefixes[] = {
		"Return-Path: <>\r\n",
		"Return-Path: <alice@example.org>\r\nDelivered-To: b@x.test\r\n"
		"Received: from x ([127.0.0.1])\r\n\tby y (Posthorn) with ESMTP\r\n"
		"\tid 1;\r\n\tMon, 2 Nov 2026 10:00:00 +0000\r\n",
	};
	static const char *const odd[] = {
		"",
		"\r\n",
		"\r\nbody only\r\n",
		"\nlf body\n",
		" Subject: a continuation first\r\nFrom: a@b\r\n\r\nbody\r\n",
		"\tTo: x@y\r\n\r\n",
		"no colon here\r\nSubject: s\r\n\r\nbody",
		"Subject: no line end",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--\r\n",
		"--b\r\nSubject: a boundary-like first line\r\n\r\nx\r\n",
	};

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			const char *m = cases[i].msg;
			size_t len = strlen(m);

			if (strncmp(m, "Subject: a", 10) == 0 && m[10] == '\0')
				len = 10 + 1 + strlen(m + 11);
			check_standin(m, len, prefixes[k]);
		}
		for (size_t i = 0; i < ARRAY_SIZE(odd); i++)
			check_standin(odd[i], strlen(odd[i]), prefixes[k]);
	}
}

static void test_sections(void **state)
{
	const char *msg = cases[3].msg;
	struct mime_tree *t = mime_parse(msg, strlen(msg), NULL);
	struct mime_section s;

	(void)state;
	assert_section(t, msg, "1", "see below");
	assert_section(t, msg, "1.MIME", "\n");
	assert_section(t, msg, "2.MIME", "Content-Type: message/rfc822\n\n");
	assert_section(t, msg, "2.HEADER",
		       "From: inner@example.com\nSubject: inner\n"
		       "Content-Type: multipart/alternative; boundary=b2\n\n");
	assert_section(t, msg, "2.TEXT", "--b2\n\nhi\n--b2--");
	assert_section(t, msg, "2.1", "hi");
	assert_section(t, msg, "2.1.MIME", "\n");
	assert_section(t, msg, "2", "From: inner@example.com\nSubject: inner\n"
		       "Content-Type: multipart/alternative; boundary=b2\n\n"
		       "--b2\n\nhi\n--b2--");
	assert_section(t, msg, "HEADER.FIELDS (Subject)",
		       "From: outer@example.com\nSubject: fwd\n"
		       "Content-Type: multipart/mixed; boundary=b1\n\n");
	assert_true(mime_parts_find_section(t, STR_LIT(""), &s));
	assert_int_equal(s.start, 0);
	assert_int_equal(s.end, strlen(msg));
	assert_false(mime_parts_find_section(t, STR_LIT("3"), &s));
	assert_false(mime_parts_find_section(t, STR_LIT("1.1"), &s));
	assert_false(mime_parts_find_section(t, STR_LIT("1.HEADER"), &s));
	assert_false(mime_parts_find_section(t, STR_LIT("0"), &s));
	assert_false(mime_parts_find_section(t, STR_LIT("1."), &s));
	assert_false(mime_parts_find_section(t, STR_LIT("2.1.2"), &s));
	mime_tree_free(&t);

	/* A single-part message: 1 is its body, TEXT too. */
	msg = cases[0].msg;
	t = mime_parse(msg, strlen(msg), NULL);
	assert_section(t, msg, "1", "This is a message just to say hello.\r\n"
		       "So, \"Hello\".\r\n");
	assert_section(t, msg, "TEXT", "This is a message just to say hello.\r\n"
		       "So, \"Hello\".\r\n");
	assert_false(mime_parts_find_section(t, STR_LIT("2"), &s));
	mime_tree_free(&t);
}

/* Nesting far past the depth limit: the output stays valid and bounded. */
static void test_deep_nesting(void **state)
{
	struct strbuf msg = STRBUF_INIT, bs = STRBUF_INIT;
	struct mime_tree *t;
	const struct mime_part *p;
	unsigned i, depth = 0;

	(void)state;
	for (i = 0; i < 1000; i++)
		strbuf_append_c(&msg, "Content-Type: message/rfc822\n\n");
	for (i = 0; i < 1000; i++)
		strbuf_printf(&msg, "Content-Type: multipart/mixed; "
			      "boundary=b%u\n\n--b%u\n", i, i);
	strbuf_append_c(&msg, "\nleaf\n");
	t = mime_parse(msg.p, msg.n, NULL);
	for (p = t->root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, MIME_LIMITS_DEFAULT.max_depth);
	assert_int_equal(p->body_end, msg.n);
	imap_bodystructure_write(&bs, t->root, true);
	assert_true(bs.n < 64 * 1024);
	mime_tree_free(&t);
	strbuf_free(&bs);
	strbuf_free(&msg);
}

static void test_many_parts(void **state)
{
	struct strbuf msg = STRBUF_INIT;
	struct mime_tree *t;
	unsigned i;

	(void)state;
	strbuf_append_c(&msg, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 6000; i++)
		strbuf_append_c(&msg, "--b\n\nx\n");
	strbuf_append_c(&msg, "--b--\n");
	t = mime_parse(msg.p, msg.n, NULL);
	assert_int_equal(t->root->n_children,
			 MIME_LIMITS_DEFAULT.max_parts - 1);
	assert_int_equal(t->root->children->body_end -
			 t->root->children->body_start, 1);
	mime_tree_free(&t);
	strbuf_free(&msg);
}

/* A 50 000-byte To: and a 50 000-byte Subject: in one header, then a
 * 1 MiB body line: parsed whole (any split), the ENVELOPE complete. */
static void test_long_lines(void **state)
{
	struct strbuf msg = STRBUF_INIT, subject = STRBUF_INIT;
	struct rendered r;
	struct mime_tree *t;
	unsigned i;

	(void)state;
	strbuf_append_c(&msg, "To: ");
	for (i = 0; i < 1400; i++)
		strbuf_printf(&msg, "%sUser %04u <user%04u@example.org>",
			      i > 0 ? ", " : "", i, i);
	while (subject.n < 50000)
		strbuf_printf(&subject, "word%05zu ", subject.n);
	strbuf_putc(&subject, 'z');
	strbuf_printf(&msg, "\r\nSubject: %s\r\nMessage-ID: <big@x>\r\n\r\n",
		      strbuf_cstr(&subject));
	for (i = 0; i < 1024 * 1024 - 2; i++)
		strbuf_putc(&msg, (char)('a' + i % 26));
	strbuf_append_c(&msg, "\r\nend\r\n");
	t = parse_all_ways(msg.p, msg.n, &r);
	assert_non_null(strstr(strbuf_cstr(&r.env), strbuf_cstr(&subject)));
	assert_non_null(strstr(strbuf_cstr(&r.env),
			       "(\"User 1399\" NIL \"user1399\" \"example.org\"))"));
	assert_non_null(strstr(strbuf_cstr(&r.env), "\"<big@x>\")"));
	assert_int_equal(t->root->body_lines, 2);
	assert_int_equal(t->root->body_end - t->root->body_start,
			 1024 * 1024 + 5);
	rendered_free(&r);
	mime_tree_free(&t);
	strbuf_free(&msg);
	strbuf_free(&subject);
}

static void test_deserialize_rejects_garbage(void **state)
{
	const char *msg = cases[2].msg;
	struct mime_tree *t = mime_parse(msg, strlen(msg), NULL), *t2;
	struct strbuf blob = STRBUF_INIT;
	const char *error = NULL;
	size_t n;

	(void)state;
	mime_parts_serialize(t, &blob);
	for (n = 0; n < blob.n; n++) {
		/* Every truncation is caught, never read past. */
		char *copy = xmemdup(blob.p, n);

		t2 = mime_parts_deserialize(copy, n, &error);
		assert_null(t2);
		assert_non_null(error);
		free(copy);
	}
	assert_null(mime_parts_deserialize("XXXX", 4, &error));
	mime_tree_free(&t);
	strbuf_free(&blob);
}

static void test_text(void **state)
{
	static const char msg[] =
		"Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n"
		"\r\n"
		"--b\r\n"
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"caf=E9=\r\n"
		" ok\r\n"
		"--b\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"w6k=\r\n"
		"--b\r\n"
		"Content-Type: image/png\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"iVBORw0K\r\n"
		"--b--\r\n";
	struct mime_tree *t = mime_parse(msg, sizeof(msg) - 1, NULL);
	struct strbuf out = STRBUF_INIT;

	(void)state;
	mime_text_extract(t, msg, sizeof(msg) - 1, &out);
	assert_string_equal(strbuf_cstr(&out),
			    "Subject: Caf\xc3\xa9\n"
			    "Content-Type: multipart/mixed; boundary=b\n"
			    "caf\xc3\xa9 ok\n"
			    "\xc3\xa9\n");
	strbuf_free(&out);
	mime_tree_free(&t);
}

static void search_text(const char *value, const char *want)
{
	struct strbuf out = STRBUF_INIT;

	imap_envelope_search_text(&out, str_c(value));
	if (strcmp(strbuf_cstr(&out), want) != 0)
		fail_msg("%s: got [%s], want [%s]", value, strbuf_cstr(&out),
			 want);
	strbuf_free(&out);
}

static void test_address_search_text(void **state)
{
	(void)state;
	search_text("user@domain.org", "<user@domain.org>\n");
	search_text("<user@domain.org>", "<user@domain.org>\n");
	search_text("\"Real, Name\" <user@domain.org>",
		    "Real, Name <user@domain.org>\n");
	search_text("=?UTF-8?Q?R=C3=A9al?= <u@d.org>",
		    "R\xc3\xa9" "al <u@d.org>\n");
	search_text("user@domain.org (Real Name)",
		    "Real Name <user@domain.org>\n");
	search_text("user (the local part) @ domain.org", "<user@domain.org>\n");
	search_text("\"user\"@domain.org", "<user@domain.org>\n");
	search_text("Friends: a@b.c, Bo <d@e.f>;, g@h.i",
		    "Friends\n<a@b.c>\nBo <d@e.f>\n<g@h.i>\n");
	search_text("Undisclosed recipients:;", "Undisclosed recipients\n");
	search_text("", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_prefix_standin),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_deserialize_rejects_garbage),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_address_search_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
