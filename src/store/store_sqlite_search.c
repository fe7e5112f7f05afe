/* store_sqlite_search.c: the SEARCH index of the SQLite driver: an FTS5
 * trigram table keyed by blob id, filled from the blobs by the writer when
 * it is idle, and the reader that answers over the index and the blobs
 * still waiting for it. */
#include "store/store_sqlite_int.h"

#include "base/strbuf.h"
#include "base/utf8_fold.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/imap_envelope.h"
#include "mail/mime.h"
#include "mail/mime_text.h"
#include "mail/rfc2047.h"

/* Blobs indexed per idle transaction: small, so a request arriving while
 * the writer indexes waits for at most one short batch. */
#define SEARCH_BATCH 8

static const char *const xsql[XS_COUNT] = {
	[XS_PENDING_INSERT] = "INSERT OR IGNORE INTO search_pending(blob_id)"
		" VALUES(?)",
	[XS_PENDING_DELETE] = "DELETE FROM search_pending WHERE blob_id = ?",
	[XS_PENDING_NEXT] = "SELECT blob_id FROM search_pending"
		" ORDER BY blob_id LIMIT ?",
	[XS_PENDING_COUNT] = "SELECT count(*) FROM search_pending",
	[XS_FTS_INSERT] = "INSERT INTO search_fts(rowid, hdr, body, addr)"
		" VALUES(?, ?, ?, ?)",
	[XS_FTS_DELETE] = "DELETE FROM search_fts WHERE rowid = ?",
	[XS_BLOB_DATA] = "SELECT data FROM blob_data WHERE id = ?",
	/* IN (subquery): one pass over the mailbox against the set of
	 * matching blobs, whatever the number of hits */
	[XS_SEARCH_MATCH] = "SELECT uid FROM messages WHERE mailbox_id = ?"
		" AND blob_id IN (SELECT rowid FROM search_fts"
		" WHERE search_fts MATCH ?)",
	/* the statements that check the text give (uid, hdr, body, addr),
	 * '' for what the field does not look at */
	[XS_SEARCH_MATCH_HDR] = "SELECT m.uid, f.hdr, '', f.addr FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ? AND m.blob_id IN (SELECT rowid"
		" FROM search_fts WHERE search_fts MATCH ?)",
	[XS_SEARCH_MATCH_TEXT] = "SELECT m.uid, f.hdr, f.body, '' FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ? AND m.blob_id IN (SELECT rowid"
		" FROM search_fts WHERE search_fts MATCH ?)",
	[XS_SEARCH_SCAN] = "SELECT m.uid, f.hdr, f.body, f.addr FROM messages m"
		" JOIN search_fts f ON f.rowid = m.blob_id"
		" WHERE m.mailbox_id = ?",
	[XS_SEARCH_TAIL] = "SELECT m.uid, m.blob_id FROM messages m"
		" JOIN search_pending p ON p.blob_id = m.blob_id"
		" WHERE m.mailbox_id = ?",
};

static sqlite3_stmt *xs(struct store_conn *c, enum store_sqlite_xstmt id,
			const char **error_r)
{
	return store_sqlite_xstmt(c, id, xsql[id], error_r);
}

static int exec_plain(struct store_conn *c, const char *sql,
		      const char **error_r)
{
	if (sqlite3_exec(store_sqlite_db(c), sql, NULL, NULL, NULL) !=
	    SQLITE_OK) {
		*error_r = store_sqlite_error(c, sql);
		return -1;
	}
	return 0;
}

static struct str col_view(sqlite3_stmt *st, int i)
{
	const unsigned char *p = sqlite3_column_text(st, i);

	return str_make(p != NULL ? (const char *)p : "",
			(size_t)sqlite3_column_bytes(st, i));
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
static void top_header_text(struct str msg, struct strbuf *out,
			    struct strbuf *addr)
{
	struct str block = header_block(msg);
	struct strbuf tmp = STRBUF_INIT, lines = STRBUF_INIT;
	struct header_field f;
	size_t pos = 0;

	while (header_next(block, &pos, &f)) {
		charset_utf8_sanitize(out, f.name);
		strbuf_append_c(out, ": ");
		strbuf_reset(&tmp);
		header_unfold(&tmp, f.value);
		rfc2047_decode(out, strbuf_str(&tmp));
		strbuf_putc(out, '\n');
		if (addr != NULL && is_address_field(f.name))
			address_text(f.name, strbuf_str(&tmp), &lines, addr);
	}
	strbuf_free(&tmp);
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

/* The blob's bytes (sqlite memory valid until st is reset): 1, 0 when the
 * blob is gone, -1 on error. */
static int blob_data(struct store_conn *c, sqlite3_stmt *st, int64_t blob_id,
		     struct str *msg_r, const char **error_r)
{
	int ret;

	sqlite3_bind_int64(st, 1, blob_id);
	if ((ret = store_sqlite_row(c, st, "store search", error_r)) == 1) {
		const void *p = sqlite3_column_blob(st, 0);

		*msg_r = str_make(p != NULL ? p : "",
				  (size_t)sqlite3_column_bytes(st, 0));
	}
	return ret;
}

/* ---- writer side ---- */

int store_sqlite_search_add(struct store_conn *c, int64_t blob_id,
			    const char **error_r)
{
	sqlite3_stmt *st = xs(c, XS_PENDING_INSERT, error_r);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	return store_sqlite_exec(c, st, "store search", error_r);
}

int store_sqlite_search_remove(struct store_conn *c, int64_t blob_id,
			       const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = xs(c, XS_PENDING_DELETE, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	if (store_sqlite_exec(c, st, "store search", error_r) < 0 ||
	    (st = xs(c, XS_FTS_DELETE, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	return store_sqlite_exec(c, st, "store search", error_r);
}

static int index_one(struct store_conn *c, int64_t blob_id,
		     struct strbuf *hdr, struct strbuf *body,
		     struct strbuf *addr, const char **error_r)
{
	sqlite3_stmt *bs, *st;
	struct str msg, b;
	int ret;

	if ((bs = xs(c, XS_BLOB_DATA, error_r)) == NULL)
		return -1;
	if ((ret = blob_data(c, bs, blob_id, &msg, error_r)) < 0)
		return -1;
	if (ret == 1) {
		text_split(msg, hdr, body, addr, &b);
		store_sqlite_done(bs);
		if ((st = xs(c, XS_FTS_INSERT, error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, blob_id);
		sqlite3_bind_text(st, 2, hdr->n > 0 ? hdr->p : "",
				  (int)hdr->n, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, b.n > 0 ? b.p : "", (int)b.n,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 4, addr->n > 0 ? addr->p : "",
				  (int)addr->n, SQLITE_STATIC);
		if (store_sqlite_exec(c, st, "store search", error_r) < 0)
			return -1;
	}
	if ((st = xs(c, XS_PENDING_DELETE, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, blob_id);
	return store_sqlite_exec(c, st, "store search", error_r);
}

/* One transaction indexing up to SEARCH_BATCH queued blobs: 1 = more are
 * queued, 0 = the queue is empty, -1 = error. */
static int index_batch(struct store_conn *c, struct strbuf *hdr,
		       struct strbuf *body, struct strbuf *addr,
		       const char **error_r)
{
	int64_t batch[SEARCH_BATCH];
	sqlite3_stmt *st;
	size_t n = 0;
	int ret = 0;

	if (exec_plain(c, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if ((st = xs(c, XS_PENDING_NEXT, error_r)) == NULL)
		goto fail;
	sqlite3_bind_int(st, 1, SEARCH_BATCH);
	while (n < SEARCH_BATCH && (ret = store_sqlite_row(c, st, "store search", error_r)) == 1) {
		batch[n++] = sqlite3_column_int64(st, 0);
	}
	if (n == SEARCH_BATCH)
		store_sqlite_done(st);
	else if (ret < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (index_one(c, batch[i], hdr, body, addr, error_r) < 0)
			goto fail;
	}
	if (exec_plain(c, "COMMIT", error_r) < 0)
		goto fail;
	return n == SEARCH_BATCH ? 1 : 0;
fail:
	sqlite3_exec(store_sqlite_db(c), "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* PRAGMA synchronous of the connection: 2 = FULL (fsync on), -1 error. */
static int synchronous_mode(struct store_conn *c, const char **error_r)
{
	sqlite3_stmt *st;
	int mode = -1;

	if (sqlite3_prepare_v2(store_sqlite_db(c), "PRAGMA synchronous", -1,
			       &st, NULL) != SQLITE_OK) {
		*error_r = store_sqlite_error(c, "PRAGMA synchronous");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		mode = sqlite3_column_int(st, 0);
	else
		*error_r = store_sqlite_error(c, "PRAGMA synchronous");
	sqlite3_finalize(st);
	return mode;
}

int store_sqlite_search_idle(struct store_conn *c, const char **error_r)
{
	struct strbuf hdr = STRBUF_INIT, body = STRBUF_INIT, addr = STRBUF_INIT;
	int ret, sync;

	/* The index can always be rebuilt from the blobs, so its commits
	 * skip the fsync: in WAL mode NORMAL stays consistent, a crash only
	 * loses the last index batches (their blobs are queued again with
	 * them), and the next delivery's fsync makes them durable anyway. */
	if ((sync = synchronous_mode(c, error_r)) < 0 ||
	    (sync == 2 && exec_plain(c, "PRAGMA synchronous = NORMAL",
				     error_r) < 0))
		return -1;
	ret = index_batch(c, &hdr, &body, &addr, error_r);
	/* setting a pragma does no I/O; should it fail all the same, the
	 * deliveries must not go on without their fsync */
	if (sync == 2 && sqlite3_exec(store_sqlite_db(c),
				      "PRAGMA synchronous = FULL", NULL, NULL,
				      NULL) != SQLITE_OK)
		PANIC("store: cannot restore PRAGMA synchronous = FULL: %s",
		      sqlite3_errmsg(store_sqlite_db(c)));
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
static void match_query(const struct search *s, const char *needle,
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
	sqlite3_stmt *st;
	size_t chars = utf8_length(whole);
	bool match = chars >= 3, verify = chars > SEARCH_PHRASE_MAX;
	bool field = s->field == STORE_SEARCH_HEADER ||
		     s->field == STORE_SEARCH_ADDRESS;
	int ret;

	if (!match)
		st = xs(c, XS_SEARCH_SCAN, error_r);
	else if (field)
		st = xs(c, XS_SEARCH_MATCH_HDR, error_r);
	else if (verify)
		st = xs(c, XS_SEARCH_MATCH_TEXT, error_r);
	else
		st = xs(c, XS_SEARCH_MATCH, error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	if (match) {
		char *phrase = xstrndup(needle, verify ?
					utf8_prefix(whole, SEARCH_PHRASE_MAX) :
					whole.n);

		match_query(s, phrase, &q);
		free(phrase);
		sqlite3_bind_text(st, 2, q.p, (int)q.n, SQLITE_STATIC);
	}
	while ((ret = store_sqlite_row(c, st, "store search", error_r)) == 1) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);

		/* A phrase MATCH of the whole needle is exact for BODY and
		 * TEXT; a field must still be the field asked for. */
		if ((match && !verify && !field) ||
		    text_matches(s, col_view(st, 1), col_view(st, 2),
				 col_view(st, 3)))
			uid_push(u, uid);
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
	sqlite3_stmt *st, *bs;
	int ret;

	if ((st = xs(c, XS_SEARCH_TAIL, error_r)) == NULL ||
	    (bs = xs(c, XS_BLOB_DATA, error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	while ((ret = store_sqlite_row(c, st, "store search", error_r)) == 1) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
		struct str msg, b;

		if ((ret = blob_data(c, bs, sqlite3_column_int64(st, 1), &msg,
				     error_r)) < 0) {
			store_sqlite_done(st);
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
		store_sqlite_done(bs);
	}
	strbuf_free(&hdr);
	strbuf_free(&body);
	strbuf_free(&addr);
	return ret;
}

int store_sqlite_search_text(struct store_conn *c, struct arena *a,
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
	if (exec_plain(c, "BEGIN", error_r) < 0) {
		strbuf_free(&folded);
		return -1;
	}
	ret = search_indexed(c, mailbox_id, &s, needle, &u, error_r);
	if (ret == 0)
		ret = search_tail(c, mailbox_id, &s, &u, error_r);
	if (ret == 0 && exec_plain(c, "COMMIT", error_r) < 0)
		ret = -1;
	if (ret < 0)
		sqlite3_exec(store_sqlite_db(c), "ROLLBACK", NULL, NULL, NULL);
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

int store_sqlite_search_pending(struct store_conn *c, const char **error_r)
{
	sqlite3_stmt *st = xs(c, XS_PENDING_COUNT, error_r);
	int ret;

	if (st == NULL || store_sqlite_row(c, st, "store search", error_r) != 1)
		return -1;
	ret = sqlite3_column_int(st, 0);
	store_sqlite_done(st);
	return ret;
}
