/* Unit tests for delivery/milter against fake milters on loopback and on
 * a unix socket, run by the test's own event loop: every reply kind at
 * every stage, the negotiated steps (NO*, NR_*, SKIP, macro lists), two
 * milters chained (the second sees the first's changes), ABORT between
 * transactions, QUIT, and milters that hang, close, refuse the connect or
 * send garbage, with each default action. */
#include "unit.h"

#include "base/strbuf.h"
#include "delivery/milter.h"
#include "mail/milter_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static struct event_base *base;

/* ---- a fake milter ---- */

struct fake {
	struct evconnlistener *lis;
	unsigned port;
	char path[108];
	uint32_t actions, protocol;
	const char *symlists;	/* appended to the OPTNEG reply, raw */
	size_t symlists_n;
	/* Reply packets (raw, concatenated) per command byte; NULL = 'c'.
	 * A command with NR_* / MACRO / ABORT / QUIT gets nothing. */
	struct strbuf replies[128];
	bool set[128];
	char hang_on, close_on, garbage_on;	/* command bytes, 0 = none */
	struct strbuf log;	/* commands as text, one per line */
	struct strbuf body;	/* BODY bytes of the last message */
	unsigned conns, quits;
	struct bufferevent *bev;
};

static void fk_packet(struct strbuf *b, char cmd, const void *data, size_t n)
{
	uint32_t len = (uint32_t)n + 1;
	unsigned char h[4] = { (unsigned char)(len >> 24),
			       (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8), (unsigned char)len };

	strbuf_append(b, h, 4);
	strbuf_putc(b, cmd);
	strbuf_append(b, data, n);
}

/* Script the reply to cmd: packets appended with fk_reply_add. */
static void fk_reply_add(struct fake *f, char cmd, char reply,
			 const void *data, size_t n)
{
	f->set[(unsigned char)cmd] = true;
	fk_packet(&f->replies[(unsigned char)cmd], reply, data, n);
}

#define BYTES(s) s, sizeof(s) - 1

/* Log a command: its letter, and its strings joined by '|'. */
static void fk_log(struct fake *f, char cmd, const unsigned char *d, size_t n)
{
	strbuf_putc(&f->log, cmd);
	if (cmd == 'B') {
		strbuf_append(&f->body, d, n);
		strbuf_printf(&f->log, " %zu", n);
	} else if (cmd == 'C' && n > 0) {
		/* hostname NUL family port(2) address NUL */
		const unsigned char *nul = memchr(d, 0, n);
		size_t hn = nul != NULL ? (size_t)(nul - d) : n;

		strbuf_putc(&f->log, ' ');
		strbuf_append(&f->log, d, hn);
		if (hn + 1 < n) {
			strbuf_printf(&f->log, " %c", d[hn + 1]);
			if (hn + 4 < n)
				strbuf_printf(&f->log, " %u %s",
					      (unsigned)(d[hn + 2] << 8 |
							 d[hn + 3]),
					      (const char *)d + hn + 4);
		}
	} else if (cmd != 'O') {
		for (size_t i = 0; i < n; i++) {
			if (i == 0)
				strbuf_putc(&f->log, ' ');
			strbuf_putc(&f->log, d[i] == '\0'
						     ? (i + 1 < n ? '|' : '\0')
						     : (char)d[i]);
			if (d[i] == '\0' && i + 1 == n)
				f->log.n--;
		}
	}
	strbuf_putc(&f->log, '\n');
}

static bool fk_replies(const struct fake *f, char cmd)
{
	return milter_step_replies(f->protocol, (enum milter_cmd)cmd);
}

static void fk_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		unsigned char h[4];
		size_t len = evbuffer_get_length(in);
		uint32_t plen;

		if (len < 5)
			return;
		evbuffer_copyout(in, h, 4);
		plen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		       (uint32_t)h[2] << 8 | h[3];
		assert_true(plen >= 1 && plen <= MILTER_CHUNK_SIZE + 1);
		if (len < 4 + (size_t)plen)
			return;
		const unsigned char *p = evbuffer_pullup(in, 4 + plen);
		char cmd = (char)p[4];

		fk_log(f, cmd, p + 5, plen - 1);
		evbuffer_drain(in, 4 + plen);
		if (cmd == 'Q') {
			f->quits++;
			continue;
		}
		if (cmd == f->close_on) {
			bufferevent_free(bev);
			f->bev = NULL;
			return;
		}
		if (cmd == f->hang_on)
			continue;
		if (cmd == f->garbage_on) {
			bufferevent_write(bev, "\0\0\0\2zz", 6);
			continue;
		}
		if (cmd == 'O') {
			struct strbuf o = STRBUF_INIT;
			unsigned char w[12];
			uint32_t v[3] = { 6, f->actions, f->protocol };

			for (int i = 0; i < 3; i++) {
				w[4 * i] = (unsigned char)(v[i] >> 24);
				w[4 * i + 1] = (unsigned char)(v[i] >> 16);
				w[4 * i + 2] = (unsigned char)(v[i] >> 8);
				w[4 * i + 3] = (unsigned char)v[i];
			}
			strbuf_append(&o, w, 12);
			if (f->symlists != NULL)
				strbuf_append(&o, f->symlists, f->symlists_n);
			struct strbuf pk = STRBUF_INIT;

			fk_packet(&pk, 'O', o.p, o.n);
			bufferevent_write(bev, pk.p, pk.n);
			strbuf_free(&pk);
			strbuf_free(&o);
			continue;
		}
		if (!fk_replies(f, cmd))
			continue;
		if (f->set[(unsigned char)cmd]) {
			struct strbuf *r = &f->replies[(unsigned char)cmd];

			bufferevent_write(bev, r->p, r->n);
		} else {
			bufferevent_write(bev, "\0\0\0\1c", 5);
		}
	}
}

static void fk_event(struct bufferevent *bev, short what UNUSED, void *arg)
{
	struct fake *f = arg;

	bufferevent_free(bev);
	if (f->bev == bev)
		f->bev = NULL;
}

static void fk_accept(struct evconnlistener *lis UNUSED, evutil_socket_t fd,
		      struct sockaddr *sa UNUSED, int len UNUSED, void *arg)
{
	struct fake *f = arg;

	f->conns++;
	f->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(f->bev, fk_read, NULL, fk_event, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
}

static struct fake *fake_new(bool unix_socket)
{
	struct fake *f = xcalloc(1, sizeof(*f));

	f->actions = MILTER_F_ALL;
	if (unix_socket) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(f->path, sizeof(f->path), "/tmp/test_milter.%d.sock",
			 (int)getpid());
		unlink(f->path);
		memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
		f->lis = evconnlistener_new_bind(
			base, fk_accept, f,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
			(struct sockaddr *)&sun, sizeof(sun));
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sin);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f->lis = evconnlistener_new_bind(
			base, fk_accept, f,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
			(struct sockaddr *)&sin, sizeof(sin));
		assert_non_null(f->lis);
		getsockname(evconnlistener_get_fd(f->lis),
			    (struct sockaddr *)&sin, &sl);
		f->port = ntohs(sin.sin_port);
	}
	assert_non_null(f->lis);
	return f;
}

static void fake_free(struct fake **fp)
{
	struct fake *f = *fp;

	*fp = NULL;
	if (f->bev != NULL)
		bufferevent_free(f->bev);
	if (f->lis != NULL)
		evconnlistener_free(f->lis);
	if (f->path[0] != '\0')
		unlink(f->path);
	for (size_t i = 0; i < 128; i++)
		strbuf_free(&f->replies[i]);
	strbuf_free(&f->log);
	strbuf_free(&f->body);
	free(f);
}

static struct milter_spec spec_of(const struct fake *f, const char *name)
{
	struct milter_spec s = {
		.name = name, .timeout_ms = 3000, .connect_timeout_ms = 3000,
		.on_error = MILTER_ON_ERROR_TEMPFAIL,
	};

	if (f->path[0] != '\0') {
		s.unix_path = f->path;
	} else {
		s.host = "127.0.0.1";
		s.port = f->port;
	}
	return s;
}

/* ---- running a stage ---- */

struct outcome {
	bool done;
	enum milter_verdict verdict;
	char *reply;
	char *by;
	bool failed, quarantine, changed, body_replaced;
	char *message;
	char *adds, *dels, *from;
	unsigned n_header_edits;
};

static struct outcome out;

static void outcome_reset(void)
{
	free(out.reply);
	free(out.by);
	free(out.message);
	free(out.adds);
	free(out.dels);
	free(out.from);
	memset(&out, 0, sizeof(out));
}

static void on_done(void *arg UNUSED, const struct milter_result *r)
{
	struct strbuf b = STRBUF_INIT;

	out.done = true;
	out.verdict = r->verdict;
	out.reply = r->reply != NULL ? xstrdup(r->reply) : NULL;
	out.by = r->by != NULL ? xstrdup(r->by) : NULL;
	out.failed = r->failed;
	out.quarantine = r->quarantine;
	out.changed = r->changed;
	out.body_replaced = r->body_replaced;
	out.n_header_edits = r->n_header_edits;
	out.message = r->changed ? str_dup(r->message) : NULL;
	for (size_t i = 0; i < r->n_rcpt_adds; i++)
		strbuf_printf(&b, "%s%s%s;", r->rcpt_adds[i].address,
			      r->rcpt_adds[i].args[0] != '\0' ? " " : "",
			      r->rcpt_adds[i].args);
	out.adds = xstrdup(strbuf_cstr(&b));
	strbuf_reset(&b);
	for (size_t i = 0; i < r->n_rcpt_dels; i++)
		strbuf_printf(&b, "%s;", r->rcpt_dels[i]);
	out.dels = xstrdup(strbuf_cstr(&b));
	strbuf_free(&b);
	out.from = r->new_from != NULL
			   ? xasprintf("%s|%s", r->new_from, r->new_from_args)
			   : NULL;
}

static bool fired;

static void guard(evutil_socket_t fd UNUSED, short what UNUSED,
		  void *arg UNUSED)
{
	fired = true;
}

/* Run the loop until *flag or ms pass. */
static void loop_until(bool *flag, unsigned ms)
{
	struct event *t = evtimer_new(base, guard, NULL);
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	fired = false;
	evtimer_add(t, &tv);
	while (!fired && (flag == NULL || !*flag))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

/* Run the loop until the stage is done (bounded). */
static void wait_done(void)
{
	loop_until(&out.done, 10000);
	assert_true(out.done);
}

/* Spin the loop briefly so the fake reads what was sent. */
static void spin(unsigned ms)
{
	loop_until(NULL, ms);
}

static const struct milter_connect_info conn_info = {
	.hostname = "client.example", .address = "192.0.2.7", .port = 40000,
};

static void run_connect(struct milter_client *mc)
{
	outcome_reset();
	milter_client_connect(mc, &conn_info, on_done, NULL);
	wait_done();
}

static void run_helo(struct milter_client *mc, const char *helo)
{
	outcome_reset();
	milter_client_helo(mc, helo, on_done, NULL);
	wait_done();
}

static void run_mail(struct milter_client *mc, const char *from)
{
	struct str a[2] = { str_c(from), STR_LIT("SIZE=100") };

	outcome_reset();
	milter_client_mail(mc, a, 2, on_done, NULL);
	wait_done();
}

static void run_rcpt(struct milter_client *mc, const char *to)
{
	struct str a = str_c(to);

	outcome_reset();
	milter_client_rcpt(mc, &a, 1, on_done, NULL);
	wait_done();
}

static const char msg[] = "From: a@example.org\r\nSubject: hello\r\n"
			  " folded\r\nTo: b@example.net\r\n\r\nline one\r\n"
			  "line two\r\n";

static void run_message(struct milter_client *mc, struct str m)
{
	outcome_reset();
	milter_client_message(mc, m, on_done, NULL);
	wait_done();
}

/* A whole session with macros; returns the fake's log. */
static void run_session(struct milter_client *mc)
{
	milter_client_macro(mc, "j", "mx.example.org");
	milter_client_macro(mc, "{daemon_name}", "posthorn");
	milter_client_macro(mc, "i", "QID1");
	milter_client_macro(mc, "{mail_addr}", "a@example.org");
	milter_client_macro(mc, "{rcpt_addr}", "b@example.net");
	run_connect(mc);
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	run_helo(mc, "client.example");
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	run_mail(mc, "<a@example.org>");
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	run_rcpt(mc, "<b@example.net>");
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	run_message(mc, STR_LIT(msg));
}

static void test_plain_session(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "fake");
	struct milter_client *mc = milter_client_new(base, &s, 1, NULL);

	run_session(mc);
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	assert_false(out.changed);
	assert_false(out.failed);
	milter_client_free(&mc);
	assert_null(mc);
	spin(50);
	assert_string_equal(strbuf_cstr(&f->log),
		"O\n"
		"D Cj|mx.example.org|{daemon_name}|posthorn\n"
		"C client.example 4 40000 192.0.2.7\n"
		"H client.example\n"
		"D Mi|QID1|{mail_addr}|a@example.org\n"
		"M <a@example.org>|SIZE=100\n"
		"D R{rcpt_addr}|b@example.net\n"
		"R <b@example.net>\n"
		"D Ti|QID1\n"
		"T\n"
		"L From|a@example.org\n"
		"L Subject|hello\n folded\n"
		"L To|b@example.net\n"
		"D Ni|QID1\n"
		"N\n"
		"B 20\n"
		"D Ei|QID1\n"
		"E\n"
		"Q\n");
	assert_string_equal(strbuf_cstr(&f->body), "line one\r\nline two\r\n");
	assert_int_equal(f->quits, 1);
	fake_free(&f);
}

static void test_unix_socket(void **state UNUSED)
{
	struct fake *f = fake_new(true);
	struct milter_spec s = spec_of(f, "unix");
	struct milter_client *mc = milter_client_new(base, &s, 1, NULL);
	struct milter_connect_info ci = { .hostname = "localhost",
					  .address = "/run/x.sock",
					  .unix_socket = true };

	outcome_reset();
	milter_client_connect(mc, &ci, on_done, NULL);
	wait_done();
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	milter_client_free(&mc);
	spin(50);
	assert_non_null(strstr(strbuf_cstr(&f->log), "C localhost L 0 /run/x.sock\n"));
	fake_free(&f);
}

/* The final replies at RCPT and what they become. */
static void test_verdicts(void **state UNUSED)
{
	struct {
		char kind;
		const char *data;
		size_t n;
		enum milter_verdict verdict;
		const char *reply;
	} cases[] = {
		{ 'a', "", 0, MILTER_ACCEPT, NULL },
		{ 'r', "", 0, MILTER_REJECT, "550 5.7.1 Command rejected" },
		{ 't', "", 0, MILTER_TEMPFAIL,
		  "451 4.7.1 Service unavailable - try again later" },
		{ 'd', "", 0, MILTER_DISCARD, NULL },
		{ 'y', BYTES("553 5.1.3 no such\0"), MILTER_REJECT,
		  "553 5.1.3 no such" },
		{ 'y', BYTES("452-4.2.2 full\n452 4.2.2 really\0"),
		  MILTER_TEMPFAIL, "452-4.2.2 full\r\n452 4.2.2 really" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake *f = fake_new(false);
		struct milter_spec s = spec_of(f, "v");
		struct milter_client *mc;

		fk_reply_add(f, 'R', cases[i].kind, cases[i].data, cases[i].n);
		mc = milter_client_new(base, &s, 1, NULL);
		run_connect(mc);
		run_mail(mc, "<a@example.org>");
		run_rcpt(mc, "<b@example.net>");
		assert_int_equal(out.verdict, cases[i].verdict);
		if (cases[i].reply != NULL)
			assert_string_equal(out.reply, cases[i].reply);
		else
			assert_null(out.reply);
		if (cases[i].verdict != MILTER_ACCEPT)
			assert_string_equal(out.by, "v");
		assert_false(out.failed);
		/* after ACCEPT the milter sees nothing more of the
		 * transaction: its message stage is skipped */
		run_message(mc, STR_LIT(msg));
		if (cases[i].kind == 'a')
			assert_null(strstr(strbuf_cstr(&f->log), "\nT\n"));
		milter_client_free(&mc);
		spin(20);
		fake_free(&f);
	}
}

/* Every modification at the end of the message. */
static void test_modifications(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "mods");
	struct milter_client *mc;

	fk_reply_add(f, 'E', 'h', BYTES("X-Spam-Flag\0YES\0"));
	fk_reply_add(f, 'E', 'i', BYTES("\0\0\0\0X-Top\0first\0"));
	fk_reply_add(f, 'E', 'm', BYTES("\0\0\0\1Subject\0\0"));
	fk_reply_add(f, 'E', 'm', BYTES("\0\0\0\1To\0c@example.net\0"));
	fk_reply_add(f, 'E', 'h', BYTES("X-Fold\0a;\n\tb\0"));
	fk_reply_add(f, 'E', 'p', "", 0);
	fk_reply_add(f, 'E', 'b', BYTES("new body\n"));
	fk_reply_add(f, 'E', 'b', BYTES("second part\r\n"));
	fk_reply_add(f, 'E', '+', BYTES("<added@example.org>\0"));
	fk_reply_add(f, 'E', '2', BYTES("<par@example.org>\0NOTIFY=NEVER\0"));
	fk_reply_add(f, 'E', '-', BYTES("<b@example.net>\0"));
	fk_reply_add(f, 'E', 'e', BYTES("<bounce@example.org>\0SIZE=9\0"));
	fk_reply_add(f, 'E', 'q', BYTES("spam score 15\0"));
	fk_reply_add(f, 'E', 'c', "", 0);
	mc = milter_client_new(base, &s, 1, NULL);
	run_session(mc);
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	assert_true(out.changed);
	assert_true(out.body_replaced);
	assert_int_equal(out.n_header_edits, 5);
	assert_string_equal(out.message,
		"X-Top: first\r\nFrom: a@example.org\r\nTo: c@example.net\r\n"
		"X-Spam-Flag: YES\r\nX-Fold: a;\r\n\tb\r\n\r\n"
		"new body\r\nsecond part\r\n");
	assert_string_equal(out.adds, "<added@example.org>;"
				      "<par@example.org> NOTIFY=NEVER;");
	assert_string_equal(out.dels, "<b@example.net>;");
	assert_string_equal(out.from, "<bounce@example.org>|SIZE=9");
	assert_true(out.quarantine);
	milter_client_free(&mc);
	spin(20);
	fake_free(&f);
}

/* Modifications are refused unless negotiated: the milter fails. */
static void test_unnegotiated_mod(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "nomods");
	struct milter_client *mc;

	f->actions = MILTER_F_ADDHDRS;
	fk_reply_add(f, 'E', 'b', BYTES("x"));
	fk_reply_add(f, 'E', 'c', "", 0);
	mc = milter_client_new(base, &s, 1, NULL);
	run_session(mc);
	assert_int_equal(out.verdict, MILTER_TEMPFAIL);
	assert_true(out.failed);
	assert_false(out.changed);
	milter_client_free(&mc);
	spin(20);
	fake_free(&f);
}

/* Two milters: the second sees the first's header and body changes; a
 * reject from the second wins over the first's edits. */
static void test_chain(void **state UNUSED)
{
	struct fake *f1 = fake_new(false), *f2 = fake_new(false);
	struct milter_spec s[2] = { spec_of(f1, "one"), spec_of(f2, "two") };
	struct milter_client *mc;

	fk_reply_add(f1, 'E', 'h', BYTES("X-One\0seen\0"));
	fk_reply_add(f1, 'E', 'm', BYTES("\0\0\0\1Subject\0\0"));
	fk_reply_add(f1, 'E', 'b', BYTES("replaced\r\n"));
	fk_reply_add(f1, 'E', 'c', "", 0);
	fk_reply_add(f2, 'E', 'h', BYTES("X-Two\0also\0"));
	fk_reply_add(f2, 'E', 'c', "", 0);
	mc = milter_client_new(base, s, 2, NULL);
	run_session(mc);
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	assert_string_equal(out.message,
		"From: a@example.org\r\nTo: b@example.net\r\nX-One: seen\r\n"
		"X-Two: also\r\n\r\nreplaced\r\n");
	assert_non_null(strstr(strbuf_cstr(&f2->log), "L X-One|seen\n"));
	assert_null(strstr(strbuf_cstr(&f2->log), "L Subject"));
	assert_string_equal(strbuf_cstr(&f2->body), "replaced\r\n");
	/* the order: one was asked before two at every stage */
	assert_non_null(strstr(strbuf_cstr(&f1->log), "L Subject"));

	/* second transaction: two rejects at the end of data */
	strbuf_reset(&f2->replies['E']);
	fk_reply_add(f2, 'E', 'y', BYTES("554 5.7.1 spam\0"));
	run_mail(mc, "<a@example.org>");
	run_rcpt(mc, "<b@example.net>");
	run_message(mc, STR_LIT(msg));
	assert_int_equal(out.verdict, MILTER_REJECT);
	assert_string_equal(out.reply, "554 5.7.1 spam");
	assert_string_equal(out.by, "two");
	assert_false(out.changed);
	milter_client_free(&mc);
	spin(30);
	assert_int_equal(f1->conns, 1);	/* one connection per session */
	assert_int_equal(f1->quits, 1);
	fake_free(&f1);
	fake_free(&f2);
}

/* An RSET after RCPT: ABORT before the next MAIL, on the same conn. */
static void test_abort_between(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "ab");
	struct milter_client *mc = milter_client_new(base, &s, 1, NULL);

	run_connect(mc);
	run_mail(mc, "<a@example.org>");
	run_rcpt(mc, "<b@example.net>");
	milter_client_abort(mc);
	run_mail(mc, "<c@example.org>");
	run_rcpt(mc, "<d@example.net>");
	run_message(mc, STR_LIT(msg));
	/* after a finished message no ABORT is needed */
	run_mail(mc, "<e@example.org>");
	milter_client_free(&mc);
	spin(30);
	const char *log = strbuf_cstr(&f->log);

	assert_non_null(strstr(log, "R <b@example.net>\nA\nM <c@example.org>"));
	assert_non_null(strstr(log, "E\nM <e@example.org>"));
	assert_int_equal(f->conns, 1);
	fake_free(&f);
}

/* NO* steps are not sent, NR_* get no reply, SKIP ends the body, a
 * SETSYMLIST list replaces the default macros, LEADSPC keeps spaces. */
static void test_negotiated_steps(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "steps");
	struct milter_client *mc;
	struct strbuf big = STRBUF_INIT;
	static const char lists[] = "\0\0\0\2{mail_addr}\0\0\0\0\5i j\0";

	f->protocol = MILTER_P_NOHELO | MILTER_P_NR_CONN | MILTER_P_NR_HDR |
		      MILTER_P_NOEOH | MILTER_P_SKIP | MILTER_P_HDR_LEADSPC |
		      MILTER_P_NODATA;
	f->symlists = lists;
	f->symlists_n = sizeof(lists) - 1;
	fk_reply_add(f, 'B', 's', "", 0);
	fk_reply_add(f, 'E', 'h', BYTES("X-Lead\0 spaced\0"));
	fk_reply_add(f, 'E', 'c', "", 0);
	mc = milter_client_new(base, &s, 1, NULL);
	strbuf_append_c(&big, "Subject: big\r\n\r\n");
	for (int i = 0; i < 20000; i++)
		strbuf_append_c(&big, "0123456789\r\n");
	milter_client_macro(mc, "j", "mx");
	milter_client_macro(mc, "i", "Q2");
	milter_client_macro(mc, "{mail_addr}", "a@example.org");
	run_connect(mc);
	run_helo(mc, "client.example");
	run_mail(mc, "<a@example.org>");
	run_message(mc, strbuf_str(&big));
	assert_non_null(out.message);
	assert_int_equal(strncmp(out.message, "Subject: big\r\nX-Lead: spaced"
					      "\r\n\r\n0123456789\r\n", 40), 0);
	assert_int_equal(strlen(out.message), big.n + 16);
	milter_client_free(&mc);
	spin(30);
	assert_string_equal(strbuf_cstr(&f->log),
		"O\n"
		"D Cj|mx\n"
		"C client.example 4 40000 192.0.2.7\n"
		"D M{mail_addr}|a@example.org\n"
		"M <a@example.org>|SIZE=100\n"
		"L Subject| big\n"
		"B 65535\n"
		"D Ei|Q2|j|mx\n"
		"E\n"
		"Q\n");
	strbuf_free(&big);
	fake_free(&f);
}

/* A large body without replies to BODY goes out in chunks through the
 * output bound. */
static void test_big_body_no_reply(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "big");
	struct milter_client *mc;
	struct strbuf big = STRBUF_INIT;

	f->protocol = MILTER_P_NR_BODY;
	strbuf_append_c(&big, "Subject: big\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		strbuf_append_c(&big, "0123456789\r\n");
	mc = milter_client_new(base, &s, 1, NULL);
	run_connect(mc);
	run_mail(mc, "<a@example.org>");
	run_message(mc, strbuf_str(&big));
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	assert_int_equal(f->body.n, big.n - 16);
	milter_client_free(&mc);
	spin(20);
	strbuf_free(&big);
	fake_free(&f);
}

/* Failures: each with tempfail, accept and reject defaults. */
enum failure { F_HANG, F_CLOSE, F_GARBAGE, F_REFUSED, F_BAD_OPTNEG };

static void run_failure(enum failure how, enum milter_on_error on_error,
			char at)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "bad");
	struct milter_client *mc;

	s.on_error = on_error;
	s.timeout_ms = 200;
	if (how == F_HANG)
		f->hang_on = at;
	else if (how == F_CLOSE)
		f->close_on = at;
	else if (how == F_GARBAGE)
		f->garbage_on = at;
	else if (how == F_BAD_OPTNEG)
		f->actions = 0x400;	/* beyond our offer */
	if (how == F_REFUSED) {
		evconnlistener_free(f->lis);
		f->lis = NULL;
	}
	mc = milter_client_new(base, &s, 1, NULL);
	run_connect(mc);
	if (at != 'C' && at != 'O') {
		assert_int_equal(out.verdict, MILTER_CONTINUE);
		run_mail(mc, "<a@example.org>");
		run_rcpt(mc, "<b@example.net>");
		run_message(mc, STR_LIT(msg));
	}
	switch (on_error) {
	case MILTER_ON_ERROR_TEMPFAIL:
		assert_int_equal(out.verdict, MILTER_TEMPFAIL);
		assert_string_equal(out.reply,
			"451 4.7.1 Service unavailable - try again later");
		break;
	case MILTER_ON_ERROR_REJECT:
		assert_int_equal(out.verdict, MILTER_REJECT);
		break;
	case MILTER_ON_ERROR_ACCEPT:
		assert_int_equal(out.verdict, MILTER_CONTINUE);
		break;
	}
	assert_true(out.failed == (on_error != MILTER_ON_ERROR_ACCEPT));
	/* the milter stays out for the rest of the session */
	run_mail(mc, "<x@example.org>");
	assert_int_equal(out.verdict, on_error == MILTER_ON_ERROR_ACCEPT
					      ? MILTER_CONTINUE
				      : on_error == MILTER_ON_ERROR_REJECT
					      ? MILTER_REJECT
					      : MILTER_TEMPFAIL);
	milter_client_free(&mc);
	spin(20);
	fake_free(&f);
}

static void test_failures(void **state UNUSED)
{
	const enum milter_on_error modes[] = { MILTER_ON_ERROR_TEMPFAIL,
					       MILTER_ON_ERROR_ACCEPT,
					       MILTER_ON_ERROR_REJECT };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		run_failure(F_HANG, modes[i], 'E');
		run_failure(F_HANG, modes[i], 'L');
		run_failure(F_HANG, modes[i], 'O');
		run_failure(F_CLOSE, modes[i], 'R');
		run_failure(F_CLOSE, modes[i], 'O');
		run_failure(F_GARBAGE, modes[i], 'B');
		run_failure(F_GARBAGE, modes[i], 'C');
		run_failure(F_REFUSED, modes[i], 'C');
		run_failure(F_BAD_OPTNEG, modes[i], 'O');
	}
}

/* A connect that never completes (nothing routes to it) times out. */
static void test_connect_timeout(void **state UNUSED)
{
	struct milter_spec s = {
		.name = "nowhere", .host = "192.0.2.1", .port = 9,
		.connect_timeout_ms = 200, .on_error = MILTER_ON_ERROR_TEMPFAIL,
	};
	struct milter_client *mc = milter_client_new(base, &s, 1, NULL);

	run_connect(mc);
	assert_int_equal(out.verdict, MILTER_TEMPFAIL);
	assert_true(out.failed);
	milter_client_free(&mc);

	/* an absent unix socket */
	s.host = NULL;
	s.unix_path = "/nonexistent/milter.sock";
	mc = milter_client_new(base, &s, 1, NULL);
	run_connect(mc);
	assert_int_equal(out.verdict, MILTER_TEMPFAIL);
	milter_client_free(&mc);
}

/* A reply nobody asked for, and a modification before end of data. */
static void test_protocol_errors(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "err");
	struct milter_client *mc;

	fk_reply_add(f, 'M', 'h', BYTES("X\0y\0"));
	fk_reply_add(f, 'M', 'c', "", 0);
	mc = milter_client_new(base, &s, 1, NULL);
	run_connect(mc);
	run_mail(mc, "<a@example.org>");
	assert_int_equal(out.verdict, MILTER_TEMPFAIL);
	milter_client_free(&mc);
	spin(20);
	fake_free(&f);

	f = fake_new(false);
	s = spec_of(f, "err2");
	fk_reply_add(f, 'C', 'c', "", 0);
	fk_reply_add(f, 'C', 'c', "", 0);	/* one too many */
	mc = milter_client_new(base, &s, 1, NULL);
	run_connect(mc);
	spin(50);
	run_helo(mc, "x");
	assert_int_equal(out.verdict, MILTER_TEMPFAIL);
	milter_client_free(&mc);
	spin(20);
	fake_free(&f);
}

/* Freed while a stage waits: no callback, no leak. */
static void test_free_while_waiting(void **state UNUSED)
{
	struct fake *f = fake_new(false);
	struct milter_spec s = spec_of(f, "slow");
	struct milter_client *mc;

	f->hang_on = 'C';
	mc = milter_client_new(base, &s, 1, NULL);
	outcome_reset();
	milter_client_connect(mc, &conn_info, on_done, NULL);
	spin(50);
	milter_client_free(&mc);
	spin(50);
	assert_false(out.done);
	fake_free(&f);
}

static void test_no_milters(void **state UNUSED)
{
	struct milter_client *mc = milter_client_new(base, NULL, 0, NULL);

	run_connect(mc);
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	run_message(mc, STR_LIT(msg));
	assert_int_equal(out.verdict, MILTER_CONTINUE);
	milter_client_free(&mc);
	assert_string_equal(milter_verdict_name(MILTER_DISCARD), "discard");
}

static int setup(void **state UNUSED)
{
	base = event_base_new();
	return base == NULL;
}

static int teardown(void **state UNUSED)
{
	outcome_reset();
	spin(10);
	event_base_free(base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_session),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_modifications),
		cmocka_unit_test(test_unnegotiated_mod),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_abort_between),
		cmocka_unit_test(test_negotiated_steps),
		cmocka_unit_test(test_big_body_no_reply),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_free_while_waiting),
		cmocka_unit_test(test_no_milters),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
