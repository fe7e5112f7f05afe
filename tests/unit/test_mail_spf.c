/* Unit tests for mail/spf: check_host() fed DNS answers from a table (the
 * cases follow RFC 7208's examples and the rules of the open SPF test
 * suite, written here), macro expansion (RFC 7208 7.4's examples), record
 * syntax, Authentication-Results formatting (mail/auth_results) and the
 * DNS list site syntax (mail/dnsbl). */
#include "unit.h"

#include "mail/auth_results.h"
#include "mail/dnsbl.h"
#include "mail/spf.h"

/* One DNS answer: type, name, status, items ("" ends). */
struct rr {
	enum spf_qtype type;
	const char *name;
	enum spf_dns_status status;
	const char *items[12];
};

static const struct rr zone[] = {
	/* RFC 7208 appendix A's example.com, with our addresses */
	{ SPF_Q_TXT, "example.com", SPF_DNS_OK, { "v=spf1 +mx a:colo.example.com/28 -all" } },
	{ SPF_Q_MX, "example.com", SPF_DNS_OK, { "mx.example.com", "mx2.example.com" } },
	{ SPF_Q_A, "mx.example.com", SPF_DNS_OK, { "192.0.2.129" } },
	{ SPF_Q_A, "mx2.example.com", SPF_DNS_OK, { "192.0.2.130" } },
	{ SPF_Q_A, "colo.example.com", SPF_DNS_OK, { "192.0.2.200" } },
	{ SPF_Q_AAAA, "mx.example.com", SPF_DNS_NODATA, { NULL } },
	{ SPF_Q_AAAA, "mx2.example.com", SPF_DNS_OK, { "2001:db8::25" } },
	{ SPF_Q_AAAA, "colo.example.com", SPF_DNS_NODATA, { NULL } },
	{ SPF_Q_TXT, "inc.example", SPF_DNS_OK, { "v=spf1 include:example.com ?all" } },
	{ SPF_Q_TXT, "incnone.example", SPF_DNS_OK, { "v=spf1 include:nospf.example -all" } },
	{ SPF_Q_TXT, "nospf.example", SPF_DNS_OK, { "google-site-verification=x" } },
	{ SPF_Q_TXT, "red.example", SPF_DNS_OK, { "v=spf1 redirect=example.com" } },
	{ SPF_Q_TXT, "rednone.example", SPF_DNS_OK, { "v=spf1 redirect=nospf.example" } },
	{ SPF_Q_TXT, "two.example", SPF_DNS_OK, { "v=spf1 -all", "v=spf1 +all" } },
	{ SPF_Q_TXT, "bad.example", SPF_DNS_OK, { "v=spf1 ip4:192.0.2.1 foo:bar -all" } },
	{ SPF_Q_TXT, "badafter.example", SPF_DNS_OK, { "v=spf1 +all ip4:300.1.1.1" } },
	{ SPF_Q_TXT, "tmp.example", SPF_DNS_TEMPFAIL, { NULL } },
	{ SPF_Q_TXT, "atmp.example", SPF_DNS_OK, { "v=spf1 a:down.example -all" } },
	{ SPF_Q_A, "down.example", SPF_DNS_TEMPFAIL, { NULL } },
	{ SPF_Q_TXT, "soft.example", SPF_DNS_OK, { "v=spf1 ~all" } },
	{ SPF_Q_TXT, "neutral.example", SPF_DNS_OK, { "v=spf1 ip4:10.0.0.0/8" } },
	{ SPF_Q_TXT, "ip6.example", SPF_DNS_OK, { "v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 -all" } },
	{ SPF_Q_TXT, "dual.example", SPF_DNS_OK, { "v=spf1 a:mx2.example.com//64 -all" } },
	{ SPF_Q_TXT, "void.example", SPF_DNS_OK, { "v=spf1 a:n1.example a:n2.example a:n3.example +all" } },
	{ SPF_Q_TXT, "void2.example", SPF_DNS_OK, { "v=spf1 a:n1.example a:n2.example +all" } },
	{ SPF_Q_A, "n1.example", SPF_DNS_NXDOMAIN, { NULL } },
	{ SPF_Q_A, "n2.example", SPF_DNS_NODATA, { NULL } },
	{ SPF_Q_A, "n3.example", SPF_DNS_NXDOMAIN, { NULL } },
	{ SPF_Q_TXT, "ten.example", SPF_DNS_OK, { "v=spf1 a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example ip4:192.0.2.1 -all" } },
	{ SPF_Q_TXT, "eleven.example", SPF_DNS_OK, { "v=spf1 a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example a:x.example ip4:192.0.2.1 -all" } },
	{ SPF_Q_A, "x.example", SPF_DNS_OK, { "203.0.113.1" } },
	{ SPF_Q_TXT, "loop.example", SPF_DNS_OK, { "v=spf1 include:loop.example -all" } },
	{ SPF_Q_TXT, "manymx.example", SPF_DNS_OK, { "v=spf1 mx -all" } },
	{ SPF_Q_MX, "manymx.example", SPF_DNS_OK, { "m1.x", "m2.x", "m3.x", "m4.x", "m5.x", "m6.x", "m7.x", "m8.x", "m9.x", "m10.x", "m11.x" } },
	{ SPF_Q_TXT, "ptr.example", SPF_DNS_OK, { "v=spf1 ptr -all" } },
	{ SPF_Q_PTR, "192.0.2.129", SPF_DNS_OK, { "mx.example.com", "host.ptr.example" } },
	{ SPF_Q_A, "host.ptr.example", SPF_DNS_OK, { "192.0.2.129" } },
	{ SPF_Q_TXT, "exists.example", SPF_DNS_OK, { "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all" } },
	{ SPF_Q_A, "129.2.0.192.strong._spf.exists.example", SPF_DNS_OK, { "127.0.0.2" } },
	{ SPF_Q_TXT, "case.example", SPF_DNS_OK, { "V=SpF1 IP4:192.0.2.129 -ALL" } },
	{ SPF_Q_TXT, "spaces.example", SPF_DNS_OK, { "v=spf1   ip4:192.0.2.129   -all  " } },
	{ SPF_Q_TXT, "dupred.example", SPF_DNS_OK, { "v=spf1 redirect=a.example redirect=b.example" } },
	{ SPF_Q_TXT, "unknownmod.example", SPF_DNS_OK, { "v=spf1 moo=%{d} exp=explain.%{d} ip4:192.0.2.129 -all" } },
	{ SPF_Q_TXT, "helo.example", SPF_DNS_OK, { "v=spf1 a -all" } },
	{ SPF_Q_A, "helo.example", SPF_DNS_OK, { "192.0.2.129" } },
	{ SPF_Q_TXT, "mapped.example", SPF_DNS_OK, { "v=spf1 ip4:192.0.2.129 -all" } },
};

struct outcome {
	enum spf_result result;
	const char *reason;
	unsigned lookups;
};

static struct outcome evaluate(const char *ip, const char *sender,
			       const char *domain, const char *helo)
{
	struct spf *spf = spf_new(ip, sender, domain, helo, "mx.receiver.test");
	const struct spf_query *q;
	struct outcome o;
	unsigned asked = 0;

	while (!spf_step(spf, &q)) {
		size_t i, n = 0;

		assert_true(++asked < 100);
		for (i = 0; i < ARRAY_SIZE(zone); i++) {
			if (zone[i].type == q->type &&
			    strcasecmp(zone[i].name, q->name) == 0)
				break;
		}
		if (i == ARRAY_SIZE(zone)) {
			spf_answer(spf, SPF_DNS_NXDOMAIN, NULL, 0);
			continue;
		}
		while (n < ARRAY_SIZE(zone[i].items) && zone[i].items[n] != NULL)
			n++;
		spf_answer(spf, zone[i].status, zone[i].items, n);
	}
	o.result = spf_result(spf, &o.reason);
	o.reason = o.reason != NULL ? xstrdup(o.reason) : NULL;
	o.lookups = spf_lookups(spf);
	spf_free(&spf);
	assert_null(spf);
	return o;
}

static void expect(const char *ip, const char *sender, enum spf_result want)
{
	struct outcome o = evaluate(ip, sender, NULL, "helo.example");

	if (o.result != want)
		fail_msg("%s from %s: %s (%s), want %s", sender, ip,
			 spf_result_name(o.result), o.reason ? o.reason : "",
			 spf_result_name(want));
	free((char *)o.reason);
}

static void test_mechanisms(void **state)
{
	(void)state;
	/* mx, a with a CIDR, -all */
	expect("192.0.2.129", "a@example.com", SPF_PASS);
	expect("192.0.2.130", "a@example.com", SPF_PASS);
	expect("192.0.2.195", "a@example.com", SPF_PASS);	/* colo/28 */
	expect("192.0.2.180", "a@example.com", SPF_FAIL);
	expect("2001:db8::25", "a@example.com", SPF_PASS);	/* mx AAAA */
	expect("2001:db8::26", "a@example.com", SPF_FAIL);
	/* ip4/ip6 never match the other family */
	expect("2001:db8:1::1", "a@ip6.example", SPF_PASS);
	expect("192.0.2.77", "a@ip6.example", SPF_PASS);
	expect("198.51.100.1", "a@ip6.example", SPF_FAIL);
	expect("2001:db9::1", "a@ip6.example", SPF_FAIL);
	/* an IPv4-mapped IPv6 client is IPv4 */
	expect("::ffff:192.0.2.129", "a@mapped.example", SPF_PASS);
	/* a//64: the IPv6 length only */
	expect("2001:db8::ffff", "a@dual.example", SPF_PASS);
	expect("2001:db8:0:1::1", "a@dual.example", SPF_FAIL);
	/* qualifiers and the default */
	expect("192.0.2.1", "a@soft.example", SPF_SOFTFAIL);
	expect("192.0.2.1", "a@neutral.example", SPF_NEUTRAL);
	/* ptr: validated names under the domain */
	expect("192.0.2.129", "a@ptr.example", SPF_PASS);
	expect("192.0.2.130", "a@ptr.example", SPF_FAIL);
	/* exists with macros (RFC 7208 7.4 style) */
	expect("192.0.2.129", "strong-foo@exists.example", SPF_PASS);
	expect("192.0.2.130", "strong-foo@exists.example", SPF_FAIL);
	/* names are case-insensitive, spaces repeat */
	expect("192.0.2.129", "a@case.example", SPF_PASS);
	expect("192.0.2.129", "a@spaces.example", SPF_PASS);
	/* unknown modifiers and exp are ignored */
	expect("192.0.2.129", "a@unknownmod.example", SPF_PASS);
}

static void test_include_redirect(void **state)
{
	(void)state;
	/* include: pass matches, fail does not (then ?all) */
	expect("192.0.2.129", "a@inc.example", SPF_PASS);
	expect("198.51.100.1", "a@inc.example", SPF_NEUTRAL);
	/* include of a domain without SPF: permerror (5.2) */
	expect("192.0.2.129", "a@incnone.example", SPF_PERMERROR);
	/* redirect takes the other record's result */
	expect("192.0.2.129", "a@red.example", SPF_PASS);
	expect("198.51.100.1", "a@red.example", SPF_FAIL);
	/* redirect to no record: permerror (6.1) */
	expect("192.0.2.129", "a@rednone.example", SPF_PERMERROR);
	/* an include loop ends at the lookup limit */
	expect("192.0.2.129", "a@loop.example", SPF_PERMERROR);
}

static void test_errors_and_limits(void **state)
{
	struct outcome o;

	(void)state;
	expect("192.0.2.1", "a@nospf.example", SPF_NONE);
	expect("192.0.2.1", "a@nxdomain.example", SPF_NONE);
	expect("192.0.2.1", "a@two.example", SPF_PERMERROR);
	expect("192.0.2.1", "a@bad.example", SPF_PERMERROR);
	/* a syntax error after a matching term still counts (4.6) */
	expect("192.0.2.1", "a@badafter.example", SPF_PERMERROR);
	expect("192.0.2.1", "a@tmp.example", SPF_TEMPERROR);
	expect("192.0.2.1", "a@atmp.example", SPF_TEMPERROR);
	expect("192.0.2.1", "a@dupred.example", SPF_PERMERROR);
	/* two void lookups are allowed, the third is permerror */
	expect("192.0.2.1", "a@void2.example", SPF_PASS);
	expect("192.0.2.1", "a@void.example", SPF_PERMERROR);
	/* ten DNS mechanisms are allowed, the eleventh is permerror */
	o = evaluate("192.0.2.1", "a@ten.example", NULL, "h");
	assert_int_equal(o.result, SPF_PASS);
	assert_int_equal(o.lookups, 10);
	free((char *)o.reason);
	o = evaluate("192.0.2.1", "a@eleven.example", NULL, "h");
	assert_int_equal(o.result, SPF_PERMERROR);
	assert_non_null(strstr(o.reason, "too many DNS lookups"));
	free((char *)o.reason);
	/* more than 10 MX names: permerror (4.6.4) */
	expect("192.0.2.1", "a@manymx.example", SPF_PERMERROR);
	/* no usable domain (one label, empty): none */
	expect("192.0.2.1", "a@localhost", SPF_NONE);
	expect("192.0.2.1", "nobody", SPF_NONE);
	/* not an address */
	expect("unix", "a@example.com", SPF_PERMERROR);
}

static void test_identities(void **state)
{
	struct spf *spf;
	const struct spf_query *q;
	struct outcome o;

	(void)state;
	/* <>: postmaster@helo, the HELO domain checked (2.4) */
	o = evaluate("192.0.2.129", "", NULL, "helo.example");
	assert_int_equal(o.result, SPF_PASS);
	free((char *)o.reason);
	spf = spf_new("192.0.2.129", "", NULL, "helo.example", "r");
	assert_string_equal(spf_sender(spf), "postmaster@helo.example");
	assert_string_equal(spf_domain(spf), "helo.example");
	assert_false(spf_step(spf, &q));
	assert_int_equal(q->type, SPF_Q_TXT);
	assert_string_equal(q->name, "helo.example");
	spf_free(&spf);
	/* the HELO identity of a sender from elsewhere */
	o = evaluate("192.0.2.129", "postmaster@helo.example", "helo.example",
		     "helo.example");
	assert_int_equal(o.result, SPF_PASS);
	free((char *)o.reason);
	/* the domain is lower-cased, a final dot dropped */
	spf = spf_new("192.0.2.1", "A@Example.COM.", NULL, "h", "r");
	assert_string_equal(spf_domain(spf), "example.com");
	spf_free(&spf);
}

static void expand(const char *spec, bool exp, const char *want)
{
	struct strbuf out = STRBUF_INIT;
	bool ok = spf_expand(str_c(spec), exp, "192.0.2.3",
			     "strong-bad@email.example.com", "email.example.com",
			     "mx.example.org", "mx.receiver.test", NULL, &out);

	if (want == NULL) {
		assert_false(ok);
	} else {
		assert_true(ok);
		assert_string_equal(strbuf_cstr(&out), want);
	}
	strbuf_free(&out);
}

static void test_macros(void **state)
{
	(void)state;
	/* RFC 7208 7.4 */
	expand("%{s}", false, "strong-bad@email.example.com");
	expand("%{o}", false, "email.example.com");
	expand("%{d}", false, "email.example.com");
	expand("%{d4}", false, "email.example.com");
	expand("%{d3}", false, "email.example.com");
	expand("%{d2}", false, "example.com");
	expand("%{d1}", false, "com");
	expand("%{dr}", false, "com.example.email");
	expand("%{d2r}", false, "example.email");
	expand("%{l}", false, "strong-bad");
	expand("%{l-}", false, "strong.bad");
	expand("%{lr}", false, "strong-bad");
	expand("%{lr-}", false, "bad.strong");
	expand("%{l1r-}", false, "strong");
	expand("%{ir}.%{v}._spf.%{d2}", false, "3.2.0.192.in-addr._spf.example.com");
	expand("%{lr-}.lp._spf.%{d2}", false, "bad.strong.lp._spf.example.com");
	expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", false,
	       "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", false,
	       "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand("%{d2}.trusted-domains.example.net", false,
	       "example.com.trusted-domains.example.net");
	expand("%{h}", false, "mx.example.org");
	expand("%{p}", false, "unknown");
	expand("%%%_%-", false, "% %20");
	/* upper case: URL-encoded */
	expand("%{S}", false, "strong-bad%40email.example.com");
	/* c, r, t only in exp */
	expand("%{c}", false, NULL);
	expand("%{r}", true, "mx.receiver.test");
	expand("%{c}", true, "192.0.2.3");
	/* errors */
	expand("%{x}", false, NULL);
	expand("%{d0}", false, NULL);
	expand("%{d", false, NULL);
	expand("%", false, NULL);
	expand("%a", false, NULL);
	expand("a b", false, NULL);

	/* IPv6 %{i}: nibbles */
	struct strbuf out = STRBUF_INIT;

	assert_true(spf_expand(STR_LIT("%{ir}.%{v}"), false, "2001:db8::cb01",
			       "a@b.example", "b.example", "h", "r", NULL, &out));
	assert_string_equal(strbuf_cstr(&out), "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0."
			    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6");
	strbuf_free(&out);
}

static void test_record_syntax(void **state)
{
	static const char *const good[] = {
		"v=spf1", "v=spf1 -all", "v=spf1 a mx ptr -all",
		"v=spf1 a/24 mx/24//64 a:%{d}.example.com/28",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all",
		"v=spf1 include:_spf.example.com ~all",
		"v=spf1 exists:%{i}.bl.example redirect=_spf.example.com",
		"v=spf1 foo-bar=baz -all",
		"v=spf1 a:example.com.",
	};
	static const char *const bad[] = {
		"v=spf10", "spf1 -all", "v=spf1 -all\t", "v=spf1 all:x",
		"v=spf1 ip4:192.0.2.0/33", "v=spf1 ip4:192.0.2", "v=spf1 ip6:xx",
		"v=spf1 include", "v=spf1 include:", "v=spf1 a:example",
		"v=spf1 a:foo.123", "v=spf1 mx/", "v=spf1 a//129",
		"v=spf1 redirect=", "v=spf1 exp=a.example exp=b.example",
		"v=spf1 -foo", "v=spf1 a:%{z}.example.com", "v=spf1 ip4:01.2.3.4",
		"v=spf1 a/024",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (!spf_record_valid(str_c(good[i])))
			fail_msg("refused: %s", good[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spf_record_valid(str_c(bad[i])))
			fail_msg("accepted: %s", bad[i]);
	}
	assert_true(spf_is_record(STR_LIT("V=SPF1 -all")));
	assert_false(spf_is_record(STR_LIT("v=spf1-all")));
}

static void test_auth_results(void **state)
{
	struct arena a;
	struct auth_results ar;
	struct strbuf out = STRBUF_INIT;
	struct auth_result_prop mf = { "smtp.mailfrom", "user@example.com" };
	struct auth_result_prop odd = { "smtp.mailfrom", "\"odd guy\"@example.com" };
	struct auth_result_prop dk[] = { { "header.d", "example.com" },
					 { "header.b", "abcdefgh" } };

	(void)state;
	arena_init(&a, 0);
	auth_results_init(&ar, &a);
	auth_results_format(&out, "mx.example.org", ar.items, ar.n);
	assert_string_equal(strbuf_cstr(&out),
			    "Authentication-Results: mx.example.org; none\r\n");
	strbuf_reset(&out);
	auth_results_add(&ar, "spf", "pass", NULL, &mf, 1);
	auth_results_add(&ar, "dkim", "fail", "bad signature", dk, 2);
	auth_results_add(&ar, "spf", "fail", NULL, &odd, 1);
	auth_results_format(&out, "mx.example.org", ar.items, ar.n);
	assert_string_equal(strbuf_cstr(&out),
		"Authentication-Results: mx.example.org;\r\n"
		"\tspf=pass smtp.mailfrom=user@example.com;\r\n"
		"\tdkim=fail reason=\"bad signature\" header.d=example.com header.b=abcdefgh;\r\n"
		"\tspf=fail smtp.mailfrom=\"\\\"odd guy\\\"@example.com\"\r\n");
	strbuf_free(&out);
	arena_deinit(&a);

	/* RFC 8601 5: an incoming field with our authserv-id */
	assert_true(auth_results_claims(STR_LIT(" mx.example.org; spf=pass"),
					"mx.example.org"));
	assert_true(auth_results_claims(STR_LIT("\r\n\tMX.Example.ORG;\r\n spf=pass"),
					"mx.example.org"));
	assert_true(auth_results_claims(STR_LIT(" (c) mx.example.org 1; none"),
					"mx.example.org"));
	assert_true(auth_results_claims(STR_LIT(" \"mx.example.org\"; none"),
					"mx.example.org"));
	assert_false(auth_results_claims(STR_LIT(" other.example; spf=pass"),
					 "mx.example.org"));
	assert_false(auth_results_claims(STR_LIT(" mx.example.org.evil; none"),
					 "mx.example.org"));
}

static void test_dnsbl_sites(void **state)
{
	struct dnsbl_site *sites;
	struct str bad;
	int n;

	(void)state;
	n = dnsbl_sites_parse(STR_LIT("zen.Example*3, bl.example=127.0.0.[2..11]"
				      " wl.example.=127.0.[0..255].[1;3]*-2"),
			      &sites, &bad);
	assert_int_equal(n, 3);
	assert_string_equal(sites[0].zone, "zen.example");
	assert_int_equal(sites[0].weight, 3);
	assert_true(dnsbl_site_match(&sites[0], "127.0.0.2"));
	assert_true(dnsbl_site_match(&sites[0], "127.1.2.3"));
	assert_false(dnsbl_site_match(&sites[0], "10.0.0.2"));
	assert_int_equal(sites[1].weight, 1);
	assert_true(dnsbl_site_match(&sites[1], "127.0.0.11"));
	assert_false(dnsbl_site_match(&sites[1], "127.0.0.12"));
	assert_false(dnsbl_site_match(&sites[1], "127.0.0.1"));
	assert_string_equal(sites[2].zone, "wl.example");
	assert_int_equal(sites[2].weight, -2);
	assert_true(dnsbl_site_match(&sites[2], "127.0.9.3"));
	assert_false(dnsbl_site_match(&sites[2], "127.0.9.2"));
	assert_false(dnsbl_site_match(&sites[2], "::1"));
	dnsbl_sites_free(&sites, (size_t)n);
	assert_null(sites);

	assert_int_equal(dnsbl_sites_parse(STR_LIT(""), &sites, &bad), 0);
	static const char *const wrong[] = {
		"a.example*x", "a.example=127.0.0", "a.example=127.0.0.[3..2]",
		"a.example=127.0.0.256", "a.ex ample=1", "*2", "a/b.example",
		"a.example=127.0.0.[1", "a.example*2000",
	};
	for (size_t i = 0; i < ARRAY_SIZE(wrong); i++) {
		if (dnsbl_sites_parse(str_c(wrong[i]), &sites, &bad) >= 0 &&
		    strchr(wrong[i], ' ') == NULL)
			fail_msg("accepted: %s", wrong[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_include_redirect),
		cmocka_unit_test(test_errors_and_limits),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_record_syntax),
		cmocka_unit_test(test_auth_results),
		cmocka_unit_test(test_dnsbl_sites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
