/* dmarc_store.c: the DMARC report tables over db/db.h: a message counted
 * by an upsert on the unreported rows' unique key, run by the store writer
 * in its batch (never a write of its own per message), the claim of a
 * report run, and the reads of `posthorn dmarc report`. */
#include "delivery/dmarc_store.h"
#include "store/store_txn.h"

#define ROW_KEY "day, header_from, policy_domain, source_ip, envelope_from," \
	" disposition, override, dmarc_dkim, dmarc_spf, dkim, spf_result," \
	" spf_domain, spf_scope"

/* The same SQL on both drivers: ON CONFLICT with the partial index's
 * WHERE picks the unreported row (SQLite 3.24 and PostgreSQL 9.5). */
static const char sql_row[] =
	"INSERT INTO dmarc_rows(" ROW_KEY ", count, sent)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, 0)"
	" ON CONFLICT(" ROW_KEY ") WHERE sent = 0"
	" DO UPDATE SET count = dmarc_rows.count + 1";
static const char sql_policy[] =
	"INSERT INTO dmarc_policies(day, domain, p, sp, pct, adkim, aspf, fo,"
	" rua) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
	" ON CONFLICT(day, domain) DO UPDATE SET p = excluded.p,"
	" sp = excluded.sp, pct = excluded.pct, adkim = excluded.adkim,"
	" aspf = excluded.aspf, fo = excluded.fo, rua = excluded.rua";
static const char sql_next_run[] =
	"SELECT COALESCE(MAX(sent), 0) + 1 FROM dmarc_rows";
static const char sql_claim[] =
	"UPDATE dmarc_rows SET sent = ?2 WHERE day = ?1 AND sent = 0";
static const char sql_purge_rows[] =
	"DELETE FROM dmarc_rows WHERE sent <> 0 AND day < ?1";
static const char sql_purge_policies[] =
	"DELETE FROM dmarc_policies WHERE day < ?1 AND NOT EXISTS(SELECT 1"
	" FROM dmarc_rows r WHERE r.day = dmarc_policies.day)";

#define ROW_COLS "id, " ROW_KEY ", count, sent"
static const char sql_rows_all[] =
	"SELECT " ROW_COLS " FROM dmarc_rows WHERE day = ?1"
	" ORDER BY policy_domain, id";
static const char sql_rows_run[] =
	"SELECT " ROW_COLS " FROM dmarc_rows WHERE day = ?1 AND sent = ?2"
	" ORDER BY policy_domain, id";
static const char sql_policies[] =
	"SELECT day, domain, p, sp, pct, adkim, aspf, fo, rua"
	" FROM dmarc_policies WHERE day = ?1 ORDER BY domain";

static int do_record(struct store_txn *t, const struct dmarc_store_req *q,
		     const char **error_r)
{
	struct store_conn *c = store_txn_conn(t);
	const struct dmarc_row *r = &q->row;
	const struct dmarc_policy_row *p = &q->policy;
	struct db_stmt *st = store_stmt(c, sql_row, error_r);
	const char *key[] = {
		r->header_from, r->policy_domain, r->source_ip,
		r->envelope_from, r->disposition, r->override, r->dmarc_dkim,
		r->dmarc_spf, r->dkim, r->spf_result, r->spf_domain,
		r->spf_scope,
	};

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, r->day);
	for (size_t i = 0; i < ARRAY_SIZE(key); i++)
		db_bind_cstr(st, (int)i + 2, key[i]);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if ((st = store_stmt(c, sql_policy, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, p->day);
	db_bind_cstr(st, 2, p->domain);
	db_bind_cstr(st, 3, p->p);
	db_bind_cstr(st, 4, p->sp);
	db_bind_int(st, 5, p->pct);
	db_bind_cstr(st, 6, p->adkim);
	db_bind_cstr(st, 7, p->aspf);
	db_bind_cstr(st, 8, p->fo);
	db_bind_cstr(st, 9, p->rua);
	return store_run(c, st, error_r);
}

static int do_claim(struct store_txn *t, const struct dmarc_store_req *q,
		    struct store_result *res, const char **error_r)
{
	struct store_conn *c = store_txn_conn(t);
	struct db_stmt *st = store_stmt(c, sql_next_run, error_r);
	int64_t run;

	if (st == NULL || store_row(c, st, error_r) != 1) {
		if (st != NULL && *error_r == NULL)
			*error_r = store_db_fail(c, "no run number");
		return -1;
	}
	run = db_col_int(st, 0);
	db_reset(st);
	if ((st = store_stmt(c, sql_claim, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, q->claim.day);
	db_bind_int(st, 2, run);
	if (store_run(c, st, error_r) < 0)
		return -1;
	res->id = run;
	if ((st = store_stmt(c, sql_purge_rows, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, q->claim.day - DMARC_STORE_KEEP_DAYS);
	if (store_run(c, st, error_r) < 0)
		return -1;
	if ((st = store_stmt(c, sql_purge_policies, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, q->claim.day - DMARC_STORE_KEEP_DAYS);
	return store_run(c, st, error_r);
}

static int apply(struct store_txn *t, const void *arg,
		 struct store_result *res, const char **error_r)
{
	const struct dmarc_store_req *q = arg;

	*error_r = NULL;
	switch (q->type) {
	case DMARC_STORE_RECORD:
		return do_record(t, q, error_r);
	case DMARC_STORE_CLAIM:
		return do_claim(t, q, res, error_r);
	}
	*error_r = store_db_fail(store_txn_conn(t), "unknown DMARC request");
	return -1;
}

void dmarc_store_req_init(struct dmarc_store_req *q, enum dmarc_store_type t)
{
	memset(q, 0, sizeof(*q));
	q->type = t;
	q->req.type = STORE_REQ_EXT;
	q->req.u.ext.fn = apply;
	q->req.u.ext.arg = q;
}

static void fill_row(struct arena *a, struct db_stmt *st, void *item)
{
	struct dmarc_row *r = item;
	const char **key[] = {
		&r->header_from, &r->policy_domain, &r->source_ip,
		&r->envelope_from, &r->disposition, &r->override,
		&r->dmarc_dkim, &r->dmarc_spf, &r->dkim, &r->spf_result,
		&r->spf_domain, &r->spf_scope,
	};

	r->id = db_col_int(st, 0);
	r->day = db_col_int(st, 1);
	for (size_t i = 0; i < ARRAY_SIZE(key); i++)
		*key[i] = store_col_str(a, st, (int)i + 2);
	r->count = db_col_int(st, 14);
	r->sent = db_col_int(st, 15);
}

int dmarc_store_rows(struct store_reader *r, struct arena *a, int64_t day,
		     int64_t run, struct dmarc_row **rows_r,
		     const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, run < 0 ? sql_rows_all :
					sql_rows_run, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, day);
	if (run >= 0)
		db_bind_int(st, 2, run);
	return store_rows(c, a, st, sizeof(**rows_r), fill_row, rows_r,
			  error_r);
}

static void fill_policy(struct arena *a, struct db_stmt *st, void *item)
{
	struct dmarc_policy_row *p = item;

	p->day = db_col_int(st, 0);
	p->domain = store_col_str(a, st, 1);
	p->p = store_col_str(a, st, 2);
	p->sp = store_col_str(a, st, 3);
	p->pct = db_col_int(st, 4);
	p->adkim = store_col_str(a, st, 5);
	p->aspf = store_col_str(a, st, 6);
	p->fo = store_col_str(a, st, 7);
	p->rua = store_col_str(a, st, 8);
}

int dmarc_store_policies(struct store_reader *r, struct arena *a, int64_t day,
			 struct dmarc_policy_row **rows_r,
			 const char **error_r)
{
	struct store_conn *c = store_reader_conn(r);
	struct db_stmt *st = store_stmt(c, sql_policies, error_r);

	if (st == NULL)
		return -1;
	db_bind_int(st, 1, day);
	return store_rows(c, a, st, sizeof(**rows_r), fill_policy, rows_r,
			  error_r);
}
