/* cmd_search.c: SEARCH and UID SEARCH through imap_search: parse the
 * program, run it over the session's view (text keys through the store's
 * index) in slices that yield to the thread's other sessions, answer
 * SEARCH or ESEARCH. SORT and THREAD run their programs the same way. */
#include "base/log.h"
#include "proto/imap/imap_commands.h"
#include "proto/imap/imap_search.h"
#include "proto/common/session_read.h"

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
	/* What the slices read: set on the session's thread. The view does
	 * not change while the command is busy. */
	const struct imap_search *prog;
	struct arena *a, *scratch;
	int64_t mailbox_id;
	const struct store_msg *msgs;
	const bool *recent;
	size_t n;
	int ret;
};

/* One slice (the first one starts the run: its text keys through the
 * store's index), on a read pool thread or inline. */
static void search_read(struct store_reader *r, struct imap_read *rd,
			void *arg)
{
	struct search_run *sr = arg;
	const char *error = NULL;

	if (sr->exec == NULL) {
		sr->exec = imap_search_start(sr->prog, r, sr->a, sr->scratch,
					     sr->mailbox_id, sr->msgs, sr->n,
					     &error);
		if (sr->exec == NULL) {
			sr->ret = -1;
			imap_read_error(rd, error);
			return;
		}
	} else {
		imap_search_reader(sr->exec, r);
	}
	sr->ret = imap_search_step(sr->exec, sr->msgs, sr->recent,
				   SEARCH_SLICE, &error);
	if (sr->ret < 0)
		imap_read_error(rd, error);
}

static int search_continue(struct imap_session *s);

static int search_read_done(struct imap_session *s, struct imap_read *rd,
			    void *arg)
{
	struct search_run *sr = arg;
	uint32_t *matches;
	size_t n;

	if (rd->error != NULL)
		return imap_store_failed(s, "search", rd->error);
	if (sr->ret == 0) {
		/* On the pool the other sessions' reads had their turn in
		 * its queue; here, let the thread's other sessions go. */
		if (session_reads_pooled(&s->core))
			return search_continue(s);
		imap_session_yield(s);
		return 0;
	}
	n = imap_search_matches(sr->exec, &matches);
	s->cont = NULL;
	s->cmd_state = NULL;
	return sr->done(s, matches, n, sr->arg);
}

static int search_continue(struct imap_session *s)
{
	return imap_session_read(s, search_read, search_read_done,
				 s->cmd_state);
}

int imap_search_view(struct imap_session *s, const struct imap_search *prog,
		     const struct imap_search_opts *opts,
		     imap_search_done_fn *done, void *arg)
{
	struct imap_view *v = s->view;
	struct search_run *sr = arena_zalloc(&s->cmd_arena, sizeof(*sr));

	if (opts->recent_used && s->rev2) {
		/* RFC 9051 took \Recent and these keys out of the grammar. */
		imap_tagged(s, "BAD", "No RECENT, NEW or OLD in IMAP4rev2");
		return -1;
	}
	if (opts->modseq_used)
		imap_view_condstore(s);	/* a CONDSTORE-enabling command */
	sr->done = done;
	sr->arg = arg;
	sr->prog = prog;
	sr->a = &s->cmd_arena;
	sr->scratch = &s->msg_arena;
	sr->mailbox_id = v->mailbox_id;
	sr->msgs = v->msgs;
	sr->recent = v->recent;
	sr->n = v->n;
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
