/* imap_view.c: the selected mailbox as one session sees it: the sequence
 * number <-> UID snapshot, re-read after change events and diffed into
 * untagged EXPUNGE/VANISHED, EXISTS, RECENT and FETCH responses. Expunges
 * wait while RFC 3501 7.4.1 forbids them. O(n) per change per session. */
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

/* Copy msgs into the view's arrays (keywords into its arena). */
static void view_alloc(struct imap_view *v, size_t cap)
{
	v->msgs = arena_alloc(&v->arena, (cap + 1) * sizeof(*v->msgs));
	v->recent = arena_zalloc(&v->arena, cap + 1);
	v->expunged = arena_zalloc(&v->arena, cap + 1);
	v->n = 0;
}

static void view_put(struct imap_view *v, const struct store_msg *m,
		     bool recent, bool expunged)
{
	v->msgs[v->n] = *m;
	v->msgs[v->n].keywords = arena_strdup(&v->arena, m->keywords != NULL ?
					      m->keywords : "");
	v->recent[v->n] = recent;
	v->expunged[v->n] = expunged;
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
	view_alloc(v, (size_t)n);
	/* EXAMINE does not take \Recent away from others. */
	claimed = n == 0 ? UINT32_MAX : readonly ? UINT32_MAX :
		  recent_claim(mb->id, msgs[n - 1].uid);
	for (int i = 0; i < n; i++)
		view_put(v, &msgs[i], msgs[i].uid > claimed, false);
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
	for (size_t i = 0; i < set->n; i++) {
		const struct imap_seq_range *r = &set->ranges[i];

		if ((r->lo != UINT32_MAX && r->lo > v->n) ||
		    (r->hi != UINT32_MAX && r->hi > v->n))
			return false;
	}
	return true;
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
}

static bool msg_changed(const struct store_msg *a, const struct store_msg *b)
{
	return a->flags != b->flags || a->modseq != b->modseq ||
	       strcmp(a->keywords != NULL ? a->keywords : "",
		      b->keywords != NULL ? b->keywords : "") != 0;
}

/* Send the pending expunges and drop them from the view. */
static void view_send_expunges(struct imap_session *s, struct imap_view *v)
{
	struct strbuf out = STRBUF_INIT;
	uint32_t *uids = xmalloc((v->n + 1) * sizeof(*uids));
	size_t n_uids = 0, k = 0;

	/* Highest sequence number first, so that each EXPUNGE names the
	 * number the client still has for that message. */
	for (size_t i = v->n; i-- > 0;) {
		if (!v->expunged[i])
			continue;
		if (!s->qresync)
			strbuf_printf(&out, "* %zu EXPUNGE\r\n", i + 1);
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->expunged[i]) {
			uids[n_uids++] = v->msgs[i].uid;
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
	/* Every entry of the view has been reported in EXISTS. */
	v->n_reported -= MIN(v->n_reported, n_uids);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	free(uids);
}

int imap_view_sync(struct imap_session *s, bool allow_expunge, bool force,
		   const struct imap_seqset *quiet_uids)
{
	struct imap_view *v = s->view;
	struct store_reader *r;
	struct store_mailbox mb;
	struct store_msg *msgs;
	struct arena tmp, old_arena;
	struct store_msg *old_msgs;
	bool *old_recent, *old_expunged;
	size_t old_n, *changed, n_changed = 0, i = 0, j = 0;
	uint32_t claimed;
	struct strbuf out = STRBUF_INIT;
	const char *error;
	int n;

	if (v == NULL || s->conn == NULL)
		return 0;
	if (!v->changed && !force) {
		if (allow_expunge) {
			bool any = false;

			for (size_t k = 0; k < v->n && !any; k++)
				any = v->expunged[k];
			if (any)
				view_send_expunges(s, v);
		}
		return 0;
	}
	r = imap_session_reader(s);
	if (r == NULL)
		return -1;
	arena_init(&tmp, 0);
	if (store_mailbox_by_id(r, &tmp, v->mailbox_id, &mb, &error) != 1) {
		/* Deleted under us: every message is gone. */
		n = 0;
		msgs = NULL;
		mb.uidnext = v->uidnext;
		mb.highestmodseq = v->highestmodseq;
	} else if ((n = store_msg_list(r, &tmp, v->mailbox_id, &msgs,
				       &error)) < 0) {
		log_error(conn_sid(s->conn), "imap sync: %s", error);
		arena_deinit(&tmp);
		return -1;
	}
	v->changed = false;
	v->uidnext = mb.uidnext;
	v->highestmodseq = mb.highestmodseq;

	/* Merge by UID: old entries stay (marked when gone), new ones come
	 * at the end (UIDs only grow). */
	old_arena = v->arena;
	old_msgs = v->msgs;
	old_recent = v->recent;
	old_expunged = v->expunged;
	old_n = v->n;
	arena_init(&v->arena, 0);
	view_alloc(v, old_n + (size_t)n);
	claimed = n == 0 || v->readonly ? UINT32_MAX :
		  recent_claim(v->mailbox_id, msgs[n - 1].uid);
	changed = arena_alloc(&tmp, (old_n + 1) * sizeof(*changed));
	while (i < old_n || j < (size_t)n) {
		if (j >= (size_t)n ||
		    (i < old_n && old_msgs[i].uid < msgs[j].uid)) {
			view_put(v, &old_msgs[i], old_recent[i], true);
			i++;
		} else if (i >= old_n || msgs[j].uid > old_msgs[i].uid) {
			view_put(v, &msgs[j], msgs[j].uid > claimed, false);
			j++;
		} else {
			if (!old_expunged[i] &&
			    msg_changed(&old_msgs[i], &msgs[j]) &&
			    (quiet_uids == NULL ||
			     !imap_seqset_contains(quiet_uids, msgs[j].uid,
						   UINT32_MAX)))
				changed[n_changed++] = v->n;
			view_put(v, &msgs[j], old_recent[i], old_expunged[i]);
			i++;
			j++;
		}
	}
	arena_deinit(&old_arena);

	if (allow_expunge) {
		/* changed[] holds indexes from before the expunges: map them
		 * by UID afterwards. */
		uint32_t *cuids = arena_alloc(&tmp, (n_changed + 1) *
					      sizeof(*cuids));

		for (size_t k = 0; k < n_changed; k++)
			cuids[k] = v->msgs[changed[k]].uid;
		view_send_expunges(s, v);
		for (size_t k = 0; k < n_changed; k++)
			changed[k] = (size_t)imap_view_find_uid(v, cuids[k]);
	}
	if (v->n != v->n_reported) {
		size_t recent = 0;

		for (size_t k = 0; k < v->n; k++)
			recent += v->recent[k];
		strbuf_printf(&out, "* %zu EXISTS\r\n", v->n);
		if (!s->rev2)
			strbuf_printf(&out, "* %zu RECENT\r\n", recent);
		v->n_reported = v->n;
	}
	for (size_t k = 0; k < n_changed; k++) {
		size_t x = changed[k];

		strbuf_printf(&out, "* %zu FETCH (UID %u FLAGS ", x + 1,
			      v->msgs[x].uid);
		imap_view_write_flags(v, x, &out);
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
