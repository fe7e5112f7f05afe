/* cmd_store.c: posthorn store copy --to CONNINFO: the configured SQLite
 * store copied into an empty PostgreSQL database, table by table in one
 * transaction, with every id, UID, modseq and UIDVALIDITY as it was, so
 * clients need not resync after a move. Written against the two schemas'
 * tables and columns (store_schema_*.c), not the store API. */
#include "base/pidlock.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "db/db.h"
#include "mail/charset.h"
#include "mail/mutf7.h"
#include "store/store_schema.h"

#include <stdio.h>

/* A table: its columns, the kind of each (i integer, t text, b bytes),
 * and the statements that read it from SQLite, count it and write it to
 * PostgreSQL (literals: db_prepare keeps statements by their address). */
struct copy_table {
	const char *name;
	const char *kinds;
	const char *select, *count, *insert;
};

#define TABLE(name, cols, kinds, params) { name, kinds, \
	"SELECT " cols " FROM " name, "SELECT count(*) FROM " name, \
	"INSERT INTO " name "(" cols ") VALUES(" params ")" }

/* In an order that a foreign key added later would accept. The search
 * index is not copied: its PostgreSQL text is folded (store_schema.h), so
 * every stored message is queued for it instead. */
static const struct copy_table tables[] = {
	TABLE("store_meta", "key, value", "ti", "?1, ?2"),
	TABLE("domains", "id, name", "it", "?1, ?2"),
	TABLE("users", "id, address, domain_id, password_hash, scram_sha256,"
	      " apop_secret, quota, disabled", "ititttii",
	      "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"),
	TABLE("aliases", "address, target", "tt", "?1, ?2"),
	TABLE("mailboxes", "id, user_id, name, uidvalidity, uidnext,"
	      " highestmodseq, special_use, subscribed, messages, unseen,"
	      " recent_uid", "iitiiitiiii",
	      "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"),
	TABLE("subscriptions", "user_id, name", "it", "?1, ?2"),
	TABLE("blobs", "id, refcount, size, envelope, bodystructure, body,"
	      " parts", "iiibbbb", "?1, ?2, ?3, ?4, ?5, ?6, ?7"),
	TABLE("blob_data", "id, data", "ib", "?1, ?2"),
	TABLE("messages", "mailbox_id, uid, blob_id, flags, keywords,"
	      " internal_date, size, modseq, internal_zone", "iiiitiiii",
	      "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"),
	TABLE("expunged", "mailbox_id, uid, modseq", "iii", "?1, ?2, ?3"),
	TABLE("queue", "id, blob_id, sender, envid, ret, state, attempts,"
	      " next_try, last_error, created, delay_notified, held,"
	      " requiretls, tls_optional, retry_now", "iittttiitiiiiii",
	      "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	      " ?15"),
	TABLE("queue_rcpts", "queue_id, idx, address, orcpt, notify, state,"
	      " status, diagnostic, remote_mta", "iittttttt",
	      "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"),
};

/* The tables whose ids come from a sequence on PostgreSQL, and the
 * statement that sets it past what was copied: next = max(highest id + 1,
 * ?1) where ?1 is SQLite's own next id (AUTOINCREMENT remembers the ids
 * of deleted queue entries: they are never handed out again). */
#define SEQUENCE(name) { name, "SELECT setval(pg_get_serial_sequence('" \
	name "', 'id'), greatest(coalesce(max(id), 0) + 1, ?1), false)" \
	" FROM " name }
static const struct {
	const char *table, *sql;
} sequences[] = {
	SEQUENCE("domains"),
	SEQUENCE("users"),
	SEQUENCE("mailboxes"),
	SEQUENCE("blobs"),
	SEQUENCE("queue"),
};

static const char sqlite_next_id[] =
	"SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0) + 1";
static const char reindex_all[] =
	"INSERT INTO search_pending(blob_id) SELECT DISTINCT blob_id"
	" FROM messages ON CONFLICT DO NOTHING";

struct copy {
	struct db *from, *to;
	struct strbuf text;	/* a text column made valid */
	unsigned long replaced;	/* text values that were not UTF-8 */
};

static int db_failed(struct db *db, const char *what)
{
	fprintf(stderr, "posthorn: store copy: %s: %s\n", what, db_error(db));
	return CLI_STORE;
}

/* libpq takes postgresql:// and postgres:// URIs and key=value strings;
 * pgsql:// (the driver's name) is taken as the first. malloc'd. */
static char *conninfo_of(const char *to)
{
	if (strncmp(to, "pgsql://", 8) == 0)
		return xasprintf("postgresql://%s", to + 8);
	return xstrdup(to);
}

/* Bind column i of the SQLite row in st to parameter i + 1 of ins.
 * PostgreSQL text must be UTF-8 without NUL: a value that is not (a
 * remote server's reply kept in a queue diagnostic, say) is copied with
 * its bad bytes as U+FFFD and counted. */
static void bind_column(struct copy *c, struct db_stmt *st,
			struct db_stmt *ins, int i, char kind)
{
	struct str v;

	if (db_col_null(st, i)) {
		db_bind_null(ins, i + 1);
		return;
	}
	switch (kind) {
	case 'i':
		db_bind_int(ins, i + 1, db_col_int(st, i));
		return;
	case 'b':
		v = db_col_blob(st, i);
		db_bind_blob(ins, i + 1, v.p, v.n);
		return;
	}
	v = db_col_text(st, i);
	if (!mutf7_utf8_valid(v.p, v.n) || memchr(v.p, '\0', v.n) != NULL) {
		strbuf_reset(&c->text);
		charset_utf8_sanitize(&c->text, v);
		for (size_t k = 0; k < c->text.n; k++) {
			if (c->text.p[k] == '\0')
				c->text.p[k] = '?';
		}
		v = strbuf_str(&c->text);
		c->replaced++;
	}
	db_bind_text(ins, i + 1, v);
}

/* The columns "SELECT a, b FROM t" names. */
static int columns_of(const char *select)
{
	const char *end = strstr(select, " FROM ");
	int n = 1;

	for (const char *p = select; p < end; p++)
		n += *p == ',';
	return n;
}

/* The number of rows of a table, or -1. */
static int64_t count_rows(struct db *db, const char *sql)
{
	struct db_stmt *st = db_prepare(db, sql);
	int64_t n;

	if (st == NULL || db_step(st) != 1)
		return -1;
	n = db_col_int(st, 0);
	db_reset(st);
	return n;
}

static int copy_table(struct copy *c, const struct copy_table *t)
{
	struct db_stmt *st = db_prepare(c->from, t->select);
	struct db_stmt *ins = db_prepare(c->to, t->insert);
	int n_cols = (int)strlen(t->kinds), ret;
	int64_t rows = 0;

	if (n_cols != columns_of(t->select))
		PANIC("store copy: %s: %d kinds for %d columns", t->name,
		      n_cols, columns_of(t->select));
	if (st == NULL)
		return db_failed(c->from, t->name);
	if (ins == NULL)
		return db_failed(c->to, t->name);
	while ((ret = db_step(st)) == 1) {
		for (int i = 0; i < n_cols; i++)
			bind_column(c, st, ins, i, t->kinds[i]);
		if (db_run(ins) < 0) {
			db_reset(st);
			return db_failed(c->to, t->name);
		}
		rows++;
	}
	if (ret < 0)
		return db_failed(c->from, t->name);
	printf("  %-14s %lld row%s\n", t->name, (long long)rows,
	       rows == 1 ? "" : "s");
	return CLI_OK;
}

static int set_sequences(struct copy *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(sequences); i++) {
		struct db_stmt *st = db_prepare(c->from, sqlite_next_id);
		int64_t next;

		if (st == NULL)
			return db_failed(c->from, "sqlite_sequence");
		db_bind_cstr(st, 1, sequences[i].table);
		if (db_step(st) != 1)
			return db_failed(c->from, "sqlite_sequence");
		next = db_col_int(st, 0);
		db_reset(st);
		if ((st = db_prepare(c->to, sequences[i].sql)) == NULL)
			return db_failed(c->to, sequences[i].table);
		db_bind_int(st, 1, next);
		if (db_run(st) < 0)
			return db_failed(c->to, sequences[i].table);
	}
	return CLI_OK;
}

/* Refuse a target with rows in any table the copy writes: the copy keeps
 * every id, and a second store merged into a first would mix them. */
static int target_empty(struct copy *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		int64_t n = count_rows(c->to, tables[i].count);

		if (n < 0)
			return db_failed(c->to, tables[i].name);
		if (n > 0) {
			fprintf(stderr, "posthorn: store copy: the target "
				"database is not empty (table %s has %lld "
				"row%s): copy into a new database\n",
				tables[i].name, (long long)n, n == 1 ? "" : "s");
			return CLI_FAILED;
		}
	}
	return CLI_OK;
}

static int copy_all(struct copy *c)
{
	int ret;

	if (db_begin(c->to) < 0)
		return db_failed(c->to, "begin");
	/* one snapshot of the source, should anything write it meanwhile */
	if (db_begin_read(c->from) < 0) {
		db_rollback(c->to);
		return db_failed(c->from, "begin");
	}
	ret = target_empty(c);
	for (size_t i = 0; ret == CLI_OK && i < ARRAY_SIZE(tables); i++)
		ret = copy_table(c, &tables[i]);
	if (ret == CLI_OK)
		ret = set_sequences(c);
	if (ret == CLI_OK && db_exec(c->to, reindex_all) < 0)
		ret = db_failed(c->to, "search_pending");
	db_rollback(c->from);
	if (ret == CLI_OK && db_commit(c->to) < 0)
		ret = db_failed(c->to, "commit");
	if (ret != CLI_OK)
		db_rollback(c->to);
	return ret;
}

/* Whether a posthornd holds the data dir: the copy wants a stopped
 * store, or mail accepted during it would stay behind. */
static int daemon_stopped(const struct config *cfg)
{
	char *lock = xasprintf("%s/" CONFIG_DATA_DIR_LOCK, cfg->server.data_dir);
	char *error = NULL;
	pid_t pid = pidlock_holder(lock, &error);

	free(lock);
	if (pid < 0) {
		fprintf(stderr, "posthorn: store copy: %s\n", error);
		free(error);
		return CLI_FAILED;
	}
	if (pid > 0) {
		fprintf(stderr, "posthorn: store copy: posthornd (pid %ld) runs "
			"on %s: stop it first\n", (long)pid, cfg->server.data_dir);
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int store_copy(struct cli *cli, const char *to)
{
	struct db_settings from_set = { .kind = DB_SQLITE };
	struct db_settings to_set = {
		.kind = DB_PGSQL, .fsync = true, .writer = true,
	};
	struct copy c = { .text = STRBUF_INIT };
	char *conninfo, *error = NULL;
	int ret, v;

	if ((ret = cli_load_config(cli)) != CLI_OK)
		return ret;
	if (cli->cfg->store.driver != CONFIG_STORE_SQLITE) {
		fprintf(stderr, "posthorn: store copy: the configured store "
			"is not SQLite ([store] driver)\n");
		return CLI_FAILED;
	}
	if ((ret = daemon_stopped(cli->cfg)) != CLI_OK)
		return ret;
	from_set.path = cli->cfg->store.path;
	if ((c.from = db_open(&from_set, &error)) == NULL) {
		fprintf(stderr, "posthorn: store copy: %s\n", error);
		free(error);
		return CLI_STORE;
	}
	v = db_schema_version(c.from);
	if (v != (int)store_sqlite_n_migrations) {
		fprintf(stderr, "posthorn: store copy: %s is at schema version "
			"%d, this program copies version %zu: start this "
			"version's posthornd on it once first\n",
			from_set.path, v, store_sqlite_n_migrations);
		db_close(&c.from);
		return CLI_STORE;
	}
	conninfo = conninfo_of(to);
	to_set.conninfo = conninfo;
	c.to = db_open(&to_set, &error);
	free(conninfo);
	if (c.to == NULL) {
		fprintf(stderr, "posthorn: store copy: %s\n", error);
		free(error);
		db_close(&c.from);
		return CLI_STORE;
	}
	if (db_migrate(c.to, store_pgsql_migrations,
		       store_pgsql_n_migrations) < 0) {
		ret = db_failed(c.to, "schema");
	} else {
		printf("copying %s to PostgreSQL:\n", from_set.path);
		ret = copy_all(&c);
	}
	if (ret == CLI_OK) {
		if (c.replaced > 0)
			printf("  note: %lu text value%s not UTF-8, copied "
			       "with U+FFFD for the bad bytes\n", c.replaced,
			       c.replaced == 1 ? " was" : "s were");
		printf("done; the search index is rebuilt by posthornd in the "
		       "background. Now set [store] driver = pgsql and "
		       "conninfo in %s.\n", cli->cfg->source);
	}
	strbuf_free(&c.text);
	db_close(&c.to);
	db_close(&c.from);
	return ret;
}

int cmd_store(struct cli *cli, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "copy") == 0) {
		if (cli->copy_to == NULL) {
			fprintf(stderr, "posthorn: store copy needs --to CONNINFO\n");
			return CLI_USAGE;
		}
		return store_copy(cli, cli->copy_to);
	}
	return CLI_USAGE;
}
