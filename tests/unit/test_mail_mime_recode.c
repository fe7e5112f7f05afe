/* Unit tests for the long-line re-encoding: the quoted-printable encoder
 * (round trip through the decoder, line lengths, whole and one byte at a
 * time on the decoding side) and mime_recode on single-part, multipart,
 * nested and signed messages; binary parts to base64. */
#include "unit.h"

#include "mail/b64stream.h"
#include "mail/mime.h"
#include "mail/mime_recode.h"
#include "mail/qp.h"

static void decode(struct str in, size_t step, struct strbuf *out)
{
	struct qp_decoder d = QP_DECODER_INIT;

	for (size_t i = 0; i < in.n; i += step)
		qp_decoder_feed(&d, out, in.p + i, MIN(step, in.n - i));
	qp_decoder_finish(&d, out);
}

/* Every encoded line is printable ASCII, at most 76 characters, and the
 * decoder gives the input back whole and drip-fed. */
static void check_round_trip(struct str in)
{
	static const size_t steps[] = { SIZE_MAX, 1, 3 };
	struct strbuf enc = STRBUF_INIT;
	size_t col = 0;

	qp_encode(&enc, in.p, in.n);
	for (size_t i = 0; i < enc.n; i++) {
		unsigned char c = (unsigned char)enc.p[i];

		if (c == '\r') {
			assert_true(i + 1 < enc.n && enc.p[i + 1] == '\n');
			/* no space or tab before a line end */
			assert_true(i == 0 || (enc.p[i - 1] != ' ' &&
					       enc.p[i - 1] != '\t'));
			col = 0;
			i++;
			continue;
		}
		assert_true((c >= 32 && c < 127) || c == '\t');
		col++;
		assert_true(col <= 76);
	}
	if (enc.n > 0)
		assert_true(enc.p[enc.n - 1] != ' ' && enc.p[enc.n - 1] != '\t');
	for (size_t k = 0; k < ARRAY_SIZE(steps); k++) {
		struct strbuf dec = STRBUF_INIT;

		decode(strbuf_str(&enc), steps[k], &dec);
		assert_int_equal(dec.n, in.n);
		if (in.n > 0)
			assert_memory_equal(dec.p, in.p, in.n);
		strbuf_free(&dec);
	}
	strbuf_free(&enc);
}

static void test_qp_encode(void **state)
{
	static const char *const cases[] = {
		"", "a", "plain text\r\n", "a=b\r\n", "trailing space \r\n",
		"trailing tab\t\r\nnext", "end space ", "lone\rcr and lone\nlf",
		"caf\xc3\xa9 \xff\x00\x7f", "\r\n\r\n", "=\r\n=", ".\r\n.dot",
	};
	struct strbuf in = STRBUF_INIT, enc = STRBUF_INIT;
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_round_trip(str_make(cases[i], i == 8 ? 9 : strlen(cases[i])));
	/* lines of every length around the soft-break boundary */
	for (size_t n = 70; n < 80; n++) {
		strbuf_reset(&in);
		for (size_t i = 0; i < n; i++)
			strbuf_putc(&in, (char)('a' + i % 26));
		check_round_trip(strbuf_str(&in));
		strbuf_putc(&in, ' ');
		check_round_trip(strbuf_str(&in));
		strbuf_append_c(&in, "=\r\n");
		check_round_trip(strbuf_str(&in));
	}
	/* a boundary-like run inside a long line never starts a line */
	strbuf_reset(&in);
	for (size_t i = 0; i < 40; i++)
		strbuf_append_c(&in, "--boundary-- From x ");
	qp_encode(&enc, in.p, in.n);
	for (const char *p = strbuf_cstr(&enc), *nl; (nl = strchr(p, '\n')) != NULL;
	     p = nl + 1)
		assert_true(nl[1] != '-' && nl[1] != 'F');
	check_round_trip(strbuf_str(&in));
	strbuf_reset(&enc);
	/* pseudo-random bytes, CRLF-heavy */
	strbuf_reset(&in);
	for (size_t i = 0; i < 20000; i++) {
		x = x * 1103515245 + 12345;
		switch ((x >> 16) % 8) {
		case 0: strbuf_append_c(&in, "\r\n"); break;
		case 1: strbuf_putc(&in, ' '); break;
		case 2: strbuf_putc(&in, (char)(x >> 8)); break;
		default: strbuf_putc(&in, (char)('A' + (x >> 20) % 26)); break;
		}
	}
	check_round_trip(strbuf_str(&in));
	/* a 23 000-byte line: plain text takes one line per 75 bytes */
	strbuf_reset(&in);
	for (size_t i = 0; i < 23000; i++)
		strbuf_putc(&in, 'x');
	qp_encode(&enc, in.p, in.n);
	assert_true(enc.n < in.n + 3 * (in.n / 75 + 1));
	strbuf_free(&enc);
	strbuf_free(&in);
}

static void test_longest_line(void **state)
{
	(void)state;
	assert_int_equal(mime_recode_longest_line(STR_LIT("")), 0);
	assert_int_equal(mime_recode_longest_line(STR_LIT("abc")), 3);
	assert_int_equal(mime_recode_longest_line(STR_LIT("abc\r\nde\r\n")), 3);
	assert_int_equal(mime_recode_longest_line(STR_LIT("ab\nabcd\n")), 4);
	/* a CR not before LF is content */
	assert_int_equal(mime_recode_longest_line(STR_LIT("ab\rc\r\n")), 4);
}

static void long_line(struct strbuf *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_putc(b, "<td>cell</td>"[i % 13]);
}

/* The body of the leaf part found by walking first children n times. */
static void part_body(struct str msg, const char *path, struct str *hdr_r,
		      struct str *body_r)
{
	struct mime_tree *t = mime_parse(msg.p, msg.n, NULL);
	const struct mime_part *p = t->root;

	for (const char *c = path; *c != '\0'; c++) {
		unsigned k = (unsigned)(*c - '1');

		p = p->children;
		while (k-- > 0)
			p = p->next;
		assert_non_null(p);
	}
	*hdr_r = str_make(msg.p + p->hdr_start, p->body_start - p->hdr_start);
	*body_r = str_make(msg.p + p->body_start, p->body_end - p->body_start);
	mime_tree_free(&t);
}

static void test_recode_multipart(void **state)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT, dec = STRBUF_INIT,
		      html = STRBUF_INIT;
	struct str hdr, body, ohdr, obody;
	bool left = true;

	(void)state;
	long_line(&html, 23000);
	strbuf_append_c(&in, "From: a@example.org\r\n"
			"Subject: news\r\n"
			"MIME-Version: 1.0\r\n"
			"Content-Type: multipart/alternative; boundary=\"b\"\r\n"
			"\r\n"
			"preamble\r\n"
			"--b\r\n"
			"Content-Type: text/plain\r\n"
			"\r\n"
			"short plain\r\n"
			"--b\r\n"
			"Content-Type: text/html; charset=utf-8\r\n"
			"Content-Transfer-Encoding: 8bit\r\n"
			"  (folded)\r\n"
			"X-Keep: yes\r\n"
			"\r\n");
	strbuf_append_str(&in, strbuf_str(&html));
	strbuf_append_c(&in, " \r\n--b--\r\nepilogue\r\n");
	assert_int_equal(mime_recode_long_lines(strbuf_str(&in), &out, &left), 1);
	assert_false(left);
	assert_true(mime_recode_longest_line(strbuf_str(&out)) <= 76);
	/* everything before the html part is unchanged */
	part_body(strbuf_str(&in), "2", &hdr, &body);
	assert_memory_equal(out.p, in.p, (size_t)(hdr.p - in.p));
	part_body(strbuf_str(&out), "2", &ohdr, &obody);
	assert_true(str_eq(ohdr, STR_LIT("Content-Type: text/html; charset=utf-8\r\n"
					 "X-Keep: yes\r\n"
					 "Content-Transfer-Encoding: quoted-printable\r\n"
					 "\r\n")));
	decode(obody, 1, &dec);
	assert_true(str_eq(strbuf_str(&dec), body));
	/* and after it too */
	assert_true(str_ends_with(strbuf_str(&out),
				  STR_LIT("=20\r\n--b--\r\nepilogue\r\n")));
	/* the plain part is untouched */
	part_body(strbuf_str(&out), "1", &ohdr, &obody);
	assert_true(str_eq(obody, STR_LIT("short plain")));

	/* nothing too long: nothing changes */
	strbuf_reset(&out);
	assert_int_equal(mime_recode_long_lines(STR_LIT("Subject: x\r\n\r\nok\r\n"),
						&out, &left), 0);
	assert_false(left);
	assert_string_equal(strbuf_cstr(&out), "Subject: x\r\n\r\nok\r\n");
	strbuf_free(&in);
	strbuf_free(&out);
	strbuf_free(&dec);
	strbuf_free(&html);
}

static void test_recode_single_and_nested(void **state)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT, dec = STRBUF_INIT;
	struct str hdr, body;
	bool left;

	(void)state;
	/* not MIME: MIME-Version and the encoding are added */
	strbuf_append_c(&in, "Subject: old\r\n\r\nfirst\r\n");
	long_line(&in, 5000);
	strbuf_append_c(&in, "\r\nlast\r\n");
	assert_int_equal(mime_recode_long_lines(strbuf_str(&in), &out, &left), 1);
	assert_false(left);
	part_body(strbuf_str(&out), "", &hdr, &body);
	assert_true(str_eq(hdr, STR_LIT("Subject: old\r\nMIME-Version: 1.0\r\n"
					"Content-Transfer-Encoding: quoted-printable\r\n\r\n")));
	decode(body, SIZE_MAX, &dec);
	assert_true(str_eq(strbuf_str(&dec), str_from(strbuf_str(&in), 16)));

	/* a text part inside an attached message */
	strbuf_reset(&in);
	strbuf_reset(&out);
	strbuf_reset(&dec);
	strbuf_append_c(&in, "MIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=o\r\n\r\n"
			"--o\r\nContent-Type: message/rfc822\r\n\r\n"
			"Subject: inner\r\n\r\n");
	long_line(&in, 2000);
	strbuf_append_c(&in, "\r\n--o--\r\n");
	assert_int_equal(mime_recode_long_lines(strbuf_str(&in), &out, &left), 1);
	assert_false(left);
	assert_non_null(strstr(strbuf_cstr(&out), "Content-Type: message/rfc822\r\n\r\n"
			       "Subject: inner\r\nMIME-Version: 1.0\r\n"
			       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));

	/* base64 with a long line, a long header line: left as they are */
	strbuf_reset(&in);
	strbuf_reset(&out);
	strbuf_append_c(&in, "X-Long: ");
	long_line(&in, 1200);
	strbuf_append_c(&in, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	long_line(&in, 1200);
	strbuf_append_c(&in, "\r\n");
	assert_int_equal(mime_recode_long_lines(strbuf_str(&in), &out, &left), 0);
	assert_true(left);
	assert_true(str_eq(strbuf_str(&out), strbuf_str(&in)));

	/* a multipart without its boundary is never encoded as a whole */
	strbuf_reset(&in);
	strbuf_reset(&out);
	strbuf_append_c(&in, "Content-Type: multipart/mixed; boundary=gone\r\n\r\n");
	long_line(&in, 1200);
	assert_int_equal(mime_recode_long_lines(strbuf_str(&in), &out, &left), 0);
	assert_true(left);
	strbuf_free(&in);
	strbuf_free(&out);
	strbuf_free(&dec);
}

static void test_is_signed(void **state)
{
	(void)state;
	assert_true(mime_recode_is_signed(STR_LIT("Received: x\r\n"
		"DKIM-Signature: v=1; a=rsa-sha256;\r\n b=abc\r\n\r\nbody\r\n")));
	assert_true(mime_recode_is_signed(STR_LIT("arc-message-signature: i=1\r\n\r\n")));
	assert_false(mime_recode_is_signed(STR_LIT("Subject: x\r\n\r\n"
		"DKIM-Signature: in the body\r\n")));
	assert_false(mime_recode_is_signed(STR_LIT("")));
}

/* The body of the part at section ("", "2", "1.2": one-digit part
 * numbers) of a parse of msg, decoded as its Content-Transfer-Encoding
 * says (identity or base64). */
static void part_content(struct str msg, const char *section,
			 struct strbuf *out)
{
	struct mime_tree *tree = mime_parse(msg.p, msg.n, NULL);
	const struct mime_part *p = tree->root;

	for (const char *c = section; *c != '\0'; c++) {
		if (*c == '.')
			continue;
		p = p->children;
		for (int i = 1; i < *c - '0'; i++)
			p = p->next;
	}
	struct str body = str_make(msg.p + p->body_start,
				   (size_t)(p->body_end - p->body_start));

	if (p->encoding.p != NULL &&
	    str_caseeq(p->encoding, STR_LIT("base64"))) {
		struct b64stream d = B64STREAM_INIT;

		b64stream_feed(&d, out, body.p, body.n);
		b64stream_finish(&d, out);
	} else {
		strbuf_append_str(out, body);
	}
	mime_tree_free(&tree);
}

static void test_recode_binary(void **state)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT, dec = STRBUF_INIT;
	char bin[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7);	/* NUL, bare CR and LF, 8-bit */
	strbuf_append_c(&in, "From: a@example.org\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
			"--b\r\nContent-Type: application/octet-stream\r\n"
			"Content-Transfer-Encoding: BINARY\r\n\r\n");
	strbuf_append(&in, bin, sizeof(bin));
	strbuf_append_c(&in, "\r\n--b--\r\n");
	assert_int_equal(mime_recode_binary(strbuf_str(&in), &out), 1);
	/* no NUL, no bare line end, lines of at most 76 */
	assert_null(memchr(out.p, '\0', out.n));
	for (size_t i = 0, col = 0; i < out.n; i++) {
		if (out.p[i] == '\n')
			assert_true(i > 0 && out.p[i - 1] == '\r');
		if (out.p[i] == '\r') {
			assert_true(i + 1 < out.n && out.p[i + 1] == '\n');
			col = 0;
			i++;
			continue;
		}
		assert_true(++col <= 76);
	}
	assert_non_null(strstr(strbuf_cstr(&out), "\r\nContent-Transfer-"
				"Encoding: base64\r\n\r\n"));
	assert_null(strstr(strbuf_cstr(&out), "BINARY"));
	part_content(strbuf_str(&out), "2", &dec);
	assert_int_equal(dec.n, sizeof(bin));
	assert_memory_equal(dec.p, bin, sizeof(bin));
	strbuf_reset(&dec);
	part_content(strbuf_str(&out), "1", &dec);
	assert_true(str_eq(strbuf_str(&dec), STR_LIT("hello")));

	/* a single-part message; a message without binary parts is copied */
	strbuf_reset(&in);
	strbuf_reset(&out);
	strbuf_reset(&dec);
	strbuf_append_c(&in, "Subject: x\r\nContent-Transfer-Encoding: binary\r\n\r\n");
	strbuf_append(&in, bin, 10);
	assert_int_equal(mime_recode_binary(strbuf_str(&in), &out), 1);
	assert_non_null(strstr(strbuf_cstr(&out), "MIME-Version: 1.0\r\n"));
	part_content(strbuf_str(&out), "", &dec);
	assert_int_equal(dec.n, 10);
	assert_memory_equal(dec.p, bin, 10);
	strbuf_reset(&out);
	assert_int_equal(mime_recode_binary(STR_LIT("Subject: x\r\n\r\nhi\r\n"),
					    &out), 0);
	assert_true(str_eq(strbuf_str(&out), STR_LIT("Subject: x\r\n\r\nhi\r\n")));
	strbuf_free(&in);
	strbuf_free(&out);
	strbuf_free(&dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp_encode),
		cmocka_unit_test(test_longest_line),
		cmocka_unit_test(test_recode_multipart),
		cmocka_unit_test(test_recode_single_and_nested),
		cmocka_unit_test(test_is_signed),
		cmocka_unit_test(test_recode_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
