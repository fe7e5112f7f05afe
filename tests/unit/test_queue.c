/* Unit tests for queue/: the retry schedule, NOTIFY decisions, and DSN
 * reports checked with the mail layer's MIME parser (whole and drip-fed). */
#include "unit.h"

#include "base/strbuf.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "queue/queue_dsn.h"
#include "queue/queue_policy.h"

static void test_policy_schedule(void **state)
{
	struct queue_policy p;
	const int64_t created = 1000000;

	(void)state;
	queue_policy_default(&p);
	assert_int_equal(p.retry_min, 300);
	assert_int_equal(p.retry_max, 3600);
	assert_int_equal(p.max_age, 5 * 86400);
	assert_int_equal(p.delay_notice, 4 * 3600);

	int64_t now = created + 10;
	assert_int_equal(queue_next_try(&p, created, 0, now), now);
	assert_int_equal(queue_next_try(&p, created, 1, now), now + 300);
	assert_int_equal(queue_next_try(&p, created, 2, now), now + 600);
	assert_int_equal(queue_next_try(&p, created, 3, now), now + 1200);
	assert_int_equal(queue_next_try(&p, created, 4, now), now + 2400);
	assert_int_equal(queue_next_try(&p, created, 5, now), now + 3600);
	assert_int_equal(queue_next_try(&p, created, 6, now), now + 3600);
	/* No overflow for absurd attempt counts. */
	assert_int_equal(queue_next_try(&p, created, UINT32_MAX, now), now + 3600);

	/* The last try lands on the deadline, then the entry gives up. */
	now = created + p.max_age - 100;
	assert_int_equal(queue_next_try(&p, created, 9, now),
			 created + p.max_age);
	assert_int_equal(queue_next_try(&p, created, 9, created + p.max_age), -1);
	assert_int_equal(queue_next_try(&p, created, 0, created + p.max_age + 1), -1);

	/* Short test intervals; retry_min 0 counts as 1 s; max < min. */
	p.retry_min = 0;
	p.retry_max = 4;
	assert_int_equal(queue_next_try(&p, created, 1, created), created + 1);
	assert_int_equal(queue_next_try(&p, created, 3, created), created + 4);
	assert_int_equal(queue_next_try(&p, created, 4, created), created + 4);
	p.retry_min = 10;
	p.retry_max = 5;
	assert_int_equal(queue_next_try(&p, created, 3, created), created + 10);
}

static void test_policy_delay_notice(void **state)
{
	struct queue_policy p;

	(void)state;
	queue_policy_default(&p);
	assert_false(queue_delay_notice_due(&p, 0, false, 4 * 3600 - 1));
	assert_true(queue_delay_notice_due(&p, 0, false, 4 * 3600));
	assert_false(queue_delay_notice_due(&p, 0, true, 5 * 3600));
	p.delay_notice = 0;
	assert_false(queue_delay_notice_due(&p, 0, false, 86400));
}

static void test_dsn_wanted(void **state)
{
	static const struct {
		const char *notify;
		bool failed, delayed, delivered, relayed;
	} cases[] = {
		{ NULL, true, true, false, false },
		{ "", true, true, false, false },
		{ "NEVER", false, false, false, false },
		{ "never", false, false, false, false },
		{ "SUCCESS", false, false, true, true },
		{ "FAILURE", true, false, false, false },
		{ "DELAY", false, true, false, false },
		{ "SUCCESS,FAILURE", true, false, true, true },
		{ "success, delay", false, true, true, true },
		{ "SUCCESS,FAILURE,DELAY", true, true, true, true },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(queue_dsn_wanted(cases[i].notify, QUEUE_DSN_FAILED),
				 cases[i].failed);
		assert_int_equal(queue_dsn_wanted(cases[i].notify, QUEUE_DSN_DELAYED),
				 cases[i].delayed);
		assert_int_equal(queue_dsn_wanted(cases[i].notify, QUEUE_DSN_DELIVERED),
				 cases[i].delivered);
		assert_int_equal(queue_dsn_wanted(cases[i].notify, QUEUE_DSN_RELAYED),
				 cases[i].relayed);
	}
}

static const char original[] =
	"From: Alice <alice@example.test>\r\n"
	"To: bob@remote.test\r\n"
	"Subject: lunch\r\n"
	"Message-ID: <orig.1@example.test>\r\n"
	"\r\n"
	"Shall we meet at noon?\r\n"
	"--not a boundary\r\n";

/* The report parsed twice: whole and one byte at a time; both trees must
 * agree on every part's offsets and type. */
static struct mime_tree *parse_both(const char *msg, size_t size)
{
	struct mime_tree *whole = mime_parse(msg, size, NULL);
	struct mime_parser *p = mime_parser_new(NULL);
	struct mime_tree *drip;
	const struct mime_part *a, *b;

	for (size_t i = 0; i < size; i++)
		mime_parser_feed(p, msg + i, 1);
	drip = mime_parser_finish(&p);
	a = whole->root;
	b = drip->root;
	assert_int_equal(a->n_children, b->n_children);
	for (a = a->children, b = b->children; a != NULL; a = a->next, b = b->next) {
		assert_non_null(b);
		assert_int_equal(a->body_start, b->body_start);
		assert_int_equal(a->body_end, b->body_end);
		assert_true(str_eq(a->subtype, b->subtype));
	}
	mime_tree_free(&drip);
	return whole;
}

static void assert_type(const struct mime_part *part, const char *type,
			const char *subtype)
{
	assert_non_null(part);
	assert_true(str_caseeq(part->type, str_make(type, strlen(type))));
	assert_true(str_caseeq(part->subtype, str_make(subtype, strlen(subtype))));
}

static struct str part_body(const char *msg, const struct mime_part *part)
{
	return str_make(msg + part->body_start, part->body_end - part->body_start);
}

static bool contains(struct str hay, const char *needle)
{
	return str_find(hay, str_make(needle, strlen(needle))) >= 0;
}

/* The unfolded value of a top-level header field, "" when absent. */
static char *field(const char *msg, size_t size, const char *name)
{
	struct str block = str_make(msg, size);
	struct header_field f;
	struct strbuf b = STRBUF_INIT;
	size_t pos = 0;

	while (header_next(block, &pos, &f)) {
		if (str_caseeq(f.name, str_make(name, strlen(name)))) {
			header_unfold(&b, f.value);
			break;
		}
		if (pos < size && (msg[pos] == '\r' || msg[pos] == '\n'))
			break;
	}
	strbuf_putc(&b, '\0');
	return strbuf_detach(&b, NULL);
}

static void assert_crlf_only(const char *msg, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (msg[i] == '\n')
			assert_true(i > 0 && msg[i - 1] == '\r');
		if (msg[i] == '\r')
			assert_true(i + 1 < size && msg[i + 1] == '\n');
	}
	assert_true(size >= 2 && msg[size - 2] == '\r' && msg[size - 1] == '\n');
}

static void assert_field(const char *msg, size_t size, const char *name,
			 const char *want)
{
	char *v = field(msg, size, name);

	assert_string_equal(v, want);
	free(v);
}

static const struct queue_dsn_rcpt failed_rcpts[] = {
	{ "bob@remote.test", "rfc822;Bob@Remote.test", QUEUE_DSN_FAILED,
	  "5.1.1", "mx1.remote.test", "550 5.1.1 <bob@remote.test>: no such user\r\n" },
	{ "carol@gone.test", NULL, QUEUE_DSN_FAILED, "5.1.2", NULL,
	  "domain gone.test has a null MX (RFC 7505)" },
};

static void test_dsn_failed_full(void **state)
{
	struct queue_dsn d = {
		.reporting_mta = "mail.example.test",
		.sender = "alice@example.test",
		.envid = "QQ314159",
		.ret = "FULL",
		.arrival_date = 1795380000,	/* Sun, 22 Nov 2026 20:40:00 */
		.now = 1795383600,
		.rcpts = failed_rcpts,
		.n_rcpts = ARRAY_SIZE(failed_rcpts),
		.original = original,
		.original_size = sizeof(original) - 1,
	};
	struct mime_tree *t;
	const struct mime_part *root, *human, *status, *orig;
	size_t size;
	char *msg;

	(void)state;
	msg = queue_dsn_build(&d, &size);
	assert_int_equal(strlen(msg), size);
	assert_crlf_only(msg, size);
	assert_field(msg, size, "From", "Mail Delivery System <MAILER-DAEMON@mail.example.test>");
	assert_field(msg, size, "To", "<alice@example.test>");
	assert_field(msg, size, "Subject", "Undelivered Mail Returned to Sender");
	assert_field(msg, size, "Auto-Submitted", "auto-replied");
	assert_field(msg, size, "Date", "Sun, 22 Nov 2026 21:40:00 +0000");
	char *mid = field(msg, size, "Message-ID");
	assert_true(mid[0] == '<' && strstr(mid, "@mail.example.test>") != NULL);
	free(mid);

	t = parse_both(msg, size);
	root = t->root;
	assert_type(root, "multipart", "report");
	struct str rt = mime_param_get(root->params, root->n_params,
				       STR_LIT("report-type"));
	assert_non_null(rt.p);
	assert_true(str_eq(rt, STR_LIT("delivery-status")));
	assert_int_equal(root->n_children, 3);
	human = root->children;
	status = human->next;
	orig = status->next;
	assert_type(human, "text", "plain");
	assert_type(status, "message", "delivery-status");
	assert_type(orig, "message", "rfc822");

	struct str hb = part_body(msg, human);
	assert_true(contains(hb, "<bob@remote.test>: failed, host mx1.remote.test said:"));
	assert_true(contains(hb, "550 5.1.1 <bob@remote.test>: no such user"));
	assert_true(contains(hb, "<carol@gone.test>: failed:"));

	struct str sb = part_body(msg, status);
	assert_true(contains(sb, "Reporting-MTA: dns; mail.example.test\r\n"
			     "Original-Envelope-Id: QQ314159\r\n"
			     "Arrival-Date: Sun, 22 Nov 2026 20:40:00 +0000\r\n\r\n"
			     "Final-Recipient: rfc822; bob@remote.test\r\n"
			     "Original-Recipient: rfc822; Bob@Remote.test\r\n"
			     "Action: failed\r\n"
			     "Status: 5.1.1\r\n"
			     "Remote-MTA: dns; mx1.remote.test\r\n"
			     /* the reply's line end became a space */
			     "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: no such user  \r\n"
			     "Last-Attempt-Date: Sun, 22 Nov 2026 21:40:00 +0000\r\n"));
	assert_true(contains(sb, "\r\nFinal-Recipient: rfc822; carol@gone.test\r\n"
			     "Action: failed\r\nStatus: 5.1.2\r\n"
			     "Diagnostic-Code: X-Posthorn; domain gone.test has a null MX"));
	assert_false(contains(sb, "Will-Retry-Until"));

	/* The original comes back whole, as a parsed message. */
	assert_int_equal(orig->n_children, 1);
	struct str ob = part_body(msg, orig);
	assert_true(ob.n >= sizeof(original) - 1);
	assert_memory_equal(ob.p, original, sizeof(original) - 1);
	assert_non_null(orig->children->env);
	assert_true(str_eq(orig->children->env[MIME_ENV_SUBJECT], STR_LIT("lunch")));
	mime_tree_free(&t);
	free(msg);
}

static void test_dsn_hdrs_and_default(void **state)
{
	struct queue_dsn d = {
		.reporting_mta = "mail.example.test",
		.sender = "alice@example.test",
		.ret = "HDRS",
		.arrival_date = 1795380000,
		.now = 1795383600,
		.rcpts = failed_rcpts,
		.n_rcpts = 1,
		.original = original,
		.original_size = sizeof(original) - 1,
	};
	static const char header[] =
		"From: Alice <alice@example.test>\r\n"
		"To: bob@remote.test\r\n"
		"Subject: lunch\r\n"
		"Message-ID: <orig.1@example.test>\r\n";
	struct mime_tree *t;
	const struct mime_part *orig;
	size_t size;
	char *msg;

	(void)state;
	msg = queue_dsn_build(&d, &size);
	assert_crlf_only(msg, size);
	t = parse_both(msg, size);
	assert_int_equal(t->root->n_children, 3);
	orig = t->root->children->next->next;
	assert_type(orig, "text", "rfc822-headers");
	struct str ob = part_body(msg, orig);
	assert_int_equal(ob.n, sizeof(header) - 1);
	assert_memory_equal(ob.p, header, sizeof(header) - 1);
	assert_false(contains(str_make(msg, size), "Shall we meet"));
	assert_false(contains(str_make(msg, size), "Original-Envelope-Id"));
	mime_tree_free(&t);
	free(msg);

	/* No RET: a small original comes back whole, a large one not. */
	d.ret = NULL;
	msg = queue_dsn_build(&d, &size);
	t = parse_both(msg, size);
	assert_type(t->root->children->next->next, "message", "rfc822");
	mime_tree_free(&t);
	free(msg);

	size_t big_size = QUEUE_DSN_FULL_MAX + 100;
	char *big = xmalloc(big_size);
	memcpy(big, original, sizeof(original) - 1);
	memset(big + sizeof(original) - 1, 'x', big_size - sizeof(original) + 1);
	d.original = big;
	d.original_size = big_size;
	msg = queue_dsn_build(&d, &size);
	t = parse_both(msg, size);
	assert_type(t->root->children->next->next, "text", "rfc822-headers");
	assert_true(size < 8192);
	mime_tree_free(&t);
	free(msg);
	free(big);
}

static void test_dsn_delayed_and_success(void **state)
{
	const struct queue_dsn_rcpt delayed[] = {
		{ "bob@remote.test", "", QUEUE_DSN_DELAYED, "4.4.1", NULL,
		  "connect to mx1.remote.test: connection refused" },
	};
	const struct queue_dsn_rcpt delivered[] = {
		{ "bob@remote.test", "", QUEUE_DSN_DELIVERED, "2.0.0",
		  "mx1.remote.test", "250 2.0.0 ok" },
		{ "dan@old.test", "", QUEUE_DSN_RELAYED, "2.0.0",
		  "mx.old.test", "250 ok" },
	};
	struct queue_dsn d = {
		.reporting_mta = "mail.example.test",
		.sender = "alice@example.test",
		.ret = "FULL",
		.arrival_date = 1795380000,
		.now = 1795383600,
		.retry_until = 1795380000 + 5 * 86400,
		.rcpts = delayed,
		.n_rcpts = 1,
		.original = original,
		.original_size = sizeof(original) - 1,
	};
	struct mime_tree *t;
	size_t size;
	char *msg;

	(void)state;
	msg = queue_dsn_build(&d, &size);
	assert_crlf_only(msg, size);
	assert_field(msg, size, "Subject", "Delayed Mail (still being retried)");
	t = parse_both(msg, size);
	/* Not a failure: RET=FULL still returns the header only. */
	assert_type(t->root->children->next->next, "text", "rfc822-headers");
	struct str sb = part_body(msg, t->root->children->next);
	assert_true(contains(sb, "Action: delayed\r\nStatus: 4.4.1\r\n"
			     "Diagnostic-Code: X-Posthorn; connect to mx1.remote.test: connection refused\r\n"));
	assert_true(contains(sb, "Will-Retry-Until: Fri, 27 Nov 2026 20:40:00 +0000\r\n"));
	assert_true(contains(part_body(msg, t->root->children),
			     "Fri, 27 Nov 2026 20:40:00 +0000"));
	mime_tree_free(&t);
	free(msg);

	d.rcpts = delivered;
	d.n_rcpts = 2;
	msg = queue_dsn_build(&d, &size);
	assert_field(msg, size, "Subject", "Successful Mail Delivery Report");
	t = parse_both(msg, size);
	sb = part_body(msg, t->root->children->next);
	assert_true(contains(sb, "Action: delivered\r\nStatus: 2.0.0\r\n"
			     "Remote-MTA: dns; mx1.remote.test\r\n"));
	assert_true(contains(sb, "Final-Recipient: rfc822; dan@old.test\r\n"
			     "Action: relayed\r\n"));
	assert_false(contains(sb, "Will-Retry-Until"));
	mime_tree_free(&t);
	free(msg);
}

static void test_dsn_8bit_and_bare_lf(void **state)
{
	static const char lf_orig[] =
		"Subject: caf\xc3\xa9\n"
		"From: a@example.test\n"
		"\n"
		"line one\n"
		"line two";
	struct queue_dsn d = {
		.reporting_mta = "mail.example.test",
		.sender = "a@example.test",
		.ret = "FULL",
		.now = 1795383600,
		.rcpts = failed_rcpts,
		.n_rcpts = 1,
		.original = lf_orig,
		.original_size = sizeof(lf_orig) - 1,
	};
	struct mime_tree *t;
	const struct mime_part *orig;
	size_t size;
	char *msg;

	(void)state;
	msg = queue_dsn_build(&d, &size);
	assert_crlf_only(msg, size);
	assert_field(msg, size, "Content-Transfer-Encoding", "8bit");
	t = parse_both(msg, size);
	orig = t->root->children->next->next;
	assert_type(orig, "message", "rfc822");
	assert_true(str_caseeq(orig->encoding, STR_LIT("8bit")));
	struct str ob = part_body(msg, orig);
	assert_true(contains(ob, "Subject: caf\xc3\xa9\r\nFrom: a@example.test\r\n\r\n"
			     "line one\r\nline two"));
	mime_tree_free(&t);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_schedule),
		cmocka_unit_test(test_policy_delay_notice),
		cmocka_unit_test(test_dsn_wanted),
		cmocka_unit_test(test_dsn_failed_full),
		cmocka_unit_test(test_dsn_hdrs_and_default),
		cmocka_unit_test(test_dsn_delayed_and_success),
		cmocka_unit_test(test_dsn_8bit_and_bare_lf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
