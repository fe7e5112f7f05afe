/* Unit tests for mail/spam_verdict: SpamAssassin's and rspamd's verdict
 * fields, folded values, several verdicts (the worst wins), fields that
 * are not verdicts, scores, and the junk decision. The parser reads whole
 * header fields of a stored message, not a stream: there is nothing to
 * drip-feed. */
#include "unit.h"

#include "base/strbuf.h"
#include "mail/spam_verdict.h"

static struct spam_verdict verdict_of(const char *header)
{
	struct spam_verdict v;

	spam_verdict_init(&v);
	spam_verdict_header(&v, str_c(header));
	return v;
}

static void test_spamassassin(void **state)
{
	struct spam_verdict v;

	(void)state;
	v = verdict_of("Subject: x\r\nX-Spam-Flag: YES\r\n"
		       "X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99,\r\n"
		       "\tHTML_MESSAGE autolearn=no version=3.4.6\r\n\r\n"
		       "X-Spam-Flag: NO\r\n");
	assert_true(v.flag);
	assert_true(v.has_score);
	assert_int_equal(v.score, 7300);
	assert_int_equal(v.fields, 2);
	v = verdict_of("X-Spam-Status: No, score=-0.1 required=5.0 tests=NONE\n\n");
	assert_false(v.flag);
	assert_int_equal(v.score, -100);
	/* folded right after the colon and before score= */
	v = verdict_of("X-Spam-Status:\r\n No,\r\n\tscore=4.99\r\n required=5.0\r\n");
	assert_false(v.flag);
	assert_int_equal(v.score, 4990);
	/* "required=" is no score, a word ending in score= neither */
	v = verdict_of("X-Spam-Status: No, hiscore=9 required=5.0\r\n");
	assert_false(v.has_score);
	assert_int_equal(v.fields, 1);	/* the No */
}

static void test_rspamd(void **state)
{
	struct spam_verdict v;

	(void)state;
	v = verdict_of("X-Spamd-Result: default: True [7.50 / 15.00];\r\n"
		       "\tGTUBE(0.00)[];\r\n\tR_DKIM_NA(0.00)[]\r\n"
		       "X-Rspamd-Score: 7.5\r\n"
		       "X-Rspamd-Queue-Id: 4F3C\r\n");
	assert_true(v.flag);
	assert_int_equal(v.score, 7500);
	assert_int_equal(v.fields, 2);
	v = verdict_of("X-Spamd-Result: default: False [-1.20 / 15.00]\r\n");
	assert_false(v.flag);
	assert_int_equal(v.score, -1200);
	v = verdict_of("X-Spam-Score: 6\r\nX-Spam: Yes\r\n");
	assert_true(v.flag);
	assert_int_equal(v.score, 6000);
	v = verdict_of("X-Spam: No\r\n");
	assert_false(v.flag);
	assert_false(v.has_score);
	assert_int_equal(v.fields, 1);
}

static void test_worst_wins(void **state)
{
	struct spam_verdict v;

	(void)state;
	/* a second filter's lower score, a NO after a YES: the worst kept */
	v = verdict_of("X-Rspamd-Score: 9.25\r\nX-Spam-Score: 1\r\n"
		       "X-Spam-Flag: YES\r\nX-Spam-Flag: NO\r\n");
	assert_true(v.flag);
	assert_int_equal(v.score, 9250);
	/* junk decisions */
	assert_true(spam_verdict_is_junk(&v, 100000));	/* flagged */
	v = verdict_of("X-Rspamd-Score: 5.0\r\n");
	assert_true(spam_verdict_is_junk(&v, 5000));
	assert_false(spam_verdict_is_junk(&v, 5001));
	v = verdict_of("Subject: X-Spam-Flag: YES\r\n");
	assert_int_equal(v.fields, 0);
	assert_false(spam_verdict_is_junk(&v, -100000));
}

static void test_not_verdicts(void **state)
{
	static const char *const bad[] = {
		"X-Spam-Flag: maybe\r\n",
		"X-Spam-Flag: YESSIR\r\n",
		"X-Spam-Score: lots\r\n",
		"X-Spam-Score: .\r\n",
		"X-Spam-Score: -\r\n",
		"X-Spamd-Result: nothing here\r\n",
		"X-Spamd-Result: default: [x / 15]\r\n",
		"X-Spam-Level: *******\r\n",
		"X-Spam-Score 7\r\n",		/* no colon: no field */
		"X-Spam-Status: score=\r\n",
		"X-Spam-Score: 99999999999999999999\r\n",
		"",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct spam_verdict v = verdict_of(bad[i]);

		assert_int_equal(v.fields, 0);
		assert_false(v.flag);
		assert_false(v.has_score);
	}
}

static void test_parse_score(void **state)
{
	static const struct { const char *s; bool ok; int64_t score; } cases[] = {
		{ "5", true, 5000 }, { " 7.5 ", true, 7500 },
		{ "-0.25", true, -250 }, { "+3", true, 3000 },
		{ "15.00", true, 15000 }, { "1.23456", true, 1234 },
		{ ".5", true, 500 }, { "5.", true, 5000 },
		{ "", false, 0 }, { "x", false, 0 }, { "5x", false, 0 },
		{ "1 2", false, 0 }, { "--1", false, 0 },
		{ "99999999999999999", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t score = -1;

		assert_int_equal(spam_verdict_parse_score(str_c(cases[i].s),
							  &score),
				 cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(score, cases[i].score);
	}
}

/* A long value (rspamd's symbol list) is read only as far as needed, and
 * a verdict far into it is not looked for. */
static void test_long_value(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct spam_verdict v;

	(void)state;
	strbuf_append_c(&b, "X-Spamd-Result: default: True [12.00 / 15.00]");
	for (int i = 0; i < 2000; i++)
		strbuf_append_c(&b, ";\r\n\tSYMBOL_WITH_A_NAME(0.10)[x]");
	strbuf_append_c(&b, "\r\n\r\n");
	spam_verdict_init(&v);
	spam_verdict_header(&v, strbuf_str(&b));
	assert_true(v.flag);
	assert_int_equal(v.score, 12000);
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spamassassin),
		cmocka_unit_test(test_rspamd),
		cmocka_unit_test(test_worst_wins),
		cmocka_unit_test(test_not_verdicts),
		cmocka_unit_test(test_parse_score),
		cmocka_unit_test(test_long_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
