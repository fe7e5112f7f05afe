/* cmd_search.c: SEARCH and UID SEARCH through imap_search: parse the
 * program, run it over the session's view (text keys through the store's
 * index), answer SEARCH or ESEARCH. */
#include "base/log.h"
#include "proto/imap/imap_int.h"
#include "proto/imap/imap_search.h"

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

int imap_search_view(struct imap_session *s, const struct imap_search *prog,
		     const struct imap_search_opts *opts, uint32_t **matches_r)
{
	struct imap_view *v = s->view;
	struct store_reader *r = imap_session_reader(s);
	const char *error = "store unavailable";
	int n;

	if (opts->modseq_used)
		s->condstore = true;	/* a CONDSTORE-enabling command */
	if (r == NULL || (n = imap_search_run(prog, r, &s->cmd_arena,
					      v->mailbox_id, v->msgs, v->recent,
					      v->n, matches_r, &error)) < 0)
		return imap_store_failed(s, "search", error);
	return n;
}

int cmd_search(void *session, struct str arg)
{
	struct imap_session *s = session;
	struct imap_view *v = s->view;
	bool uid = (s->cmd->flags & IMAP_CMD_UID) != 0;
	enum imap_search_fail why;
	struct imap_search_opts opts = { 0 };
	const struct imap_search *prog;
	struct strbuf out = STRBUF_INIT;
	struct imap_cursor c;
	uint32_t *matches, *values;
	uint64_t max_modseq = 0;
	int n;

	imap_cursor_init(&c, arg);
	prog = imap_search_parse(&c, &s->cmd_arena, &opts, &why);
	if (prog == NULL)
		return imap_search_failed(s, &c, why);
	if (s->rev2)
		opts.esearch = true;
	if ((n = imap_search_view(s, prog, &opts, &matches)) < 0)
		return -1;
	values = arena_alloc(&s->cmd_arena, ((size_t)n + 1) * sizeof(*values));
	for (int i = 0; i < n; i++) {
		const struct store_msg *m = &v->msgs[matches[i]];

		values[i] = uid ? m->uid : matches[i] + 1;
		max_modseq = MAX(max_modseq, m->modseq);
	}
	imap_search_render(&opts, s->tag, uid, values, (size_t)n, max_modseq,
			   &out);
	imap_write(s, out.p, out.n);
	strbuf_free(&out);
	imap_tagged(s, "OK", "SEARCH completed");
	return 1;
}
