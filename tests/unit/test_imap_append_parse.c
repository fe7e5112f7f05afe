/* Unit tests for proto/imap/imap_append_parse: the parse of a literal fed
 * in any split (one byte at a time too) is the parse of its CRLF form in
 * one go; literals are told apart by offset; what is not taken is freed. */
#include "unit.h"

#include "base/strbuf.h"
#include "mail/imap_bodystructure.h"
#include "mail/mime_parts.h"
#include "proto/imap/imap_append_parse.h"

/* A message mixing CRLF, lone LF (a split may fall between CR and LF, or
 * before a lone LF), a bare CR and LF at the very start. */
static const char msg[] =
	"\nFrom: a@example.org\r\nSubject: mixed\n"
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n\n"
	"--b\nContent-Type: text/plain\r\n\r\nline one\nline\rtwo\r\n"
	"--b\r\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n"
	"--b--\n";

static void crlf(struct strbuf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			strbuf_putc(out, '\r');
		strbuf_putc(out, p[i]);
	}
}

/* The serialised parts and BODYSTRUCTURE of a tree, freed. */
static void describe(struct mime_tree *t, struct strbuf *out)
{
	mime_parts_serialize(t, out);
	imap_bodystructure_write(out, t->root, true);
	mime_tree_free(&t);
}

static void test_any_split(void **state UNUSED)
{
	size_t n = sizeof(msg) - 1;
	struct strbuf norm = STRBUF_INIT, want = STRBUF_INIT, got = STRBUF_INIT;

	crlf(&norm, msg, n);
	describe(mime_parse(norm.p, norm.n, NULL), &want);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct imap_append_parse *ap = NULL;

		imap_append_parse_begin(&ap, 40);
		for (size_t pos = 0; pos < n; pos += chunk)
			imap_append_parse_feed(ap, str_make(msg + pos,
						MIN(chunk, n - pos)));
		assert_null(imap_append_parse_take(ap, 41));
		strbuf_reset(&got);
		describe(imap_append_parse_take(ap, 40), &got);
		assert_null(imap_append_parse_take(ap, 40));	/* taken */
		assert_int_equal(got.n, want.n);
		assert_memory_equal(got.p, want.p, want.n);
		imap_append_parse_free(&ap);
		assert_null(ap);
	}
	strbuf_free(&norm);
	strbuf_free(&want);
	strbuf_free(&got);
}

static void test_several_and_untaken(void **state UNUSED)
{
	struct imap_append_parse *ap = NULL;
	struct mime_tree *t;

	assert_null(imap_append_parse_take(NULL, 0));
	imap_append_parse_free(&ap);
	for (size_t i = 0; i < 9; i++) {
		imap_append_parse_begin(&ap, 100 * i);
		imap_append_parse_feed(ap, STR_LIT("Subject: x\r\n\r\nbody"));
	}
	t = imap_append_parse_take(ap, 300);
	assert_non_null(t);
	assert_int_equal(t->size, 18);
	mime_tree_free(&t);
	/* a literal cut off halfway, and the others: freed (ASan) */
	imap_append_parse_begin(&ap, 5000);
	imap_append_parse_feed(ap, STR_LIT("Subject: half"));
	imap_append_parse_free(&ap);
}

static void test_wanted(void **state UNUSED)
{
	assert_true(imap_append_parse_wanted(STR_LIT("a1 APPEND INBOX {5}\r\n")));
	assert_true(imap_append_parse_wanted(STR_LIT("a1 append {5}\r\n")));
	assert_false(imap_append_parse_wanted(STR_LIT("a1 APPENDX {5}\r\n")));
	assert_false(imap_append_parse_wanted(STR_LIT("a1 LOGIN {5}\r\n")));
	assert_false(imap_append_parse_wanted(STR_LIT("a1 APPEND")));
	assert_false(imap_append_parse_wanted(STR_LIT("APPEND")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_split),
		cmocka_unit_test(test_several_and_untaken),
		cmocka_unit_test(test_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
