/* cmd_sort.c: SORT and THREAD with their UID forms (RFC 5256, with RFC
 * 5957's DISPLAYFROM and DISPLAYTO): the SEARCH program picks the
 * messages, imap_sort orders them and imap_thread threads them, from the
 * envelopes read in runs under one reader snapshot. */
#include "base/log.h"
#include "mail/base_subject.h"
#include "mail/header.h"
#include "proto/imap/imap_envelope_read.h"
#include "proto/imap/imap_commands.h"
#include "proto/imap/imap_search.h"
#include "proto/imap/imap_sort.h"
#include "proto/imap/imap_thread.h"


#define SORT_META_RUN 512

/* The envelope of every matching message (envs[i]; NULL when the message
 * went meanwhile), read in runs of SORT_META_RUN rows. */
static int load_envelopes(struct imap_session *s, struct store_reader *r,
			  const char **envs, const uint32_t *uids, size_t n,
			  const char **error_r)
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
				envs[j++] = metas[t].envelope;
		}
		while (j < n && uids[j] <= got[k - 1])
			j++;
	}
	return 0;
}

/* "charset SP search-program" after the SORT criteria or the THREAD
 * algorithm: the program, or NULL when a reply went out (BAD or NO). */
static const struct imap_search *search_program(struct imap_session *s,
						struct imap_cursor *c,
						struct imap_search_opts *opts)
{
	const struct imap_search *prog;
	enum imap_search_fail why;
	struct str charset;

	if (!imap_cursor_sp(c) ||
	    !imap_cursor_astring(c, &s->cmd_arena, &charset) ||
	    !imap_cursor_sp(c)) {
		imap_bad_syntax(s, c);
		return NULL;
	}
	if (!imap_search_charset_ok(charset)) {
		imap_search_badcharset(s);
		return NULL;
	}
	prog = imap_search_parse(c, &s->cmd_arena, opts, &why);
	if (prog == NULL) {
		imap_search_failed(s, c, why);
		return NULL;
	}
	if (opts->esearch) {
		imap_bad_syntax(s, c);
		return NULL;
	}
	return prog;
}

/* The UIDs of the matching messages and, when wanted, their envelopes. */
static int matched_envelopes(struct imap_session *s, const uint32_t *matches,
			     size_t n, uint32_t **uids_r, const char ***envs_r,
			     const char **error_r)
{
	struct store_reader *r = imap_session_reader(s);
	uint32_t *uids = arena_alloc(&s->cmd_arena, (n + 1) * sizeof(*uids));
	int ret;

	for (size_t i = 0; i < n; i++)
		uids[i] = s->view->msgs[matches[i]].uid;
	*uids_r = uids;
	if (envs_r == NULL)
		return 0;
	*envs_r = arena_zalloc(&s->cmd_arena, (n + 1) * sizeof(**envs_r));
	if (r == NULL || store_reader_begin(r, error_r) < 0)
		return -1;
	ret = load_envelopes(s, r, *envs_r, uids, n, error_r);
	store_reader_end(r);
	return ret;
}

/* SORT or THREAD between the program and the reply. */
struct sort_cmd {
	struct imap_search_opts opts;
	struct imap_sort sort;
	enum imap_thread_alg alg;
	bool uid;
};

static int sort_done(struct imap_session *s, const uint32_t *matches,
		     size_t n, void *arg)
{
	struct sort_cmd *sc = arg;
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT;
	const char *error = "store unavailable";
	struct imap_sort_msg *msgs;
	const char **envs = NULL;
	uint32_t *uids;
	uint64_t max_modseq = 0;
	size_t k = 0;

	if (matched_envelopes(s, matches, n, &uids,
			      sc->sort.needs_envelope ? &envs : NULL, &error) < 0)
		return imap_store_failed(s, "sort/thread", error);
	msgs = arena_zalloc(&s->cmd_arena, (n + 1) * sizeof(*msgs));
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[matches[i]];

		/* Expunged by another session and not reported yet: its
		 * keys are gone with it, so it is left out rather than
		 * sorted as a message without headers. */
		if (envs != NULL && envs[i] == NULL)
			continue;
		msgs[k].seq = matches[i] + 1;
		msgs[k].internal_date = m->internal_date;
		msgs[k].size = m->size;
		msgs[k].envelope = envs != NULL ? envs[i] : NULL;
		max_modseq = MAX(max_modseq, m->modseq);
		k++;
	}
	n = k;
	imap_sort_order(&sc->sort, &s->cmd_arena, msgs, n);
	strbuf_append_c(&out, "* SORT");
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&out, " %u", sc->uid ?
			      v->msgs[msgs[i].seq - 1].uid : msgs[i].seq);
	if (sc->opts.modseq_used && n > 0)
		strbuf_printf(&out, " (MODSEQ %llu)",
			      (unsigned long long)max_modseq);
	strbuf_append_c(&out, "\r\n");
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "SORT completed");
	return 1;
}

int cmd_sort(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct sort_cmd *sc = arena_zalloc(&s->cmd_arena, sizeof(*sc));
	const struct imap_search *prog;
	struct imap_cursor c;

	sc->uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	imap_cursor_init(&c, arg);
	if (!imap_sort_parse(&c, &sc->sort))
		return imap_bad_syntax(s, &c);
	if ((prog = search_program(s, &c, &sc->opts)) == NULL)
		return -1;
	return imap_search_view(s, prog, &sc->opts, sort_done, sc);
}

/* The References ids of a message, read from its header (the envelope
 * does not carry them); 0 when it has none. */
static int references(struct imap_session *s, struct store_reader *r,
		      int64_t blob_id, const char ***ids_r, size_t *n_r,
		      const char **error_r)
{
	struct header_field f;
	const char *data;
	size_t size, pos = 0;
	int ret;

	*n_r = 0;
	arena_clear(&s->msg_arena);
	ret = store_blob_get(r, &s->msg_arena, blob_id, &data, &size, error_r);
	if (ret <= 0)
		return ret;
	size = header_section_size(str_make(data, size));
	while (header_next(str_make(data, size), &pos, &f)) {
		if (str_caseeq(f.name, STR_LIT("References"))) {
			*n_r = imap_thread_msgids(f.value, &s->cmd_arena,
						  ids_r);
			break;
		}
	}
	return 0;
}

static int thread_done(struct imap_session *s, const uint32_t *matches,
		       size_t n, void *arg)
{
	struct sort_cmd *sc = arg;
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT, sb = STRBUF_INIT;
	const char *error = "store unavailable";
	struct imap_thread_msg *msgs;
	struct store_reader *r;
	uint32_t *uids;
	const char **envs;
	size_t k = 0;

	if (matched_envelopes(s, matches, n, &uids, &envs, &error) < 0)
		return imap_store_failed(s, "sort/thread", error);
	msgs = arena_zalloc(&s->cmd_arena, (n + 1) * sizeof(*msgs));
	r = imap_session_reader(s);
	if (sc->alg == IMAP_THREAD_REFERENCES &&
	    (r == NULL || store_reader_begin(r, &error) < 0))
		return imap_store_failed(s, "sort/thread", error);
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[matches[i]];
		struct imap_thread_msg *t = &msgs[k];
		struct imap_envelope_fields env;
		const char **ids = NULL;

		/* Expunged meanwhile (see sort_done): without its ids it
		 * would stand alone and its replies lose their parent. */
		if (envs[i] == NULL)
			continue;
		k++;
		imap_envelope_read(envs[i], &s->cmd_arena, &env);
		t->seq = matches[i] + 1;
		t->value = sc->uid ? uids[i] : t->seq;
		t->date = imap_envelope_sent_date(&env, m->internal_date);
		strbuf_reset(&sb);
		t->reply = base_subject(&sb, env.subject);
		t->subject = arena_strndup(&s->cmd_arena, strbuf_cstr(&sb),
					   sb.n);
		if (sc->alg == IMAP_THREAD_ORDEREDSUBJECT)
			continue;
		if (imap_thread_msgids(env.message_id, &s->cmd_arena,
				       &ids) > 0)
			t->message_id = ids[0];
		if (references(s, r, m->blob_id, &ids, &t->n_refs,
			       &error) < 0) {
			store_reader_end(r);
			strbuf_free(&sb);
			return imap_store_failed(s, "sort/thread", error);
		}
		if (t->n_refs == 0 &&
		    imap_thread_msgids(env.in_reply_to, &s->cmd_arena,
				       &ids) > 0)
			t->n_refs = 1;
		t->refs = ids;
	}
	if (sc->alg == IMAP_THREAD_REFERENCES)
		store_reader_end(r);
	strbuf_free(&sb);
	strbuf_append_c(&out, k > 0 ? "* THREAD " : "* THREAD");
	imap_thread_render(sc->alg, &s->cmd_arena, msgs, k, &out);
	strbuf_append_c(&out, "\r\n");
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "THREAD completed");
	return 1;
}

int cmd_thread(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct sort_cmd *sc = arena_zalloc(&s->cmd_arena, sizeof(*sc));
	const struct imap_search *prog;
	struct imap_cursor c;
	struct str name;

	sc->uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	imap_cursor_init(&c, arg);
	if (!imap_cursor_atom(&c, &name))
		return imap_bad_syntax(s, &c);
	if (!imap_thread_alg_parse(name, &sc->alg)) {
		imap_tagged(s, "BAD", "Unknown threading algorithm");
		return -1;
	}
	if ((prog = search_program(s, &c, &sc->opts)) == NULL)
		return -1;
	return imap_search_view(s, prog, &sc->opts, thread_done, sc);
}
