/* Unit tests for mail/arc: sealing then verifying chains of 1 to 3 sets,
 * and the ways a chain breaks (a modified message, a missing or altered
 * set, wrong cv=); every check also runs drip-fed, one byte at a time. */
#include "unit.h"

#include "mail/arc.h"
#include "mail/dkim_sign.h"

#define NOW 1700000000

static EVP_PKEY *rsa_key, *ed_key;
static char *rsa_txt, *ed_txt;

static char *record(EVP_PKEY *key)
{
	struct strbuf out = STRBUF_INIT;
	const char *error;

	assert_int_equal(dkim_sign_dns_record(key, &out, &error), 0);
	return strbuf_detach(&out, NULL);
}

static int setup(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || ed_key == NULL)
		return -1;
	rsa_txt = record(rsa_key);
	ed_txt = record(ed_key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	free(rsa_txt);
	free(ed_txt);
	return 0;
}

static const char base_msg[] =
	"From: Alice <alice@example.com>\r\n"
	"To: list@lists.example.org\r\n"
	"Subject: ARC test\r\n"
	"Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n"
	"Message-ID: <arc@example.com>\r\n"
	"\r\n"
	"Hello,  world.\r\n";

/* Verify msg fed in chunks; "result reason n oldest". */
static char *verify_once(const char *msg, size_t chunk)
{
	struct dkim_verify_params params = { .now = NOW };
	struct arc_verify *av = arc_verify_new();
	struct dkim_verify *dv;
	struct arc_outcome out;
	struct strbuf s = STRBUF_INIT;
	size_t n = strlen(msg);

	arc_verify_hook(av, &params);
	dv = dkim_verify_new(&params);
	for (size_t i = 0; i < n;) {
		size_t take = chunk == 0 ? n : MIN(chunk, n - i);

		dkim_verify_feed(dv, msg + i, take);
		i += take;
	}
	dkim_verify_end(dv);
	for (size_t k = 0; k < dkim_verify_key_count(dv); k++) {
		const char *name = dkim_verify_key_name(dv, k);
		struct str txt = str_c(strncmp(name, "rsa.", 4) == 0 ? rsa_txt :
								   ed_txt);

		if (strstr(name, "example.") == NULL)
			dkim_verify_key_answer(dv, k, DKIM_DNS_NXDOMAIN, NULL,
					       0);
		else
			dkim_verify_key_answer(dv, k, DKIM_DNS_OK, &txt, 1);
	}
	dkim_verify_compute(dv);
	arc_verify_compute(av, dv, &out);
	strbuf_printf(&s, "%s%s%s %u %u %s", arc_result_name(out.result),
		      out.reason[0] != '\0' ? ": " : "", out.reason,
		      out.instances, out.oldest_pass, out.domain);
	dkim_verify_free(&dv);
	arc_verify_free(&av);
	return strbuf_detach(&s, NULL);
}

static void check(const char *msg, const char *want)
{
	static const size_t chunks[] = { 0, 1, 13 };

	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		char *got = verify_once(msg, chunks[c]);

		assert_string_equal(got, want);
		free(got);
	}
}

/* The next set in front of msg. */
static char *seal(const char *msg, EVP_PKEY *key, const char *selector,
		  const char *domain, enum arc_result chain)
{
	struct arc_seal_params p = {
		.domain = domain,
		.selector = selector,
		.key = key,
		.timestamp = NOW,
	};
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	assert_int_equal(arc_seal(&p, str_c(msg),
				  STR_LIT("mx.example.org; dkim=none; spf=pass "
					  "smtp.mailfrom=example.com"),
				  chain, &out, &error),
			 0);
	strbuf_append_c(&out, msg);
	return strbuf_detach(&out, NULL);
}

static char *replace(const char *s, const char *from, const char *to)
{
	struct strbuf b = STRBUF_INIT;
	const char *p = strstr(s, from);

	assert_non_null(p);
	strbuf_append(&b, s, (size_t)(p - s));
	strbuf_append_c(&b, to);
	strbuf_append_c(&b, p + strlen(from));
	return strbuf_detach(&b, NULL);
}

static void test_none(void **state)
{
	(void)state;
	check(base_msg, "none 0 0 ");
}

static void test_seal_verify(void **state)
{
	char *m1, *m2, *m3;

	(void)state;
	m1 = seal(base_msg, rsa_key, "rsa", "example.org", ARC_RESULT_NONE);
	assert_non_null(strstr(m1, "ARC-Seal: i=1; a=rsa-sha256; cv=none;"));
	assert_non_null(strstr(m1, "ARC-Authentication-Results: i=1; "
				   "mx.example.org; dkim=none"));
	check(m1, "pass 1 1 example.org");
	m2 = seal(m1, ed_key, "ed", "example.net", ARC_RESULT_PASS);
	assert_non_null(strstr(m2, "ARC-Seal: i=2; a=ed25519-sha256; cv=pass;"));
	check(m2, "pass 2 1 example.net");
	m3 = seal(m2, rsa_key, "rsa", "example.com", ARC_RESULT_PASS);
	check(m3, "pass 3 1 example.com");
	free(m1);
	free(m2);
	free(m3);
}

static void test_broken(void **state)
{
	char *m1, *m2, *x, *m3;

	(void)state;
	m1 = seal(base_msg, rsa_key, "rsa", "example.org", ARC_RESULT_NONE);
	m2 = seal(m1, ed_key, "ed", "example.net", ARC_RESULT_PASS);
	/* the message modified after the last seal */
	x = replace(m2, "Hello,", "Hullo,");
	check(x, "fail: newest ARC-Message-Signature does not verify 2 0 "
		 "example.net");
	free(x);
	/* modified between the seals: the newest AMS passes, i=1's not */
	x = replace(m1, "Hello,", "Hullo,");
	m3 = seal(x, ed_key, "ed", "example.net", ARC_RESULT_PASS);
	check(m3, "pass 2 2 example.net");
	free(x);
	free(m3);
	/* an older set altered: its seal breaks */
	x = replace(m2, "i=1; mx.example.org; dkim=none",
		    "i=1; mx.example.org; dkim=pass");
	check(x, "fail: ARC-Seal signature mismatch 2 0 example.net");
	free(x);
	/* a set missing */
	x = replace(m2, "ARC-Authentication-Results: i=1;",
		    "X-Was-AAR: i=1;");
	check(x, "fail: incomplete ARC set 0 0 ");
	free(x);
	/* a chain sealed as failed */
	m3 = seal(m1, ed_key, "ed", "example.net", ARC_RESULT_FAIL);
	check(m3, "fail: ARC-Seal cv is not pass 2 0 example.net");
	free(m3);
	/* duplicate instance */
	x = replace(m2, "ARC-Seal: i=2;", "ARC-Seal: i=1;");
	check(x, "fail: duplicate ARC instance 0 0 ");
	free(x);
	/* the key of the newest seal is not found */
	x = seal(m1, ed_key, "ed", "nowhere.test", ARC_RESULT_PASS);
	check(x, "fail: newest ARC-Message-Signature does not verify 2 0 "
		 "nowhere.test");
	free(x);
	free(m1);
	free(m2);
}

static void test_limits(void **state)
{
	char *m = strdup(base_msg), *next;

	(void)state;
	for (int i = 0; i < ARC_VERIFY_MAX_SETS + 1; i++) {
		next = seal(m, ed_key, "ed", "example.net",
			    i == 0 ? ARC_RESULT_NONE : ARC_RESULT_PASS);
		free(m);
		m = next;
	}
	check(m, "fail: too many ARC sets 0 0 ");
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_seal_verify),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
