/* imap_view.c: the selected mailbox as one session sees it: the sequence
 * number <-> UID snapshot, brought up to date after change events from the
 * messages and expunges newer than its highest modseq, into untagged
 * EXPUNGE/VANISHED, FLAGS, EXISTS, RECENT and FETCH responses. Expunges wait
 * while RFC 3501 7.4.1 forbids them; a keyword is announced in FLAGS before
 * a FETCH shows it; \Recent goes to one session per message. */
#include "base/log.h"
#include "net/net.h"
#include "proto/imap/imap_int.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

/* \Recent (RFC 3501 2.3.2): a message is \Recent in the first read-write
 * session to see it, and in no later one, across restarts too. The store
 * keeps per mailbox the highest UID taken (recent_uid, as Dovecot's
 * first_recent_uid); a session takes the messages above it by raising
 * it. The store's writer is asynchronous and a view's sync cannot wait for
 * it, so the taking itself is decided here, under one lock for the
 * process, and written to the store behind (STORE_REQ_MAILBOX_RECENT; a
 * crash before that write makes those messages \Recent once more). With
 * several nodes on one database each node decides for its own sessions.
 * Marks are keyed by UIDVALIDITY too: a mailbox id may come back. */
static struct {
	pthread_mutex_t lock;
	struct recent_mark {
		int64_t mailbox_id;
		uint32_t uidvalidity;
		uint32_t uid;
	} *marks;
	size_t n, cap;
} recent_marks = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

/* The mark of a mailbox: the higher of the store's (stored) and the one
 * kept here. When take, it is raised to upto. Returns the mark before. */
static uint32_t recent_mark(int64_t mailbox_id, uint32_t uidvalidity,
			    uint32_t stored, uint32_t upto, bool take)
{
	size_t lo = 0, hi;
	struct recent_mark *m;
	uint32_t old;

	pthread_mutex_lock(&recent_marks.lock);
	hi = recent_marks.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (recent_marks.marks[mid].mailbox_id < mailbox_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == recent_marks.n ||
	    recent_marks.marks[lo].mailbox_id != mailbox_id) {
		if (!take) {
			pthread_mutex_unlock(&recent_marks.lock);
			return stored;
		}
		if (recent_marks.n == recent_marks.cap) {
			recent_marks.cap = recent_marks.cap * 2 + 16;
			recent_marks.marks = xrealloc(recent_marks.marks,
				recent_marks.cap * sizeof(*recent_marks.marks));
		}
		memmove(&recent_marks.marks[lo + 1], &recent_marks.marks[lo],
			(recent_marks.n - lo) * sizeof(*recent_marks.marks));
		recent_marks.marks[lo] = (struct recent_mark){
			mailbox_id, uidvalidity, stored };
		recent_marks.n++;
	}
	m = &recent_marks.marks[lo];
	if (m->uidvalidity != uidvalidity) {
		/* Another mailbox under the same id now. */
		m->uidvalidity = uidvalidity;
		m->uid = stored;
	}
	old = MAX(m->uid, stored);
	if (take && upto > old)
		m->uid = upto;
	else
		m->uid = old;
	pthread_mutex_unlock(&recent_marks.lock);
	return old;
}

void imap_recent_reset(void)
{
	pthread_mutex_lock(&recent_marks.lock);
	free(recent_marks.marks);
	recent_marks.marks = NULL;
	recent_marks.n = recent_marks.cap = 0;
	pthread_mutex_unlock(&recent_marks.lock);
}

/* Runs on the session's I/O thread; the session may be gone. */
static void recent_stored(void *arg, struct store_result *res)
{
	if (res->status != 0)
		log_error(NULL, "imap recent: %s", res->error);
	store_result_free(&res);
	free(arg);
}

/* Write a raised mark to the store; nobody waits for it. */
static void recent_store(struct imap_session *s, int64_t mailbox_id,
			 uint32_t uid)
{
	struct store_req *req = xcalloc(1, sizeof(*req));

	req->type = STORE_REQ_MAILBOX_RECENT;
	req->u.mailbox_recent.mailbox_id = mailbox_id;
	req->u.mailbox_recent.uid = uid;
	store_submit(session_store(&s->core), req,
		     net_thread_task_queue(conn_thread(s->core.conn)),
		     recent_stored, req);
}

/* The UID above which the messages up to upto are \Recent in this view:
 * a read-write IMAP4rev1 view takes them, EXAMINE shows them without
 * taking them (RFC 3501 6.3.2), an IMAP4rev2 session has no \Recent
 * (RFC 9051) and takes none, so that a rev1 client still sees them. */
static uint32_t view_recent_from(struct imap_session *s, struct imap_view *v,
				 uint32_t stored, uint32_t upto)
{
	bool take = !v->readonly && !s->rev2;
	uint32_t old;

	if (s->rev2)
		return UINT32_MAX;
	old = recent_mark(v->mailbox_id, v->uidvalidity, stored, upto, take);
	if (take && upto > old && s->core.conn != NULL)
		recent_store(s, v->mailbox_id, upto);
	return old;
}

int imap_recent_count_read(struct store_reader *r,
			   const struct store_mailbox *mb, uint32_t *count_r,
			   const char **error_r)
{
	uint32_t mark = recent_mark(mb->id, mb->uidvalidity, mb->recent_uid,
				    0, false);

	return store_msg_count_above(r, mb->id, mark, count_r, error_r);
}

void imap_view_forget_recent(struct imap_view *v)
{
	if (v == NULL)
		return;
	memset(v->recent, 0, v->n * sizeof(*v->recent));
	v->n_recent = 0;
}

/* ---- keywords: the FLAGS list a session was given ---- */

/* "NIL" is not a flag name (imap_token.h): left out of what a client is
 * shown should one be stored (it was taken before). */
static bool keyword_shown(struct str kw)
{
	return kw.n > 0 && !str_caseeq(kw, STR_LIT("NIL"));
}

/* Index of kw in the sorted list, or where it goes (*found_r false). */
static size_t keyword_find(const struct imap_view *v, struct str kw,
			   bool *found_r)
{
	size_t lo = 0, hi = v->n_kw;

	*found_r = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = v->kw[mid];
		size_t n = strlen(k);
		int cmp = strncasecmp(k, kw.p, MIN(n, kw.n));

		if (cmp == 0)
			cmp = n < kw.n ? -1 : n > kw.n ? 1 : 0;
		if (cmp == 0) {
			*found_r = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add the keywords of a message to the list; a new one makes the list
 * due to be sent again (RFC 3501 7.2.6) before any FETCH shows it. */
static void view_note_keywords(struct imap_view *v, const char *keywords)
{
	struct str rest = str_c(keywords), kw;

	while (rest.n > 0) {
		size_t at;
		bool found;

		if (!str_split(rest, ' ', &kw, &rest))
			rest = STR_NULL;
		if (!keyword_shown(kw))
			continue;
		at = keyword_find(v, kw, &found);
		if (found)
			continue;
		if (v->n_kw == v->cap_kw) {
			v->cap_kw = v->cap_kw * 2 + 8;
			v->kw = xrealloc(v->kw, v->cap_kw * sizeof(*v->kw));
		}
		memmove(&v->kw[at + 1], &v->kw[at],
			(v->n_kw - at) * sizeof(*v->kw));
		v->kw[at] = arena_strndup(&v->arena, kw.p, kw.n);
		v->n_kw++;
		v->kw_pending = true;
	}
}

void imap_view_write_flag_lists(const struct imap_view *v,
				struct strbuf *out)
{
	strbuf_append_c(out, "* FLAGS (\\Answered \\Flagged \\Deleted "
			"\\Seen \\Draft");
	for (size_t i = 0; i < v->n_kw; i++)
		strbuf_printf(out, " %s", v->kw[i]);
	strbuf_append_c(out, ")\r\n");
	if (v->readonly) {
		strbuf_append_c(out, "* OK [PERMANENTFLAGS ()] "
				"Read-only mailbox\r\n");
		return;
	}
	/* As Dovecot: the keywords in use, and \* for new ones. */
	strbuf_append_c(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
			"\\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->n_kw; i++)
		strbuf_printf(out, " %s", v->kw[i]);
	strbuf_append_c(out, " \\*)] Flags permitted\r\n");
}

static const struct {
	uint32_t bit;
	const char *name;
} flag_names[] = {
	{ STORE_FLAG_SEEN, "\\Seen" },
	{ STORE_FLAG_ANSWERED, "\\Answered" },
	{ STORE_FLAG_FLAGGED, "\\Flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted" },
	{ STORE_FLAG_DRAFT, "\\Draft" },
};

/* Room for at least want entries. */
static void view_reserve(struct imap_view *v, size_t want)
{
	if (want <= v->cap)
		return;
	v->cap = MAX(want, v->cap + v->cap / 2 + 16);
	v->msgs = xrealloc(v->msgs, v->cap * sizeof(*v->msgs));
	v->recent = xrealloc(v->recent, v->cap * sizeof(*v->recent));
	v->expunged = xrealloc(v->expunged, v->cap * sizeof(*v->expunged));
}

/* Whether a stored keyword list holds a word not shown (keyword_shown). */
static bool keywords_hidden(const char *keywords)
{
	struct str rest = str_c(keywords), kw;

	while (rest.n > 0) {
		if (!str_split(rest, ' ', &kw, &rest))
			rest = STR_NULL;
		if (!keyword_shown(kw))
			return true;
	}
	return false;
}

/* The keywords of a message as the view keeps them: malloc'd (freed with
 * view_keywords_free when they change or the message goes, so that a
 * session storing keywords in a loop does not grow), without the words
 * not shown; most messages have none and share "". Noted in the FLAGS
 * list. */
static const char *view_keywords(struct imap_view *v, const char *keywords)
{
	struct strbuf b = STRBUF_INIT;
	struct str rest, kw;

	if (keywords == NULL || keywords[0] == '\0')
		return "";
	view_note_keywords(v, keywords);
	if (!keywords_hidden(keywords))
		return xstrdup(keywords);
	for (rest = str_c(keywords); rest.n > 0;) {
		if (!str_split(rest, ' ', &kw, &rest))
			rest = STR_NULL;
		if (keyword_shown(kw))
			strbuf_printf(&b, "%s%.*s", b.n > 0 ? " " : "",
				      (int)kw.n, kw.p);
	}
	if (b.n == 0) {
		strbuf_free(&b);
		return "";
	}
	return strbuf_detach(&b, NULL);
}

static void view_keywords_free(const char *keywords)
{
	if (keywords[0] != '\0')
		free((char *)keywords);
}

/* Append m (a UID above every other) to the view. */
static void view_put(struct imap_view *v, const struct store_msg *m,
		     bool recent)
{
	view_reserve(v, v->n + 1);
	v->msgs[v->n] = *m;
	v->msgs[v->n].keywords = view_keywords(v, m->keywords);
	v->recent[v->n] = recent;
	v->expunged[v->n] = false;
	v->n_recent += recent;
	v->n++;
}

int imap_view_load(struct store_reader *r, struct arena *a, int64_t user_id,
		   const char *name, struct imap_view_data *d,
		   const char **error_r)
{
	int ret;

	/* The mailbox row and its messages from one snapshot, so that
	 * UIDNEXT, HIGHESTMODSEQ and the \Recent mark fit the list. */
	d->msgs = NULL;
	d->n = 0;
	if (store_reader_begin(r, error_r) < 0)
		return -1;
	ret = store_mailbox_by_name(r, a, user_id, name, &d->mb, error_r);
	if (ret > 0 && (d->n = store_msg_list(r, a, d->mb.id, &d->msgs,
					      error_r)) < 0)
		ret = -1;
	store_reader_end(r);
	return ret;
}

struct imap_view *imap_view_make(struct imap_session *s,
				 const struct imap_view_data *d, bool readonly)
{
	const struct store_mailbox *mb = &d->mb;
	uint32_t recent_from = UINT32_MAX;
	struct imap_view *v = xcalloc(1, sizeof(*v));
	int n = d->n;

	v->mailbox_id = mb->id;
	v->name = xstrdup(mb->name);
	v->junk = strstr(mb->special_use, "\\Junk") != NULL;
	v->readonly = readonly;
	v->uidvalidity = mb->uidvalidity;
	v->uidnext = mb->uidnext;
	v->highestmodseq = mb->highestmodseq;
	arena_init(&v->arena, 0);
	view_reserve(v, (size_t)n);
	if (n > 0)
		recent_from = view_recent_from(s, v, mb->recent_uid,
					       d->msgs[n - 1].uid);
	for (int i = 0; i < n; i++)
		view_put(v, &d->msgs[i], d->msgs[i].uid > recent_from);
	v->n_reported = v->n;
	v->kw_pending = false;	/* SELECT sends the list */
	return v;
}

void imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++)
		view_keywords_free(v->msgs[i].keywords);
	arena_deinit(&v->arena);
	free(v->kw);
	free(v->msgs);
	free(v->recent);
	free(v->expunged);
	free(v->name);
	free(v);
	*vp = NULL;
}

void imap_view_write_flags(const struct imap_view *v, size_t i,
			   struct strbuf *out)
{
	const struct store_msg *m = &v->msgs[i];
	bool first = true;

	strbuf_putc(out, '(');
	for (size_t f = 0; f < ARRAY_SIZE(flag_names); f++) {
		if ((m->flags & flag_names[f].bit) == 0)
			continue;
		strbuf_printf(out, "%s%s", first ? "" : " ", flag_names[f].name);
		first = false;
	}
	if (v->recent[i]) {
		strbuf_printf(out, "%s\\Recent", first ? "" : " ");
		first = false;
	}
	if (m->keywords != NULL && m->keywords[0] != '\0')
		strbuf_printf(out, "%s%s", first ? "" : " ", m->keywords);
	strbuf_putc(out, ')');
}

void imap_write_uid_set(struct strbuf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			strbuf_putc(out, ',');
		if (j > i)
			strbuf_printf(out, "%u:%u", uids[i], uids[j]);
		else
			strbuf_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

ssize_t imap_view_find_uid(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

uint32_t imap_view_max_uid(const struct imap_view *v)
{
	return v->n > 0 ? v->msgs[v->n - 1].uid : 0;
}

size_t imap_view_resolve(const struct imap_view *v,
			 const struct imap_seqset *set, bool uid,
			 struct arena *a, size_t **idx_r)
{
	size_t *idx = arena_alloc(a, (v->n + 1) * sizeof(*idx));
	uint32_t max = uid ? imap_view_max_uid(v) : (uint32_t)v->n;
	size_t n = 0;

	for (size_t i = 0; i < v->n; i++) {
		uint32_t key = uid ? v->msgs[i].uid : (uint32_t)(i + 1);

		if (imap_seqset_contains(set, key, max))
			idx[n++] = i;
	}
	*idx_r = idx;
	return n;
}

bool imap_view_seqs_valid(const struct imap_view *v,
			  const struct imap_seqset *set)
{
	/* The ranges are sorted: the last one ends highest. */
	if (set->n > 0 && set->ranges[set->n - 1].hi > v->n)
		return false;
	return !set->star || set->star_from <= v->n;
}

struct store_uid_range *imap_view_uid_ranges(const struct imap_view *v,
					     const size_t *idx, size_t n,
					     struct arena *a, size_t *n_r)
{
	struct store_uid_range *r = arena_alloc(a, (n + 1) * sizeof(*r));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t uid = v->msgs[idx[i]].uid;

		if (k > 0 && r[k - 1].hi + 1 == uid)
			r[k - 1].hi = uid;
		else
			r[k++] = (struct store_uid_range){ uid, uid };
	}
	*n_r = k;
	return r;
}

void imap_seqset_of_ranges(const struct store_uid_range *r, size_t n,
			   struct arena *a, struct imap_seqset *set_r)
{
	set_r->ranges = arena_alloc(a, (n + 1) * sizeof(*set_r->ranges));
	for (size_t i = 0; i < n; i++) {
		set_r->ranges[i].lo = r[i].lo;
		set_r->ranges[i].hi = r[i].hi;
	}
	set_r->n = n;
	set_r->star = false;
	set_r->star_from = 0;
}

/* Send the pending expunges and drop them from the view. */
static void view_send_expunges(struct imap_session *s, struct imap_view *v)
{
	struct strbuf out = STRBUF_INIT;
	uint32_t *uids = xmalloc((v->n_expunged + 1) * sizeof(*uids));
	size_t n_uids = 0, k = 0;

	/* Highest sequence number first, so that each EXPUNGE names the
	 * number the client still has for that message. */
	for (size_t i = v->n; i-- > 0 && !s->qresync;) {
		if (!v->expunged[i])
			continue;
		/* Only what the client was told of can go (RFC 3501 7.4.1:
		 * EXPUNGE names a number it has). */
		ASSERT(i < v->n_reported);
		strbuf_printf(&out, "* %zu EXPUNGE\r\n", i + 1);
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->expunged[i]) {
			uids[n_uids++] = v->msgs[i].uid;
			v->n_recent -= v->recent[i];
			view_keywords_free(v->msgs[i].keywords);
			continue;
		}
		v->msgs[k] = v->msgs[i];
		v->recent[k] = v->recent[i];
		v->expunged[k] = false;
		k++;
	}
	if (s->qresync && n_uids > 0) {
		strbuf_append_c(&out, "* VANISHED ");
		imap_write_uid_set(&out, uids, n_uids);
		strbuf_append_c(&out, "\r\n");
	}
	v->n = k;
	v->n_expunged = 0;
	/* Every entry of the view has been reported in EXISTS. */
	v->n_reported -= MIN(v->n_reported, n_uids);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	free(uids);
}

static void view_mark_expunged(struct imap_view *v, size_t i)
{
	if (!v->expunged[i]) {
		v->expunged[i] = true;
		v->n_expunged++;
	}
}

/* Apply what changed in the store since v->highestmodseq: expunges are
 * marked, flag changes are applied in place (their UIDs, unless quiet or
 * expunged, go to *changed_r in tmp, ascending) and new messages are
 * appended. A message of quiet_uids is quiet when its modseq is at most
 * quiet_modseq: a later change is someone else's. Returns the count of
 * *changed_r or -1 (logged). */
static int view_catch_up(struct imap_session *s, struct imap_view *v,
			 const struct imap_seqset *quiet_uids,
			 uint64_t quiet_modseq,
			 struct arena *tmp, uint32_t **changed_r)
{
	struct store_reader *r = imap_session_reader(s);
	struct store_mailbox mb;
	struct store_msg *msgs;
	uint32_t *gone, *changed, max_uid, recent_from = UINT32_MAX;
	const char *error;
	int ret, n, n_gone;
	size_t n_changed = 0;

	*changed_r = NULL;
	if (r == NULL)
		return -1;
	ret = store_mailbox_by_id(r, tmp, v->mailbox_id, &mb, &error);
	if (ret == 0) {
		/* Deleted under us: every message is gone. */
		for (size_t i = 0; i < v->n; i++)
			view_mark_expunged(v, i);
		return 0;
	}
	/* Every change of the messages raises the modseq: when it did not
	 * move, a poll (NOOP, IDLE) costs this one read. */
	if (ret > 0 && mb.highestmodseq == v->highestmodseq)
		return 0;
	/* mb is read first: what changes after it is read again next time
	 * (applying a change twice is harmless). */
	if (ret < 0 ||
	    (n = store_msg_changed_since(r, tmp, v->mailbox_id,
					 v->highestmodseq, &msgs,
					 &error)) < 0 ||
	    (n_gone = store_expunged_since(r, tmp, v->mailbox_id,
					   v->highestmodseq, &gone,
					   &error)) < 0) {
		log_error(conn_sid(s->core.conn), "imap sync: %s", error);
		return -1;
	}
	v->uidnext = mb.uidnext;
	v->highestmodseq = mb.highestmodseq;
	for (int i = 0; i < n_gone; i++) {
		ssize_t x = imap_view_find_uid(v, gone[i]);

		if (x >= 0)
			view_mark_expunged(v, (size_t)x);
	}
	max_uid = imap_view_max_uid(v);
	if (n > 0 && msgs[n - 1].uid > max_uid)
		recent_from = view_recent_from(s, v, mb.recent_uid,
					       msgs[n - 1].uid);
	changed = arena_alloc(tmp, ((size_t)n + 1) * sizeof(*changed));
	for (int i = 0; i < n; i++) {
		const struct store_msg *m = &msgs[i];
		struct store_msg *old;
		ssize_t x;

		const char *keywords, *fresh = NULL;

		if (m->uid > max_uid) {
			view_put(v, m, m->uid > recent_from);
			continue;
		}
		x = imap_view_find_uid(v, m->uid);
		if (x < 0 || v->expunged[x])
			continue;
		old = &v->msgs[x];
		keywords = m->keywords != NULL ? m->keywords : "";
		if (strcmp(old->keywords, keywords) != 0) {
			/* Differs as stored; maybe not as shown (NIL). */
			fresh = view_keywords(v, keywords);
			if (strcmp(old->keywords, fresh) == 0) {
				view_keywords_free(fresh);
				fresh = NULL;
			}
		}
		if (old->flags == m->flags && old->modseq == m->modseq &&
		    fresh == NULL)
			continue;
		if (quiet_uids == NULL || m->modseq > quiet_modseq ||
		    !imap_seqset_contains(quiet_uids, m->uid, UINT32_MAX))
			changed[n_changed++] = m->uid;
		old->flags = m->flags;
		old->modseq = m->modseq;
		if (fresh != NULL) {
			view_keywords_free(old->keywords);
			old->keywords = fresh;
		}
	}
	*changed_r = changed;
	return (int)n_changed;
}

static int view_sync(struct imap_session *s, bool allow_expunge, bool force,
		     const struct imap_seqset *quiet_uids,
		     uint64_t quiet_modseq)
{
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT;
	uint32_t *changed = NULL;
	struct arena tmp;
	int n_changed = 0;

	if (v == NULL || s->core.conn == NULL)
		return 0;
	arena_init(&tmp, 0);
	if (v->changed || force) {
		n_changed = view_catch_up(s, v, quiet_uids, quiet_modseq,
					  &tmp, &changed);
		if (n_changed < 0) {
			arena_deinit(&tmp);
			return -1;
		}
		v->changed = false;
	}
	if (allow_expunge && v->n_expunged > 0)
		view_send_expunges(s, v);
	/* A new keyword is announced before the FETCH that shows it. */
	if (v->kw_pending) {
		imap_view_write_flag_lists(v, &out);
		v->kw_pending = false;
	}
	if (v->n != v->n_reported) {
		strbuf_printf(&out, "* %zu EXISTS\r\n", v->n);
		if (!s->rev2)
			strbuf_printf(&out, "* %zu RECENT\r\n", v->n_recent);
		v->n_reported = v->n;
	}
	for (int k = 0; k < n_changed; k++) {
		ssize_t x = imap_view_find_uid(v, changed[k]);

		if (x < 0)
			continue;
		strbuf_printf(&out, "* %zd FETCH (UID %u FLAGS ", x + 1,
			      v->msgs[x].uid);
		imap_view_write_flags(v, (size_t)x, &out);
		if (s->condstore)
			strbuf_printf(&out, " MODSEQ (%llu)",
				      (unsigned long long)v->msgs[x].modseq);
		strbuf_append_c(&out, ")\r\n");
	}
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	arena_deinit(&tmp);
	return 0;
}

void imap_view_condstore(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	/* A client that selected without CONDSTORE learns where the
	 * mod-sequences stand now (Dovecot answers so too). */
	if (s->view != NULL)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
			      (unsigned long long)s->view->highestmodseq);
}

int imap_view_sync(struct imap_session *s, bool allow_expunge, bool force,
		   const struct imap_seqset *quiet_uids)
{
	return view_sync(s, allow_expunge, force, quiet_uids, UINT64_MAX);
}

int imap_view_sync_store(struct imap_session *s, bool allow_expunge,
			 const struct imap_seqset *stored, uint64_t modseq)
{
	return view_sync(s, allow_expunge, true, stored, modseq);
}
