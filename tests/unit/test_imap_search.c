/* Unit tests for proto/imap/imap_search: parsing, running every key over a
 * real store in a temporary directory (text keys through the full-text
 * index, dates, flags, sets), and SEARCH/ESEARCH replies. */
#include "test_store_util.h"

#include "base/strbuf.h"
#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "mail/mime_text.h"
#include "proto/imap/imap_reader.h"
#include "proto/imap/imap_search.h"

/* sent on 1 Feb in its own zone, 2 Feb in UTC */
static const char msg1[] =
	"From: Alice <alice@example.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: Hello world\r\n"
	"Date: Thu, 1 Feb 2024 23:30:00 -0500\r\n"
	"\r\n"
	"The quick brown fox.\r\n";
static const char msg2[] =
	"From: Bob <bob@example.test>\r\n"
	"Subject: Lunch\r\n"
	"Date: 3 Feb 2024 10:00:00 +0000\r\n"
	"X-Tag: yes\r\n"
	"\r\n"
	"Pizza?\r\n";
/* no Date: the internal date stands in */
static const char msg3[] =
	"From: eve@example.test\r\n"
	"To: carol@example.test\r\n"
	"Cc: dave@example.test\r\n"
	"Subject: Minutes\r\n"
	"\r\n"
	"A quick note, long enough to be the largest message of the four\r\n"
	"in this mailbox, so that LARGER and SMALLER have something to\r\n"
	"tell apart. More words, more words, more words, more words.\r\n";
static const char msg4[] =
	"From: frank@example.test\r\n"
	"Subject: Report\r\n"
	"Date: not a date\r\n"
	"\r\n"
	"Numbers.\r\n";

struct env {
	struct tstore t;
	int64_t inbox;
	struct store_msg *msgs;
	size_t n;
	bool recent[4];
};

static void deliver(struct tstore *t, int64_t user_id, const char *msg,
		    int64_t internal_date, uint32_t flags, const char *keywords)
{
	struct store_target target = { .user_id = user_id };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct strbuf env = STRBUF_INIT, text = STRBUF_INIT;
	struct mime_tree *tree = mime_parse(msg, strlen(msg), NULL);

	imap_envelope_write(&env, tree->root);
	mime_text_extract(tree, msg, strlen(msg), &text);
	mime_tree_free(&tree);
	req.u.deliver.data = msg;
	req.u.deliver.size = strlen(msg);
	req.u.deliver.meta.envelope = strbuf_cstr(&env);
	req.u.deliver.meta.text = strbuf_cstr(&text);
	req.u.deliver.internal_date = internal_date;
	req.u.deliver.flags = flags;
	req.u.deliver.keywords = keywords;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	tstore_ok(t, &req);
	strbuf_free(&env);
	strbuf_free(&text);
}

static struct env the_env;

static int setup(void **state)
{
	struct env *e = &the_env;
	const char *error;
	int64_t user;
	int n;

	tstore_init(&e->t, 0);
	tstore_domain(&e->t, "example.test");
	user = tstore_user(&e->t, "bob@example.test");
	e->inbox = tstore_inbox(&e->t, user);
	deliver(&e->t, user, msg1, 1706875200 /* 2 Feb 12:00 */,
		STORE_FLAG_SEEN, "$Work");
	deliver(&e->t, user, msg2, 1706918400 /* 3 Feb 00:00 */,
		STORE_FLAG_SEEN | STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED, NULL);
	deliver(&e->t, user, msg3, 1707120000 /* 5 Feb 08:00 */,
		STORE_FLAG_DELETED | STORE_FLAG_DRAFT, "Later");
	deliver(&e->t, user, msg4, 1706745599 /* 31 Jan 23:59:59 */, 0, NULL);
	n = store_msg_list(e->t.reader, &e->t.arena, e->inbox, &e->msgs, &error);
	assert_int_equal(n, 4);
	e->n = (size_t)n;
	e->recent[1] = e->recent[2] = true;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	tstore_deinit(&e->t);
	memset(e, 0, sizeof(*e));
	return 0;
}

/* The sequence numbers matching keys, as "1 3". */
static const char *run(struct env *e, const char *keys)
{
	struct imap_cursor c;
	struct imap_search_opts opts;
	struct imap_search *s;
	struct strbuf b = STRBUF_INIT;
	const char *error = NULL, *ret;
	uint32_t *matches;
	enum imap_search_fail why;
	int n;

	imap_cursor_init(&c, str_c(keys));
	s = imap_search_parse(&c, &e->t.arena, &opts, &why);
	if (s == NULL)
		fail_msg("'%s' does not parse: %s", keys, c.error);
	n = imap_search_run(s, e->t.reader, &e->t.arena, e->inbox, e->msgs,
			    e->recent, e->n, &matches, &error);
	if (n < 0)
		fail_msg("'%s': %s", keys, error);
	/* The same in slices of one message: what a yielding SEARCH does. */
	{
		struct imap_search_exec *x;
		struct arena scratch;
		uint32_t *sliced;
		size_t steps = 0;
		int step;

		arena_init(&scratch, 0);
		x = imap_search_start(s, e->t.reader, &e->t.arena, &scratch,
				      e->inbox, e->msgs, e->n, &error);
		assert_non_null(x);
		while ((step = imap_search_step(x, e->msgs, e->recent, 1,
						&error)) == 0)
			steps++;
		assert_int_equal(step, 1);
		assert_true(steps + 1 >= e->n);
		assert_int_equal(imap_search_matches(x, &sliced), (size_t)n);
		assert_memory_equal(sliced, matches, (size_t)n * sizeof(*sliced));
		arena_deinit(&scratch);
	}
	for (int i = 0; i < n; i++)
		strbuf_printf(&b, "%s%u", i > 0 ? " " : "", matches[i] + 1);
	ret = arena_strdup(&e->t.arena, strbuf_cstr(&b));
	strbuf_free(&b);
	return ret;
}

#define CHECK(e, keys, want) do {					\
		const char *got_ = run(e, keys);			\
		if (strcmp(got_, want) != 0)				\
			fail_msg("'%s': got '%s', want '%s'", keys, got_, want); \
	} while (0)

static void test_flags_and_sets(void **state)
{
	struct env *e = *state;

	CHECK(e, "ALL", "1 2 3 4");
	CHECK(e, "SEEN", "1 2");
	CHECK(e, "unseen", "3 4");
	CHECK(e, "FLAGGED ANSWERED", "2");
	CHECK(e, "UNFLAGGED", "1 3 4");
	CHECK(e, "UNANSWERED", "1 3 4");
	CHECK(e, "DELETED", "3");
	CHECK(e, "UNDELETED", "1 2 4");
	CHECK(e, "DRAFT", "3");
	CHECK(e, "UNDRAFT", "1 2 4");
	CHECK(e, "KEYWORD $work", "1");
	CHECK(e, "KEYWORD Later", "3");
	CHECK(e, "UNKEYWORD $Work", "2 3 4");
	CHECK(e, "RECENT", "2 3");
	CHECK(e, "NEW", "3");
	CHECK(e, "OLD", "1 4");
	CHECK(e, "1:2", "1 2");
	CHECK(e, "2,4:*", "2 4");
	CHECK(e, "*", "4");
	CHECK(e, "UID 2:3", "2 3");
	CHECK(e, "UID *", "4");
	CHECK(e, "UID 9:*", "4");
	CHECK(e, "NOT SEEN", "3 4");
	CHECK(e, "OR SEEN DELETED", "1 2 3");
	CHECK(e, "OR (SEEN FLAGGED) 4", "2 4");
	CHECK(e, "(((SEEN)))", "1 2");
	CHECK(e, "NOT NOT 1", "1");
	CHECK(e, "LARGER 200", "3");
	CHECK(e, "SMALLER 200", "1 2 4");
	CHECK(e, "LARGER 1 SMALLER 1", "");

	/* clients build long OR chains (one per term or message-id) */
	struct strbuf chain = STRBUF_INIT;

	for (int i = 0; i < 500; i++)
		strbuf_append_c(&chain, "OR UID 9 ");
	strbuf_append_c(&chain, "UID 2");
	CHECK(e, strbuf_cstr(&chain), "2");
	strbuf_free(&chain);
}

static void test_dates(void **state)
{
	struct env *e = *state;

	CHECK(e, "BEFORE 2-Feb-2024", "4");
	CHECK(e, "ON 2-Feb-2024", "1");
	CHECK(e, "ON \"31-Jan-2024\"", "4");
	CHECK(e, "SINCE 3-Feb-2024", "2 3");
	CHECK(e, "SENTON 1-Feb-2024", "1");
	CHECK(e, "SENTON 2-Feb-2024", "");
	CHECK(e, "SENTBEFORE 2-Feb-2024", "1 4");
	CHECK(e, "SENTSINCE 4-Feb-2024", "3");
	CHECK(e, "SENTON 3-Feb-2024", "2");
	CHECK(e, "SENTSINCE 1-Feb-2024 SENTBEFORE 5-Feb-2024", "1 2");
}

static void test_modseq(void **state)
{
	struct env *e = *state;
	struct imap_cursor c;
	struct imap_search_opts opts;
	enum imap_search_fail why;
	char keys[128];

	/* each delivery got its own modseq */
	assert_true(e->msgs[0].modseq < e->msgs[2].modseq);
	snprintf(keys, sizeof(keys), "MODSEQ %llu",
		 (unsigned long long)e->msgs[2].modseq);
	CHECK(e, keys, "3 4");
	snprintf(keys, sizeof(keys), "MODSEQ \"/flags/\\\\draft\" all %llu",
		 (unsigned long long)e->msgs[3].modseq);
	CHECK(e, keys, "4");
	imap_cursor_init(&c, str_c(keys));
	assert_non_null(imap_search_parse(&c, &e->t.arena, &opts, &why));
	assert_true(opts.modseq_used);
	assert_false(opts.esearch);
}

static void test_text(void **state)
{
	struct env *e = *state;

	CHECK(e, "SUBJECT hello", "1");
	CHECK(e, "SUBJECT \"HELLO WORLD\"", "1");
	CHECK(e, "FROM BOB", "2");
	CHECK(e, "TO carol", "3");
	CHECK(e, "TO bob@", "1");
	CHECK(e, "CC dave", "3");
	CHECK(e, "BCC dave", "");
	CHECK(e, "BODY quick", "1 3");
	CHECK(e, "BODY lunch", "");
	CHECK(e, "TEXT lunch", "2");
	CHECK(e, "HEADER X-Tag \"\"", "2");
	CHECK(e, "HEADER x-tag yes", "2");
	CHECK(e, "NOT BODY quick", "2 4");
	CHECK(e, "OR SUBJECT lunch BODY note", "2 3");
	CHECK(e, "UNSEEN BODY quick", "3");
	CHECK(e, "CHARSET UTF-8 SUBJECT {5}\r\nhello", "1");
	CHECK(e, "RETURN (COUNT) CHARSET us-ascii FROM example.test", "1 2 3 4");
}

/* A command assembled by imap_reader from a stream whose literals arrive
 * one byte at a time parses to the same program. */
static void test_drip_fed(void **state)
{
	struct env *e = *state;
	static const char stream[] =
		"a1 SEARCH CHARSET {5}\r\nUTF-8 OR SUBJECT {5}\r\nhello BODY {4+}\r\nnote\r\n";
	struct imap_reader *r = imap_reader_new(4096, 4096);
	size_t pos = 0;
	enum imap_reader_status st;

	do {
		const char *crlf = strstr(stream + pos, "\r\n");
		uint64_t lit;
		bool sync, close;

		assert_non_null(crlf);
		st = imap_reader_line(r, str_make(stream + pos, (size_t)(crlf - stream - pos)),
				      &lit, &sync, &close);
		pos = (size_t)(crlf - stream) + 2;
		if (st == IMAP_READER_LITERAL) {
			while (imap_reader_literal_left(r) > 0)
				imap_reader_literal(r, str_make(stream + pos++, 1));
		}
	} while (st == IMAP_READER_LITERAL);
	assert_int_equal(st, IMAP_READER_COMMAND);
	struct str cmd = imap_reader_command(r);

	assert_true(str_starts_with(cmd, STR_LIT("a1 SEARCH ")));
	CHECK(e, arena_strndup(&e->t.arena, cmd.p + 10, cmd.n - 10), "1 3");
	imap_reader_free(&r);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "FOO", "(SEEN", "SEEN)", "OR SEEN", "NOT", "NOT ", "()",
		"BEFORE 1-Foo-2024", "LARGER x", "LARGER -1", "UID", "UID x",
		"KEYWORD", "KEYWORD (x)", "HEADER", "HEADER \"\" x", "SUBJECT",
		"RETURN (FOO) ALL", "RETURN ALL", "RETURN (MIN)", "CHARSET",
		"CHARSET UTF-8", "SEEN  FLAGGED", "SEEN ", "MODSEQ",
		"MODSEQ \"/flags/x\" bad 5", "MODSEQ x", "0", "1:0", "$",
		"SUBJECT ~{3}\r\na\0b",
	};
	struct arena a;
	struct imap_search_opts opts;
	enum imap_search_fail why;
	struct strbuf deep = STRBUF_INIT;

	(void)state;
	arena_init(&a, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_cursor c;
		struct str in = str_c(bad[i]);

		if (i == ARRAY_SIZE(bad) - 1)
			in.n = 17;
		imap_cursor_init(&c, in);
		if (imap_search_parse(&c, &a, &opts, &why) != NULL)
			fail_msg("'%s' parses", bad[i]);
		assert_int_equal(why, IMAP_SEARCH_SYNTAX);
		assert_non_null(c.error);
	}
	/* deep nesting is refused, not a stack overflow */
	for (int i = 0; i < 10000; i++)
		strbuf_append_c(&deep, "NOT (");
	strbuf_append_c(&deep, "ALL");
	for (int i = 0; i < 10000; i++)
		strbuf_putc(&deep, ')');
	{
		struct imap_cursor c;

		imap_cursor_init(&c, strbuf_str(&deep));
		assert_null(imap_search_parse(&c, &a, &opts, &why));
		assert_non_null(c.error);
	}
	strbuf_free(&deep);
	/* so are NOT chains past IMAP_SEARCH_MAX_DEPTH */
	for (int i = 0; i < 2000; i++)
		strbuf_append_c(&deep, "NOT ");
	strbuf_append_c(&deep, "ALL");
	{
		struct imap_cursor c;

		imap_cursor_init(&c, strbuf_str(&deep));
		assert_null(imap_search_parse(&c, &a, &opts, &why));
		assert_non_null(c.error);
	}
	strbuf_reset(&deep);
	/* 64 parentheses deep is fine, 65 is not */
	for (int depth = 64; depth <= 65; depth++) {
		struct imap_cursor c;

		for (int i = 0; i < depth; i++)
			strbuf_putc(&deep, '(');
		strbuf_append_c(&deep, "ALL");
		for (int i = 0; i < depth; i++)
			strbuf_putc(&deep, ')');
		imap_cursor_init(&c, strbuf_str(&deep));
		assert_int_equal(imap_search_parse(&c, &a, &opts, &why) != NULL,
				 depth == 64);
		strbuf_reset(&deep);
	}
	strbuf_free(&deep);
	{
		struct imap_cursor c;

		imap_cursor_init(&c, STR_LIT("CHARSET ISO-8859-1 SUBJECT x"));
		assert_null(imap_search_parse(&c, &a, &opts, &why));
		assert_int_equal(why, IMAP_SEARCH_BADCHARSET);
	}
	arena_deinit(&a);
}

/* A program of n - 1 times key, then ALL. */
static void many_keys(struct strbuf *b, size_t n, const char *key)
{
	strbuf_reset(b);
	for (size_t i = 0; i + 1 < n; i++)
		strbuf_printf(b, "%s ", key);
	strbuf_append_c(b, "ALL");
}

static void test_limits(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct imap_search_opts opts;
	enum imap_search_fail why;
	struct imap_search *prog;
	struct imap_cursor c;
	struct store_msg *msgs;
	uint32_t *matches;
	const char *error;
	struct arena a;
	size_t n_msgs = 100000;

	(void)state;
	arena_init(&a, 0);
	/* At the bound (with the AND): parsed, and run. */
	many_keys(&b, IMAP_SEARCH_MAX_KEYS - 1, "SEEN");
	imap_cursor_init(&c, strbuf_str(&b));
	prog = imap_search_parse(&c, &a, &opts, &why);
	assert_non_null(prog);
	msgs = arena_zalloc(&a, n_msgs * sizeof(*msgs));
	for (size_t i = 0; i < n_msgs; i++) {
		msgs[i].uid = (uint32_t)i + 1;
		msgs[i].keywords = "";
	}
	assert_int_equal(imap_search_run(prog, NULL, &a, 1, msgs, NULL, n_msgs,
					 &matches, &error), 0);
	/* One past it (UNSEEN is NOT SEEN: two keys). */
	many_keys(&b, IMAP_SEARCH_MAX_KEYS / 2 + 1, "UNSEEN");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_null(imap_search_parse(&c, &a, &opts, &why));
	assert_int_equal(why, IMAP_SEARCH_LIMIT);
	assert_non_null(c.error);
	many_keys(&b, IMAP_SEARCH_MAX_KEYS + 1, "1:*,1,1,1");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_null(imap_search_parse(&c, &a, &opts, &why));
	assert_int_equal(why, IMAP_SEARCH_LIMIT);
	/* Text keys: each is a pass of the index. */
	many_keys(&b, IMAP_SEARCH_MAX_TEXT, "BODY xyz");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_non_null(imap_search_parse(&c, &a, &opts, &why));
	many_keys(&b, IMAP_SEARCH_MAX_TEXT + 2, "OR BODY xyz HEADER X-A yyy");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_null(imap_search_parse(&c, &a, &opts, &why));
	assert_int_equal(why, IMAP_SEARCH_LIMIT);
	/* Needles under 3 characters scan all the text: 8 of them. */
	many_keys(&b, IMAP_SEARCH_MAX_SCANS + 1, "BODY ab");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_non_null(imap_search_parse(&c, &a, &opts, &why));
	many_keys(&b, IMAP_SEARCH_MAX_SCANS + 2, "HEADER X-A \"\xc3\xa4" "b\"");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_null(imap_search_parse(&c, &a, &opts, &why));
	assert_int_equal(why, IMAP_SEARCH_LIMIT);
	many_keys(&b, IMAP_SEARCH_MAX_TEXT, "BODY abc");
	imap_cursor_init(&c, strbuf_str(&b));
	assert_non_null(imap_search_parse(&c, &a, &opts, &why));
	/* A syntax error stays one. */
	imap_cursor_init(&c, STR_LIT("BODY"));
	assert_null(imap_search_parse(&c, &a, &opts, &why));
	assert_int_equal(why, IMAP_SEARCH_SYNTAX);
	strbuf_free(&b);
	arena_deinit(&a);
}

static void test_return_opts(void **state)
{
	static const struct {
		const char *keys;
		bool esearch, min, max, all, count;
	} cases[] = {
		{ "ALL", false, false, false, false, false },
		{ "RETURN () ALL", true, false, false, true, false },
		{ "RETURN (MIN MAX) ALL", true, true, true, false, false },
		{ "return (count all) SEEN", true, false, false, true, true },
	};
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_cursor c;
		struct imap_search_opts o;
		enum imap_search_fail why;

		imap_cursor_init(&c, str_c(cases[i].keys));
		assert_non_null(imap_search_parse(&c, &a, &o, &why));
		assert_int_equal(o.esearch, cases[i].esearch);
		assert_int_equal(o.ret_min, cases[i].min);
		assert_int_equal(o.ret_max, cases[i].max);
		assert_int_equal(o.ret_all, cases[i].all);
		assert_int_equal(o.ret_count, cases[i].count);
		assert_false(o.modseq_used);
	}
	arena_deinit(&a);
}

static void test_render(void **state)
{
	static const uint32_t v[] = { 1, 2, 3, 5, 7, 8 };
	struct imap_search_opts o = { 0 };
	struct strbuf b = STRBUF_INIT;

	(void)state;
	imap_search_render(&o, "a1", false, v, 6, 0, &b);
	assert_string_equal(strbuf_cstr(&b), "* SEARCH 1 2 3 5 7 8\r\n");
	strbuf_reset(&b);
	imap_search_render(&o, "a1", true, v, 0, 0, &b);
	assert_string_equal(strbuf_cstr(&b), "* SEARCH\r\n");
	strbuf_reset(&b);
	o.modseq_used = true;
	imap_search_render(&o, "a1", false, v, 2, 917, &b);
	assert_string_equal(strbuf_cstr(&b), "* SEARCH 1 2 (MODSEQ 917)\r\n");
	strbuf_reset(&b);
	imap_search_render(&o, "a1", false, v, 0, 917, &b);
	assert_string_equal(strbuf_cstr(&b), "* SEARCH\r\n");
	strbuf_reset(&b);

	o = (struct imap_search_opts){ .esearch = true, .ret_min = true,
		.ret_max = true, .ret_count = true, .ret_all = true };
	imap_search_render(&o, "a2", true, v, 6, 0, &b);
	assert_string_equal(strbuf_cstr(&b),
			    "* ESEARCH (TAG \"a2\") UID MIN 1 MAX 8 COUNT 6 ALL 1:3,5,7:8\r\n");
	strbuf_reset(&b);
	imap_search_render(&o, "a2", false, v, 0, 0, &b);
	assert_string_equal(strbuf_cstr(&b), "* ESEARCH (TAG \"a2\") COUNT 0\r\n");
	strbuf_reset(&b);
	/* IMAP4rev2 without RETURN: ALL */
	o = (struct imap_search_opts){ .esearch = true, .modseq_used = true };
	imap_search_render(&o, "x", false, v + 3, 1, 12, &b);
	assert_string_equal(strbuf_cstr(&b), "* ESEARCH (TAG \"x\") ALL 5 MODSEQ 12\r\n");
	strbuf_reset(&b);
	o = (struct imap_search_opts){ .esearch = true, .ret_min = true };
	imap_search_render(&o, "x", false, v, 0, 0, &b);
	assert_string_equal(strbuf_cstr(&b), "* ESEARCH (TAG \"x\")\r\n");
	strbuf_free(&b);
}

/* An empty view never asks the store. */
static void test_empty_mailbox(void **state)
{
	struct env *e = *state;
	struct imap_cursor c;
	struct imap_search_opts opts;
	struct imap_search *s;
	uint32_t *matches;
	const char *error;
	enum imap_search_fail why;

	imap_cursor_init(&c, STR_LIT("OR * BODY x"));
	s = imap_search_parse(&c, &e->t.arena, &opts, &why);
	assert_non_null(s);
	assert_int_equal(imap_search_run(s, e->t.reader, &e->t.arena, e->inbox,
					 NULL, NULL, 0, &matches, &error), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_and_sets),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_modseq),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_drip_fed),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_return_opts),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_empty_mailbox),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
