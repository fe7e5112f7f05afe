/* cmd_sort.c: SORT and UID SORT (RFC 5256, with RFC 5957's DISPLAYFROM and
 * DISPLAYTO): the SEARCH program picks the messages, imap_sort orders them
 * from the envelopes read in runs under one reader snapshot. */
#include "base/log.h"
#include "proto/imap/imap_int.h"
#include "proto/imap/imap_search.h"
#include "proto/imap/imap_sort.h"

#define SORT_META_RUN 512

/* The envelope of every matching message (msgs[i].envelope; NULL when the
 * message went meanwhile), read in runs of SORT_META_RUN rows. */
static int load_envelopes(struct imap_session *s, struct store_reader *r,
			  struct imap_sort_msg *msgs, const uint32_t *uids,
			  size_t n, const char **error_r)
{
	uint32_t hi = n > 0 ? uids[n - 1] : 0;
	size_t j = 0;

	while (j < n) {
		struct store_msg_meta *metas;
		uint32_t *got;
		int k = store_msg_meta_range(r, &s->cmd_arena,
					     s->view->mailbox_id, uids[j], hi,
					     SORT_META_RUN, &got, &metas,
					     error_r);

		if (k < 0)
			return -1;
		if (k == 0)
			break;
		for (int t = 0; t < k && j < n; t++) {
			while (j < n && uids[j] < got[t])
				j++;
			if (j < n && uids[j] == got[t])
				msgs[j++].envelope = metas[t].envelope;
		}
		while (j < n && uids[j] <= got[k - 1])
			j++;
	}
	return 0;
}

int cmd_sort(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_view *v = s->view;
	bool uid = (s->cmd->flags & IMAP_CMD_UID) != 0, badcharset = false;
	struct imap_search_opts opts = { 0 };
	const struct imap_search *prog;
	struct store_reader *r = NULL;
	struct imap_sort_msg *msgs;
	struct strbuf out = STRBUF_INIT;
	struct imap_sort sort;
	struct imap_cursor c;
	const char *error = "store unavailable";
	uint32_t *matches, *uids;
	uint64_t max_modseq = 0;
	struct str charset;
	int n;

	imap_cursor_init(&c, arg);
	if (!imap_sort_parse(&c, &sort) || !imap_cursor_sp(&c) ||
	    !imap_cursor_astring(&c, &s->cmd_arena, &charset) ||
	    !imap_cursor_sp(&c))
		return imap_bad_syntax(s, &c);
	if (!str_caseeq(charset, STR_LIT("UTF-8")) &&
	    !str_caseeq(charset, STR_LIT("US-ASCII"))) {
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return -1;
	}
	prog = imap_search_parse(&c, &s->cmd_arena, &opts, &badcharset);
	if (prog == NULL || opts.esearch)
		return imap_bad_syntax(s, &c);
	if (opts.modseq_used)
		s->condstore = true;	/* a CONDSTORE-enabling command */
	r = imap_session_reader(s);
	if (r == NULL || (n = imap_search_run(prog, r, &s->cmd_arena,
					      v->mailbox_id, v->msgs, v->recent,
					      v->n, &matches, &error)) < 0)
		goto fail;
	msgs = arena_zalloc(&s->cmd_arena, ((size_t)n + 1) * sizeof(*msgs));
	uids = arena_alloc(&s->cmd_arena, ((size_t)n + 1) * sizeof(*uids));
	for (int i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[matches[i]];

		msgs[i].seq = matches[i] + 1;
		msgs[i].internal_date = m->internal_date;
		msgs[i].size = m->size;
		uids[i] = m->uid;
		max_modseq = MAX(max_modseq, m->modseq);
	}
	if (sort.needs_envelope) {
		if (store_reader_begin(r, &error) < 0)
			goto fail;
		if (load_envelopes(s, r, msgs, uids, (size_t)n, &error) < 0) {
			store_reader_end(r);
			goto fail;
		}
		store_reader_end(r);
	}
	imap_sort_order(&sort, &s->cmd_arena, msgs, (size_t)n);
	strbuf_append_c(&out, "* SORT");
	for (int i = 0; i < n; i++)
		strbuf_printf(&out, " %u", uid ? v->msgs[msgs[i].seq - 1].uid :
			      msgs[i].seq);
	if (opts.modseq_used && n > 0)
		strbuf_printf(&out, " (MODSEQ %llu)",
			      (unsigned long long)max_modseq);
	strbuf_append_c(&out, "\r\n");
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "SORT completed");
	return 1;
fail:
	log_error(conn_sid(s->conn), "imap sort: %s", error);
	imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again later");
	return -1;
}
