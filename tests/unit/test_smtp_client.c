/* Unit tests for delivery/smtp_client against a scripted SMTP server on
 * loopback: pipelining, lock-step, HELO fallback, DSN parameters, SIZE and
 * SMTPUTF8 refusals, CHUNKING, several messages on one connection, RSET,
 * refused connects, required TLS and REQUIRETLS over plaintext, required
 * TLS relaxed by TLS-Required: No, and lines over 998 octets (BINARYMIME or
 * quoted-printable). */
#include "unit.h"

#include "base/strbuf.h"
#include "delivery/smtp_client.h"
#include "net/tls.h"

#include <stdatomic.h>
#include <time.h>

/* ---- the scripted server ---- */

struct fake {
	const char *greeting;	/* "220 fake ESMTP" */
	const char *ehlo;	/* the EHLO reply, NULL = 502 */
	const char *final;	/* reply to the end of data */
	struct strbuf log;	/* commands, and "<data N bytes>" */
	struct strbuf data;	/* the last message, unstuffed */
	bool in_data;
	bool early;		/* answer DATA's first line, then ignore all */
	bool ignoring;
	uint64_t bdat_left;
};

static struct fake fake;

static void fk_open(struct conn *conn)
{
	if (fake.greeting != NULL)	/* NULL: a server that never greets */
		conn_printf(conn, "%s\r\n", fake.greeting);
}

static void fk_command(struct conn *conn, struct str line)
{
	strbuf_append_str(&fake.log, line);
	strbuf_putc(&fake.log, '\n');
	if (str_casestarts_with(line, STR_LIT("EHLO"))) {
		if (fake.ehlo == NULL)
			conn_write_str(conn, "502 5.5.1 no EHLO here\r\n");
		else
			conn_write_str(conn, fake.ehlo);
	} else if (str_casestarts_with(line, STR_LIT("HELO"))) {
		conn_write_str(conn, "250 fake\r\n");
	} else if (str_casestarts_with(line, STR_LIT("MAIL"))) {
		if (str_find(line, STR_LIT("refused")) >= 0)
			conn_write_str(conn, "553 5.1.8 sender refused\r\n");
		else
			conn_write_str(conn, "250 2.1.0 ok\r\n");
	} else if (str_casestarts_with(line, STR_LIT("RCPT"))) {
		if (str_find(line, STR_LIT("bad")) >= 0)
			conn_write_str(conn, "550 5.1.1 no such user\r\n");
		else if (str_find(line, STR_LIT("later")) >= 0)
			conn_write_str(conn, "450 4.2.1 try later\r\n");
		else
			conn_write_str(conn, "250 2.1.5 ok\r\n");
	} else if (str_casestarts_with(line, STR_LIT("DATA"))) {
		conn_write_str(conn, "354 go\r\n");
		strbuf_reset(&fake.data);
		fake.in_data = true;
	} else if (str_casestarts_with(line, STR_LIT("BDAT"))) {
		uint64_t n = 0;
		struct str rest = str_from(line, 5), num, last;

		str_split(rest, ' ', &num, &last);
		assert_true(str_to_u64(num, UINT64_MAX, &n));
		strbuf_reset(&fake.data);
		fake.bdat_left = n;
		if (n == 0)
			conn_write_str(conn, fake.final);
	} else if (str_casestarts_with(line, STR_LIT("RSET"))) {
		conn_write_str(conn, "250 2.0.0 ok\r\n");
	} else if (str_casestarts_with(line, STR_LIT("QUIT"))) {
		conn_write_str(conn, "221 2.0.0 bye\r\n");
		conn_close(conn);
	} else {
		conn_write_str(conn, "500 5.5.2 what\r\n");
	}
}

static void fk_input(struct conn *conn)
{
	struct str line;
	unsigned flags;

	for (;;) {
		if (fake.bdat_left > 0) {
			struct str d;
			size_t n = conn_read_bytes(conn, fake.bdat_left, &d);

			if (n == 0)
				return;
			strbuf_append_str(&fake.data, d);
			fake.bdat_left -= n;
			if (fake.bdat_left == 0) {
				strbuf_printf(&fake.log, "<bdat %zu bytes>\n",
					      fake.data.n);
				conn_write_str(conn, fake.final);
			}
			continue;
		}
		if (conn_read_line(conn, 10000, &line, &flags) != 1)
			return;
		if (fake.ignoring)
			continue;
		if (fake.in_data && fake.early) {
			conn_write_str(conn, "554 5.6.0 refused early\r\n");
			fake.ignoring = true;
			continue;
		}
		if (fake.in_data) {
			if (str_eq(line, STR_LIT("."))) {
				fake.in_data = false;
				strbuf_printf(&fake.log, "<data %zu bytes>\n",
					      fake.data.n);
				conn_write_str(conn, fake.final);
				continue;
			}
			if (line.n > 0 && line.p[0] == '.')
				line = str_from(line, 1);
			strbuf_append_str(&fake.data, line);
			strbuf_append_c(&fake.data, "\r\n");
			continue;
		}
		fk_command(conn, line);
	}
}

static void fk_close(struct conn *conn UNUSED, const char *reason UNUSED)
{
}

static const struct conn_handler fake_handler = {
	.on_open = fk_open, .on_input = fk_input, .on_close = fk_close,
};

/* ---- the client side ---- */

struct run {
	const struct smtp_client_msg *msgs;
	size_t n_msgs, next;
	struct strbuf results;	/* "rcpt code enhanced|" per recipient */
	char error[512];
	bool had_error, before_ready, permanent, tls_policy, peer_dsn;
	atomic_bool done;
	struct smtp_client_settings set;
};

static const struct smtp_client_msg *cl_next(void *arg,
					     struct smtp_client *client)
{
	struct run *r = arg;

	r->peer_dsn = smtp_client_peer_has_dsn(client);
	return r->next < r->n_msgs ? &r->msgs[r->next++] : NULL;
}

static void cl_msg_done(void *arg, struct smtp_client *client UNUSED,
			const struct smtp_client_msg *msg,
			const struct smtp_client_rcpt_result *res)
{
	struct run *r = arg;

	for (size_t i = 0; i < msg->n_rcpts; i++) {
		strbuf_printf(&r->results, "%s %u %s|", msg->rcpts[i],
			      res[i].code, res[i].enhanced);
		assert_non_null(res[i].diagnostic);
	}
}

static void cl_closed(void *arg, struct smtp_client *client UNUSED,
		      const struct smtp_client_error *error)
{
	struct run *r = arg;

	if (error != NULL) {
		r->had_error = true;
		r->before_ready = error->before_ready;
		r->permanent = error->permanent;
		r->tls_policy = error->tls_policy;
		snprintf(r->error, sizeof(r->error), "%s %s",
			 error->enhanced, error->diagnostic);
	}
	atomic_store(&r->done, true);
}

static const struct smtp_client_callbacks callbacks = {
	.next = cl_next, .msg_done = cl_msg_done, .closed = cl_closed,
};

static struct net_server *server;
static struct net_listener *listener;

static void start_task(void *arg)
{
	struct run *r = arg;

	smtp_client_new(net_server_thread(server, 0), &r->set, &callbacks, r);
}

static void run(struct run *r, const struct smtp_client_msg *msgs, size_t n)
{
	struct timespec ts = { 0, 2000000 };

	r->msgs = msgs;
	r->n_msgs = n;
	r->results = STRBUF_INIT;
	if (r->set.helo_name == NULL)
		r->set.helo_name = "client.test";
	if (r->set.address == NULL)
		r->set.address = "127.0.0.1";
	if (r->set.port == 0)
		r->set.port = net_listener_port(listener);
	r->set.timeout_scale = 0.01;
	task_queue_post(net_thread_task_queue(net_server_thread(server, 0)),
			start_task, r);
	for (int i = 0; i < 5000 && !atomic_load(&r->done); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&r->done));
}

static void fake_reset(const char *ehlo)
{
	strbuf_reset(&fake.log);
	strbuf_reset(&fake.data);
	fake.greeting = "220 fake ESMTP";
	fake.ehlo = ehlo;
	fake.final = "250 2.0.0 queued as 1\r\n";
	fake.in_data = false;
	fake.early = false;
	fake.ignoring = false;
	fake.bdat_left = 0;
}

static int setup(void **state UNUSED)
{
	struct net_server_settings set = { .threads = 1 };
	char *error = NULL;
	struct net_listen_spec spec = {
		.name = "fake", .address = "127.0.0.1",
		.handler = &fake_handler,
	};

	fake.log = STRBUF_INIT;
	fake.data = STRBUF_INIT;
	server = net_server_new(&set, &error);
	assert_non_null(server);
	listener = net_listen(server, &spec, &error);
	assert_non_null(listener);
	assert_int_equal(net_server_start(server, &error), 0);
	return 0;
}

static int teardown(void **state UNUSED)
{
	net_server_shutdown(server, 1000);
	net_server_free(&server);
	strbuf_free(&fake.log);
	strbuf_free(&fake.data);
	return 0;
}

static const char *const rcpts2[] = { "a@dest.test", "bad@dest.test" };
static const char *const orcpts2[] = { "rfc822;a+x@orig.test", "" };
static const char *const notify2[] = { "SUCCESS,FAILURE", "NEVER" };
static const char body[] = "Subject: hi\r\n\r\n.dot line\r\nend\r\n";

#define PIPE_EHLO "250-fake\r\n250-PIPELINING\r\n250-SIZE 1000\r\n" \
		  "250-8BITMIME\r\n250 DSN\r\n"

static void test_pipelined(void **state UNUSED)
{
	struct smtp_client_msg msg = {
		.sender = "s@here.test", .envid = "id 1", .ret = "HDRS",
		.rcpts = rcpts2, .orcpts = orcpts2, .notify = notify2,
		.n_rcpts = 2, .data = body, .size = sizeof(body) - 1,
	};
	struct run r = { 0 };

	fake_reset(PIPE_EHLO);
	run(&r, &msg, 1);
	assert_false(r.had_error);
	assert_true(r.peer_dsn);
	assert_string_equal(strbuf_cstr(&r.results),
			    "a@dest.test 250 2.0.0|bad@dest.test 550 5.1.1|");
	assert_string_equal(strbuf_cstr(&fake.log),
		"EHLO client.test\n"
		"MAIL FROM:<s@here.test> SIZE=31 RET=HDRS ENVID=id+201\n"
		"RCPT TO:<a@dest.test> NOTIFY=SUCCESS,FAILURE "
		"ORCPT=rfc822;a+2Bx@orig.test\n"
		"RCPT TO:<bad@dest.test> NOTIFY=NEVER\n"
		"DATA\n<data 31 bytes>\nQUIT\n");
	assert_string_equal(strbuf_cstr(&fake.data), body);
	strbuf_free(&r.results);
}

/* No extensions at all: HELO, lock-step, no DSN parameters; a 450 and a
 * refused sender. */
static void test_helo_lockstep(void **state UNUSED)
{
	static const char *const rc[] = { "later@dest.test", "ok@dest.test" };
	struct smtp_client_msg msgs[] = {
		{ .sender = "", .rcpts = rc, .notify = notify2, .n_rcpts = 2,
		  .data = body, .size = sizeof(body) - 1 },
		{ .sender = "refused@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1 },
		{ .sender = "x@here.test", .rcpts = rc + 1, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1 },
	};
	struct run r = { 0 };

	fake_reset(NULL);
	run(&r, msgs, 3);
	assert_false(r.had_error);
	assert_string_equal(strbuf_cstr(&r.results),
			    "later@dest.test 450 4.2.1|ok@dest.test 250 2.0.0|"
			    "later@dest.test 553 5.1.8|"
			    "ok@dest.test 250 2.0.0|");
	assert_string_equal(strbuf_cstr(&fake.log),
		"EHLO client.test\nHELO client.test\n"
		"MAIL FROM:<>\nRCPT TO:<later@dest.test>\n"
		"RCPT TO:<ok@dest.test>\nDATA\n<data 31 bytes>\n"
		/* straight MAIL after a completed transaction */
		"MAIL FROM:<refused@here.test>\n"
		/* RSET after a failed one */
		"RSET\nMAIL FROM:<x@here.test>\nRCPT TO:<ok@dest.test>\n"
		"DATA\n<data 31 bytes>\nQUIT\n");
	strbuf_free(&r.results);
}

static void test_size_and_smtputf8(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	static const char *const rcu[] = { "j\xc3\xb6rg@dest.test" };
	static char big[1500];
	static const char utf8_header[] =
		"Subject: \xc3\xa9t\xc3\xa9\r\n\r\nx\r\n";
	static const char utf8_body[] =
		"Subject: x\r\n\r\n\xc3\xa9t\xc3\xa9\r\n";
	struct smtp_client_msg msgs[] = {
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = big, .size = sizeof(big) },
		{ .sender = "s@here.test", .rcpts = rcu, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1 },
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = utf8_header, .size = sizeof(utf8_header) - 1 },
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = utf8_body, .size = sizeof(utf8_body) - 1 },
	};
	struct run r = { 0 };

	memset(big, 'x', sizeof(big));
	assert_true(smtp_client_msg_needs_smtputf8(&msgs[1]));
	assert_true(smtp_client_msg_needs_smtputf8(&msgs[2]));
	assert_false(smtp_client_msg_needs_smtputf8(&msgs[3]));
	assert_true(smtp_client_msg_is_8bit(&msgs[3]));
	fake_reset(PIPE_EHLO);
	run(&r, msgs, 4);
	assert_string_equal(strbuf_cstr(&r.results),
			    "a@dest.test 552 5.3.4|"
			    "j\xc3\xb6rg@dest.test 550 5.6.7|"
			    "a@dest.test 550 5.6.7|a@dest.test 250 2.0.0|");
	/* only the 8-bit body went out, as 8BITMIME */
	assert_string_equal(strbuf_cstr(&fake.log),
		"EHLO client.test\n"
		"MAIL FROM:<s@here.test> SIZE=21 BODY=8BITMIME\n"
		"RCPT TO:<a@dest.test>\nDATA\n<data 21 bytes>\nQUIT\n");
	strbuf_free(&r.results);
}

static void test_chunking(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test", "bad@dest.test" };
	struct smtp_client_msg msg = {
		.sender = "s@here.test", .rcpts = rc, .n_rcpts = 2,
		.data = body, .size = sizeof(body) - 1,
	};
	struct run r = { 0 };

	fake_reset("250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
		   "250 SMTPUTF8\r\n");
	fake.final = "451 4.3.0 disk full\r\n";
	run(&r, &msg, 1);
	assert_false(r.peer_dsn);
	assert_string_equal(strbuf_cstr(&r.results),
			    "a@dest.test 451 4.3.0|bad@dest.test 550 5.1.1|");
	assert_string_equal(strbuf_cstr(&fake.log),
		"EHLO client.test\nMAIL FROM:<s@here.test>\n"
		"RCPT TO:<a@dest.test>\nRCPT TO:<bad@dest.test>\n"
		"BDAT 31 LAST\n<bdat 31 bytes>\nQUIT\n");
	/* BDAT is not dot-stuffed */
	assert_string_equal(strbuf_cstr(&fake.data), body);
	strbuf_free(&r.results);
}

/* A line over 998 octets: unchanged over BDAT BODY=BINARYMIME; to a peer
 * without BINARYMIME (DATA or plain CHUNKING) as quoted-printable, unless
 * the message is signed. */
static void test_long_lines(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	struct strbuf plain = STRBUF_INIT, signed_msg = STRBUF_INIT;
	struct smtp_client_msg msg = { .sender = "s@here.test", .rcpts = rc,
				       .n_rcpts = 1 };
	struct run r = { 0 };
	char want[200];

	strbuf_append_c(&plain, "Subject: long\r\n\r\n");
	for (size_t i = 0; i < 3000; i++)
		strbuf_putc(&plain, (char)('a' + i % 26));
	strbuf_append_c(&plain, "\r\n");
	msg.data = plain.p;
	msg.size = plain.n;

	fake_reset("250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
		   "250 BINARYMIME\r\n");
	run(&r, &msg, 1);
	assert_false(r.had_error);
	snprintf(want, sizeof(want), "EHLO client.test\n"
		 "MAIL FROM:<s@here.test> BODY=BINARYMIME\n"
		 "RCPT TO:<a@dest.test>\nBDAT %zu LAST\n<bdat %zu bytes>\n"
		 "QUIT\n", plain.n, plain.n);
	assert_string_equal(strbuf_cstr(&fake.log), want);
	assert_true(str_eq(strbuf_str(&fake.data), strbuf_str(&plain)));
	strbuf_free(&r.results);

	for (int k = 0; k < 2; k++) {
		memset(&r, 0, sizeof(r));
		fake_reset(k == 0 ? "250-fake\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
				  : "250-fake\r\n250 CHUNKING\r\n");
		run(&r, &msg, 1);
		assert_false(r.had_error);
		assert_string_equal(strbuf_cstr(&r.results), "a@dest.test 250 2.0.0|");
		assert_true(str_starts_with(strbuf_str(&fake.data),
			STR_LIT("Subject: long\r\nMIME-Version: 1.0\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n\r\n")));
		assert_null(strstr(strbuf_cstr(&fake.log), "BINARYMIME"));
		for (const char *p = strbuf_cstr(&fake.data), *nl;
		     (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			assert_true(nl - p <= 77);
		strbuf_free(&r.results);
	}

	/* signed: unchanged even to a peer without BINARYMIME */
	strbuf_append_c(&signed_msg, "DKIM-Signature: v=1; d=here.test\r\n");
	strbuf_append_str(&signed_msg, strbuf_str(&plain));
	msg.data = signed_msg.p;
	msg.size = signed_msg.n;
	memset(&r, 0, sizeof(r));
	fake_reset("250-fake\r\n250 PIPELINING\r\n");
	run(&r, &msg, 1);
	assert_false(r.had_error);
	assert_true(str_eq(strbuf_str(&fake.data), strbuf_str(&signed_msg)));
	strbuf_free(&r.results);
	strbuf_free(&plain);
	strbuf_free(&signed_msg);
}

static void test_session_failures(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	struct smtp_client_msg msg = {
		.sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		.data = body, .size = sizeof(body) - 1,
	};
	struct run r1 = { 0 }, r2 = { 0 }, r3 = { 0 }, r4 = { 0 };

	/* 4xx greeting */
	fake_reset(PIPE_EHLO);
	fake.greeting = "421 4.3.2 busy";
	run(&r1, &msg, 1);
	assert_true(r1.had_error);
	assert_true(r1.before_ready);
	assert_false(r1.permanent);
	assert_false(r1.tls_policy);
	assert_string_equal(r1.error, "4.3.2 greeting: 421 4.3.2 busy");
	assert_int_equal(r1.next, 0);

	/* TLS required, not offered */
	fake_reset(PIPE_EHLO);
	r2.set.tls_policy = SMTP_CLIENT_TLS_REQUIRED;
	run(&r2, &msg, 1);
	assert_true(r2.had_error);
	assert_true(r2.before_ready);
	assert_true(r2.tls_policy);	/* the peer answered, our policy failed */
	assert_non_null(strstr(r2.error, "4.7.4 TLS is required"));
	assert_int_equal(r2.next, 0);

	/* a password never goes out in plaintext */
	fake_reset("250-fake\r\n250 AUTH PLAIN LOGIN\r\n");
	r3.set.auth_user = "u";
	r3.set.auth_password = "p";
	run(&r3, &msg, 1);
	assert_true(r3.had_error);
	assert_non_null(strstr(r3.error, "without TLS"));
	assert_null(strstr(strbuf_cstr(&fake.log), "AUTH"));

	/* nobody listening */
	r4.set.port = 1;
	run(&r4, &msg, 1);
	assert_true(r4.had_error);
	assert_true(r4.before_ready);
	assert_false(r4.tls_policy);
	assert_non_null(strstr(r4.error, "4.4.1 connect to 127.0.0.1 port 1"));
}

/* RFC 5321 4.5.3.2: 5 minutes for the greeting, scaled by 0.01 here */
static void test_greeting_timeout(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	struct smtp_client_msg msg = {
		.sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		.data = body, .size = sizeof(body) - 1,
	};
	struct run r = { 0 };
	time_t t0 = time(NULL);

	fake_reset(PIPE_EHLO);
	fake.greeting = NULL;
	run(&r, &msg, 1);
	assert_true(r.had_error);
	assert_true(r.before_ready);
	assert_string_equal(r.error, "4.4.2 timeout in greeting with 127.0.0.1");
	assert_true(time(NULL) - t0 >= 2);
	assert_int_equal(r.next, 0);
}

/* A final reply in the middle of our data: the message gets it, the
 * session ends (the stream is out of step). */
static void test_reply_before_end_of_data(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	size_t size = 4 << 20;
	char *big = xmalloc(size);
	struct run r = { 0 };

	for (size_t i = 0; i < size; i++)
		big[i] = (i % 80) == 79 ? '\n' : 'x';
	struct smtp_client_msg msgs[] = {
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = big, .size = size },
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1 },
	};

	fake_reset("250-fake\r\n250 PIPELINING\r\n");
	fake.early = true;
	run(&r, msgs, 2);
	assert_string_equal(strbuf_cstr(&r.results), "a@dest.test 554 5.6.0|");
	assert_true(r.had_error);
	assert_false(r.before_ready);
	assert_non_null(strstr(r.error, "replied before the end of the data"));
	assert_int_equal(r.next, 1);	/* the second message stays queued */
	strbuf_free(&r.results);
	free(big);
}

/* RFC 8689: a REQUIRETLS message never goes out over plaintext, even to a
 * peer announcing REQUIRETLS; the next message still does. */
static void test_requiretls_without_tls(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	struct smtp_client_msg msgs[] = {
		{ .sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1, .requiretls = true },
		{ .sender = "t@here.test", .rcpts = rc, .n_rcpts = 1,
		  .data = body, .size = sizeof(body) - 1 },
	};
	struct run r = { 0 };

	fake_reset("250-fake\r\n250-PIPELINING\r\n250 REQUIRETLS\r\n");
	run(&r, msgs, 2);
	assert_false(r.had_error);
	assert_string_equal(strbuf_cstr(&r.results),
			    "a@dest.test 550 5.7.30|a@dest.test 250 2.0.0|");
	assert_string_equal(strbuf_cstr(&fake.log),
		"EHLO client.test\nMAIL FROM:<t@here.test>\n"
		"RCPT TO:<a@dest.test>\nDATA\n<data 31 bytes>\nQUIT\n");
	strbuf_free(&r.results);
}

/* RFC 8689 5 "TLS-Required: No" (tls_relaxed): a required or verified TLS
 * policy no longer fails the session when the server offers no STARTTLS
 * or refuses it: the message goes out in plaintext. Without tls_relaxed
 * the same servers get nothing. */
static void test_tls_relaxed(void **state UNUSED)
{
	static const char *const rc[] = { "a@dest.test" };
	struct smtp_client_msg msg = {
		.sender = "s@here.test", .rcpts = rc, .n_rcpts = 1,
		.data = body, .size = sizeof(body) - 1,
	};
	static const char *const plain_log =
		"EHLO client.test\nMAIL FROM:<s@here.test>\n"
		"RCPT TO:<a@dest.test>\nDATA\n<data 31 bytes>\nQUIT\n";
	static const enum smtp_client_tls policies[] = {
		SMTP_CLIENT_TLS_REQUIRED, SMTP_CLIENT_TLS_VERIFY,
	};
	char *error = NULL;
	struct net_tls *tls = net_tls_client_new(NULL, &error);

	assert_non_null(tls);
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct run r1 = { 0 }, r2 = { 0 }, r3 = { 0 };

		/* no STARTTLS offered */
		fake_reset("250-fake\r\n250 PIPELINING\r\n");
		r1.set.tls = tls;
		r1.set.tls_policy = policies[i];
		r1.set.tls_relaxed = true;
		run(&r1, &msg, 1);
		assert_false(r1.had_error);
		assert_string_equal(strbuf_cstr(&r1.results),
				    "a@dest.test 250 2.0.0|");
		assert_string_equal(strbuf_cstr(&fake.log), plain_log);
		assert_string_equal(strbuf_cstr(&fake.data), body);
		strbuf_free(&r1.results);

		/* STARTTLS offered, then refused (the fake answers 500) */
		fake_reset("250-fake\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
		r2.set.tls = tls;
		r2.set.tls_policy = policies[i];
		r2.set.tls_relaxed = true;
		run(&r2, &msg, 1);
		assert_false(r2.had_error);
		assert_string_equal(strbuf_cstr(&r2.results),
				    "a@dest.test 250 2.0.0|");
		assert_string_equal(strbuf_cstr(&fake.log),
			"EHLO client.test\nSTARTTLS\nMAIL FROM:<s@here.test>\n"
			"RCPT TO:<a@dest.test>\nDATA\n<data 31 bytes>\n"
			"QUIT\n");
		strbuf_free(&r2.results);

		/* the same refusal without tls_relaxed: nothing is sent */
		fake_reset("250-fake\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
		r3.set.tls = tls;
		r3.set.tls_policy = policies[i];
		run(&r3, &msg, 1);
		assert_true(r3.had_error);
		assert_true(r3.before_ready);
		assert_true(r3.tls_policy);
		assert_non_null(strstr(r3.error, "STARTTLS (required)"));
		assert_null(strstr(strbuf_cstr(&fake.log), "MAIL"));
		assert_int_equal(r3.next, 0);
	}
	net_tls_unref(&tls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_helo_lockstep),
		cmocka_unit_test(test_size_and_smtputf8),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_session_failures),
		cmocka_unit_test(test_greeting_timeout),
		cmocka_unit_test(test_requiretls_without_tls),
		cmocka_unit_test(test_tls_relaxed),
		/* last: its server side may still be reading the 4 MB */
		cmocka_unit_test(test_reply_before_end_of_data),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
