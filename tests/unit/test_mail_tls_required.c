/* Unit tests for mail/tls_required: RFC 8689 "TLS-Required: No" found in
 * the top header section only (folded, any case, CRLF or LF), and nothing
 * else taken for it. */
#include "unit.h"

#include "mail/tls_required.h"

struct tcase {
	const char *msg;
	bool no;
};

static const struct tcase cases[] = {
	{ "TLS-Required: No\r\n\r\nbody\r\n", true },
	{ "From: a@b\r\nTLS-Required: No\r\nSubject: x\r\n\r\nbody\r\n", true },
	/* the value and the name in any case, white space around it */
	{ "Subject: x\r\nTLS-Required: no\r\n\r\n", true },
	{ "tls-required:NO\r\n\r\n", true },
	{ "TLS-REQUIRED: \t nO \t\r\n\r\nx\r\n", true },
	{ "TLS-Required : No\r\n\r\n", true },
	/* folded onto the next line(s) */
	{ "Subject: x\r\nTLS-Required:\r\n No\r\nTo: b@c\r\n\r\n", true },
	{ "TLS-Required:\r\n\t\r\n\tNo\r\n\r\n", true },
	/* LF line ends, and a header without a body or a final line end */
	{ "X: 1\nTLS-Required: No\n\nbody\n", true },
	{ "TLS-Required: No\r\n", true },
	{ "TLS-Required: No", true },
	/* one No among other fields of the same name is enough */
	{ "TLS-Required: maybe\r\nTLS-Required: No\r\n\r\n", true },
	/* not the value No */
	{ "TLS-Required: Yes\r\n\r\n", false },
	{ "TLS-Required: Nope\r\n\r\n", false },
	{ "TLS-Required: No thanks\r\n\r\n", false },
	{ "TLS-Required: No (broken cert)\r\n\r\n", false },
	{ "TLS-Required: N\r\n o\r\n\r\n", false },
	{ "TLS-Required:\r\n\r\n", false },
	{ "TLS-Required: \"No\"\r\n\r\n", false },
	/* not the field */
	{ "X-TLS-Required: No\r\n\r\n", false },
	{ "TLS-Required-X: No\r\n\r\n", false },
	{ "Subject: TLS-Required: No\r\n\r\n", false },
	{ "Subject: x\r\n TLS-Required: No\r\n\r\n", false },
	/* in the body, or behind an empty first line (no header at all) */
	{ "Subject: x\r\n\r\nTLS-Required: No\r\n", false },
	{ "Subject: x\n\nTLS-Required: No\n", false },
	{ "\r\nTLS-Required: No\r\n", false },
	{ "Content-Type: message/rfc822\r\n\r\nTLS-Required: No\r\n\r\n", false },
	{ "", false },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = strlen(cases[i].msg);
		/* an exact-size copy without a NUL: ASan sees any over-read */
		char *copy = xmalloc(n + 1);

		memcpy(copy, cases[i].msg, n);
		if (tls_required_no(str_make(copy, n)) != cases[i].no)
			fail_msg("case %zu: \"%s\": want %d", i, cases[i].msg,
				 cases[i].no);
		free(copy);
	}
}

/* The header ends where size says, not at a NUL: a field cut off by the
 * size is not read past it. */
static void test_size_bounds(void **state)
{
	static const char msg[] = "Subject: x\r\nTLS-Required: No\r\n\r\n";

	(void)state;
	assert_true(tls_required_no(str_make(msg, sizeof(msg) - 1)));
	/* "TLS-Required: N" */
	assert_false(tls_required_no(str_make(msg, 27)));
	/* "TLS-Required: No" without the line end */
	assert_true(tls_required_no(str_make(msg, 28)));
	assert_false(tls_required_no(str_make(msg, 12)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_size_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
