/* Unit tests for proto/imap/imap_thread: message ids, ORDEREDSUBJECT and
 * REFERENCES threads as RFC 5256 section 3 builds them. */
#include "unit.h"

#include "base/strbuf.h"
#include "proto/imap/imap_thread.h"

#include <stdio.h>
#include <string.h>

static void test_alg_parse(void **state)
{
	enum imap_thread_alg alg;

	(void)state;
	assert_true(imap_thread_alg_parse(STR_LIT("references"), &alg));
	assert_int_equal(alg, IMAP_THREAD_REFERENCES);
	assert_true(imap_thread_alg_parse(STR_LIT("OrderedSubject"), &alg));
	assert_int_equal(alg, IMAP_THREAD_ORDEREDSUBJECT);
	assert_false(imap_thread_alg_parse(STR_LIT("REFS"), &alg));
	assert_false(imap_thread_alg_parse(STR_LIT(""), &alg));
}

static void test_msgids(void **state)
{
	const char **ids;
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	assert_int_equal(imap_thread_msgids(STR_LIT("<a@x> <b@y>\r\n\t<c\r\n @z>"),
					    &a, &ids), 3);
	assert_string_equal(ids[0], "a@x");
	assert_string_equal(ids[1], "b@y");
	assert_string_equal(ids[2], "c@z");
	assert_int_equal(imap_thread_msgids(STR_LIT("(comment) <> x <d@w"),
					    &a, &ids), 0);
	assert_int_equal(imap_thread_msgids(STR_LIT(""), &a, &ids), 0);
	assert_int_equal(imap_thread_msgids(STR_LIT("<only@one>"), &a, &ids), 1);
	arena_deinit(&a);
}

struct spec {
	const char *id, *subject;	/* base subject */
	bool reply;
	int64_t date;
	const char *refs[4];
};

static void threads(enum imap_thread_alg alg, const struct spec *specs,
		    size_t n, const char *want)
{
	struct imap_thread_msg msgs[16];
	struct strbuf out = STRBUF_INIT;
	struct arena a;

	assert_true(n <= ARRAY_SIZE(msgs));
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < 4 && specs[i].refs[k] != NULL)
			k++;
		msgs[i] = (struct imap_thread_msg){
			.seq = (uint32_t)i + 1, .value = (uint32_t)i + 1,
			.date = specs[i].date, .subject = specs[i].subject,
			.reply = specs[i].reply, .message_id = specs[i].id,
			.refs = specs[i].refs, .n_refs = k,
		};
	}
	arena_init(&a, 0);
	imap_thread_render(alg, &a, msgs, n, &out);
	if (strcmp(strbuf_cstr(&out), want) != 0)
		fail_msg("got %s, want %s", strbuf_cstr(&out), want);
	strbuf_free(&out);
	arena_deinit(&a);
}

static const struct spec conversation[] = {
	/* 1 */ { "a", "hello", false, 100, { NULL } },
	/* 2 */ { "b", "hello", true, 200, { "a", NULL } },
	/* 3 */ { "c", "other", false, 50, { NULL } },
	/* 4 */ { "d", "hello", true, 300, { "a", "b", NULL } },
	/* 5 */ { "e", "hello", true, 400, { "a", NULL } },
	/* 6 */ { "f", "lost", true, 500, { "gone", NULL } },
	/* 7 */ { "g", "lost", true, 600, { "gone", NULL } },
};

static void test_references(void **state)
{
	(void)state;
	threads(IMAP_THREAD_REFERENCES, conversation, 7,
		"(3)(1 (2 4)(5))((6)(7))");
	/* no message at all */
	threads(IMAP_THREAD_REFERENCES, conversation, 0, "");
}

static void test_ordered_subject(void **state)
{
	(void)state;
	threads(IMAP_THREAD_ORDEREDSUBJECT, conversation, 7,
		"(3)(1 (2)(4)(5))(6 7)");
	threads(IMAP_THREAD_ORDEREDSUBJECT, conversation, 1, "(1)");
}

static void test_references_edges(void **state)
{
	/* A child arrives before its parent; the parent's References are
	 * truncated; a duplicate Message-ID; a loop through References;
	 * messages without an id. */
	static const struct spec edges[] = {
		/* 1 */ { "r", "x", true, 30, { "p", "q", NULL } },
		/* 2 */ { "p", "x", false, 10, { NULL } },
		/* 3 */ { "q", "x", true, 20, { "p", NULL } },
		/* 4 */ { "p", "y", false, 40, { NULL } },	/* dup id */
		/* 5 */ { "s", "z", false, 50, { "t", NULL } },
		/* 6 */ { "t", "z", true, 60, { "s", NULL } },	/* loop */
		/* 7 */ { NULL, "w", false, 70, { NULL } },
		/* 8 */ { NULL, "w", true, 80, { NULL } },
	};

	(void)state;
	/* 2 -> 3 -> 1; 4 alone (its id was taken); 5 and 6 point at each
	 * other: 5 made t (6) its parent first, and 6's link to 5 would
	 * close a loop, so it is not made; 7 and 8 share a subject and 8 is
	 * a reply: it goes under 7. */
	threads(IMAP_THREAD_REFERENCES, edges, 8, "(2 3 1)(4)(6 5)(7 8)");
}

static void test_subject_merge(void **state)
{
	/* Two unrelated messages with the same base subject, neither a
	 * reply: a dummy holds them both. A reply without references joins
	 * the thread of the original. */
	static const struct spec same[] = {
		/* 1 */ { "a", "news", false, 10, { NULL } },
		/* 2 */ { "b", "news", false, 20, { NULL } },
		/* 3 */ { "c", "news", true, 30, { NULL } },
		/* 4 */ { "d", "", false, 5, { NULL } },
		/* 5 */ { "e", "", false, 6, { NULL } },
	};

	(void)state;
	/* empty subjects are never gathered */
	threads(IMAP_THREAD_REFERENCES, same, 5, "(4)(5)((1)(2)(3))");
	threads(IMAP_THREAD_REFERENCES, same, 1, "(1)");
	threads(IMAP_THREAD_REFERENCES, &same[1], 2, "(1 2)");
}

static void test_sibling_order_by_date(void **state)
{
	/* Children sort by sent date, ties by sequence number. */
	static const struct spec kids[] = {
		/* 1 */ { "p", "k", false, 10, { NULL } },
		/* 2 */ { "c1", "k", true, 50, { "p", NULL } },
		/* 3 */ { "c2", "k", true, 20, { "p", NULL } },
		/* 4 */ { "c3", "k", true, 20, { "p", NULL } },
	};

	(void)state;
	threads(IMAP_THREAD_REFERENCES, kids, 4, "(1 (3)(4)(2))");
}

static void test_references_loop_breaks_parent(void **state)
{
	/* RFC 5256 1B: 3 lists its own descendant 1 as its parent. Its old
	 * parent (2, from 1's References) is broken off all the same, and
	 * the looping link is not made: two threads, not one. */
	static const struct spec loop[] = {
		/* 1 */ { "l1", "one", false, 10, { "l2", "l3", NULL } },
		/* 2 */ { "l2", "two", false, 20, { NULL } },
		/* 3 */ { "l3", "three", false, 30, { "l1", NULL } },
	};
	/* A message naming itself last: no parent at all (not the one the
	 * earlier references gave it). */
	static const struct spec self[] = {
		/* 1 */ { "m", "a", false, 10, { NULL } },
		/* 2 */ { "n", "b", false, 20, { "m", "n", NULL } },
	};

	(void)state;
	threads(IMAP_THREAD_REFERENCES, loop, 3, "(2)(3 1)");
	threads(IMAP_THREAD_REFERENCES, self, 2, "(1)(2)");
}

static void test_roots_by_first_date(void **state)
{
	/* Step 5 hangs 1 under the dummy of 3 and 4 (same subject); the
	 * thread then starts with 1 and goes before 2 (step 6). */
	static const struct spec roots[] = {
		/* 1 */ { "a", "topic", false, 8, { NULL } },
		/* 2 */ { "b", "other", false, 9, { NULL } },
		/* 3 */ { "d1", "topic", false, 12, { "ghost", NULL } },
		/* 4 */ { "d2", "topic", true, 13, { "ghost", NULL } },
	};

	(void)state;
	threads(IMAP_THREAD_REFERENCES, roots, 4, "((1)(3)(4))(2)");
}

/* Hostile shapes a sender can mail in: a hundred thousand replies to one
 * message, a chain of a hundred thousand replies (in both orders), and
 * messages with thousands of References each. Before, the first cost n^2
 * sibling walks and the chain recursed once per level. */
#define BIG 100000

static void big_run(struct imap_thread_msg *msgs, size_t n, struct strbuf *out)
{
	struct arena a;

	arena_init(&a, 0);
	strbuf_reset(out);
	imap_thread_render(IMAP_THREAD_REFERENCES, &a, msgs, n, out);
	arena_deinit(&a);
}

static void test_hostile_shapes(void **state)
{
	struct imap_thread_msg *msgs = xcalloc(BIG, sizeof(*msgs));
	const char **ids = xcalloc(BIG + 1, sizeof(*ids));
	const char **many = xcalloc(3000, sizeof(*many));
	struct strbuf out = STRBUF_INIT, want = STRBUF_INIT;
	static const char *const root[] = { "root" };

	(void)state;
	for (size_t i = 0; i <= BIG; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "m%zu", i);
		ids[i] = xstrdup(buf);
	}
	for (size_t i = 0; i < BIG; i++)
		msgs[i] = (struct imap_thread_msg){
			.seq = (uint32_t)i + 1, .value = (uint32_t)i + 1,
			.date = (int64_t)i, .subject = "s",
			.message_id = ids[i + 1],
		};
	/* All replies to one (missing) message: a dummy with BIG children. */
	for (size_t i = 0; i < BIG; i++) {
		msgs[i].refs = root;
		msgs[i].n_refs = 1;
	}
	big_run(msgs, BIG, &out);
	assert_true(strncmp(strbuf_cstr(&out), "((1)(2)(3)", 10) == 0);
	assert_int_equal(out.n, 2 + 488895 + 2 * BIG);	/* digits of 1..BIG */
	/* A chain: message i replies to i - 1. */
	strbuf_putc(&want, '(');
	for (size_t i = 0; i < BIG; i++) {
		msgs[i].refs = &ids[i];
		msgs[i].n_refs = i > 0;
		strbuf_printf(&want, "%s%zu", i > 0 ? " " : "", i + 1);
	}
	strbuf_putc(&want, ')');
	big_run(msgs, BIG, &out);
	assert_string_equal(strbuf_cstr(&out), strbuf_cstr(&want));
	/* The same chain, newest message first in the mailbox. */
	for (size_t i = 0; i < BIG / 2; i++) {
		struct imap_thread_msg t = msgs[i];

		msgs[i] = msgs[BIG - 1 - i];
		msgs[BIG - 1 - i] = t;
	}
	big_run(msgs, BIG, &out);
	assert_int_equal(out.n, want.n);
	/* Thousands of references each, all to the same earlier ids. */
	for (size_t k = 0; k < 3000; k++)
		many[k] = ids[k % 1000 + 1];
	for (size_t i = 0; i < 2000; i++) {
		msgs[i] = (struct imap_thread_msg){
			.seq = (uint32_t)i + 1, .value = (uint32_t)i + 1,
			.date = (int64_t)i, .subject = "t",
			.message_id = ids[i + 1], .refs = many, .n_refs = 3000,
		};
	}
	big_run(msgs, 2000, &out);
	assert_true(out.n > 2000);
	for (size_t i = 0; i <= BIG; i++)
		free((char *)ids[i]);
	free(ids);
	free(many);
	free(msgs);
	strbuf_free(&out);
	strbuf_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_parse),
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_ordered_subject),
		cmocka_unit_test(test_references_edges),
		cmocka_unit_test(test_subject_merge),
		cmocka_unit_test(test_sibling_order_by_date),
		cmocka_unit_test(test_references_loop_breaks_parent),
		cmocka_unit_test(test_roots_by_first_date),
		cmocka_unit_test(test_hostile_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
