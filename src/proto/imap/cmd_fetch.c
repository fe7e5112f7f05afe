/* cmd_fetch.c: FETCH and UID FETCH through imap_fetch: the store reader
 * loads metadata or message bytes only when the plan needs them, \Seen is
 * set by a store request before the data goes out, and the output is
 * rendered one message at a time, pausing while the client is slow (the
 * rest follows from on_drained), so a large FETCH never sits in memory. */
#include "base/log.h"
#include "proto/imap/imap_fetch.h"
#include "proto/imap/imap_commands.h"

#include <string.h>

struct fetch_state {
	const struct imap_fetch_plan *plan;
	size_t *idx;
	size_t n, pos;
	bool uid;
	bool with_modseq;
	/* Messages this FETCH set \Seen on (by view index, NULL if none):
	 * their response carries FLAGS even when not asked (RFC 3501
	 * 6.4.5), no separate FETCH. */
	bool *seen;
	size_t n_view;
	struct imap_seqset seen_uids;
	/* Metadata read ahead for a run of messages (see fetch_meta). */
	uint32_t *meta_uids;
	struct store_msg_meta *metas;
	size_t n_metas, meta_pos;
	/* The slice being read (fetch_read): its output bound, the
	 * session's state it reads, its outcome. */
	const struct imap_view *view;
	struct arena *msg_arena, *meta_arena;
	bool condstore;
	size_t budget;
	int ret;
	/* A large body literal of the message at pos being sent from the
	 * blob by slices as the client reads (imap_fetch_stream); m and
	 * meta (in msg_arena, kept meanwhile) render the rest after it. */
	bool streaming;
	struct imap_fetch_stream stream;
	struct imap_fetch_msg m;
	struct store_msg_meta meta;
};

/* A FETCH of metadata (FLAGS ENVELOPE BODYSTRUCTURE of a whole mailbox,
 * the usual client sync, or with a header as bench/imap_login asks) reads
 * it for up to this many messages with one statement: per-message reads
 * cost more than the rendering (a tenth of an I/O thread's time under
 * bench/imap_login when each message read its own). Only for dense runs
 * of UIDs, so no row is read in vain. */
#define FETCH_META_RUN 256

/* The metadata of the message at st->pos (UID uid) into *meta_r, from a
 * read-ahead run when the plan allows. 1 found, 0 expunged, -1 error. */
static int fetch_meta(struct fetch_state *st, struct store_reader *r,
		      uint32_t uid, struct store_msg_meta *meta_r,
		      const char **error_r)
{
	const struct imap_view *v = st->view;
	size_t last = MIN(st->pos + FETCH_META_RUN, st->n) - 1;
	uint32_t hi = v->msgs[st->idx[last]].uid;
	int n;

	if (hi < uid || hi - uid > 2 * (last - st->pos)) {
		arena_clear(st->msg_arena);
		return store_msg_meta(r, st->msg_arena, v->mailbox_id, uid,
				      meta_r, error_r);
	}
	if (st->meta_pos >= st->n_metas ||
	    st->meta_uids[st->n_metas - 1] < uid) {
		/* Not in msg_arena, which each message with bytes clears. */
		arena_clear(st->meta_arena);
		n = store_msg_meta_range(r, st->meta_arena, v->mailbox_id, uid,
					 hi, FETCH_META_RUN, &st->meta_uids,
					 &st->metas, error_r);
		if (n < 0)
			return -1;
		st->n_metas = (size_t)n;
		st->meta_pos = 0;
	}
	while (st->meta_pos < st->n_metas && st->meta_uids[st->meta_pos] < uid)
		st->meta_pos++;
	if (st->meta_pos >= st->n_metas || st->meta_uids[st->meta_pos] != uid)
		return 0;
	*meta_r = st->metas[st->meta_pos++];
	return 1;
}

/* Append the streamed literal's bytes from the blob to out, a step at a
 * time, until out holds st->budget bytes: 1 all sent, 0 more to come, -1
 * the blob could not be read (*error_r): the literal is announced, so the
 * connection cannot go on. */
static int fetch_stream_fill(struct fetch_state *st, struct store_reader *r,
			     struct strbuf *out, const char **error_r)
{
	struct imap_fetch_stream *fs = &st->stream;

	while (fs->start < fs->end) {
		size_t want = (size_t)MIN(fs->end - fs->start,
					  IMAP_FETCH_STREAM_STEP), got = 0;
		char *buf;

		if (out->n >= st->budget)
			return 0;
		strbuf_grow(out, want);
		buf = out->p + out->n;
		/* a blob gone meanwhile (expunged by another session,
		 * between two snapshots) reads short */
		if (store_blob_read(r, st->m.blob_id, fs->start, buf, want,
				    &got, NULL, error_r) <= 0 || got != want) {
			if (got != want)
				*error_r = "message bytes shorter than recorded";
			return -1;
		}
		if (fs->nul_as_0x80) {
			for (char *p = memchr(buf, '\0', got); p != NULL;
			     p = memchr(p, '\0', got - (size_t)(p - buf)))
				*p = (char)0x80;
		}
		out->n += got;
		out->p[out->n] = '\0';
		fs->start += got;
	}
	return 1;
}

/* Render from st->pos on into out until it holds st->budget bytes (at
 * least one message). Runs where r is: on a read pool thread it reads
 * only the command's state and the view (nobody changes it while the
 * command is busy). 1 done, 0 more to come, -1 store error, -2 a part's
 * transfer encoding is unknown, -3 a streamed literal's bytes could not be
 * read (*error_r each time). */
static int fetch_slice(struct fetch_state *st, struct store_reader *r,
		       struct strbuf *out, const char **error_r)
{
	const struct imap_view *v = st->view;
	const char *error = "store unavailable";
	size_t start;
	int ret = 1;

	/* One snapshot per slice of output: per-message reads on their own
	 * each pay for locking and a WAL snapshot (most of their cost). */
	if (store_reader_begin(r, error_r) < 0)
		return -1;
	for (; st->pos < st->n; st->pos++) {
		size_t i = st->idx[st->pos], from = 0;
		struct store_msg_meta meta;
		struct imap_fetch_msg m = {
			.seq = (uint32_t)i + 1,
			.msg = &v->msgs[i],
			.recent = v->recent[i],
		};

		if (out->n >= st->budget) {
			ret = 0;
			break;
		}
		if (st->streaming) {
			/* the slice may run on another reader than the last */
			st->m.reader = r;
			if ((ret = fetch_stream_fill(st, r, out, &error)) <= 0) {
				if (ret == 0)
					break;
				ret = -3;
				goto fail;
			}
			st->streaming = false;
			m = st->m;
			m.msg = &v->msgs[i];
			from = st->stream.next;
			goto render;
		}
		if (imap_fetch_needs_blob(st->plan))
			arena_clear(st->msg_arena);
		if (imap_fetch_needs_meta(st->plan)) {
			ret = fetch_meta(st, r, v->msgs[i].uid, &meta, &error);
			if (ret < 0)
				goto fail;
			if (ret == 0)
				continue;	/* expunged meanwhile */
			m.meta = &meta;
		}
		if (imap_fetch_needs_blob(st->plan)) {
			/* The bytes are read by range while rendering (a
			 * header fetch never reads the body); this only
			 * learns the blob is there and its size. */
			uint64_t size = 0;
			size_t got;

			ret = store_blob_read(r, v->msgs[i].blob_id, 0, NULL, 0,
					      &got, &size, &error);
			if (ret < 0)
				goto fail;
			if (ret == 0)
				continue;
			m.reader = r;
			m.blob_id = v->msgs[i].blob_id;
			m.size = (size_t)size;
		}
render:
		start = out->n;
		if ((ret = imap_fetch_render_from(st->plan, &m, st->uid,
						  st->with_modseq, from, out,
						  &st->stream, &error)) < 0) {
			/* -1: the part's encoding, -2: the store */
			ret = ret == -1 ? -2 : -1;
			goto fail;
		}
		if (ret == 1) {
			/* a large literal: its bytes follow from the blob,
			 * then the rest of this response (same pos) */
			st->m = m;
			if (m.meta != NULL) {
				st->meta = *m.meta;
				st->m.meta = &st->meta;
			}
			st->streaming = true;
			st->pos--;
			continue;
		}
		if (st->seen != NULL && i < st->n_view && st->seen[i] &&
		    !imap_fetch_wants_flags(st->plan) && out->n >= start + 3) {
			strbuf_truncate(out, out->n - 3);	/* ")\r\n" */
			strbuf_append_c(out, " FLAGS ");
			imap_view_write_flags(v, i, out);
			/* RFC 7162 3.1: with CONDSTORE on, the \Seen this
			 * FETCH set is told with its mod-sequence */
			if (st->condstore && !imap_fetch_wants_modseq(st->plan))
				strbuf_printf(out, " MODSEQ (%llu)",
					      (unsigned long long)
					      v->msgs[i].modseq);
			strbuf_append_c(out, ")\r\n");
		}
		ret = 1;
	}
	store_reader_end(r);
	return ret;
fail:
	store_reader_end(r);
	*error_r = error;
	return ret;
}

/* On a read pool thread, or inline. */
static void fetch_read(struct store_reader *r, struct imap_read *rd,
		       void *arg)
{
	struct fetch_state *st = arg;
	const char *error = NULL;

	st->ret = fetch_slice(st, r, &rd->out, &error);
	if (st->ret < 0)
		imap_read_error(rd, error);
}

/* The slice's output is written. */
static int fetch_read_done(struct imap_session *s, struct imap_read *rd,
			   void *arg)
{
	struct fetch_state *st = arg;

	if (rd->error != NULL && st->ret == 0)
		st->ret = -1;	/* no reader on the pool thread */
	switch (st->ret) {
	case 1:
		imap_tagged(s, "OK", "FETCH completed");
		return 1;
	case 0:
		/* The next slice from the event loop: called from here (an
		 * inline read) it would recurse once per slice while the
		 * client keeps up, and a 25 MB body is hundreds of slices. */
		if (conn_output_pending(s->core.conn) <= IMAP_OUTPUT_HIGH)
			imap_session_yield(s);
		return 0;
	case -2:
		imap_tagged(s, "NO", "[UNKNOWN-CTE] %s", rd->error);
		return -1;
	case -3:
		log_error(conn_sid(s->core.conn), "imap fetch: %s", rd->error);
		conn_abort(s->core.conn, "fetch: blob unreadable");
		return -1;
	default:
		return imap_store_failed(s, "fetch", rd->error);
	}
}

/* The next slice, unless the client has output to read first (then
 * from on_drained). As a handler returns. */
static int fetch_continue(struct imap_session *s)
{
	struct fetch_state *st = s->cmd_state;
	size_t pending = conn_output_pending(s->core.conn);

	if (pending > IMAP_OUTPUT_HIGH)
		return 0;
	st->budget = IMAP_OUTPUT_HIGH - pending;
	st->view = s->view;
	st->msg_arena = &s->msg_arena;
	st->meta_arena = &s->meta_arena;
	st->condstore = s->condstore;
	st->ret = 0;
	return imap_session_read(s, fetch_read, fetch_read_done, st);
}

static int fetch_start(struct imap_session *s)
{
	s->cont = fetch_continue;
	return fetch_continue(s);
}

static void fetch_seen_done(struct imap_session *s, struct store_result *res,
			    void *arg UNUSED)
{
	struct fetch_state *st = s->cmd_state;
	int ret;

	if (s->core.conn == NULL)
		return;
	if (res->status != 0) {
		(void)imap_store_write_failed(s, "fetch \\Seen", res);
		imap_session_resume(s);
		return;
	}
	/* The view learns the new flags, which go out with the FETCH data.
	 * No expunge here: st->idx points into the view. */
	imap_view_sync(s, false, true, &st->seen_uids);
	ret = fetch_start(s);
	if (ret == 0)
		return;
	imap_session_resume(s);
}

/* VANISHED (EARLIER) for UID FETCH ... (CHANGEDSINCE n VANISHED). */
static int fetch_vanished(struct imap_session *s, const struct imap_seqset *set,
			  uint64_t since)
{
	struct store_reader *r = imap_session_reader(s);
	struct strbuf out = STRBUF_INIT;
	const char *error = "store unavailable";
	uint32_t *uids, *in;
	size_t k = 0;
	int n;

	if (r == NULL || (n = store_expunged_since(r, &s->cmd_arena,
						   s->view->mailbox_id, since,
						   &uids, &error)) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] %s", error);
		return -1;
	}
	in = arena_alloc(&s->cmd_arena, ((size_t)n + 1) * sizeof(*in));
	for (int i = 0; i < n; i++) {
		if (imap_seqset_contains(set, uids[i], UINT32_MAX))
			in[k++] = uids[i];
	}
	if (k > 0) {
		strbuf_append_c(&out, "* VANISHED (EARLIER) ");
		imap_write_uid_set(&out, in, k);
		strbuf_append_c(&out, "\r\n");
		imap_write(s, out.p, out.n);
	}
	strbuf_free(&out);
	return 0;
}

int cmd_fetch(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_view *v = s->view;
	struct fetch_state *st;
	struct imap_seqset set;
	struct imap_cursor c;
	uint64_t since;
	size_t k = 0, n_seen = 0, *seen;

	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	st->uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	imap_cursor_init(&c, arg);
	if (!imap_cursor_seqset(&c, &s->cmd_arena, &set) || !imap_cursor_sp(&c) ||
	    (st->plan = imap_fetch_parse(&c, &s->cmd_arena)) == NULL ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (!st->uid && !imap_view_seqs_valid(v, &set)) {
		imap_tagged(s, "BAD", "Invalid message sequence number");
		return -1;
	}
	if (imap_fetch_count(st->plan) > IMAP_FETCH_MAX_ATTS) {
		imap_tagged(s, "NO", "[LIMIT] At most %u FETCH items",
			    IMAP_FETCH_MAX_ATTS);
		return -1;
	}
	if (imap_fetch_vanished(st->plan) && (!st->uid || !s->qresync)) {
		imap_tagged(s, "BAD", "VANISHED needs UID FETCH and ENABLE QRESYNC");
		return -1;
	}
	since = imap_fetch_changedsince(st->plan);
	if (imap_fetch_wants_modseq(st->plan))
		imap_view_condstore(s);	/* a CONDSTORE-enabling command */
	st->with_modseq = s->condstore && imap_fetch_wants_flags(st->plan);
	st->n = imap_view_resolve(v, &set, st->uid, &s->cmd_arena, &st->idx);
	for (size_t i = 0; i < st->n; i++) {
		if (since == 0 || v->msgs[st->idx[i]].modseq > since)
			st->idx[k++] = st->idx[i];
	}
	st->n = k;
	if (imap_fetch_vanished(st->plan) && fetch_vanished(s, &set, since) < 0)
		return -1;
	arena_init(&s->msg_arena, 0);
	s->cmd_state = st;

	seen = arena_alloc(&s->cmd_arena, (st->n + 1) * sizeof(*seen));
	if (imap_fetch_sets_seen(st->plan) && !v->readonly) {
		for (size_t i = 0; i < st->n; i++) {
			size_t x = st->idx[i];

			if ((v->msgs[x].flags & STORE_FLAG_SEEN) == 0 &&
			    !v->expunged[x])
				seen[n_seen++] = x;
		}
	}
	if (n_seen > 0) {
		struct store_req *req = arena_zalloc(&s->cmd_arena, sizeof(*req));

		req->type = STORE_REQ_SET_FLAGS;
		req->u.set_flags.mailbox_id = v->mailbox_id;
		req->u.set_flags.uids = imap_view_uid_ranges(
			v, seen, n_seen, &s->cmd_arena, &req->u.set_flags.n_uids);
		req->u.set_flags.op = STORE_FLAGS_ADD;
		req->u.set_flags.flags = STORE_FLAG_SEEN;
		st->seen = arena_zalloc(&s->cmd_arena, v->n + 1);
		st->n_view = v->n;
		for (size_t i = 0; i < n_seen; i++)
			st->seen[seen[i]] = true;
		imap_seqset_of_ranges(req->u.set_flags.uids,
				      req->u.set_flags.n_uids, &s->cmd_arena,
				      &st->seen_uids);
		imap_session_submit(s, req, fetch_seen_done, NULL);
		return 0;
	}
	return fetch_start(s);
}
