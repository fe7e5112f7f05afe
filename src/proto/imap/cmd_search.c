/* cmd_search.c: SEARCH and UID SEARCH through imap_search: parse the
 * program, run it over the session's view (text keys through the store's
 * index) in slices that yield to the thread's other sessions, answer
 * SEARCH or ESEARCH. SORT and THREAD run their programs the same way. */
#include "base/log.h"
#include "proto/imap/imap_commands.h"
#include "proto/imap/imap_search.h"

/* Key evaluations per slice: a few milliseconds. */
#define SEARCH_SLICE (1u << 21)

int imap_search_badcharset(struct imap_session *s)
{
	imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
	return -1;
}

int imap_search_failed(struct imap_session *s, const struct imap_cursor *c,
		       enum imap_search_fail why)
{
	switch (why) {
	case IMAP_SEARCH_BADCHARSET:
		return imap_search_badcharset(s);
	case IMAP_SEARCH_LIMIT:
		/* RFC 5530: the program is valid, an implementation
		 * limit refuses it. */
		imap_tagged(s, "NO", "[LIMIT] %s (at most %u keys, %u of "
			    "them text)", c->error, IMAP_SEARCH_MAX_KEYS,
			    IMAP_SEARCH_MAX_TEXT);
		return -1;
	case IMAP_SEARCH_SYNTAX:
		break;
	}
	return imap_bad_syntax(s, c);
}

/* A search between slices (cmd_arena). */
struct search_run {
	struct imap_search_exec *exec;
	imap_search_done_fn *done;
	void *arg;
};

static int search_continue(struct imap_session *s)
{
	struct search_run *sr = s->cmd_state;
	const char *error = "store unavailable";
	uint32_t *matches;
	size_t n;
	int ret;

	ret = imap_search_step(sr->exec, s->view->msgs, s->view->recent,
			       SEARCH_SLICE, &error);
	if (ret < 0)
		return imap_store_failed(s, "search", error);
	if (ret == 0) {
		imap_session_yield(s);
		return 0;
	}
	n = imap_search_matches(sr->exec, &matches);
	s->cont = NULL;
	s->cmd_state = NULL;
	return sr->done(s, matches, n, sr->arg);
}

int imap_search_view(struct imap_session *s, const struct imap_search *prog,
		     const struct imap_search_opts *opts,
		     imap_search_done_fn *done, void *arg)
{
	struct imap_view *v = s->view;
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	struct search_run *sr = arena_zalloc(&s->cmd_arena, sizeof(*sr));

	if (opts->recent_used && s->rev2) {
		/* RFC 9051 took \Recent and these keys out of the grammar. */
		imap_tagged(s, "BAD", "No RECENT, NEW or OLD in IMAP4rev2");
		return -1;
	}
	if (opts->modseq_used)
		imap_view_condstore(s);	/* a CONDSTORE-enabling command */
	if (r == NULL || (sr->exec = imap_search_start(prog, r, &s->cmd_arena,
						       &s->msg_arena,
						       v->mailbox_id, v->msgs,
						       v->n, &error)) == NULL)
		return imap_store_failed(s, "search", error);
	sr->done = done;
	sr->arg = arg;
	s->cmd_state = sr;
	s->cont = search_continue;
	return search_continue(s);
}

/* SEARCH between the program and the reply. */
struct search_cmd {
	struct imap_search_opts opts;
	bool uid;
};

static int search_done(struct imap_session *s, const uint32_t *matches,
		       size_t n, void *arg)
{
	struct search_cmd *sc = arg;
	struct imap_view *v = s->view;
	struct strbuf out = STRBUF_INIT;
	uint32_t *values;
	uint64_t max_modseq = 0;

	values = arena_alloc(&s->cmd_arena, (n + 1) * sizeof(*values));
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[matches[i]];

		values[i] = sc->uid ? m->uid : matches[i] + 1;
		if (imap_search_returns(&sc->opts, i, n))
			max_modseq = MAX(max_modseq, m->modseq);
	}
	imap_search_render(&sc->opts, s->tag, sc->uid, values, n, max_modseq,
			   &out);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "SEARCH completed");
	return 1;
}

int cmd_search(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct search_cmd *sc = arena_zalloc(&s->cmd_arena, sizeof(*sc));
	const struct imap_search *prog;
	enum imap_search_fail why;
	struct imap_cursor c;

	sc->uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	imap_cursor_init(&c, arg);
	prog = imap_search_parse(&c, &s->cmd_arena, &sc->opts, &why);
	if (prog == NULL)
		return imap_search_failed(s, &c, why);
	if (s->rev2)
		sc->opts.esearch = true;
	return imap_search_view(s, prog, &sc->opts, search_done, sc);
}
