/* Unit tests for the LIST pattern matcher: the RFC 3501 semantics of '*'
 * and '%', agreement with the old backtracking matcher on every short
 * pattern over a small alphabet, and adversarial patterns (thousands of
 * wildcards, alternating "*%", long names) that backtracking could not
 * finish. */
#include "unit.h"

#include "proto/imap/imap_pattern.h"

#include <string.h>

/* The matcher LIST used before (exponential on runs of wildcards): the
 * oracle for short inputs. */
static bool backtrack(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			bool any = *pat == '*';

			for (const char *n = name;; n++) {
				if (backtrack(pat + 1, n))
					return true;
				if (*n == '\0' || (!any && *n == '/'))
					return false;
			}
		}
		if (*name == '\0' || *pat != *name)
			return false;
	}
	return *name == '\0';
}

static bool match(const char *pat, const char *name)
{
	struct arena a;
	struct imap_pattern *p;
	bool ret;

	arena_init(&a, 0);
	p = imap_pattern_compile(&a, str_c(pat));
	assert_non_null(p);
	ret = imap_pattern_match(p, str_c(name));
	arena_deinit(&a);
	return ret;
}

static void test_semantics(void **state UNUSED)
{
	static const struct {
		const char *pat, *name;
		bool want;
	} cases[] = {
		{ "INBOX", "INBOX", true },
		{ "INBOX", "INBOX/x", false },
		{ "INBOX", "INBO", false },
		{ "", "", true },
		{ "", "a", false },
		{ "*", "", true },
		{ "*", "a/b/c", true },
		{ "%", "", true },
		{ "%", "abc", true },
		{ "%", "a/b", false },
		{ "%/%", "a/b", true },
		{ "%/%", "a/b/c", false },
		{ "a/%", "a/b", true },
		{ "a/%", "a/", true },
		{ "a/%", "a/b/c", false },
		{ "a/*", "a/b/c", true },
		{ "a*", "a/b/c", true },
		{ "a%", "a/b", false },
		{ "*c", "a/b/c", true },
		{ "%c", "a/b/c", false },
		{ "%%%c", "abc", true },
		{ "%*%", "a/b", true },
		{ "*%", "a/b", true },
		{ "%*", "a/b", true },
		{ "a%b*c%d", "aXb/Y/cZd", true },
		{ "a%b*c%d", "a/b/cZd", false },
		{ "a%b*c%d", "aXb/Y/c/d", false },
		{ "******x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
		{ "******x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaax", true },
		{ "inbox", "INBOX", false },	/* case: pattern_inbox's job */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (match(cases[i].pat, cases[i].name) != cases[i].want)
			fail_msg("\"%s\" against \"%s\": want %d", cases[i].pat,
				 cases[i].name, cases[i].want);
		assert_int_equal(backtrack(cases[i].pat, cases[i].name),
				 cases[i].want);
	}
}

/* Every pattern of up to 6 bytes from "a", "/", "*" and "%" against
 * every name of up to 6 bytes from "a", "/" and "b": the same answer as
 * the backtracking matcher. */
static void fill(char *buf, size_t len, unsigned code, const char *alpha,
		 unsigned base)
{
	for (size_t i = 0; i < len; i++) {
		buf[i] = alpha[code % base];
		code /= base;
	}
	buf[len] = '\0';
}

static void test_exhaustive(void **state UNUSED)
{
	char pat[8], name[8];
	struct arena a;
	size_t checked = 0;

	arena_init(&a, 0);
	for (size_t pl = 0; pl <= 6; pl++) {
		unsigned pn = 1;

		for (size_t i = 0; i < pl; i++)
			pn *= 4;
		for (unsigned pc = 0; pc < pn; pc++) {
			struct imap_pattern *p;

			fill(pat, pl, pc, "a/*%", 4);
			arena_clear(&a);
			p = imap_pattern_compile(&a, str_c(pat));
			assert_non_null(p);
			for (size_t nl = 0; nl <= 6; nl++) {
				unsigned nn = 1;

				for (size_t i = 0; i < nl; i++)
					nn *= 3;
				for (unsigned nc = 0; nc < nn; nc++) {
					fill(name, nl, nc, "a/b", 3);
					if (imap_pattern_match(p, str_c(name)) !=
					    backtrack(pat, name))
						fail_msg("\"%s\" against \"%s\"",
							 pat, name);
					checked++;
				}
			}
		}
	}
	assert_true(checked > 1000000);
	arena_deinit(&a);
}

static char *repeat(struct arena *a, const char *unit, size_t times,
		    const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail);
	char *s = arena_alloc(a, u * times + t + 1);

	for (size_t i = 0; i < times; i++)
		memcpy(s + i * u, unit, u);
	memcpy(s + u * times, tail, t + 1);
	return s;
}

static void test_adversarial(void **state UNUSED)
{
	struct arena a;
	struct imap_pattern *p;
	char *name;

	arena_init(&a, 0);
	/* 3000 stars and an 'a': over the bound. */
	assert_null(imap_pattern_compile(&a, str_c(repeat(&a, "*", 3000, "a"))));
	assert_null(imap_pattern_compile(&a, str_c(repeat(&a, "x", IMAP_PATTERN_MAX + 1, ""))));
	assert_non_null(imap_pattern_compile(&a, str_c(repeat(&a, "x", IMAP_PATTERN_MAX, ""))));

	/* Stars up to the bound collapse into one. */
	p = imap_pattern_compile(&a, str_c(repeat(&a, "*", IMAP_PATTERN_MAX - 1, "a")));
	assert_non_null(p);
	assert_int_equal(imap_pattern_cost(p), 1);
	name = repeat(&a, "b", 100000, "");
	assert_false(imap_pattern_match(p, str_c(name)));
	name = repeat(&a, "b/", 50000, "a");
	assert_true(imap_pattern_match(p, str_c(name)));

	/* "******x" against 100 characters: what took seconds before. */
	p = imap_pattern_compile(&a, STR_LIT("******x"));
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a", 100, ""))));

	/* Alternating "*%" collapses to '*' too. */
	p = imap_pattern_compile(&a, str_c(repeat(&a, "*%", 511, "x")));
	assert_int_equal(imap_pattern_cost(p), 1);
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a/", 5000, ""))));
	assert_true(imap_pattern_match(p, str_c(repeat(&a, "a/", 5000, "x"))));

	/* No collapse possible: "%a" 512 times, every state alive. */
	p = imap_pattern_compile(&a, str_c(repeat(&a, "%a", 512, "")));
	assert_non_null(p);
	assert_int_equal(imap_pattern_cost(p), (1024 + 1 + 63) / 64);
	assert_true(imap_pattern_match(p, str_c(repeat(&a, "a", 20000, ""))));
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a", 20000, "/"))));
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a", 511, ""))));
	assert_true(imap_pattern_match(p, str_c(repeat(&a, "a", 512, ""))));

	/* '%' never crosses '/', whatever sits around it. */
	p = imap_pattern_compile(&a, str_c(repeat(&a, "a*", 300, "%b")));
	assert_true(imap_pattern_match(p, str_c(repeat(&a, "a/", 300, "b"))));
	assert_true(imap_pattern_match(p, str_c(repeat(&a, "a/", 300, "xxb"))));
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a/", 300, "x/b/x"))));
	assert_false(imap_pattern_match(p, str_c(repeat(&a, "a/", 299, "b"))));

	/* Any byte is a literal, NUL and bytes above 0x7f too. */
	p = imap_pattern_compile(&a, str_make("a\0%\xff", 4));
	assert_true(imap_pattern_match(p, str_make("a\0xy\xff", 5)));
	assert_false(imap_pattern_match(p, str_make("a\0x/\xff", 5)));
	arena_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_exhaustive),
		cmocka_unit_test(test_adversarial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
