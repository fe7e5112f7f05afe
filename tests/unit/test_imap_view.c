/* Unit tests for the IMAP mailbox view helpers (sequence sets resolved
 * against a snapshot, UID ranges for the store, UID set output, flags) and
 * the command table the dispatcher checks. */
#include "unit.h"

#include "proto/imap/imap_commands.h"

#include <string.h>

/* A view of UIDs 2, 3, 4, 7, 9, 10 (sequence numbers 1..6). */
static struct imap_view *view_new(void)
{
	static const uint32_t uids[] = { 2, 3, 4, 7, 9, 10 };
	struct imap_view *v = xcalloc(1, sizeof(*v));

	arena_init(&v->arena, 0);
	v->n = ARRAY_SIZE(uids);
	v->n_reported = v->n;
	v->cap = v->n;
	v->msgs = xcalloc(v->n, sizeof(*v->msgs));
	v->recent = xcalloc(v->n, sizeof(*v->recent));
	v->expunged = xcalloc(v->n, sizeof(*v->expunged));
	for (size_t i = 0; i < v->n; i++) {
		v->msgs[i].uid = uids[i];
		v->msgs[i].keywords = "";
	}
	return v;
}

static struct imap_seqset parse_set(struct arena *a, const char *text)
{
	struct imap_cursor c;
	struct imap_seqset set;

	imap_cursor_init(&c, str_c(text));
	assert_true(imap_cursor_seqset(&c, a, &set));
	assert_true(imap_cursor_at_end(&c));
	return set;
}

static void test_resolve_seq_and_uid(void **state)
{
	struct imap_view *v = view_new();
	struct imap_seqset set;
	struct arena a;
	size_t *idx, n;

	(void)state;
	arena_init(&a, 0);
	/* Sequence numbers: "2:3,*" is messages 2, 3 and 6. */
	set = parse_set(&a, "2:3,*");
	n = imap_view_resolve(v, &set, false, &a, &idx);
	assert_int_equal(n, 3);
	assert_int_equal(idx[0], 1);
	assert_int_equal(idx[1], 2);
	assert_int_equal(idx[2], 5);
	/* UIDs: "4:8" matches 4 and 7 only; "*" is the highest UID (10). */
	set = parse_set(&a, "4:8");
	n = imap_view_resolve(v, &set, true, &a, &idx);
	assert_int_equal(n, 2);
	assert_int_equal(v->msgs[idx[0]].uid, 4);
	assert_int_equal(v->msgs[idx[1]].uid, 7);
	/* "11:*" with max UID 10 means 10:11 (RFC 9051 6.4.8). */
	set = parse_set(&a, "11:*");
	n = imap_view_resolve(v, &set, true, &a, &idx);
	assert_int_equal(n, 1);
	assert_int_equal(v->msgs[idx[0]].uid, 10);
	/* An explicit 4294967295 is no '*': "11:4294967295" matches
	 * nothing above UID 10. */
	set = parse_set(&a, "11:4294967295");
	n = imap_view_resolve(v, &set, true, &a, &idx);
	assert_int_equal(n, 0);
	set = parse_set(&a, "4294967295");
	n = imap_view_resolve(v, &set, true, &a, &idx);
	assert_int_equal(n, 0);
	arena_deinit(&a);
	imap_view_free(&v);
	assert_null(v);
}

static void test_seqs_valid(void **state)
{
	struct imap_view *v = view_new();
	struct imap_seqset set;
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	set = parse_set(&a, "1:6");
	assert_true(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "1:*");
	assert_true(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "5:7");
	assert_false(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "7");
	assert_false(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "7:*");
	assert_false(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "*:4294967295");
	assert_false(imap_view_seqs_valid(v, &set));
	set = parse_set(&a, "*,2:*,6:*");
	assert_true(imap_view_seqs_valid(v, &set));
	arena_deinit(&a);
	imap_view_free(&v);
}

static void test_find_uid_and_ranges(void **state)
{
	struct imap_view *v = view_new();
	struct store_uid_range *r;
	size_t idx[] = { 0, 1, 2, 4, 5 }, n;
	struct arena a;

	(void)state;
	arena_init(&a, 0);
	assert_int_equal(imap_view_find_uid(v, 7), 3);
	assert_int_equal(imap_view_find_uid(v, 2), 0);
	assert_int_equal(imap_view_find_uid(v, 10), 5);
	assert_int_equal(imap_view_find_uid(v, 5), -1);
	assert_int_equal(imap_view_find_uid(v, 11), -1);
	assert_int_equal(imap_view_max_uid(v), 10);
	/* UIDs 2,3,4,9,10 become two ranges. */
	r = imap_view_uid_ranges(v, idx, ARRAY_SIZE(idx), &a, &n);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].lo, 2);
	assert_int_equal(r[0].hi, 4);
	assert_int_equal(r[1].lo, 9);
	assert_int_equal(r[1].hi, 10);
	arena_deinit(&a);
	imap_view_free(&v);
}

static void test_uid_set_and_flags(void **state)
{
	static const uint32_t uids[] = { 1, 2, 3, 5, 7, 8 };
	struct imap_view *v = view_new();
	struct strbuf out = STRBUF_INIT;

	(void)state;
	imap_write_uid_set(&out, uids, ARRAY_SIZE(uids));
	assert_string_equal(strbuf_cstr(&out), "1:3,5,7:8");
	strbuf_reset(&out);
	imap_write_uid_set(&out, uids, 1);
	assert_string_equal(strbuf_cstr(&out), "1");
	strbuf_reset(&out);

	imap_view_write_flags(v, 0, &out);
	assert_string_equal(strbuf_cstr(&out), "()");
	strbuf_reset(&out);
	v->msgs[1].flags = STORE_FLAG_SEEN | STORE_FLAG_DELETED;
	v->msgs[1].keywords = xstrdup("$Junk work");	/* the view's own */
	v->recent[1] = true;
	imap_view_write_flags(v, 1, &out);
	assert_string_equal(strbuf_cstr(&out),
			    "(\\Seen \\Deleted \\Recent $Junk work)");
	v->n_recent = 1;
	imap_view_forget_recent(v);	/* ENABLE IMAP4rev2 */
	assert_false(v->recent[1]);
	assert_int_equal(v->n_recent, 0);
	strbuf_free(&out);
	imap_view_free(&v);
}

/* The FLAGS list and PERMANENTFLAGS carry the view's keywords; a
 * read-only view permits none. */
static void test_flag_lists(void **state)
{
	static char k1[] = "$Junk", k2[] = "work";
	char *kw[] = { k1, k2 };
	struct imap_view *v = view_new();
	struct strbuf out = STRBUF_INIT;

	(void)state;
	imap_view_write_flag_lists(v, &out);
	assert_string_equal(strbuf_cstr(&out),
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		"\\Draft \\*)] Flags permitted\r\n");
	strbuf_reset(&out);
	v->kw = kw;
	v->n_kw = 2;
	imap_view_write_flag_lists(v, &out);
	assert_string_equal(strbuf_cstr(&out),
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk "
		"work)\r\n"
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		"\\Draft $Junk work \\*)] Flags permitted\r\n");
	strbuf_reset(&out);
	v->readonly = true;
	imap_view_write_flag_lists(v, &out);
	assert_string_equal(strbuf_cstr(&out),
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk "
		"work)\r\n"
		"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	v->kw = NULL;
	v->n_kw = 0;
	strbuf_free(&out);
	imap_view_free(&v);
}

static void test_command_table(void **state)
{
	const struct cmd_def *def;

	(void)state;
	def = cmd_table_lookup(imap_commands, imap_commands_count,
			       STR_LIT("uid fetch"));
	assert_non_null(def);
	assert_string_equal(def->name, "UID FETCH");
	/* RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE, SEARCH (nor SORT
	 * and THREAD, which answer sequence numbers too); the UID forms may
	 * have them. */
	for (size_t i = 0; i < imap_commands_count; i++) {
		const struct cmd_def *d = &imap_commands[i];
		bool plain = strcmp(d->name, "FETCH") == 0 ||
			     strcmp(d->name, "STORE") == 0 ||
			     strcmp(d->name, "SEARCH") == 0 ||
			     strcmp(d->name, "SORT") == 0 ||
			     strcmp(d->name, "THREAD") == 0;

		assert_non_null(d->handler);
		assert_int_equal((d->flags & IMAP_CMD_NO_EXPUNGE) != 0, plain);
		assert_int_equal((d->flags & IMAP_CMD_UID) != 0,
				 strncmp(d->name, "UID ", 4) == 0);
		if ((d->flags & IMAP_CMD_SELECTED) != 0)
			assert_true((d->flags & IMAP_CMD_AUTH) != 0);
	}
	def = cmd_table_lookup(imap_commands, imap_commands_count,
			       STR_LIT("LOGIN"));
	assert_true((def->flags & IMAP_CMD_NOT_AUTH) != 0);
	assert_true((def->flags & IMAP_CMD_THROTTLED) != 0);
	def = cmd_table_lookup(imap_commands, imap_commands_count,
			       STR_LIT("APPEND"));
	assert_true((def->flags & IMAP_CMD_BIG) != 0);
	assert_null(cmd_table_lookup(imap_commands, imap_commands_count,
				     STR_LIT("UID")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_seq_and_uid),
		cmocka_unit_test(test_seqs_valid),
		cmocka_unit_test(test_find_uid_and_ranges),
		cmocka_unit_test(test_uid_set_and_flags),
		cmocka_unit_test(test_flag_lists),
		cmocka_unit_test(test_command_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
