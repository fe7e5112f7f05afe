/* imap_view.c: the selected mailbox as one session sees it: the sequence
 * number <-> UID snapshot, brought up to date after change events from the
 * messages and expunges newer than its highest modseq, into untagged
 * EXPUNGE/VANISHED, EXISTS, RECENT and FETCH responses. Expunges wait while
 * RFC 3501 7.4.1 forbids them. */
#include "base/log.h"
#include "proto/imap/imap_int.h"

#include <pthread.h>
#include <string.h>

/* \Recent (RFC 3501 2.3.2): a message is recent for the first session
 * that sees it since the server started. Per mailbox, the highest UID any
 * session has seen, sorted by mailbox id. */
static struct {
	pthread_mutex_t lock;
	struct recent_mark {
		int64_t mailbox_id;
		uint32_t uid;
	} *marks;
	size_t n, cap;
} recent_marks = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

/* Claim the messages up to max_uid of a mailbox: returns the highest UID
 * claimed before (messages above it are recent for the caller). */
static uint32_t recent_claim(int64_t mailbox_id, uint32_t max_uid)
{
	size_t lo = 0, hi;
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
		if (recent_marks.n == recent_marks.cap) {
			recent_marks.cap = recent_marks.cap * 2 + 16;
			recent_marks.marks = xrealloc(recent_marks.marks,
				recent_marks.cap * sizeof(*recent_marks.marks));
		}
		memmove(&recent_marks.marks[lo + 1], &recent_marks.marks[lo],
			(recent_marks.n - lo) * sizeof(*recent_marks.marks));
		recent_marks.marks[lo] = (struct recent_mark){ mailbox_id, 0 };
		recent_marks.n++;
	}
	old = recent_marks.marks[lo].uid;
	if (max_uid > old)
		recent_marks.marks[lo].uid = max_uid;
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

/* Keywords in the view's arena; most messages have none and share "". */
static const char *view_keywords(struct imap_view *v, const char *keywords)
{
	if (keywords == NULL || keywords[0] == '\0')
		return "";
	return arena_strdup(&v->arena, keywords);
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

int imap_view_open(struct imap_session *s, const struct store_mailbox *mb,
		   bool readonly, struct imap_view **view_r,
		   const char **error_r)
{
	struct store_reader *r = imap_session_reader(s);
	struct imap_view *v;
	struct store_msg *msgs;
	struct arena tmp;
	uint32_t claimed;
	int n;

	if (r == NULL) {
		*error_r = "store unavailable";
		return -1;
	}
	arena_init(&tmp, 0);
	n = store_msg_list(r, &tmp, mb->id, &msgs, error_r);
	if (n < 0) {
		arena_deinit(&tmp);
		return -1;
	}
	v = xcalloc(1, sizeof(*v));
	v->mailbox_id = mb->id;
	v->name = xstrdup(mb->name);
	v->readonly = readonly;
	v->uidvalidity = mb->uidvalidity;
	v->uidnext = mb->uidnext;
	v->highestmodseq = mb->highestmodseq;
	arena_init(&v->arena, 0);
	view_reserve(v, (size_t)n);
	/* EXAMINE does not take \Recent away from others. */
	claimed = n == 0 ? UINT32_MAX : readonly ? UINT32_MAX :
		  recent_claim(mb->id, msgs[n - 1].uid);
	for (int i = 0; i < n; i++)
		view_put(v, &msgs[i], msgs[i].uid > claimed);
	v->n_reported = v->n;
	arena_deinit(&tmp);
	*view_r = v;
	return 0;
}

void imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;

	if (v == NULL)
		return;
	arena_deinit(&v->arena);
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

static bool msg_changed(const struct store_msg *a, const struct store_msg *b)
{
	return a->flags != b->flags || a->modseq != b->modseq ||
	       strcmp(a->keywords, b->keywords != NULL ? b->keywords : "") != 0;
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
		if (v->expunged[i])
			strbuf_printf(&out, "* %zu EXPUNGE\r\n", i + 1);
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->expunged[i]) {
			uids[n_uids++] = v->msgs[i].uid;
			v->n_recent -= v->recent[i];
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
 * appended. Returns the count of *changed_r or -1 (logged). */
static int view_catch_up(struct imap_session *s, struct imap_view *v,
			 const struct imap_seqset *quiet_uids,
			 struct arena *tmp, uint32_t **changed_r)
{
	struct store_reader *r = imap_session_reader(s);
	struct store_mailbox mb;
	struct store_msg *msgs;
	uint32_t *gone, *changed, max_uid, claimed = UINT32_MAX;
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
	if (n > 0 && msgs[n - 1].uid > max_uid && !v->readonly)
		claimed = recent_claim(v->mailbox_id, msgs[n - 1].uid);
	changed = arena_alloc(tmp, ((size_t)n + 1) * sizeof(*changed));
	for (int i = 0; i < n; i++) {
		const struct store_msg *m = &msgs[i];
		struct store_msg *old;
		ssize_t x;

		if (m->uid > max_uid) {
			view_put(v, m, m->uid > claimed);
			continue;
		}
		x = imap_view_find_uid(v, m->uid);
		if (x < 0 || v->expunged[x])
			continue;
		old = &v->msgs[x];
		if (!msg_changed(old, m))
			continue;
		if (quiet_uids == NULL ||
		    !imap_seqset_contains(quiet_uids, m->uid, UINT32_MAX))
			changed[n_changed++] = m->uid;
		old->flags = m->flags;
		old->modseq = m->modseq;
		if (strcmp(old->keywords, m->keywords != NULL ?
			   m->keywords : "") != 0)
			old->keywords = view_keywords(v, m->keywords);
	}
	*changed_r = changed;
	return (int)n_changed;
}

int imap_view_sync(struct imap_session *s, bool allow_expunge, bool force,
		   const struct imap_seqset *quiet_uids)
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
		n_changed = view_catch_up(s, v, quiet_uids, &tmp, &changed);
		if (n_changed < 0) {
			arena_deinit(&tmp);
			return -1;
		}
		v->changed = false;
	}
	if (allow_expunge && v->n_expunged > 0)
		view_send_expunges(s, v);
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
