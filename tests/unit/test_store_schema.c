/* Unit tests for the store's schemas (store_schema_*.c): the SQLite
 * migrations apply through db_migrate(); when POSTHORN_TEST_PGSQL holds a
 * libpq connection string (tests/integration/test_db_pgsql.py
 * starts a cluster and sets it), so do the PostgreSQL ones, with the same
 * tables, columns, keys and indexes as SQLite's, and the search index
 * answers its statements through its trigram indexes. */
#include "unit.h"

#include "db/db.h"
#include "store/store_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static struct db *open_db(enum db_kind kind)
{
	struct db_settings set = {
		.kind = kind,
		.path = path,
		.conninfo = getenv("POSTHORN_TEST_PGSQL"),
		.writer = true,
	};
	char *error = NULL;
	struct db *db = db_open(&set, &error);

	if (db == NULL)
		fail_msg("db_open: %s", error);
	return db;
}

static struct db *migrated(enum db_kind kind)
{
	struct db *db = open_db(kind);
	const char *const *m = kind == DB_PGSQL ? store_pgsql_migrations :
		store_sqlite_migrations;
	size_t n = kind == DB_PGSQL ? store_pgsql_n_migrations :
		store_sqlite_n_migrations;

	if (db_migrate(db, m, n) < 0)
		fail_msg("db_migrate: %s", db_error(db));
	assert_int_equal(db_schema_version(db), (int)n);
	/* a second run finds nothing to do */
	assert_int_equal(db_migrate(db, m, n), 0);
	return db;
}

/* The rows of a statement without parameters, one line each, the columns
 * separated by spaces (PostgreSQL's as text: the driver reads rows in
 * binary). */
static void rows(struct db *db, const char *sql, int n_cols,
		 struct strbuf *out)
{
	struct db_stmt *st = db_prepare(db, sql);
	int ret;

	if (st == NULL)
		fail_msg("prepare %s: %s", sql, db_error(db));
	while ((ret = db_step(st)) == 1) {
		for (int i = 0; i < n_cols; i++) {
			if (i > 0)
				strbuf_putc(out, ' ');
			strbuf_append_str(out, db_col_text(st, i));
		}
		strbuf_putc(out, '\n');
	}
	if (ret < 0)
		fail_msg("step %s: %s", sql, db_error(db));
}

/* The schema in one form for both: "table column type pk" per column
 * (types as PostgreSQL names them, SQLite's mapped: INTEGER bigint, TEXT
 * text, BLOB bytea), "unique table col,col", "index name table"; the
 * search index's text tables, which differ by design, left out. */
static const char sqlite_columns[] =
	"SELECT m.name, p.name, CASE p.type WHEN 'INTEGER' THEN 'bigint'"
	" WHEN 'BLOB' THEN 'bytea' ELSE lower(p.type) END, p.pk"
	" FROM sqlite_master m, pragma_table_info(m.name) p"
	" WHERE m.type = 'table' AND m.name NOT LIKE 'search_fts%'"
	" AND m.name NOT LIKE 'sqlite_%'"
	" ORDER BY m.name, p.cid";
static const char sqlite_uniques[] =
	"SELECT 'unique', m.name, group_concat(ii.name, ',')"
	" FROM sqlite_master m, pragma_index_list(m.name) il,"
	" pragma_index_info(il.name) ii"
	" WHERE m.type = 'table' AND il.origin = 'u'"
	" GROUP BY m.name, il.name ORDER BY m.name, 3";
static const char sqlite_indexes[] =
	"SELECT 'index', name, tbl_name FROM sqlite_master"
	" WHERE type = 'index' AND sql IS NOT NULL ORDER BY name";

static const char pgsql_columns[] =
	"SELECT c.table_name::text, c.column_name::text,"
	" CASE c.udt_name WHEN 'int8' THEN 'bigint' ELSE c.udt_name::text END,"
	" coalesce(k.ordinal_position, 0)::text"
	" FROM information_schema.columns c"
	" LEFT JOIN (information_schema.table_constraints t"
	" JOIN information_schema.key_column_usage k"
	" ON k.constraint_name = t.constraint_name"
	" AND k.table_schema = t.table_schema"
	" AND t.constraint_type = 'PRIMARY KEY')"
	" ON k.table_name = c.table_name AND k.column_name = c.column_name"
	" AND k.table_schema = c.table_schema"
	" WHERE c.table_schema = 'public'"
	" AND c.table_name NOT IN ('search_text', 'posthorn_schema')"
	" ORDER BY c.table_name, c.ordinal_position";
static const char pgsql_uniques[] =
	"SELECT 'unique', t.table_name::text,"
	" string_agg(k.column_name::text, ',' ORDER BY k.ordinal_position)"
	" FROM information_schema.table_constraints t"
	" JOIN information_schema.key_column_usage k"
	" ON k.constraint_name = t.constraint_name"
	" AND k.table_schema = t.table_schema"
	" WHERE t.table_schema = 'public' AND t.constraint_type = 'UNIQUE'"
	" GROUP BY t.table_name, t.constraint_name ORDER BY 2, 3";
static const char pgsql_indexes[] =
	"SELECT 'index', indexname::text, tablename::text FROM pg_indexes"
	" WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey'"
	" AND indexname NOT LIKE '%\\_key'"
	" AND tablename NOT IN ('search_text', 'posthorn_schema')"
	" ORDER BY indexname";

static void schema_text(struct db *db, struct strbuf *out)
{
	bool pg = db_kind(db) == DB_PGSQL;

	rows(db, pg ? pgsql_columns : sqlite_columns, 4, out);
	rows(db, pg ? pgsql_uniques : sqlite_uniques, 3, out);
	rows(db, pg ? pgsql_indexes : sqlite_indexes, 3, out);
}

/* What PostgreSQL types differently on purpose (store_schema_pgsql.c):
 * SQLite's NOCASE text is citext, header-derived text is bytea. */
static const char *const pg_differs[][2] = {
	{ "aliases address text", "aliases address citext" },
	{ "domains name text", "domains name citext" },
	{ "users address text", "users address citext" },
	{ "blobs envelope text", "blobs envelope bytea" },
	{ "blobs bodystructure text", "blobs bodystructure bytea" },
	{ "blobs body text", "blobs body bytea" },
};

static void expect_pg_types(struct strbuf *sqlite)
{
	struct strbuf out = STRBUF_INIT;
	struct str rest = strbuf_str(sqlite), line;

	while (rest.n > 0 && str_split(rest, '\n', &line, &rest)) {
		for (size_t i = 0; i < ARRAY_SIZE(pg_differs); i++) {
			struct str from = str_c(pg_differs[i][0]);

			if (line.n > from.n && memcmp(line.p, from.p, from.n) == 0 &&
			    line.p[from.n] == ' ') {
				strbuf_append_c(&out, pg_differs[i][1]);
				line = str_from(line, from.n);
			}
		}
		strbuf_append_str(&out, line);
		strbuf_putc(&out, '\n');
	}
	strbuf_free(sqlite);
	*sqlite = out;
}

static void test_sqlite_schema(void **state)
{
	struct db *db = migrated(DB_SQLITE);
	struct strbuf s = STRBUF_INIT;

	(void)state;
	schema_text(db, &s);
	strbuf_putc(&s, '\0');
	/* the columns the latest migrations added are there */
	assert_non_null(strstr(s.p, "subscriptions name text 2\n"));
	assert_non_null(strstr(s.p, "messages internal_zone bigint 0\n"));
	assert_non_null(strstr(s.p, "mailboxes recent_uid bigint 0\n"));
	assert_non_null(strstr(s.p, "unique mailboxes user_id,name\n"));
	assert_non_null(strstr(s.p, "index queue_due queue\n"));
	strbuf_free(&s);
	db_close(&db);
}

static void test_like_pattern(void **state)
{
	struct strbuf b = STRBUF_INIT;

	(void)state;
	store_pgsql_like(&b, STR_LIT("50%_a\\b"));
	assert_int_equal(b.n, strlen("%50\\%\\_a\\\\b%"));
	assert_memory_equal(b.p, "%50\\%\\_a\\\\b%", b.n);
	strbuf_reset(&b);
	store_pgsql_like(&b, STR_NULL);
	assert_int_equal(b.n, 2);
	assert_memory_equal(b.p, "%%", 2);
	strbuf_free(&b);
}

static void test_pgsql_same_schema(void **state)
{
	struct db *lite, *pg;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

	(void)state;
	if (getenv("POSTHORN_TEST_PGSQL") == NULL)
		skip();
	lite = migrated(DB_SQLITE);
	pg = migrated(DB_PGSQL);
	schema_text(lite, &a);
	expect_pg_types(&a);
	schema_text(pg, &b);
	strbuf_putc(&a, '\0');
	strbuf_putc(&b, '\0');
	assert_string_equal(b.p, a.p);
	strbuf_free(&a);
	strbuf_free(&b);
	db_close(&lite);
	db_close(&pg);
}

/* Mailbox 1 holds blobs 10, 11, 12 as UIDs 1, 2, 3, indexed with the
 * (already folded) text below; blob 13 is indexed but in no mailbox of
 * ours. */
static void search_fixture(struct db *db)
{
	static const char msg[] = "INSERT INTO messages(mailbox_id, uid,"
		" blob_id, flags, keywords, internal_date, size, modseq)"
		" VALUES(?1, ?2, ?3, 0, '', 0, 0, 1)";
	static const struct {
		int64_t mailbox, uid, blob;
		const char *hdr, *body, *addr;
	} m[] = {
		{ 1, 1, 10, "subject: hello\nfrom: ann <ann@a.example>\n",
		  "thanks hi, 50% off world", "from: <ann@a.example>\n" },
		{ 1, 2, 11, "subject: offers\n", "500 offers_here",
		  "to: <bob@b.example>\n" },
		{ 1, 3, 12, "subject: ärger\n", "straße ünïcode", "" },
		{ 2, 1, 13, "subject: hello\n", "world", "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		struct db_stmt *st = db_prepare(db, msg);

		db_bind_int(st, 1, m[i].mailbox);
		db_bind_int(st, 2, m[i].uid);
		db_bind_int(st, 3, m[i].blob);
		assert_int_equal(db_run(st), 0);
		/* twice: the second replaces the first */
		for (int k = 0; k < 2; k++) {
			st = db_prepare(db, store_pgsql_search_sql.insert);
			db_bind_int(st, 1, m[i].blob);
			db_bind_cstr(st, 2, k == 0 ? "x" : m[i].hdr);
			db_bind_cstr(st, 3, k == 0 ? "x" : m[i].body);
			db_bind_cstr(st, 4, k == 0 ? "x" : m[i].addr);
			if (db_run(st) < 0)
				fail_msg("search insert: %s", db_error(db));
		}
	}
}

/* The UIDs of mailbox 1 that field's statement gives for needle, as
 * "1,3"; each row's columns the field does not look at must be ''. */
static void match(struct db *db, enum store_search_field field,
		  const char *needle, char *out, size_t size)
{
	struct db_stmt *st = db_prepare(db, store_pgsql_search_sql.match[field]);
	struct strbuf pattern = STRBUF_INIT;
	size_t n = 0;
	int ret;

	store_pgsql_like(&pattern, str_c(needle));
	db_bind_int(st, 1, 1);
	db_bind_text(st, 2, strbuf_str(&pattern));
	out[0] = '\0';
	while ((ret = db_step(st)) == 1) {
		n += (size_t)snprintf(out + n, size - n, "%s%lld",
				      n > 0 ? "," : "",
				      (long long)db_col_int(st, 0));
		if (field == STORE_SEARCH_BODY)
			assert_int_equal(db_col_text(st, 1).n, 0);
		if (field != STORE_SEARCH_BODY && field != STORE_SEARCH_TEXT)
			assert_int_equal(db_col_text(st, 2).n, 0);
		if (field != STORE_SEARCH_ADDRESS)
			assert_int_equal(db_col_text(st, 3).n, 0);
	}
	if (ret < 0)
		fail_msg("search: %s", db_error(db));
	strbuf_free(&pattern);
}

static void test_pgsql_search(void **state)
{
	struct db *db;
	char got[64];

	(void)state;
	if (getenv("POSTHORN_TEST_PGSQL") == NULL)
		skip();
	db = migrated(DB_PGSQL);
	assert_int_equal(db_exec(db, "DELETE FROM messages;"
				 "DELETE FROM search_text"), 0);
	search_fixture(db);
	match(db, STORE_SEARCH_BODY, "world", got, sizeof(got));
	assert_string_equal(got, "1");
	/* % and _ are the needle's own characters, not wildcards */
	match(db, STORE_SEARCH_BODY, "50%", got, sizeof(got));
	assert_string_equal(got, "1");
	match(db, STORE_SEARCH_BODY, "s_h", got, sizeof(got));
	assert_string_equal(got, "2");
	match(db, STORE_SEARCH_BODY, "s h", got, sizeof(got));
	assert_string_equal(got, "1");
	/* short needles and non-ASCII text match too (no trigram to look
	 * up: the rows are read) */
	match(db, STORE_SEARCH_BODY, "ß", got, sizeof(got));
	assert_string_equal(got, "3");
	match(db, STORE_SEARCH_BODY, "ünïcode", got, sizeof(got));
	assert_string_equal(got, "3");
	/* LIKE on folded text: the needle is folded as the text was */
	match(db, STORE_SEARCH_BODY, "World", got, sizeof(got));
	assert_string_equal(got, "");
	match(db, STORE_SEARCH_TEXT, "offers", got, sizeof(got));
	assert_string_equal(got, "2");
	match(db, STORE_SEARCH_TEXT, "hello", got, sizeof(got));
	assert_string_equal(got, "1");
	match(db, STORE_SEARCH_HEADER, "ärger", got, sizeof(got));
	assert_string_equal(got, "3");
	match(db, STORE_SEARCH_HEADER, "here", got, sizeof(got));
	assert_string_equal(got, "");
	match(db, STORE_SEARCH_ADDRESS, "bob@b", got, sizeof(got));
	assert_string_equal(got, "2");
	match(db, STORE_SEARCH_ADDRESS, "ann", got, sizeof(got));
	assert_string_equal(got, "1");
	/* a blob that leaves the index leaves the answers */
	{
		struct db_stmt *st = db_prepare(db, store_pgsql_search_sql.remove);

		db_bind_int(st, 1, 10);
		assert_int_equal(db_run(st), 0);
		assert_int_equal(db_changes(st), 1);
	}
	match(db, STORE_SEARCH_BODY, "world", got, sizeof(got));
	assert_string_equal(got, "");
	db_close(&db);
}

/* EXPLAIN of each field's statement over a mailbox of 3000 messages
 * whose text is in the index, the planner kept off plain scans (with so
 * few rows it reads them all; at 100 000 it takes the trigram index on
 * its own): the trigram index can answer it. */
static void test_pgsql_search_uses_index(void **state)
{
	static char explain[ARRAY_SIZE(store_pgsql_search_sql.match)][512];
	static const char *const index_of[] = {
		[STORE_SEARCH_BODY] = "search_text_body",
		[STORE_SEARCH_TEXT] = "search_text_body",
		[STORE_SEARCH_HEADER] = "search_text_hdr",
		[STORE_SEARCH_ADDRESS] = "search_text_addr",
	};
	struct db *db;

	(void)state;
	if (getenv("POSTHORN_TEST_PGSQL") == NULL)
		skip();
	db = migrated(DB_PGSQL);
	if (db_exec(db, "DELETE FROM messages; DELETE FROM search_text;"
		    "INSERT INTO messages(mailbox_id, uid, blob_id, flags,"
		    " keywords, internal_date, size, modseq)"
		    " SELECT 7, g, 1000 + g, 0, '', 0, 0, g"
		    " FROM generate_series(1, 3000) g;"
		    "INSERT INTO search_text(blob_id, hdr, body, addr)"
		    " SELECT 1000 + g, 'subject: ' || md5(g::text),"
		    " repeat(md5(g::text || 'b'), 20),"
		    " 'from: <' || md5(g::text || 'a') || '@example.org>'"
		    " FROM generate_series(1, 3000) g;"
		    "ANALYZE messages; ANALYZE search_text;"
		    "SET enable_seqscan = off; SET enable_indexscan = off") < 0)
		fail_msg("fill: %s", db_error(db));
	for (size_t f = 0; f < ARRAY_SIZE(explain); f++) {
		struct strbuf plan = STRBUF_INIT;
		struct db_stmt *st;
		int ret;

		snprintf(explain[f], sizeof(explain[f]), "EXPLAIN %s",
			 store_pgsql_search_sql.match[f]);
		if ((st = db_prepare(db, explain[f])) == NULL)
			fail_msg("prepare: %s", db_error(db));
		db_bind_int(st, 1, 7);
		db_bind_cstr(st, 2, "%needle%");
		while ((ret = db_step(st)) == 1) {
			strbuf_append_str(&plan, db_col_text(st, 0));
			strbuf_putc(&plan, '\n');
		}
		assert_int_equal(ret, 0);
		strbuf_putc(&plan, '\0');
		if (strstr(plan.p, index_of[f]) == NULL)
			fail_msg("field %zu does not use %s:\n%s", f,
				 index_of[f], plan.p);
		strbuf_free(&plan);
	}
	db_close(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlite_schema),
		cmocka_unit_test(test_like_pattern),
		cmocka_unit_test(test_pgsql_same_schema),
		cmocka_unit_test(test_pgsql_search),
		cmocka_unit_test(test_pgsql_search_uses_index),
	};
	int ret;

	printf("pgsql: %s\n", getenv("POSTHORN_TEST_PGSQL") != NULL ?
	       "yes" : "no");
	snprintf(dir, sizeof(dir), "/tmp/posthorn-test-schema-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/s.db", dir);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		ret = 1;
	return ret;
}
