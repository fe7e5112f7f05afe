/* Unit tests for proto/imap/imap_token: the lexical pieces of commands. */
#include "unit.h"

#include "base/strbuf.h"
#include "proto/imap/imap_token.h"
#include "store/store.h"

static struct arena arena;

static int setup(void **state)
{
	(void)state;
	arena_init(&arena, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_deinit(&arena);
	return 0;
}

static struct imap_cursor cur(const char *s)
{
	struct imap_cursor c;

	imap_cursor_init(&c, str_c(s));
	return c;
}

static void test_atoms_and_words(void **state)
{
	struct imap_cursor c = cur("a001 FETCH BODY[] x");
	struct str s;

	(void)state;
	assert_true(imap_cursor_word(&c, &s));
	assert_true(str_eq(s, STR_LIT("a001")));
	assert_true(imap_cursor_sp(&c));
	assert_true(imap_cursor_atom(&c, &s));
	assert_true(str_eq(s, STR_LIT("FETCH")));
	assert_true(imap_cursor_sp(&c));
	/* '[' is an ATOM-CHAR, ']' is not */
	assert_true(imap_cursor_atom(&c, &s));
	assert_true(str_eq(s, STR_LIT("BODY[")));
	assert_int_equal(imap_cursor_peek(&c), ']');
	assert_false(imap_cursor_atom(&c, &s));
	assert_non_null(c.error);
	assert_int_equal(imap_cursor_peek(&c), ']');
	assert_true(imap_cursor_skip_char(&c, ']'));
	assert_false(imap_cursor_skip_char(&c, 'x'));
	assert_true(imap_cursor_sp(&c));
	assert_false(imap_cursor_sp(&c));
	assert_true(imap_cursor_word(&c, &s));
	assert_true(imap_cursor_at_end(&c));
	assert_int_equal(imap_cursor_peek(&c), -1);

	c = cur("x]y(z");
	assert_true(imap_cursor_word(&c, &s));
	assert_true(str_eq(s, STR_LIT("x]y")));
	/* the first error is kept */
	c = cur("(");
	assert_false(imap_cursor_atom(&c, &s));
	const char *first = c.error;
	assert_false(imap_cursor_sp(&c));
	assert_ptr_equal(c.error, first);
}

static void test_strings(void **state)
{
	struct imap_cursor c;
	struct str s;
	bool nil, lit8;

	(void)state;
	c = cur("\"a \\\"b\\\\c\" rest");
	assert_true(imap_cursor_string(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("a \"b\\c")));
	assert_int_equal(s.p[s.n], '\0');
	assert_int_equal(imap_cursor_peek(&c), ' ');

	c = cur("\"\xc3\xa9t\xc3\xa9\"");
	assert_true(imap_cursor_string(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("\xc3\xa9t\xc3\xa9")));

	c = cur("{5}\r\nhe\"lo)");
	assert_true(imap_cursor_string(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("he\"lo")));
	assert_int_equal(imap_cursor_peek(&c), ')');
	c = cur("{5+}\r\nhello");
	assert_true(imap_cursor_astring(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("hello")));
	assert_true(imap_cursor_at_end(&c));

	/* literal8 may carry NUL, a plain literal may not; literal8 is no
	 * string, only APPEND data (imap_cursor_string8) */
	imap_cursor_init(&c, STR_LIT("~{3}\r\na\0b"));
	assert_false(imap_cursor_string(&c, &arena, &s));
	assert_true(imap_cursor_string8(&c, &arena, &s, &lit8));
	assert_true(lit8);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.p[1], '\0');
	imap_cursor_init(&c, STR_LIT("~{3+}\r\nabc"));
	assert_true(imap_cursor_string8(&c, &arena, &s, &lit8));
	assert_true(lit8 && str_eq(s, STR_LIT("abc")));
	c = cur("{3}\r\nabc");
	assert_true(imap_cursor_string8(&c, &arena, &s, &lit8));
	assert_false(lit8);
	c = cur("\"abc\"");
	assert_true(imap_cursor_string8(&c, &arena, &s, &lit8));
	assert_false(lit8);
	c = cur("~abc");
	assert_false(imap_cursor_string8(&c, &arena, &s, &lit8));
	imap_cursor_init(&c, STR_LIT("{3}\r\na\0b"));
	assert_false(imap_cursor_string(&c, &arena, &s));
	assert_int_equal(imap_cursor_peek(&c), '{');

	static const char *const bad[] = {
		"\"abc", "\"a\\b\"", "\"a\rb\"", "{5}\r\nabc", "{5}abcde",
		"{}\r\n", "{99999999999999999999999}\r\n", "abc", "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		c = cur(bad[i]);
		assert_false(imap_cursor_string(&c, &arena, &s));
		assert_non_null(c.error);
		assert_ptr_equal(c.p, bad[i]);
	}

	/* "~" is an ATOM-CHAR (RFC 3501 9): "~foo" is an atom, and
	 * "~{3}" an atom "~" followed by what is no astring */
	c = cur("~peter/x");
	assert_true(imap_cursor_astring(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("~peter/x")));
	c = cur("~ ~{3}\r\nabc");
	assert_true(imap_cursor_astring(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("~")));
	assert_true(imap_cursor_sp(&c));
	assert_true(imap_cursor_astring(&c, &arena, &s));
	assert_true(str_eq(s, STR_LIT("~")));
	assert_int_equal(imap_cursor_peek(&c), '{');
	c = cur("~{3}\r\nabc");
	assert_false(imap_cursor_nstring(&c, &arena, &s, &nil));

	c = cur("nil NILS \"NIL\"");
	assert_true(imap_cursor_nstring(&c, &arena, &s, &nil));
	assert_true(nil);
	assert_true(imap_cursor_sp(&c));
	assert_false(imap_cursor_nstring(&c, &arena, &s, &nil));
	c = cur("\"NIL\"");
	assert_true(imap_cursor_nstring(&c, &arena, &s, &nil));
	assert_false(nil);
	assert_true(str_eq(s, STR_LIT("NIL")));
}

static void test_numbers(void **state)
{
	struct imap_cursor c;
	uint32_t n;
	uint64_t n64;

	(void)state;
	c = cur("4294967295");
	assert_true(imap_cursor_number(&c, &n));
	assert_true(n == UINT32_MAX);
	c = cur("4294967296");
	assert_false(imap_cursor_number(&c, &n));
	c = cur("007");
	assert_true(imap_cursor_number(&c, &n));
	assert_int_equal(n, 7);
	c = cur("007");
	assert_false(imap_cursor_nz_number(&c, &n));
	c = cur("0");
	assert_false(imap_cursor_nz_number(&c, &n));
	c = cur("x");
	assert_false(imap_cursor_number(&c, &n));
	c = cur("9223372036854775807");
	assert_true(imap_cursor_number64(&c, &n64));
	assert_true(n64 == INT64_MAX);
	c = cur("9223372036854775808");
	assert_false(imap_cursor_number64(&c, &n64));
	c = cur("99999999999999999999999");
	assert_false(imap_cursor_number64(&c, &n64));
}

static void test_mailbox(void **state)
{
	struct imap_cursor c;
	const char *name;

	(void)state;
	c = cur("inBox");
	assert_true(imap_cursor_mailbox(&c, &arena, false, &name));
	assert_string_equal(name, "INBOX");
	c = cur("\"INBOX.sub\"");
	assert_true(imap_cursor_mailbox(&c, &arena, false, &name));
	assert_string_equal(name, "INBOX.sub");
	c = cur("&ZeVnLIqe-/x");
	assert_true(imap_cursor_mailbox(&c, &arena, false, &name));
	assert_string_equal(name, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/x");
	/* with UTF8=ACCEPT the name is taken as is */
	c = cur("&ZeVnLIqe-");
	assert_true(imap_cursor_mailbox(&c, &arena, true, &name));
	assert_string_equal(name, "&ZeVnLIqe-");
	c = cur("\"\xc3\xa9\"");
	assert_true(imap_cursor_mailbox(&c, &arena, true, &name));
	assert_string_equal(name, "\xc3\xa9");
	c = cur("\"\xc3\xa9\"");
	assert_false(imap_cursor_mailbox(&c, &arena, false, &name));
	assert_int_equal(imap_cursor_peek(&c), '"');
	c = cur("\"\xc3\"");
	assert_false(imap_cursor_mailbox(&c, &arena, true, &name));
	c = cur("&AGE-");
	assert_false(imap_cursor_mailbox(&c, &arena, false, &name));
	imap_cursor_init(&c, STR_LIT("~{3}\r\na\0b"));
	assert_true(imap_cursor_mailbox(&c, &arena, true, &name));
	assert_string_equal(name, "~");
	assert_int_equal(imap_cursor_peek(&c), '{');
	c = cur("~foo");
	assert_true(imap_cursor_mailbox(&c, &arena, false, &name));
	assert_string_equal(name, "~foo");
}

static void test_seqset(void **state)
{
	struct imap_cursor c;
	struct imap_seqset set;

	(void)state;
	c = cur("1,3:5,7:*,9:8 x");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_int_equal(set.n, 3);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 1);
	assert_int_equal(set.ranges[1].lo, 3);
	assert_int_equal(set.ranges[1].hi, 5);
	assert_int_equal(set.ranges[2].lo, 8);
	assert_int_equal(set.ranges[2].hi, 9);
	/* The range with '*' is kept apart. */
	assert_true(set.star);
	assert_int_equal(set.star_from, 7);
	assert_int_equal(imap_cursor_peek(&c), ' ');

	assert_true(imap_seqset_contains(&set, 1, 20));
	assert_false(imap_seqset_contains(&set, 2, 20));
	assert_true(imap_seqset_contains(&set, 4, 20));
	assert_true(imap_seqset_contains(&set, 20, 20));
	assert_false(imap_seqset_contains(&set, 6, 20));
	/* 7:* with max 5 is 5:7 */
	assert_true(imap_seqset_contains(&set, 6, 5));

	/* Only '*' is the largest number in use (RFC 9051 6.4.9): an
	 * explicit 4294967295 is not, so UIDNEXT:4294967295 matches
	 * nothing when every UID is below UIDNEXT, UIDNEXT:* the last. */
	c = cur("11:4294967295");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_false(set.star);
	assert_false(imap_seqset_contains(&set, 10, 10));
	assert_true(imap_seqset_contains(&set, 11, 10));
	assert_true(imap_seqset_contains(&set, UINT32_MAX, 10));
	c = cur("4294967295");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_false(imap_seqset_contains(&set, 10, 10));
	c = cur("11:*");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_true(imap_seqset_contains(&set, 10, 10));
	assert_false(imap_seqset_contains(&set, 9, 10));
	c = cur("4294967295:*");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_true(imap_seqset_contains(&set, 10, 10));
	assert_false(imap_seqset_contains(&set, 9, 10));

	c = cur("*");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_true(imap_seqset_contains(&set, 3, 3));
	assert_false(imap_seqset_contains(&set, 2, 3));
	assert_false(imap_seqset_contains(&set, 1, 0));
	c = cur("*:4");
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_true(imap_seqset_contains(&set, 3, 3));
	assert_false(imap_seqset_contains(&set, 2, 3));

	static const char *const bad[] = { "", "0", "1:", ",1", "1,", "a", "$", "1:0" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		c = cur(bad[i]);
		assert_false(imap_cursor_seqset(&c, &arena, &set));
		assert_non_null(c.error);
		assert_ptr_equal(c.p, bad[i]);
	}
}

/* What a set means, range by range as the client wrote it: the oracle
 * for the normalised set. */
/* r[i][k] == 0 stands for '*' */
static bool seqset_reference(const uint32_t (*r)[2], size_t n, uint32_t x,
			     uint32_t max)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t lo = r[i][0] == 0 ? max : r[i][0];
		uint32_t hi = r[i][1] == 0 ? max : r[i][1];

		if (x >= MIN(lo, hi) && x <= MAX(lo, hi))
			return true;
	}
	return false;
}

static void test_seqset_normalised(void **state)
{
	struct imap_cursor c;
	struct imap_seqset set;
	struct strbuf b = STRBUF_INIT;
	uint32_t r[40][2];
	unsigned seed = 12345;

	(void)state;
	/* 1,1,1,... and 1:*,1:*,... as long as a command allows: one range. */
	for (size_t i = 0; i < 30000; i++)
		strbuf_append_c(&b, i > 0 ? ",1" : "1");
	c = cur(strbuf_cstr(&b));
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_int_equal(set.n, 1);
	strbuf_reset(&b);
	for (size_t i = 0; i < 10000; i++)
		strbuf_append_c(&b, i > 0 ? ",1:*" : "1:*");
	c = cur(strbuf_cstr(&b));
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_int_equal(set.n, 0);
	assert_true(set.star);
	assert_int_equal(set.star_from, 1);
	/* Every other number: as many ranges, looked up by bisection. */
	strbuf_reset(&b);
	for (uint32_t i = 20000; i > 0; i--)
		strbuf_printf(&b, "%s%u", i < 20000 ? "," : "", 2 * i);
	c = cur(strbuf_cstr(&b));
	assert_true(imap_cursor_seqset(&c, &arena, &set));
	assert_int_equal(set.n, 20000);
	for (uint32_t i = 0; i <= 40002; i++)
		assert_int_equal(imap_seqset_contains(&set, i, 5), i % 2 == 0 &&
				 i > 0 && i <= 40000);
	/* Random sets with and without '*' against the plain meaning. */
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 12);

		strbuf_reset(&b);
		for (size_t i = 0; i < n; i++) {
			for (int k = 0; k < 2; k++) {
				unsigned v = (unsigned)rand_r(&seed) % 25;

				/* '*', 1..23, and the explicit top UID */
				r[i][k] = v == 24 ? UINT32_MAX : v;
			}
			if (rand_r(&seed) % 3 == 0)
				r[i][1] = r[i][0];
			strbuf_printf(&b, "%s", i > 0 ? "," : "");
			for (int k = 0; k < 2; k++) {
				if (k == 1 && r[i][1] == r[i][0])
					break;
				if (k == 1)
					strbuf_putc(&b, ':');
				if (r[i][k] == 0)
					strbuf_putc(&b, '*');
				else
					strbuf_printf(&b, "%u", r[i][k]);
			}
		}
		c = cur(strbuf_cstr(&b));
		assert_true(imap_cursor_seqset(&c, &arena, &set));
		assert_true(set.n <= n);
		for (uint32_t max = 0; max < 26; max++) {
			for (uint32_t i = 0; i < 29; i++) {
				uint32_t x = i < 27 ? i : UINT32_MAX - (i - 27);

				if (imap_seqset_contains(&set, x, max) !=
				    seqset_reference(r, n, x, max))
					fail_msg("%s: %u with max %u",
						 strbuf_cstr(&b), x, max);
			}
		}
	}
	strbuf_free(&b);
}

static void test_flags(void **state)
{
	struct imap_cursor c;
	uint32_t flags;
	const char **kw;
	size_t n;

	(void)state;
	c = cur("(\\seen \\Deleted $Forwarded Work $Forwarded)");
	assert_true(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(flags, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(n, 2);
	assert_string_equal(kw[0], "$Forwarded");
	assert_string_equal(kw[1], "Work");
	assert_true(imap_cursor_at_end(&c));

	c = cur("()");
	assert_true(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(flags, 0);
	assert_int_equal(n, 0);

	c = cur("\\Answered \\Flagged \\Draft");
	assert_true(imap_cursor_flags_or_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(flags, STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT);
	assert_true(imap_cursor_at_end(&c));
	c = cur("(Junk)");
	assert_true(imap_cursor_flags_or_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(n, 1);
	assert_string_equal(kw[0], "Junk");

	/* Thousands of distinct keywords: one past the bound is kept, the
	 * rest only read (the dedup would be quadratic otherwise). */
	struct strbuf b = STRBUF_INIT;

	strbuf_putc(&b, '(');
	for (unsigned i = 0; i < 8000; i++)
		strbuf_printf(&b, "%sk%u", i > 0 ? " " : "", i);
	strbuf_append_c(&b, " \\Seen)");
	c = cur(strbuf_cstr(&b));
	assert_true(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(n, IMAP_MAX_KEYWORDS + 1);
	assert_int_equal(flags, STORE_FLAG_SEEN);
	assert_true(imap_cursor_at_end(&c));
	strbuf_free(&b);
	c = cur("(a b A a c)");
	assert_true(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(n, 4);	/* A and a differ here; the store folds case */
	assert_true(imap_keywords_has("$Junk Work", STR_LIT("work")));
	assert_false(imap_keywords_has("$Junk Work", STR_LIT("Wor")));
	assert_false(imap_keywords_has("", STR_LIT("")));
	assert_int_equal(imap_keywords_count("$Junk Work"), 2);
	assert_int_equal(imap_keywords_count(""), 0);

	static const char *const bad[] = {
		"(\\Recent)", "(\\Foo)", "(a  b)", "(a", "a", "( a)", "(\\)",
		"(a] b)", "(NIL)", "(\\Seen nil)", "(a Nil b)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		c = cur(bad[i]);
		assert_false(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
		assert_non_null(c.error);
		assert_ptr_equal(c.p, bad[i]);
	}
	c = cur("\\Seen \\Recent");
	assert_false(imap_cursor_flags_or_list(&c, &arena, &flags, &kw, &n));
	/* NIL is no flag name (a client reads it as nil); NILS is one. */
	c = cur("\\Seen NIL");
	assert_false(imap_cursor_flags_or_list(&c, &arena, &flags, &kw, &n));
	c = cur("(NILS nil2)");
	assert_true(imap_cursor_flag_list(&c, &arena, &flags, &kw, &n));
	assert_int_equal(n, 2);
	assert_string_equal(kw[0], "NILS");
}

static void test_dates(void **state)
{
	struct imap_cursor c;
	int64_t t;
	int zone;

	(void)state;
	c = cur("1-Feb-2024 x");
	assert_true(imap_cursor_date(&c, &t));
	assert_int_equal(t, 1706745600);
	assert_int_equal(imap_cursor_peek(&c), ' ');
	c = cur("1-Feb-2024");
	assert_true(imap_cursor_date(&c, &t));
	assert_int_equal(t, 1706745600);
	assert_true(imap_cursor_at_end(&c));
	c = cur("\"29-feb-2024\"");
	assert_true(imap_cursor_date(&c, &t));
	assert_int_equal(t, 1709164800);
	assert_true(imap_cursor_at_end(&c));
	static const char *const bad[] = {
		"29-Feb-2023", "1-Foo-2024", "1-Feb-24", "\"1-Feb-2024",
		"123-Feb-2024", "0-Jan-2024", "", "32-Jan-2024",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		c = cur(bad[i]);
		assert_false(imap_cursor_date(&c, &t));
		assert_ptr_equal(c.p, bad[i]);
	}

	c = cur("\"01-Feb-2024 10:20:30 +0130\"");
	assert_true(imap_cursor_date_time(&c, &t, &zone));
	assert_int_equal(t, 1706745600 + 10 * 3600 + 20 * 60 + 30 - 90 * 60);
	assert_int_equal(zone, 90);
	assert_true(imap_cursor_at_end(&c));
	c = cur("\" 1-Feb-2024 00:00:00 -0800\"");
	assert_true(imap_cursor_date_time(&c, &t, &zone));
	assert_int_equal(t, 1706745600 + 8 * 3600);
	assert_int_equal(zone, -480);
	static const char *const bad_dt[] = {
		"\"1-Feb-2024 10:20:30 +0130\"", "\"01-Feb-2024 24:00:00 +0000\"",
		"\"01-Feb-2024 10:20:30 0130\"", "\"01-Feb-2024 10:20:30 +0160\"",
		"\"01-Feb-2024 10:20:30 +0130", "01-Feb-2024 10:20:30 +0130",
		"\"01-Feb-2024 1:20:30 +01300\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_dt); i++) {
		c = cur(bad_dt[i]);
		assert_false(imap_cursor_date_time(&c, &t, &zone));
		assert_ptr_equal(c.p, bad_dt[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atoms_and_words),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_seqset_normalised),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
