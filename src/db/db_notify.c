/* db_notify.c: notifications and advisory locks (db_notify.h): on
 * PostgreSQL LISTEN/NOTIFY and pg_try_advisory_lock over the driver's
 * libpq connection; on SQLite the one-node definitions. */
#include "db/db_int.h"
#include "db/db_notify.h"

#include <libpq-fe.h>
#include <stdio.h>

bool db_shared(const struct db *db)
{
	return db_kind(db) == DB_PGSQL;
}

bool db_connected(struct db *db)
{
	return !db_shared(db) || PQstatus(db_pgsql_conn(db)) == CONNECTION_OK;
}

int db_backend_pid(struct db *db)
{
	return db_shared(db) ? PQbackendPID(db_pgsql_conn(db)) : 0;
}

/* An identifier we may put in SQL text unquoted (LISTEN takes no
 * parameter). */
static bool channel_ok(const char *channel)
{
	size_t n = strlen(channel);

	if (n == 0 || n > DB_CHANNEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = channel[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

int db_listen(struct db *db, const char *channel)
{
	char sql[16 + DB_CHANNEL_MAX];

	if (!channel_ok(channel))
		return db_fail(db, false, "listen", "not a channel name");
	if (!db_shared(db))
		return 0;
	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	return db_exec(db, sql);
}

int db_notify(struct db *db, const char *channel, struct str payload)
{
	static const char sql[] = "SELECT pg_notify(?1, ?2)";
	struct db_stmt *st;

	if (!channel_ok(channel))
		return db_fail(db, false, "notify", "not a channel name");
	if (payload.n > DB_PAYLOAD_MAX || memchr(payload.p, '\0', payload.n))
		return db_fail(db, false, "notify", "payload too long or "
			       "not text");
	if (!db_shared(db))
		return 0;
	if ((st = db_prepare(db, sql)) == NULL)
		return -1;
	db_bind_cstr(st, 1, channel);
	db_bind_text(st, 2, payload);
	return db_run(st);
}

int db_notify_fd(struct db *db)
{
	return db_shared(db) ? PQsocket(db_pgsql_conn(db)) : -1;
}

int db_notify_read(struct db *db, struct db_notification *n_r)
{
	PGconn *conn;
	PGnotify *n;

	if (!db_shared(db))
		return 0;
	conn = db_pgsql_conn(db);
	/* What is pending is taken first: a query on the connection may
	 * already have read notifications in. */
	if ((n = PQnotifies(conn)) == NULL) {
		if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK)
			return db_fail(db, false, "listen", PQerrorMessage(conn));
		if ((n = PQnotifies(conn)) == NULL)
			return 0;
	}
	snprintf(n_r->channel, sizeof(n_r->channel), "%s", n->relname);
	n_r->payload_len = MIN(strlen(n->extra), (size_t)DB_PAYLOAD_MAX);
	memcpy(n_r->payload, n->extra, n_r->payload_len);
	n_r->payload[n_r->payload_len] = '\0';
	n_r->sender_pid = n->be_pid;
	PQfreemem(n);
	return 1;
}

/* Run one of the advisory lock functions on key: its boolean, or -1. */
static int lock_call(struct db *db, const char *sql, int64_t key)
{
	struct db_stmt *st = db_prepare(db, sql);
	int ret;

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, key);
	if ((ret = db_step(st)) <= 0)
		return ret < 0 ? -1 :
			db_fail(db, false, "lock", "no answer");
	ret = db_col_int(st, 0) != 0;
	db_reset(st);
	return ret;
}

int db_lock_try(struct db *db, int64_t key)
{
	static const char sql[] = "SELECT pg_try_advisory_lock(CAST(?1 AS BIGINT))";

	return db_shared(db) ? lock_call(db, sql, key) : 1;
}

int db_unlock(struct db *db, int64_t key)
{
	static const char sql[] = "SELECT pg_advisory_unlock(CAST(?1 AS BIGINT))";
	int ret;

	if (!db_shared(db))
		return 0;
	if ((ret = lock_call(db, sql, key)) < 0)
		return -1;
	return ret == 1 ? 0 : db_fail(db, false, "unlock", "the lock was "
				      "not held by this connection");
}
