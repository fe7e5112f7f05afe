/* Unit tests for mail/dmarc: the record (every tag, defaults, the rules
 * that decide whether DMARC applies), the From domain, discovery order,
 * alignment, evaluation with pct drawn from a fake source, disposition. */
#include "unit.h"

#include "mail/dmarc.h"

static const char psl_text[] =
	"com\nuk\nco.uk\n*.ck\n!www.ck\n";
static struct psl *psl;

static int setup(void **state)
{
	(void)state;
	psl = psl_parse(STR_LIT(psl_text));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	psl_free(&psl);
	return 0;
}

/* Parse an exact-size copy (no NUL after it: ASan sees an over-read);
 * the copy stays allocated for the views of *rec. */
static enum dmarc_parse parse(const char *txt, struct dmarc_record *rec)
{
	static char *copies[64];
	static size_t next;
	size_t n = strlen(txt);
	char *copy = xmalloc(n + 1);

	memcpy(copy, txt, n);
	free(copies[next % ARRAY_SIZE(copies)]);
	copies[next++ % ARRAY_SIZE(copies)] = copy;
	return dmarc_record_parse(str_make(copy, n), rec);
}

static void test_record_minimal(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject", &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_REJECT);	/* sp defaults to p */
	assert_false(r.p_invalid);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
	assert_true(str_eq(r.fo, STR_LIT("0")));
	assert_true(str_eq(r.rf, STR_LIT("afrf")));
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.rua_count, 0);
	assert_int_equal(r.ruf_count, 0);
	/* white space around tags, '=' and a final ';'; values any case */
	assert_int_equal(parse("v = DMARC1 ;\tp = Quarantine ; ", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	assert_int_equal(parse("v=DMARC1;p=NONE", &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
}

static void test_record_all_tags(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=none; sp=reject; pct=20; "
			       "adkim=s; aspf=s; fo=1:d; rf=afrf; ri=3600; "
			       "rua=mailto:agg@example.com!10m, "
			       "mailto:other@example.net; "
			       "ruf=mailto:forensic@example.com!512", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_REJECT);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
	assert_int_equal(r.aspf, DMARC_ALIGN_STRICT);
	assert_true(str_eq(r.fo, STR_LIT("1:d")));
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.rua_count, 2);
	assert_true(str_eq(r.rua[0].uri, STR_LIT("mailto:agg@example.com")));
	assert_int_equal(r.rua[0].max_size, 10ULL << 20);
	assert_true(str_eq(r.rua[1].uri,
			   STR_LIT("mailto:other@example.net")));
	assert_int_equal(r.rua[1].max_size, 0);
	assert_int_equal(r.ruf_count, 1);
	assert_int_equal(r.ruf[0].max_size, 512);
}

/* Records that are not DMARC records at all, and are dropped from the
 * RRset before counting (RFC 7489 6.6.3 step 4). */
static void test_record_not_dmarc(void **state)
{
	static const char *const cases[] = {
		"",
		"v=spf1 -all",
		"p=reject; v=DMARC1",
		"v=DMARC2; p=reject",
		"v=dmarc1; p=reject",	/* the value is case-sensitive */
		"v=DMARC1x; p=reject",
		"v DMARC1; p=reject",
		"; v=DMARC1; p=reject",
		"v=; p=reject",
	};
	struct dmarc_record r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (parse(cases[i], &r) != DMARC_PARSE_NOT_DMARC)
			fail_msg("\"%s\" taken for DMARC", cases[i]);
	/* the bare version tag is a record (without a policy) */
	assert_int_equal(parse("v=DMARC1", &r), DMARC_PARSE_INVALID);
}

/* RFC 7489 6.6.3 step 6: no valid p (or a bad sp) is p=none when rua is
 * valid, else no DMARC processing. */
static void test_record_bad_policy(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=block", &r), DMARC_PARSE_INVALID);
	assert_int_equal(parse("v=DMARC1; p=", &r), DMARC_PARSE_INVALID);
	assert_int_equal(parse("v=DMARC1; sp=reject", &r),
			 DMARC_PARSE_INVALID);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=maybe", &r),
			 DMARC_PARSE_INVALID);
	assert_int_equal(parse("v=DMARC1; p=block; rua=mailto:a@example.com",
			       &r), DMARC_PARSE_OK);
	assert_true(r.p_invalid);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_NONE);
	assert_int_equal(r.rua_count, 1);
	assert_int_equal(parse("v=DMARC1; rua=mailto:a@example.com", &r),
			 DMARC_PARSE_OK);
	assert_true(r.p_invalid);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=x; "
			       "rua=mailto:a@example.com", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	/* an rua without one valid URI does not rescue the record */
	assert_int_equal(parse("v=DMARC1; p=block; rua=not a uri", &r),
			 DMARC_PARSE_INVALID);
}

/* Optional tags with bad values keep their defaults; repeated tags count
 * once; unknown tags and empty ones are ignored. */
static void test_record_lenient(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; pct=101; adkim=x; "
			       "aspf=; fo=2; ri=-1; rf=", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
	assert_true(str_eq(r.fo, STR_LIT("0")));
	assert_int_equal(r.ri, 86400);
	assert_true(str_eq(r.rf, STR_LIT("afrf")));
	assert_int_equal(parse("v=DMARC1; p=reject; pct=0", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.pct, 0);
	assert_int_equal(parse("v=DMARC1; p=reject; pct=5x", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.pct, 100);
	assert_int_equal(parse("v=DMARC1; p=reject; fo=0:", &r),
			 DMARC_PARSE_OK);
	assert_true(str_eq(r.fo, STR_LIT("0")));
	/* the first copy of a tag counts */
	assert_int_equal(parse("v=DMARC1; p=none; p=reject; pct=10; pct=90",
			       &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.pct, 10);
	assert_int_equal(parse("v=DMARC1;;; np=reject; t=y; psd=n; x; "
			       "=y; p=quarantine", &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
}

static void test_record_uris(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=none; rua=mailto:a@x.com!1k,"
			       "mailto:b@x.com!2M , mailto:c@x.com!3g,"
			       "https://x.com/r!4t, nouri, :x, 1a:b, "
			       "mailto:d@x.com!, mailto:e@x.com!k, "
			       "mailto:f@x.com!9", &r), DMARC_PARSE_OK);
	/* capped at DMARC_MAX_URIS, bad ones skipped */
	assert_int_equal(r.rua_count, DMARC_MAX_URIS);
	assert_int_equal(r.rua[0].max_size, 1024);
	assert_true(str_eq(r.rua[1].uri, STR_LIT("mailto:b@x.com")));
	assert_int_equal(r.rua[1].max_size, 2ULL << 20);
	assert_int_equal(r.rua[2].max_size, 3ULL << 30);
	assert_true(str_eq(r.rua[3].uri, STR_LIT("https://x.com/r")));
	assert_int_equal(r.rua[3].max_size, 4ULL << 40);
	assert_int_equal(parse("v=DMARC1; p=none; rua=nouri, mailto:d@x.com!,"
			       " mailto:f@x.com!9 ; ruf=mailto:g@x.com", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.rua_count, 1);
	assert_true(str_eq(r.rua[0].uri, STR_LIT("mailto:f@x.com")));
	assert_int_equal(r.rua[0].max_size, 9);
	assert_int_equal(r.ruf_count, 1);
	/* a size past 64 bits does not wrap into a small limit */
	assert_int_equal(parse("v=DMARC1; p=none; "
			       "rua=mailto:a@x.com!99999999999999999999t", &r),
			 DMARC_PARSE_OK);
	assert_int_equal(r.rua_count, 0);
}

struct from_case {
	const char *header;
	enum dmarc_from kind;
	const char *domain;
};

static const struct from_case from_cases[] = {
	{ "From: a@example.com\r\n\r\n", DMARC_FROM_ONE, "example.com" },
	{ "From: Alice <alice@Mail.Example.COM>\r\n", DMARC_FROM_ONE,
	  "mail.example.com" },
	{ "Subject: x\nfrom:   \"A, B\" <a@example.com> (comment)\n\nbody\n",
	  DMARC_FROM_ONE, "example.com" },
	{ "FROM: =?utf-8?q?A?= <a@example.com>\r\n", DMARC_FROM_ONE,
	  "example.com" },
	/* folded */
	{ "From: Alice\r\n <a@example.com>\r\n\r\n", DMARC_FROM_ONE,
	  "example.com" },
	/* a quoted '@' in the name or the local part is not the domain */
	{ "From: \"ceo@bank.com\" <x@evil.example>\r\n", DMARC_FROM_ONE,
	  "evil.example" },
	{ "From: \"a@bank.com\"@evil.example\r\n", DMARC_FROM_ONE,
	  "evil.example" },
	{ "From: a@(comment)example.com\r\n", DMARC_FROM_ONE, "example.com" },
	{ "From: <@route.example:a@example.com>\r\n", DMARC_FROM_ONE,
	  "example.com" },
	{ "From: a@xn--bcher-kva.example\r\n", DMARC_FROM_ONE,
	  "xn--bcher-kva.example" },
	{ "From: a@bücher.example\r\n", DMARC_FROM_ONE, "bücher.example" },
	/* several addresses or fields with one domain: evaluated once */
	{ "From: a@example.com, B <b@EXAMPLE.com>\r\n", DMARC_FROM_ONE,
	  "example.com" },
	{ "From: a@example.com\r\nFrom: b@example.com\r\n", DMARC_FROM_ONE,
	  "example.com" },
	/* none */
	{ "Subject: x\r\n\r\n", DMARC_FROM_NONE, NULL },
	{ "", DMARC_FROM_NONE, NULL },
	{ "Subject: x\r\n\r\nFrom: a@example.com\r\n", DMARC_FROM_NONE, NULL },
	{ "X-From: a@example.com\r\nResent-From: a@example.com\r\n",
	  DMARC_FROM_NONE, NULL },
	/* different domains: the bypass where the reader sees one */
	{ "From: a@bank.example\r\nFrom: b@evil.example\r\n",
	  DMARC_FROM_CONFLICT, NULL },
	{ "From: a@bank.example, b@evil.example\r\n", DMARC_FROM_CONFLICT,
	  NULL },
	{ "From: a@example.com\r\nFrom: junk\r\nFrom: b@evil.example\r\n",
	  DMARC_FROM_CONFLICT, NULL },
	/* no usable domain */
	{ "From:\r\n", DMARC_FROM_BAD, NULL },
	{ "From: alice\r\n", DMARC_FROM_BAD, NULL },
	{ "From: Alice <alice>\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@[192.0.2.1]\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@b@example.com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example.com b@evil.example\r\n", DMARC_FROM_BAD, NULL },
	{ "From: <a@example.com> x\r\n", DMARC_FROM_BAD, NULL },
	{ "From: <a@example.com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example.com>\r\n", DMARC_FROM_BAD, NULL },
	{ "From: <<a@example.com>>\r\n", DMARC_FROM_BAD, NULL },
	{ "From: friends: a@example.com;\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example..com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@.example.com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example.com.\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@exa\\mple.com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example.com,\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@exa\x01mple.com\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@\r\n", DMARC_FROM_BAD, NULL },
	{ "From: a@example.com\r\nFrom: junk\r\n", DMARC_FROM_BAD, NULL },
};

static void test_from(void **state)
{
	struct strbuf d = STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(from_cases); i++) {
		const struct from_case *c = &from_cases[i];
		size_t n = strlen(c->header);
		char *copy = xmalloc(n + 1);
		enum dmarc_from k;

		memcpy(copy, c->header, n);
		k = dmarc_from_domain(str_make(copy, n), &d);
		if (k != c->kind)
			fail_msg("case %zu \"%s\": kind %d, want %d", i,
				 c->header, k, c->kind);
		if (c->domain != NULL &&
		    !str_eq(strbuf_str(&d), str_c(c->domain)))
			fail_msg("case %zu: domain \"%s\", want \"%s\"", i,
				 strbuf_cstr(&d), c->domain);
		if (c->domain == NULL)
			assert_int_equal(d.n, 0);
		free(copy);
	}
	strbuf_free(&d);
}

static void test_lookup_names(void **state)
{
	struct arena a;
	struct str names[2];

	(void)state;
	arena_init(&a, 0);
	assert_int_equal(dmarc_lookup_names(&a, psl,
					    STR_LIT("mail.example.co.uk"),
					    names), 2);
	assert_true(str_eq(names[0], STR_LIT("_dmarc.mail.example.co.uk")));
	assert_true(str_eq(names[1], STR_LIT("_dmarc.example.co.uk")));
	assert_int_equal(dmarc_lookup_names(&a, psl, STR_LIT("example.com."),
					    names), 1);
	assert_true(str_eq(names[0], STR_LIT("_dmarc.example.com")));
	/* a bare public suffix is its own organisational domain */
	assert_int_equal(dmarc_lookup_names(&a, psl, STR_LIT("co.uk"),
					    names), 1);
	assert_int_equal(dmarc_lookup_names(&a, psl, STR_LIT(""), names), 0);
	assert_int_equal(dmarc_lookup_names(&a, psl, STR_LIT("a..b"), names),
			 0);
	arena_deinit(&a);
}

static void test_discover(void **state)
{
	const struct str one[] = { STR_LIT("v=DMARC1; p=reject") };
	const struct str mixed[] = {
		STR_LIT("v=spf1 -all"), STR_LIT("google-site-verification=x"),
		STR_LIT("v=DMARC1; p=quarantine"),
	};
	const struct str two[] = {
		STR_LIT("v=DMARC1; p=reject"), STR_LIT("v=DMARC1; p=none"),
	};
	const struct str other[] = { STR_LIT("v=spf1 -all") };
	const struct str invalid[] = { STR_LIT("v=DMARC1; p=bogus") };
	struct dmarc_found f;

	(void)state;
	/* at the From domain: done */
	assert_true(dmarc_discover(&f, 0, 2, DMARC_DNS_ANSWER, one, 1));
	assert_int_equal(f.kind, DMARC_FOUND_RECORD);
	assert_false(f.at_org);
	assert_int_equal(f.rec.p, DMARC_POLICY_REJECT);
	/* other TXT records are ignored */
	assert_true(dmarc_discover(&f, 0, 1, DMARC_DNS_ANSWER, mixed, 3));
	assert_int_equal(f.kind, DMARC_FOUND_RECORD);
	assert_int_equal(f.rec.p, DMARC_POLICY_QUARANTINE);
	/* nothing at the From domain: on to the org domain */
	assert_false(dmarc_discover(&f, 0, 2, DMARC_DNS_NONE, NULL, 0));
	assert_false(dmarc_discover(&f, 0, 2, DMARC_DNS_ANSWER, other, 1));
	assert_true(dmarc_discover(&f, 1, 2, DMARC_DNS_ANSWER, one, 1));
	assert_int_equal(f.kind, DMARC_FOUND_RECORD);
	assert_true(f.at_org);
	assert_true(dmarc_discover(&f, 1, 2, DMARC_DNS_NONE, NULL, 0));
	assert_int_equal(f.kind, DMARC_FOUND_NOTHING);
	/* no org domain to try */
	assert_true(dmarc_discover(&f, 0, 1, DMARC_DNS_NONE, NULL, 0));
	assert_int_equal(f.kind, DMARC_FOUND_NOTHING);
	/* several records: discovery ends, at either step */
	assert_true(dmarc_discover(&f, 0, 2, DMARC_DNS_ANSWER, two, 2));
	assert_int_equal(f.kind, DMARC_FOUND_PERMERROR);
	assert_true(dmarc_discover(&f, 1, 2, DMARC_DNS_ANSWER, two, 2));
	assert_int_equal(f.kind, DMARC_FOUND_PERMERROR);
	/* a record without a usable policy: no fallback to the org domain */
	assert_true(dmarc_discover(&f, 0, 2, DMARC_DNS_ANSWER, invalid, 1));
	assert_int_equal(f.kind, DMARC_FOUND_PERMERROR);
	/* a DNS failure ends it: the policy cannot be known */
	assert_true(dmarc_discover(&f, 0, 2, DMARC_DNS_TEMPERROR, NULL, 0));
	assert_int_equal(f.kind, DMARC_FOUND_TEMPERROR);
	assert_true(dmarc_discover(&f, 1, 2, DMARC_DNS_TEMPERROR, NULL, 0));
	assert_int_equal(f.kind, DMARC_FOUND_TEMPERROR);
}

static void test_aligned(void **state)
{
	(void)state;
	assert_true(dmarc_aligned(psl, DMARC_ALIGN_STRICT,
				  STR_LIT("Example.com"),
				  STR_LIT("example.COM.")));
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_STRICT,
				   STR_LIT("mail.example.com"),
				   STR_LIT("example.com")));
	assert_true(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				  STR_LIT("mail.example.com"),
				  STR_LIT("example.com")));
	assert_true(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				  STR_LIT("a.example.co.uk"),
				  STR_LIT("b.example.co.uk")));
	/* the public suffix is not an organisation */
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				   STR_LIT("example.co.uk"),
				   STR_LIT("other.co.uk")));
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				   STR_LIT("a.b.ck"), STR_LIT("c.b.ck")));
	assert_true(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				  STR_LIT("a.www.ck"), STR_LIT("www.ck")));
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_RELAXED,
				   STR_LIT("example.com.evil.net"),
				   STR_LIT("example.com")));
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_RELAXED, STR_LIT(""),
				   STR_LIT("")));
	assert_false(dmarc_aligned(psl, DMARC_ALIGN_STRICT, STR_LIT("."),
				   STR_LIT("")));
}

/* A fake random source: the next value, recorded calls. */
struct fake_rnd {
	unsigned value;
	unsigned calls;
};

static unsigned fake_draw(void *ctx)
{
	struct fake_rnd *f = ctx;

	f->calls++;
	return f->value;
}

static void found_record(struct dmarc_found *f, const char *txt, bool at_org)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(parse(txt, &f->rec), DMARC_PARSE_OK);
	f->kind = DMARC_FOUND_RECORD;
	f->at_org = at_org;
}

static void test_evaluate(void **state)
{
	struct dmarc_dkim dkim[2] = {
		{ DMARC_AUTH_FAIL, STR_LIT("example.com"), STR_LIT("s1") },
		{ DMARC_AUTH_PASS, STR_LIT("mail.example.com"), STR_LIT("s2") },
	};
	struct dmarc_input in = {
		.from_domain = STR_LIT("example.com"),
		.from_kind = DMARC_FROM_ONE,
		.spf = DMARC_AUTH_PASS,
		.spf_domain = STR_LIT("bounce.example.com"),
	};
	struct fake_rnd rnd = { 0, 0 };
	struct dmarc_found f;
	struct dmarc_eval e;

	(void)state;
	/* relaxed SPF alignment: a subdomain of the org domain */
	found_record(&f, "v=DMARC1; p=reject", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_PASS);
	assert_true(e.spf_aligned);
	assert_false(e.dkim_aligned);
	assert_int_equal(e.policy, DMARC_POLICY_REJECT);
	/* strict SPF: no longer aligned; fail */
	found_record(&f, "v=DMARC1; p=reject; aspf=s", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	assert_int_equal(e.applied, DMARC_POLICY_REJECT);
	/* SPF softfail/neutral never pass */
	in.spf = DMARC_AUTH_SOFTFAIL;
	in.spf_domain = STR_LIT("example.com");
	found_record(&f, "v=DMARC1; p=reject", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	/* a passing, relaxed-aligned signature */
	in.dkim = dkim;
	in.dkim_count = 2;
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_PASS);
	assert_true(e.dkim_aligned);
	assert_true(str_eq(e.dkim_domain, STR_LIT("mail.example.com")));
	/* strict DKIM: the passing d= is a subdomain: fail */
	found_record(&f, "v=DMARC1; p=quarantine; adkim=s", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	assert_int_equal(e.applied, DMARC_POLICY_QUARANTINE);
	/* a passing signature of another organisation does not count */
	dkim[1].domain = STR_LIT("example.net");
	found_record(&f, "v=DMARC1; p=reject", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	/* no random draw at pct=100 */
	assert_int_equal(rnd.calls, 0);
}

static void test_evaluate_subdomain(void **state)
{
	struct dmarc_input in = {
		.from_domain = STR_LIT("news.example.com"),
		.from_kind = DMARC_FROM_ONE,
		.spf = DMARC_AUTH_FAIL,
		.spf_domain = STR_LIT("news.example.com"),
	};
	struct dmarc_found f;
	struct dmarc_eval e;

	(void)state;
	/* found at the org domain: sp applies */
	found_record(&f, "v=DMARC1; p=reject; sp=quarantine", true);
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	assert_int_equal(e.policy, DMARC_POLICY_QUARANTINE);
	/* without sp, p */
	found_record(&f, "v=DMARC1; p=reject", true);
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.policy, DMARC_POLICY_REJECT);
	/* found at the From domain itself: p */
	found_record(&f, "v=DMARC1; p=none; sp=reject", false);
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.policy, DMARC_POLICY_NONE);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
}

static void test_evaluate_errors(void **state)
{
	struct dmarc_dkim dkim[1] = {
		{ DMARC_AUTH_TEMPERROR, STR_LIT("example.com"), STR_LIT("s") },
	};
	struct dmarc_input in = {
		.from_domain = STR_LIT("example.com"),
		.from_kind = DMARC_FROM_ONE,
		.spf = DMARC_AUTH_TEMPERROR,
		.spf_domain = STR_LIT("example.com"),
	};
	struct dmarc_found f;
	struct dmarc_eval e;

	(void)state;
	/* an aligned SPF temperror, nothing passing: temperror, no policy */
	found_record(&f, "v=DMARC1; p=reject", false);
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_TEMPERROR);
	assert_int_equal(e.applied, DMARC_POLICY_NONE);
	/* an unaligned temperror does not save the message */
	in.spf_domain = STR_LIT("other.example");
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_FAIL);
	/* an aligned DKIM temperror does */
	in.dkim = dkim;
	in.dkim_count = 1;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_TEMPERROR);
	/* discovery outcomes */
	f.kind = DMARC_FOUND_NOTHING;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_NONE);
	assert_int_equal(e.policy, DMARC_POLICY_NONE);
	f.kind = DMARC_FOUND_TEMPERROR;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_TEMPERROR);
	f.kind = DMARC_FOUND_PERMERROR;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_PERMERROR);
	/* the From field decides before any record */
	found_record(&f, "v=DMARC1; p=reject", false);
	in.from_kind = DMARC_FROM_NONE;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_PERMERROR);
	assert_false(e.from_conflict);
	in.from_kind = DMARC_FROM_CONFLICT;
	dmarc_evaluate(psl, &in, &f, NULL, NULL, &e);
	assert_int_equal(e.result, DMARC_RESULT_PERMERROR);
	assert_true(e.from_conflict);
}

/* pct: a draw below pct is sampled in; outside the sample the next
 * policy down applies. */
static void test_pct(void **state)
{
	struct dmarc_input in = {
		.from_domain = STR_LIT("example.com"),
		.from_kind = DMARC_FROM_ONE,
		.spf = DMARC_AUTH_FAIL,
		.spf_domain = STR_LIT("example.com"),
	};
	struct fake_rnd rnd = { 0, 0 };
	struct dmarc_found f;
	struct dmarc_eval e;

	(void)state;
	found_record(&f, "v=DMARC1; p=reject; pct=30", false);
	rnd.value = 29;
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_false(e.sampled_out);
	assert_int_equal(e.applied, DMARC_POLICY_REJECT);
	rnd.value = 30;
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_true(e.sampled_out);
	assert_int_equal(e.policy, DMARC_POLICY_REJECT);
	assert_int_equal(e.applied, DMARC_POLICY_QUARANTINE);
	found_record(&f, "v=DMARC1; p=quarantine; pct=0", false);
	rnd.value = 0;
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_true(e.sampled_out);
	assert_int_equal(e.applied, DMARC_POLICY_NONE);
	assert_int_equal(rnd.calls, 3);
	/* p=none draws nothing */
	found_record(&f, "v=DMARC1; p=none; pct=10", false);
	dmarc_evaluate(psl, &in, &f, fake_draw, &rnd, &e);
	assert_int_equal(rnd.calls, 3);
	/* the default source stays in 0..99 */
	for (int i = 0; i < 1000; i++)
		assert_true(dmarc_random_pct(NULL) < 100);
}

static void test_disposition(void **state)
{
	const struct dmarc_local all = { true, true }, q_only = { false, true },
				 none = { false, false }, r_only = { true, false };
	struct dmarc_eval e;
	enum dmarc_override why;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.result = DMARC_RESULT_FAIL;
	e.policy = e.applied = DMARC_POLICY_REJECT;
	assert_int_equal(dmarc_disposition(&e, &all, &why), DMARC_DISP_REJECT);
	assert_int_equal(why, DMARC_OVERRIDE_NONE);
	assert_int_equal(dmarc_disposition(&e, &q_only, &why),
			 DMARC_DISP_QUARANTINE);
	assert_int_equal(why, DMARC_OVERRIDE_LOCAL_POLICY);
	assert_int_equal(dmarc_disposition(&e, &none, &why), DMARC_DISP_NONE);
	assert_int_equal(why, DMARC_OVERRIDE_LOCAL_POLICY);
	e.applied = DMARC_POLICY_QUARANTINE;
	e.sampled_out = true;
	assert_int_equal(dmarc_disposition(&e, &all, &why),
			 DMARC_DISP_QUARANTINE);
	assert_int_equal(why, DMARC_OVERRIDE_SAMPLED_OUT);
	assert_int_equal(dmarc_disposition(&e, &r_only, &why),
			 DMARC_DISP_NONE);
	assert_int_equal(why, DMARC_OVERRIDE_LOCAL_POLICY);
	e.sampled_out = false;
	e.applied = DMARC_POLICY_NONE;
	assert_int_equal(dmarc_disposition(&e, &all, &why), DMARC_DISP_NONE);
	assert_int_equal(why, DMARC_OVERRIDE_NONE);
	/* only a failure has a disposition */
	e.applied = DMARC_POLICY_REJECT;
	e.result = DMARC_RESULT_PASS;
	assert_int_equal(dmarc_disposition(&e, &all, &why), DMARC_DISP_NONE);
	e.result = DMARC_RESULT_TEMPERROR;
	assert_int_equal(dmarc_disposition(&e, &all, &why), DMARC_DISP_NONE);
	/* conflicting From domains: refused when reject is on */
	memset(&e, 0, sizeof(e));
	e.result = DMARC_RESULT_PERMERROR;
	e.from_conflict = true;
	assert_int_equal(dmarc_disposition(&e, &all, &why), DMARC_DISP_REJECT);
	assert_int_equal(dmarc_disposition(&e, &q_only, &why),
			 DMARC_DISP_NONE);
	assert_string_equal(dmarc_disposition_name(DMARC_DISP_QUARANTINE),
			    "quarantine");
	assert_string_equal(dmarc_override_name(DMARC_OVERRIDE_SAMPLED_OUT),
			    "sampled_out");
	assert_string_equal(dmarc_result_name(DMARC_RESULT_TEMPERROR),
			    "temperror");
	assert_string_equal(dmarc_auth_name(DMARC_AUTH_SOFTFAIL), "softfail");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_minimal),
		cmocka_unit_test(test_record_all_tags),
		cmocka_unit_test(test_record_not_dmarc),
		cmocka_unit_test(test_record_bad_policy),
		cmocka_unit_test(test_record_lenient),
		cmocka_unit_test(test_record_uris),
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_lookup_names),
		cmocka_unit_test(test_discover),
		cmocka_unit_test(test_aligned),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_evaluate_subdomain),
		cmocka_unit_test(test_evaluate_errors),
		cmocka_unit_test(test_pct),
		cmocka_unit_test(test_disposition),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
