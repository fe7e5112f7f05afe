/* cmd_mailbox.c: the mailbox commands: SELECT/EXAMINE (with CONDSTORE and
 * QRESYNC parameters), CREATE, DELETE, RENAME (with the INBOX rule),
 * SUBSCRIBE, UNSUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE,
 * CHILDREN), LSUB, NAMESPACE and STATUS. Hierarchy delimiter "/". */
#include "base/log.h"
#include "mail/mutf7.h"
#include "net/conn.h"
#include "proto/imap/imap_commands.h"
#include "proto/imap/imap_pattern.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ---- */

/* Several store requests for one command: one reply when all are done. */
struct mb_batch {
	unsigned pending;
	bool failed;
	struct store_result error;	/* the first failure's status,
					 * error and unavailable */
	const char *ok_text;
};

static void mb_batch_done(struct imap_session *s, struct store_result *res,
			  void *arg)
{
	struct mb_batch *b = arg;

	if (res->status != 0 && !b->failed) {
		b->failed = true;
		b->error.status = res->status;
		b->error.unavailable = res->unavailable;
		memcpy(b->error.error, res->error, sizeof(b->error.error));
	}
	if (--b->pending > 0)
		return;
	if (b->failed)
		(void)imap_store_write_failed(s, "mailbox", &b->error);
	else
		imap_tagged(s, "OK", "%s", b->ok_text);
	imap_session_resume(s);
}

static void mb_submit(struct imap_session *s, struct mb_batch *b,
		      struct store_req *req)
{
	b->pending++;
	imap_session_submit(s, req, mb_batch_done, b);
}

/* The user's mailboxes; -1 (reply queued) on a store error. */
static int mailboxes(struct imap_session *s, struct store_mailbox **mbs_r)
{
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	int n;

	if (r == NULL || (n = store_mailbox_list(r, &s->cmd_arena, s->user_id,
						 mbs_r, &error)) < 0)
		return imap_store_failed(s, "store", error);
	return n;
}

static const struct store_mailbox *find_name(const struct store_mailbox *mbs,
					     size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mbs[i].name, name) == 0)
			return &mbs[i];
	}
	return NULL;
}

/* A name a client may create: no empty level, no wildcard. */
static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 500 || name[0] == '/' ||
	    strstr(name, "//") != NULL || strpbrk(name, "*%") != NULL)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

/* Read a mailbox argument; false with the BAD reply queued. */
static bool arg_mailbox(struct imap_session *s, struct imap_cursor *c,
			const char **name_r)
{
	if (imap_cursor_mailbox(c, &s->cmd_arena, s->utf8, name_r))
		return true;
	imap_bad_syntax(s, c);
	return false;
}

/* ---- SELECT / EXAMINE ---- */

/* QRESYNC (RFC 7162 3.2.5): "(QRESYNC (uidvalidity modseq [known-uids
 * [(seqs uids)]]))" parsed into these. */
struct qresync_param {
	bool given;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known;	/* n == 0: all */
};

static bool parse_select_params(struct imap_session *s, struct imap_cursor *c,
				bool *condstore_r, struct qresync_param *q)
{
	struct str name;

	if (imap_cursor_at_end(c))
		return true;
	if (!imap_cursor_sp(c) || !imap_cursor_skip_char(c, '('))
		return false;
	do {
		if (!imap_cursor_atom(c, &name))
			return false;
		if (str_caseeq(name, STR_LIT("CONDSTORE"))) {
			*condstore_r = true;
		} else if (str_caseeq(name, STR_LIT("QRESYNC")) && s->qresync) {
			struct imap_seqset seqs, uids;

			if (!imap_cursor_sp(c) || !imap_cursor_skip_char(c, '(') ||
			    !imap_cursor_nz_number(c, &q->uidvalidity) ||
			    !imap_cursor_sp(c) ||
			    !imap_cursor_number64(c, &q->modseq))
				return false;
			q->given = true;
			if (imap_cursor_sp(c)) {
				if (imap_cursor_peek(c) != '(' &&
				    !imap_cursor_seqset(c, &s->cmd_arena, &q->known))
					return false;
				if (imap_cursor_peek(c) == ' ')
					imap_cursor_sp(c);
				/* The sequence match data only saves the
				 * client a round trip; it is accepted and
				 * the known UIDs are used instead. */
				if (imap_cursor_skip_char(c, '(') &&
				    (!imap_cursor_seqset(c, &s->cmd_arena, &seqs) ||
				     !imap_cursor_sp(c) ||
				     !imap_cursor_seqset(c, &s->cmd_arena, &uids) ||
				     !imap_cursor_skip_char(c, ')')))
					return false;
			}
			if (!imap_cursor_skip_char(c, ')'))
				return false;
		} else {
			c->error = "unknown SELECT parameter";
			return false;
		}
	} while (imap_cursor_sp(c));
	return imap_cursor_skip_char(c, ')') && imap_cursor_at_end(c);
}

/* After SELECT (QRESYNC ...): the VANISHED (EARLIER) of uids (what was
 * expunged since q->modseq, read with the view) and the FETCH of what
 * changed since. */
static void qresync_report(struct imap_session *s, const struct qresync_param *q,
			   const uint32_t *uids, int n)
{
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT;
	uint32_t *vanished;
	size_t n_vanished = 0;

	if (v->uidvalidity != q->uidvalidity)
		return;
	vanished = arena_alloc(&s->cmd_arena, ((size_t)n + 1) * sizeof(*vanished));
	for (int i = 0; i < n; i++) {
		if ((q->known.n == 0 && !q->known.star) ||
		    imap_seqset_contains(&q->known, uids[i], UINT32_MAX))
			vanished[n_vanished++] = uids[i];
	}
	if (n_vanished > 0) {
		strbuf_append_c(&out, "* VANISHED (EARLIER) ");
		imap_write_uid_set(&out, vanished, n_vanished);
		strbuf_append_c(&out, "\r\n");
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->msgs[i].modseq <= q->modseq)
			continue;
		strbuf_printf(&out, "* %zu FETCH (UID %u FLAGS ", i + 1,
			      v->msgs[i].uid);
		imap_view_write_flags(v, i, &out);
		strbuf_printf(&out, " MODSEQ (%llu))\r\n",
			      (unsigned long long)v->msgs[i].modseq);
	}
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
}

/* How a read that looked a mailbox up went (found: 1, 0 no such
 * mailbox, -1 error): 1, or 0 / -1 with the reply queued. */
static int mailbox_read(struct imap_session *s, const struct imap_read *rd,
			int found)
{
	if (found < 0 || rd->error != NULL)
		return imap_store_failed(s, "store", rd->error);
	if (found == 0)
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
	return found;
}

/* SELECT/EXAMINE: what the read needs and what it brings back. */
struct select_state {
	const char *name;
	int64_t user_id;
	bool readonly, condstore;
	struct qresync_param q;
	struct imap_view_data d;
	int found;
	uint32_t *gone;		/* QRESYNC: expunged since q.modseq */
	int n_gone;
};

/* On a read pool thread, or inline. */
static void select_read(struct store_reader *r, struct imap_read *rd,
			void *arg)
{
	struct select_state *st = arg;
	const char *error = NULL;

	st->found = imap_view_load(r, &rd->arena, st->user_id, st->name,
				   &st->d, &error);
	if (st->found > 0 && st->q.given &&
	    st->q.uidvalidity == st->d.mb.uidvalidity &&
	    (st->n_gone = store_expunged_since(r, &rd->arena, st->d.mb.id,
					       st->q.modseq, &st->gone,
					       &error)) < 0)
		st->found = -1;
	if (st->found < 0)
		imap_read_error(rd, error);
}

static int select_done(struct imap_session *s, struct imap_read *rd,
		       void *arg)
{
	struct select_state *st = arg;
	struct strbuf out = STRBUF_INIT;
	size_t unseen = 0;
	bool changed = s->view_load_changed;

	s->view_loading = s->view_load_changed = false;
	if (mailbox_read(s, rd, st->found) <= 0)
		return -1;
	s->view = imap_view_make(s, &st->d, st->readonly);
	/* A change event that came while the read was out may be newer
	 * than its snapshot: the first sync reads what changed. */
	s->view->changed = changed;
	if (st->condstore)
		s->condstore = true;
	imap_session_enter(s, IMAP_STATE_SELECTED);

	strbuf_printf(&out, "* %zu EXISTS\r\n", s->view->n);
	if (!s->rev2)
		strbuf_printf(&out, "* %zu RECENT\r\n", s->view->n_recent);
	imap_view_write_flag_lists(s->view, &out);
	for (size_t i = 0; i < s->view->n && !s->rev2; i++) {
		if ((s->view->msgs[i].flags & STORE_FLAG_SEEN) == 0) {
			unseen = i + 1;
			break;
		}
	}
	if (unseen > 0)
		strbuf_printf(&out, "* OK [UNSEEN %zu] First unseen\r\n", unseen);
	strbuf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
		      "* OK [UIDNEXT %u] Predicted next UID\r\n"
		      "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		      s->view->uidvalidity, s->view->uidnext,
		      (unsigned long long)s->view->highestmodseq);
	if (s->rev2) {
		/* RFC 9051 6.3.2: the mailbox name as the server has it. */
		strbuf_append_c(&out, "* LIST () \"/\" ");
		imap_session_write_name(s, &out, st->d.mb.name);
		strbuf_append_c(&out, "\r\n");
	}
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	if (st->q.given)
		qresync_report(s, &st->q, st->gone, st->n_gone);
	imap_tagged(s, "OK", "[%s] %s completed", st->readonly ? "READ-ONLY" :
		    "READ-WRITE", st->readonly ? "EXAMINE" : "SELECT");
	return 1;
}

static int select_mailbox(struct imap_session *s, struct str arg,
			  bool readonly)
{
	struct select_state *st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	struct imap_cursor c;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &st->name))
		return -1;
	if (!parse_select_params(s, &c, &st->condstore, &st->q))
		return imap_bad_syntax(s, &c);
	if (s->view != NULL) {
		/* RFC 9051 / RFC 7162: the previous mailbox is closed
		 * without expunging. */
		imap_view_free(&s->view);
		imap_session_enter(s, IMAP_STATE_AUTH);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	st->readonly = readonly;
	st->user_id = s->user_id;
	s->view_loading = true;
	s->view_load_changed = false;
	return imap_session_read(s, select_read, select_done, st);
}

int cmd_select(void *session, struct str arg)
{
	return select_mailbox(session, arg, false);
}

int cmd_examine(void *session, struct str arg)
{
	return select_mailbox(session, arg, true);
}

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ---- */

/* Mailboxes one user may have: what LIST, CREATE and RENAME walk (a
 * user could otherwise grow the list without end with CREATE). */
#define IMAP_MAX_MAILBOXES 10000

/* Whether the missing superiors of name, and name itself when self, fit
 * within IMAP_MAX_MAILBOXES; "NO [LIMIT]" queued when not. */
static bool mailbox_room(struct imap_session *s,
			 const struct store_mailbox *mbs, size_t n,
			 const char *name, bool self)
{
	size_t want = n + self, levels = 0;

	for (const char *p = strchr(name, '/'); p != NULL;
	     p = strchr(p + 1, '/'))
		levels++;
	if (want + levels <= IMAP_MAX_MAILBOXES)
		return true;
	for (const char *p = strchr(name, '/'); p != NULL;
	     p = strchr(p + 1, '/')) {
		char *parent = arena_strndup(&s->cmd_arena, name,
					     (size_t)(p - name));

		if (find_name(mbs, n, parent) == NULL &&
		    strcasecmp(parent, "INBOX") != 0)
			want++;
	}
	if (want <= IMAP_MAX_MAILBOXES)
		return true;
	imap_tagged(s, "NO", "[LIMIT] At most %u mailboxes", IMAP_MAX_MAILBOXES);
	return false;
}

/* Queue the creation of the superiors of name that do not exist
 * (RFC 3501 6.3.3). */
static void create_superiors(struct imap_session *s, struct mb_batch *b,
			     const struct store_mailbox *mbs, size_t n,
			     const char *name)
{
	for (const char *p = strchr(name, '/'); p != NULL;
	     p = strchr(p + 1, '/')) {
		char *parent = arena_strndup(&s->cmd_arena, name,
					     (size_t)(p - name));
		struct store_req *req;

		if (find_name(mbs, n, parent) != NULL ||
		    strcasecmp(parent, "INBOX") == 0)
			continue;
		req = arena_zalloc(&s->cmd_arena, sizeof(*req));
		req->type = STORE_REQ_MAILBOX_CREATE;
		req->u.mailbox_create.user_id = s->user_id;
		req->u.mailbox_create.name = parent;
		mb_submit(s, b, req);
	}
}

int cmd_create(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_mailbox *mbs;
	struct imap_cursor c;
	struct mb_batch *b;
	struct store_req *req;
	const char *name;
	char *clean;
	size_t len;
	int n;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &name))
		return -1;
	if (!imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	/* A trailing delimiter says the client wants to put children
	 * below; the name is the same. */
	len = strlen(name);
	clean = arena_strndup(&s->cmd_arena, name,
			      len > 0 && name[len - 1] == '/' ? len - 1 : len);
	if (!name_valid(clean)) {
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		return -1;
	}
	if ((n = mailboxes(s, &mbs)) < 0)
		return -1;
	if (strcmp(clean, "INBOX") == 0 || find_name(mbs, (size_t)n, clean) != NULL) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		return -1;
	}
	if (!mailbox_room(s, mbs, (size_t)n, clean, true))
		return -1;
	b = arena_zalloc(&s->cmd_arena, sizeof(*b));
	b->ok_text = "CREATE completed";
	create_superiors(s, b, mbs, (size_t)n, clean);
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_MAILBOX_CREATE;
	req->u.mailbox_create.user_id = s->user_id;
	req->u.mailbox_create.name = clean;
	mb_submit(s, b, req);
	return 0;
}

int cmd_delete(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_mailbox *mbs;
	const struct store_mailbox *mb;
	struct imap_cursor c;
	struct mb_batch *b;
	struct store_req *req;
	const char *name;
	int n;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &name))
		return -1;
	if (!imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return -1;
	}
	if ((n = mailboxes(s, &mbs)) < 0)
		return -1;
	if ((mb = find_name(mbs, (size_t)n, name)) == NULL) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return -1;
	}
	/* RFC 3501 6.3.4: a mailbox with children loses its messages and
	 * its name stays as \Noselect: here the row goes, and LIST shows
	 * the name of a missing superior as \Noselect (list_run). */
	if (s->view != NULL && s->view->mailbox_id == mb->id) {
		imap_view_free(&s->view);
		imap_session_enter(s, IMAP_STATE_AUTH);
	}
	b = arena_zalloc(&s->cmd_arena, sizeof(*b));
	b->ok_text = "DELETE completed";
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_MAILBOX_DELETE;
	req->u.mailbox_delete.mailbox_id = mb->id;
	mb_submit(s, b, req);
	return 0;
}

/* Whether a mailbox lies below name (name + "/" + more). */
static bool has_children(const struct store_mailbox *mbs, size_t n,
			 const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strncmp(mbs[i].name, name, len) == 0 &&
		    mbs[i].name[len] == '/')
			return true;
	}
	return false;
}

/* RENAME INBOX (RFC 3501 6.3.5): create the new mailbox, then move every
 * message of INBOX there; INBOX stays, empty. */
struct inbox_rename {
	const struct store_mailbox *inbox;
	const char *new_name;
};

static void rename_inbox_moved(struct imap_session *s,
			       struct store_result *res, void *arg UNUSED)
{
	if (res->status != 0)
		(void)imap_store_write_failed(s, "rename INBOX", res);
	else
		imap_tagged(s, "OK", "RENAME completed");
	imap_session_resume(s);
}

static void rename_inbox_created(struct imap_session *s,
				 struct store_result *res, void *arg)
{
	struct inbox_rename *ir = arg;
	struct store_uid_range *all;
	struct store_req *req;

	if (res->status != 0 || s->core.conn == NULL) {
		if (res->status != 0)
			(void)imap_store_write_failed(s, "rename INBOX", res);
		imap_session_resume(s);
		return;
	}
	all = arena_zalloc(&s->cmd_arena, sizeof(*all));
	all->lo = 1;
	all->hi = UINT32_MAX;
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_COPY;
	req->u.copy.src_mailbox_id = ir->inbox->id;
	req->u.copy.uids = all;
	req->u.copy.n_uids = 1;
	req->u.copy.dst_mailbox_id = res->id;
	req->u.copy.move = true;
	imap_session_submit(s, req, rename_inbox_moved, NULL);
}

int cmd_rename(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct store_mailbox *mbs;
	const struct store_mailbox *mb;
	struct imap_cursor c;
	struct mb_batch *b;
	struct store_req *req;
	const char *from, *to;
	size_t from_len;
	int n;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &from))
		return -1;
	if (!imap_cursor_sp(&c))
		return imap_bad_syntax(s, &c);
	if (!arg_mailbox(s, &c, &to))
		return -1;
	if (!imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if (!name_valid(to)) {
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		return -1;
	}
	if ((n = mailboxes(s, &mbs)) < 0)
		return -1;
	from_len = strlen(from);
	/* A name that has no row but children is the \Noselect superior
	 * LIST shows: renaming it renames the children (RFC 3501 6.3.5's
	 * "RENAME foo zowie"). */
	if ((mb = find_name(mbs, (size_t)n, from)) == NULL &&
	    !has_children(mbs, (size_t)n, from, from_len)) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return -1;
	}
	if (strcmp(to, "INBOX") == 0 || find_name(mbs, (size_t)n, to) != NULL) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
		return -1;
	}
	if (strncmp(to, from, from_len) == 0 && to[from_len] == '/') {
		imap_tagged(s, "NO", "[CANNOT] Cannot rename a mailbox into itself");
		return -1;
	}
	if (!mailbox_room(s, mbs, (size_t)n, to, strcmp(from, "INBOX") == 0))
		return -1;
	if (strcmp(from, "INBOX") == 0) {
		struct inbox_rename *ir = arena_zalloc(&s->cmd_arena, sizeof(*ir));

		ir->inbox = mb;
		ir->new_name = to;
		req = arena_zalloc(&s->cmd_arena, sizeof(*req));
		req->type = STORE_REQ_MAILBOX_CREATE;
		req->u.mailbox_create.user_id = s->user_id;
		req->u.mailbox_create.name = to;
		imap_session_submit(s, req, rename_inbox_created, ir);
		return 0;
	}
	b = arena_zalloc(&s->cmd_arena, sizeof(*b));
	b->ok_text = "RENAME completed";
	create_superiors(s, b, mbs, (size_t)n, to);
	/* The mailbox and every child keep their place below the new name. */
	for (int i = 0; i < n; i++) {
		const char *name = mbs[i].name;

		if (strcmp(name, from) != 0 &&
		    !(strncmp(name, from, from_len) == 0 && name[from_len] == '/'))
			continue;
		req = arena_zalloc(&s->cmd_arena, sizeof(*req));
		req->type = STORE_REQ_MAILBOX_RENAME;
		req->u.mailbox_rename.mailbox_id = mbs[i].id;
		req->u.mailbox_rename.new_name =
			arena_printf(&s->cmd_arena, "%s%s", to, name + from_len);
		mb_submit(s, b, req);
	}
	return 0;
}

/* The subscription list is bounded like the mailboxes: names stay on it
 * when their mailbox is deleted, so CREATE, SUBSCRIBE, DELETE in a loop
 * would otherwise grow it without end. */
#define IMAP_MAX_SUBSCRIPTIONS IMAP_MAX_MAILBOXES

static int subscribe(struct imap_session *s, struct str arg, bool on)
{
	struct store_reader *r = imap_session_reader(s);
	struct store_mailbox *mbs;
	const struct store_mailbox *mb;
	struct imap_cursor c;
	struct mb_batch *b;
	struct store_req *req;
	const char *name, **subs, *error = "store unavailable";
	bool listed = false;
	int n, k;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &name))
		return -1;
	if (!imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	if ((n = mailboxes(s, &mbs)) < 0)
		return -1;
	if (r == NULL || (k = store_subscriptions(r, &s->cmd_arena, s->user_id,
						  &subs, &error)) < 0)
		return imap_store_failed(s, "subscribe", error);
	mb = find_name(mbs, (size_t)n, name);
	if (mb != NULL)
		name = mb->name;	/* INBOX in any case */
	for (int i = 0; i < k && !listed; i++)
		listed = strcmp(subs[i], name) == 0;
	/* RFC 3501 6.3.6: SUBSCRIBE may check that the mailbox exists (it
	 * does here); UNSUBSCRIBE takes any name on the list, also one
	 * whose mailbox is gone. */
	if (mb == NULL && !listed) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return -1;
	}
	if (on && !listed && k >= IMAP_MAX_SUBSCRIPTIONS) {
		imap_tagged(s, "NO", "[LIMIT] At most %u subscriptions",
			    IMAP_MAX_SUBSCRIPTIONS);
		return -1;
	}
	b = arena_zalloc(&s->cmd_arena, sizeof(*b));
	b->ok_text = on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed";
	req = arena_zalloc(&s->cmd_arena, sizeof(*req));
	req->type = STORE_REQ_MAILBOX_SUBSCRIBE;
	req->u.mailbox_subscribe.user_id = s->user_id;
	req->u.mailbox_subscribe.name = name;
	req->u.mailbox_subscribe.subscribed = on;
	mb_submit(s, b, req);
	return 0;
}

int cmd_subscribe(void *session, struct str arg)
{
	return subscribe(session, arg, true);
}

int cmd_unsubscribe(void *session, struct str arg)
{
	return subscribe(session, arg, false);
}

/* ---- STATUS (and LIST-STATUS) ---- */

enum status_item {
	ST_MESSAGES = 1 << 0,
	ST_RECENT = 1 << 1,
	ST_UIDNEXT = 1 << 2,
	ST_UIDVALIDITY = 1 << 3,
	ST_UNSEEN = 1 << 4,
	ST_DELETED = 1 << 5,
	ST_SIZE = 1 << 6,
	ST_HIGHESTMODSEQ = 1 << 7,
	ST_APPENDLIMIT = 1 << 8,
	ST_DELETED_STORAGE = 1 << 9,
};

static const struct {
	const char *name;
	unsigned bit;
} status_names[] = {
	{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
	{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
	{ "DELETED", ST_DELETED }, { "SIZE", ST_SIZE },
	{ "HIGHESTMODSEQ", ST_HIGHESTMODSEQ }, { "RECENT", ST_RECENT },
	{ "APPENDLIMIT", ST_APPENDLIMIT },
	{ "DELETED-STORAGE", ST_DELETED_STORAGE },
};

/* "(" item *(SP item) ")"; RFC 9051 has no RECENT item: an IMAP4rev2
 * session that asks for it gets BAD. */
static bool parse_status_items(struct imap_cursor *c, bool rev2,
			       unsigned *items_r)
{
	struct str name;

	*items_r = 0;
	if (!imap_cursor_skip_char(c, '(')) {
		c->error = "expected a list of status items";
		return false;
	}
	do {
		size_t i;

		if (!imap_cursor_atom(c, &name))
			return false;
		for (i = 0; i < ARRAY_SIZE(status_names); i++) {
			if (str_caseeq(name, str_c(status_names[i].name)))
				break;
		}
		if (i == ARRAY_SIZE(status_names) ||
		    (rev2 && status_names[i].bit == ST_RECENT)) {
			c->error = rev2 && i < ARRAY_SIZE(status_names) ?
				   "no RECENT in IMAP4rev2 (RFC 9051)" :
				   "unknown status item";
			return false;
		}
		*items_r |= status_names[i].bit;
	} while (imap_cursor_sp(c));
	if (!imap_cursor_skip_char(c, ')')) {
		c->error = "expected ')'";
		return false;
	}
	return true;
}

/* What STATUS items read beyond the mailbox row. */
struct status_vals {
	uint64_t size, deleted_size;
	uint32_t deleted, recent;
};

/* Read what items need for mb (not the selected view's \Recent, which
 * the caller takes from the view). Runs where r is: on a read pool thread
 * it touches no session. 0, or -1 with *error_r (r's). */
static int status_read(struct store_reader *r, const struct store_mailbox *mb,
		       unsigned items, struct status_vals *vals,
		       const char **error_r)
{
	*vals = (struct status_vals){ 0 };
	if ((items & (ST_SIZE | ST_DELETED | ST_DELETED_STORAGE)) != 0) {
		struct store_mailbox_status st;
		int ret = store_mailbox_status(r, mb->id, &st, error_r);

		if (ret < 0)
			return -1;
		/* Deleted since it was looked up: it is empty now. */
		if (ret > 0) {
			vals->size = st.size;
			vals->deleted = st.deleted;
			vals->deleted_size = st.deleted_size;
		}
	}
	if ((items & ST_RECENT) != 0 &&
	    imap_recent_count_read(r, mb, &vals->recent, error_r) < 0)
		return -1;
	return 0;
}

/* Append "* STATUS name (...)\r\n" (the session's thread). */
static void status_format(struct imap_session *s,
			  const struct store_mailbox *mb, unsigned items,
			  const struct status_vals *vals, struct strbuf *out)
{
	bool first = true;
	uint32_t recent = vals->recent;

	/* The selected mailbox: this session's own \Recent. */
	if (s->view != NULL && s->view->mailbox_id == mb->id)
		recent = (uint32_t)s->view->n_recent;
	strbuf_append_c(out, "* STATUS ");
	imap_session_write_name(s, out, mb->name);
	strbuf_append_c(out, " (");
#define ITEM(bit, fmt, val) \
	do { \
		if ((items & (bit)) != 0) { \
			strbuf_printf(out, "%s" fmt, first ? "" : " ", val); \
			first = false; \
		} \
	} while (0)
	ITEM(ST_MESSAGES, "MESSAGES %u", mb->messages);
	ITEM(ST_RECENT, "RECENT %u", recent);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", mb->uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", mb->uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %u", mb->unseen);
	ITEM(ST_DELETED, "DELETED %u", vals->deleted);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)vals->size);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	     (unsigned long long)mb->highestmodseq);
	ITEM(ST_APPENDLIMIT, "APPENDLIMIT %llu",
	     (unsigned long long)s->server->set.max_append_size);
	/* RFC 9208 4.2.2, in the KiB of the STORAGE resource (rounded up
	 * as its usage is, cmd_quota.c) */
	ITEM(ST_DELETED_STORAGE, "DELETED-STORAGE %llu",
	     (unsigned long long)((vals->deleted_size + 1023) / 1024));
#undef ITEM
	strbuf_append_c(out, ")\r\n");
}

/* IMAP4rev2 has no RECENT: STATUS refused it, LIST-STATUS leaves it
 * out. */
static unsigned status_items(const struct imap_session *s, unsigned items)
{
	return s->rev2 ? items & ~(unsigned)ST_RECENT : items;
}

/* LIST-STATUS: "* STATUS" of mb, read here; -1 (reply queued) on a store
 * error. */
static int write_status(struct imap_session *s, const struct store_mailbox *mb,
			unsigned items, struct strbuf *out)
{
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	struct status_vals vals;

	items = status_items(s, items);
	if (r == NULL || status_read(r, mb, items, &vals, &error) < 0)
		return imap_store_failed(s, "store", error);
	status_format(s, mb, items, &vals, out);
	return 0;
}

/* STATUS: what the read needs and what it brings back. */
struct status_state {
	int64_t user_id;
	const char *name;
	unsigned items;
	struct store_mailbox mb;
	struct status_vals vals;
	int found;
};

/* On a read pool thread, or inline. */
static void status_cmd_read(struct store_reader *r, struct imap_read *rd,
			    void *arg)
{
	struct status_state *st = arg;
	const char *error = NULL;

	st->found = store_mailbox_by_name(r, &rd->arena, st->user_id, st->name,
					  &st->mb, &error);
	if (st->found > 0 &&
	    status_read(r, &st->mb, st->items, &st->vals, &error) < 0)
		st->found = -1;
	if (st->found < 0)
		imap_read_error(rd, error);
}

static int status_cmd_done(struct imap_session *s, struct imap_read *rd,
			   void *arg)
{
	struct status_state *st = arg;
	struct strbuf out = STRBUF_INIT;

	if (mailbox_read(s, rd, st->found) <= 0)
		return -1;
	if ((st->items & ST_HIGHESTMODSEQ) != 0)
		imap_view_condstore(s);	/* a CONDSTORE-enabling command */
	status_format(s, &st->mb, st->items, &st->vals, &out);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "STATUS completed");
	return 1;
}

int cmd_status(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct status_state *st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	struct imap_cursor c;

	imap_cursor_init(&c, arg);
	if (!arg_mailbox(s, &c, &st->name))
		return -1;
	if (!imap_cursor_sp(&c) ||
	    !parse_status_items(&c, s->rev2, &st->items) ||
	    !imap_cursor_at_end(&c))
		return imap_bad_syntax(s, &c);
	st->items = status_items(s, st->items);
	st->user_id = s->user_id;
	return imap_session_read(s, status_cmd_read, status_cmd_done, st);
}

/* ---- LIST / LSUB ---- */

/* list-mailbox (RFC 3501): 1*list-char | string; then mUTF-7 decoded
 * unless UTF8=ACCEPT. The token module has no list-char reader, so this
 * file reads the atom form itself. */
static bool cursor_list_mailbox(struct imap_session *s, struct imap_cursor *c,
				const char **pattern_r)
{
	struct strbuf dec = STRBUF_INIT;
	struct str raw;
	int ch = imap_cursor_peek(c);

	if (ch == '"' || ch == '{') {
		if (!imap_cursor_string(c, &s->cmd_arena, &raw))
			return false;
	} else {
		const char *start = c->p;

		while (c->p < c->end) {
			unsigned char u = (unsigned char)*c->p;

			if (u <= 0x20 || u >= 0x7f || strchr("(){\"\\", u) != NULL)
				break;
			c->p++;
		}
		raw = str_make(start, (size_t)(c->p - start));
		if (raw.n == 0) {
			c->error = "expected a mailbox pattern";
			return false;
		}
	}
	if (s->utf8 || mutf7_decode(raw.p, raw.n, &dec) < 0) {
		*pattern_r = arena_strndup(&s->cmd_arena, raw.p, raw.n);
	} else {
		*pattern_r = arena_strndup(&s->cmd_arena, strbuf_cstr(&dec),
					   dec.n);
	}
	strbuf_free(&dec);
	return true;
}

/* A pattern (reference included) whose first level is INBOX in any case
 * names INBOX. */
static const char *pattern_inbox(struct imap_session *s, const char *ref,
				 const char *pat)
{
	char *full = arena_printf(&s->cmd_arena, "%s%s", ref, pat);

	if (strncasecmp(full, "INBOX", 5) == 0 &&
	    (full[5] == '\0' || full[5] == '/'))
		memcpy(full, "INBOX", 5);
	return full;
}

enum list_sel {
	SEL_SUBSCRIBED = 1 << 0,
	SEL_SPECIAL_USE = 1 << 1,
	SEL_RECURSIVE = 1 << 2,
};
enum list_ret {
	RET_SUBSCRIBED = 1 << 0,
	RET_CHILDREN = 1 << 1,
	RET_SPECIAL_USE = 1 << 2,
	RET_STATUS = 1 << 3,
};

/* Patterns in one LIST-EXTENDED list (RFC 5258 3); each pattern, the
 * reference prepended, is at most IMAP_PATTERN_MAX bytes. */
#define LIST_MAX_PATTERNS 64
/* One slice of LIST: name bytes times pattern words, a STATUS counting
 * LIST_STATUS_WORK; then the command yields to the thread's other
 * sessions. About a millisecond. */
#define LIST_SLICE_WORK (1u << 20)
#define LIST_STATUS_WORK 4096u
/* An entry's children lookup and its line, besides its pattern match. */
#define LIST_ENTRY_WORK 64u

struct list_req {
	unsigned sel, ret, status_items;
	const char **patterns;
	struct imap_pattern **compiled;
	size_t n_patterns;
	bool lsub;
	bool extended;		/* LIST-EXTENDED syntax: options or a list */
	bool root;		/* the one pattern is "": the root is asked */
	bool over_limit;	/* a pattern too long, or too many: NO [LIMIT] */
};

/* "(" [atom *(SP atom)] ")" calling fn for each atom. */
static bool parse_opts(struct imap_cursor *c, struct list_req *lr,
		       bool (*fn)(struct imap_cursor *c, struct list_req *lr,
				  struct str word))
{
	struct str word;

	if (!imap_cursor_skip_char(c, '(')) {
		c->error = "expected '('";
		return false;
	}
	if (imap_cursor_skip_char(c, ')'))
		return true;
	do {
		if (!imap_cursor_atom(c, &word) || !fn(c, lr, word))
			return false;
	} while (imap_cursor_sp(c));
	if (!imap_cursor_skip_char(c, ')')) {
		c->error = "expected ')'";
		return false;
	}
	return true;
}

static bool sel_opt(struct imap_cursor *c, struct list_req *lr,
		    struct str word)
{
	if (str_caseeq(word, STR_LIT("SUBSCRIBED")))
		lr->sel |= SEL_SUBSCRIBED;
	else if (str_caseeq(word, STR_LIT("SPECIAL-USE")))
		lr->sel |= SEL_SPECIAL_USE;
	else if (str_caseeq(word, STR_LIT("RECURSIVEMATCH")))
		lr->sel |= SEL_RECURSIVE;
	else if (!str_caseeq(word, STR_LIT("REMOTE"))) {
		c->error = "unknown LIST selection option";
		return false;
	}
	return true;
}

static bool ret_opt(struct imap_cursor *c, struct list_req *lr,
		    struct str word)
{
	if (str_caseeq(word, STR_LIT("SUBSCRIBED")))
		lr->ret |= RET_SUBSCRIBED;
	else if (str_caseeq(word, STR_LIT("CHILDREN")))
		lr->ret |= RET_CHILDREN;
	else if (str_caseeq(word, STR_LIT("SPECIAL-USE")))
		lr->ret |= RET_SPECIAL_USE;
	else if (str_caseeq(word, STR_LIT("STATUS"))) {
		if (!imap_cursor_sp(c) ||
		    !parse_status_items(c, false, &lr->status_items))
			return false;
		lr->ret |= RET_STATUS;
	} else {
		c->error = "unknown LIST return option";
		return false;
	}
	return true;
}

/* Compile ref + pat into the request; past a bound the command goes on
 * being parsed (a syntax error is still BAD) and then gets NO [LIMIT]. */
static void add_pattern(struct imap_session *s, struct list_req *lr,
			const char *ref, const char *pat)
{
	struct imap_pattern *p;
	const char *full;

	if (lr->n_patterns == LIST_MAX_PATTERNS ||
	    strlen(ref) + strlen(pat) > IMAP_PATTERN_MAX) {
		lr->over_limit = true;
		return;
	}
	full = pattern_inbox(s, ref, pat);
	p = imap_pattern_compile(&s->cmd_arena, str_c(full));
	ASSERT(p != NULL);
	lr->patterns[lr->n_patterns] = full;
	lr->compiled[lr->n_patterns++] = p;
}

static bool parse_list(struct imap_session *s, struct imap_cursor *c,
		       struct list_req *lr)
{
	const char *ref, *pat;
	struct str word;

	/* LIST-EXTENDED selection options. */
	if (imap_cursor_peek(c) == '(') {
		lr->extended = true;
		if (!parse_opts(c, lr, sel_opt) || !imap_cursor_sp(c))
			return false;
		if ((lr->sel & SEL_RECURSIVE) != 0 &&
		    (lr->sel & ~SEL_RECURSIVE) == 0) {
			c->error = "RECURSIVEMATCH needs another option";
			return false;
		}
	}
	if (!cursor_list_mailbox(s, c, &ref) || !imap_cursor_sp(c))
		return false;
	lr->patterns = arena_alloc(&s->cmd_arena, LIST_MAX_PATTERNS *
				   sizeof(*lr->patterns));
	lr->compiled = arena_alloc(&s->cmd_arena, LIST_MAX_PATTERNS *
				   sizeof(*lr->compiled));
	if (imap_cursor_skip_char(c, '(')) {
		lr->extended = true;
		do {
			if (!cursor_list_mailbox(s, c, &pat))
				return false;
			add_pattern(s, lr, ref, pat);
		} while (imap_cursor_sp(c));
		if (!imap_cursor_skip_char(c, ')')) {
			c->error = "expected ')'";
			return false;
		}
	} else {
		if (!cursor_list_mailbox(s, c, &pat))
			return false;
		add_pattern(s, lr, ref, pat);
		lr->root = pat[0] == '\0';
	}
	if (imap_cursor_at_end(c))
		return true;
	/* RETURN options. */
	if (!imap_cursor_sp(c) || !imap_cursor_atom(c, &word) ||
	    !str_caseeq(word, STR_LIT("RETURN")) || !imap_cursor_sp(c)) {
		c->error = "expected RETURN (...)";
		return false;
	}
	lr->extended = true;
	return parse_opts(c, lr, ret_opt) && imap_cursor_at_end(c);
}

/* One name LIST may show: a mailbox, a subscribed name whose mailbox is
 * gone (RFC 3501 6.3.6 keeps it), or the missing superior of either
 * (mb NULL: \Noselect or \NonExistent). */
struct list_entry {
	const char *name;	/* NUL-terminated once list_entries returns */
	size_t len;
	const struct store_mailbox *mb;
	bool subscribed;
	size_t order;		/* mailboxes, subscribed names, superiors:
				 * of one name the first is kept */
	/* filled by the marking pass (list_mark) */
	bool matched;		/* a pattern matches the name */
	bool sub_below;		/* a subscribed name lies below */
	bool sub_unmatched;	/* ... and one of them matches no pattern */
	ssize_t parent;		/* index of the entry one level up, or -1 */
};

static int entry_name_cmp(const void *pa, const void *pb)
{
	const struct list_entry *a = pa, *b = pb;
	int r = memcmp(a->name, b->name, MIN(a->len, b->len));

	if (r != 0)
		return r;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void add_entry(struct list_entry *e, size_t *k, const char *name,
		      size_t len, const struct store_mailbox *mb,
		      bool subscribed)
{
	e[*k] = (struct list_entry){ .name = name, .len = len, .mb = mb,
				     .subscribed = subscribed, .order = *k,
				     .parent = -1 };
	(*k)++;
}

/* The entry named name[0..len) in e (sorted by name), or -1. */
static ssize_t find_entry(const struct list_entry *e, size_t n,
			  const char *name, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = memcmp(e[mid].name, name, MIN(e[mid].len, len));

		if (r == 0 && e[mid].len == len)
			return (ssize_t)mid;
		if (r < 0 || (r == 0 && e[mid].len < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The mailboxes, the subscribed names without one, and the superiors of
 * both, each name once (the mailbox when there is one, else the
 * subscription), sorted by name (strcmp: each name before the names
 * below it): sorting finds the duplicates and each entry's parent, so a
 * user with thousands of mailboxes costs n log n, not n^2. */
static size_t list_entries(struct imap_session *s,
			   const struct store_mailbox *mbs, size_t n,
			   const char *const *subs, size_t n_subs,
			   struct list_entry **entries_r)
{
	size_t total = n + n_subs, k = 0, kept = 0, base;
	struct list_entry *e;

	for (size_t i = 0; i < n + n_subs; i++) {
		const char *name = i < n ? mbs[i].name : subs[i - n];

		for (const char *p = strchr(name, '/'); p != NULL;
		     p = strchr(p + 1, '/'))
			total++;
	}
	e = arena_alloc(&s->cmd_arena, (total + 1) * sizeof(*e));
	for (size_t i = 0; i < n; i++)
		add_entry(e, &k, mbs[i].name, strlen(mbs[i].name), &mbs[i],
			  mbs[i].subscribed);
	for (size_t i = 0; i < n_subs; i++)
		add_entry(e, &k, subs[i], strlen(subs[i]), NULL, true);
	base = k;
	for (size_t i = 0; i < base; i++) {
		const char *name = e[i].name;

		for (const char *p = strchr(name, '/'); p != NULL;
		     p = strchr(p + 1, '/'))
			add_entry(e, &k, name, (size_t)(p - name), NULL, false);
	}
	qsort(e, k, sizeof(*e), entry_name_cmp);
	for (size_t i = 0; i < k; i++) {
		if (kept > 0 && e[kept - 1].len == e[i].len &&
		    memcmp(e[kept - 1].name, e[i].name, e[i].len) == 0)
			continue;
		e[kept++] = e[i];
	}
	for (size_t i = 0; i < kept; i++) {
		const char *slash;

		if (e[i].order >= n)
			e[i].name = arena_strndup(&s->cmd_arena, e[i].name,
						  e[i].len);
		slash = memrchr(e[i].name, '/', e[i].len);
		if (slash != NULL)
			e[i].parent = find_entry(e, kept, e[i].name,
						 (size_t)(slash - e[i].name));
	}
	*entries_r = e;
	return kept;
}

static int name_cmp(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The sign of strcmp(name, prefix + "/"). */
static int below_cmp(const char *name, const char *prefix, size_t len)
{
	int r = strncmp(name, prefix, len);

	if (r != 0)
		return r;
	return (int)(unsigned char)name[len] - '/';
}

/* Whether a name of sorted (ascending, strcmp) lies below prefix: the
 * names "prefix/..." follow each other there. */
static bool has_below(const char *const *sorted, size_t n, const char *prefix)
{
	size_t len = strlen(prefix), lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (below_cmp(sorted[mid], prefix, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strncmp(sorted[lo], prefix, len) == 0 &&
	       sorted[lo][len] == '/';
}

/* A LIST between slices (cmd_arena): first the marking pass over the
 * entries, then the output in name order. */
struct list_state {
	const struct list_req *lr;
	struct list_entry *entries;	/* sorted by name */
	size_t n_entries, pos;
	bool marked;			/* the marking pass is done */
	const char **names;		/* the mailboxes, sorted */
	size_t n_names;
	size_t cost;		/* work per name byte: the patterns' words */
};

/* The marking pass, from the end of the name order (each name after its
 * superiors) back: whether each name matches, and what is subscribed
 * below it (for RECURSIVEMATCH and LSUB's "%"), passed to the parent. */
static void list_mark(struct list_state *st, struct list_entry *e,
		      size_t *work)
{
	const struct list_req *lr = st->lr;
	struct list_entry *up;

	*work += (e->len + 1) * st->cost;
	for (size_t p = 0; p < lr->n_patterns && !e->matched; p++)
		e->matched = imap_pattern_match(lr->compiled[p],
						str_make(e->name, e->len));
	if (e->parent < 0)
		return;
	up = &st->entries[e->parent];
	up->sub_below |= e->subscribed || e->sub_below;
	up->sub_unmatched |= (e->subscribed && !e->matched) ||
			     e->sub_unmatched;
}

/* One entry into out: -1 on a store error (reply queued). */
static int list_one(struct imap_session *s, struct list_state *st,
		    const struct list_entry *e, struct strbuf *out,
		    size_t *work)
{
	const struct list_req *lr = st->lr;
	const struct store_mailbox *mb = e->mb;
	const char *name = e->name;
	bool children, childinfo = false, first = true, noselect = false;
	bool by_child = false;	/* shown for what is subscribed below */
	const char *use = mb != NULL ? mb->special_use : "";

	if (!e->matched)
		return 0;
	children = has_below(st->names, st->n_names, name);
	if (lr->lsub) {
		/* RFC 3501 6.3.9: a name that is not subscribed shows, as
		 * \Noselect, when "%" hides a subscribed name below it. */
		if (!e->subscribed) {
			if (!e->sub_unmatched)
				return 0;
			noselect = true;
		}
	} else if ((lr->sel & SEL_SUBSCRIBED) != 0) {
		/* RFC 5258 3 and the \NonExistent rule of RFC 9051 7.3.1:
		 * with RECURSIVEMATCH a name that is not subscribed shows
		 * when a subscribed name below it does not match the
		 * pattern (RFC 5258 example 9), and CHILDINFO goes with
		 * every name shown that has one below. */
		if (!e->subscribed) {
			if ((lr->sel & SEL_RECURSIVE) == 0 || !e->sub_unmatched)
				return 0;
			by_child = true;
		}
		childinfo = (lr->sel & SEL_RECURSIVE) != 0 && e->sub_below;
	} else if (mb == NULL && !children) {
		return 0;	/* only a subscription's name: it does not exist */
	}
	if ((lr->sel & SEL_SPECIAL_USE) != 0 && use[0] == '\0')
		return 0;
	strbuf_printf(out, "* %s (", lr->lsub ? "LSUB" : "LIST");
#define ATTR(text) \
	do { \
		strbuf_printf(out, "%s%s", first ? "" : " ", text); \
		first = false; \
	} while (0)
	if (noselect)
		ATTR("\\Noselect");
	else if (mb == NULL && !lr->lsub)
		/* RFC 5258 3: \NonExistent (it implies \Noselect) where
		 * the client spoke LIST-EXTENDED; RFC 3501's \Noselect to
		 * the others */
		ATTR(lr->extended ? "\\NonExistent" : "\\Noselect");
	if (!lr->lsub || (lr->ret & RET_CHILDREN) != 0)
		ATTR(children ? "\\HasChildren" : "\\HasNoChildren");
	if (use[0] != '\0')
		ATTR(use);
	if (e->subscribed && !lr->lsub &&
	    ((lr->ret & RET_SUBSCRIBED) != 0 ||
	     (lr->sel & SEL_SUBSCRIBED) != 0))
		ATTR("\\Subscribed");
#undef ATTR
	strbuf_append_c(out, ") \"/\" ");
	imap_session_write_name(s, out, name);
	if (childinfo)
		strbuf_append_c(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	strbuf_append_c(out, "\r\n");
	/* RFC 5819: no STATUS for a name that is not a mailbox or is
	 * shown only for what lies below it. */
	if ((lr->ret & RET_STATUS) != 0 && mb != NULL && !by_child) {
		*work += LIST_STATUS_WORK;
		return write_status(s, mb, lr->status_items, out);
	}
	return 0;
}

/* A slice of the work: 1 done (tagged reply queued), 0 to be continued
 * (yielded, or waiting for the client to read), -1 failed. */
static int list_continue(struct imap_session *s)
{
	struct list_state *st = s->cmd_state;
	struct strbuf out = STRBUF_INIT;
	size_t work = 0;
	int ret = 0;

	for (; !st->marked && st->pos < st->n_entries; st->pos++) {
		if (work > LIST_SLICE_WORK) {
			imap_session_yield(s);
			return 0;
		}
		list_mark(st, &st->entries[st->n_entries - 1 - st->pos], &work);
	}
	if (!st->marked) {
		st->marked = true;
		st->pos = 0;
	}
	for (; st->pos < st->n_entries && ret == 0; st->pos++) {
		if (work > LIST_SLICE_WORK || out.n > IMAP_OUTPUT_HIGH / 4 ||
		    conn_output_pending(s->core.conn) > IMAP_OUTPUT_HIGH)
			break;
		work += LIST_ENTRY_WORK;
		ret = list_one(s, st, &st->entries[st->pos], &out, &work);
	}
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	if (ret < 0)
		return -1;
	if (st->pos < st->n_entries) {
		/* A full output buffer resumes from on_drained. */
		if (conn_output_pending(s->core.conn) <= IMAP_OUTPUT_HIGH)
			imap_session_yield(s);
		return 0;
	}
	imap_tagged(s, "OK", "%s completed", st->lr->lsub ? "LSUB" : "LIST");
	return 1;
}

static int list_start(struct imap_session *s, const struct list_req *lr)
{
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable", **subs = NULL;
	struct list_state *st;
	struct store_mailbox *mbs;
	size_t n_subs = 0;
	int n;

	if (lr->over_limit) {
		imap_tagged(s, "NO", "[LIMIT] At most %u patterns of at most "
			    "%u bytes each, reference included",
			    LIST_MAX_PATTERNS, IMAP_PATTERN_MAX);
		return -1;
	}
	if (lr->root && !lr->lsub) {
		/* RFC 3501 6.3.8: the delimiter and the root, whatever the
		 * reference ("The value returned as the root MAY be the
		 * empty string if the reference is non-rooted": one
		 * namespace without a prefix here). */
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK", "LIST completed");
		return 1;
	}
	if ((n = mailboxes(s, &mbs)) < 0)
		return -1;
	st = arena_zalloc(&s->cmd_arena, sizeof(*st));
	st->lr = lr;
	st->names = arena_alloc(&s->cmd_arena, ((size_t)n + 1) *
				sizeof(*st->names));
	for (int i = 0; i < n; i++)
		st->names[st->n_names++] = mbs[i].name;
	qsort(st->names, st->n_names, sizeof(*st->names), name_cmp);
	/* The subscribed names that have no mailbox: only what selects by
	 * subscription shows them. */
	if ((lr->sel & SEL_SUBSCRIBED) != 0) {
		const char **all;
		int k;

		if (r == NULL || (k = store_subscriptions(r, &s->cmd_arena,
							  s->user_id, &all,
							  &error)) < 0)
			return imap_store_failed(s, "list", error);
		subs = arena_alloc(&s->cmd_arena, ((size_t)k + 1) *
				   sizeof(*subs));
		for (int i = 0; i < k; i++) {
			if (bsearch(&all[i], st->names, st->n_names,
				    sizeof(*st->names), name_cmp) == NULL)
				subs[n_subs++] = all[i];
		}
	}
	st->n_entries = list_entries(s, mbs, (size_t)n, subs, n_subs,
				     &st->entries);
	for (size_t p = 0; p < lr->n_patterns; p++)
		st->cost += imap_pattern_cost(lr->compiled[p]);
	s->cmd_state = st;
	s->cont = list_continue;
	return list_continue(s);
}

int cmd_list(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct list_req *lr = arena_zalloc(&s->cmd_arena, sizeof(*lr));
	struct imap_cursor c;

	imap_cursor_init(&c, arg);
	if (!parse_list(s, &c, lr))
		return imap_bad_syntax(s, &c);
	return list_start(s, lr);
}

int cmd_lsub(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct list_req *lr = arena_zalloc(&s->cmd_arena, sizeof(*lr));
	struct imap_cursor c;

	lr->sel = SEL_SUBSCRIBED;
	lr->lsub = true;
	imap_cursor_init(&c, arg);
	if (imap_cursor_peek(&c) == '(' || !parse_list(s, &c, lr))
		return imap_bad_syntax(s, &c);
	if (lr->ret != 0) {
		c.error = "LSUB takes no RETURN options";
		return imap_bad_syntax(s, &c);
	}
	return list_start(s, lr);
}

int cmd_namespace(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "NAMESPACE takes no arguments");
		return -1;
	}
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
	return 1;
}
