/* store_schema_sqlite.c: the store's schema on SQLite, as the migrations
 * that brought every database here; store_schema_pgsql.c has the same
 * tables and columns for PostgreSQL. */
#include "store/store_schema.h"

/* Ordered migrations; migration i brings user_version from i to i + 1.
 * Each runs in its own transaction. Never edit one that has shipped: add
 * a new one. */
const char *const store_sqlite_migrations[] = {
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
	/* 2: the SEARCH index (store_search.c): blobs waiting to be
	 * indexed, and the trigram index of the top header and the body
	 * text keyed by blob id */
	"CREATE TABLE search_pending(blob_id INTEGER PRIMARY KEY);"
	"CREATE VIRTUAL TABLE search_fts USING fts5(hdr, body,"
	" tokenize = 'trigram case_sensitive 0');"
	"INSERT INTO search_pending(blob_id)"
	" SELECT DISTINCT blob_id FROM messages;",
	/* 3: outbound delivery state per recipient (queue/queue_store.c),
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
	 * in one form (store_search.c); FTS5 tables take no new
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
	/* 13: the node that claimed a queue entry and until when
	 * (store_nodes.h); one node never sets them, but the columns are
	 * the same on both drivers */
	("ALTER TABLE queue ADD COLUMN claim_node INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE queue ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0;"),
	/* 14: DMARC aggregate-report data (RFC 7489 7.2,
	 * delivery/dmarc_store.c): one counted row per day and evaluation
	 * outcome, unique among the rows not yet reported (sent = 0; a
	 * report run marks its rows with its run number), and the
	 * published policy of each domain per day */
	("CREATE TABLE dmarc_rows(id INTEGER PRIMARY KEY,"
	 " day INTEGER NOT NULL, header_from TEXT NOT NULL,"
	 " policy_domain TEXT NOT NULL, source_ip TEXT NOT NULL,"
	 " envelope_from TEXT NOT NULL, disposition TEXT NOT NULL,"
	 " override TEXT NOT NULL, dmarc_dkim TEXT NOT NULL,"
	 " dmarc_spf TEXT NOT NULL, dkim TEXT NOT NULL,"
	 " spf_result TEXT NOT NULL, spf_domain TEXT NOT NULL,"
	 " spf_scope TEXT NOT NULL, count INTEGER NOT NULL,"
	 " sent INTEGER NOT NULL DEFAULT 0);"
	 "CREATE UNIQUE INDEX dmarc_rows_unsent ON dmarc_rows(day, header_from,"
	 " policy_domain, source_ip, envelope_from, disposition, override,"
	 " dmarc_dkim, dmarc_spf, dkim, spf_result, spf_domain, spf_scope)"
	 " WHERE sent = 0;"
	 "CREATE INDEX dmarc_rows_day ON dmarc_rows(day, policy_domain);"
	 "CREATE TABLE dmarc_policies(day INTEGER NOT NULL,"
	 " domain TEXT NOT NULL, p TEXT NOT NULL, sp TEXT NOT NULL,"
	 " pct INTEGER NOT NULL, adkim TEXT NOT NULL, aspf TEXT NOT NULL,"
	 " fo TEXT NOT NULL, rua TEXT NOT NULL,"
	 " PRIMARY KEY(day, domain)) WITHOUT ROWID;"),
};

const size_t store_sqlite_n_migrations = ARRAY_SIZE(store_sqlite_migrations);
