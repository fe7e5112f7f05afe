/* db_pgsql.c: the PostgreSQL driver over libpq: statements prepared on
 * the server once per connection (?N becomes $N), parameters sent as text
 * (blobs as binary bytea), rows fetched in binary and decoded by type,
 * the schema version in a table of its own, and (db_settings.reconnect)
 * a lost connection opened again between transactions, with back-off. */
#include "db/db_int.h"
#include "base/log.h"

#include <endian.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Type oids of the results the store reads (pg_type.h is server-side). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

/* Parameters of one statement at most. */
#define PG_MAX_PARAMS 32

/* A connection that failed to come back waits this long before the next
 * try, doubling up to the maximum: each try is a connect on the caller's
 * thread, and every request meanwhile fails at once. */
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 5000

struct pgsql_db {
	struct db db;
	PGconn *conn;
	unsigned n_prepared;
	bool fsync;
	bool reconnect;		/* db_settings.reconnect */
	/* between our BEGIN and its COMMIT or ROLLBACK: a connection lost
	 * here is not replaced until then, or the rest of the transaction
	 * would run (and commit) statement by statement on the new one */
	bool txn;
	/* bumped by each reconnect: statements prepared on an earlier
	 * connection are prepared again at their next run */
	unsigned generation;
	uint64_t retry_at_ms;	/* back-off: no reconnect before this */
	bool closing;		/* the server said FATAL: it ends this one */
	bool lost;		/* failed a request for want of the server */
	unsigned backoff_ms;
};

/* One line in the log per outage, not per connection or statement: set
 * by the first connection that fails a request for want of the server,
 * cleared by the first of those that gets it back. */
static atomic_bool pg_outage;
/* The last "an idle connection was closed" line (ms), to say a restart
 * once and not once per connection. */
static _Atomic uint64_t pg_idle_logged_ms;

struct pgsql_stmt {
	struct db_stmt st;
	char name[16];
	unsigned generation;	/* of the connection it was prepared on */
	int n_params;
	/* bound values: owned copies (text, NUL-terminated) or borrowed
	 * blobs; formats 0 text, 1 binary */
	const char *values[PG_MAX_PARAMS];
	char *owned[PG_MAX_PARAMS];
	int lengths[PG_MAX_PARAMS];
	int formats[PG_MAX_PARAMS];
	PGresult *res;		/* of the running statement */
	int row, n_rows;	/* the current row, -1 before the first */
	int64_t changes;
};

static struct pgsql_db *PDB(struct db *db)
{
	return (struct pgsql_db *)db;
}

static struct pgsql_stmt *PST(struct db_stmt *st)
{
	return (struct pgsql_stmt *)st;
}

/* Serialization failures and deadlocks: run the transaction again. */
static bool pgsql_retryable(const PGresult *res)
{
	const char *state = res != NULL ?
		PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "40001") == 0 ||
				 strcmp(state, "40P01") == 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A request failed because the server is gone (or would not take a new
 * connection). */
static void pgsql_lost(struct pgsql_db *p, const char *why)
{
	if (!p->reconnect || p->lost)
		return;
	p->lost = true;
	if (!atomic_exchange(&pg_outage, true))
		log_error(NULL, "store: lost the PostgreSQL connection (%.*s): "
			  "requests fail with a temporary error until it is "
			  "back", (int)strcspn(why, "\n"), why);
}

static int pgsql_fail(struct db *db, const PGresult *res, const char *what)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";

	const char *state = res != NULL ?
		PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(PDB(db)->conn);
	if (PQstatus(PDB(db)->conn) == CONNECTION_BAD)
		pgsql_lost(PDB(db), msg);
	db_fail(db, pgsql_retryable(res), what, msg);
	db->error_unavailable = PQstatus(PDB(db)->conn) == CONNECTION_BAD;
	/* class 23: integrity constraint violation */
	db->error_constraint = state != NULL && strncmp(state, "23", 2) == 0;
	return -1;
}

/* ---- the connection ---- */

PGconn *db_pgsql_conn(struct db *db)
{
	ASSERT(db->drv == &db_driver_pgsql);
	return PDB(db)->conn;
}

static void pgsql_close(struct db *db)
{
	PQfinish(PDB(db)->conn);
	free(db);
}

/* The server's notices (a warning; the FATAL an idle connection gets
 * when the server shuts down) go to the log, not to stderr. A FATAL one
 * says the server is closing this connection: the next request opens a
 * new one rather than fail on this one. */
static void pgsql_notice(void *arg, const PGresult *res)
{
	struct pgsql_db *p = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorMessage(res);

	/* the FATAL of a shutdown: the reconnect is logged instead, once */
	if (severity != NULL && strcmp(severity, "FATAL") == 0) {
		p->closing = true;
		return;
	}
	log_warn(NULL, "store: PostgreSQL says: %.*s",
		 (int)strcspn(message, "\n"), message);
}

static int pgsql_ready(struct db *db, bool begin);

static int pgsql_exec_raw(struct db *db, const char *sql)
{
	PGresult *res = PQexec(PDB(db)->conn, sql);
	ExecStatusType status = PQresultStatus(res);
	int ret = 0;

	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		ret = pgsql_fail(db, res, "exec");
	/* COMMIT of a transaction an error aborted answers "ROLLBACK", not
	 * an error: the batch is lost and must not be reported durable. */
	else if (strcmp(sql, "COMMIT") == 0 &&
		 strcmp(PQcmdStatus(res), "COMMIT") != 0)
		ret = db_fail(db, false, "commit", "the transaction was rolled "
			      "back by an earlier error");
	PQclear(res);
	return ret;
}

static int pgsql_exec(struct db *db, const char *sql)
{
	struct pgsql_db *p = PDB(db);
	bool begin = strncmp(sql, "BEGIN", 5) == 0;
	int ret;

	/* a BEGIN leaves any transaction before it behind */
	if (begin)
		p->txn = false;
	if (pgsql_ready(db, begin) < 0)
		return -1;
	ret = pgsql_exec_raw(db, sql);
	if (begin)
		p->txn = ret == 0;
	else if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0)
		p->txn = false;
	return ret;
}

/* What each new connection is told first. */
static int pgsql_setup(struct pgsql_db *p)
{
	p->closing = false;
	PQsetNoticeReceiver(p->conn, pgsql_notice, p);
	/* The notices of CREATE ... IF NOT EXISTS are not news. */
	if (pgsql_exec_raw(&p->db, "SET client_min_messages = warning") < 0 ||
	    pgsql_exec_raw(&p->db, p->fsync ? "SET synchronous_commit = on" :
			   "SET synchronous_commit = off") < 0)
		return -1;
	return 0;
}

/* Before a statement or a BEGIN: 0 to go on, -1 (error set) when the
 * connection is lost and cannot be replaced now. Outside a transaction a
 * lost connection is opened again (PQreset: same parameters), at once the
 * first time, then with back-off; inside one its statements fail until
 * the caller ends it, and the next BEGIN reconnects. A server that closed
 * an idle connection (a restart) says so by an EOF already waiting on
 * the socket: looking for it first spares the next request a failure. */
static int pgsql_ready(struct db *db, bool begin)
{
	struct pgsql_db *p = PDB(db);
	uint64_t now;

	if (!p->reconnect || (p->txn && !begin))
		return 0;
	/* PQisBusy() parses what PQconsumeInput() read (the FATAL) */
	if (PQstatus(p->conn) == CONNECTION_OK &&
	    PQconsumeInput(p->conn) == 1 && !PQisBusy(p->conn) &&
	    PQstatus(p->conn) == CONNECTION_OK && !p->closing)
		return 0;
	now = now_ms();
	if (now < p->retry_at_ms) {
		db_fail(db, false, "PostgreSQL unavailable", "waiting to reconnect");
		db->error_unavailable = true;
		return -1;
	}
	PQreset(p->conn);
	if (PQstatus(p->conn) != CONNECTION_OK || pgsql_setup(p) < 0) {
		const char *why = PQerrorMessage(p->conn);

		pgsql_lost(p, why);
		p->backoff_ms = p->backoff_ms == 0 ? RECONNECT_FIRST_MS :
				MIN(p->backoff_ms * 2, RECONNECT_MAX_MS);
		p->retry_at_ms = now + p->backoff_ms;
		db_fail(db, false, "PostgreSQL unavailable", why);
		db->error_unavailable = true;
		return -1;
	}
	p->generation++;
	p->txn = false;
	p->backoff_ms = 0;
	p->retry_at_ms = 0;
	if (p->lost) {
		p->lost = false;
		if (atomic_exchange(&pg_outage, false))
			log_info(NULL, "store: the PostgreSQL connection is back");
	} else if (now - atomic_exchange(&pg_idle_logged_ms, now) > 60000)
		log_info(NULL, "store: PostgreSQL had closed idle connections "
			 "(a restart?): reconnected");
	return 0;
}

static struct db *pgsql_open(const struct db_settings *set, char **error_r)
{
	struct pgsql_db *p = xcalloc(1, sizeof(*p));

	p->db.drv = &db_driver_pgsql;
	if (set->conninfo == NULL) {
		*error_r = xstrdup("no PostgreSQL conninfo");
		free(p);
		return NULL;
	}
	p->conn = PQconnectdb(set->conninfo);
	if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		*error_r = xasprintf("connect to PostgreSQL: %s",
				     p->conn != NULL ? PQerrorMessage(p->conn) :
				     "out of memory");
		for (size_t n = strlen(*error_r); n > 0 && (*error_r)[n - 1] == '\n'; n--)
			(*error_r)[n - 1] = '\0';
		pgsql_close(&p->db);
		return NULL;
	}
	p->fsync = set->fsync;
	p->reconnect = set->reconnect;
	if (pgsql_setup(p) < 0) {
		*error_r = xstrdup(p->db.error);
		pgsql_close(&p->db);
		return NULL;
	}
	return &p->db;
}

static bool pgsql_in_transaction(struct db *db)
{
	PGTransactionStatusType t = PQtransactionStatus(PDB(db)->conn);

	/* INERROR: an error aborted it; it still needs its ROLLBACK. So
	 * does ours on a connection lost meanwhile (UNKNOWN). */
	return PDB(db)->txn || t == PQTRANS_INTRANS || t == PQTRANS_INERROR ||
	       t == PQTRANS_ACTIVE;
}

static int pgsql_version_get(struct db *db)
{
	PGresult *res;
	int v = -1;

	if (pgsql_exec(db, "CREATE TABLE IF NOT EXISTS posthorn_schema("
		       "version BIGINT NOT NULL)") < 0)
		return -1;
	res = PQexec(PDB(db)->conn, "SELECT max(version) FROM posthorn_schema");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pgsql_fail(db, res, "schema version");
	else
		v = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int pgsql_version_set(struct db *db, int version)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM posthorn_schema;"
		 "INSERT INTO posthorn_schema(version) VALUES(%d)", version);
	return pgsql_exec(db, sql);
}

/* ---- statements ---- */

/* sql with ?N turned into $N outside quoted strings and identifiers;
 * *n_params_r the highest N. malloc'd. */
static char *pgsql_translate(const char *sql, int *n_params_r)
{
	size_t n = strlen(sql);
	char *out = xmalloc(n + 1), quote = 0;
	size_t k = 0;
	int max = 0;

	for (size_t i = 0; i < n; i++) {
		char c = sql[i];

		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '?' && i + 1 < n && sql[i + 1] >= '1' &&
			   sql[i + 1] <= '9') {
			int v = atoi(sql + i + 1);

			max = MAX(max, v);
			c = '$';
		}
		out[k++] = c;
	}
	out[k] = '\0';
	*n_params_r = max;
	return out;
}

/* Prepare st (named already) on the connection as it is now. */
static int pgsql_prepare_on_server(struct db *db, struct pgsql_stmt *st,
				   const char *text)
{
	PGresult *res = PQprepare(PDB(db)->conn, st->name, text, 0, NULL);
	int ret = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = pgsql_fail(db, res, "prepare");
	PQclear(res);
	if (ret == 0)
		st->generation = PDB(db)->generation;
	return ret;
}

static struct db_stmt *pgsql_prepare(struct db *db, const char *sql)
{
	struct pgsql_stmt *st;
	char *text;
	int ret;

	if (pgsql_ready(db, false) < 0)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	text = pgsql_translate(sql, &st->n_params);
	if (st->n_params > PG_MAX_PARAMS) {
		free(text);
		free(st);
		db_fail(db, false, "prepare", "too many parameters");
		return NULL;
	}
	snprintf(st->name, sizeof(st->name), "p%u", ++PDB(db)->n_prepared);
	ret = pgsql_prepare_on_server(db, st, text);
	free(text);
	if (ret < 0) {
		free(st);
		return NULL;
	}
	st->row = -1;
	return &st->st;
}

/* A statement of an earlier connection: prepared again, by its name, on
 * this one. */
static int pgsql_reprepare(struct db_stmt *dst)
{
	int n_params;
	char *text = pgsql_translate(dst->sql, &n_params);
	int ret = pgsql_prepare_on_server(dst->db, PST(dst), text);

	free(text);
	return ret;
}

static void pgsql_clear_params(struct pgsql_stmt *st)
{
	for (int i = 0; i < PG_MAX_PARAMS; i++) {
		free(st->owned[i]);
		st->owned[i] = NULL;
		st->values[i] = NULL;
		st->lengths[i] = 0;
		st->formats[i] = 0;
	}
}

static void pgsql_reset(struct db_stmt *dst)
{
	struct pgsql_stmt *st = PST(dst);

	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->n_rows = 0;
	pgsql_clear_params(st);
}

static void pgsql_finalize(struct db_stmt *dst)
{
	pgsql_reset(dst);
	free(dst);
}

/* Make room for parameter i (1-based) of the statement: its earlier
 * value is freed. */
static struct pgsql_stmt *pgsql_param(struct db_stmt *dst, int i)
{
	struct pgsql_stmt *st = PST(dst);

	ASSERT(i >= 1 && i <= PG_MAX_PARAMS);
	free(st->owned[i - 1]);
	st->owned[i - 1] = NULL;
	return st;
}

static void pgsql_bind_int(struct db_stmt *dst, int i, int64_t v)
{
	struct pgsql_stmt *st = pgsql_param(dst, i);

	st->owned[i - 1] = xasprintf("%lld", (long long)v);
	st->values[i - 1] = st->owned[i - 1];
	st->formats[i - 1] = 0;
}

static void pgsql_bind_text(struct db_stmt *dst, int i, struct str s)
{
	struct pgsql_stmt *st = pgsql_param(dst, i);

	st->owned[i - 1] = str_dup(s);
	st->values[i - 1] = st->owned[i - 1];
	st->formats[i - 1] = 0;
}

static void pgsql_bind_blob(struct db_stmt *dst, int i, const void *p,
			    size_t n)
{
	struct pgsql_stmt *st = pgsql_param(dst, i);

	ASSERT(n <= INT32_MAX);
	st->values[i - 1] = p != NULL ? p : "";
	st->lengths[i - 1] = (int)n;
	st->formats[i - 1] = 1;
}

static void pgsql_bind_null(struct db_stmt *dst, int i)
{
	struct pgsql_stmt *st = pgsql_param(dst, i);

	st->values[i - 1] = NULL;
}

static int pgsql_step(struct db_stmt *dst)
{
	struct pgsql_stmt *st = PST(dst);
	ExecStatusType status;

	if (st->res == NULL) {
		if (pgsql_ready(dst->db, false) < 0 ||
		    (st->generation != PDB(dst->db)->generation &&
		     pgsql_reprepare(dst) < 0)) {
			pgsql_reset(dst);
			return -1;
		}
		st->res = PQexecPrepared(PDB(dst->db)->conn, st->name,
					 st->n_params, st->values, st->lengths,
					 st->formats, 1);
		status = PQresultStatus(st->res);
		if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
			pgsql_fail(dst->db, st->res, "step");
			pgsql_reset(dst);
			return -1;
		}
		st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
		st->n_rows = PQntuples(st->res);
		st->row = -1;
	}
	if (++st->row < st->n_rows)
		return 1;
	pgsql_reset(dst);
	return 0;
}

static int64_t pgsql_changes(struct db_stmt *dst)
{
	return PST(dst)->changes;
}

static int64_t pgsql_col_int(struct db_stmt *dst, int i)
{
	struct pgsql_stmt *st = PST(dst);
	const char *p = PQgetvalue(st->res, st->row, i);
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	if (PQgetisnull(st->res, st->row, i))
		return 0;
	switch (PQftype(st->res, i)) {
	case OID_INT8:
		memcpy(&v8, p, 8);
		return (int64_t)be64toh(v8);
	case OID_INT4:
		memcpy(&v4, p, 4);
		return (int32_t)be32toh(v4);
	case OID_INT2:
		memcpy(&v2, p, 2);
		return (int16_t)be16toh(v2);
	case OID_BOOL:
		return p[0] != 0;
	}
	/* A bug in a query of ours (a NUMERIC sum wants a cast). */
	PANIC("pgsql: column %d of \"%s\" is of type %u, not an integer", i,
	      dst->sql, (unsigned)PQftype(st->res, i));
}

static struct str pgsql_col_text(struct db_stmt *dst, int i)
{
	struct pgsql_stmt *st = PST(dst);

	if (PQgetisnull(st->res, st->row, i))
		return str_make("", 0);
	return str_make(PQgetvalue(st->res, st->row, i),
			(size_t)PQgetlength(st->res, st->row, i));
}

static bool pgsql_col_null(struct db_stmt *dst, int i)
{
	struct pgsql_stmt *st = PST(dst);

	return PQgetisnull(st->res, st->row, i);
}

/* substring() is 1-based and takes int positions; a BYTEA holds 1 GB at
 * most, so larger offsets or lengths only mean "to the end". */
static int pgsql_blob_read(struct db *db, const char *table,
			   const char *column, int64_t rowid, uint64_t offset,
			   void *buf, size_t n, size_t *got_r,
			   uint64_t *size_r)
{
	char sql[256], id[24], from[24], len[24];
	const char *values[3] = { id, from, len };
	PGresult *res;
	uint64_t v8;
	size_t got;
	int ret = 1;

	snprintf(sql, sizeof(sql), "SELECT octet_length(\"%s\")::bigint,"
		 " substring(\"%s\" from $2::bigint::int for $3::bigint::int)"
		 " FROM \"%s\" WHERE id = $1", column, column, table);
	snprintf(id, sizeof(id), "%lld", (long long)rowid);
	snprintf(from, sizeof(from), "%llu",
		 (unsigned long long)MIN(offset, (uint64_t)INT32_MAX - 1) + 1);
	snprintf(len, sizeof(len), "%llu",
		 (unsigned long long)MIN((uint64_t)n, (uint64_t)INT32_MAX));
	if (pgsql_ready(db, false) < 0)
		return -1;
	res = PQexecParams(PDB(db)->conn, sql, 3, NULL, values, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = pgsql_fail(db, res, "blob read");
	} else if (PQntuples(res) == 0) {
		ret = 0;
	} else {
		memcpy(&v8, PQgetvalue(res, 0, 0), 8);
		*size_r = PQgetisnull(res, 0, 0) ? 0 : be64toh(v8);
		got = (size_t)PQgetlength(res, 0, 1);
		if (offset >= *size_r)
			got = 0;
		if (got > n)	/* never: substring() took n */
			got = n;
		if (got > 0)
			memcpy(buf, PQgetvalue(res, 0, 1), got);
		*got_r = got;
	}
	PQclear(res);
	return ret;
}

const struct db_driver db_driver_pgsql = {
	.kind = DB_PGSQL,
	.open = pgsql_open,
	.close = pgsql_close,
	.exec = pgsql_exec,
	.prepare = pgsql_prepare,
	.finalize = pgsql_finalize,
	.bind_int = pgsql_bind_int,
	.bind_text = pgsql_bind_text,
	.bind_blob = pgsql_bind_blob,
	.bind_null = pgsql_bind_null,
	.step = pgsql_step,
	.reset = pgsql_reset,
	.changes = pgsql_changes,
	.col_int = pgsql_col_int,
	.col_text = pgsql_col_text,
	/* binary bytea and text are both the bytes themselves */
	.col_blob = pgsql_col_text,
	.col_null = pgsql_col_null,
	.in_transaction = pgsql_in_transaction,
	.blob_read = pgsql_blob_read,
	.version_get = pgsql_version_get,
	.version_set = pgsql_version_set,
	.begin_sql = "BEGIN",
	.begin_read_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
};
