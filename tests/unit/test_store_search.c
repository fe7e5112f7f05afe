/* Unit tests for store_search_text() (the FTS5 trigram index, the scan of
 * blobs not indexed yet, short needles, header fields, non-ASCII case) and
 * store_mailbox_status(). */
#include "test_store_util.h"

#include "base/strbuf.h"

#include <sqlite3.h>

/* uid 1: the subject is an encoded word */
static const char msg1[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.com\r\n"
	"Subject: =?utf-8?q?=C3=84RGER?= im =?iso-8859-1?q?B=FCro?=\r\n"
	"\r\n"
	"Hello World, the quick brown fox.\r\n"
	"She said \"hi there\" twice.\r\n";
/* uid 2 */
static const char msg2[] =
	"From: carol@example.org\r\n"
	"Subject: Lunch\r\n"
	"X-Tag: ab\r\n"
	"\r\n"
	"Body mentions \xc3\xa4rger here.\r\n";
/* uid 3: a base64 text part in a multipart */
static const char msg3[] =
	"From: dave@example.org\r\n"
	"Subject: Report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=XX\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"c2VjcmV0IHdvcmQ=\r\n"
	"--XX--\r\n";

static uint32_t deliver_msg(struct tstore *t, int64_t user_id,
			    const char *msg)
{
	struct store_target target = { .user_id = user_id };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct store_result *res;
	uint32_t uid;

	req.u.deliver.data = msg;
	req.u.deliver.size = strlen(msg);
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	res = tstore_do(t, &req);
	assert_int_equal(res->status, 0);
	uid = res->assigned[0].uid;
	store_result_free(&res);
	return uid;
}

/* The UIDs found, as a string like "1 3" for readable assertions. */
static const char *search(struct tstore *t, int64_t mailbox_id,
			  enum store_search_field field, const char *header,
			  const char *needle)
{
	struct strbuf b = STRBUF_INIT;
	const char *error = NULL, *s;
	uint32_t *uids;
	int n;

	n = store_search_text(t->reader, &t->arena, mailbox_id, field, header,
			      needle, &uids, &error);
	if (n < 0)
		fail_msg("store_search_text: %s", error);
	for (int i = 0; i < n; i++)
		strbuf_printf(&b, "%s%u", i > 0 ? " " : "", uids[i]);
	s = arena_strdup(&t->arena, strbuf_cstr(&b));
	strbuf_free(&b);
	return s;
}

static void check_searches(struct tstore *t, int64_t inbox)
{
	/* non-ASCII case folding both ways, through MATCH or the scan */
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "\xc3\xa4rger"), "1 2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "\xc3\x84RGER"), "1 2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "\xc3\x84rGeR"), "2");
	/* header fields: decoded, any case of name and value */
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "subject",
				   "\xc3\xa4rger"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "Subject",
				   "B\xc3\x9cRO"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "To",
				   "lunch"), "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "From",
				   "example.org"), "1 2 3");
	/* FROM/TO/CC/BCC also match the addresses in one form: a bare
	 * address as "<a@b>", a named one as "Name <a@b>"; HEADER and TEXT
	 * see only the header as it is */
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "From",
				   "<carol@example.org>"), "2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "From",
				   "alice <ALICE@example.org>"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "to",
				   "<bob@example.com>"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "From",
				   "example.org"), "1 2 3");
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "To",
				   "<carol"), "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_ADDRESS, "From",
				   "<d"), "3");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "From",
				   "<carol@example.org>"), "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "<carol@"), "");
	/* the body is not the header, and the header is not the body */
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "alice"), "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "alice"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "Lunch"), "");
	/* transfer encodings undone */
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "SECRET WORD"), "3");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "c2VjcmV0"), "");
	/* needles of 1 and 2 characters */
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "X-Tag",
				   "AB"), "2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "X-Tag",
				   "b"), "2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL, "fo"),
			    "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "\xc3\x84"), "2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL, "zq"),
			    "");
	/* empty needle: HEADER = the field exists, else everything */
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "x-tag", ""),
			    "2");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER,
				   "MIME-Version", ""), "3");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL, ""),
			    "1 2 3");
	/* FTS5 query syntax in the needle is plain text */
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "said \"hi"), "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "quick OR lunch"), "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "brown fox."), "1");
	/* needles past 32 characters: the index finds the first 32, the
	 * text decides (a match of the prefix alone is not one) */
	assert_string_equal(search(t, inbox, STORE_SEARCH_BODY, NULL,
				   "HELLO WORLD, THE QUICK BROWN FOX.\r\nShe said"),
			    "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "hello world, the quick brown fox. And more"),
			    "");
	assert_string_equal(search(t, inbox, STORE_SEARCH_TEXT, NULL,
				   "From: Alice <alice@example.org>\nTo: bob"),
			    "1");
	assert_string_equal(search(t, inbox, STORE_SEARCH_HEADER, "From",
				   "alice <alice@example.org> and something"),
			    "");
}

static int pending(struct tstore *t)
{
	const char *error;
	int n = store_search_pending(t->reader, &error);

	if (n < 0)
		fail_msg("store_search_pending: %s", error);
	return n;
}

/* Wait for the writer to index everything (it does between batches). */
static void wait_indexed(struct tstore *t)
{
	for (int i = 0; i < 500 && pending(t) > 0; i++)
		usleep(10000);
	assert_int_equal(pending(t), 0);
}

static void db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static void test_search_indexed_and_not(void **state)
{
	struct store_settings set = { .fsync = false, .busy_timeout_ms = 50 };
	struct tstore t;
	int64_t user, inbox, trash;
	struct store_mailbox mb;
	char *error = NULL;
	const char *err;
	sqlite3 *db;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, user);
	assert_int_equal(deliver_msg(&t, user, msg1), 1);
	assert_int_equal(deliver_msg(&t, user, msg2), 2);
	assert_int_equal(deliver_msg(&t, user, msg3), 3);
	/* indexed or not yet: every message is found */
	check_searches(&t, inbox);

	wait_indexed(&t);
	check_searches(&t, inbox);
	assert_int_equal(store_mailbox_by_name(t.reader, &t.arena, user,
					       "Trash", &mb, &err), 1);
	trash = mb.id;
	assert_string_equal(search(&t, trash, STORE_SEARCH_TEXT, NULL,
				   "hello"), "");

	/* Put every message back in the queue and hold the write lock so
	 * the writer cannot index: the search must scan the blobs. */
	tstore_close(&t);
	assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
	db_exec(db, "INSERT INTO search_pending(blob_id)"
		" SELECT rowid FROM search_fts;"
		"DELETE FROM search_fts;");
	db_exec(db, "BEGIN IMMEDIATE");
	set.path = t.path;
	t.store = store_open(&set, &error);
	assert_non_null(t.store);
	t.reader = store_reader_new(t.store, &error);
	assert_non_null(t.reader);
	assert_int_equal(pending(&t), 3);
	check_searches(&t, inbox);
	db_exec(db, "COMMIT");
	sqlite3_close(db);

	/* the next request wakes the indexer again */
	tstore_domain(&t, "example.net");
	wait_indexed(&t);
	check_searches(&t, inbox);
	tstore_deinit(&t);
}

static void test_search_follows_expunge(void **state)
{
	struct tstore t;
	int64_t user, inbox;
	struct store_uid_range all = { 1, UINT32_MAX };
	struct store_req req = { .type = STORE_REQ_EXPUNGE };
	const char *error;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, user);
	deliver_msg(&t, user, msg1);
	wait_indexed(&t);
	assert_string_equal(search(&t, inbox, STORE_SEARCH_BODY, NULL,
				   "quick brown"), "1");
	req.u.expunge.mailbox_id = inbox;
	req.u.expunge.uids = &all;
	req.u.expunge.n_uids = 1;
	tstore_ok(&t, &req);
	assert_string_equal(search(&t, inbox, STORE_SEARCH_BODY, NULL,
				   "quick brown"), "");
	assert_int_equal(store_blob_count(t.reader, &error), 0);
	assert_int_equal(pending(&t), 0);

	/* expunged before it was indexed: the queue entry goes too */
	deliver_msg(&t, user, msg2);
	tstore_ok(&t, &req);
	assert_int_equal(pending(&t), 0);
	assert_int_equal(store_blob_count(t.reader, &error), 0);
	tstore_deinit(&t);
}

/* With fsync on, the index batches switch the connection to NORMAL and
 * back: deliveries around them still work and the index fills. */
static void test_index_with_fsync(void **state)
{
	struct store_settings set = { .fsync = true };
	struct tstore t;
	int64_t user, inbox;
	char *error = NULL;

	(void)state;
	tstore_init(&t, 0);
	tstore_close(&t);
	set.path = t.path;
	t.store = store_open(&set, &error);
	assert_non_null(t.store);
	t.reader = store_reader_new(t.store, &error);
	assert_non_null(t.reader);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, user);
	for (int i = 0; i < 20; i++)
		deliver_msg(&t, user, i % 2 == 0 ? msg1 : msg3);
	wait_indexed(&t);
	deliver_msg(&t, user, msg2);
	wait_indexed(&t);
	assert_string_equal(search(&t, inbox, STORE_SEARCH_TEXT, NULL,
				   "\xc3\x84RGER"),
			    "1 3 5 7 9 11 13 15 17 19 21");
	assert_string_equal(search(&t, inbox, STORE_SEARCH_BODY, NULL,
				   "secret"), "2 4 6 8 10 12 14 16 18 20");
	tstore_deinit(&t);
}

static void test_mailbox_status(void **state)
{
	struct tstore t;
	struct store_mailbox_status st;
	struct store_uid_range one = { 1, 1 }, two = { 2, 2 };
	struct store_req req = { .type = STORE_REQ_SET_FLAGS };
	struct store_mailbox mb;
	int64_t user, inbox;
	const char *error;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "bob@example.com");
	inbox = tstore_inbox(&t, user);

	assert_int_equal(store_mailbox_status(t.reader, inbox, &st, &error), 1);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.size, 0);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.deleted_size, 0);
	assert_int_equal(st.uidnext, 1);

	deliver_msg(&t, user, msg1);
	deliver_msg(&t, user, msg2);
	deliver_msg(&t, user, msg3);
	req.u.set_flags.mailbox_id = inbox;
	req.u.set_flags.uids = &one;
	req.u.set_flags.n_uids = 1;
	req.u.set_flags.op = STORE_FLAGS_ADD;
	req.u.set_flags.flags = STORE_FLAG_DELETED | STORE_FLAG_SEEN;
	tstore_ok(&t, &req);
	req.u.set_flags.uids = &two;
	req.u.set_flags.flags = STORE_FLAG_SEEN;
	tstore_ok(&t, &req);

	assert_int_equal(store_mailbox_status(t.reader, inbox, &st, &error), 1);
	assert_int_equal(store_mailbox_by_id(t.reader, &t.arena, inbox, &mb,
					     &error), 1);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.size, strlen(msg1) + strlen(msg2) + strlen(msg3));
	assert_int_equal(st.deleted_size, strlen(msg1));
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(st.uidvalidity, mb.uidvalidity);
	assert_int_equal(st.highestmodseq, mb.highestmodseq);
	assert_true(st.highestmodseq > 1);

	assert_int_equal(store_mailbox_status(t.reader, 9999, &st, &error), 0);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_indexed_and_not),
		cmocka_unit_test(test_search_follows_expunge),
		cmocka_unit_test(test_index_with_fsync),
		cmocka_unit_test(test_mailbox_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
