/* Unit tests for proto/imap/imap_sort: SORT criteria and the order they
 * give, from rendered envelopes as the store keeps them. */
#include "unit.h"

#include "base/strbuf.h"
#include "proto/imap/imap_sort.h"

#include <string.h>

static bool parse(const char *text, struct imap_sort *sort_r)
{
	struct imap_cursor c;

	imap_cursor_init(&c, str_c(text));
	return imap_sort_parse(&c, sort_r) && imap_cursor_at_end(&c);
}

static void test_parse(void **state)
{
	struct imap_sort s;

	(void)state;
	assert_true(parse("(DATE)", &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.crit[0].key, IMAP_SORT_DATE);
	assert_false(s.crit[0].reverse);
	assert_true(s.needs_envelope);
	assert_true(parse("(reverse arrival Size)", &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.crit[0].key, IMAP_SORT_ARRIVAL);
	assert_true(s.crit[0].reverse);
	assert_int_equal(s.crit[1].key, IMAP_SORT_SIZE);
	assert_false(s.crit[1].reverse);
	assert_false(s.needs_envelope);
	assert_true(parse("(DISPLAYFROM REVERSE DISPLAYTO CC TO FROM SUBJECT)", &s));
	assert_int_equal(s.n, 6);
	assert_int_equal(s.crit[1].key, IMAP_SORT_DISPLAYTO);
	assert_true(s.crit[1].reverse);

	assert_false(parse("DATE", &s));
	assert_false(parse("()", &s));
	assert_false(parse("(DATE", &s));
	assert_false(parse("(REVERSE)", &s));
	assert_false(parse("(REVERSE REVERSE DATE)", &s));
	assert_false(parse("(BOGUS)", &s));
	assert_false(parse("(DATE  SIZE)", &s));
	assert_false(parse("(DATE SIZE DATE SIZE DATE SIZE DATE SIZE DATE SIZE"
			   " DATE SIZE DATE SIZE DATE SIZE DATE)", &s));
}

/* ("date" "subject" from sender reply-to to cc bcc in-reply-to msgid) */
static const char *const envelopes[] = {
	"(\"Wed, 3 Jan 2024 10:00:00 +0000\" \"Re: banana\""
	" ((\"Zed\" NIL \"zed\" \"x.org\")) NIL NIL"
	" ((NIL NIL \"carol\" \"b.org\")) NIL NIL NIL NIL)",
	"(\"Mon, 1 Jan 2024 23:00:00 -0500\" \"=?UTF-8?Q?=C3=84pfel?=\""
	" ((\"=?UTF-8?Q?=C3=84rger?=\" NIL \"amy\" \"y.org\")) NIL NIL"
	" ((NIL NIL \"Alice\" \"b.org\")) ((NIL NIL \"x\" \"c.org\")) NIL NIL NIL)",
	"(\"Tue, 2 Jan 2024 10:00:00 +0000\" \"[list] Fwd: cherry\""
	" ((NIL NIL \"group\" NIL)(NIL NIL \"Bob\" \"z.org\")(NIL NIL NIL NIL))"
	" NIL NIL NIL NIL NIL NIL NIL)",
	NULL,		/* no envelope: empty strings, the internal date */
};

static void order(const char *criteria, const char *want)
{
	struct imap_sort_msg msgs[4];
	struct strbuf got = STRBUF_INIT;
	struct imap_sort s;
	struct arena a;

	assert_true(parse(criteria, &s));
	for (uint32_t i = 0; i < 4; i++) {
		msgs[i] = (struct imap_sort_msg){
			.seq = i + 1,
			.internal_date = 1704067200 + (i == 3 ? -1 : (int64_t)i),
			.size = i == 1 ? 500 : 100,
			.envelope = envelopes[i],
		};
	}
	arena_init(&a, 0);
	imap_sort_order(&s, &a, msgs, 4);
	for (int i = 0; i < 4; i++)
		strbuf_printf(&got, "%s%u", i > 0 ? " " : "", msgs[i].seq);
	if (strcmp(strbuf_cstr(&got), want) != 0)
		fail_msg("%s: got %s, want %s", criteria, strbuf_cstr(&got), want);
	strbuf_free(&got);
	arena_deinit(&a);
}

static void test_order(void **state)
{
	(void)state;
	/* 2 is 1 Jan 23:00 -0500 = 2 Jan 04:00 UTC; 4 has no Date: and
	 * sorts by its internal date (1 Jan 2024 00:00 UTC - 1 s) */
	order("(DATE)", "4 2 3 1");
	order("(REVERSE DATE)", "1 3 2 4");
	order("(ARRIVAL)", "4 1 2 3");
	/* ties by sequence number; REVERSE does not reverse the ties */
	order("(SIZE)", "1 3 4 2");
	order("(REVERSE SIZE)", "2 1 3 4");
	order("(SIZE REVERSE ARRIVAL)", "3 1 4 2");
	/* base subjects "", "banana", "äpfel", "cherry": in
	 * i;unicode-casemap "Ä" is "A" and a combining mark, so "äpfel"
	 * sorts before "banana" */
	order("(SUBJECT)", "4 2 1 3");
	/* first From mailbox: "", zed, amy, group (RFC 5256's first
	 * address is the group's start, whose mailbox is the group name) */
	order("(FROM)", "4 2 3 1");
	/* display names: "", zed, ärger, group */
	order("(DISPLAYFROM)", "4 2 3 1");
	/* To mailboxes folded: "", carol, alice, "" */
	order("(TO)", "3 4 2 1");
	order("(DISPLAYTO)", "3 4 2 1");
	order("(CC)", "1 3 4 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
