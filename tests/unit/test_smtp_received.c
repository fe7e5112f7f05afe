/* Unit tests for proto/smtp/smtp_received (the Received: trace header) and
 * proto/common/cmd_table (command lookup). */
#include "unit.h"

#include "proto/common/cmd_table.h"
#include "proto/smtp/smtp_received.h"

#include <string.h>

static void test_received_plain(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct smtp_received r = {
		.helo = "client.example.org", .peer_ip = "192.0.2.7",
		.hostname = "mx.example.test", .esmtp = true,
		.id = "abc123.1", .for_rcpt = "demo@localhost",
		.when = 0,
	};

	(void)state;
	smtp_received_append(&b, &r);
	assert_string_equal(b.p,
		"Received: from client.example.org ([192.0.2.7])\r\n"
		"\tby mx.example.test (Posthorn) with ESMTP\r\n"
		"\tid abc123.1\r\n"
		"\tfor <demo@localhost>;\r\n"
		"\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
	strbuf_free(&b);
}

static void test_received_tls_auth(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct smtp_received r = {
		.helo = "", .peer_ip = "2001:db8::1",
		.hostname = "mx", .esmtp = true, .authenticated = true,
		.tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
		.id = "x.2", .when = 86400 + 3661,
	};

	(void)state;
	smtp_received_append(&b, &r);
	assert_string_equal(b.p,
		"Received: from unknown ([2001:db8::1])\r\n"
		"\tby mx (Posthorn) with ESMTPSA\r\n"
		"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
		"\tid x.2;\r\n"
		"\tFri, 02 Jan 1970 01:01:01 +0000\r\n");
	strbuf_reset(&b);
	/* HELO (not EHLO) is plain SMTP whatever the rest (RFC 3848). */
	r.esmtp = false;
	smtp_received_append(&b, &r);
	assert_non_null(strstr(b.p, " with SMTP\r\n"));
	strbuf_reset(&b);
	r.lmtp = true;
	smtp_received_append(&b, &r);
	assert_non_null(strstr(b.p, " with LMTPSA\r\n"));
	strbuf_free(&b);
}

static void test_received_local_and_auth_user(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct smtp_received r = {
		.helo = "ignored", .peer_ip = "unix", .local_user = "alice",
		.local_uid = 1000, .hostname = "mx", .esmtp = true,
		.id = "q.1", .when = 0,
	};

	(void)state;
	smtp_received_append(&b, &r);
	assert_string_equal(b.p,
		"Received: from local user alice (uid 1000)\r\n"
		"\tby mx (Posthorn) with ESMTP\r\n"
		"\tid q.1;\r\n"
		"\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
	strbuf_reset(&b);
	/* received_auth: the AUTH user in a comment of its own line. */
	r.local_user = NULL;
	r.helo = "c";
	r.peer_ip = "192.0.2.1";
	r.authenticated = true;
	r.auth_user = "demo@localhost";
	smtp_received_append(&b, &r);
	assert_string_equal(b.p,
		"Received: from c ([192.0.2.1])\r\n"
		"\tby mx (Posthorn) with ESMTPA\r\n"
		"\t(authenticated as demo@localhost)\r\n"
		"\tid q.1;\r\n"
		"\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
	strbuf_free(&b);
}

static void test_clean_helo(void **state)
{
	char *s;
	char longname[400];

	(void)state;
	s = smtp_received_clean_helo(STR_LIT("ok.example"));
	assert_string_equal(s, "ok.example");
	free(s);
	/* Header injection and comment breaking are neutralised. */
	s = smtp_received_clean_helo(STR_LIT("a\r\nX-Evil: 1 (b) \\ \xc3\xa9"));
	assert_string_equal(s, "a??X-Evil:?1??b??????");
	free(s);
	memset(longname, 'a', sizeof(longname));
	s = smtp_received_clean_helo(str_make(longname, sizeof(longname)));
	assert_int_equal(strlen(s), 255);
	free(s);
}

static int h_one(void *session, struct str arg)
{
	(void)session;
	(void)arg;
	return 1;
}

static int h_two(void *session, struct str arg)
{
	(void)session;
	(void)arg;
	return 0;
}

static void test_cmd_table_lookup(void **state)
{
	static const struct cmd_def table[] = {
		{ "MAIL", h_one, 1, NULL },
		{ "STARTTLS", h_two, 2, "STARTTLS" },
	};
	const struct cmd_def *d;

	(void)state;
	d = cmd_table_lookup(table, ARRAY_SIZE(table), STR_LIT("starttls"));
	assert_ptr_equal(d, &table[1]);
	assert_int_equal(d->handler(NULL, STR_LIT("")), 0);
	assert_ptr_equal(cmd_table_lookup(table, ARRAY_SIZE(table), STR_LIT("Mail")),
			 &table[0]);
	assert_null(cmd_table_lookup(table, ARRAY_SIZE(table), STR_LIT("MAI")));
	assert_null(cmd_table_lookup(table, ARRAY_SIZE(table), STR_LIT("MAILX")));
	assert_null(cmd_table_lookup(table, ARRAY_SIZE(table), STR_LIT("")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_received_plain),
		cmocka_unit_test(test_received_tls_auth),
		cmocka_unit_test(test_received_local_and_auth_user),
		cmocka_unit_test(test_clean_helo),
		cmocka_unit_test(test_cmd_table_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
