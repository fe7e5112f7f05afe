/* store_sqlite.c: the SQLite driver: schema and migrations, a prepared
 * statement cache per connection, the write requests and the readers. */
#include "store/store_sqlite_int.h"
#include "base/strbuf.h"

#include <sqlite3.h>
#include <pthread.h>
#include <time.h>

/* Ordered migrations; migration i brings user_version from i to i + 1.
 * Each runs in its own transaction. Never edit one that has shipped: add
 * a new one. */
static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE store_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE domains(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE COLLATE NOCASE);"
	"CREATE TABLE users(id INTEGER PRIMARY KEY,"
	" address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" domain_id INTEGER NOT NULL,"
	" password_hash TEXT NOT NULL DEFAULT '',"
	" scram_sha256 TEXT NOT NULL DEFAULT '',"
	" apop_secret TEXT NOT NULL DEFAULT '',"
	" quota INTEGER NOT NULL DEFAULT 0,"
	" disabled INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX users_domain ON users(domain_id);"
	"CREATE TABLE aliases(address TEXT NOT NULL COLLATE NOCASE,"
	" target TEXT NOT NULL, PRIMARY KEY(address, target)) WITHOUT ROWID;"
	"CREATE TABLE mailboxes(id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL, name TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL DEFAULT 1,"
	" highestmodseq INTEGER NOT NULL DEFAULT 1,"
	" special_use TEXT NOT NULL DEFAULT '',"
	" subscribed INTEGER NOT NULL DEFAULT 0,"
	" messages INTEGER NOT NULL DEFAULT 0,"
	" unseen INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(user_id, name));"
	"CREATE TABLE blobs(id INTEGER PRIMARY KEY,"
	" refcount INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL,"
	" envelope TEXT NOT NULL, bodystructure TEXT NOT NULL,"
	" body TEXT NOT NULL, parts BLOB NOT NULL);"
	"CREATE TABLE messages(mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, blob_id INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, keywords TEXT NOT NULL,"
	" internal_date INTEGER NOT NULL, size INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL, PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE expunged(mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE queue(id INTEGER PRIMARY KEY, blob_id INTEGER NOT NULL,"
	" sender TEXT NOT NULL, envid TEXT NOT NULL, ret TEXT NOT NULL,"
	" state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL);"
	"CREATE INDEX queue_next_try ON queue(next_try);"
	"CREATE TABLE queue_rcpts(queue_id INTEGER NOT NULL,"
	" idx INTEGER NOT NULL, address TEXT NOT NULL, orcpt TEXT NOT NULL,"
	" notify TEXT NOT NULL, PRIMARY KEY(queue_id, idx)) WITHOUT ROWID;",
	/* 2: the SEARCH index (store_sqlite_search.c): blobs waiting to be
	 * indexed, and the trigram index of the top header and the body
	 * text keyed by blob id */
	"CREATE TABLE search_pending(blob_id INTEGER PRIMARY KEY);"
	"CREATE VIRTUAL TABLE search_fts USING fts5(hdr, body,"
	" tokenize = 'trigram case_sensitive 0');"
	"INSERT INTO search_pending(blob_id)"
	" SELECT DISTINCT blob_id FROM messages;",
	/* 3: outbound delivery state per recipient (store_sqlite_queue.c),
	 * the delay notice and hold marks of an entry, an index for the
	 * runner's due list, and queue ids that are never reused (a result
	 * or an admin command for a deleted entry must not hit a new one) */
	"CREATE TABLE queue3(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" blob_id INTEGER NOT NULL,"
	" sender TEXT NOT NULL, envid TEXT NOT NULL, ret TEXT NOT NULL,"
	" state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" delay_notified INTEGER NOT NULL DEFAULT 0,"
	" held INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO queue3(id, blob_id, sender, envid, ret, state, attempts,"
	" next_try, last_error, created) SELECT id, blob_id, sender, envid,"
	" ret, state, attempts, next_try, last_error, created FROM queue;"
	"DROP TABLE queue;"
	"ALTER TABLE queue3 RENAME TO queue;"
	"CREATE INDEX queue_due ON queue(held, next_try);"
	"ALTER TABLE queue_rcpts ADD COLUMN state TEXT NOT NULL"
	" DEFAULT 'pending';"
	"ALTER TABLE queue_rcpts ADD COLUMN status TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE queue_rcpts ADD COLUMN diagnostic TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE queue_rcpts ADD COLUMN remote_mta TEXT NOT NULL DEFAULT '';",
	/* 4: RFC 8689 REQUIRETLS of a queued message */
	"ALTER TABLE queue ADD COLUMN requiretls INTEGER NOT NULL DEFAULT 0;",
	/* 5: message bytes in their own table, so a row of metadata (what
	 * FETCH ENVELOPE BODYSTRUCTURE reads) is small and not stored after
	 * ~4 KB of bytes in overflow pages */
	"CREATE TABLE blob_data(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"INSERT INTO blob_data(id, data) SELECT id, data FROM blobs;"
	"ALTER TABLE blobs DROP COLUMN data;",
	/* 6: what changed in a mailbox since a modseq (an IMAP view catching
	 * up after a change event) without scanning its every message */
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);",
	/* 7: RFC 8689 5 "TLS-Required: No" of a queued message */
	"ALTER TABLE queue ADD COLUMN tls_optional INTEGER NOT NULL DEFAULT 0;",
	/* 8: an admin asked for a try now (queue flush/retry): the runner
	 * tries the entry even where its destination is marked failing */
	"ALTER TABLE queue ADD COLUMN retry_now INTEGER NOT NULL DEFAULT 0;",
	/* 9: the SEARCH index gets a column of the From/To/Cc/Bcc addresses
	 * in one form (store_sqlite_search.c); FTS5 tables take no new
	 * column, so it is made again and every message queued for it */
	"DROP TABLE search_fts;"
	"CREATE VIRTUAL TABLE search_fts USING fts5(hdr, body, addr,"
	" tokenize = 'trigram case_sensitive 0');"
	"DELETE FROM search_pending;"
	"INSERT INTO search_pending(blob_id)"
	" SELECT DISTINCT blob_id FROM messages;",
	/* 10: subscriptions by name (RFC 3501 6.3.6: a subscription stays
	 * when its mailbox is deleted); mailboxes.subscribed is no longer
	 * read */
	"CREATE TABLE subscriptions(user_id INTEGER NOT NULL,"
	" name TEXT NOT NULL, PRIMARY KEY(user_id, name)) WITHOUT ROWID;"
	"INSERT INTO subscriptions(user_id, name)"
	" SELECT user_id, name FROM mailboxes WHERE subscribed;",
	/* 11: the zone of the internal date, in minutes east of UTC, as an
	 * IMAP APPEND gave it (RFC 3501 returns the date-time with it);
	 * the messages stored before keep +0000, as they were shown */
	"ALTER TABLE messages ADD COLUMN internal_zone INTEGER NOT NULL DEFAULT 0;",
	/* 12: IMAP \Recent (RFC 3501 2.3.2): the highest UID a read-write
	 * session has been given as \Recent (Dovecot's first_recent_uid
	 * less one), so a message is \Recent once across restarts */
	"ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;",
};

enum stmt_id {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_META_GET,
	S_META_SET,
	S_DOMAIN_INSERT,
	S_DOMAIN_ID,
	S_DOMAIN_DELETE,
	S_DOMAIN_USERS,
	S_USER_INSERT,
	S_USER_DELETE,
	S_USER_PASSWORD,
	S_USER_MAILBOXES,
	S_ALIAS_INSERT,
	S_ALIAS_DELETE_ALL,
	S_ALIAS_DELETE,
	S_MAILBOX_INSERT,
	S_MAILBOX_INBOX,
	S_MAILBOX_OWNER,
	S_MAILBOX_RENAME,
	S_MAILBOX_DELETE,
	S_MAILBOX_SUBSCRIBE,
	S_MAILBOX_UNSUBSCRIBE,
	S_SUBSCRIPTION_RENAME,
	S_USER_SUBSCRIPTIONS_DELETE,
	S_MAILBOX_RECENT,
	S_MAILBOX_ADD_MSG,
	S_MAILBOX_CHANGE,
	S_MAILBOX_BLOBS,
	S_MAILBOX_MSGS_DELETE,
	S_MAILBOX_EXPUNGED_DELETE,
	S_BLOB_INSERT,
	S_BLOB_DATA_DELETE,
	S_BLOB_UNREF,
	S_BLOB_DELETE_UNUSED,
	S_MSG_INSERT,
	S_MSG_RANGE,
	S_MSG_SET_FLAGS,
	S_MSG_DELETE,
	S_EXPUNGED_INSERT,
	S_QUEUE_INSERT,
	S_QUEUE_RCPT_INSERT,
	S_COPY_MSG,
	S_BLOB_REF,
	S_MAILBOX_ADD_MSGS,
	/* readers */
	S_R_DOMAIN_EXISTS,
	S_R_DOMAIN_LIST,
	S_R_USER_BY_ADDRESS,
	S_R_USER_LIST,
	S_R_ALIAS_TARGETS,
	S_R_ALIAS_LIST,
	S_R_MAILBOX_LIST,
	S_R_MAILBOX_BY_NAME,
	S_R_MAILBOX_BY_ID,
	S_R_MSG_LIST,
	S_R_EXPUNGED_SINCE,
	S_R_MSG_CHANGED_SINCE,
	S_R_MSG_META,
	S_R_MSG_META_RANGE,
	S_R_BLOB_GET,
	S_R_BLOB_COUNT,
	S_R_MAILBOX_STATUS,
	S_R_SUBSCRIPTIONS,
	S_R_MSG_COUNT_ABOVE,
	S_COUNT
};

#define USER_COLS "id, address, password_hash, scram_sha256, apop_secret, quota, disabled"
#define MAILBOX_COLS "id, user_id, name, uidvalidity, uidnext, highestmodseq, " \
	"special_use, EXISTS(SELECT 1 FROM subscriptions s" \
	" WHERE s.user_id = mailboxes.user_id AND s.name = mailboxes.name)," \
	" messages, unseen, recent_uid"

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT req",
	[S_RELEASE] = "RELEASE req",
	[S_ROLLBACK_TO] = "ROLLBACK TO req",
	[S_META_GET] = "SELECT value FROM store_meta WHERE key = ?",
	[S_META_SET] = "INSERT OR REPLACE INTO store_meta(key, value) VALUES(?, ?)",
	[S_DOMAIN_INSERT] = "INSERT INTO domains(name) VALUES(?)",
	[S_DOMAIN_ID] = "SELECT id FROM domains WHERE name = ?",
	[S_DOMAIN_DELETE] = "DELETE FROM domains WHERE id = ?",
	[S_DOMAIN_USERS] = "SELECT count(*) FROM users WHERE domain_id = ?",
	[S_USER_INSERT] = "INSERT INTO users(address, domain_id, password_hash,"
		" scram_sha256, apop_secret, quota) VALUES(?, ?, ?, ?, ?, ?)",
	[S_USER_DELETE] = "DELETE FROM users WHERE id = ?",
	[S_USER_PASSWORD] = "UPDATE users SET password_hash = ?, scram_sha256 = ?,"
		" apop_secret = ? WHERE id = ?",
	[S_USER_MAILBOXES] = "SELECT id FROM mailboxes WHERE user_id = ?",
	[S_ALIAS_INSERT] = "INSERT OR IGNORE INTO aliases(address, target) VALUES(?, ?)",
	[S_ALIAS_DELETE_ALL] = "DELETE FROM aliases WHERE address = ?",
	[S_ALIAS_DELETE] = "DELETE FROM aliases WHERE address = ? AND target = ?",
	[S_MAILBOX_INSERT] = "INSERT INTO mailboxes(user_id, name, uidvalidity,"
		" special_use, subscribed) VALUES(?, ?, ?, ?, ?)",
	[S_MAILBOX_INBOX] = "SELECT id FROM mailboxes WHERE user_id = ? AND name = 'INBOX'",
	[S_MAILBOX_OWNER] = "SELECT user_id, name FROM mailboxes WHERE id = ?",
	[S_MAILBOX_RENAME] = "UPDATE mailboxes SET name = ? WHERE id = ?",
	[S_MAILBOX_DELETE] = "DELETE FROM mailboxes WHERE id = ?",
	[S_MAILBOX_SUBSCRIBE] = "INSERT OR IGNORE INTO subscriptions(user_id, name)"
		" VALUES(?, ?)",
	[S_MAILBOX_UNSUBSCRIBE] = "DELETE FROM subscriptions"
		" WHERE user_id = ? AND name = ?",
	/* before the mailbox row is renamed: its subscription goes along */
	[S_SUBSCRIPTION_RENAME] = "UPDATE OR REPLACE subscriptions SET name = ?"
		" WHERE (user_id, name) = (SELECT user_id, name FROM mailboxes"
		" WHERE id = ?)",
	[S_USER_SUBSCRIPTIONS_DELETE] = "DELETE FROM subscriptions WHERE user_id = ?",
	[S_MAILBOX_RECENT] = "UPDATE mailboxes SET recent_uid = ?1"
		" WHERE id = ?2 AND recent_uid < ?1",
	[S_MAILBOX_ADD_MSG] = "UPDATE mailboxes SET uidnext = uidnext + 1,"
		" highestmodseq = highestmodseq + 1, messages = messages + 1,"
		" unseen = unseen + ? WHERE id = ?"
		" RETURNING uidnext - 1, highestmodseq, user_id",
	[S_MAILBOX_CHANGE] = "UPDATE mailboxes SET highestmodseq = highestmodseq + 1,"
		" messages = messages + ?, unseen = unseen + ? WHERE id = ?"
		" RETURNING highestmodseq, user_id",
	[S_MAILBOX_BLOBS] = "SELECT blob_id FROM messages WHERE mailbox_id = ?",
	[S_MAILBOX_MSGS_DELETE] = "DELETE FROM messages WHERE mailbox_id = ?",
	[S_MAILBOX_EXPUNGED_DELETE] = "DELETE FROM expunged WHERE mailbox_id = ?",
	[S_BLOB_INSERT] = "INSERT INTO blobs(refcount, size, envelope,"
		" bodystructure, body, parts) VALUES(?, ?, ?, ?, ?, ?)",
	[S_BLOB_DATA_DELETE] = "DELETE FROM blob_data WHERE id = ?",
	[S_BLOB_UNREF] = "UPDATE blobs SET refcount = refcount - 1 WHERE id = ?"
		" RETURNING refcount",
	[S_BLOB_DELETE_UNUSED] = "DELETE FROM blobs WHERE id = ?",
	[S_MSG_INSERT] = "INSERT INTO messages(mailbox_id, uid, blob_id, flags,"
		" keywords, internal_date, size, modseq, internal_zone)"
		" VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[S_MSG_RANGE] = "SELECT uid, flags, keywords, modseq, blob_id FROM messages"
		" WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid",
	[S_MSG_SET_FLAGS] = "UPDATE messages SET flags = ?, keywords = ?, modseq = ?"
		" WHERE mailbox_id = ? AND uid = ?",
	[S_MSG_DELETE] = "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?",
	[S_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)"
		" VALUES(?, ?, ?)",
	[S_QUEUE_INSERT] = "INSERT INTO queue(blob_id, sender, envid, ret, state,"
		" next_try, created, requiretls, tls_optional)"
		" VALUES(?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
	[S_QUEUE_RCPT_INSERT] = "INSERT INTO queue_rcpts(queue_id, idx, address,"
		" orcpt, notify) VALUES(?, ?, ?, ?, ?)",
	[S_R_DOMAIN_EXISTS] = "SELECT 1 FROM domains WHERE name = ?",
	[S_R_DOMAIN_LIST] = "SELECT name FROM domains ORDER BY name",
	[S_R_USER_BY_ADDRESS] = "SELECT " USER_COLS " FROM users WHERE address = ?",
	[S_R_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY address",
	[S_R_ALIAS_TARGETS] = "SELECT target FROM aliases WHERE address = ? ORDER BY target",
	[S_R_ALIAS_LIST] = "SELECT address, target FROM aliases ORDER BY address, target",
	[S_R_MAILBOX_LIST] = "SELECT " MAILBOX_COLS " FROM mailboxes WHERE user_id = ?"
		" ORDER BY name",
	[S_R_MAILBOX_BY_NAME] = "SELECT " MAILBOX_COLS " FROM mailboxes"
		" WHERE user_id = ? AND name = ?",
	[S_R_MAILBOX_BY_ID] = "SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = ?",
	[S_R_MSG_LIST] = "SELECT uid, flags, keywords, internal_date, size, modseq,"
		" blob_id, internal_zone FROM messages WHERE mailbox_id = ?"
		" ORDER BY uid",
	[S_R_EXPUNGED_SINCE] = "SELECT uid FROM expunged WHERE mailbox_id = ?"
		" AND modseq > ? ORDER BY uid",
	[S_R_MSG_CHANGED_SINCE] = "SELECT uid, flags, keywords, internal_date,"
		" size, modseq, blob_id, internal_zone FROM messages"
		" INDEXED BY messages_modseq"
		" WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
	[S_R_MSG_META] = "SELECT b.envelope, b.bodystructure, b.body, b.parts"
		" FROM messages m JOIN blobs b ON b.id = m.blob_id"
		" WHERE m.mailbox_id = ? AND m.uid = ?",
	[S_R_MSG_META_RANGE] = "SELECT m.uid, b.envelope, b.bodystructure,"
		" b.body, b.parts FROM messages m JOIN blobs b ON b.id = m.blob_id"
		" WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?"
		" ORDER BY m.uid LIMIT ?",
	[S_R_BLOB_GET] = "SELECT data FROM blob_data WHERE id = ?",
	[S_R_BLOB_COUNT] = "SELECT count(*) FROM blobs",
	[S_COPY_MSG] = "INSERT INTO messages(mailbox_id, uid, blob_id, flags,"
		" keywords, internal_date, size, modseq, internal_zone)"
		" SELECT ?, ?, blob_id, flags, keywords, internal_date, size, ?,"
		" internal_zone FROM messages"
		" WHERE mailbox_id = ? AND uid = ?",
	[S_BLOB_REF] = "UPDATE blobs SET refcount = refcount + 1 WHERE id = ?",
	[S_MAILBOX_ADD_MSGS] = "UPDATE mailboxes SET uidnext = uidnext + ?1,"
		" highestmodseq = highestmodseq + 1, messages = messages + ?1,"
		" unseen = unseen + ?2 WHERE id = ?3"
		" RETURNING uidnext - ?1, highestmodseq, user_id",
	[S_R_SUBSCRIPTIONS] = "SELECT name FROM subscriptions WHERE user_id = ?"
		" ORDER BY name",
	[S_R_MAILBOX_STATUS] = "SELECT messages, unseen, highestmodseq, uidnext,"
		" uidvalidity, (SELECT coalesce(sum(size), 0) FROM messages WHERE"
		" mailbox_id = ?1 AND flags & 8), (SELECT count(*) FROM messages WHERE"
		" mailbox_id = ?1 AND flags & 8), (SELECT coalesce(sum(size), 0) FROM"
		" messages WHERE mailbox_id = ?1) FROM mailboxes WHERE id = ?1",
	[S_R_MSG_COUNT_ABOVE] = "SELECT count(*) FROM messages"
		" WHERE mailbox_id = ? AND uid > ?",
};

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[S_COUNT];
	sqlite3_stmt *xstmts[XS_COUNT];	/* the driver's other files */
	char error[512];
	uint32_t last_uidvalidity;	/* writer only */
	struct checkpointer *ckpt;	/* writer only */
	struct store_sqlite_blob blob;	/* store_sqlite_blob.c */
};

/* WAL checkpoints run on their own thread and connection, so the writer
 * never stalls copying the WAL into the database (and fsyncing it) in the
 * middle of a batch. The writer's WAL hook wakes it past a threshold. */
#define CHECKPOINT_PAGES 1000

struct checkpointer {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool wanted, stop;
};

static void *checkpointer_main(void *arg)
{
	struct checkpointer *k = arg;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->wanted && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		k->wanted = false;
		pthread_mutex_unlock(&k->lock);
		/* PASSIVE: never waits for the writer or readers; what it
		 * cannot copy now is copied next time. */
		(void)sqlite3_wal_checkpoint_v2(k->db, NULL,
						SQLITE_CHECKPOINT_PASSIVE,
						NULL, NULL);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static void checkpointer_wake(struct checkpointer *k)
{
	pthread_mutex_lock(&k->lock);
	k->wanted = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static int checkpointer_wal_hook(void *arg, sqlite3 *db, const char *name,
				 int pages)
{
	(void)db;
	(void)name;
	if (pages >= CHECKPOINT_PAGES)
		checkpointer_wake(arg);
	return SQLITE_OK;
}

static int checkpointer_start(struct store_conn *c, const char *path,
			      unsigned busy_timeout_ms, char **error_r)
{
	struct checkpointer *k = xcalloc(1, sizeof(*k));
	int ret;

	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*error_r = xasprintf("store: open %s for checkpoints: %s", path,
				     k->db != NULL ? sqlite3_errmsg(k->db) :
				     "out of memory");
		sqlite3_close(k->db);
		free(k);
		return -1;
	}
	sqlite3_busy_timeout(k->db, (int)busy_timeout_ms);
	/* Before SQLite 3.42 a checkpoint on a connection that never read
	 * is a silent no-op (its pager has not opened the WAL yet): read
	 * the schema once, or the WAL grows forever and every read looks
	 * in it. */
	if (sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_master", NULL,
			 NULL, NULL) != SQLITE_OK) {
		*error_r = xasprintf("store: read %s for checkpoints: %s", path,
				     sqlite3_errmsg(k->db));
		sqlite3_close(k->db);
		free(k);
		return -1;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	ret = pthread_create(&k->thread, NULL, checkpointer_main, k);
	if (ret != 0)
		PANIC("pthread_create: %s", strerror(ret));
	c->ckpt = k;
	/* replaces the automatic checkpoint on commit */
	sqlite3_wal_hook(c->db, checkpointer_wal_hook, k);
	return 0;
}

static void checkpointer_stop(struct checkpointer **kp)
{
	struct checkpointer *k = *kp;

	if (k == NULL)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
	*kp = NULL;
}

static const char *conn_error(struct store_conn *c, const char *what)
{
	snprintf(c->error, sizeof(c->error), "%s: %s", what,
		 sqlite3_errmsg(c->db));
	return c->error;
}

static const char *conn_fail(struct store_conn *c, const char *msg)
{
	snprintf(c->error, sizeof(c->error), "%s", msg);
	return c->error;
}

sqlite3 *store_sqlite_db(struct store_conn *c)
{
	return c->db;
}

struct store_sqlite_blob *store_sqlite_blob_slot(struct store_conn *c)
{
	return &c->blob;
}

const char *store_sqlite_error(struct store_conn *c, const char *what)
{
	return conn_error(c, what);
}

const char *store_sqlite_fail(struct store_conn *c, const char *msg)
{
	return conn_fail(c, msg);
}

void store_sqlite_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int store_sqlite_exec(struct store_conn *c, sqlite3_stmt *st,
		      const char *what, const char **error_r)
{
	int rc = sqlite3_step(st);

	store_sqlite_done(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		/* sqlite3_reset keeps the error of the failed step */
		*error_r = conn_error(c, what);
		return -1;
	}
	return 0;
}

int store_sqlite_row(struct store_conn *c, sqlite3_stmt *st,
		     const char *what, const char **error_r)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	store_sqlite_done(st);
	if (rc == SQLITE_DONE)
		return 0;
	*error_r = conn_error(c, what);
	return -1;
}

void store_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

const char *store_sqlite_col_str(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return arena_strndup(a, s != NULL ? (const char *)s : "",
			     (size_t)sqlite3_column_bytes(st, i));
}

void *store_sqlite_vec_push(struct store_sqlite_vec *v)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 16 : v->cap * 2;
		v->v = xrealloc(v->v, v->cap * v->size);
	}
	return (char *)v->v + v->n++ * v->size;
}

void *store_sqlite_vec_to_arena(struct store_sqlite_vec *v, struct arena *a)
{
	void *p = arena_alloc(a, MAX(v->n, 1) * v->size);

	if (v->n > 0)
		memcpy(p, v->v, v->n * v->size);
	free(v->v);
	v->v = NULL;
	return p;
}

sqlite3_stmt *store_sqlite_xstmt(struct store_conn *c,
				 enum store_sqlite_xstmt id, const char *sql,
				 const char **error_r)
{
	if (c->xstmts[id] == NULL &&
	    sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &c->xstmts[id], NULL) != SQLITE_OK) {
		*error_r = conn_error(c, "store prepare");
		return NULL;
	}
	return c->xstmts[id];
}

/* A reset statement with no bindings, prepared once per connection. */
static sqlite3_stmt *stmt_get(struct store_conn *c, enum stmt_id id,
			      const char **error_r)
{
	sqlite3_stmt *st = c->stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
				       SQLITE_PREPARE_PERSISTENT, &st,
				       NULL) != SQLITE_OK) {
			*error_r = conn_error(c, "store prepare");
			return NULL;
		}
		c->stmts[id] = st;
	}
	return st;
}

/* Step a statement that returns no row we need; resets it. */
static int stmt_exec(struct store_conn *c, sqlite3_stmt *st,
		     const char **error_r)
{
	return store_sqlite_exec(c, st, "store", error_r);
}

/* Step once: 1 row (left unreset: the caller reads it then calls
 * stmt_done), 0 no row, -1 error. */
static int stmt_row(struct store_conn *c, sqlite3_stmt *st,
		    const char **error_r)
{
	return store_sqlite_row(c, st, "store", error_r);
}

static void stmt_done(sqlite3_stmt *st)
{
	store_sqlite_done(st);
}

static int simple_exec(struct store_conn *c, enum stmt_id id,
		       const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, id, error_r);

	return st == NULL ? -1 : stmt_exec(c, st, error_r);
}

/* ---- open, migrate ---- */

static int exec_sql(struct store_conn *c, const char *sql, char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = xasprintf("store: %s: %s", sql,
				     msg != NULL ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int user_version(struct store_conn *c)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct store_conn *c, char **error_r)
{
	int v = user_version(c);

	if (v < 0) {
		*error_r = xasprintf("store: reading the schema version: %s",
				     sqlite3_errmsg(c->db));
		return -1;
	}
	if ((size_t)v > ARRAY_SIZE(migrations)) {
		*error_r = xasprintf("store: database schema version %d is newer"
				     " than this program (%zu)", v,
				     ARRAY_SIZE(migrations));
		return -1;
	}
	for (size_t i = (size_t)v; i < ARRAY_SIZE(migrations); i++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu",
			 i + 1);
		if (exec_sql(c, "BEGIN IMMEDIATE", error_r) < 0)
			return -1;
		if (exec_sql(c, migrations[i], error_r) < 0 ||
		    exec_sql(c, pragma, error_r) < 0 ||
		    exec_sql(c, "COMMIT", error_r) < 0) {
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

static void sqlite_conn_close(struct store_conn **cp)
{
	struct store_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->ckpt != NULL) {
		sqlite3_wal_hook(c->db, NULL, NULL);
		checkpointer_stop(&c->ckpt);
	}
	store_sqlite_blob_close(c);
	for (size_t i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	for (size_t i = 0; i < XS_COUNT; i++)
		sqlite3_finalize(c->xstmts[i]);
	sqlite3_close(c->db);
	free(c);
	*cp = NULL;
}

static struct store_conn *sqlite_conn_open(const struct store_settings *set,
					   bool writer, char **error_r)
{
	struct store_conn *c = xcalloc(1, sizeof(*c));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	char pragma[128];

	if (set->path == NULL) {
		*error_r = xstrdup("store: no database path");
		free(c);
		return NULL;
	}
	if (writer)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(set->path, &c->db, flags, NULL) != SQLITE_OK) {
		*error_r = xasprintf("store: open %s: %s", set->path,
				     c->db != NULL ? sqlite3_errmsg(c->db) :
				     "out of memory");
		sqlite_conn_close(&c);
		return NULL;
	}
	sqlite3_extended_result_codes(c->db, 0);
	sqlite3_busy_timeout(c->db, set->busy_timeout_ms != 0 ?
			     (int)set->busy_timeout_ms : 5000);
	if (writer) {
		snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s",
			 set->fsync ? "FULL" : "OFF");
		/* journal_size_limit: once checkpointed, a WAL that grew
		 * during a burst is cut back instead of keeping its peak
		 * size on disk. */
		if (exec_sql(c, "PRAGMA journal_mode = WAL", error_r) < 0 ||
		    exec_sql(c, "PRAGMA journal_size_limit = 67108864",
			     error_r) < 0 ||
		    exec_sql(c, pragma, error_r) < 0 ||
		    migrate(c, error_r) < 0) {
			sqlite_conn_close(&c);
			return NULL;
		}
		if (checkpointer_start(c, set->path, set->busy_timeout_ms != 0 ?
				       set->busy_timeout_ms : 5000,
				       error_r) < 0) {
			sqlite_conn_close(&c);
			return NULL;
		}
		if (set->max_pages != 0) {
			snprintf(pragma, sizeof(pragma),
				 "PRAGMA max_page_count = %u", set->max_pages);
			if (exec_sql(c, pragma, error_r) < 0) {
				sqlite_conn_close(&c);
				return NULL;
			}
		}
	} else if (exec_sql(c, "PRAGMA query_only = 1", error_r) < 0 ||
		   exec_sql(c, "PRAGMA cache_size = -32768", error_r) < 0 ||
		   /* No memory map of the database file: a fault in a map
		    * makes the kernel read around it (read_ahead_kb, 8 MB
		    * on some VMs), so a header fetched through it pulled
		    * in the message bodies stored around it (the whole
		    * file on a cold cache, bench/imap --big). pread(2)
		    * reads what is asked, and SQLite reads the overflow
		    * pages of a large blob range straight into the
		    * caller's buffer (store_sqlite_blob.c). */
		   exec_sql(c, "PRAGMA mmap_size = 0", error_r) < 0) {
		sqlite_conn_close(&c);
		return NULL;
	}
	return c;
}

static int sqlite_schema_version(struct store_conn *c)
{
	return user_version(c);
}

/* ---- transactions ---- */

static int sqlite_begin(struct store_conn *c, const char **error_r)
{
	return simple_exec(c, S_BEGIN, error_r);
}

static int sqlite_commit(struct store_conn *c, const char **error_r)
{
	return simple_exec(c, S_COMMIT, error_r);
}

/* The writer's background work: the search index, then, once the writer
 * is idle with nothing left to index, a checkpoint of the whole WAL. A
 * fully copied WAL is skipped by new readers (each page read otherwise
 * looks the page up in the WAL index first: the main cost of a FETCH of
 * many messages' metadata). */
static int sqlite_idle(struct store_conn *c, const char **error_r)
{
	int ret = store_sqlite_search_idle(c, error_r);

	if (ret == 0 && c->ckpt != NULL)
		checkpointer_wake(c->ckpt);
	return ret;
}

/* A reader's snapshot: BEGIN is deferred, so the first read takes it. */
static int sqlite_read_begin(struct store_conn *c, const char **error_r)
{
	return simple_exec(c, S_BEGIN_READ, error_r);
}

static void sqlite_rollback(struct store_conn *c)
{
	const char *error;

	store_sqlite_blob_close(c);
	if (!sqlite3_get_autocommit(c->db))
		(void)simple_exec(c, S_ROLLBACK, &error);
}

static int sqlite_savepoint(struct store_conn *c, const char **error_r)
{
	return simple_exec(c, S_SAVEPOINT, error_r);
}

static int sqlite_release(struct store_conn *c, const char **error_r)
{
	return simple_exec(c, S_RELEASE, error_r);
}

static void sqlite_rollback_to(struct store_conn *c)
{
	const char *error;

	(void)simple_exec(c, S_ROLLBACK_TO, &error);
}

static bool sqlite_in_transaction(struct store_conn *c)
{
	return !sqlite3_get_autocommit(c->db);
}

/* ---- writes (writer connection, inside the batch transaction) ---- */

/* Turn a failed insert into a message a user can act on. */
static const char *conflict_error(struct store_conn *c, const char *error,
				  const char *msg)
{
	if (sqlite3_errcode(c->db) == SQLITE_CONSTRAINT)
		return conn_fail(c, msg);
	return error;
}

static int next_uidvalidity(struct store_conn *c, uint32_t *v_r,
			    const char **error_r)
{
	uint32_t now = (uint32_t)time(NULL);
	sqlite3_stmt *st;
	int ret;

	if (c->last_uidvalidity == 0) {
		if ((st = stmt_get(c, S_META_GET, error_r)) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, "uidvalidity", -1, SQLITE_STATIC);
		if ((ret = stmt_row(c, st, error_r)) < 0)
			return -1;
		if (ret == 1) {
			c->last_uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
			stmt_done(st);
		}
	}
	/* Time-based, and strictly increasing even when the clock is not,
	 * so a mailbox created again never gets an old UIDVALIDITY. */
	*v_r = MAX(now, c->last_uidvalidity + 1);
	if ((st = stmt_get(c, S_META_SET, error_r)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, "uidvalidity", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, *v_r);
	if (stmt_exec(c, st, error_r) < 0)
		return -1;
	c->last_uidvalidity = *v_r;
	return 0;
}

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Add name to the user's subscriptions, or take it out. */
static int subscription_set(struct store_conn *c, int64_t user_id,
			    const char *name, bool on, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, on ? S_MAILBOX_SUBSCRIBE :
				    S_MAILBOX_UNSUBSCRIBE, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	store_sqlite_bind_text(st, 2, name);
	return stmt_exec(c, st, error_r);
}

static int mailbox_insert(struct store_conn *c, int64_t user_id,
			  const char *name, const char *special_use,
			  bool subscribed, int64_t *id_r, const char **error_r)
{
	uint32_t uidvalidity;
	sqlite3_stmt *st;

	if (name[0] == '\0') {
		*error_r = conn_fail(c, "empty mailbox name");
		return -1;
	}
	if (next_uidvalidity(c, &uidvalidity, error_r) < 0 ||
	    (st = stmt_get(c, S_MAILBOX_INSERT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	store_sqlite_bind_text(st, 2, is_inbox(name) ? "INBOX" : name);
	sqlite3_bind_int64(st, 3, uidvalidity);
	store_sqlite_bind_text(st, 4, special_use);
	sqlite3_bind_int(st, 5, subscribed);
	if (stmt_exec(c, st, error_r) < 0) {
		*error_r = conflict_error(c, *error_r, "mailbox already exists");
		return -1;
	}
	*id_r = sqlite3_last_insert_rowid(c->db);
	return subscribed ? subscription_set(c, user_id, is_inbox(name) ?
					     "INBOX" : name, true, error_r) : 0;
}

/* 1 and the owner when the mailbox exists, 0 with an error set if not. */
static int mailbox_owner(struct store_conn *c, int64_t mailbox_id,
			 int64_t *user_id_r, bool *inbox_r,
			 const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_MAILBOX_OWNER, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	if ((ret = stmt_row(c, st, error_r)) <= 0) {
		if (ret == 0)
			*error_r = conn_fail(c, "no such mailbox");
		return -1;
	}
	*user_id_r = sqlite3_column_int64(st, 0);
	*inbox_r = strcmp((const char *)sqlite3_column_text(st, 1), "INBOX") == 0;
	stmt_done(st);
	return 0;
}

static int exec_id(struct store_conn *c, enum stmt_id id, int64_t arg,
		   const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, id, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	return stmt_exec(c, st, error_r);
}

static int blob_unref(struct store_conn *c, int64_t blob_id,
		      const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_BLOB_UNREF, error_r);
	int64_t refs;
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	if ((ret = stmt_row(c, st, error_r)) <= 0)
		return ret;
	refs = sqlite3_column_int64(st, 0);
	stmt_done(st);
	if (refs > 0)
		return 0;
	if (store_sqlite_search_remove(c, blob_id, error_r) < 0 ||
	    exec_id(c, S_BLOB_DATA_DELETE, blob_id, error_r) < 0)
		return -1;
	return exec_id(c, S_BLOB_DELETE_UNUSED, blob_id, error_r);
}

int store_sqlite_blob_unref(struct store_conn *c, int64_t blob_id,
			    const char **error_r)
{
	return blob_unref(c, blob_id, error_r);
}

/* Remove a mailbox with its messages, dropping their blob references. */
static int mailbox_purge(struct store_conn *c, int64_t mailbox_id,
			 const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_MAILBOX_BLOBS, error_r);
	int64_t *blobs = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	while ((ret = stmt_row(c, st, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			blobs = xrealloc(blobs, cap * sizeof(*blobs));
		}
		blobs[n++] = sqlite3_column_int64(st, 0);
	}
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = blob_unref(c, blobs[i], error_r);
	free(blobs);
	if (ret < 0 ||
	    exec_id(c, S_MAILBOX_MSGS_DELETE, mailbox_id, error_r) < 0 ||
	    exec_id(c, S_MAILBOX_EXPUNGED_DELETE, mailbox_id, error_r) < 0 ||
	    exec_id(c, S_MAILBOX_DELETE, mailbox_id, error_r) < 0)
		return -1;
	return 0;
}

static int do_deliver(struct store_conn *c, const struct store_req *req,
		      struct store_result *res, struct store_changes *changes,
		      const char **error_r)
{
	const __typeof__(req->u.deliver) *d = &req->u.deliver;
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *st;
	int64_t blob_id;
	int ret;

	if (d->n_targets == 0 && d->n_rcpts == 0) {
		*error_r = conn_fail(c, "delivery without recipients");
		return -1;
	}
	if ((st = stmt_get(c, S_BLOB_INSERT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)d->n_targets + (d->n_rcpts > 0));
	sqlite3_bind_int64(st, 2, (int64_t)d->size);
	store_sqlite_bind_text(st, 3, d->meta.envelope);
	store_sqlite_bind_text(st, 4, d->meta.bodystructure);
	store_sqlite_bind_text(st, 5, d->meta.body);
	sqlite3_bind_blob64(st, 6, d->meta.parts_size > 0 ? d->meta.parts : "",
			    d->meta.parts_size, SQLITE_STATIC);
	if (stmt_exec(c, st, error_r) < 0)
		return -1;
	blob_id = sqlite3_last_insert_rowid(c->db);
	res->id = blob_id;
	if (store_sqlite_blob_put(c, blob_id, d->data, d->size, error_r) < 0)
		return -1;
	if (d->n_targets > 0 &&
	    store_sqlite_search_add(c, blob_id, error_r) < 0)
		return -1;

	res->assigned = xcalloc(d->n_targets + 1, sizeof(*res->assigned));
	for (size_t i = 0; i < d->n_targets; i++) {
		int64_t mailbox_id = d->targets[i].mailbox_id;
		struct store_assigned *as = &res->assigned[i];
		int64_t user_id;

		if (mailbox_id == 0) {
			if ((st = stmt_get(c, S_MAILBOX_INBOX, error_r)) == NULL)
				return -1;
			sqlite3_bind_int64(st, 1, d->targets[i].user_id);
			if ((ret = stmt_row(c, st, error_r)) <= 0) {
				if (ret == 0)
					*error_r = conn_fail(c, "no such user");
				return -1;
			}
			mailbox_id = sqlite3_column_int64(st, 0);
			stmt_done(st);
		}
		if ((st = stmt_get(c, S_MAILBOX_ADD_MSG, error_r)) == NULL)
			return -1;
		sqlite3_bind_int(st, 1, (d->flags & STORE_FLAG_SEEN) == 0);
		sqlite3_bind_int64(st, 2, mailbox_id);
		if ((ret = stmt_row(c, st, error_r)) <= 0) {
			if (ret == 0)
				*error_r = conn_fail(c, "no such mailbox");
			return -1;
		}
		as->mailbox_id = mailbox_id;
		as->uid = (uint32_t)sqlite3_column_int64(st, 0);
		as->modseq = (uint64_t)sqlite3_column_int64(st, 1);
		user_id = sqlite3_column_int64(st, 2);
		stmt_done(st);
		res->n_assigned++;

		if ((st = stmt_get(c, S_MSG_INSERT, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, as->uid);
		sqlite3_bind_int64(st, 3, blob_id);
		sqlite3_bind_int64(st, 4, d->flags);
		store_sqlite_bind_text(st, 5, d->keywords);
		sqlite3_bind_int64(st, 6, d->internal_date);
		sqlite3_bind_int64(st, 7, (int64_t)d->size);
		sqlite3_bind_int64(st, 8, (int64_t)as->modseq);
		sqlite3_bind_int(st, 9, d->internal_zone);
		if (stmt_exec(c, st, error_r) < 0)
			return -1;
		store_changes_add(changes, user_id, mailbox_id, as->modseq);
	}
	if (d->n_rcpts == 0)
		return 0;

	if ((st = stmt_get(c, S_QUEUE_INSERT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	store_sqlite_bind_text(st, 2, d->sender);
	store_sqlite_bind_text(st, 3, d->envid);
	store_sqlite_bind_text(st, 4, d->ret);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int(st, 7, d->requiretls ? 1 : 0);
	sqlite3_bind_int(st, 8, d->tls_optional ? 1 : 0);
	if (stmt_exec(c, st, error_r) < 0)
		return -1;
	res->queue_id = sqlite3_last_insert_rowid(c->db);
	for (size_t i = 0; i < d->n_rcpts; i++) {
		if ((st = stmt_get(c, S_QUEUE_RCPT_INSERT, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, res->queue_id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		store_sqlite_bind_text(st, 3, d->rcpts[i].address);
		store_sqlite_bind_text(st, 4, d->rcpts[i].orcpt);
		store_sqlite_bind_text(st, 5, d->rcpts[i].notify);
		if (stmt_exec(c, st, error_r) < 0)
			return -1;
	}
	return 0;
}

static int domain_id(struct store_conn *c, const char *name, int64_t *id_r,
		     const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_DOMAIN_ID, error_r);
	int ret;

	if (st == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, name);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		*id_r = sqlite3_column_int64(st, 0);
		stmt_done(st);
	}
	return ret;
}

static int do_domain(struct store_conn *c, const struct store_req *req,
		     struct store_result *res, const char **error_r)
{
	const char *name = req->u.domain.name;
	sqlite3_stmt *st;
	/* = 0: gcc -O3 cannot see that domain_id() sets it when it
	 * returns 1 (-Wmaybe-uninitialized). */
	int64_t id = 0, users;
	int ret;

	if (req->type == STORE_REQ_DOMAIN_ADD) {
		if (name == NULL || name[0] == '\0') {
			*error_r = conn_fail(c, "empty domain name");
			return -1;
		}
		if ((st = stmt_get(c, S_DOMAIN_INSERT, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, name);
		if (stmt_exec(c, st, error_r) < 0) {
			*error_r = conflict_error(c, *error_r,
						  "domain already exists");
			return -1;
		}
		res->id = sqlite3_last_insert_rowid(c->db);
		return 0;
	}
	if ((ret = domain_id(c, name, &id, error_r)) <= 0) {
		if (ret == 0)
			*error_r = conn_fail(c, "no such domain");
		return -1;
	}
	if ((st = stmt_get(c, S_DOMAIN_USERS, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (stmt_row(c, st, error_r) < 0)
		return -1;
	users = sqlite3_column_int64(st, 0);
	stmt_done(st);
	if (users > 0) {
		*error_r = conn_fail(c, "domain still has users");
		return -1;
	}
	return exec_id(c, S_DOMAIN_DELETE, id, error_r);
}

static const struct {
	const char *name, *special_use;
} default_mailboxes[] = {
	{ "INBOX", "" },
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

static int do_user_add(struct store_conn *c, const struct store_req *req,
		       struct store_result *res, const char **error_r)
{
	const __typeof__(req->u.user_add) *u = &req->u.user_add;
	const char *at = u->address != NULL ? strrchr(u->address, '@') : NULL;
	sqlite3_stmt *st;
	int64_t dom = 0, mailbox_id;	/* = 0: as in do_domain() */
	int ret;

	if (at == NULL || at == u->address || at[1] == '\0') {
		*error_r = conn_fail(c, "user address must be local@domain");
		return -1;
	}
	if ((ret = domain_id(c, at + 1, &dom, error_r)) <= 0) {
		if (ret == 0)
			*error_r = conn_fail(c, "unknown domain");
		return -1;
	}
	if ((st = stmt_get(c, S_USER_INSERT, error_r)) == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, u->address);
	sqlite3_bind_int64(st, 2, dom);
	store_sqlite_bind_text(st, 3, u->password_hash);
	store_sqlite_bind_text(st, 4, u->scram_sha256);
	store_sqlite_bind_text(st, 5, u->apop_secret);
	sqlite3_bind_int64(st, 6, (int64_t)u->quota);
	if (stmt_exec(c, st, error_r) < 0) {
		*error_r = conflict_error(c, *error_r, "user already exists");
		return -1;
	}
	res->id = sqlite3_last_insert_rowid(c->db);
	for (size_t i = 0; i < ARRAY_SIZE(default_mailboxes); i++) {
		if (mailbox_insert(c, res->id, default_mailboxes[i].name,
				   default_mailboxes[i].special_use, true,
				   &mailbox_id, error_r) < 0)
			return -1;
	}
	return 0;
}

static int do_user_del(struct store_conn *c, const struct store_req *req,
		       struct store_changes *changes, const char **error_r)
{
	int64_t user_id = req->u.user_del.user_id;
	sqlite3_stmt *st;
	int64_t *boxes = NULL;
	size_t n = 0, cap = 0;
	int ret;

	if (exec_id(c, S_USER_DELETE, user_id, error_r) < 0)
		return -1;
	if (sqlite3_changes(c->db) == 0) {
		*error_r = conn_fail(c, "no such user");
		return -1;
	}
	if (exec_id(c, S_USER_SUBSCRIPTIONS_DELETE, user_id, error_r) < 0)
		return -1;
	if ((st = stmt_get(c, S_USER_MAILBOXES, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	while ((ret = stmt_row(c, st, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			boxes = xrealloc(boxes, cap * sizeof(*boxes));
		}
		boxes[n++] = sqlite3_column_int64(st, 0);
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = mailbox_purge(c, boxes[i], error_r);
		store_changes_add(changes, user_id, boxes[i], 0);
	}
	free(boxes);
	return ret;
}

static int do_user_password(struct store_conn *c, const struct store_req *req,
			    const char **error_r)
{
	const __typeof__(req->u.user_password) *u = &req->u.user_password;
	sqlite3_stmt *st = stmt_get(c, S_USER_PASSWORD, error_r);

	if (st == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, u->password_hash);
	store_sqlite_bind_text(st, 2, u->scram_sha256);
	store_sqlite_bind_text(st, 3, u->apop_secret);
	sqlite3_bind_int64(st, 4, u->user_id);
	if (stmt_exec(c, st, error_r) < 0)
		return -1;
	if (sqlite3_changes(c->db) == 0) {
		*error_r = conn_fail(c, "no such user");
		return -1;
	}
	return 0;
}

static int do_alias(struct store_conn *c, const struct store_req *req,
		    const char **error_r)
{
	const __typeof__(req->u.alias) *al = &req->u.alias;
	bool add = req->type == STORE_REQ_ALIAS_ADD;
	sqlite3_stmt *st;
	int changed = 0;

	if (al->address == NULL || strchr(al->address, '@') == NULL) {
		*error_r = conn_fail(c, "alias address must be local@domain or @domain");
		return -1;
	}
	if (add && al->n_targets == 0) {
		*error_r = conn_fail(c, "alias without targets");
		return -1;
	}
	if (!add && al->n_targets == 0) {
		if ((st = stmt_get(c, S_ALIAS_DELETE_ALL, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, al->address);
		if (stmt_exec(c, st, error_r) < 0)
			return -1;
		changed = sqlite3_changes(c->db);
	}
	for (size_t i = 0; i < al->n_targets; i++) {
		st = stmt_get(c, add ? S_ALIAS_INSERT : S_ALIAS_DELETE, error_r);
		if (st == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, al->address);
		store_sqlite_bind_text(st, 2, al->targets[i]);
		if (stmt_exec(c, st, error_r) < 0)
			return -1;
		changed += sqlite3_changes(c->db);
	}
	if (!add && changed == 0) {
		*error_r = conn_fail(c, "no such alias");
		return -1;
	}
	return 0;
}

static int do_mailbox(struct store_conn *c, const struct store_req *req,
		      struct store_result *res, struct store_changes *changes,
		      const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id, user_id;
	bool inbox;

	switch (req->type) {
	case STORE_REQ_MAILBOX_CREATE:
		if (req->u.mailbox_create.name == NULL) {
			*error_r = conn_fail(c, "empty mailbox name");
			return -1;
		}
		return mailbox_insert(c, req->u.mailbox_create.user_id,
				      req->u.mailbox_create.name,
				      req->u.mailbox_create.special_use,
				      req->u.mailbox_create.subscribed,
				      &res->id, error_r);
	case STORE_REQ_MAILBOX_RENAME:
		id = req->u.mailbox_rename.mailbox_id;
		if (mailbox_owner(c, id, &user_id, &inbox, error_r) < 0)
			return -1;
		if (req->u.mailbox_rename.new_name == NULL ||
		    req->u.mailbox_rename.new_name[0] == '\0') {
			*error_r = conn_fail(c, "empty mailbox name");
			return -1;
		}
		if (inbox || is_inbox(req->u.mailbox_rename.new_name)) {
			*error_r = conn_fail(c, "renaming INBOX is not supported");
			return -1;
		}
		if ((st = stmt_get(c, S_SUBSCRIPTION_RENAME, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, req->u.mailbox_rename.new_name);
		sqlite3_bind_int64(st, 2, id);
		if (stmt_exec(c, st, error_r) < 0)
			return -1;
		if ((st = stmt_get(c, S_MAILBOX_RENAME, error_r)) == NULL)
			return -1;
		store_sqlite_bind_text(st, 1, req->u.mailbox_rename.new_name);
		sqlite3_bind_int64(st, 2, id);
		if (stmt_exec(c, st, error_r) < 0) {
			*error_r = conflict_error(c, *error_r,
						  "mailbox already exists");
			return -1;
		}
		return 0;
	case STORE_REQ_MAILBOX_DELETE:
		id = req->u.mailbox_delete.mailbox_id;
		if (mailbox_owner(c, id, &user_id, &inbox, error_r) < 0)
			return -1;
		if (inbox) {
			*error_r = conn_fail(c, "INBOX cannot be deleted");
			return -1;
		}
		if (mailbox_purge(c, id, error_r) < 0)
			return -1;
		store_changes_add(changes, user_id, id, 0);
		return 0;
	case STORE_REQ_MAILBOX_SUBSCRIBE: {
		const __typeof__(req->u.mailbox_subscribe) *sub =
			&req->u.mailbox_subscribe;

		if (sub->mailbox_id == 0)
			return subscription_set(c, sub->user_id, sub->name != NULL ?
						sub->name : "", sub->subscribed,
						error_r);
		if ((st = stmt_get(c, S_MAILBOX_OWNER, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, sub->mailbox_id);
		if (stmt_row(c, st, error_r) <= 0) {
			*error_r = conn_fail(c, "no such mailbox");
			return -1;
		}
		user_id = sqlite3_column_int64(st, 0);
		{
			char *name = xstrdup((const char *)
					     sqlite3_column_text(st, 1));
			int ret;

			stmt_done(st);
			ret = subscription_set(c, user_id, name,
					       sub->subscribed, error_r);
			free(name);
			return ret;
		}
	}
	case STORE_REQ_MAILBOX_RECENT:
		/* Not a change of the mailbox: no modseq, no event. A
		 * mailbox deleted meanwhile is not an error. */
		if ((st = stmt_get(c, S_MAILBOX_RECENT, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, req->u.mailbox_recent.uid);
		sqlite3_bind_int64(st, 2, req->u.mailbox_recent.mailbox_id);
		return stmt_exec(c, st, error_r);
	default:
		PANIC("not a mailbox request: %d", req->type);
	}
}

/* A message row read before changing it. */
struct msg_row {
	uint32_t uid;
	uint32_t flags;
	char *keywords;
	uint64_t modseq;
	int64_t blob_id;
};

static void msg_rows_free(struct msg_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].keywords);
	free(rows);
}

/* Read the rows of a UID set; every range is read before any change. */
static int msg_rows_read(struct store_conn *c, int64_t mailbox_id,
			 const struct store_uid_range *uids, size_t n_uids,
			 struct msg_row **rows_r, size_t *n_r,
			 const char **error_r)
{
	struct msg_row *rows = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	for (size_t r = 0; ret == 0 && r < n_uids; r++) {
		sqlite3_stmt *st = stmt_get(c, S_MSG_RANGE, error_r);

		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[r].lo);
		sqlite3_bind_int64(st, 3, uids[r].hi);
		while ((ret = stmt_row(c, st, error_r)) == 1) {
			uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
			bool dup = false;

			/* overlapping ranges: keep each UID once */
			for (size_t i = 0; i < n && !dup; i++)
				dup = rows[i].uid == uid;
			if (dup)
				continue;
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				rows = xrealloc(rows, cap * sizeof(*rows));
			}
			rows[n].uid = uid;
			rows[n].flags = (uint32_t)sqlite3_column_int64(st, 1);
			rows[n].keywords = xstrdup((const char *)
						   sqlite3_column_text(st, 2));
			rows[n].modseq = (uint64_t)sqlite3_column_int64(st, 3);
			rows[n].blob_id = sqlite3_column_int64(st, 4);
			n++;
		}
	}
	if (ret < 0) {
		msg_rows_free(rows, n);
		return -1;
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

static bool kw_in(const char *const *kw, size_t n, struct str word)
{
	for (size_t i = 0; i < n; i++) {
		if (str_caseeq(str_c(kw[i]), word))
			return true;
	}
	return false;
}

static bool kw_in_buf(const struct strbuf *b, struct str word)
{
	struct str rest = strbuf_str(b), w;

	while (rest.n > 0) {
		bool more = str_split(rest, ' ', &w, &rest);
		if (str_caseeq(w, word))
			return true;
		if (!more)
			break;
	}
	return false;
}

static void kw_put(struct strbuf *b, struct str word)
{
	if (word.n == 0 || kw_in_buf(b, word))
		return;
	if (b->n > 0)
		strbuf_putc(b, ' ');
	strbuf_append_str(b, word);
}

/* The keyword string after applying op to old; IMAP keywords compare
 * case-insensitively. */
static void kw_apply(struct strbuf *b, const char *old, enum store_flags_op op,
		     const char *const *kw, size_t n_kw)
{
	struct str rest = str_c(old), w;

	strbuf_reset(b);
	if (op != STORE_FLAGS_REPLACE) {
		while (rest.n > 0) {
			bool more = str_split(rest, ' ', &w, &rest);
			if (op == STORE_FLAGS_ADD || !kw_in(kw, n_kw, w))
				kw_put(b, w);
			if (!more)
				break;
		}
	}
	if (op != STORE_FLAGS_REMOVE) {
		for (size_t i = 0; i < n_kw; i++)
			kw_put(b, str_c(kw[i]));
	}
}

/* Bump HIGHESTMODSEQ and adjust the counters of a mailbox. */
static int mailbox_change(struct store_conn *c, int64_t mailbox_id,
			  int64_t messages_delta, int64_t unseen_delta,
			  uint64_t *modseq_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_MAILBOX_CHANGE, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, messages_delta);
	sqlite3_bind_int64(st, 2, unseen_delta);
	sqlite3_bind_int64(st, 3, mailbox_id);
	if ((ret = stmt_row(c, st, error_r)) <= 0) {
		if (ret == 0)
			*error_r = conn_fail(c, "no such mailbox");
		return -1;
	}
	*modseq_r = (uint64_t)sqlite3_column_int64(st, 0);
	stmt_done(st);
	return 0;
}

static void uids_add(struct store_result *res, size_t max, uint32_t uid)
{
	if (res->uids == NULL)
		res->uids = xcalloc(max, sizeof(*res->uids));
	res->uids[res->n_uids++] = uid;
}

static int do_set_flags(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	const __typeof__(req->u.set_flags) *f = &req->u.set_flags;
	struct strbuf kw = STRBUF_INIT;
	struct msg_row *rows;
	size_t n, n_changed = 0;
	int64_t user_id, unseen_delta = 0;
	sqlite3_stmt *st;
	uint64_t modseq;
	bool inbox;
	int ret = 0;

	if (mailbox_owner(c, f->mailbox_id, &user_id, &inbox, error_r) < 0 ||
	    msg_rows_read(c, f->mailbox_id, f->uids, f->n_uids, &rows, &n,
			  error_r) < 0)
		return -1;
	/* Work out the new values first; rows that do not change are
	 * dropped by clearing their uid. */
	for (size_t i = 0; i < n; i++) {
		struct msg_row *m = &rows[i];
		uint32_t nf;

		if (f->unchangedsince != 0 && m->modseq > f->unchangedsince) {
			uids_add(res, n, m->uid);
			m->uid = 0;
			continue;
		}
		nf = f->op == STORE_FLAGS_ADD ? m->flags | f->flags :
			f->op == STORE_FLAGS_REMOVE ? m->flags & ~f->flags :
			f->flags;
		kw_apply(&kw, m->keywords, f->op, f->keywords, f->n_keywords);
		if (nf == m->flags && strcmp(strbuf_cstr(&kw), m->keywords) == 0) {
			m->uid = 0;
			continue;
		}
		unseen_delta += (int64_t)((m->flags & STORE_FLAG_SEEN) != 0) -
			(int64_t)((nf & STORE_FLAG_SEEN) != 0);
		m->flags = nf;
		free(m->keywords);
		m->keywords = xstrdup(strbuf_cstr(&kw));
		n_changed++;
	}
	strbuf_free(&kw);
	if (n_changed == 0)
		goto out;
	if (mailbox_change(c, f->mailbox_id, 0, unseen_delta, &modseq,
			   error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (rows[i].uid == 0)
			continue;
		if ((st = stmt_get(c, S_MSG_SET_FLAGS, error_r)) == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, rows[i].flags);
		store_sqlite_bind_text(st, 2, rows[i].keywords);
		sqlite3_bind_int64(st, 3, (int64_t)modseq);
		sqlite3_bind_int64(st, 4, f->mailbox_id);
		sqlite3_bind_int64(st, 5, rows[i].uid);
		ret = stmt_exec(c, st, error_r);
	}
	res->modseq = modseq;
	store_changes_add(changes, user_id, f->mailbox_id, modseq);
out:
	msg_rows_free(rows, n);
	return ret;
}

/* Remove one message, log it for VANISHED, drop its blob reference. */
static int msg_expunge(struct store_conn *c, int64_t mailbox_id,
		       const struct msg_row *row, uint64_t modseq,
		       const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = stmt_get(c, S_MSG_DELETE, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, row->uid);
	if (stmt_exec(c, st, error_r) < 0 ||
	    (st = stmt_get(c, S_EXPUNGED_INSERT, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, row->uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	if (stmt_exec(c, st, error_r) < 0)
		return -1;
	return blob_unref(c, row->blob_id, error_r);
}

static int do_expunge(struct store_conn *c, const struct store_req *req,
		      struct store_result *res, struct store_changes *changes,
		      const char **error_r)
{
	const __typeof__(req->u.expunge) *e = &req->u.expunge;
	struct msg_row *rows;
	size_t n;
	int64_t user_id, unseen = 0;
	uint64_t modseq;
	bool inbox;
	int ret = 0;

	if (mailbox_owner(c, e->mailbox_id, &user_id, &inbox, error_r) < 0 ||
	    msg_rows_read(c, e->mailbox_id, e->uids, e->n_uids, &rows, &n,
			  error_r) < 0)
		return -1;
	if (n == 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		unseen += (rows[i].flags & STORE_FLAG_SEEN) == 0;
	if (mailbox_change(c, e->mailbox_id, -(int64_t)n, -unseen, &modseq,
			   error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = msg_expunge(c, e->mailbox_id, &rows[i], modseq, error_r);
		if (ret == 0)
			uids_add(res, n, rows[i].uid);
	}
	res->modseq = modseq;
	store_changes_add(changes, user_id, e->mailbox_id, modseq);
out:
	msg_rows_free(rows, n);
	return ret;
}

static int msg_row_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct msg_row *)a)->uid;
	uint32_t y = ((const struct msg_row *)b)->uid;

	return x < y ? -1 : x > y;
}

/* COPY and MOVE: new UIDs in the destination in source UID order, one
 * modseq for the batch; blobs are shared (refcount), not copied. */
static int do_copy(struct store_conn *c, const struct store_req *req,
		   struct store_result *res, struct store_changes *changes,
		   const char **error_r)
{
	const __typeof__(req->u.copy) *cp = &req->u.copy;
	int64_t src_user, dst_user, unseen = 0;
	struct msg_row *rows;
	sqlite3_stmt *st;
	uint32_t first_uid;
	uint64_t modseq;
	size_t n;
	bool inbox;
	int ret = 0;

	if (mailbox_owner(c, cp->dst_mailbox_id, &dst_user, &inbox,
			  error_r) < 0 ||
	    mailbox_owner(c, cp->src_mailbox_id, &src_user, &inbox,
			  error_r) < 0 ||
	    msg_rows_read(c, cp->src_mailbox_id, cp->uids, cp->n_uids, &rows,
			  &n, error_r) < 0)
		return -1;
	if (n == 0)
		goto out;
	qsort(rows, n, sizeof(*rows), msg_row_cmp);
	for (size_t i = 0; i < n; i++)
		unseen += (rows[i].flags & STORE_FLAG_SEEN) == 0;
	if ((st = stmt_get(c, S_MAILBOX_ADD_MSGS, error_r)) == NULL) {
		ret = -1;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)n);
	sqlite3_bind_int64(st, 2, unseen);
	sqlite3_bind_int64(st, 3, cp->dst_mailbox_id);
	if (stmt_row(c, st, error_r) != 1) {
		ret = -1;
		goto out;
	}
	first_uid = (uint32_t)sqlite3_column_int64(st, 0);
	modseq = (uint64_t)sqlite3_column_int64(st, 1);
	if (sqlite3_column_int64(st, 0) + (int64_t)n > UINT32_MAX) {
		stmt_done(st);
		*error_r = conn_fail(c, "no UIDs left in the mailbox");
		ret = -1;
		goto out;
	}
	stmt_done(st);
	res->assigned = xcalloc(n, sizeof(*res->assigned));
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct store_assigned *as = &res->assigned[i];

		as->mailbox_id = cp->dst_mailbox_id;
		as->uid = first_uid + (uint32_t)i;
		as->modseq = modseq;
		if ((st = stmt_get(c, S_COPY_MSG, error_r)) == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, cp->dst_mailbox_id);
		sqlite3_bind_int64(st, 2, as->uid);
		sqlite3_bind_int64(st, 3, (int64_t)modseq);
		sqlite3_bind_int64(st, 4, cp->src_mailbox_id);
		sqlite3_bind_int64(st, 5, rows[i].uid);
		if (stmt_exec(c, st, error_r) < 0 ||
		    exec_id(c, S_BLOB_REF, rows[i].blob_id, error_r) < 0) {
			ret = -1;
			break;
		}
		res->n_assigned++;
		uids_add(res, n, rows[i].uid);
	}
	if (ret < 0)
		goto out;
	res->modseq = modseq;
	store_changes_add(changes, dst_user, cp->dst_mailbox_id, modseq);
	if (!cp->move)
		goto out;
	if (mailbox_change(c, cp->src_mailbox_id, -(int64_t)n, -unseen,
			   &res->src_modseq, error_r) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = msg_expunge(c, cp->src_mailbox_id, &rows[i],
				  res->src_modseq, error_r);
	store_changes_add(changes, src_user, cp->src_mailbox_id,
			  res->src_modseq);
	if (cp->src_mailbox_id == cp->dst_mailbox_id)
		res->modseq = res->src_modseq;
out:
	msg_rows_free(rows, n);
	return ret;
}

/* A chain of deliveries (deliver.next) in the request's one savepoint:
 * a failure of any rolls back all of them. */
static int do_deliver_chain(struct store_conn *c, const struct store_req *req,
			    struct store_result *res,
			    struct store_changes *changes, const char **error_r)
{
	size_t n = 0;
	int ret = 0;

	if (req->u.deliver.next == NULL)
		return do_deliver(c, req, res, changes, error_r);
	for (const struct store_req *r = req; r != NULL; r = r->u.deliver.next)
		n += r->u.deliver.n_targets;
	res->assigned = xcalloc(n + 1, sizeof(*res->assigned));
	for (const struct store_req *r = req; r != NULL && ret == 0;
	     r = r->u.deliver.next) {
		struct store_result one = { 0 };

		ret = do_deliver(c, r, &one, changes, error_r);
		for (size_t i = 0; i < one.n_assigned; i++)
			res->assigned[res->n_assigned++] = one.assigned[i];
		res->id = one.id;
		res->queue_id = one.queue_id;
		free(one.assigned);
	}
	return ret;
}

static int sqlite_apply(struct store_conn *c, const struct store_req *req,
			struct store_result *res, struct store_changes *changes,
			const char **error_r)
{
	switch (req->type) {
	case STORE_REQ_DELIVER:
		return do_deliver_chain(c, req, res, changes, error_r);
	case STORE_REQ_DOMAIN_ADD:
	case STORE_REQ_DOMAIN_DEL:
		return do_domain(c, req, res, error_r);
	case STORE_REQ_USER_ADD:
		return do_user_add(c, req, res, error_r);
	case STORE_REQ_USER_DEL:
		return do_user_del(c, req, changes, error_r);
	case STORE_REQ_USER_SET_PASSWORD:
		return do_user_password(c, req, error_r);
	case STORE_REQ_USER_SET_QUOTA:
		return store_sqlite_quota_apply(c, req, error_r);
	case STORE_REQ_ALIAS_ADD:
	case STORE_REQ_ALIAS_DEL:
		return do_alias(c, req, error_r);
	case STORE_REQ_MAILBOX_CREATE:
	case STORE_REQ_MAILBOX_RENAME:
	case STORE_REQ_MAILBOX_DELETE:
	case STORE_REQ_MAILBOX_SUBSCRIBE:
	case STORE_REQ_MAILBOX_RECENT:
		return do_mailbox(c, req, res, changes, error_r);
	case STORE_REQ_SET_FLAGS:
		return do_set_flags(c, req, res, changes, error_r);
	case STORE_REQ_EXPUNGE:
		return do_expunge(c, req, res, changes, error_r);
	case STORE_REQ_QUEUE_UPDATE:
	case STORE_REQ_QUEUE_DELETE:
	case STORE_REQ_QUEUE_RESULT:
	case STORE_REQ_QUEUE_CONTROL:
		return store_sqlite_queue_apply(c, req, res, changes, error_r);
	case STORE_REQ_COPY:
		return do_copy(c, req, res, changes, error_r);
	}
	*error_r = conn_fail(c, "unknown store request");
	return -1;
}

/* ---- readers ---- */

static int sqlite_domain_exists(struct store_conn *c, const char *domain,
				const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_DOMAIN_EXISTS, error_r);
	int ret;

	if (st == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, domain);
	if ((ret = stmt_row(c, st, error_r)) == 1)
		stmt_done(st);
	return ret;
}

/* Run a reader query whose first column is a string, collecting them. */
static int string_list(struct store_conn *c, struct arena *a, sqlite3_stmt *st,
		       const char ***list_r, const char **error_r)
{
	struct store_sqlite_vec v = { .size = sizeof(const char *) };
	int ret;

	while ((ret = stmt_row(c, st, error_r)) == 1)
		*(const char **)store_sqlite_vec_push(&v) =
			store_sqlite_col_str(a, st, 0);
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*list_r = store_sqlite_vec_to_arena(&v, a);
	return ret;
}

static int sqlite_domain_list(struct store_conn *c, struct arena *a,
			      const char ***domains_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_DOMAIN_LIST, error_r);

	return st == NULL ? -1 : string_list(c, a, st, domains_r, error_r);
}

static void read_user(struct arena *a, sqlite3_stmt *st, struct store_user *u)
{
	u->id = sqlite3_column_int64(st, 0);
	u->address = store_sqlite_col_str(a, st, 1);
	u->password_hash = store_sqlite_col_str(a, st, 2);
	u->scram_sha256 = store_sqlite_col_str(a, st, 3);
	u->apop_secret = store_sqlite_col_str(a, st, 4);
	u->quota = (uint64_t)sqlite3_column_int64(st, 5);
	u->disabled = sqlite3_column_int(st, 6) != 0;
}

static int sqlite_user_by_address(struct store_conn *c, struct arena *a,
				  const char *address, struct store_user *user_r,
				  const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_USER_BY_ADDRESS, error_r);
	int ret;

	if (st == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, address);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		read_user(a, st, user_r);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_user_list(struct store_conn *c, struct arena *a,
			    struct store_user **users_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_USER_LIST, error_r);
	struct store_sqlite_vec v = { .size = sizeof(struct store_user) };
	int ret;

	if (st == NULL)
		return -1;
	while ((ret = stmt_row(c, st, error_r)) == 1)
		read_user(a, st, store_sqlite_vec_push(&v));
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*users_r = store_sqlite_vec_to_arena(&v, a);
	return ret;
}

static int sqlite_subscriptions(struct store_conn *c, struct arena *a,
				int64_t user_id, const char ***names_r,
				const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_SUBSCRIPTIONS, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	return string_list(c, a, st, names_r, error_r);
}

static int sqlite_alias_targets(struct store_conn *c, struct arena *a,
				const char *address, const char ***targets_r,
				const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_ALIAS_TARGETS, error_r);

	if (st == NULL)
		return -1;
	store_sqlite_bind_text(st, 1, address);
	return string_list(c, a, st, targets_r, error_r);
}

static int sqlite_alias_list(struct store_conn *c, struct arena *a,
			     const char ***addresses_r,
			     const char ***targets_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_ALIAS_LIST, error_r);
	struct store_sqlite_vec addr = { .size = sizeof(const char *) };
	struct store_sqlite_vec tgt = { .size = sizeof(const char *) };
	int ret;

	if (st == NULL)
		return -1;
	while ((ret = stmt_row(c, st, error_r)) == 1) {
		*(const char **)store_sqlite_vec_push(&addr) =
			store_sqlite_col_str(a, st, 0);
		*(const char **)store_sqlite_vec_push(&tgt) =
			store_sqlite_col_str(a, st, 1);
	}
	if (ret < 0) {
		free(addr.v);
		free(tgt.v);
		return -1;
	}
	ret = (int)addr.n;
	*addresses_r = store_sqlite_vec_to_arena(&addr, a);
	*targets_r = store_sqlite_vec_to_arena(&tgt, a);
	return ret;
}

static void read_mailbox(struct arena *a, sqlite3_stmt *st,
			 struct store_mailbox *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->user_id = sqlite3_column_int64(st, 1);
	m->name = store_sqlite_col_str(a, st, 2);
	m->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	m->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
	m->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
	m->special_use = store_sqlite_col_str(a, st, 6);
	m->subscribed = sqlite3_column_int(st, 7) != 0;
	m->messages = (uint32_t)sqlite3_column_int64(st, 8);
	m->unseen = (uint32_t)sqlite3_column_int64(st, 9);
	m->recent_uid = (uint32_t)sqlite3_column_int64(st, 10);
}

static int sqlite_mailbox_list(struct store_conn *c, struct arena *a,
			       int64_t user_id,
			       struct store_mailbox **mailboxes_r,
			       const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MAILBOX_LIST, error_r);
	struct store_sqlite_vec v = { .size = sizeof(struct store_mailbox) };
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	while ((ret = stmt_row(c, st, error_r)) == 1)
		read_mailbox(a, st, store_sqlite_vec_push(&v));
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*mailboxes_r = store_sqlite_vec_to_arena(&v, a);
	return ret;
}

static int sqlite_mailbox_by_name(struct store_conn *c, struct arena *a,
				  int64_t user_id, const char *name,
				  struct store_mailbox *mailbox_r,
				  const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MAILBOX_BY_NAME, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	store_sqlite_bind_text(st, 2, is_inbox(name) ? "INBOX" : name);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		read_mailbox(a, st, mailbox_r);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_mailbox_by_id(struct store_conn *c, struct arena *a,
				int64_t mailbox_id,
				struct store_mailbox *mailbox_r,
				const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MAILBOX_BY_ID, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		read_mailbox(a, st, mailbox_r);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_mailbox_status(struct store_conn *c, int64_t mailbox_id,
				 struct store_mailbox_status *status_r,
				 const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MAILBOX_STATUS, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		status_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
		status_r->unseen = (uint32_t)sqlite3_column_int64(st, 1);
		status_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 2);
		status_r->uidnext = (uint32_t)sqlite3_column_int64(st, 3);
		status_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
		status_r->deleted_size = (uint64_t)sqlite3_column_int64(st, 5);
		status_r->deleted = (uint32_t)sqlite3_column_int64(st, 6);
		status_r->size = (uint64_t)sqlite3_column_int64(st, 7);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_msg_count_above(struct store_conn *c, int64_t mailbox_id,
				  uint32_t uid, uint32_t *count_r,
				  const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MSG_COUNT_ABOVE, error_r);
	int ret;

	*count_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		*count_r = (uint32_t)sqlite3_column_int64(st, 0);
		stmt_done(st);
	}
	return ret < 0 ? -1 : 0;
}

/* The store_msg rows of st (bound, columns as S_R_MSG_LIST). */
static int msg_list_read(struct store_conn *c, struct arena *a,
			 sqlite3_stmt *st, struct store_msg **msgs_r,
			 const char **error_r)
{
	struct store_sqlite_vec v = { .size = sizeof(struct store_msg) };
	int ret;

	while ((ret = stmt_row(c, st, error_r)) == 1) {
		struct store_msg *m = store_sqlite_vec_push(&v);

		m->uid = (uint32_t)sqlite3_column_int64(st, 0);
		m->flags = (uint32_t)sqlite3_column_int64(st, 1);
		/* most messages have no keywords: share one "" */
		m->keywords = sqlite3_column_bytes(st, 2) == 0 ? "" :
			store_sqlite_col_str(a, st, 2);
		m->internal_date = sqlite3_column_int64(st, 3);
		m->size = (uint64_t)sqlite3_column_int64(st, 4);
		m->modseq = (uint64_t)sqlite3_column_int64(st, 5);
		m->blob_id = sqlite3_column_int64(st, 6);
		m->internal_zone = sqlite3_column_int(st, 7);
	}
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*msgs_r = store_sqlite_vec_to_arena(&v, a);
	return ret;
}

static int sqlite_msg_list(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, struct store_msg **msgs_r,
			   const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MSG_LIST, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return msg_list_read(c, a, st, msgs_r, error_r);
}

static int sqlite_msg_changed_since(struct store_conn *c, struct arena *a,
				    int64_t mailbox_id, uint64_t since,
				    struct store_msg **msgs_r,
				    const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MSG_CHANGED_SINCE, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)since);
	return msg_list_read(c, a, st, msgs_r, error_r);
}

static int sqlite_expunged_since(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint64_t since,
				 uint32_t **uids_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_EXPUNGED_SINCE, error_r);
	struct store_sqlite_vec v = { .size = sizeof(uint32_t) };
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)since);
	while ((ret = stmt_row(c, st, error_r)) == 1)
		*(uint32_t *)store_sqlite_vec_push(&v) =
			(uint32_t)sqlite3_column_int64(st, 0);
	if (ret < 0) {
		free(v.v);
		return -1;
	}
	ret = (int)v.n;
	*uids_r = store_sqlite_vec_to_arena(&v, a);
	return ret;
}

static const void *col_blob(struct arena *a, sqlite3_stmt *st, int i,
			    size_t *size_r)
{
	const void *p = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	char *copy = arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(copy, p, n);
	copy[n] = '\0';
	*size_r = n;
	return copy;
}

static int sqlite_msg_meta(struct store_conn *c, struct arena *a,
			   int64_t mailbox_id, uint32_t uid,
			   struct store_msg_meta *meta_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MSG_META, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		meta_r->envelope = store_sqlite_col_str(a, st, 0);
		meta_r->bodystructure = store_sqlite_col_str(a, st, 1);
		meta_r->body = store_sqlite_col_str(a, st, 2);
		meta_r->parts = col_blob(a, st, 3, &meta_r->parts_size);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_msg_meta_range(struct store_conn *c, struct arena *a,
				 int64_t mailbox_id, uint32_t lo, uint32_t hi,
				 size_t max, uint32_t **uids_r,
				 struct store_msg_meta **metas_r,
				 const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_MSG_META_RANGE, error_r);
	uint32_t *uids;
	struct store_msg_meta *metas;
	size_t n = 0;
	int ret;

	if (st == NULL)
		return -1;
	uids = arena_alloc(a, (max + 1) * sizeof(*uids));
	metas = arena_alloc(a, (max + 1) * sizeof(*metas));
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	sqlite3_bind_int64(st, 4, (int64_t)max);
	while ((ret = sqlite3_step(st)) == SQLITE_ROW) {
		uids[n] = (uint32_t)sqlite3_column_int64(st, 0);
		metas[n].envelope = store_sqlite_col_str(a, st, 1);
		metas[n].bodystructure = store_sqlite_col_str(a, st, 2);
		metas[n].body = store_sqlite_col_str(a, st, 3);
		metas[n].parts = col_blob(a, st, 4, &metas[n].parts_size);
		n++;
	}
	if (ret != SQLITE_DONE) {
		*error_r = conn_error(c, "message metadata");
		stmt_done(st);
		return -1;
	}
	stmt_done(st);
	*uids_r = uids;
	*metas_r = metas;
	return (int)n;
}

static int sqlite_blob_get(struct store_conn *c, struct arena *a,
			   int64_t blob_id, const char **data_r,
			   size_t *size_r, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_BLOB_GET, error_r);
	int ret;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	if ((ret = stmt_row(c, st, error_r)) == 1) {
		*data_r = col_blob(a, st, 0, size_r);
		stmt_done(st);
	}
	return ret;
}

static int sqlite_blob_count(struct store_conn *c, const char **error_r)
{
	sqlite3_stmt *st = stmt_get(c, S_R_BLOB_COUNT, error_r);
	int ret;

	if (st == NULL || stmt_row(c, st, error_r) < 0)
		return -1;
	ret = sqlite3_column_int(st, 0);
	stmt_done(st);
	return ret;
}

const struct store_driver store_driver_sqlite = {
	.name = "sqlite",
	.conn_open = sqlite_conn_open,
	.conn_close = sqlite_conn_close,
	.schema_version = sqlite_schema_version,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.savepoint = sqlite_savepoint,
	.release = sqlite_release,
	.rollback_to = sqlite_rollback_to,
	.in_transaction = sqlite_in_transaction,
	.apply = sqlite_apply,
	.domain_exists = sqlite_domain_exists,
	.domain_list = sqlite_domain_list,
	.user_by_address = sqlite_user_by_address,
	.user_list = sqlite_user_list,
	.user_usage = store_sqlite_user_usage,
	.alias_targets = sqlite_alias_targets,
	.subscriptions = sqlite_subscriptions,
	.alias_list = sqlite_alias_list,
	.mailbox_list = sqlite_mailbox_list,
	.mailbox_by_name = sqlite_mailbox_by_name,
	.mailbox_by_id = sqlite_mailbox_by_id,
	.mailbox_status = sqlite_mailbox_status,
	.search_text = store_sqlite_search_text,
	.search_pending = store_sqlite_search_pending,
	.idle = sqlite_idle,
	.read_begin = sqlite_read_begin,
	.read_end = sqlite_rollback,
	.msg_list = sqlite_msg_list,
	.expunged_since = sqlite_expunged_since,
	.msg_changed_since = sqlite_msg_changed_since,
	.msg_count_above = sqlite_msg_count_above,
	.msg_meta = sqlite_msg_meta,
	.msg_meta_range = sqlite_msg_meta_range,
	.blob_get = sqlite_blob_get,
	.blob_read = store_sqlite_blob_read,
	.blob_count = sqlite_blob_count,
	.queue_list = store_sqlite_queue_list,
	.queue_get = store_sqlite_queue_get,
	.queue_due = store_sqlite_queue_due,
	.queue_held = store_sqlite_queue_held,
	.queue_held_ids = store_sqlite_queue_held_ids,
};
