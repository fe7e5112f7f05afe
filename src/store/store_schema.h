/* store_schema.h: the store's schema for each database kind, as migration
 * lists for db_migrate(), and the SQL of the PostgreSQL search index (the
 * SQLite one is an FTS5 table, store_search.c). Both schemas have
 * the same tables and columns, so a row reads the same on either. */
#ifndef POSTHORN_STORE_STORE_SCHEMA_H
#define POSTHORN_STORE_STORE_SCHEMA_H

#include "base/base.h"
#include "base/str.h"
#include "base/strbuf.h"
#include "store/store.h"

/* Ordered migrations: migrations[v] brings a database from version v to
 * v + 1 (db_migrate). Never edit one that has shipped: add a new one. */
extern const char *const store_sqlite_migrations[];
extern const size_t store_sqlite_n_migrations;
extern const char *const store_pgsql_migrations[];
extern const size_t store_pgsql_n_migrations;

/* The PostgreSQL search index: table search_text(blob_id, hdr, body,
 * addr) with a pg_trgm GIN index on each column, filled from the
 * search_pending queue as the SQLite driver fills search_fts, with the
 * same text (store_search.c's top header lines, body text and
 * address lines) folded by utf8_fold() first. A case-sensitive LIKE of
 * the folded needle then matches as i;unicode-casemap does, whatever the
 * database's locale (ILIKE would fold by it, and "C" folds only ASCII). */
struct store_search_sql {
	/* ?1 blob id, ?2 hdr, ?3 body, ?4 addr, all folded; replaces an
	 * earlier row of the blob */
	const char *insert;
	/* ?1 blob id */
	const char *remove;
	/* Per field: ?1 mailbox id, ?2 store_pgsql_like() of the folded
	 * needle; rows (uid, hdr, body, addr), '' for a column the field
	 * does not look at. Exact for BODY and TEXT; HEADER and ADDRESS
	 * rows must still have the needle in the field asked for (as the
	 * SQLite driver checks its MATCH candidates). As there too, give a
	 * long needle's first 32 characters and check the candidates: LIKE
	 * costs the pattern's length times the text's on every row. */
	const char *match[STORE_SEARCH_ADDRESS + 1];
};
extern const struct store_search_sql store_pgsql_search_sql;

/* Append to out the LIKE pattern "%needle%" matching needle as a
 * substring: its '%', '_' and '\' escaped with '\' (LIKE's default
 * escape). */
void store_pgsql_like(struct strbuf *out, struct str needle);

#endif
