/* Unit tests for queue/queue_sendmail: line ends, the lone-dot end, header
 * fix-ups, -t recipients and Bcc removal, address lists; every case is also
 * fed one byte at a time. */
#include "unit.h"

#include "base/strbuf.h"
#include "queue/queue_sendmail.h"

static const struct queue_sendmail_opts base_opts = {
	.dot_ends = true,
	.from = "joe@mx.example.test",
	.hostname = "mx.example.test",
	.now = 1795383600,
};

/* Prepare input both whole and drip-fed; both must agree except for the
 * random Message-ID, so callers give inputs that have one when they
 * compare bytes. */
static void prepare(const struct queue_sendmail_opts *o, const char *in,
		    struct queue_sendmail_msg *m, bool *stopped_r)
{
	struct queue_sendmail *s = queue_sendmail_new(o);
	struct queue_sendmail_msg drip;
	bool stopped = false, drip_stopped = false;

	stopped = !queue_sendmail_feed(s, in, strlen(in));
	queue_sendmail_finish(&s, m);
	assert_null(s);

	s = queue_sendmail_new(o);
	for (size_t i = 0; in[i] != '\0'; i++) {
		if (!queue_sendmail_feed(s, in + i, 1)) {
			drip_stopped = true;
			break;
		}
	}
	queue_sendmail_finish(&s, &drip);
	assert_int_equal(stopped, drip_stopped);
	assert_int_equal(drip.n_rcpts, m->n_rcpts);
	for (size_t i = 0; i < m->n_rcpts; i++)
		assert_string_equal(drip.rcpts[i], m->rcpts[i]);
	if (strstr(in, "Message-ID:") != NULL) {
		assert_int_equal(drip.size, m->size);
		assert_memory_equal(drip.data, m->data, m->size);
	}
	queue_sendmail_msg_free(&drip);
	if (stopped_r != NULL)
		*stopped_r = stopped;
}

static void test_complete_message(void **state)
{
	static const char in[] =
		"From: Joe <joe@mx.example.test>\n"
		"To: bob@example.test\n"
		"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
		"Message-ID: <1@x>\n"
		"Subject: hi\n"
		"\n"
		"line\r\n"
		"..leading dot kept as given\n"
		"last";
	static const char want[] =
		"From: Joe <joe@mx.example.test>\r\n"
		"To: bob@example.test\r\n"
		"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"Message-ID: <1@x>\r\n"
		"Subject: hi\r\n"
		"\r\n"
		"line\r\n"
		"..leading dot kept as given\r\n"
		"last\r\n";
	struct queue_sendmail_msg m;
	bool stopped;

	(void)state;
	prepare(&base_opts, in, &m, &stopped);
	assert_false(stopped);
	assert_int_equal(m.size, sizeof(want) - 1);
	assert_memory_equal(m.data, want, m.size);
	assert_int_equal(m.n_rcpts, 0);	/* no -t */
	queue_sendmail_msg_free(&m);
}

static void test_dot_ends_input(void **state)
{
	static const char in[] =
		"Message-ID: <2@x>\nFrom: a@b.test\nDate: x\n\nbody\n.\nafter\n";
	struct queue_sendmail_opts o = base_opts;
	struct queue_sendmail_msg m;
	bool stopped;

	(void)state;
	prepare(&o, in, &m, &stopped);
	assert_true(stopped);
	assert_non_null(strstr(m.data, "\r\n\r\nbody\r\n"));
	assert_null(strstr(m.data, "after"));
	queue_sendmail_msg_free(&m);

	/* -i: the lone dot is a line of the message. */
	o.dot_ends = false;
	prepare(&o, in, &m, &stopped);
	assert_false(stopped);
	assert_non_null(strstr(m.data, "\r\nbody\r\n.\r\nafter\r\n"));
	queue_sendmail_msg_free(&m);

	/* ".." and ". " are not the end. */
	o.dot_ends = true;
	prepare(&o, "Message-ID: <3@x>\nFrom: a@b.test\nDate: x\n\n..\n. \nend\n",
		&m, &stopped);
	assert_false(stopped);
	assert_non_null(strstr(m.data, "\r\n..\r\n. \r\nend\r\n"));
	queue_sendmail_msg_free(&m);
}

static void test_missing_fields(void **state)
{
	struct queue_sendmail_opts o = base_opts;
	struct queue_sendmail_msg m;
	char want_mid[64];

	(void)state;
	prepare(&o, "Subject: x\n\nhello\n", &m, NULL);
	assert_true(strncmp(m.data, "Subject: x\r\nFrom: joe@mx.example.test\r\n"
			    "Date: ", 40) == 0);
	snprintf(want_mid, sizeof(want_mid), "\r\nMessage-ID: <%lld.",
		 (long long)o.now);
	assert_non_null(strstr(m.data, want_mid));
	assert_non_null(strstr(m.data, "@mx.example.test>\r\n\r\nhello\r\n"));
	queue_sendmail_msg_free(&m);

	/* -F: a full name, quoted when it has specials. */
	o.fullname = "Joe Q. Public";
	prepare(&o, "Subject: x\n\nhello\n", &m, NULL);
	assert_non_null(strstr(m.data, "\r\nFrom: \"Joe Q. Public\" <joe@mx.example.test>\r\n"));
	queue_sendmail_msg_free(&m);
	o.fullname = "Joe Public";
	prepare(&o, "Subject: x\n\nhello\n", &m, NULL);
	assert_non_null(strstr(m.data, "\r\nFrom: Joe Public <joe@mx.example.test>\r\n"));
	queue_sendmail_msg_free(&m);

	/* No header at all: the input is the body. */
	prepare(&base_opts, "just text\nmore\n", &m, NULL);
	assert_true(strncmp(m.data, "From: joe@mx.example.test\r\nDate: ", 33) == 0);
	assert_non_null(strstr(m.data, ">\r\n\r\njust text\r\nmore\r\n"));
	queue_sendmail_msg_free(&m);

	/* A first line of a lone CR is body, not the empty line (fuzzing). */
	prepare(&base_opts, "\r\r\n\r\nx\n", &m, NULL);
	for (size_t i = 0; i < m.size; i++) {
		if (m.data[i] == '\n')
			assert_int_equal(m.data[i - 1], '\r');
	}
	assert_non_null(strstr(m.data, ">\r\n\r\n\r\r\n\r\nx\r\n"));
	queue_sendmail_msg_free(&m);

	/* Empty input still gives a valid message. */
	prepare(&base_opts, "", &m, NULL);
	assert_non_null(strstr(m.data, "From: joe@mx.example.test\r\n"));
	assert_int_equal(m.data[m.size - 1], '\n');
	queue_sendmail_msg_free(&m);
}

static void test_extract_rcpts(void **state)
{
	static const char in[] =
		"From: me@example.test\n"
		"To: Bob <bob@example.test>, \"Doe, Jane\" <jane@example.test>\n"
		"Cc: carol@example.test (Carol),\n"
		"  team: dan@example.test, <erin@example.test>;\n"
		"Bcc: secret@example.test,\n"
		"\thidden@example.test\n"
		"Subject: plans\n"
		"Message-ID: <4@x>\n"
		"Date: x\n"
		"\n"
		"To: not-a-header@example.test\n";
	static const char *const want[] = {
		"bob@example.test", "jane@example.test", "carol@example.test",
		"dan@example.test", "erin@example.test", "secret@example.test",
		"hidden@example.test",
	};
	struct queue_sendmail_opts o = base_opts;
	struct queue_sendmail_msg m;

	(void)state;
	o.extract_rcpts = true;
	prepare(&o, in, &m, NULL);
	assert_int_equal(m.n_rcpts, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(m.rcpts[i], want[i]);
	assert_null(strstr(m.data, "Bcc"));
	assert_null(strstr(m.data, "secret@"));
	assert_null(strstr(m.data, "hidden@"));
	assert_non_null(strstr(m.data, "\r\n  team: dan@example.test, <erin@example.test>;\r\n"
			       "Subject: plans\r\n"));
	queue_sendmail_msg_free(&m);

	/* Without -t, Bcc stays (the server does not see it as special). */
	prepare(&base_opts, in, &m, NULL);
	assert_int_equal(m.n_rcpts, 0);
	assert_non_null(strstr(m.data, "Bcc: secret@example.test,\r\n\thidden@example.test\r\n"));
	queue_sendmail_msg_free(&m);
}

static void collect(void *arg, const char *address)
{
	struct strbuf *b = arg;

	strbuf_printf(b, "[%s]", address);
}

static void test_addresses(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "a@x", "[a@x]" },
		{ "A <a@x>, b@y", "[a@x][b@y]" },
		{ "\"Last, First\" <f@x>", "[f@x]" },
		{ "\"odd guy\"@x", "[\"odd guy\"@x]" },
		{ "(c) a@x (comment, with comma)", "[a@x]" },
		{ "<@relay.x,@r2.x:u@final.x>", "[u@final.x]" },
		{ "undisclosed-recipients:;", "" },
		{ "g: a@x, b@y;, c@z", "[a@x][b@y][c@z]" },
		{ "Just A Name", "" },
		{ "", "" },
		{ ",,, ,", "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf b = STRBUF_INIT;

		strbuf_append_c(&b, "");
		queue_sendmail_addresses(cases[i].in, collect, &b);
		assert_string_equal(strbuf_cstr(&b), cases[i].want);
		strbuf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_message),
		cmocka_unit_test(test_dot_ends_input),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_extract_rcpts),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
