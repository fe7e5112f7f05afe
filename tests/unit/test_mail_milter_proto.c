/* Unit tests for mail/milter_proto: every MTA->milter packet byte for
 * byte, every milter->MTA reply decoded whole and drip-fed one byte at a
 * time, truncated, oversized and garbage packets, and the step rules. */
#include "unit.h"

#include "mail/milter_proto.h"

/* A packet: 4-byte length, command, data (given with its length). */
static void packet(struct strbuf *b, char cmd, const void *data, size_t n)
{
	uint32_t len = (uint32_t)n + 1;
	unsigned char h[4] = { (unsigned char)(len >> 24),
			       (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8), (unsigned char)len };

	strbuf_append(b, h, 4);
	strbuf_putc(b, cmd);
	strbuf_append(b, data, n);
}

static void assert_bytes(const struct strbuf *got, char cmd, const void *data,
			 size_t n)
{
	struct strbuf want = STRBUF_INIT;

	packet(&want, cmd, data, n);
	assert_int_equal(got->n, want.n);
	assert_memory_equal(got->p, want.p, want.n);
	strbuf_free(&want);
}

#define BYTES(s) s, sizeof(s) - 1

static void test_encoders(void **state UNUSED)
{
	struct strbuf b = STRBUF_INIT;

	milter_put_optneg(&b, 6, 0x1ff, 0x1ff7ff);
	assert_bytes(&b, 'O', BYTES("\0\0\0\6\0\0\1\xff\0\x1f\xf7\xff"));
	strbuf_reset(&b);

	struct milter_macro m[] = {
		{ "j", STR_LIT("mx.example.org") },
		{ "{daemon_name}", STR_LIT("posthorn") },
	};
	milter_put_macros(&b, MILTER_CMD_CONNECT, m, 2);
	assert_bytes(&b, 'D',
		     BYTES("Cj\0mx.example.org\0{daemon_name}\0posthorn\0"));
	strbuf_reset(&b);

	milter_put_macros(&b, MILTER_CMD_BODYEOB, NULL, 0);
	assert_bytes(&b, 'D', BYTES("E"));
	strbuf_reset(&b);

	milter_put_connect(&b, STR_LIT("client.example"), MILTER_FAMILY_INET,
			   25123, STR_LIT("192.0.2.7"));
	assert_bytes(&b, 'C', BYTES("client.example\0004\x62\x23"
				    "192.0.2.7\0"));
	strbuf_reset(&b);

	milter_put_connect(&b, STR_LIT("[2001:db8::1]"), MILTER_FAMILY_INET6,
			   1, STR_LIT("2001:db8::1"));
	assert_bytes(&b, 'C', BYTES("[2001:db8::1]\0006\0\1" "2001:db8::1\0"));
	strbuf_reset(&b);

	milter_put_connect(&b, STR_LIT("localhost"), MILTER_FAMILY_UNKNOWN, 0,
			   STR_NULL);
	assert_bytes(&b, 'C', BYTES("localhost\0U"));
	strbuf_reset(&b);

	milter_put_connect(&b, STR_LIT("localhost"), MILTER_FAMILY_UNIX, 0,
			   STR_LIT("/run/sock"));
	assert_bytes(&b, 'C', BYTES("localhost\0L\0\0/run/sock\0"));
	strbuf_reset(&b);

	milter_put_helo(&b, STR_LIT("client.example"));
	assert_bytes(&b, 'H', BYTES("client.example\0"));
	strbuf_reset(&b);

	struct str mail[] = { STR_LIT("<a@example.org>"), STR_LIT("SIZE=10"),
			      STR_LIT("BODY=8BITMIME") };
	milter_put_mail(&b, mail, 3);
	assert_bytes(&b, 'M', BYTES("<a@example.org>\0SIZE=10\0BODY=8BITMIME\0"));
	strbuf_reset(&b);

	struct str rcpt[] = { STR_LIT("<b@example.net>") };
	milter_put_rcpt(&b, rcpt, 1);
	assert_bytes(&b, 'R', BYTES("<b@example.net>\0"));
	strbuf_reset(&b);

	milter_put_header(&b, STR_LIT("Subject"), STR_LIT(" hi\r\n there"));
	assert_bytes(&b, 'L', BYTES("Subject\0 hi\r\n there\0"));
	strbuf_reset(&b);

	/* a NUL in a value ends it: the protocol cannot carry it */
	milter_put_header(&b, STR_LIT("X"), str_make("a\0b", 3));
	assert_bytes(&b, 'L', BYTES("X\0a\0"));
	strbuf_reset(&b);

	milter_put_body(&b, "line\r\n", 6);
	assert_bytes(&b, 'B', BYTES("line\r\n"));
	strbuf_reset(&b);

	char *big = xmalloc(MILTER_CHUNK_SIZE);

	memset(big, 'x', MILTER_CHUNK_SIZE);
	milter_put_body(&b, big, MILTER_CHUNK_SIZE);
	assert_bytes(&b, 'B', big, MILTER_CHUNK_SIZE);
	free(big);
	strbuf_reset(&b);

	milter_put_unknown(&b, STR_LIT("XFOO bar"));
	assert_bytes(&b, 'U', BYTES("XFOO bar\0"));
	strbuf_reset(&b);

	const char bare[] = { 'T', 'N', 'E', 'A', 'Q', 'K' };

	for (size_t i = 0; i < sizeof(bare); i++) {
		milter_put_bare(&b, (enum milter_cmd)bare[i]);
		assert_bytes(&b, bare[i], "", 0);
		strbuf_reset(&b);
	}
	strbuf_free(&b);
}

/* Decode in one piece and drip-fed: each prefix must ask for more, the
 * whole must decode to one reply that used every byte. */
static void decode_ok(const struct strbuf *in, struct milter_reply *r)
{
	size_t used;
	const char *error = NULL;

	for (size_t k = 0; k < in->n; k++)
		assert_int_equal(milter_decode(in->p, k, &used, r, &error),
				 MILTER_DECODE_MORE);
	assert_int_equal(milter_decode(in->p, in->n, &used, r, &error),
			 MILTER_DECODE_DONE);
	assert_int_equal(used, in->n);
}

static void decode_packet(char cmd, const void *data, size_t n,
			  struct strbuf *keep, struct milter_reply *r)
{
	strbuf_reset(keep);
	packet(keep, cmd, data, n);
	decode_ok(keep, r);
	assert_int_equal(r->kind, (unsigned char)cmd);
}

static void assert_str(struct str s, const char *want)
{
	assert_int_equal(s.n, strlen(want));
	assert_memory_equal(s.p, want, s.n);
}

static void test_decode_simple(void **state UNUSED)
{
	const char kinds[] = "acdrtps4f";
	struct strbuf b = STRBUF_INIT;
	struct milter_reply r;

	for (size_t i = 0; kinds[i] != '\0'; i++) {
		decode_packet(kinds[i], "", 0, &b, &r);
		assert_true(milter_reply_is_final(r.kind) ==
			    (kinds[i] != 'p'));
	}
	strbuf_free(&b);
}

static void test_decode_data(void **state UNUSED)
{
	struct strbuf b = STRBUF_INIT;
	struct milter_reply r;

	decode_packet('y', BYTES("554 5.7.1 Gtube pattern\0"), &b, &r);
	assert_int_equal(r.code, 554);
	assert_string_equal(r.enhanced, "5.7.1");
	assert_str(r.value, "554 5.7.1 Gtube pattern");

	decode_packet('y', BYTES("451-4.7.1 one\r\n451 4.7.1 two\0"), &b, &r);
	assert_int_equal(r.code, 451);
	assert_string_equal(r.enhanced, "4.7.1");

	decode_packet('y', BYTES("550 no enhanced code\0"), &b, &r);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enhanced, "");

	decode_packet('h', BYTES("X-Spam\0 yes\0"), &b, &r);
	assert_str(r.name, "X-Spam");
	assert_str(r.value, " yes");

	decode_packet('h', BYTES("DKIM-Signature\0v=1;\n\tb=abc\0"), &b, &r);
	assert_str(r.value, "v=1;\n\tb=abc");

	decode_packet('i', BYTES("\0\0\0\0X-First\0top\0"), &b, &r);
	assert_int_equal(r.index, 0);
	assert_str(r.name, "X-First");
	assert_str(r.value, "top");

	decode_packet('m', BYTES("\0\0\0\2Subject\0\0"), &b, &r);
	assert_int_equal(r.index, 2);
	assert_str(r.name, "Subject");
	assert_str(r.value, "");

	decode_packet('+', BYTES("<new@example.org>\0"), &b, &r);
	assert_str(r.value, "<new@example.org>");
	decode_packet('-', BYTES("<old@example.org>\0"), &b, &r);
	assert_str(r.value, "<old@example.org>");

	decode_packet('2', BYTES("<p@example.org>\0NOTIFY=NEVER\0"), &b, &r);
	assert_str(r.value, "<p@example.org>");
	assert_str(r.args, "NOTIFY=NEVER");
	decode_packet('2', BYTES("<p@example.org>\0"), &b, &r);
	assert_str(r.args, "");

	decode_packet('e', BYTES("<bounce@example.org>\0"), &b, &r);
	assert_str(r.value, "<bounce@example.org>");
	decode_packet('e', BYTES("<b@example.org>\0SIZE=5\0"), &b, &r);
	assert_str(r.args, "SIZE=5");

	decode_packet('q', BYTES("spam score 20\0"), &b, &r);
	assert_str(r.value, "spam score 20");

	decode_packet('b', BYTES("new\r\nbody\0with a NUL\r\n"), &b, &r);
	assert_int_equal(r.value.n, sizeof("new\r\nbody\0with a NUL\r\n") - 1);
	decode_packet('b', "", 0, &b, &r);
	assert_int_equal(r.value.n, 0);

	decode_packet('l', BYTES("\0\0\0\5{rcpt_addr} i\0"), &b, &r);
	assert_int_equal(r.index, 5);
	assert_str(r.value, "{rcpt_addr} i");

	decode_packet('O', BYTES("\0\0\0\6\0\0\0\x21\0\0\0\x10"), &b, &r);
	assert_int_equal(r.version, 6);
	assert_int_equal(r.actions, 0x21);
	assert_int_equal(r.protocol, 0x10);
	assert_int_equal(r.symlist[0].n, 0);

	decode_packet('O', BYTES("\0\0\0\6\0\0\1\0\0\0\0\0"
				 "\0\0\0\0j {daemon_name}\0"
				 "\0\0\0\5i\0"), &b, &r);
	assert_str(r.symlist[MILTER_STAGE_CONNECT], "j {daemon_name}");
	assert_str(r.symlist[MILTER_STAGE_EOM], "i");
	strbuf_free(&b);
}

/* Several replies back to back, accumulated one byte at a time: each is
 * decoded as soon as its last byte is there. */
static void test_decode_stream(void **state UNUSED)
{
	struct strbuf in = STRBUF_INIT, acc = STRBUF_INIT;
	const char want[] = "hmqbc";
	size_t got = 0;

	packet(&in, 'h', BYTES("X-A\0one\0"));
	packet(&in, 'm', BYTES("\0\0\0\1X-B\0\0"));
	packet(&in, 'q', BYTES("why\0"));
	packet(&in, 'b', BYTES("body"));
	packet(&in, 'c', "", 0);
	for (size_t i = 0; i < in.n; i++) {
		struct milter_reply r;
		const char *error;
		size_t used;

		strbuf_putc(&acc, in.p[i]);
		enum milter_decode_result res =
			milter_decode(acc.p, acc.n, &used, &r, &error);

		assert_int_not_equal(res, MILTER_DECODE_ERROR);
		if (res == MILTER_DECODE_DONE) {
			assert_int_equal(used, acc.n);
			assert_int_equal(r.kind, (unsigned char)want[got]);
			got++;
			strbuf_reset(&acc);
		}
	}
	assert_int_equal(got, 5);
	strbuf_free(&in);
	strbuf_free(&acc);
}

static void decode_error(const struct strbuf *in, const char *why)
{
	struct milter_reply r;
	const char *error = NULL;
	size_t used;

	assert_int_equal(milter_decode(in->p, in->n, &used, &r, &error),
			 MILTER_DECODE_ERROR);
	assert_non_null(error);
	if (why != NULL)
		assert_non_null(strstr(error, why));
}

static void bad_packet(char cmd, const void *data, size_t n, const char *why)
{
	struct strbuf b = STRBUF_INIT;

	packet(&b, cmd, data, n);
	decode_error(&b, why);
	strbuf_free(&b);
}

static void test_decode_garbage(void **state UNUSED)
{
	struct strbuf b = STRBUF_INIT;

	/* a length of 0 and one past the bound fail from the length alone */
	strbuf_append(&b, "\0\0\0\0", 4);
	decode_error(&b, "length 0");
	strbuf_reset(&b);
	strbuf_append(&b, "\0\x10\0\1", 4);
	decode_error(&b, "too long");
	strbuf_reset(&b);
	strbuf_append(&b, "\xff\xff\xff\xff" "c", 5);
	decode_error(&b, "too long");
	strbuf_reset(&b);
	/* exactly the bound is only incomplete */
	{
		struct milter_reply r;
		const char *error;
		size_t used;

		strbuf_append(&b, "\0\x10\0\0" "b", 5);
		assert_int_equal(milter_decode(b.p, b.n, &used, &r, &error),
				 MILTER_DECODE_MORE);
	}
	strbuf_free(&b);

	bad_packet('Z', "", 0, "unknown");
	bad_packet('\0', "", 0, "unknown");
	bad_packet('c', BYTES("x"), "longer");
	bad_packet('a', BYTES("\0"), "longer");
	bad_packet('y', BYTES("250 ok\0"), "4xx");
	bad_packet('y', BYTES("hello\0"), "REPLYCODE");
	bad_packet('y', BYTES("554 x"), "NUL");
	bad_packet('y', BYTES("554 x\0y"), "longer");
	bad_packet('y', BYTES("554-x\r\n"), "REPLYCODE");
	bad_packet('y', BYTES("554-a\r\n550 b\0"), "REPLYCODE");
	bad_packet('y', BYTES("\0"), "REPLYCODE");
	bad_packet('h', BYTES("X-A\0"), "strings");
	bad_packet('h', BYTES("X-A\0v"), "strings");
	bad_packet('h', BYTES("\0v\0"), "header name");
	bad_packet('h', BYTES("X A\0v\0"), "header name");
	bad_packet('h', BYTES("X:A\0v\0"), "header name");
	bad_packet('h', BYTES("X-A\0v\r\nInjected: 1\0"), "line break");
	bad_packet('h', BYTES("X-A\0v\nInjected: 1\0"), "line break");
	bad_packet('h', BYTES("X-A\0v\r\0"), "line break");
	bad_packet('h', BYTES("X-A\0v\r \0"), "line break");
	bad_packet('h', BYTES("X-A\0v\n\0"), "line break");
	bad_packet('h', BYTES("X-A\0v\0extra"), "after");
	bad_packet('i', BYTES("\0\0\0"), "index");
	bad_packet('m', BYTES("\0\0\0\1X\0"), "strings");
	bad_packet('m', BYTES("\0\0\0\1X\0v\0z\0"), "after");
	bad_packet('+', BYTES("<a@b>"), "NUL");
	bad_packet('+', "", 0, "NUL");
	bad_packet('-', BYTES("<a@b>\0x\0"), "longer");
	bad_packet('2', BYTES("<a@b>\0x"), "NUL");
	bad_packet('2', BYTES("<a@b>\0x\0y\0"), "longer");
	bad_packet('e', BYTES("<a@b>"), "NUL");
	bad_packet('q', BYTES("why"), "NUL");
	bad_packet('l', BYTES("\0\0\0\7x\0"), "SETSYMLIST");
	bad_packet('l', BYTES("\0\0\0\1x"), "SETSYMLIST");
	bad_packet('O', BYTES("\0\0\0\6\0\0\0\0"), "short");
	bad_packet('O', BYTES("\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\1x"), "macro");
	bad_packet('O', BYTES("\0\0\0\6\0\0\0\0\0\0\0\0\0\0\0\11x\0"),
		   "macro");
	bad_packet('O', BYTES("\0\0\0\6\0\0\0\0\0\0\0\0\0\0"), "macro");
}

static void test_steps(void **state UNUSED)
{
	uint32_t all = MILTER_P_OFFER;

	assert_false(milter_step_skipped(0, MILTER_CMD_CONNECT));
	assert_true(milter_step_skipped(MILTER_P_NOCONNECT, MILTER_CMD_CONNECT));
	assert_true(milter_step_skipped(MILTER_P_NOHELO, MILTER_CMD_HELO));
	assert_true(milter_step_skipped(MILTER_P_NOMAIL, MILTER_CMD_MAIL));
	assert_true(milter_step_skipped(MILTER_P_NORCPT, MILTER_CMD_RCPT));
	assert_true(milter_step_skipped(MILTER_P_NODATA, MILTER_CMD_DATA));
	assert_true(milter_step_skipped(MILTER_P_NOHDRS, MILTER_CMD_HEADER));
	assert_true(milter_step_skipped(MILTER_P_NOEOH, MILTER_CMD_EOH));
	assert_true(milter_step_skipped(MILTER_P_NOBODY, MILTER_CMD_BODY));
	assert_true(milter_step_skipped(MILTER_P_NOUNKNOWN, MILTER_CMD_UNKNOWN));
	assert_false(milter_step_skipped(all, MILTER_CMD_BODYEOB));
	assert_false(milter_step_skipped(all, MILTER_CMD_MACRO));
	assert_false(milter_step_skipped(MILTER_P_NOBODY, MILTER_CMD_HEADER));

	assert_true(milter_step_replies(0, MILTER_CMD_CONNECT));
	assert_false(milter_step_replies(0, MILTER_CMD_MACRO));
	assert_false(milter_step_replies(0, MILTER_CMD_ABORT));
	assert_false(milter_step_replies(0, MILTER_CMD_QUIT));
	assert_false(milter_step_replies(0, MILTER_CMD_QUIT_NC));
	assert_true(milter_step_replies(all, MILTER_CMD_BODYEOB));
	assert_true(milter_step_replies(all, MILTER_CMD_OPTNEG));
	assert_false(milter_step_replies(MILTER_P_NR_CONN, MILTER_CMD_CONNECT));
	assert_false(milter_step_replies(MILTER_P_NR_HELO, MILTER_CMD_HELO));
	assert_false(milter_step_replies(MILTER_P_NR_MAIL, MILTER_CMD_MAIL));
	assert_false(milter_step_replies(MILTER_P_NR_RCPT, MILTER_CMD_RCPT));
	assert_false(milter_step_replies(MILTER_P_NR_DATA, MILTER_CMD_DATA));
	assert_false(milter_step_replies(MILTER_P_NR_HDR, MILTER_CMD_HEADER));
	assert_false(milter_step_replies(MILTER_P_NR_EOH, MILTER_CMD_EOH));
	assert_false(milter_step_replies(MILTER_P_NR_BODY, MILTER_CMD_BODY));
	assert_false(milter_step_replies(MILTER_P_NR_UNKN, MILTER_CMD_UNKNOWN));
	assert_true(milter_step_replies(MILTER_P_NR_BODY, MILTER_CMD_HEADER));

	assert_int_equal(milter_cmd_stage(MILTER_CMD_CONNECT), 0);
	assert_int_equal(milter_cmd_stage(MILTER_CMD_BODYEOB), 5);
	assert_int_equal(milter_cmd_stage(MILTER_CMD_EOH), 6);
	assert_int_equal(milter_cmd_stage(MILTER_CMD_BODY), -1);
	assert_string_equal(milter_cmd_name(MILTER_CMD_BODYEOB), "BODYEOB");
	assert_string_equal(milter_reply_name(MILTER_R_REPLYCODE), "REPLYCODE");
	assert_string_equal(milter_reply_name((enum milter_reply_kind)'Z'), "?");
}

static bool allowed(enum milter_cmd cmd, char kind, uint32_t actions,
		    uint32_t protocol)
{
	struct milter_reply r = { .kind = (enum milter_reply_kind)kind };
	const char *error = NULL;
	bool ok = milter_reply_allowed(cmd, &r, actions, protocol, &error);

	assert_true(ok || error != NULL);
	return ok;
}

static void test_allowed(void **state UNUSED)
{
	const char *mods = "hm+2-bqei";
	const uint32_t need[] = { MILTER_F_ADDHDRS, MILTER_F_CHGHDRS,
				  MILTER_F_ADDRCPT, MILTER_F_ADDRCPT_PAR,
				  MILTER_F_DELRCPT, MILTER_F_CHGBODY,
				  MILTER_F_QUARANTINE, MILTER_F_CHGFROM,
				  MILTER_F_ADDHDRS };

	for (size_t i = 0; mods[i] != '\0'; i++) {
		assert_true(allowed(MILTER_CMD_BODYEOB, mods[i], need[i], 0));
		assert_false(allowed(MILTER_CMD_BODYEOB, mods[i],
				     MILTER_F_ALL & ~need[i], 0));
		assert_false(allowed(MILTER_CMD_RCPT, mods[i], MILTER_F_ALL, 0));
		assert_false(allowed(MILTER_CMD_BODY, mods[i], MILTER_F_ALL, 0));
	}
	assert_true(allowed(MILTER_CMD_BODYEOB, 'p', 0, 0));
	assert_false(allowed(MILTER_CMD_MAIL, 'p', 0, 0));
	assert_true(allowed(MILTER_CMD_BODY, 's', 0, MILTER_P_SKIP));
	assert_false(allowed(MILTER_CMD_BODY, 's', 0, 0));
	assert_false(allowed(MILTER_CMD_HEADER, 's', 0, MILTER_P_SKIP));
	assert_true(allowed(MILTER_CMD_CONNECT, 'r', 0, 0));
	assert_true(allowed(MILTER_CMD_RCPT, 'y', 0, 0));
	assert_true(allowed(MILTER_CMD_HELO, 'a', 0, 0));
	assert_false(allowed(MILTER_CMD_OPTNEG, 'c', 0, 0));
	assert_true(allowed(MILTER_CMD_OPTNEG, 'O', 0, 0));
	assert_false(allowed(MILTER_CMD_MAIL, 'O', 0, 0));
	assert_false(allowed(MILTER_CMD_BODYEOB, 'l', MILTER_F_ALL, 0));

	struct milter_reply r = { .kind = MILTER_R_OPTNEG, .version = 6,
				  .actions = MILTER_F_ADDHDRS };
	const char *error;

	assert_true(milter_optneg_check(&r, MILTER_F_ALL, MILTER_P_OFFER,
					&error));
	r.version = 2;
	assert_true(milter_optneg_check(&r, MILTER_F_ALL, 0, &error));
	r.version = 1;
	assert_false(milter_optneg_check(&r, MILTER_F_ALL, 0, &error));
	r.version = 7;
	assert_false(milter_optneg_check(&r, MILTER_F_ALL, 0, &error));
	r.version = 6;
	r.actions = 0x200;
	assert_false(milter_optneg_check(&r, MILTER_F_ALL, 0, &error));
	r.actions = MILTER_F_CHGBODY;
	assert_false(milter_optneg_check(&r, MILTER_F_ADDHDRS, 0, &error));
	r.kind = MILTER_R_CONTINUE;
	r.actions = 0;
	assert_false(milter_optneg_check(&r, MILTER_F_ALL, 0, &error));
}

static void test_value_crlf(void **state UNUSED)
{
	struct strbuf b = STRBUF_INIT;

	milter_value_crlf(&b, STR_LIT("a;\n\tb;\r\n c"));
	assert_string_equal(strbuf_cstr(&b), "a;\r\n\tb;\r\n c");
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_decode_simple),
		cmocka_unit_test(test_decode_data),
		cmocka_unit_test(test_decode_stream),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_value_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
