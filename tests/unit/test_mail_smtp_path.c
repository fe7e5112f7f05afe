/* Unit tests for mail/smtp_path: RFC 5321 paths, limits, relay tricks,
 * SMTPUTF8. */
#include "unit.h"

#include "mail/smtp_path.h"

#define REV SMTP_PATH_OPT_REVERSE
#define UTF8 SMTP_PATH_OPT_UTF8
#define PM SMTP_PATH_OPT_POSTMASTER
#define BARE SMTP_PATH_OPT_BARE

struct good_case {
	const char *in;
	unsigned opts;
	const char *local;
	const char *domain;
	unsigned flags;
	const char *canonical;
};

static const struct good_case good[] = {
	{ "<>", REV, "", "", SMTP_PATH_NULL, "" },
	{ "<user@example.org>", 0, "user", "example.org", 0,
	  "user@example.org" },
	{ "<First.Last@Example.ORG>", 0, "First.Last", "example.org", 0,
	  "First.Last@example.org" },
	{ "<a+tag=x_y-z/{q}~!#$&'*?^`|@x>", 0, "a+tag=x_y-z/{q}~!#$&'*?^`|",
	  "x", SMTP_PATH_BANG, "a+tag=x_y-z/{q}~!#$&'*?^`|@x" },
	{ "<\"a b\"@x.org>", 0, "a b", "x.org", SMTP_PATH_QUOTED,
	  "\"a b\"@x.org" },
	{ "<\"a\\\"b\\\\c\"@x>", 0, "a\"b\\c", "x", SMTP_PATH_QUOTED,
	  "\"a\\\"b\\\\c\"@x" },
	/* A quoted dot-atom is canonically unquoted. */
	{ "<\"plain\"@x>", 0, "plain", "x", SMTP_PATH_QUOTED, "plain@x" },
	{ "<\"\"@x>", 0, "", "x", SMTP_PATH_QUOTED, "\"\"@x" },
	{ "<\"a>b\"@x>", 0, "a>b", "x", SMTP_PATH_QUOTED, "\"a>b\"@x" },
	{ "<u@[192.0.2.1]>", 0, "u", "[192.0.2.1]", SMTP_PATH_LITERAL,
	  "u@[192.0.2.1]" },
	{ "<u@[ipv6:2001:DB8::1]>", 0, "u", "[IPv6:2001:db8::1]",
	  SMTP_PATH_LITERAL, "u@[IPv6:2001:db8::1]" },
	{ "<u@a-b.c9.example>", 0, "u", "a-b.c9.example", 0,
	  "u@a-b.c9.example" },
	{ "<u@3com.com>", 0, "u", "3com.com", 0, "u@3com.com" },
	/* relay tricks */
	{ "<user%remote@local>", 0, "user%remote", "local", SMTP_PATH_PERCENT,
	  "user%remote@local" },
	{ "<remote!user@local>", 0, "remote!user", "local", SMTP_PATH_BANG,
	  "remote!user@local" },
	{ "<\"user@remote\"@local>", 0, "user@remote", "local",
	  SMTP_PATH_QUOTED | SMTP_PATH_AT, "\"user@remote\"@local" },
	{ "<@a.example,@b.example:user@c.example>", 0, "user", "c.example",
	  SMTP_PATH_SOURCE_ROUTE, "user@c.example" },
	{ "<@a:u@b>", 0, "u", "b", SMTP_PATH_SOURCE_ROUTE, "u@b" },
	/* postmaster */
	{ "<postmaster>", PM, "postmaster", "", SMTP_PATH_POSTMASTER,
	  "postmaster" },
	{ "<PostMaster>", PM, "postmaster", "", SMTP_PATH_POSTMASTER,
	  "postmaster" },
	{ "<postmaster@x>", PM, "postmaster", "x", 0, "postmaster@x" },
	/* bare local parts (the local socket) */
	{ "<root>", BARE, "root", "", SMTP_PATH_BARE, "root" },
	{ "<Cron.Daemon>", REV | BARE, "Cron.Daemon", "", SMTP_PATH_BARE,
	  "Cron.Daemon" },
	{ "<\"a b\">", BARE, "a b", "", SMTP_PATH_BARE | SMTP_PATH_QUOTED,
	  "\"a b\"" },
	{ "<postmaster>", PM | BARE, "postmaster", "", SMTP_PATH_POSTMASTER,
	  "postmaster" },
	{ "<u@x>", BARE, "u", "x", 0, "u@x" },
	{ "<>", REV | BARE, "", "", SMTP_PATH_NULL, "" },
	/* SMTPUTF8 */
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", UTF8, "j\xc3\xb6rg",
	  "b\xc3\xbc" "cher.example", SMTP_PATH_UTF8,
	  "j\xc3\xb6rg@b\xc3\xbc" "cher.example" },
	{ "<\"\xe2\x82\xac x\"@X.example>", UTF8, "\xe2\x82\xac x", "x.example",
	  SMTP_PATH_UTF8 | SMTP_PATH_QUOTED,
	  "\"\xe2\x82\xac x\"@x.example" },
};

struct bad_case {
	const char *in;
	unsigned opts;
	unsigned code;
	const char *enhanced;
};

static const struct bad_case bad[] = {
	{ "", 0, 501, "5.1.3" },
	{ "user@x", 0, 501, "5.1.3" },
	{ "<user@x", 0, 501, "5.1.3" },
	{ "<>", 0, 501, "5.1.3" },		/* null forward-path */
	{ "<user>", 0, 501, "5.1.3" },		/* no domain */
	{ "<user>", REV, 501, "5.1.7" },
	{ "<postmaster>", REV, 501, "5.1.7" },	/* only for RCPT */
	{ "<\"postmaster\">", PM, 501, "5.1.3" },
	{ "<@a:postmaster>", PM, 501, "5.1.3" },
	{ "<@a:root>", BARE, 501, "5.1.3" },	/* a route needs a domain */
	{ "<>", BARE, 501, "5.1.3" },
	{ "<ro ot>", BARE, 501, "5.1.3" },
	{ "<root.>", REV | BARE, 501, "5.1.7" },
	{ "<.user@x>", 0, 501, "5.1.3" },
	{ "<user.@x>", 0, 501, "5.1.3" },
	{ "<us..er@x>", 0, 501, "5.1.3" },
	{ "<us er@x>", 0, 501, "5.1.3" },
	{ "<us(er)@x>", 0, 501, "5.1.3" },
	{ "<u@@x>", 0, 501, "5.1.3" },
	{ "<u@>", 0, 501, "5.1.3" },
	{ "<u@x.>", 0, 501, "5.1.3" },
	{ "<u@.x>", 0, 501, "5.1.3" },
	{ "<u@x..y>", 0, 501, "5.1.3" },
	{ "<u@-x.org>", 0, 501, "5.1.3" },
	{ "<u@x-.org>", 0, 501, "5.1.3" },
	{ "<u@x_y.org>", 0, 501, "5.1.3" },
	{ "<u@x y>", 0, 501, "5.1.3" },
	{ "<\"a\"b@x>", 0, 501, "5.1.3" },
	{ "<\"unterminated@x>", 0, 501, "5.1.3" },
	{ "<\"a\tb\"@x>", 0, 501, "5.1.3" },
	{ "<\"a\\\x01\"@x>", 0, 501, "5.1.3" },
	{ "<u@[1.2.3]>", 0, 501, "5.1.3" },
	{ "<u@[1.2.3.256]>", 0, 501, "5.1.3" },
	{ "<u@[IPv6:1.2.3.4.5]>", 0, 501, "5.1.3" },
	{ "<u@[IPv6:::g]>", 0, 501, "5.1.3" },
	{ "<u@[x-tag:foo]>", 0, 501, "5.1.3" },	/* general literal */
	{ "<u@[1.2.3.4>", 0, 501, "5.1.3" },
	{ "<@a,u@b>", 0, 501, "5.1.3" },
	{ "<@a:@b:u@c>", 0, 501, "5.1.3" },
	{ "<@:u@c>", 0, 501, "5.1.3" },
	{ "<@[1.2.3.4]:u@c>", 0, 501, "5.1.3" },
	/* UTF-8 without SMTPUTF8 */
	{ "<j\xc3\xb6rg@x>", 0, 553, "5.6.7" },
	{ "<u@b\xc3\xbc" "cher.example>", REV, 553, "5.6.7" },
	{ "<\"\xc3\xb6\"@x>", 0, 553, "5.6.7" },
	/* invalid UTF-8 even with SMTPUTF8 */
	{ "<j\xc3rg@x>", UTF8, 501, "5.1.3" },
	{ "<u@\xff.example>", UTF8, 501, "5.1.3" },
	{ "<\xed\xa0\x80@x>", UTF8, 501, "5.1.3" },	/* surrogate */
};

static void test_good_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const struct good_case *c = &good[i];
		struct smtp_path path;
		struct smtp_status err;
		struct strbuf canon = STRBUF_INIT;
		size_t len = 0;

		if (!smtp_path_parse(str_c(c->in), c->opts, &path, &len, &err))
			fail_msg("case %zu %s: %u %s %s", i, c->in, err.code,
				 err.enhanced, err.text);
		assert_int_equal(len, strlen(c->in));
		assert_string_equal(path.local, c->local);
		assert_string_equal(path.domain, c->domain);
		assert_int_equal(path.flags, c->flags);
		smtp_path_append_canonical(&canon, &path);
		assert_string_equal(strbuf_cstr(&canon), c->canonical);
		strbuf_free(&canon);
		smtp_path_clear(&path);
		assert_null(path.local);
	}
}

static void test_bad_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const struct bad_case *c = &bad[i];
		struct smtp_path path;
		struct smtp_status err = { 0, NULL, NULL };
		size_t len = 0;

		if (smtp_path_parse(str_c(c->in), c->opts, &path, &len, &err))
			fail_msg("case %zu %s parsed", i, c->in);
		assert_int_equal(err.code, c->code);
		assert_string_equal(err.enhanced, c->enhanced);
		assert_non_null(err.text);
		assert_null(path.local);
		assert_null(path.domain);
	}
}

/* A domain of exactly n octets: labels "aaaaaaaaa." then 1..10 'b'. */
static void make_domain(struct strbuf *b, size_t n)
{
	size_t start = b->n, k = (n - 1) / 10;

	for (size_t i = 0; i < k; i++)
		strbuf_append_c(b, "aaaaaaaaa.");
	for (size_t i = 0; i < n - 10 * k; i++)
		strbuf_putc(b, 'b');
	assert_int_equal(b->n - start, n);
}

static bool parse_sized(size_t local_n, size_t domain_n, unsigned *code_r,
			const char **text_r)
{
	struct strbuf b = STRBUF_INIT;
	struct smtp_path path;
	struct smtp_status err;
	size_t len;
	bool ok;

	strbuf_putc(&b, '<');
	for (size_t i = 0; i < local_n; i++)
		strbuf_putc(&b, 'l');
	strbuf_putc(&b, '@');
	make_domain(&b, domain_n);
	strbuf_putc(&b, '>');
	ok = smtp_path_parse(strbuf_str(&b), 0, &path, &len, &err);
	if (ok) {
		assert_int_equal(len, b.n);
		assert_int_equal(strlen(path.local), local_n);
		assert_int_equal(strlen(path.domain), domain_n);
		smtp_path_clear(&path);
	} else {
		*code_r = err.code;
		*text_r = err.text;
	}
	strbuf_free(&b);
	return ok;
}

static void test_limits(void **state)
{
	unsigned code;
	const char *text;

	(void)state;
	/* local part: 64 ok, 65 not */
	assert_true(parse_sized(64, 10, &code, &text));
	assert_false(parse_sized(65, 10, &code, &text));
	assert_int_equal(code, 501);
	assert_string_equal(text, "Local part too long");
	/* path: "<" 64 "@" 189 ">" is 256 */
	assert_true(parse_sized(64, 189, &code, &text));
	assert_false(parse_sized(64, 190, &code, &text));
	assert_string_equal(text, "Path too long");
	/* domain: 255 ok on its own, 256 not (the path limit bites first
	 * for a whole path, so check the domain rule through its text) */
	assert_false(parse_sized(1, 255, &code, &text));
	assert_string_equal(text, "Path too long");
	assert_false(parse_sized(1, 256, &code, &text));
	assert_string_equal(text, "Domain too long");
	/* label: 63 ok, 64 not */
	assert_true(parse_sized(1, 63, &code, &text));
	{
		struct strbuf b = STRBUF_INIT;
		struct smtp_path path;
		struct smtp_status err;
		size_t len;

		strbuf_append_c(&b, "<u@");
		for (int i = 0; i < 64; i++)
			strbuf_putc(&b, 'a');
		strbuf_append_c(&b, ".org>");
		assert_false(smtp_path_parse(strbuf_str(&b), 0, &path, &len,
					     &err));
		assert_string_equal(err.text, "Domain label too long");
		strbuf_free(&b);
	}
}

/* The span stops at the '>' that closes the path, not one inside quotes,
 * so the caller finds the parameters. */
static void test_span(void **state)
{
	struct smtp_path path;
	struct smtp_status err;
	size_t len;

	(void)state;
	assert_true(smtp_path_parse(STR_LIT("<\"a>b\"@x> SIZE=10"), 0, &path,
				    &len, &err));
	assert_int_equal(len, 9);
	smtp_path_clear(&path);
	assert_true(smtp_path_parse(STR_LIT("<>>"), REV, &path, &len, &err));
	assert_int_equal(len, 2);
	smtp_path_clear(&path);
	assert_true(smtp_path_parse(STR_LIT("<u@x> "), 0, &path, &len, &err));
	assert_int_equal(len, 5);
	smtp_path_clear(&path);
	/* a NUL is never part of a path */
	assert_false(smtp_path_parse(STR_LIT("<u\0@x>"), 0, &path, &len,
				     &err));
	assert_false(smtp_path_parse(STR_LIT("<u@x\0>"), 0, &path, &len,
				     &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_paths),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_span),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
