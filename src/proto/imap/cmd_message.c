/* cmd_message.c: the commands that change messages: APPEND (MULTIAPPEND,
 * APPENDUID), CHECK, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, STORE (with
 * UNCHANGEDSINCE and .SILENT), COPY and MOVE (with COPYUID). Every change is
 * one store request; the reply waits for its completion. */
#include "base/log.h"
#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "mail/mime_recode.h"
#include "proto/imap/imap_commands.h"

#include <string.h>
#include <time.h>

/* 1 found, 0 not (reply "NO [TRYCREATE]" queued), -1 error (queued). */
static int target_mailbox(struct imap_session *s, const char *name,
			  struct store_mailbox *mb_r)
{
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	int ret;

	if (r == NULL || (ret = store_mailbox_by_name(r, &s->cmd_arena,
						      s->user_id, name, mb_r,
						      &error)) < 0)
		return imap_store_failed(s, "store", error);
	if (ret == 0)
		imap_tagged(s, "NO", "[TRYCREATE] No such mailbox");
	return ret;
}

/* ---- APPEND ---- */

struct append_state {
	struct store_mailbox mb;
	size_t n;
};

static uint32_t *sorted_uids(struct arena *a, const uint32_t *uids, size_t n)
{
	uint32_t *out = arena_alloc(a, (n + 1) * sizeof(*out));

	memcpy(out, uids, n * sizeof(*out));
	/* Insertion sort: MULTIAPPEND batches are small. */
	for (size_t i = 1; i < n; i++) {
		uint32_t v = out[i];
		size_t j = i;

		for (; j > 0 && out[j - 1] > v; j--)
			out[j] = out[j - 1];
		out[j] = v;
	}
	return out;
}

static void append_done(struct imap_session *s, struct store_result *res,
			void *arg)
{
	struct append_state *st = arg;
	struct strbuf set = STRBUF_INIT;
	uint32_t *uids;

	if (res->status != 0) {
		imap_store_write_failed(s, "append", res);
		imap_session_resume(s);
		return;
	}
	if (res->n_assigned != st->n) {
		log_error(s->core.conn != NULL ? conn_sid(s->core.conn) : NULL,
			  "imap append: wrong number of messages stored");
		imap_tagged(s, "NO", "[SERVERBUG] APPEND failed");
		imap_session_resume(s);
		return;
	}
	uids = arena_alloc(&s->cmd_arena, st->n * sizeof(*uids));
	for (size_t i = 0; i < st->n; i++)
		uids[i] = res->assigned[i].uid;
	imap_write_uid_set(&set, sorted_uids(&s->cmd_arena, uids, st->n),
			   st->n);
	/* The new messages show in the selected mailbox now. */
	if (s->view != NULL && s->view->mailbox_id == st->mb.id)
		imap_view_sync(s, true, true, NULL);
	imap_tagged(s, "OK", "[APPENDUID %u %s] APPEND completed",
		    st->mb.uidvalidity, strbuf_cstr(&set));
	strbuf_free(&set);
	imap_session_resume(s);
}

/* The message with every lone LF made CRLF (stored sizes are CRLF sizes,
 * which POP3 relies on), in the arena. */
static struct str crlf_normalise(struct arena *a, struct str in)
{
	size_t extra = 0, k = 0;
	char *out;

	for (size_t i = 0; i < in.n; i++)
		extra += in.p[i] == '\n' && (i == 0 || in.p[i - 1] != '\r');
	if (extra == 0)
		return in;
	out = arena_alloc(a, in.n + extra + 1);
	for (size_t i = 0; i < in.n; i++) {
		if (in.p[i] == '\n' && (i == 0 || in.p[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = in.p[i];
	}
	out[k] = '\0';
	return str_make(out, k);
}

/* A literal8 may carry parts of Content-Transfer-Encoding binary (NUL
 * bytes, bare CR and LF): they are stored as base64, as Dovecot does, so
 * the message stays readable by every client (BODY[], POP3) and the CRLF
 * normalisation cannot touch them; BINARY[n] decodes them back to the
 * bytes the client sent. In the arena. */
static struct str binary_to_base64(struct arena *a, struct str msg)
{
	struct strbuf out = STRBUF_INIT;
	struct str res = msg;

	if (mime_recode_binary(msg, &out) > 0)
		res = arena_str(a, strbuf_str(&out));
	strbuf_free(&out);
	return res;
}

static const char *arena_strbuf(struct arena *a, struct strbuf *sb)
{
	const char *p = arena_strndup(a, strbuf_cstr(sb), sb->n);

	strbuf_reset(sb);
	return p;
}

/* ENVELOPE, BODY, BODYSTRUCTURE and part offsets, as delivery stores
 * them, from the parse of msg made as it arrived (tree, taken over), or
 * from a parse now when tree is NULL. */
static void append_meta(struct arena *a, struct str msg,
			struct mime_tree *tree, struct store_msg_meta *meta)
{
	struct strbuf sb = STRBUF_INIT;

	if (tree == NULL)
		tree = mime_parse(msg.p, msg.n, NULL);

	imap_envelope_write(&sb, tree->root);
	meta->envelope = arena_strbuf(a, &sb);
	imap_bodystructure_write(&sb, tree->root, false);
	meta->body = arena_strbuf(a, &sb);
	imap_bodystructure_write(&sb, tree->root, true);
	meta->bodystructure = arena_strbuf(a, &sb);
	mime_parts_serialize(tree, &sb);
	if (sb.n > 0) {
		void *parts = arena_alloc(a, sb.n);

		memcpy(parts, sb.p, sb.n);
		meta->parts = parts;
		meta->parts_size = sb.n;
		strbuf_reset(&sb);
	}
	/* meta->text stays NULL: the store indexes the text from the blob
	 * off the delivery path (store.h). */
	strbuf_free(&sb);
	mime_tree_free(&tree);
}

/* "NO [LIMIT]" for a list of more than IMAP_MAX_KEYWORDS keywords (RFC
 * 5530: "the number of flags on a single message"); returns -1. */
static int too_many_keywords(struct imap_session *s)
{
	imap_tagged(s, "NO", "[LIMIT] At most %u keywords on a message",
		    IMAP_MAX_KEYWORDS);
	return -1;
}

/* One "[flags] [date-time] literal" of APPEND into req: 1 read, 0 syntax
 * error (for BAD), -1 refused (NO queued). */
static int append_parse_msg(struct imap_session *s, struct imap_cursor *c,
			    struct store_req *req)
{
	const char **keywords = NULL;
	size_t n_keywords = 0;
	uint32_t flags = 0;
	int64_t date = (int64_t)time(NULL);
	int zone = 0;	/* no date-time given: now, +0000 as for delivery */
	struct strbuf kw = STRBUF_INIT;
	struct mime_tree *tree = NULL;
	struct str data, cmd;
	bool literal8;

	if (imap_cursor_peek(c) == '(') {
		if (!imap_cursor_flag_list(c, &s->cmd_arena, &flags, &keywords,
					   &n_keywords) || !imap_cursor_sp(c))
			return 0;
	}
	if (imap_cursor_peek(c) == '"') {
		if (!imap_cursor_date_time(c, &date, &zone) ||
		    !imap_cursor_sp(c))
			return 0;
	}
	/* append-data: literal or literal8 (RFC 3516, RFC 9051) */
	if (!imap_cursor_string8(c, &s->cmd_arena, &data, &literal8))
		return 0;
	if (n_keywords > IMAP_MAX_KEYWORDS)
		return too_many_keywords(s);
	/* APPENDLIMIT bounds what the client sends, before base64 */
	if (data.n > s->server->set.max_append_size) {
		imap_tagged(s, "NO", "[TOOBIG] Message exceeds APPENDLIMIT");
		return -1;
	}
	for (size_t i = 0; i < n_keywords; i++)
		strbuf_printf(&kw, "%s%s", i > 0 ? " " : "", keywords[i]);
	/* the parse made as the literal arrived, of its CRLF form */
	cmd = imap_reader_command(s->reader);
	if (data.p >= cmd.p && data.p < cmd.p + cmd.n)
		tree = imap_append_parse_take(s->append_parse,
					      (size_t)(data.p - cmd.p));
	if (literal8) {
		struct str coded = binary_to_base64(&s->cmd_arena, data);

		/* binary parts made base64: not the bytes parsed */
		if (coded.p != data.p && tree != NULL)
			mime_tree_free(&tree);
		data = coded;
	}
	data = crlf_normalise(&s->cmd_arena, data);
	append_meta(&s->cmd_arena, data, tree, &req->u.deliver.meta);
	req->type = STORE_REQ_DELIVER;
	req->u.deliver.data = data.p;
	req->u.deliver.size = data.n;
	req->u.deliver.flags = flags;
	req->u.deliver.keywords = arena_strdup(&s->cmd_arena, strbuf_cstr(&kw));
	req->u.deliver.internal_date = date;
	req->u.deliver.internal_zone = zone;
	strbuf_free(&kw);
	return 1;
}

int cmd_append(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_req *reqs[64];
	struct append_state *st;
	struct store_target *target;
	struct imap_cursor c;
	const char *name;
	uint64_t bytes = 0;
	size_t n = 0;
	int ret;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_mailbox(&c, &s->cmd_arena, s->utf8, &name) ||
	    !imap_cursor_sp(&c))
		return imap_bad_syntax(s, &c);
	/* MULTIAPPEND (RFC 3502): more messages follow after a SP. */
	do {
		if (n == ARRAY_SIZE(reqs)) {
			imap_tagged(s, "NO", "[LIMIT] Too many messages in one APPEND");
			return -1;
		}
		reqs[n] = arena_zalloc(&s->cmd_arena, sizeof(*reqs[n]));
		ret = append_parse_msg(s, &c, reqs[n]);
		if (ret == 0)
			return imap_bad_syntax(s, &c);
		if (ret < 0)
			return -1;
		if (reqs[n]->u.deliver.size == 0) {
			imap_tagged(s, "NO", "Empty message");
			return -1;
		}
		n++;
	} while (imap_cursor_sp(&c));
	if (!imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	if (target_mailbox(s, name, &st->mb) <= 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		bytes += reqs[i]->u.deliver.size;
	if (imap_quota_check(s, bytes) <= 0)
		return -1;
	st->n = n;
	target = arena_zalloc(&s->cmd_arena, sizeof(*target));
	target->user_id = s->user_id;
	target->mailbox_id = st->mb.id;
	for (size_t i = 0; i < n; i++) {
		reqs[i]->u.deliver.targets = target;
		reqs[i]->u.deliver.n_targets = 1;
		if (i + 1 < n)
			reqs[i]->u.deliver.next = reqs[i + 1];
	}
	/* One request: all the messages are appended, or none (RFC 3502). */
	imap_session_submit(s, reqs[0], append_done, st);
	return 0;
}

/* ---- CHECK / CLOSE / UNSELECT / EXPUNGE ---- */

int cmd_check(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "CHECK takes no arguments");
		return -1;
	}
	/* Every change is durable when its command completes. */
	imap_tagged(s, "OK", "CHECK completed");
	return 1;
}

static void unselect(struct imap_session *s)
{
	imap_view_free(&s->view);
	imap_session_enter(s, IMAP_STATE_AUTH);
}

int cmd_unselect(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "UNSELECT takes no arguments");
		return -1;
	}
	unselect(s);
	imap_tagged(s, "OK", "UNSELECT completed");
	return 1;
}

struct expunge_state {
	bool close;		/* CLOSE: expunge silently, then unselect */
	const char *text;
};

static void expunge_done(struct imap_session *s, struct store_result *res,
			 void *arg)
{
	struct expunge_state *st = arg;

	if (st->close)
		unselect(s);
	if (res->status != 0) {
		imap_store_write_failed(s, "expunge", res);
	} else {
		if (!st->close)
			imap_view_sync(s, true, true, NULL);
		imap_tagged(s, "OK", "%s", st->text);
	}
	imap_session_resume(s);
}

/* Expunge the \Deleted messages (of uid_set when not NULL). */
static int expunge(struct imap_session *s, const struct imap_seqset *uid_set,
		   bool close, const char *text)
{
	struct imap_view *v = s->view;
	struct expunge_state *st;
	struct store_req *req;
	size_t *idx, n = 0;

	if (v->readonly) {
		if (close) {
			unselect(s);
			imap_tagged(s, "OK", "%s", text);
			return 1;
		}
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return -1;
	}
	if (!close)
		imap_view_sync(s, true, false, NULL);
	idx = arena_alloc(&s->cmd_arena, (v->n + 1) * sizeof(*idx));
	for (size_t i = 0; i < v->n; i++) {
		if ((v->msgs[i].flags & STORE_FLAG_DELETED) == 0 ||
		    v->expunged[i])
			continue;
		if (uid_set != NULL &&
		    !imap_seqset_contains(uid_set, v->msgs[i].uid,
					  imap_view_max_uid(v)))
			continue;
		idx[n++] = i;
	}
	if (n == 0) {
		if (close)
			unselect(s);
		imap_tagged(s, "OK", "%s", text);
		return 1;
	}
	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	st->close = close;
	st->text = text;
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_EXPUNGE;
	req->u.expunge.mailbox_id = v->mailbox_id;
	req->u.expunge.uids = imap_view_uid_ranges(v, idx, n, &s->cmd_arena,
						   &req->u.expunge.n_uids);
	imap_session_submit(s, req, expunge_done, st);
	return 0;
}

int cmd_close(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "CLOSE takes no arguments");
		return -1;
	}
	return expunge(s, NULL, true, "CLOSE completed");
}

int cmd_expunge(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "EXPUNGE takes no arguments");
		return -1;
	}
	return expunge(s, NULL, false, "EXPUNGE completed");
}

int cmd_uid_expunge(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_seqset set;
	struct imap_cursor c;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_seqset(&c, &s->cmd_arena, &set) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	return expunge(s, &set, false, "EXPUNGE completed");
}

/* ---- STORE ---- */

struct store_state {
	bool silent;
	struct imap_seqset quiet;	/* the UIDs stored, when silent */
};

/* RFC 7162 3.1.3: with CONDSTORE on, a .SILENT STORE still tells each
 * message it changed (since modseq before, at most at stored: one changed
 * later by another session was reported in full), with its MODSEQ only. */
static void store_tell_modseq(struct imap_session *s,
			      const struct imap_seqset *uids, uint64_t before,
			      uint64_t stored)
{
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT;
	size_t *idx, n = imap_view_resolve(v, uids, true, &s->cmd_arena, &idx);

	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[idx[i]];

		if (m->modseq > before && m->modseq <= stored &&
		    !v->expunged[idx[i]])
			strbuf_printf(&out, "* %zu FETCH (UID %u MODSEQ (%llu))\r\n",
				      idx[i] + 1, m->uid,
				      (unsigned long long)m->modseq);
	}
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
}

static void store_done(struct imap_session *s, struct store_result *res,
		       void *arg)
{
	struct store_state *st = arg;
	struct imap_view *v = s->view;
	struct strbuf set = STRBUF_INIT;
	bool uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	uint64_t before = v != NULL ? v->highestmodseq : 0;

	if (res->status != 0) {
		imap_store_write_failed(s, "store", res);
		imap_session_resume(s);
		return;
	}
	imap_view_sync_store(s, uid, st->silent ? &st->quiet : NULL,
			     res->modseq);
	if (st->silent && s->condstore && s->view == v && v != NULL)
		store_tell_modseq(s, &st->quiet, before, res->modseq);
	if (res->n_uids > 0 && v != NULL) {
		/* UNCHANGEDSINCE failed for these (RFC 7162 3.1.3):
		 * sequence numbers for STORE, UIDs for UID STORE. */
		uint32_t *keys = arena_alloc(&s->cmd_arena,
					     res->n_uids * sizeof(*keys));
		size_t k = 0;

		for (size_t i = 0; i < res->n_uids; i++) {
			ssize_t x = imap_view_find_uid(v, res->uids[i]);

			if (uid)
				keys[k++] = res->uids[i];
			else if (x >= 0)
				keys[k++] = (uint32_t)x + 1;
		}
		imap_write_uid_set(&set, keys, k);
		imap_tagged(s, "OK", "[MODIFIED %s] Conditional STORE failed",
			    strbuf_cstr(&set));
	} else {
		imap_tagged(s, "OK", "STORE completed");
	}
	strbuf_free(&set);
	imap_session_resume(s);
}

/* Whether adding keywords keeps every message of idx within
 * IMAP_MAX_KEYWORDS: the store rewrites a message's list on each change,
 * so the list must not grow without end. */
static bool keywords_fit(const struct imap_view *v, const size_t *idx,
			 size_t n, const char *const *keywords,
			 size_t n_keywords)
{
	for (size_t i = 0; i < n; i++) {
		const char *old = v->msgs[idx[i]].keywords;
		size_t have = imap_keywords_count(old);

		if (have + n_keywords <= IMAP_MAX_KEYWORDS)
			continue;
		for (size_t k = 0; k < n_keywords; k++)
			have += !imap_keywords_has(old, str_c(keywords[k]));
		if (have > IMAP_MAX_KEYWORDS)
			return false;
	}
	return true;
}

int cmd_store(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_view *v = s->view;
	bool uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	uint64_t unchangedsince = 0;
	struct store_state *st;
	struct store_req *req;
	struct imap_seqset set;
	struct imap_cursor c;
	struct str item, name;
	enum store_flags_op op = STORE_FLAGS_REPLACE;
	const char **keywords;
	size_t n_keywords, n, *idx;
	uint32_t flags;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_seqset(&c, &s->cmd_arena, &set) || !imap_cursor_sp(&c))
		return imap_bad_syntax(s, &c);
	if (imap_cursor_skip_char(&c, '(')) {
		if (!imap_cursor_atom(&c, &name) ||
		    !str_caseeq(name, STR_LIT("UNCHANGEDSINCE")) ||
		    !imap_cursor_sp(&c) ||
		    !imap_cursor_number64(&c, &unchangedsince) ||
		    !imap_cursor_skip_char(&c, ')') || !imap_cursor_sp(&c))
			return imap_bad_syntax(s, &c);
		imap_view_condstore(s);
	}
	if (!imap_cursor_atom(&c, &item) || !imap_cursor_sp(&c) ||
	    !imap_cursor_flags_or_list(&c, &s->cmd_arena, &flags, &keywords,
				       &n_keywords) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	if (item.n > 0 && (item.p[0] == '+' || item.p[0] == '-')) {
		op = item.p[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item = str_from(item, 1);
	}
	if (str_caseeq(item, STR_LIT("FLAGS.SILENT")))
		st->silent = true;
	else if (!str_caseeq(item, STR_LIT("FLAGS"))) {
		imap_tagged(s, "BAD", "Unknown STORE item");
		return -1;
	}
	if (v->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return -1;
	}
	/* What others changed goes out first (expunges only for UID STORE,
	 * RFC 3501 7.4.1): a .SILENT reply then leaves the client with the
	 * flags as they are. */
	if (imap_view_sync(s, uid, true, NULL) < 0)
		return imap_store_failed(s, "sync", "store read failed");
	n = imap_view_resolve(v, &set, uid, &s->cmd_arena, &idx);
	if (!uid && !imap_view_seqs_valid(v, &set)) {
		imap_tagged(s, "BAD", "Invalid message sequence number");
		return -1;
	}
	if (n_keywords > IMAP_MAX_KEYWORDS ||
	    (op == STORE_FLAGS_ADD && !keywords_fit(v, idx, n, keywords,
						    n_keywords)))
		return too_many_keywords(s);
	if (n == 0) {
		imap_tagged(s, "OK", "STORE completed");
		return 1;
	}
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_SET_FLAGS;
	req->u.set_flags.mailbox_id = v->mailbox_id;
	req->u.set_flags.uids = imap_view_uid_ranges(v, idx, n, &s->cmd_arena,
						     &req->u.set_flags.n_uids);
	req->u.set_flags.op = op;
	req->u.set_flags.flags = flags;
	req->u.set_flags.keywords = keywords;
	req->u.set_flags.n_keywords = n_keywords;
	req->u.set_flags.unchangedsince = unchangedsince;
	imap_seqset_of_ranges(req->u.set_flags.uids, req->u.set_flags.n_uids,
			      &s->cmd_arena, &st->quiet);
	imap_session_submit(s, req, store_done, st);
	return 0;
}

/* ---- COPY / MOVE ---- */

struct copy_state {
	struct store_mailbox dst;
	bool move;
	/* Into Junk (spam) or out of it (ham): the blobs to learn from. */
	bool learn_spam;
	int64_t *learn_blobs;
	size_t n_learn;
};

/* Into a \Junk mailbox from another is spam the user saw; out of one into
 * anything but \Trash is ham (deleting spam teaches nothing). COPY counts
 * as MOVE does: a client without MOVE copies, then expunges later (or
 * another session does), and the copy is the user's decision. */
static void copy_learn_prepare(struct imap_session *s, struct copy_state *st,
			       const size_t *idx, size_t k)
{
	const struct imap_view *v = s->view;
	bool into = strstr(st->dst.special_use, "\\Junk") != NULL;
	bool trash = strstr(st->dst.special_use, "\\Trash") != NULL;

	if (into == v->junk || (!into && trash) ||
	    !imap_learn_wanted(s->server->learn, into))
		return;
	st->learn_spam = into;
	st->learn_blobs = arena_alloc(&s->cmd_arena, k * sizeof(*st->learn_blobs));
	for (size_t i = 0; i < k; i++)
		st->learn_blobs[i] = v->msgs[idx[i]].blob_id;
	st->n_learn = k;
}

static void copy_done(struct imap_session *s, struct store_result *res,
		      void *arg)
{
	struct copy_state *st = arg;
	struct strbuf code = STRBUF_INIT;

	if (res->status != 0) {
		imap_store_write_failed(s, "copy", res);
		imap_session_resume(s);
		return;
	}
	if (st->n_learn > 0)
		imap_learn_submit(s->server->learn, st->learn_spam, s->core.user,
				  st->learn_blobs, st->n_learn);
	if (res->n_uids > 0) {
		uint32_t *dst = arena_alloc(&s->cmd_arena,
					    res->n_assigned * sizeof(*dst));

		for (size_t i = 0; i < res->n_assigned; i++)
			dst[i] = res->assigned[i].uid;
		strbuf_printf(&code, "[COPYUID %u ", st->dst.uidvalidity);
		imap_write_uid_set(&code, res->uids, res->n_uids);
		strbuf_putc(&code, ' ');
		/* The new UIDs in source order: a set only when they
		 * ascend, which they do (assigned in UID order). */
		imap_write_uid_set(&code, dst, res->n_assigned);
		strbuf_append_c(&code, "] ");
	}
	if (st->move) {
		/* RFC 6851 4.3: COPYUID in an untagged OK, then the
		 * expunges, then the tagged OK. */
		if (code.n > 0)
			imap_untagged(s, "OK %sMoved", strbuf_cstr(&code));
		imap_view_sync(s, true, true, NULL);
		imap_tagged(s, "OK", "MOVE completed");
	} else {
		if (s->view != NULL && s->view->mailbox_id == st->dst.id)
			imap_view_sync(s, true, true, NULL);
		imap_tagged(s, "OK", "%sCOPY completed", strbuf_cstr(&code));
	}
	strbuf_free(&code);
	imap_session_resume(s);
}

static int copy_move(struct imap_session *s, struct str arg, bool move)
{
	struct imap_view *v = s->view;
	bool uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	struct copy_state *st;
	struct store_req *req;
	struct imap_seqset set;
	struct imap_cursor c;
	const char *name;
	size_t n, k = 0, *idx;

	imap_cursor_init(&c, arg);
	if (!imap_cursor_seqset(&c, &s->cmd_arena, &set) || !imap_cursor_sp(&c) ||
	    !imap_cursor_mailbox(&c, &s->cmd_arena, s->utf8, &name) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (move && v->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return -1;
	}
	if (!uid && !imap_view_seqs_valid(v, &set)) {
		imap_tagged(s, "BAD", "Invalid message sequence number");
		return -1;
	}
	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	st->move = move;
	if (target_mailbox(s, name, &st->dst) <= 0)
		return -1;
	n = imap_view_resolve(v, &set, uid, &s->cmd_arena, &idx);
	for (size_t i = 0; i < n; i++) {
		if (!v->expunged[idx[i]])
			idx[k++] = idx[i];
	}
	if (k == 0) {
		imap_tagged(s, "OK", "%s completed", move ? "MOVE" : "COPY");
		return 1;
	}
	/* A MOVE stays within the user's mailboxes: usage does not grow. */
	if (!move) {
		uint64_t bytes = 0;

		for (size_t i = 0; i < k; i++)
			bytes += v->msgs[idx[i]].size;
		if (imap_quota_check(s, bytes) <= 0)
			return -1;
	}
	copy_learn_prepare(s, st, idx, k);
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_COPY;
	req->u.copy.src_mailbox_id = v->mailbox_id;
	req->u.copy.uids = imap_view_uid_ranges(v, idx, k, &s->cmd_arena,
						&req->u.copy.n_uids);
	req->u.copy.dst_mailbox_id = st->dst.id;
	req->u.copy.move = move;
	imap_session_submit(s, req, copy_done, st);
	return 0;
}

int cmd_copy(void *session, struct str arg)
{
	return copy_move(session, arg, false);
}

int cmd_move(void *session, struct str arg)
{
	return copy_move(session, arg, true);
}
