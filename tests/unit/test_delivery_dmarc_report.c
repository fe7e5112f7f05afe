/* Unit tests for delivery/dmarc_report: XML escaping (and dropped control
 * bytes) of hostile values, the file name, mailto: URIs, and the report
 * mail's fields. */
#include "unit.h"

#include "delivery/dmarc_report.h"

static const struct dmarc_report_meta meta = {
	.org_name = "Org & Co", .email = "dmarc@mx.example",
	.report_id = "example.com.20000.1", .begin = 1728000000,
	.end = 1728086399,
};

static const struct dmarc_policy_row pol = {
	.day = 20000, .domain = "example.com", .p = "reject", .sp = "none",
	.pct = 50, .adkim = "r", .aspf = "s", .fo = "0",
	.rua = "mailto:a@example.com",
};

static void test_xml(void **state)
{
	const struct dmarc_row rows[] = { {
		.header_from = "example.com", .policy_domain = "example.com",
		.source_ip = "192.0.2.1", .disposition = "reject",
		.override = "", .dmarc_dkim = "fail", .dmarc_spf = "fail",
		.dkim = "pass example.com <s>\x01\"';bogus x.test y;; ;"
			"softfail z.test",
		.spf_result = "fail", .spf_domain = "example.com",
		.spf_scope = "helo", .count = 7,
	} };
	struct strbuf out = STRBUF_INIT;
	const char *x;

	(void)state;
	dmarc_report_xml(&out, &meta, &pol, rows, 1);
	x = strbuf_cstr(&out);
	assert_non_null(strstr(x, "<org_name>Org &amp; Co</org_name>"));
	assert_non_null(strstr(x, "<count>7</count>"));
	assert_non_null(strstr(x, "<pct>50</pct>"));
	/* escaped, the control byte dropped */
	assert_non_null(strstr(x, "<selector>&lt;s&gt;&quot;&apos;</selector>"));
	assert_null(strchr(x, '\x01'));
	/* a result RFC 7489 has no name for is fail; empty items skipped */
	assert_non_null(strstr(x, "<domain>x.test</domain>\n"
				  "        <selector>y</selector>\n"
				  "        <result>fail</result>"));
	assert_non_null(strstr(x, "<domain>z.test</domain>\n"
				  "        <result>fail</result>"));
	assert_non_null(strstr(x, "<scope>helo</scope>"));
	assert_null(strstr(x, "<reason>"));
	strbuf_free(&out);
}

static void test_filename(void **state)
{
	char *n;

	(void)state;
	n = dmarc_report_filename("mx.example", "exa/mple.com", &meta, true);
	assert_string_equal(n, "mx.example!exa_mple.com!1728000000!1728086399"
			       "!example.com.20000.1.xml.gz");
	free(n);
}

static void test_mailto(void **state)
{
	struct strbuf a = STRBUF_INIT;

	(void)state;
	assert_true(dmarc_report_mailto(STR_LIT("mailto:d@example.com"), &a));
	assert_string_equal(strbuf_cstr(&a), "d@example.com");
	assert_true(dmarc_report_mailto(STR_LIT("MAILTO:d%40x@example.com"
						"?subject=x"), &a));
	assert_string_equal(strbuf_cstr(&a), "d@x@example.com");
	assert_false(dmarc_report_mailto(STR_LIT("https://example.com"), &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:"), &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:nobody"), &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:@example.com"), &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:a@"), &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:a%0d%0aRCPT@x.com"),
					 &a));
	assert_false(dmarc_report_mailto(STR_LIT("mailto:<a@x.com>"), &a));
	strbuf_free(&a);
}

static void test_mail(void **state)
{
	struct strbuf m = STRBUF_INIT;
	const char *s;

	(void)state;
	dmarc_report_mail(&m, &meta, "example.com", "a@example.com", "f.xml.gz",
			  "\x1f\x8b\x08", 3, 1728090000, "mx.example");
	s = strbuf_cstr(&m);
	assert_non_null(strstr(s, "From: dmarc@mx.example\r\n"));
	assert_non_null(strstr(s, "To: a@example.com\r\n"));
	assert_non_null(strstr(s, "Subject: Report Domain: example.com "
				  "Submitter: Org & Co Report-ID: "
				  "<example.com.20000.1>\r\n"));
	assert_non_null(strstr(s, "Date: Sat, 05 Oct 2024 01:00:00 +0000\r\n"));
	assert_non_null(strstr(s, "filename=\"f.xml.gz\""));
	assert_non_null(strstr(s, "\r\n\r\nH4sI\r\n--=_dmarc_"));
	/* every line ends in CRLF */
	for (const char *p = s; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p > s && p[-1] == '\r');
	strbuf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_filename),
		cmocka_unit_test(test_mailto),
		cmocka_unit_test(test_mail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
