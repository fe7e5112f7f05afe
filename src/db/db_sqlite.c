/* db_sqlite.c: the SQLite driver: WAL with checkpoints on a thread of
 * their own for the writer, query-only mapped readers, statements
 * prepared persistent, the schema version in PRAGMA user_version. */
#include "db/db_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

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

struct sqlite_db {
	struct db db;
	sqlite3 *conn;
	struct checkpointer *ckpt;	/* writer only */
};

struct sqlite_stmt {
	struct db_stmt st;
	sqlite3_stmt *stmt;
};

static struct sqlite_db *SDB(struct db *db)
{
	return (struct sqlite_db *)db;
}

static sqlite3_stmt *SST(struct db_stmt *st)
{
	return ((struct sqlite_stmt *)st)->stmt;
}

static int sqlite_fail(struct db *db, const char *what)
{
	int rc = sqlite3_errcode(SDB(db)->conn);

	db_fail(db, rc == SQLITE_BUSY || rc == SQLITE_LOCKED, what,
		sqlite3_errmsg(SDB(db)->conn));
	db->error_constraint = rc == SQLITE_CONSTRAINT;
	return -1;
}

/* ---- the checkpointer ---- */

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

static int checkpointer_wal_hook(void *arg, sqlite3 *conn UNUSED,
				 const char *name UNUSED, int pages)
{
	if (pages >= CHECKPOINT_PAGES)
		checkpointer_wake(arg);
	return SQLITE_OK;
}

static int checkpointer_start(struct sqlite_db *s, const char *path,
			      unsigned busy_timeout_ms, char **error_r)
{
	struct checkpointer *k = xcalloc(1, sizeof(*k));
	int ret;

	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*error_r = xasprintf("open %s for checkpoints: %s", path,
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
		*error_r = xasprintf("read %s for checkpoints: %s", path,
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
	s->ckpt = k;
	/* replaces the automatic checkpoint on commit */
	sqlite3_wal_hook(s->conn, checkpointer_wal_hook, k);
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

/* ---- the connection ---- */

static void sqlite_close(struct db *db)
{
	struct sqlite_db *s = SDB(db);

	if (s->conn != NULL)
		sqlite3_wal_hook(s->conn, NULL, NULL);
	checkpointer_stop(&s->ckpt);
	sqlite3_close(s->conn);
	free(s);
}

static int sqlite_exec(struct db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(SDB(db)->conn, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	db_fail(db, sqlite3_errcode(SDB(db)->conn) == SQLITE_BUSY, "exec",
		msg != NULL ? msg : sqlite3_errmsg(SDB(db)->conn));
	sqlite3_free(msg);
	return -1;
}

/* Pragmas at open, so that a failing one names itself. */
static int sqlite_setup(struct sqlite_db *s, const char *sql, char **error_r)
{
	if (sqlite_exec(&s->db, sql) == 0)
		return 0;
	*error_r = xasprintf("%s: %s", sql, s->db.error);
	return -1;
}

static struct db *sqlite_open(const struct db_settings *set, char **error_r)
{
	struct sqlite_db *s = xcalloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	unsigned busy = set->busy_timeout_ms != 0 ? set->busy_timeout_ms : 5000;
	char pragma[128];

	s->db.drv = &db_driver_sqlite;
	if (set->path == NULL) {
		*error_r = xstrdup("no database path");
		free(s);
		return NULL;
	}
	if (set->writer)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(set->path, &s->conn, flags, NULL) != SQLITE_OK) {
		*error_r = xasprintf("open %s: %s", set->path,
				     s->conn != NULL ? sqlite3_errmsg(s->conn) :
				     "out of memory");
		sqlite_close(&s->db);
		return NULL;
	}
	sqlite3_extended_result_codes(s->conn, 0);
	sqlite3_busy_timeout(s->conn, (int)busy);
	if (set->writer) {
		snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s",
			 set->fsync ? "FULL" : "OFF");
		/* journal_size_limit: once checkpointed, a WAL that grew
		 * during a burst is cut back instead of keeping its peak
		 * size on disk. */
		if (sqlite_setup(s, "PRAGMA journal_mode = WAL", error_r) < 0 ||
		    sqlite_setup(s, "PRAGMA journal_size_limit = 67108864",
				 error_r) < 0 ||
		    sqlite_setup(s, pragma, error_r) < 0 ||
		    checkpointer_start(s, set->path, busy, error_r) < 0) {
			sqlite_close(&s->db);
			return NULL;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count = %u",
			 set->max_pages);
		if (set->max_pages != 0 && sqlite_setup(s, pragma, error_r) < 0) {
			sqlite_close(&s->db);
			return NULL;
		}
	} else if (sqlite_setup(s, "PRAGMA query_only = 1", error_r) < 0 ||
		   sqlite_setup(s, "PRAGMA cache_size = -32768", error_r) < 0 ||
		   /* Pages of the database file (not the WAL) are read
		    * through a map, without a pread() and a copy each: a
		    * POP3 session reading a whole maildrop cycles through
		    * more pages than the cache holds. */
		   sqlite_setup(s, "PRAGMA mmap_size = 1073741824",
				error_r) < 0) {
		sqlite_close(&s->db);
		return NULL;
	}
	return &s->db;
}

/* The writer is idle: a checkpoint of the whole WAL. A fully copied WAL
 * is skipped by new readers (each page read otherwise looks the page up
 * in the WAL index first: the main cost of a FETCH of many messages'
 * metadata). */
static void sqlite_idle(struct db *db)
{
	if (SDB(db)->ckpt != NULL)
		checkpointer_wake(SDB(db)->ckpt);
}

static bool sqlite_in_transaction(struct db *db)
{
	return sqlite3_get_autocommit(SDB(db)->conn) == 0;
}

static int sqlite_version_get(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(SDB(db)->conn, "PRAGMA user_version", -1, &st,
			       NULL) != SQLITE_OK)
		return sqlite_fail(db, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else
		sqlite_fail(db, "user_version");
	sqlite3_finalize(st);
	return v;
}

static int sqlite_version_set(struct db *db, int version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	return sqlite_exec(db, sql);
}

/* ---- statements ---- */

static struct db_stmt *sqlite_prepare(struct db *db, const char *sql)
{
	struct sqlite_stmt *st = xcalloc(1, sizeof(*st));

	if (sqlite3_prepare_v3(SDB(db)->conn, sql, -1,
			       SQLITE_PREPARE_PERSISTENT, &st->stmt,
			       NULL) != SQLITE_OK) {
		sqlite_fail(db, "prepare");
		free(st);
		return NULL;
	}
	return &st->st;
}

static void sqlite_finalize(struct db_stmt *st)
{
	sqlite3_finalize(SST(st));
	free(st);
}

static void sqlite_bind_int(struct db_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(SST(st), i, v);
}

static void sqlite_bind_text(struct db_stmt *st, int i, struct str s)
{
	sqlite3_bind_text(SST(st), i, s.p != NULL ? s.p : "", (int)s.n,
			  SQLITE_STATIC);
}

static void sqlite_bind_blob(struct db_stmt *st, int i, const void *p,
			     size_t n)
{
	/* A zero-length blob is not NULL. */
	sqlite3_bind_blob64(SST(st), i, p != NULL ? p : "", n, SQLITE_STATIC);
}

static void sqlite_bind_null(struct db_stmt *st, int i)
{
	sqlite3_bind_null(SST(st), i);
}

static void sqlite_reset(struct db_stmt *st)
{
	sqlite3_reset(SST(st));
	sqlite3_clear_bindings(SST(st));
}

static int sqlite_step(struct db_stmt *st)
{
	int rc = sqlite3_step(SST(st));

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite_reset(st);
		return 0;
	}
	sqlite_fail(st->db, "step");
	sqlite_reset(st);
	return -1;
}

static int64_t sqlite_changes(struct db_stmt *st)
{
	return sqlite3_changes64(SDB(st->db)->conn);
}

static int64_t sqlite_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(SST(st), i);
}

static struct str sqlite_col_text(struct db_stmt *st, int i)
{
	const char *p = (const char *)sqlite3_column_text(SST(st), i);

	return str_make(p != NULL ? p : "",
			(size_t)sqlite3_column_bytes(SST(st), i));
}

static struct str sqlite_col_blob(struct db_stmt *st, int i)
{
	const char *p = sqlite3_column_blob(SST(st), i);

	return str_make(p != NULL ? p : "",
			(size_t)sqlite3_column_bytes(SST(st), i));
}

static bool sqlite_col_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(SST(st), i) == SQLITE_NULL;
}

const struct db_driver db_driver_sqlite = {
	.kind = DB_SQLITE,
	.open = sqlite_open,
	.close = sqlite_close,
	.exec = sqlite_exec,
	.prepare = sqlite_prepare,
	.finalize = sqlite_finalize,
	.bind_int = sqlite_bind_int,
	.bind_text = sqlite_bind_text,
	.bind_blob = sqlite_bind_blob,
	.bind_null = sqlite_bind_null,
	.step = sqlite_step,
	.reset = sqlite_reset,
	.changes = sqlite_changes,
	.col_int = sqlite_col_int,
	.col_text = sqlite_col_text,
	.col_blob = sqlite_col_blob,
	.col_null = sqlite_col_null,
	.in_transaction = sqlite_in_transaction,
	.version_get = sqlite_version_get,
	.version_set = sqlite_version_set,
	.idle = sqlite_idle,
	/* IMMEDIATE: the writer takes the lock at once, not at its first
	 * write (a batch never fails half-way on a busy upgrade). */
	.begin_sql = "BEGIN IMMEDIATE",
	.begin_read_sql = "BEGIN",
};
