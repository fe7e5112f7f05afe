/* Unit tests for proto/pop3: the command line parser, number arguments,
 * the extent of TOP, the maildrop locks and the UPDATE ranges. */
#include "unit.h"

#include "proto/pop3/pop3_int.h"

static enum pop3_cmd_result parse(const char *line, struct pop3_cmd *cmd)
{
	return pop3_cmd_parse(str_c(line), cmd);
}

static void test_parse_words(void **state)
{
	struct pop3_cmd cmd;

	(void)state;
	assert_int_equal(parse("USER demo@localhost", &cmd), POP3_CMD_OK);
	assert_true(str_eq(cmd.name, STR_LIT("USER")));
	assert_int_equal(cmd.n_args, 1);
	assert_true(str_eq(cmd.args[0], STR_LIT("demo@localhost")));

	assert_int_equal(parse("  top  3 10  ", &cmd), POP3_CMD_OK);
	assert_true(str_eq(cmd.name, STR_LIT("top")));
	assert_true(str_eq(cmd.arg, STR_LIT("3 10")));
	assert_int_equal(cmd.n_args, 2);
	assert_true(str_eq(cmd.args[0], STR_LIT("3")));
	assert_true(str_eq(cmd.args[1], STR_LIT("10")));

	assert_int_equal(parse("STAT", &cmd), POP3_CMD_OK);
	assert_int_equal(cmd.n_args, 0);
	assert_int_equal(cmd.arg.n, 0);

	/* PASS takes the rest of the line; more than two words are flagged */
	assert_int_equal(parse("PASS my secret\tpass phrase", &cmd), POP3_CMD_OK);
	assert_true(str_eq(cmd.arg, STR_LIT("my secret\tpass phrase")));
	assert_int_equal(cmd.n_args, POP3_CMD_MAX_ARGS + 1);
}

static void test_parse_errors(void **state)
{
	struct pop3_cmd cmd;
	char line[POP3_AUTH_LINE_MAX + 1];

	(void)state;
	assert_int_equal(parse("", &cmd), POP3_CMD_EMPTY);
	assert_int_equal(parse("   ", &cmd), POP3_CMD_EMPTY);
	assert_int_equal(parse("RE\001TR 1", &cmd), POP3_CMD_BAD);
	assert_int_equal(pop3_cmd_parse(STR_LIT("RETR 1\0"), &cmd), POP3_CMD_BAD);
	assert_int_equal(parse("RETR 1\r", &cmd), POP3_CMD_BAD);
	assert_int_equal(parse("US-ER x", &cmd), POP3_CMD_BAD);
	assert_int_equal(parse("ABCDEFGHIJKLMNOPQ", &cmd), POP3_CMD_BAD);
	assert_int_equal(parse("ABCDEFGHIJKLMNOP", &cmd), POP3_CMD_OK);
	assert_int_equal(cmd.name.n, POP3_CMD_NAME_MAX);

	/* RFC 2449: 255 octets with CRLF; AUTH lines may be longer */
	memset(line, 'a', sizeof(line));
	memcpy(line, "USER ", 5);
	line[POP3_CMD_LINE_MAX] = '\0';
	assert_int_equal(parse(line, &cmd), POP3_CMD_OK);
	assert_int_equal(cmd.args[0].n, POP3_CMD_LINE_MAX - 5);
	line[POP3_CMD_LINE_MAX] = 'a';
	line[POP3_CMD_LINE_MAX + 1] = '\0';
	assert_int_equal(parse(line, &cmd), POP3_CMD_TOO_LONG);
	assert_int_equal(cmd.name.n, 0);
	memcpy(line, "AUTH ", 5);
	line[POP3_CMD_LINE_MAX + 1] = 'a';
	line[POP3_AUTH_LINE_MAX] = '\0';
	assert_int_equal(parse(line, &cmd), POP3_CMD_OK);
	assert_int_equal(cmd.args[0].n, POP3_AUTH_LINE_MAX - 5);
}

static void test_number(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_true(pop3_cmd_number(STR_LIT("1"), 1, &v));
	assert_int_equal(v, 1);
	assert_true(pop3_cmd_number(STR_LIT("0"), 0, &v));
	assert_int_equal(v, 0);
	assert_false(pop3_cmd_number(STR_LIT("0"), 1, &v));
	assert_true(pop3_cmd_number(STR_LIT("4294967295"), 1, &v));
	assert_true(v == UINT32_MAX);
	assert_false(pop3_cmd_number(STR_LIT("4294967296"), 1, &v));
	assert_false(pop3_cmd_number(STR_LIT("99999999999"), 1, &v));
	assert_false(pop3_cmd_number(STR_LIT("+1"), 1, &v));
	assert_false(pop3_cmd_number(STR_LIT("-1"), 0, &v));
	assert_false(pop3_cmd_number(STR_LIT(" 1"), 1, &v));
	assert_false(pop3_cmd_number(STR_LIT("1x"), 1, &v));
	assert_false(pop3_cmd_number(STR_LIT(""), 0, &v));
	assert_true(pop3_cmd_number(STR_LIT("007"), 1, &v));
	assert_int_equal(v, 7);
}

static size_t top(const char *msg, uint32_t lines)
{
	return pop3_cmd_top_size(msg, strlen(msg), lines);
}

static void test_top_size(void **state)
{
	const char *crlf = "Subject: x\r\nFrom: a@b\r\n\r\nl1\r\nl2\r\nl3";
	const char *lf = "Subject: x\n\nl1\nl2\n";

	(void)state;
	assert_int_equal(top(crlf, 0), strlen("Subject: x\r\nFrom: a@b\r\n\r\n"));
	assert_int_equal(top(crlf, 1), strlen("Subject: x\r\nFrom: a@b\r\n\r\nl1\r\n"));
	assert_int_equal(top(crlf, 2), strlen(crlf) - 2);
	/* the last line has no line end: all of it */
	assert_int_equal(top(crlf, 3), strlen(crlf));
	assert_int_equal(top(crlf, 1000), strlen(crlf));
	assert_int_equal(top(lf, 0), strlen("Subject: x\n\n"));
	assert_int_equal(top(lf, 1), strlen("Subject: x\n\nl1\n"));
	assert_int_equal(top(lf, 5), strlen(lf));
	/* no blank line: it is all header */
	assert_int_equal(top("Subject: x\r\nFrom: y\r\n", 0),
			 strlen("Subject: x\r\nFrom: y\r\n"));
	/* a message that starts with its blank line */
	assert_int_equal(top("\r\nbody\r\n", 0), 2);
	assert_int_equal(top("", 3), 0);
}

static struct pop3_server *server_new(void)
{
	static struct store *no_store;
	struct pop3_settings set = { .core.hostname = "pop.example.test" };
	struct session_env env = { .storep = &no_store };

	return pop3_server_new(&set, &env);
}

static void test_lock(void **state)
{
	struct pop3_server *server = server_new();
	const char *error;

	(void)state;
	assert_int_equal(pop3_maildrop_lock(server, NULL, 1, &error), 1);
	assert_int_equal(pop3_maildrop_lock(server, NULL, 1, &error), 0);
	for (int64_t id = 2; id < 100; id++)
		assert_int_equal(pop3_maildrop_lock(server, NULL, id, &error), 1);
	assert_int_equal(pop3_maildrop_lock(server, NULL, 50, &error), 0);
	pop3_maildrop_unlock(server, NULL, 1);
	assert_int_equal(pop3_maildrop_lock(server, NULL, 1, &error), 1);
	for (int64_t id = 1; id < 100; id++)
		pop3_maildrop_unlock(server, NULL, id);
	assert_int_equal(pop3_maildrop_lock(server, NULL, 50, &error), 1);
	pop3_maildrop_unlock(server, NULL, 50);
	pop3_server_free(&server);
	assert_null(server);
}

static void test_ranges_and_get(void **state)
{
	struct pop3_msg msgs[] = {
		{ .uid = 3 }, { .uid = 5, .deleted = true },
		{ .uid = 9, .deleted = true }, { .uid = 10 },
		{ .uid = 11, .deleted = true },
	};
	struct pop3_maildrop drop = {
		.msgs = msgs, .count = ARRAY_SIZE(msgs), .n_deleted = 3,
	};
	struct store_uid_range *r;
	size_t n;

	(void)state;
	n = pop3_maildrop_deleted_ranges(&drop, &r);
	assert_int_equal(n, 2);
	/* 5 and 9 are neighbours in the snapshot: 6-8 were gone already */
	assert_int_equal(r[0].lo, 5);
	assert_int_equal(r[0].hi, 9);
	assert_int_equal(r[1].lo, 11);
	assert_int_equal(r[1].hi, 11);
	free(r);

	assert_ptr_equal(pop3_maildrop_get(&drop, STR_LIT("1")), &msgs[0]);
	assert_ptr_equal(pop3_maildrop_get(&drop, STR_LIT("4")), &msgs[3]);
	assert_null(pop3_maildrop_get(&drop, STR_LIT("2")));	/* deleted */
	assert_null(pop3_maildrop_get(&drop, STR_LIT("6")));
	assert_null(pop3_maildrop_get(&drop, STR_LIT("0")));
	assert_null(pop3_maildrop_get(&drop, STR_LIT("x")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_words),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_top_size),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_ranges_and_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
