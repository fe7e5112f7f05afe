/* Unit tests for proto/imap/imap_fetch: parsing FETCH attributes and the
 * exact replies for real messages, with metadata built as delivery does. */
#include "unit.h"

#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "proto/imap/imap_fetch.h"
#include "proto/imap/imap_reader.h"

static const char msg_multi[] =
	"From: Alice <alice@example.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: Hello\r\n"
	" world\r\n"
	"Date: Thu, 1 Feb 2024 10:20:30 +0000\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"part one\r\n"
	"--b1\r\n"
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
	"\r\n"
	"--b2\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"alt text\r\n"
	"--b2\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAw==\r\n"
	"--b2--\r\n"
	"--b1--\r\n";

static const char msg_qp[] =
	"Subject: qp\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9 =\r\nok\r\n";

static const char msg_rfc822[] =
	"Subject: fwd\r\n"
	"Content-Type: multipart/mixed; boundary=o\r\n"
	"\r\n"
	"--o\r\n"
	"\r\n"
	"see below\r\n"
	"--o\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"From: x@example.test\r\n"
	"\r\n"
	"inner body\r\n"
	"--o--\r\n";

static const char msg_uu[] =
	"Subject: uu\r\n"
	"Content-Transfer-Encoding: x-uuencode\r\n"
	"\r\n"
	"begin 644 x\r\n";

struct fixture {
	struct arena arena;
	struct store_msg msg;
	struct store_msg_meta meta;
	struct imap_fetch_msg fm;
};

static void fixture_init(struct fixture *f, const char *data, size_t size)
{
	struct strbuf sb = STRBUF_INIT;
	struct mime_tree *tree;

	memset(f, 0, sizeof(*f));
	arena_init(&f->arena, 0);
	tree = mime_parse(data, size, NULL);
	imap_envelope_write(&sb, tree->root);
	f->meta.envelope = arena_strdup(&f->arena, strbuf_cstr(&sb));
	strbuf_reset(&sb);
	imap_bodystructure_write(&sb, tree->root, false);
	f->meta.body = arena_strdup(&f->arena, strbuf_cstr(&sb));
	strbuf_reset(&sb);
	imap_bodystructure_write(&sb, tree->root, true);
	f->meta.bodystructure = arena_strdup(&f->arena, strbuf_cstr(&sb));
	strbuf_reset(&sb);
	mime_parts_serialize(tree, &sb);
	f->meta.parts = arena_strndup(&f->arena, sb.p, sb.n);
	f->meta.parts_size = sb.n;
	strbuf_free(&sb);
	mime_tree_free(&tree);

	f->msg.uid = 42;
	f->msg.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	f->msg.keywords = "$Forwarded Work";
	f->msg.internal_date = 1706782830;
	f->msg.size = size;
	f->msg.modseq = 7;
	f->fm.seq = 3;
	f->fm.msg = &f->msg;
	f->fm.meta = &f->meta;
	f->fm.data = data;
	f->fm.size = size;
}

/* Parse atts, render for f, compare with the expected reply. */
static void check(struct fixture *f, const char *atts, bool uid, bool modseq,
		  const char *expect, size_t expect_len)
{
	struct imap_cursor c;
	struct imap_fetch_plan *p;
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	imap_cursor_init(&c, str_c(atts));
	p = imap_fetch_parse(&c, &f->arena);
	if (p == NULL)
		fail_msg("'%s' does not parse: %s", atts, c.error);
	assert_true(imap_cursor_at_end(&c));
	assert_int_equal(imap_fetch_render(p, &f->fm, uid, modseq, &out, &error), 0);
	if (out.n != expect_len || memcmp(out.p, expect, expect_len) != 0)
		fail_msg("%s:\n got '%s'\nwant '%s'", atts, strbuf_cstr(&out), expect);
	strbuf_free(&out);
}

#define CHECK(f, atts, uid, modseq, expect) \
	check(f, atts, uid, modseq, expect, sizeof(expect) - 1)

static void test_simple_atts(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f, msg_multi, sizeof(msg_multi) - 1);
	CHECK(&f, "FAST", false, false,
	      "* 3 FETCH (FLAGS (\\Seen \\Flagged $Forwarded Work) "
	      "INTERNALDATE \"01-Feb-2024 10:20:30 +0000\" RFC822.SIZE 452)\r\n");
	f.fm.recent = true;
	f.msg.flags = 0;
	f.msg.keywords = "";
	CHECK(&f, "(flags uid)", false, false,
	      "* 3 FETCH (UID 42 FLAGS (\\Recent))\r\n");
	CHECK(&f, "FLAGS", true, true,
	      "* 3 FETCH (UID 42 FLAGS (\\Recent) MODSEQ (7))\r\n");
	CHECK(&f, "(MODSEQ)", false, false, "* 3 FETCH (MODSEQ (7))\r\n");
	f.msg.internal_date = -1;
	CHECK(&f, "INTERNALDATE", false, false,
	      "* 3 FETCH (INTERNALDATE \"31-Dec-1969 23:59:59 +0000\")\r\n");

	struct strbuf want = STRBUF_INIT;

	strbuf_printf(&want, "* 3 FETCH (ENVELOPE %s BODY %s BODYSTRUCTURE %s)\r\n",
		      f.meta.envelope, f.meta.body, f.meta.bodystructure);
	check(&f, "(ENVELOPE BODY BODYSTRUCTURE)", false, false, want.p, want.n);
	strbuf_free(&want);
	/* the stored strings are what delivery wrote */
	assert_true(strncmp(f.meta.envelope,
			    "(\"Thu, 1 Feb 2024 10:20:30 +0000\" \"Hello world\"", 47) == 0);
	assert_true(strncmp(f.meta.bodystructure, "((\"text\" \"plain\"", 16) == 0);
	arena_deinit(&f.arena);
}

static void test_sections(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f, msg_multi, sizeof(msg_multi) - 1);
	CHECK(&f, "BODY.PEEK[1]", false, false,
	      "* 3 FETCH (BODY[1] {8}\r\npart one)\r\n");
	CHECK(&f, "BODY[2.1]", true, false,
	      "* 3 FETCH (UID 42 BODY[2.1] {8}\r\nalt text)\r\n");
	CHECK(&f, "BODY[2.2]", false, false,
	      "* 3 FETCH (BODY[2.2] {8}\r\nAAECAw==)\r\n");
	CHECK(&f, "BODY[2.1.MIME]", false, false,
	      "* 3 FETCH (BODY[2.1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n");
	CHECK(&f, "body[header.fields (SUBJECT from)]", false, false,
	      "* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT from)] {60}\r\n"
	      "From: Alice <alice@example.test>\r\nSubject: Hello\r\n world\r\n\r\n)\r\n");
	CHECK(&f, "BODY.PEEK[HEADER.FIELDS (X-None)]", false, false,
	      "* 3 FETCH (BODY[HEADER.FIELDS (X-None)] {2}\r\n\r\n)\r\n");
	CHECK(&f, "BODY.PEEK[HEADER.FIELDS.NOT (Subject Content-Type Date From MIME-Version)]",
	      false, false,
	      "* 3 FETCH (BODY[HEADER.FIELDS.NOT (Subject Content-Type Date From MIME-Version)] {24}\r\n"
	      "To: bob@example.test\r\n\r\n)\r\n");
	CHECK(&f, "BODY[]<0.4>", false, false, "* 3 FETCH (BODY[]<0> {4}\r\nFrom)\r\n");
	CHECK(&f, "BODY[TEXT]<2.6>", false, false,
	      "* 3 FETCH (BODY[TEXT]<2> {6}\r\neamble)\r\n");
	CHECK(&f, "BODY[1]<4.100>", false, false, "* 3 FETCH (BODY[1]<4> {4}\r\n one)\r\n");
	CHECK(&f, "BODY[1]<8.1>", false, false, "* 3 FETCH (BODY[1]<8> {0}\r\n)\r\n");
	/* sections the message does not have are empty */
	CHECK(&f, "(BODY[5] BODY[1.HEADER] BODY[2.3.MIME])", false, false,
	      "* 3 FETCH (BODY[5] {0}\r\n BODY[1.HEADER] {0}\r\n BODY[2.3.MIME] {0}\r\n)\r\n");
	CHECK(&f, "RFC822.HEADER", false, false,
	      "* 3 FETCH (RFC822.HEADER {185}\r\n"
	      "From: Alice <alice@example.test>\r\n"
	      "To: bob@example.test\r\n"
	      "Subject: Hello\r\n"
	      " world\r\n"
	      "Date: Thu, 1 Feb 2024 10:20:30 +0000\r\n"
	      "MIME-Version: 1.0\r\n"
	      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	      "\r\n)\r\n");

	struct strbuf want = STRBUF_INIT;

	strbuf_printf(&want, "* 3 FETCH (RFC822 {%zu}\r\n%s BODY[] {%zu}\r\n%s)\r\n",
		      sizeof(msg_multi) - 1, msg_multi, sizeof(msg_multi) - 1, msg_multi);
	check(&f, "(RFC822 BODY[])", false, false, want.p, want.n);
	strbuf_reset(&want);
	strbuf_printf(&want, "* 3 FETCH (RFC822.TEXT {%zu}\r\n%s)\r\n",
		      sizeof(msg_multi) - 1 - 185, msg_multi + 185);
	check(&f, "RFC822.TEXT", false, false, want.p, want.n);
	strbuf_free(&want);

	/* without a stored part tree the bytes are parsed */
	f.meta.parts = NULL;
	f.meta.parts_size = 0;
	CHECK(&f, "BODY.PEEK[2.1]", false, false,
	      "* 3 FETCH (BODY[2.1] {8}\r\nalt text)\r\n");
	arena_deinit(&f.arena);
}

static void test_binary(void **state)
{
	struct fixture f;
	struct imap_cursor c;
	struct imap_fetch_plan *p;
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	(void)state;
	fixture_init(&f, msg_multi, sizeof(msg_multi) - 1);
	check(&f, "BINARY.PEEK[2.2]", false, false,
	      "* 3 FETCH (BINARY[2.2] ~{4}\r\n\0\1\2\3)\r\n", 36);
	CHECK(&f, "BINARY[2.2]<1.2>", false, false,
	      "* 3 FETCH (BINARY[2.2]<1> {2}\r\n\1\2)\r\n");
	CHECK(&f, "(BINARY.SIZE[2.2] BINARY.SIZE[1])", false, false,
	      "* 3 FETCH (BINARY.SIZE[2.2] 4 BINARY.SIZE[1] 8)\r\n");
	arena_deinit(&f.arena);

	fixture_init(&f, msg_qp, sizeof(msg_qp) - 1);
	CHECK(&f, "BINARY[1]", false, false,
	      "* 3 FETCH (BINARY[1] {10}\r\ncaf\xc3\xa9 ok\r\n)\r\n");
	arena_deinit(&f.arena);

	fixture_init(&f, msg_uu, sizeof(msg_uu) - 1);
	imap_cursor_init(&c, STR_LIT("(FLAGS BINARY[1])"));
	p = imap_fetch_parse(&c, &f.arena);
	assert_non_null(p);
	strbuf_append_c(&out, "before");
	assert_int_equal(imap_fetch_render(p, &f.fm, false, false, &out, &error), -1);
	assert_non_null(error);
	assert_string_equal(strbuf_cstr(&out), "before");
	/* the raw section is still there */
	CHECK(&f, "BODY.PEEK[1]", false, false, "* 3 FETCH (BODY[1] {13}\r\nbegin 644 x\r\n)\r\n");
	strbuf_free(&out);
	arena_deinit(&f.arena);
}

/* Sections of an embedded message: 2.HEADER, 2.TEXT, 2.1, 2.MIME. */
static void test_embedded_message(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f, msg_rfc822, sizeof(msg_rfc822) - 1);
	CHECK(&f, "BODY.PEEK[2.HEADER]", false, false,
	      "* 3 FETCH (BODY[2.HEADER] {40}\r\nSubject: inner\r\nFrom: x@example.test\r\n\r\n)\r\n");
	CHECK(&f, "BODY.PEEK[2.HEADER.FIELDS (FROM)]", false, false,
	      "* 3 FETCH (BODY[2.HEADER.FIELDS (FROM)] {24}\r\nFrom: x@example.test\r\n\r\n)\r\n");
	CHECK(&f, "BODY.PEEK[2.TEXT]", false, false,
	      "* 3 FETCH (BODY[2.TEXT] {10}\r\ninner body)\r\n");
	CHECK(&f, "BODY.PEEK[2.1]", false, false,
	      "* 3 FETCH (BODY[2.1] {10}\r\ninner body)\r\n");
	CHECK(&f, "BODY.PEEK[2.MIME]", false, false,
	      "* 3 FETCH (BODY[2.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n)\r\n");
	CHECK(&f, "BODY.PEEK[1]", false, false,
	      "* 3 FETCH (BODY[1] {9}\r\nsee below)\r\n");
	arena_deinit(&f.arena);
}

/* A FETCH whose field names arrive as literals, assembled by imap_reader
 * from a stream fed one byte at a time. */
static void test_drip_fed(void **state)
{
	static const char stream[] =
		"a1 FETCH 1 (BODY.PEEK[HEADER.FIELDS ({7}\r\nSubject \"to\")] FLAGS)\r\n";
	struct imap_reader *r = imap_reader_new(4096, 4096);
	struct fixture f;
	size_t pos = 0;
	enum imap_reader_status st;

	(void)state;
	fixture_init(&f, msg_multi, sizeof(msg_multi) - 1);
	do {
		const char *crlf = strstr(stream + pos, "\r\n");
		uint64_t lit;
		bool sync, close;

		assert_non_null(crlf);
		st = imap_reader_line(r, str_make(stream + pos, (size_t)(crlf - stream) - pos),
				      &lit, &sync, &close);
		pos = (size_t)(crlf - stream) + 2;
		if (st == IMAP_READER_LITERAL) {
			assert_true(sync);
			while (imap_reader_literal_left(r) > 0)
				imap_reader_literal(r, str_make(stream + pos++, 1));
		}
	} while (st == IMAP_READER_LITERAL);
	assert_int_equal(st, IMAP_READER_COMMAND);
	struct str cmd = imap_reader_command(r);

	assert_true(str_starts_with(cmd, STR_LIT("a1 FETCH 1 ")));
	CHECK(&f, arena_strndup(&f.arena, cmd.p + 11, cmd.n - 11), false, false,
	      "* 3 FETCH (BODY[HEADER.FIELDS (Subject to)] {48}\r\n"
	      "To: bob@example.test\r\nSubject: Hello\r\n world\r\n\r\n "
	      "FLAGS (\\Seen \\Flagged $Forwarded Work))\r\n");
	imap_reader_free(&r);
	arena_deinit(&f.arena);
}

/* "BINARY.SIZE[1] n" and the length of the BINARY[1] literal of f. */
static void binary_size_and_length(struct fixture *f, size_t *size_r,
				   size_t *len_r)
{
	struct imap_cursor c;
	struct imap_fetch_plan *p;
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL, *at;

	imap_cursor_init(&c, STR_LIT("(BINARY.SIZE[1] BINARY.PEEK[1])"));
	p = imap_fetch_parse(&c, &f->arena);
	assert_non_null(p);
	assert_int_equal(imap_fetch_render(p, &f->fm, false, false, &out, &error), 0);
	assert_int_equal(sscanf(strbuf_cstr(&out), "* 3 FETCH (BINARY.SIZE[1] %zu",
				size_r), 1);
	at = strstr(strbuf_cstr(&out), "BINARY[1] ");
	assert_non_null(at);
	at += strlen("BINARY[1] ");
	at += *at == '~';
	assert_int_equal(sscanf(at, "{%zu}", len_r), 1);
	strbuf_free(&out);
}

/* BINARY.SIZE counts the decoded bytes in slices (no copy of the part):
 * it must be the length BINARY returns for every encoding, also when a
 * "=XX", a soft break or a base64 quantum straddles a slice. */
static void test_binary_size_is_length(void **state)
{
	static const char *const ctes[] = { "base64", "quoted-printable",
					    "7bit", "binary", "BASE64" };
	struct strbuf msg = STRBUF_INIT;
	unsigned seed = 7;

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(ctes); k++) {
		for (int round = 0; round < 6; round++) {
			struct fixture f;
			/* a small part (decoded once for both) and large
			 * ones (counted in slices, then decoded) */
			size_t size, len, n = round == 0 ? 500 :
					      60000 + (size_t)round * 23456;

			strbuf_reset(&msg);
			strbuf_printf(&msg, "Subject: big\r\nContent-Transfer-"
				      "Encoding: %s\r\n\r\n", ctes[k]);
			for (size_t i = 0; i < n; i++) {
				unsigned r = (unsigned)rand_r(&seed) % 40;
				static const char *const pieces[] = {
					"=3D", "=\r\n", "=", "  \r\n", "QUJD",
					"==", "\r\n", "=4", "\n", "=  \r\n" };

				if (r < ARRAY_SIZE(pieces))
					strbuf_append_c(&msg, pieces[r]);
				else
					strbuf_putc(&msg, (char)('A' + r));
			}
			fixture_init(&f, msg.p, msg.n);
			binary_size_and_length(&f, &size, &len);
			assert_int_equal(size, len);
			arena_deinit(&f.arena);
		}
	}
	strbuf_free(&msg);
}

static void test_nul_in_body(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\na\0b\r\n";
	struct fixture f;

	(void)state;
	fixture_init(&f, msg, sizeof(msg) - 1);
	CHECK(&f, "BODY.PEEK[TEXT]", false, false,
	      "* 3 FETCH (BODY[TEXT] {5}\r\na\x80" "b\r\n)\r\n");
	check(&f, "BINARY.PEEK[1]", false, false,
	      "* 3 FETCH (BINARY[1] ~{5}\r\na\0b\r\n)\r\n", 35);
	arena_deinit(&f.arena);
}

static void test_plan_properties(void **state)
{
	static const struct {
		const char *atts;
		bool meta, blob, seen, modseq;
		uint64_t changedsince;
		bool vanished;
	} cases[] = {
		{ "FAST", false, false, false, false, 0, false },
		{ "ALL", true, false, false, false, 0, false },
		{ "FULL", true, false, false, false, 0, false },
		{ "BODYSTRUCTURE", true, false, false, false, 0, false },
		{ "RFC822", false, true, true, false, 0, false },
		{ "RFC822.HEADER", true, true, false, false, 0, false },
		{ "RFC822.TEXT", true, true, true, false, 0, false },
		{ "BODY[]", false, true, true, false, 0, false },
		{ "BODY.PEEK[]", false, true, false, false, 0, false },
		{ "BODY.PEEK[1.2]", true, true, false, false, 0, false },
		{ "BINARY[1]", true, true, true, false, 0, false },
		{ "BINARY.PEEK[1]", true, true, false, false, 0, false },
		{ "BINARY.SIZE[1]", true, true, false, false, 0, false },
		{ "(UID MODSEQ)", false, false, false, true, 0, false },
		{ "(FLAGS) (CHANGEDSINCE 12345)", false, false, false, true, 12345, false },
		{ "FLAGS (CHANGEDSINCE 5 VANISHED)", false, false, false, true, 5, true },
		{ "FLAGS (VANISHED CHANGEDSINCE 5)", false, false, false, true, 5, true },
	};
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_cursor c;
		struct imap_fetch_plan *p;

		imap_cursor_init(&c, str_c(cases[i].atts));
		p = imap_fetch_parse(&c, &a);
		if (p == NULL || !imap_cursor_at_end(&c))
			fail_msg("'%s' does not parse", cases[i].atts);
		if (imap_fetch_needs_meta(p) != cases[i].meta ||
		    imap_fetch_needs_blob(p) != cases[i].blob ||
		    imap_fetch_sets_seen(p) != cases[i].seen ||
		    imap_fetch_wants_modseq(p) != cases[i].modseq ||
		    imap_fetch_changedsince(p) != cases[i].changedsince ||
		    imap_fetch_vanished(p) != cases[i].vanished)
			fail_msg("'%s': wrong plan properties", cases[i].atts);
	}
	assert_true(imap_fetch_wants_flags(imap_fetch_parse(&(struct imap_cursor){
		"ALL", "ALL" + 3, NULL }, &a)));
	arena_deinit(&a);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "FOO", "(FLAGS", "()", "(FLAGS  UID)", "BODY[", "BODY[1.]",
		"BODY[0]", "BODY[1.0]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (a:b)]", "BODY[MIME]", "BODY[1.FOO]", "BODY[]<1>",
		"BODY[]<1.0>", "BODY[]<a.1>", "BINARY[TEXT]", "BINARY[1.MIME]",
		"BINARY.SIZE[1]<0.1>", "BODY.PEEK", "FLAGS (VANISHED)",
		"FLAGS (CHANGEDSINCE 0)", "FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
		"FLAGS (FOO)", "FLAGS ()", "BODY[TEXT", "(FLAGS)x",
	};
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_cursor c;
		struct imap_fetch_plan *p;

		imap_cursor_init(&c, str_c(bad[i]));
		p = imap_fetch_parse(&c, &a);
		if (p != NULL && imap_cursor_at_end(&c))
			fail_msg("'%s' parses", bad[i]);
		if (p == NULL) {
			assert_non_null(c.error);
			assert_ptr_equal(c.p, bad[i]);
		}
	}
	arena_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_atts),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_embedded_message),
		cmocka_unit_test(test_drip_fed),
		cmocka_unit_test(test_nul_in_body),
		cmocka_unit_test(test_binary_size_is_length),
		cmocka_unit_test(test_plan_properties),
		cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
