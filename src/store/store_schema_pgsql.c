/* store_schema_pgsql.c: the store's schema on PostgreSQL, with the tables
 * and columns the SQLite migrations reach (store_schema_sqlite.c), and the
 * search index over pg_trgm that stands in for SQLite's FTS5 trigrams. */
#include "store/store_schema.h"

/* Types, chosen so the one set of bind and column calls works on both:
 * every integer is BIGINT (SQLite's INTEGER is 64-bit, and UIDs,
 * UIDVALIDITY and modseqs are unsigned 32-bit or wider), 0/1 marks too,
 * as the store binds ints; ids that SQLite takes from the rowid are
 * BIGSERIAL; what SQLite compares COLLATE NOCASE is citext, so the same
 * "address = ?" is case-insensitive here as well. The envelope, the body
 * structures and the part offsets are BYTEA, not TEXT: they hold header
 * bytes as they came, which need not be UTF-8 (PostgreSQL refuses such
 * text); the store binds and reads them as blobs on both drivers.
 * citext and pg_trgm ship with postgresql-15 and are trusted extensions:
 * the owner of the database may create them, no superuser needed. */
const char *const store_pgsql_migrations[] = {
	/* 1: the schema of SQLite version 12, all at once */
	"CREATE EXTENSION IF NOT EXISTS citext;"
	"CREATE EXTENSION IF NOT EXISTS pg_trgm;"
	"CREATE TABLE store_meta(key TEXT PRIMARY KEY, value BIGINT NOT NULL);"
	"CREATE TABLE domains(id BIGSERIAL PRIMARY KEY,"
	" name CITEXT NOT NULL UNIQUE);"
	"CREATE TABLE users(id BIGSERIAL PRIMARY KEY,"
	" address CITEXT NOT NULL UNIQUE,"
	" domain_id BIGINT NOT NULL,"
	" password_hash TEXT NOT NULL DEFAULT '',"
	" scram_sha256 TEXT NOT NULL DEFAULT '',"
	" apop_secret TEXT NOT NULL DEFAULT '',"
	" quota BIGINT NOT NULL DEFAULT 0,"
	" disabled BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX users_domain ON users(domain_id);"
	"CREATE TABLE aliases(address CITEXT NOT NULL,"
	" target TEXT NOT NULL, PRIMARY KEY(address, target));"
	"CREATE TABLE mailboxes(id BIGSERIAL PRIMARY KEY,"
	" user_id BIGINT NOT NULL, name TEXT NOT NULL,"
	" uidvalidity BIGINT NOT NULL, uidnext BIGINT NOT NULL DEFAULT 1,"
	" highestmodseq BIGINT NOT NULL DEFAULT 1,"
	" special_use TEXT NOT NULL DEFAULT '',"
	" subscribed BIGINT NOT NULL DEFAULT 0,"
	" messages BIGINT NOT NULL DEFAULT 0,"
	" unseen BIGINT NOT NULL DEFAULT 0,"
	" recent_uid BIGINT NOT NULL DEFAULT 0,"
	" UNIQUE(user_id, name));"
	"CREATE TABLE subscriptions(user_id BIGINT NOT NULL,"
	" name TEXT NOT NULL, PRIMARY KEY(user_id, name));"
	"CREATE TABLE blobs(id BIGSERIAL PRIMARY KEY,"
	" refcount BIGINT NOT NULL, size BIGINT NOT NULL,"
	" envelope BYTEA NOT NULL, bodystructure BYTEA NOT NULL,"
	" body BYTEA NOT NULL, parts BYTEA NOT NULL);"
	/* the id is the blob's */
	"CREATE TABLE blob_data(id BIGINT PRIMARY KEY, data BYTEA NOT NULL);"
	"CREATE TABLE messages(mailbox_id BIGINT NOT NULL,"
	" uid BIGINT NOT NULL, blob_id BIGINT NOT NULL,"
	" flags BIGINT NOT NULL, keywords TEXT NOT NULL,"
	" internal_date BIGINT NOT NULL, size BIGINT NOT NULL,"
	" modseq BIGINT NOT NULL,"
	" internal_zone BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY(mailbox_id, uid));"
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);"
	"CREATE TABLE expunged(mailbox_id BIGINT NOT NULL,"
	" uid BIGINT NOT NULL, modseq BIGINT NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid));"
	/* a sequence never hands out an id again, as AUTOINCREMENT */
	"CREATE TABLE queue(id BIGSERIAL PRIMARY KEY,"
	" blob_id BIGINT NOT NULL,"
	" sender TEXT NOT NULL, envid TEXT NOT NULL, ret TEXT NOT NULL,"
	" state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
	" next_try BIGINT NOT NULL, last_error TEXT NOT NULL DEFAULT '',"
	" created BIGINT NOT NULL,"
	" delay_notified BIGINT NOT NULL DEFAULT 0,"
	" held BIGINT NOT NULL DEFAULT 0,"
	" requiretls BIGINT NOT NULL DEFAULT 0,"
	" tls_optional BIGINT NOT NULL DEFAULT 0,"
	" retry_now BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX queue_due ON queue(held, next_try);"
	"CREATE TABLE queue_rcpts(queue_id BIGINT NOT NULL,"
	" idx BIGINT NOT NULL, address TEXT NOT NULL, orcpt TEXT NOT NULL,"
	" notify TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'pending',"
	" status TEXT NOT NULL DEFAULT '',"
	" diagnostic TEXT NOT NULL DEFAULT '',"
	" remote_mta TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY(queue_id, idx));"
	/* the SEARCH index: blobs waiting for it, and the folded text of
	 * the others (store_schema.h) with a trigram index on each column,
	 * so LIKE '%needle%' of 3 or more characters finds its candidates
	 * without reading every row */
	"CREATE TABLE search_pending(blob_id BIGINT PRIMARY KEY);"
	"CREATE TABLE search_text(blob_id BIGINT PRIMARY KEY,"
	" hdr TEXT NOT NULL, body TEXT NOT NULL, addr TEXT NOT NULL);"
	"CREATE INDEX search_text_hdr ON search_text"
	" USING gin (hdr gin_trgm_ops);"
	"CREATE INDEX search_text_body ON search_text"
	" USING gin (body gin_trgm_ops);"
	"CREATE INDEX search_text_addr ON search_text"
	" USING gin (addr gin_trgm_ops);",
	/* 2 (SQLite 13): the node that claimed a queue entry and until
	 * when (store_nodes.h): several nodes share the queue */
	"ALTER TABLE queue ADD COLUMN claim_node BIGINT NOT NULL DEFAULT 0,"
	" ADD COLUMN claim_until BIGINT NOT NULL DEFAULT 0;",
	/* 3 (SQLite 14): DMARC aggregate-report data */
	("CREATE TABLE dmarc_rows(id BIGSERIAL PRIMARY KEY,"
	 " day BIGINT NOT NULL, header_from TEXT NOT NULL,"
	 " policy_domain TEXT NOT NULL, source_ip TEXT NOT NULL,"
	 " envelope_from TEXT NOT NULL, disposition TEXT NOT NULL,"
	 " override TEXT NOT NULL, dmarc_dkim TEXT NOT NULL,"
	 " dmarc_spf TEXT NOT NULL, dkim TEXT NOT NULL,"
	 " spf_result TEXT NOT NULL, spf_domain TEXT NOT NULL,"
	 " spf_scope TEXT NOT NULL, count BIGINT NOT NULL,"
	 " sent BIGINT NOT NULL DEFAULT 0);"
	 "CREATE UNIQUE INDEX dmarc_rows_unsent ON dmarc_rows(day, header_from,"
	 " policy_domain, source_ip, envelope_from, disposition, override,"
	 " dmarc_dkim, dmarc_spf, dkim, spf_result, spf_domain, spf_scope)"
	 " WHERE sent = 0;"
	 "CREATE INDEX dmarc_rows_day ON dmarc_rows(day, policy_domain);"
	 "CREATE TABLE dmarc_policies(day BIGINT NOT NULL,"
	 " domain TEXT NOT NULL, p TEXT NOT NULL, sp TEXT NOT NULL,"
	 " pct BIGINT NOT NULL, adkim TEXT NOT NULL, aspf TEXT NOT NULL,"
	 " fo TEXT NOT NULL, rua TEXT NOT NULL, PRIMARY KEY(day, domain));"),
};

const size_t store_pgsql_n_migrations = ARRAY_SIZE(store_pgsql_migrations);

#define SEARCH_FROM " FROM messages m JOIN search_text t" \
	" ON t.blob_id = m.blob_id WHERE m.mailbox_id = ?1"

const struct store_search_sql store_pgsql_search_sql = {
	.insert = "INSERT INTO search_text(blob_id, hdr, body, addr)"
		" VALUES(?1, ?2, ?3, ?4) ON CONFLICT (blob_id) DO UPDATE"
		" SET hdr = excluded.hdr, body = excluded.body,"
		" addr = excluded.addr",
	.remove = "DELETE FROM search_text WHERE blob_id = ?1",
	.match = {
		[STORE_SEARCH_BODY] = "SELECT m.uid, '', t.body, ''"
			SEARCH_FROM " AND t.body LIKE ?2",
		[STORE_SEARCH_TEXT] = "SELECT m.uid, t.hdr, t.body, ''"
			SEARCH_FROM " AND (t.hdr LIKE ?2 OR t.body LIKE ?2)",
		[STORE_SEARCH_HEADER] = "SELECT m.uid, t.hdr, '', ''"
			SEARCH_FROM " AND t.hdr LIKE ?2",
		/* SEARCH FROM "Name" matches the header, "<a@b>" the
		 * address lines */
		[STORE_SEARCH_ADDRESS] = "SELECT m.uid, t.hdr, '', t.addr"
			SEARCH_FROM " AND (t.hdr LIKE ?2 OR t.addr LIKE ?2)",
	},
};

void store_pgsql_like(struct strbuf *out, struct str needle)
{
	strbuf_putc(out, '%');
	for (size_t i = 0; i < needle.n; i++) {
		char c = needle.p[i];

		if (c == '%' || c == '_' || c == '\\')
			strbuf_putc(out, '\\');
		strbuf_putc(out, c);
	}
	strbuf_putc(out, '%');
}
