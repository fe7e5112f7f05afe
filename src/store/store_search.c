/* store_search.c: the SEARCH index: the text of each blob (top header,
 * body, addresses) in the dialect's index (SQLite: an FTS5 trigram table
 * keyed by blob id), filled from the blobs by the writer when it is idle,
 * and the reader that answers over the index and the blobs still waiting
 * for it. */
#include "store/store_db_int.h"

#include "base/strbuf.h"
#include "base/utf8_fold.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/imap_envelope.h"
#include "mail/mime.h"
#include "mail/mime_text.h"

/* Blobs indexed per idle transaction: small, so a request arriving while
 * the writer indexes waits for at most one short batch. */
#define SEARCH_BATCH 8

/* The statements on the queue of blobs to index, the same in both
 * dialects. */
static const char sql_pending_insert[] =
	"INSERT INTO search_pending(blob_id) VALUES(?1) ON CONFLICT DO NOTHING";
static const char sql_pending_delete[] =
	"DELETE FROM search_pending WHERE blob_id = ?1";
static const char sql_pending_next[] =
	"SELECT blob_id FROM search_pending ORDER BY blob_id LIMIT ?1";
static const char sql_pending_count[] = "SELECT count(*) FROM search_pending";
static const char sql_blob_data[] = "SELECT data FROM blob_data WHERE id = ?1";
static const char sql_search_tail[] =
	"SELECT m.uid, m.blob_id FROM messages m"
	" JOIN search_pending p ON p.blob_id = m.blob_id WHERE m.mailbox_id = ?1";

struct search;

/* The index itself is the dialect's own: FTS5 trigram for SQLite. */
struct search_sql {
	const char *insert;	/* ?1 blob id, ?2 hdr, ?3 body, ?4 addr */
	const char *delete;	/* ?1 blob id */
	/* (uid) of mailbox ?1 whose text has the needle, query ?2 */
	const char *match;
	/* (uid, hdr, body, addr) candidates to check on their text, for
	 * HEADER and ADDRESS (hdr, addr) and for a long needle (hdr,
	 * body); '' for the columns not needed */
	const char *match_hdr, *match_text;
	const char *scan;	/* (uid, hdr, body, addr) of mailbox ?1 */
	/* The query ?2 of the match statements for needle (the whole
	 * needle or its first characters) searched as s asks. */
	void (*query)(const struct search *s, const char *needle,
		      struct strbuf *q);
};

static void fts5_query(const struct search *s, const char *needle,
		       struct strbuf *q);

static const struct search_sql search_sqlite = {
	.insert = "INSERT INTO search_fts(rowid, hdr, body, addr)"
		" VALUES(?1, ?2, ?3, ?4)",
	.delete = "DELETE FROM search_fts WHERE rowid = ?1",
	/* IN (subquery): one pass over the mailbox against the set of
	 * matching blobs, whatever the number of hits */
	.match = "SELECT uid FROM messages WHERE mailbox_id = ?1"
		" AND blob_id IN (SELECT rowid FROM search_fts"
		" WHERE search_fts MATCH ?2)",
	.match_hdr = "SELECT m.uid, f.hdr, '', f.addr FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ?1 AND m.blob_id IN (SELECT rowid"
		" FROM search_fts WHERE search_fts MATCH ?2)",
	.match_text = "SELECT m.uid, f.hdr, f.body, '' FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ?1 AND m.blob_id IN (SELECT rowid"
		" FROM search_fts WHERE search_fts MATCH ?2)",
	.scan = "SELECT m.uid, f.hdr, f.body, f.addr FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ?1",
	.query = fts5_query,
};

/* PostgreSQL's index (store_schema_pgsql.c) is the folded text with
 * trigram indexes: LIKE finds the candidates. */
static bool pgsql(struct store_conn *c)
{
	return db_kind(c->db) == DB_PGSQL;
}

static int exec_plain(struct store_conn *c, const char *sql,
		      const char **error_r)
{
	if (db_exec(c->db, sql) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	return 0;
}

/* ---- the text of a message, split into top header and body ---- */

/* The header block of msg: up to (without) the first empty line. */
static struct str header_block(struct str msg)
{
	size_t i = 0;

	while (i < msg.n) {
		const char *nl = memchr(msg.p + i, '\n', msg.n - i);
		size_t len;

		if (nl == NULL)
			break;
		len = (size_t)(nl - (msg.p + i));
		if (len == 0 || (len == 1 && msg.p[i] == '\r'))
			return str_make(msg.p, i);
		i += len + 1;
	}
	return msg;
}

static bool is_address_field(struct str name)
{
	return str_caseeq(name, STR_LIT("From")) ||
	       str_caseeq(name, STR_LIT("To")) ||
	       str_caseeq(name, STR_LIT("Cc")) ||
	       str_caseeq(name, STR_LIT("Bcc"));
}

/* The addresses of one field as "Name: address\n" lines into addr. */
static void address_text(struct str name, struct str value,
			 struct strbuf *lines, struct strbuf *addr)
{
	struct str rest, line;

	strbuf_reset(lines);
	imap_envelope_search_text(lines, value);
	rest = strbuf_str(lines);
	while (rest.n > 0) {
		bool more = str_split(rest, '\n', &line, &rest);

		if (line.n > 0) {
			charset_utf8_sanitize(addr, name);
			strbuf_append_c(addr, ": ");
			charset_utf8_sanitize(addr, line);
			strbuf_putc(addr, '\n');
		}
		if (!more)
			break;
	}
}

/* The top header's fields as mime_text_extract() writes them: one
 * "Name: value\n" line each, unfolded and RFC 2047 decoded; and when addr
 * is not NULL, the addresses of From, To, Cc and Bcc one per line as
 * "Name: <a@b>" or "Name: Display <a@b>" (SEARCH FROM matches both). */
struct address_out {
	struct strbuf *lines, *addr;
};

static void address_field(void *arg, struct str name, struct str value)
{
	struct address_out *o = arg;

	if (is_address_field(name))
		address_text(name, value, o->lines, o->addr);
}

static void top_header_text(struct str msg, struct strbuf *out,
			    struct strbuf *addr)
{
	struct strbuf lines = STRBUF_INIT;
	struct address_out o = { &lines, addr };

	mime_text_header(header_block(msg), out,
			 addr != NULL ? address_field : NULL, &o);
	strbuf_free(&lines);
}

/* The decoded text of message msg split into hdr (the top header's
 * lines) and body (the rest: the text bodies and the headers of embedded
 * messages), and the address lines into addr (may be NULL); *body_r
 * points into body. */
static void text_split(struct str msg, struct strbuf *hdr,
		       struct strbuf *body, struct strbuf *addr,
		       struct str *body_r)
{
	struct mime_tree *tree = mime_parse(msg.p, msg.n, NULL);
	struct str t;

	strbuf_reset(hdr);
	strbuf_reset(body);
	if (addr != NULL)
		strbuf_reset(addr);
	top_header_text(msg, hdr, addr);
	mime_text_extract(tree, msg.p, msg.n, body);
	mime_tree_free(&tree);
	t = strbuf_str(body);
	/* mime_text_extract() starts with the same lines; should the two
	 * ever disagree, all of it counts as body */
	if (hdr->n <= t.n && (hdr->n == 0 || memcmp(t.p, hdr->p, hdr->n) == 0))
		t = str_from(t, hdr->n);
	*body_r = t;
}

/* The blob's bytes (valid until st is reset): 1, 0 when the blob is
 * gone, -1 on error. */
static int blob_data(struct store_conn *c, struct db_stmt *st, int64_t blob_id,
		     struct str *msg_r, const char **error_r)
{
	int ret;

	db_bind_int(st, 1, blob_id);
	if ((ret = store_row(c, st, error_r)) == 1)
		*msg_r = db_col_blob(st, 0);
	return ret;
}

/* ---- writer side ---- */

int store_search_add(struct store_conn *c, int64_t blob_id,
		     const char **error_r)
{
	return store_run_id(c, sql_pending_insert, blob_id, error_r);
}

int store_search_remove(struct store_conn *c, int64_t blob_id,
			const char **error_r)
{
	if (store_run_id(c, sql_pending_delete, blob_id, error_r) < 0)
		return -1;
	return store_run_id(c, pgsql(c) ? store_pgsql_search_sql.remove :
			    search_sqlite.delete, blob_id, error_r);
}

/* PostgreSQL: the text folded as utf8_fold() folds a needle, so a LIKE
 * that respects case matches as i;unicode-casemap does. body is the
 * tail of *body_buf, which is freed once folded: only the folded copy
 * and libpq's goes with the statement. */
static int index_insert_folded(struct store_conn *c, int64_t blob_id,
			       struct str hdr, struct strbuf *body_buf,
			       struct str body, struct str addr,
			       const char **error_r)
{
	struct strbuf fh = STRBUF_INIT, fb = STRBUF_INIT, fa = STRBUF_INIT;
	struct db_stmt *st;
	int ret = -1;

	utf8_fold(&fh, hdr);
	utf8_fold(&fb, body);
	strbuf_free(body_buf);
	utf8_fold(&fa, addr);
	if ((st = store_stmt(c, store_pgsql_search_sql.insert,
			     error_r)) != NULL) {
		db_bind_int(st, 1, blob_id);
		db_bind_text(st, 2, strbuf_str(&fh));
		db_bind_text(st, 3, strbuf_str(&fb));
		db_bind_text(st, 4, strbuf_str(&fa));
		ret = store_run(c, st, error_r);
	}
	strbuf_free(&fh);
	strbuf_free(&fb);
	strbuf_free(&fa);
	return ret;
}

static int index_one(struct store_conn *c, int64_t blob_id,
		     struct strbuf *hdr, struct strbuf *body,
		     struct strbuf *addr, const char **error_r)
{
	struct db_stmt *bs, *st;
	struct str msg, b;
	int ret;

	if ((bs = store_stmt(c, sql_blob_data, error_r)) == NULL)
		return -1;
	if ((ret = blob_data(c, bs, blob_id, &msg, error_r)) < 0)
		return -1;
	if (ret == 1) {
		text_split(msg, hdr, body, addr, &b);
		db_reset(bs);
		if (pgsql(c))
			ret = index_insert_folded(c, blob_id, strbuf_str(hdr),
						  body, b, strbuf_str(addr),
						  error_r);
		else if ((st = store_stmt(c, search_sqlite.insert,
					  error_r)) == NULL) {
			ret = -1;
		} else {
			/* FTS5's trigram tokenizer folds case itself */
			db_bind_int(st, 1, blob_id);
			db_bind_text(st, 2, strbuf_str(hdr));
			db_bind_text(st, 3, b);
			db_bind_text(st, 4, strbuf_str(addr));
			ret = store_run(c, st, error_r);
		}
		if (ret < 0)
			return -1;
	}
	return store_run_id(c, sql_pending_delete, blob_id, error_r);
}

/* One transaction indexing up to SEARCH_BATCH queued blobs: 1 = more are
 * queued, 0 = the queue is empty, -1 = error. */
static int index_batch(struct store_conn *c, struct strbuf *hdr,
		       struct strbuf *body, struct strbuf *addr,
		       const char **error_r)
{
	int64_t batch[SEARCH_BATCH];
	struct db_stmt *st;
	size_t n = 0;
	int ret = 0;

	if (db_begin(c->db) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	/* The index can always be rebuilt from the blobs, so its commits
	 * skip the wait for the disk: a crash only loses the last index
	 * batches (their blobs are queued again with them), and the next
	 * delivery's durable commit makes them durable anyway. PostgreSQL
	 * says so for this transaction; SQLite's pragma is set around it
	 * (store_search_idle). */
	if (db_kind(c->db) == DB_PGSQL && c->fsync &&
	    exec_plain(c, "SET LOCAL synchronous_commit = off", error_r) < 0)
		goto fail;
	if ((st = store_stmt(c, sql_pending_next, error_r)) == NULL)
		goto fail;
	db_bind_int(st, 1, SEARCH_BATCH);
	while (n < SEARCH_BATCH && (ret = store_row(c, st, error_r)) == 1)
		batch[n++] = db_col_int(st, 0);
	if (n == SEARCH_BATCH)
		db_reset(st);
	else if (ret < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (index_one(c, batch[i], hdr, body, addr, error_r) < 0)
			goto fail;
	}
	if (db_commit(c->db) < 0) {
		*error_r = store_db_error(c);
		goto fail;
	}
	return n == SEARCH_BATCH ? 1 : 0;
fail:
	db_rollback(c->db);
	return -1;
}

int store_search_idle(struct store_conn *c, const char **error_r)
{
	struct strbuf hdr = STRBUF_INIT, body = STRBUF_INIT, addr = STRBUF_INIT;
	bool pragma = db_kind(c->db) == DB_SQLITE && c->fsync;
	int ret;

	/* In WAL mode NORMAL stays consistent; see index_batch(). */
	if (pragma && exec_plain(c, "PRAGMA synchronous = NORMAL", error_r) < 0)
		return -1;
	ret = index_batch(c, &hdr, &body, &addr, error_r);
	/* setting a pragma does no I/O; should it fail all the same, the
	 * deliveries must not go on without their fsync */
	if (pragma && db_exec(c->db, "PRAGMA synchronous = FULL") < 0)
		PANIC("store: cannot restore PRAGMA synchronous = FULL: %s",
		      db_error(c->db));
	strbuf_free(&hdr);
	strbuf_free(&body);
	strbuf_free(&addr);
	return ret;
}


/* ---- readers ---- */

struct uid_vec {
	uint32_t *v;
	size_t n, cap;
};

static void uid_push(struct uid_vec *u, uint32_t uid)
{
	if (u->n == u->cap) {
		u->cap = u->cap == 0 ? 64 : u->cap * 2;
		u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n++] = uid;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct search {
	enum store_search_field field;
	struct str header;
	struct str needle;	/* folded */
};

/* Does the "Name: value\n" text hdr have a field s->header whose value
 * contains the needle? */
static bool header_matches(const struct search *s, struct str hdr)
{
	struct str rest = hdr, line;

	while (rest.n > 0) {
		bool more = str_split(rest, '\n', &line, &rest);
		ptrdiff_t colon = str_chr(line, ':');

		if (colon >= 0 &&
		    str_caseeq(str_make(line.p, (size_t)colon), s->header)) {
			struct str value = str_from(line, (size_t)colon + 1);

			if (value.n > 0 && value.p[0] == ' ')
				value = str_from(value, 1);
			if (utf8_fold_contains(value, s->needle))
				return true;
		}
		if (!more)
			break;
	}
	return false;
}

static bool text_matches(const struct search *s, struct str hdr,
			 struct str body, struct str addr)
{
	switch (s->field) {
	case STORE_SEARCH_ADDRESS:
		return header_matches(s, hdr) || header_matches(s, addr);
	case STORE_SEARCH_BODY:
		return utf8_fold_contains(body, s->needle);
	case STORE_SEARCH_TEXT:
		return utf8_fold_contains(hdr, s->needle) ||
			utf8_fold_contains(body, s->needle);
	case STORE_SEARCH_HEADER:
		return header_matches(s, hdr);
	}
	return false;
}

/* The FTS5 query: the needle as one quoted phrase (its '"' doubled),
 * restricted to the column the field searches. */
static void fts5_query(const struct search *s, const char *needle,
			struct strbuf *q)
{
	if (s->field == STORE_SEARCH_BODY)
		strbuf_append_c(q, "body : ");
	else if (s->field == STORE_SEARCH_HEADER)
		strbuf_append_c(q, "hdr : ");
	else if (s->field == STORE_SEARCH_ADDRESS)
		strbuf_append_c(q, "{hdr addr} : ");
	else
		strbuf_append_c(q, "{hdr body} : ");
	strbuf_putc(q, '"');
	for (const char *p = needle; *p != '\0'; p++) {
		if (*p == '"')
			strbuf_putc(q, '"');
		strbuf_putc(q, *p);
	}
	strbuf_putc(q, '"');
}

/* A needle of more characters is looked up in the index by its first
 * ones, and the candidates are checked on their text: FTS5 matches a
 * trigram phrase at the cost of its length times every position of its
 * trigrams in every message (a kilobyte needle over a few hundred
 * repetitive messages took seconds, on the I/O thread), the check costs
 * one pass over each candidate. */
#define SEARCH_PHRASE_MAX 32

/* The bytes of the first n characters of s (continuation bytes follow
 * their lead byte). */
static size_t utf8_prefix(struct str s, size_t n)
{
	size_t pos = 0;

	for (size_t i = 0; i < n && pos < s.n; i++) {
		pos++;
		while (pos < s.n && ((unsigned char)s.p[pos] & 0xc0) == 0x80)
			pos++;
	}
	return pos;
}

/* Messages in the index. Trigram MATCH finds a phrase of 3 or more
 * characters exactly (the tokenizer folds case); shorter needles, long
 * ones and header fields are checked on the indexed text. */
static int search_indexed(struct store_conn *c, int64_t mailbox_id,
			  const struct search *s, const char *needle,
			  struct uid_vec *u, const char **error_r)
{
	struct strbuf q = STRBUF_INIT;
	struct str whole = str_c(needle);
	const struct search_sql *sql = &search_sqlite;
	struct db_stmt *st;
	size_t chars = utf8_length(whole);
	bool match = chars >= 3, verify = chars > SEARCH_PHRASE_MAX;
	bool field = s->field == STORE_SEARCH_HEADER ||
		     s->field == STORE_SEARCH_ADDRESS;
	int ret;

	st = store_stmt(c, !match ? sql->scan : field ? sql->match_hdr :
			verify ? sql->match_text : sql->match, error_r);
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	if (match) {
		char *phrase = xstrndup(needle, verify ?
					utf8_prefix(whole, SEARCH_PHRASE_MAX) :
					whole.n);

		sql->query(s, phrase, &q);
		free(phrase);
		db_bind_text(st, 2, strbuf_str(&q));
	}
	while ((ret = store_row(c, st, error_r)) == 1) {
		uint32_t uid = (uint32_t)db_col_int(st, 0);

		/* A phrase MATCH of the whole needle is exact for BODY and
		 * TEXT; a field must still be the field asked for. */
		if ((match && !verify && !field) ||
		    text_matches(s, db_col_text(st, 1), db_col_text(st, 2),
				 db_col_text(st, 3)))
			uid_push(u, uid);
	}
	strbuf_free(&q);
	return ret;
}

/* The same on PostgreSQL: LIKE over the folded text finds the messages
 * (a needle of any length: the trigrams only speed it up), exactly for
 * BODY and TEXT unless the needle is long; the rest is checked. */
static int search_indexed_pgsql(struct store_conn *c, int64_t mailbox_id,
				const struct search *s, struct uid_vec *u,
				const char **error_r)
{
	struct strbuf q = STRBUF_INIT;
	struct str n = s->needle;
	bool verify = utf8_length(n) > SEARCH_PHRASE_MAX;
	bool field = s->field == STORE_SEARCH_HEADER ||
		     s->field == STORE_SEARCH_ADDRESS;
	struct db_stmt *st;
	int ret;

	if ((st = store_stmt(c, store_pgsql_search_sql.match[s->field],
			     error_r)) == NULL)
		return -1;
	if (verify)
		n = str_make(n.p, utf8_prefix(n, SEARCH_PHRASE_MAX));
	store_pgsql_like(&q, n);
	db_bind_int(st, 1, mailbox_id);
	db_bind_text(st, 2, strbuf_str(&q));
	while ((ret = store_row(c, st, error_r)) == 1) {
		if ((!verify && !field) ||
		    text_matches(s, db_col_text(st, 1), db_col_text(st, 2),
				 db_col_text(st, 3)))
			uid_push(u, (uint32_t)db_col_int(st, 0));
	}
	strbuf_free(&q);
	return ret;
}

/* Messages whose blob is still queued for the index: decoded from the
 * blob. */
static int search_tail(struct store_conn *c, int64_t mailbox_id,
		       const struct search *s, struct uid_vec *u,
		       const char **error_r)
{
	struct strbuf hdr = STRBUF_INIT, body = STRBUF_INIT, addr = STRBUF_INIT;
	struct db_stmt *st, *bs;
	int ret;

	if ((st = store_stmt(c, sql_search_tail, error_r)) == NULL ||
	    (bs = store_stmt(c, sql_blob_data, error_r)) == NULL)
		return -1;
	db_bind_int(st, 1, mailbox_id);
	while ((ret = store_row(c, st, error_r)) == 1) {
		uint32_t uid = (uint32_t)db_col_int(st, 0);
		struct str msg, b;

		if ((ret = blob_data(c, bs, db_col_int(st, 1), &msg,
				     error_r)) < 0) {
			db_reset(st);
			break;
		}
		if (ret == 0)
			continue;
		strbuf_reset(&addr);
		if (s->field == STORE_SEARCH_HEADER ||
		    s->field == STORE_SEARCH_ADDRESS) {
			/* the top header is all it needs: no MIME parse */
			strbuf_reset(&hdr);
			top_header_text(msg, &hdr,
					s->field == STORE_SEARCH_ADDRESS ?
					&addr : NULL);
			b = STR_NULL;
		} else {
			text_split(msg, &hdr, &body, NULL, &b);
		}
		if (text_matches(s, strbuf_str(&hdr), b, strbuf_str(&addr)))
			uid_push(u, uid);
		db_reset(bs);
	}
	strbuf_free(&hdr);
	strbuf_free(&body);
	strbuf_free(&addr);
	return ret;
}

int store_read_search_text(struct store_conn *c, struct arena *a,
			     int64_t mailbox_id, enum store_search_field field,
			     const char *header, const char *needle,
			     uint32_t **uids_r, const char **error_r)
{
	struct strbuf folded = STRBUF_INIT;
	struct uid_vec u = { 0 };
	struct search s = {
		.field = field,
		.header = str_c(header != NULL ? header : ""),
	};
	int ret;

	if (needle == NULL)
		needle = "";
	utf8_fold(&folded, str_c(needle));
	s.needle = strbuf_str(&folded);
	/* one snapshot: a blob the writer indexes meanwhile is seen once */
	if (db_begin_read(c->db) < 0) {
		*error_r = store_db_error(c);
		strbuf_free(&folded);
		return -1;
	}
	ret = pgsql(c) ? search_indexed_pgsql(c, mailbox_id, &s, &u, error_r) :
		search_indexed(c, mailbox_id, &s, needle, &u, error_r);
	if (ret == 0)
		ret = search_tail(c, mailbox_id, &s, &u, error_r);
	/* a read: nothing to commit */
	db_rollback(c->db);
	strbuf_free(&folded);
	if (ret < 0) {
		free(u.v);
		return -1;
	}
	if (u.n > 1)
		qsort(u.v, u.n, sizeof(*u.v), uid_cmp);
	*uids_r = arena_alloc(a, MAX(u.n, 1) * sizeof(**uids_r));
	if (u.n > 0)
		memcpy(*uids_r, u.v, u.n * sizeof(*u.v));
	free(u.v);
	return (int)u.n;
}

int store_read_search_pending(struct store_conn *c, const char **error_r)
{
	struct db_stmt *st = store_stmt(c, sql_pending_count, error_r);
	int ret;

	if (st == NULL || store_row(c, st, error_r) != 1)
		return -1;
	ret = (int)db_col_int(st, 0);
	db_reset(st);
	return ret;
}
