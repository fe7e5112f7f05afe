/* Unit tests for mail/psl: publicsuffix.org's checkPublicSuffix() cases
 * against Debian's list, the algorithm (wildcards, exceptions, the implicit
 * "*" rule) on a small inline list, A-labels, and RFC 7489's org domain. */
#include "unit.h"

#include "mail/psl.h"

#include <errno.h>
#include <unistd.h>

struct tcase {
	const char *domain;
	const char *registrable;	/* NULL: no registrable domain */
};

/* publicsuffix.org/list/test.txt (checkPublicSuffix), the null-input case
 * dropped and the commented-out ".local" cases left out as they are there. */
static const struct tcase official[] = {
	/* mixed case */
	{ "COM", NULL },
	{ "example.COM", "example.com" },
	{ "WwW.example.COM", "example.com" },
	/* leading dot */
	{ ".com", NULL },
	{ ".example", NULL },
	{ ".example.com", NULL },
	{ ".example.example", NULL },
	/* unlisted TLD */
	{ "example", NULL },
	{ "example.example", "example.example" },
	{ "b.example.example", "example.example" },
	{ "a.b.example.example", "example.example" },
	/* TLD with only one rule */
	{ "biz", NULL },
	{ "domain.biz", "domain.biz" },
	{ "b.domain.biz", "domain.biz" },
	{ "a.b.domain.biz", "domain.biz" },
	/* TLD with some two-level rules */
	{ "com", NULL },
	{ "example.com", "example.com" },
	{ "b.example.com", "example.com" },
	{ "a.b.example.com", "example.com" },
	{ "uk.com", NULL },
	{ "example.uk.com", "example.uk.com" },
	{ "b.example.uk.com", "example.uk.com" },
	{ "a.b.example.uk.com", "example.uk.com" },
	{ "test.ac", "test.ac" },
	/* TLD with only one (wildcard) rule */
	{ "mm", NULL },
	{ "c.mm", NULL },
	{ "b.c.mm", "b.c.mm" },
	{ "a.b.c.mm", "b.c.mm" },
	/* more complex TLD */
	{ "jp", NULL },
	{ "test.jp", "test.jp" },
	{ "www.test.jp", "test.jp" },
	{ "ac.jp", NULL },
	{ "test.ac.jp", "test.ac.jp" },
	{ "www.test.ac.jp", "test.ac.jp" },
	{ "kyoto.jp", NULL },
	{ "test.kyoto.jp", "test.kyoto.jp" },
	{ "ide.kyoto.jp", NULL },
	{ "b.ide.kyoto.jp", "b.ide.kyoto.jp" },
	{ "a.b.ide.kyoto.jp", "b.ide.kyoto.jp" },
	{ "c.kobe.jp", NULL },
	{ "b.c.kobe.jp", "b.c.kobe.jp" },
	{ "a.b.c.kobe.jp", "b.c.kobe.jp" },
	{ "city.kobe.jp", "city.kobe.jp" },
	{ "www.city.kobe.jp", "city.kobe.jp" },
	/* TLD with a wildcard rule and exceptions */
	{ "ck", NULL },
	{ "test.ck", NULL },
	{ "b.test.ck", "b.test.ck" },
	{ "a.b.test.ck", "b.test.ck" },
	{ "www.ck", "www.ck" },
	{ "www.www.ck", "www.ck" },
	/* US K12 */
	{ "us", NULL },
	{ "test.us", "test.us" },
	{ "www.test.us", "test.us" },
	{ "ak.us", NULL },
	{ "test.ak.us", "test.ak.us" },
	{ "www.test.ak.us", "test.ak.us" },
	{ "k12.ak.us", NULL },
	{ "test.k12.ak.us", "test.k12.ak.us" },
	{ "www.test.k12.ak.us", "test.k12.ak.us" },
	/* IDN labels */
	{ "食狮.com.cn", "食狮.com.cn" },
	{ "食狮.公司.cn", "食狮.公司.cn" },
	{ "www.食狮.公司.cn", "食狮.公司.cn" },
	{ "shishi.公司.cn", "shishi.公司.cn" },
	{ "公司.cn", NULL },
	{ "食狮.中国", "食狮.中国" },
	{ "www.食狮.中国", "食狮.中国" },
	{ "shishi.中国", "shishi.中国" },
	{ "中国", NULL },
	/* the same, punycoded */
	{ "xn--85x722f.com.cn", "xn--85x722f.com.cn" },
	{ "xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn" },
	{ "www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn" },
	{ "shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn" },
	{ "xn--55qx5d.cn", NULL },
	{ "xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s" },
	{ "www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s" },
	{ "shishi.xn--fiqs8s", "shishi.xn--fiqs8s" },
	{ "xn--fiqs8s", NULL },
};

/* Compare case-insensitively: the result is a view of the (mixed-case)
 * input, the expected values are lowercase. */
static void check(const struct psl *psl, const struct tcase *c)
{
	size_t n = strlen(c->domain);
	/* an exact-size copy without a NUL: ASan sees any over-read */
	char *copy = xmalloc(n + 1);
	struct str got;

	memcpy(copy, c->domain, n);
	got = psl_registrable_domain(psl, str_make(copy, n));
	if (c->registrable == NULL) {
		if (got.n != 0)
			fail_msg("%s: want none, got %.*s", c->domain,
				 (int)got.n, got.p);
	} else if (!str_caseeq(got, str_c(c->registrable))) {
		fail_msg("%s: want %s, got %.*s", c->domain, c->registrable,
			 (int)got.n, got.p);
	} else {
		/* a view into the input, not a copy */
		assert_true(got.p >= copy && got.p + got.n == copy + n);
	}
	free(copy);
}

static void test_official_debian(void **state)
{
	const char *error = NULL;
	struct psl *psl = psl_load(PSL_DEFAULT_PATH, &error);

	(void)state;
	if (psl == NULL)
		fail_msg("%s: %s (%s): install the publicsuffix package",
			 PSL_DEFAULT_PATH, error, strerror(errno));
	/* Debian's list has some 9000 rules, ~450 of them in UTF-8 */
	assert_true(psl_rule_count(psl) > 7000);
	for (size_t i = 0; i < ARRAY_SIZE(official); i++)
		check(psl, &official[i]);
	psl_free(&psl);
	assert_null(psl);
}

/* Only the rules the official cases need, in the list's own syntax: so the
 * cases check the algorithm, not the contents of a particular list. */
static const char inline_list[] =
	"// a comment line\n"
	"\n"
	"ac\r\n"
	"com\n"
	"uk.com   trailing words are ignored\n"
	"biz\n"
	"*.mm\n"
	"jp\n"
	"ac.jp\n"
	"kyoto.jp\n"
	"ide.kyoto.jp\n"
	"*.kobe.jp\n"
	"!city.kobe.jp\n"
	"*.ck\n"
	"!www.ck\n"
	"us\n"
	"ak.us\n"
	"k12.ak.us\n"
	"cn\n"
	"com.cn\n"
	"公司.cn\n"
	"\t中国\n";

static void test_official_inline(void **state)
{
	struct psl *psl = psl_parse(STR_LIT(inline_list));

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(official); i++)
		check(psl, &official[i]);
	psl_free(&psl);
}

static void test_public_suffix(void **state)
{
	struct psl *psl = psl_parse(STR_LIT(inline_list));
	struct str s;

	(void)state;
	s = psl_public_suffix(psl, STR_LIT("a.b.c.kobe.jp"));
	assert_true(str_eq(s, STR_LIT("c.kobe.jp")));
	s = psl_public_suffix(psl, STR_LIT("www.city.kobe.jp"));
	assert_true(str_eq(s, STR_LIT("kobe.jp")));
	/* the implicit "*" rule */
	s = psl_public_suffix(psl, STR_LIT("mail.example.invalid"));
	assert_true(str_eq(s, STR_LIT("invalid")));
	s = psl_public_suffix(psl, STR_LIT("x.Example.UK.com"));
	assert_true(str_eq(s, STR_LIT("UK.com")));
	/* one trailing dot is the root, not a label */
	s = psl_public_suffix(psl, STR_LIT("a.example.com."));
	assert_true(str_eq(s, STR_LIT("com")));
	assert_int_equal(psl_public_suffix(psl, STR_LIT("a..com")).n, 0);
	assert_int_equal(psl_public_suffix(psl, STR_LIT("a.com..")).n, 0);
	assert_int_equal(psl_public_suffix(psl, STR_LIT(".")).n, 0);
	assert_int_equal(psl_public_suffix(psl, STR_LIT("")).n, 0);
	psl_free(&psl);
}

static void test_org_domain(void **state)
{
	struct psl *psl = psl_parse(STR_LIT(inline_list));
	struct str s;

	(void)state;
	s = psl_org_domain(psl, STR_LIT("mail.sub.Example.com"));
	assert_true(str_eq(s, STR_LIT("Example.com")));
	s = psl_org_domain(psl, STR_LIT("example.com."));
	assert_true(str_eq(s, STR_LIT("example.com")));
	/* a bare public suffix is its own organisational domain */
	s = psl_org_domain(psl, STR_LIT("uk.com"));
	assert_true(str_eq(s, STR_LIT("uk.com")));
	s = psl_org_domain(psl, STR_LIT("com."));
	assert_true(str_eq(s, STR_LIT("com")));
	assert_int_equal(psl_org_domain(psl, STR_LIT(".com")).n, 0);
	assert_int_equal(psl_org_domain(psl, STR_LIT("a..b")).n, 0);
	psl_free(&psl);
}

/* Rules that are not rules are skipped; an empty list still works with
 * the implicit "*" rule. */
static void test_bad_rules(void **state)
{
	static const char list[] =
		"..com\n"
		"a.*.b\n"
		"!\n"
		"*.\n"
		"*\n"
		".lead\n"
		"trail.\n"
		"ok.example\n";
	struct psl *psl = psl_parse(STR_LIT(list));
	struct str s;

	(void)state;
	assert_int_equal(psl_rule_count(psl), 1);
	s = psl_registrable_domain(psl, STR_LIT("x.y.ok.example"));
	assert_true(str_eq(s, STR_LIT("y.ok.example")));
	psl_free(&psl);

	psl = psl_parse(STR_LIT(""));
	assert_int_equal(psl_rule_count(psl), 0);
	s = psl_registrable_domain(psl, STR_LIT("a.b.c"));
	assert_true(str_eq(s, STR_LIT("b.c")));
	psl_free(&psl);
}

/* RFC 3492 7.1's samples, one label each, through rules in UTF-8. */
static void test_alabels(void **state)
{
	static const struct {
		const char *u, *a;
	} samples[] = {
		{ "bücher", "xn--bcher-kva" },
		{ "münchen", "xn--mnchen-3ya" },
		{ "中国", "xn--fiqs8s" },
		{ "公司", "xn--55qx5d" },
		{ "ليهمابتكلموشعربي؟", "xn--egbpdaj6bu4bxfgehfvwxn" },
		{ "3年b組金八先生", "xn--3b-ww4c5e180e575a65lsy2b" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		char list[256], dom[256];
		struct psl *psl;
		struct str s;

		snprintf(list, sizeof(list), "%s\n", samples[i].u);
		psl = psl_parse(str_c(list));
		assert_int_equal(psl_rule_count(psl), 2);
		snprintf(dom, sizeof(dom), "x.y.%s", samples[i].a);
		s = psl_public_suffix(psl, str_c(dom));
		if (!str_eq(s, str_c(samples[i].a)))
			fail_msg("%s: want %s, got %.*s", samples[i].u,
				 samples[i].a, (int)s.n, s.p);
		psl_free(&psl);
	}
}

static void test_load_errors(void **state)
{
	const char *error = NULL;
	char path[] = "/tmp/test_psl_XXXXXX";
	int fd;

	(void)state;
	assert_null(psl_load("/nonexistent/psl.dat", &error));
	assert_non_null(error);
	/* a file with no rule is refused, not taken for "every TLD" */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "// nothing\n", 11), 11);
	close(fd);
	error = NULL;
	assert_null(psl_load(path, &error));
	assert_non_null(error);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_debian),
		cmocka_unit_test(test_official_inline),
		cmocka_unit_test(test_public_suffix),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_alabels),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
