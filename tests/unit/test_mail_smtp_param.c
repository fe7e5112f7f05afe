/* Unit tests for mail/smtp_param, mail/smtp_xtext and mail/smtp_cmd:
 * ESMTP parameters, xtext, command lines, MAIL FROM and RCPT TO. */
#include "unit.h"

#include "mail/smtp_cmd.h"
#include "mail/smtp_xtext.h"

static void test_xtext(void **state)
{
	static const struct {
		const char *raw;
		const char *xtext;
	} cases[] = {
		{ "", "" },
		{ "user@example.org", "user@example.org" },
		{ "a+b=c", "a+2Bb+3Dc" },
		{ "sp ace\ttab", "sp+20ace+09tab" },
		{ "\xc3\xa9\x7f~!", "+C3+A9+7F~!" },
	};
	struct strbuf b = STRBUF_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		strbuf_reset(&b);
		smtp_xtext_encode(&b, str_c(cases[i].raw));
		assert_string_equal(strbuf_cstr(&b), cases[i].xtext);
		strbuf_reset(&b);
		assert_true(smtp_xtext_decode(&b, str_c(cases[i].xtext)));
		assert_string_equal(strbuf_cstr(&b), cases[i].raw);
	}
	/* every byte value survives a round trip */
	{
		char all[256];
		struct strbuf enc = STRBUF_INIT;

		for (int i = 0; i < 256; i++)
			all[i] = (char)i;
		smtp_xtext_encode(&enc, str_make(all, sizeof(all)));
		strbuf_reset(&b);
		assert_true(smtp_xtext_decode(&b, strbuf_str(&enc)));
		assert_int_equal(b.n, 256);
		assert_memory_equal(b.p, all, 256);
		strbuf_free(&enc);
	}
	/* lowercase hex is accepted on input */
	strbuf_reset(&b);
	assert_true(smtp_xtext_decode(&b, STR_LIT("a+2bb")));
	assert_string_equal(strbuf_cstr(&b), "a+b");
	/* bad xtext leaves the buffer as it was */
	static const char *const bad[] = {
		"a+", "a+2", "a+2G", "+G0", "a=b", "a b", "a\x7f", "\xc3\xa9",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		strbuf_reset(&b);
		strbuf_append_c(&b, "keep");
		assert_false(smtp_xtext_decode(&b, str_c(bad[i])));
		assert_string_equal(strbuf_cstr(&b), "keep");
	}
	strbuf_free(&b);
}

static void test_mail_params_good(void **state)
{
	struct smtp_mail_params m;
	struct smtp_status err;

	(void)state;
	assert_true(smtp_param_parse_mail(STR_LIT(""), SMTP_EXT_ALL, &m, &err));
	assert_false(m.has_size);
	assert_int_equal(m.body, SMTP_BODY_UNSET);
	assert_null(m.envid);
	assert_null(m.auth);
	smtp_param_mail_clear(&m);

	assert_true(smtp_param_parse_mail(
		STR_LIT("SIZE=12345 body=8bitmime SMTPUTF8 RET=HDRS "
			"ENVID=QQ+2B314 AUTH=e+3Dmc2@example.com REQUIRETLS"),
		SMTP_EXT_ALL, &m, &err));
	assert_true(m.has_size);
	assert_int_equal(m.size, 12345);
	assert_int_equal(m.body, SMTP_BODY_8BITMIME);
	assert_true(m.smtputf8);
	assert_int_equal(m.ret, SMTP_RET_HDRS);
	assert_string_equal(m.envid, "QQ+314");
	assert_string_equal(m.auth, "e=mc2@example.com");
	assert_true(m.requiretls);
	smtp_param_mail_clear(&m);
	assert_null(m.envid);

	/* several spaces between parameters, AUTH=<>, other values */
	assert_true(smtp_param_parse_mail(
		STR_LIT("BODY=7BIT   AUTH=<>  RET=full size=0"), SMTP_EXT_ALL,
		&m, &err));
	assert_int_equal(m.body, SMTP_BODY_7BIT);
	assert_string_equal(m.auth, "");
	assert_int_equal(m.ret, SMTP_RET_FULL);
	assert_true(m.has_size);
	assert_int_equal(m.size, 0);
	smtp_param_mail_clear(&m);

	assert_true(smtp_param_parse_mail(STR_LIT("BODY=BINARYMIME"),
					  SMTP_EXT_ALL, &m, &err));
	assert_int_equal(m.body, SMTP_BODY_BINARYMIME);
	smtp_param_mail_clear(&m);

	/* a SIZE too large for 64 bits saturates; the caller answers 552 */
	assert_true(smtp_param_parse_mail(
		STR_LIT("SIZE=99999999999999999999999"), SMTP_EXT_ALL, &m, &err));
	assert_true(m.size == UINT64_MAX);
	smtp_param_mail_clear(&m);

	/* ENVID at its 100-octet limit */
	{
		char envid[] = "ENVID=" "0123456789012345678901234567890123456789"
			       "0123456789012345678901234567890123456789"
			       "01234567890123456789";

		assert_true(smtp_param_parse_mail(str_c(envid), SMTP_EXT_ALL,
						  &m, &err));
		assert_int_equal(strlen(m.envid), 100);
		smtp_param_mail_clear(&m);
	}
}

struct bad_param {
	const char *params;
	unsigned ext;
	unsigned code;
};

static const struct bad_param bad_mail[] = {
	{ "FOO", SMTP_EXT_ALL, 555 },
	{ "FOO=bar", SMTP_EXT_ALL, 555 },
	{ "NOTIFY=NEVER", SMTP_EXT_ALL, 555 },	/* an RCPT parameter */
	{ "SIZE=1 SIZE=2", SMTP_EXT_ALL, 501 },
	{ "SIZE", SMTP_EXT_ALL, 501 },
	{ "SIZE=", SMTP_EXT_ALL, 501 },
	{ "SIZE=12k", SMTP_EXT_ALL, 501 },
	{ "SIZE=-1", SMTP_EXT_ALL, 501 },
	{ "SIZE=1", SMTP_EXT_ALL & ~SMTP_EXT_SIZE, 555 },
	{ "BODY=9BIT", SMTP_EXT_ALL, 555 },
	{ "BODY", SMTP_EXT_ALL, 501 },
	{ "BODY=8BITMIME BODY=7BIT", SMTP_EXT_ALL, 501 },
	{ "BODY=8BITMIME", 0, 555 },
	{ "BODY=BINARYMIME", SMTP_EXT_8BITMIME, 555 },
	{ "SMTPUTF8=yes", SMTP_EXT_ALL, 501 },
	{ "SMTPUTF8", SMTP_EXT_ALL & ~SMTP_EXT_SMTPUTF8, 555 },
	{ "SMTPUTF8 smtputf8", SMTP_EXT_ALL, 501 },
	{ "RET=BODY", SMTP_EXT_ALL, 555 },
	{ "RET", SMTP_EXT_ALL, 501 },
	{ "RET=FULL", SMTP_EXT_ALL & ~SMTP_EXT_DSN, 555 },
	{ "ENVID=a+zz", SMTP_EXT_ALL, 501 },
	{ "ENVID=" "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "012345678901234567890", SMTP_EXT_ALL, 501 },	/* 101 */
	{ "ENVID=a ENVID=b", SMTP_EXT_ALL, 501 },
	{ "AUTH=+", SMTP_EXT_ALL, 501 },
	{ "AUTH=<>", SMTP_EXT_ALL & ~SMTP_EXT_AUTH, 555 },
	{ "REQUIRETLS=1", SMTP_EXT_ALL, 501 },
	{ "REQUIRETLS", SMTP_EXT_ALL & ~SMTP_EXT_REQUIRETLS, 555 },
	{ "-SIZE=1", SMTP_EXT_ALL, 501 },
	{ "SI_ZE=1", SMTP_EXT_ALL, 501 },
	{ "=1", SMTP_EXT_ALL, 501 },
	{ "SIZE=1=2", SMTP_EXT_ALL, 501 },
	{ "SIZE=1\t", SMTP_EXT_ALL, 501 },
	{ "ENVID=\xc3\xa9", SMTP_EXT_ALL, 501 },
};

static const struct bad_param bad_rcpt[] = {
	{ "SIZE=1", SMTP_EXT_ALL, 555 },
	{ "NOTIFY", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=SOMETIMES", SMTP_EXT_ALL, 555 },
	{ "NOTIFY=NEVER,DELAY", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=DELAY,NEVER", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=DELAY,DELAY", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=SUCCESS,", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=,SUCCESS", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=NEVER NOTIFY=NEVER", SMTP_EXT_ALL, 501 },
	{ "NOTIFY=NEVER", SMTP_EXT_ALL & ~SMTP_EXT_DSN, 555 },
	{ "ORCPT=rfc822", SMTP_EXT_ALL, 501 },
	{ "ORCPT=rfc822;", SMTP_EXT_ALL, 501 },
	{ "ORCPT=;a@b", SMTP_EXT_ALL, 501 },
	{ "ORCPT=rfc822;a+4", SMTP_EXT_ALL, 501 },
	{ "ORCPT=rf(c822;a@b", SMTP_EXT_ALL, 501 },
	{ "ORCPT=rfc822;a@b ORCPT=rfc822;c@d", SMTP_EXT_ALL, 501 },
};

static void test_params_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_mail); i++) {
		struct smtp_mail_params m;
		struct smtp_status err = { 0, NULL, NULL };

		if (smtp_param_parse_mail(str_c(bad_mail[i].params),
					  bad_mail[i].ext, &m, &err))
			fail_msg("MAIL case %zu \"%s\" accepted", i,
				 bad_mail[i].params);
		assert_int_equal(err.code, bad_mail[i].code);
		assert_string_equal(err.enhanced, "5.5.4");
		assert_null(m.envid);
		assert_null(m.auth);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_rcpt); i++) {
		struct smtp_rcpt_params r;
		struct smtp_status err = { 0, NULL, NULL };

		if (smtp_param_parse_rcpt(str_c(bad_rcpt[i].params),
					  bad_rcpt[i].ext, &r, &err))
			fail_msg("RCPT case %zu \"%s\" accepted", i,
				 bad_rcpt[i].params);
		assert_int_equal(err.code, bad_rcpt[i].code);
		assert_string_equal(err.enhanced, "5.5.4");
		assert_null(r.orcpt);
		assert_null(r.orcpt_type);
	}
}

static void test_rcpt_params_good(void **state)
{
	static const struct {
		const char *params;
		unsigned notify;
		const char *orcpt_type;
		const char *orcpt;
	} cases[] = {
		{ "", 0, NULL, NULL },
		{ "NOTIFY=NEVER", SMTP_NOTIFY_NEVER, NULL, NULL },
		{ "notify=success,Failure", SMTP_NOTIFY_SUCCESS |
		  SMTP_NOTIFY_FAILURE, NULL, NULL },
		{ "NOTIFY=DELAY,SUCCESS,FAILURE ORCPT=RFC822;Bob+2Bx@Example.org",
		  SMTP_NOTIFY_DELAY | SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
		  "rfc822", "Bob+x@Example.org" },
		{ "ORCPT=utf-8;a+20b@x", 0, "utf-8", "a b@x" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct smtp_rcpt_params r;
		struct smtp_status err;

		if (!smtp_param_parse_rcpt(str_c(cases[i].params), SMTP_EXT_ALL,
					   &r, &err))
			fail_msg("case %zu: %s", i, err.text);
		assert_int_equal(r.notify, cases[i].notify);
		if (cases[i].orcpt == NULL) {
			assert_null(r.orcpt);
			assert_null(r.orcpt_type);
		} else {
			assert_string_equal(r.orcpt_type, cases[i].orcpt_type);
			assert_string_equal(r.orcpt, cases[i].orcpt);
		}
		smtp_param_rcpt_clear(&r);
	}
}

static void test_cmd_split(void **state)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *name;
		const char *arg;
	} cases[] = {
		{ "EHLO client.example", SMTP_VERB_EHLO, "EHLO",
		  "client.example" },
		{ "ehlo client.example", SMTP_VERB_EHLO, "ehlo",
		  "client.example" },
		{ "MaIl FROM:<a@b> SIZE=1", SMTP_VERB_MAIL, "MaIl",
		  "FROM:<a@b> SIZE=1" },
		{ "QUIT", SMTP_VERB_QUIT, "QUIT", "" },
		{ "QUIT  ", SMTP_VERB_QUIT, "QUIT", "" },
		{ "LHLO x", SMTP_VERB_LHLO, "LHLO", "x" },
		{ "STARTTLS", SMTP_VERB_STARTTLS, "STARTTLS", "" },
		{ "AUTH PLAIN dGVzdA==", SMTP_VERB_AUTH, "AUTH",
		  "PLAIN dGVzdA==" },
		{ "BDAT 100 LAST", SMTP_VERB_BDAT, "BDAT", "100 LAST" },
		{ "DATAX", SMTP_VERB_UNKNOWN, "DATAX", "" },
		{ "GET / HTTP/1.1", SMTP_VERB_UNKNOWN, "GET", "/ HTTP/1.1" },
		{ "MAIL\tFROM:<>", SMTP_VERB_UNKNOWN, "MAIL\tFROM:<>", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct smtp_cmd cmd;

		assert_true(smtp_cmd_split(str_c(cases[i].line), &cmd));
		assert_int_equal(cmd.verb, cases[i].verb);
		assert_true(str_eq(cmd.name, str_c(cases[i].name)));
		assert_true(str_eq(cmd.arg, str_c(cases[i].arg)));
	}
	{
		struct smtp_cmd cmd;

		assert_false(smtp_cmd_split(STR_LIT(""), &cmd));
		assert_false(smtp_cmd_split(STR_LIT(" QUIT"), &cmd));
	}
	assert_string_equal(smtp_cmd_verb_name(SMTP_VERB_RCPT), "RCPT");
	assert_string_equal(smtp_cmd_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	assert_int_equal(SMTP_CMD_LINE_MAX, 512);
}

static void test_mail_cmd(void **state)
{
	struct smtp_mail mail;
	struct smtp_status err;
	struct strbuf b = STRBUF_INIT;

	(void)state;
	assert_true(smtp_cmd_parse_mail(STR_LIT("FROM:<A@Example.ORG>"),
					SMTP_EXT_ALL, &mail, &err));
	smtp_path_append_canonical(&b, &mail.path);
	assert_string_equal(strbuf_cstr(&b), "A@example.org");
	smtp_cmd_mail_clear(&mail);

	/* one space after the colon is tolerated; parameters follow */
	assert_true(smtp_cmd_parse_mail(STR_LIT("from: <> SIZE=100 BODY=8BITMIME"),
					SMTP_EXT_ALL, &mail, &err));
	assert_true(mail.path.flags & SMTP_PATH_NULL);
	assert_int_equal(mail.params.size, 100);
	assert_int_equal(mail.params.body, SMTP_BODY_8BITMIME);
	smtp_cmd_mail_clear(&mail);

	/* UTF-8 sender only together with SMTPUTF8 */
	assert_true(smtp_cmd_parse_mail(STR_LIT("FROM:<j\xc3\xb6rg@x> SMTPUTF8"),
					SMTP_EXT_ALL, &mail, &err));
	assert_true(mail.path.flags & SMTP_PATH_UTF8);
	smtp_cmd_mail_clear(&mail);

	static const struct {
		const char *arg;
		unsigned ext;
		unsigned code;
		const char *enhanced;
	} bad[] = {
		{ "FROM:<j\xc3\xb6rg@x>", SMTP_EXT_ALL, 553, "5.6.7" },
		{ "FROM:<j\xc3\xb6rg@x> SMTPUTF8", SMTP_EXT_ALL & ~SMTP_EXT_SMTPUTF8,
		  555, "5.5.4" },
		{ "FROM:<j\xc3rg@x> SMTPUTF8", SMTP_EXT_ALL, 501, "5.1.7" },
		{ "FROM:a@b", SMTP_EXT_ALL, 501, "5.1.7" },
		{ "FROM:  <a@b>", SMTP_EXT_ALL, 501, "5.1.7" },
		{ "FROM :<a@b>", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "FROM<a@b>", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "TO:<a@b>", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "FROM:<a@b>SIZE=1", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "FROM:<a@b> FOO", SMTP_EXT_ALL, 555, "5.5.4" },
		{ "FROM:<a@b> SIZE=1 SIZE=1", SMTP_EXT_ALL, 501, "5.5.4" },
		{ "FROM:<a@b>>", SMTP_EXT_ALL, 501, "5.5.4" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (smtp_cmd_parse_mail(str_c(bad[i].arg), bad[i].ext, &mail,
					&err))
			fail_msg("case %zu \"%s\" accepted", i, bad[i].arg);
		assert_int_equal(err.code, bad[i].code);
		assert_string_equal(err.enhanced, bad[i].enhanced);
		assert_null(mail.path.local);
		assert_null(mail.params.envid);
	}
	strbuf_free(&b);
}

static void test_rcpt_cmd(void **state)
{
	struct smtp_rcpt rcpt;
	struct smtp_status err;

	(void)state;
	assert_true(smtp_cmd_parse_rcpt(
		STR_LIT("TO:<bob@x> NOTIFY=FAILURE ORCPT=rfc822;bob@x"),
		SMTP_EXT_ALL, false, &rcpt, &err));
	assert_string_equal(rcpt.path.local, "bob");
	assert_int_equal(rcpt.params.notify, SMTP_NOTIFY_FAILURE);
	assert_string_equal(rcpt.params.orcpt, "bob@x");
	smtp_cmd_rcpt_clear(&rcpt);

	assert_true(smtp_cmd_parse_rcpt(STR_LIT("to: <Postmaster>"),
					SMTP_EXT_ALL, false, &rcpt, &err));
	assert_true(rcpt.path.flags & SMTP_PATH_POSTMASTER);
	smtp_cmd_rcpt_clear(&rcpt);

	assert_true(smtp_cmd_parse_rcpt(STR_LIT("TO:<user%other@x>"),
					SMTP_EXT_ALL, false, &rcpt, &err));
	assert_true(rcpt.path.flags & SMTP_PATH_RELAY_TRICKS);
	smtp_cmd_rcpt_clear(&rcpt);

	/* SMTPUTF8 comes from the transaction */
	assert_true(smtp_cmd_parse_rcpt(STR_LIT("TO:<\xc3\xa9@x>"), SMTP_EXT_ALL,
					true, &rcpt, &err));
	smtp_cmd_rcpt_clear(&rcpt);
	assert_false(smtp_cmd_parse_rcpt(STR_LIT("TO:<\xc3\xa9@x>"),
					 SMTP_EXT_ALL, false, &rcpt, &err));
	assert_int_equal(err.code, 553);
	assert_string_equal(err.enhanced, "5.6.7");

	assert_false(smtp_cmd_parse_rcpt(STR_LIT("TO:<>"), SMTP_EXT_ALL, false,
					 &rcpt, &err));
	assert_int_equal(err.code, 501);
	assert_string_equal(err.enhanced, "5.1.3");
	assert_false(smtp_cmd_parse_rcpt(STR_LIT("TO:<a@b> NOTIFY=NEVER,DELAY"),
					 SMTP_EXT_ALL, false, &rcpt, &err));
	assert_int_equal(err.code, 501);
	assert_null(rcpt.path.local);
	assert_false(smtp_cmd_parse_rcpt(STR_LIT("FROM:<a@b>"), SMTP_EXT_ALL,
					 false, &rcpt, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_mail_params_good),
		cmocka_unit_test(test_params_bad),
		cmocka_unit_test(test_rcpt_params_good),
		cmocka_unit_test(test_cmd_split),
		cmocka_unit_test(test_mail_cmd),
		cmocka_unit_test(test_rcpt_cmd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
