/* imap_search.c: SEARCH keys as a tree. Text keys are answered by the
 * store's full-text index, once per key per run; everything else is
 * evaluated per message in memory. */
#include "proto/imap/imap_search.h"

#include "mail/imap_string.h"
#include "mail/rfc5322_date.h"

enum key_kind {
	KEY_ALL,
	KEY_FLAG,		/* flag set (or not, with KEY_NOT around) */
	KEY_KEYWORD,
	KEY_RECENT,
	KEY_NEW,		/* recent and not seen */
	KEY_TEXT,		/* store_search_text */
	KEY_BEFORE, KEY_ON, KEY_SINCE,		/* internal date */
	KEY_SENTBEFORE, KEY_SENTON, KEY_SENTSINCE,	/* Date: header */
	KEY_LARGER, KEY_SMALLER,
	KEY_SEQSET, KEY_UIDSET,
	KEY_MODSEQ,
	KEY_NOT, KEY_OR, KEY_AND,
};

struct search_key {
	enum key_kind kind;
	uint32_t flag;
	const char *keyword;
	int64_t date;
	uint64_t number;	/* size, modseq */
	struct imap_seqset set;
	/* KEY_TEXT */
	enum store_search_field field;
	const char *header, *needle;
	size_t text_index;
	/* KEY_NOT, KEY_OR: a (and b); KEY_AND: list */
	struct search_key *a, *b;
	struct search_key **list;
	size_t n_list;
};

struct imap_search {
	struct search_key *root;
	size_t n_keys;		/* nodes: the most one message costs */
	size_t n_text;
	bool sent_dates;	/* a SENT* key needs the envelopes */
};

struct parser {
	struct imap_cursor *c;
	struct arena *a;
	struct imap_search *s;
	struct imap_search_opts *opts;
	unsigned parens;	/* open parentheses */
	size_t n_keys;
	size_t n_scans;		/* text keys under 3 characters */
	bool limit;		/* a key past a bound: NO [LIMIT] */
};

static bool fail(struct imap_cursor *c, const char *error)
{
	if (c->error == NULL)
		c->error = error;
	return false;
}

static struct search_key *key_new(struct parser *p, enum key_kind kind)
{
	struct search_key *k = arena_zalloc(p->a, sizeof(*k));

	k->kind = kind;
	p->n_keys++;
	return k;
}

static struct search_key *parse_key(struct parser *p, unsigned depth);

/* key *(SP key) up to ')' (in_parens) or the end of the command */
static struct search_key *parse_list(struct parser *p, unsigned depth,
				     bool in_parens)
{
	struct search_key **list = NULL, *k, *ret = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		k = parse_key(p, depth);
		if (k == NULL)
			goto out;
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[n++] = k;
		if (in_parens ? imap_cursor_peek(p->c) == ')' :
				imap_cursor_at_end(p->c))
			break;
		if (!imap_cursor_sp(p->c))
			goto out;
	}
	if (n == 1) {
		ret = list[0];
	} else {
		ret = key_new(p, KEY_AND);
		ret->list = arena_alloc(p->a, n * sizeof(*list));
		memcpy(ret->list, list, n * sizeof(*list));
		ret->n_list = n;
	}
out:
	free(list);
	return ret;
}

/* The characters of s (UTF-8 lead bytes), counted up to max. */
static size_t utf8_chars(struct str s, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s.n && n < max; i++)
		n += ((unsigned char)s.p[i] & 0xc0) != 0x80;
	return n;
}

static bool parse_text(struct parser *p, struct search_key *k,
		       enum store_search_field field, const char *header)
{
	struct str s;

	if (!imap_cursor_sp(p->c) || !imap_cursor_astring(p->c, p->a, &s))
		return false;
	if (memchr(s.p, '\0', s.n) != NULL)
		return fail(p->c, "NUL in a search string");
	if (p->s->n_text == IMAP_SEARCH_MAX_TEXT) {
		p->limit = true;
		return fail(p->c, "Too many text search keys");
	}
	/* The index finds 3 characters or more; a shorter needle is a scan
	 * of all the mailbox's text. */
	if (utf8_chars(s, 3) < 3 && ++p->n_scans > IMAP_SEARCH_MAX_SCANS) {
		p->limit = true;
		return fail(p->c, "Too many text search keys of under 3 characters");
	}
	k->kind = KEY_TEXT;
	k->field = field;
	k->header = header;
	k->needle = arena_strndup(p->a, s.p, s.n);
	k->text_index = p->s->n_text++;
	return true;
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer: the
 * entry (per-flag modseqs) is accepted and ignored - one modseq per
 * message is kept. */
static bool parse_modseq(struct parser *p, struct search_key *k)
{
	struct str s;

	if (!imap_cursor_sp(p->c))
		return false;
	if (imap_cursor_peek(p->c) == '"') {
		if (!imap_cursor_string(p->c, p->a, &s) || !imap_cursor_sp(p->c) ||
		    !imap_cursor_atom(p->c, &s))
			return false;
		if (!str_caseeq(s, STR_LIT("priv")) &&
		    !str_caseeq(s, STR_LIT("shared")) &&
		    !str_caseeq(s, STR_LIT("all")))
			return fail(p->c, "Invalid MODSEQ entry type");
		if (!imap_cursor_sp(p->c))
			return false;
	}
	if (!imap_cursor_number64(p->c, &k->number))
		return false;
	k->kind = KEY_MODSEQ;
	p->opts->modseq_used = true;
	return true;
}

static const struct {
	const char *name;
	enum store_flag flag;
	bool set;
} flag_keys[] = {
	{ "ANSWERED", STORE_FLAG_ANSWERED, true },
	{ "DELETED", STORE_FLAG_DELETED, true },
	{ "DRAFT", STORE_FLAG_DRAFT, true },
	{ "FLAGGED", STORE_FLAG_FLAGGED, true },
	{ "SEEN", STORE_FLAG_SEEN, true },
	{ "UNANSWERED", STORE_FLAG_ANSWERED, false },
	{ "UNDELETED", STORE_FLAG_DELETED, false },
	{ "UNDRAFT", STORE_FLAG_DRAFT, false },
	{ "UNFLAGGED", STORE_FLAG_FLAGGED, false },
	{ "UNSEEN", STORE_FLAG_SEEN, false },
};

static const struct {
	const char *name;
	enum store_search_field field;
	const char *header;
} text_keys[] = {
	{ "BCC", STORE_SEARCH_ADDRESS, "Bcc" },
	{ "BODY", STORE_SEARCH_BODY, NULL },
	{ "CC", STORE_SEARCH_ADDRESS, "Cc" },
	{ "FROM", STORE_SEARCH_ADDRESS, "From" },
	{ "SUBJECT", STORE_SEARCH_HEADER, "Subject" },
	{ "TEXT", STORE_SEARCH_TEXT, NULL },
	{ "TO", STORE_SEARCH_ADDRESS, "To" },
};

static const struct {
	const char *name;
	enum key_kind kind;
} date_keys[] = {
	{ "BEFORE", KEY_BEFORE }, { "ON", KEY_ON }, { "SINCE", KEY_SINCE },
	{ "SENTBEFORE", KEY_SENTBEFORE }, { "SENTON", KEY_SENTON },
	{ "SENTSINCE", KEY_SENTSINCE },
};

static struct search_key *not_of(struct parser *p, struct search_key *k)
{
	struct search_key *n = key_new(p, KEY_NOT);

	n->a = k;
	return n;
}

static struct search_key *parse_named(struct parser *p, struct str name,
				      unsigned depth)
{
	struct imap_cursor *c = p->c;
	struct search_key *k = key_new(p, KEY_ALL);
	struct str s;

	for (size_t i = 0; i < ARRAY_SIZE(flag_keys); i++) {
		if (str_caseeq(name, str_c(flag_keys[i].name))) {
			k->kind = KEY_FLAG;
			k->flag = flag_keys[i].flag;
			return flag_keys[i].set ? k : not_of(p, k);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(text_keys); i++) {
		if (str_caseeq(name, str_c(text_keys[i].name)))
			return parse_text(p, k, text_keys[i].field,
					  text_keys[i].header) ? k : NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(date_keys); i++) {
		if (str_caseeq(name, str_c(date_keys[i].name))) {
			if (!imap_cursor_sp(c) || !imap_cursor_date(c, &k->date))
				return NULL;
			k->kind = date_keys[i].kind;
			if (k->kind >= KEY_SENTBEFORE)
				p->s->sent_dates = true;
			return k;
		}
	}
	if (str_caseeq(name, STR_LIT("ALL")))
		return k;
	if (str_caseeq(name, STR_LIT("RECENT"))) {
		k->kind = KEY_RECENT;
		p->opts->recent_used = true;
		return k;
	}
	if (str_caseeq(name, STR_LIT("NEW"))) {
		k->kind = KEY_NEW;
		p->opts->recent_used = true;
		return k;
	}
	if (str_caseeq(name, STR_LIT("OLD"))) {
		k->kind = KEY_RECENT;
		p->opts->recent_used = true;
		return not_of(p, k);
	}
	if (str_caseeq(name, STR_LIT("KEYWORD")) ||
	    str_caseeq(name, STR_LIT("UNKEYWORD"))) {
		if (!imap_cursor_sp(c) || !imap_cursor_atom(c, &s))
			return NULL;
		/* As in a flag list (imap_token.h): NIL names no flag. */
		if (str_caseeq(s, STR_LIT("NIL"))) {
			c->error = "NIL is not a flag name";
			return NULL;
		}
		k->kind = KEY_KEYWORD;
		k->keyword = arena_strndup(p->a, s.p, s.n);
		return name.p[0] == 'K' || name.p[0] == 'k' ? k : not_of(p, k);
	}
	if (str_caseeq(name, STR_LIT("HEADER"))) {
		struct str field;

		if (!imap_cursor_sp(c) || !imap_cursor_astring(c, p->a, &field))
			return NULL;
		if (field.n == 0 || memchr(field.p, '\0', field.n) != NULL) {
			fail(c, "Invalid header field name");
			return NULL;
		}
		return parse_text(p, k, STORE_SEARCH_HEADER,
				  arena_strndup(p->a, field.p, field.n)) ? k : NULL;
	}
	if (str_caseeq(name, STR_LIT("LARGER")) ||
	    str_caseeq(name, STR_LIT("SMALLER"))) {
		uint32_t n;

		/* RFC 9051 allows number64 here; sizes stay below 4 GiB */
		if (!imap_cursor_sp(c) || !imap_cursor_number(c, &n))
			return NULL;
		k->kind = str_caseeq(name, STR_LIT("LARGER")) ? KEY_LARGER :
								KEY_SMALLER;
		k->number = n;
		return k;
	}
	if (str_caseeq(name, STR_LIT("UID"))) {
		if (!imap_cursor_sp(c) || !imap_cursor_seqset(c, p->a, &k->set))
			return NULL;
		k->kind = KEY_UIDSET;
		return k;
	}
	if (str_caseeq(name, STR_LIT("MODSEQ")))
		return parse_modseq(p, k) ? k : NULL;
	if (str_caseeq(name, STR_LIT("NOT"))) {
		if (!imap_cursor_sp(c))
			return NULL;
		k->kind = KEY_NOT;
		k->a = parse_key(p, depth + 1);
		return k->a != NULL ? k : NULL;
	}
	if (str_caseeq(name, STR_LIT("OR"))) {
		if (!imap_cursor_sp(c))
			return NULL;
		k->kind = KEY_OR;
		k->a = parse_key(p, depth + 1);
		if (k->a == NULL || !imap_cursor_sp(c))
			return NULL;
		k->b = parse_key(p, depth + 1);
		return k->b != NULL ? k : NULL;
	}
	fail(c, "Unknown search key");
	return NULL;
}

static struct search_key *parse_key(struct parser *p, unsigned depth)
{
	struct imap_cursor *c = p->c;
	int ch = imap_cursor_peek(c);
	struct search_key *k;
	struct str name;

	if (depth >= IMAP_SEARCH_MAX_DEPTH) {
		fail(c, "Search keys nested too deep");
		return NULL;
	}
	/* Nodes, as evaluated: UNSEEN is NOT SEEN, a list an AND. */
	if (p->n_keys >= IMAP_SEARCH_MAX_KEYS) {
		p->limit = true;
		fail(c, "Too many search keys");
		return NULL;
	}
	if (ch == '(') {
		if (p->parens >= IMAP_SEARCH_MAX_PARENS) {
			fail(c, "Search keys nested too deep");
			return NULL;
		}
		c->p++;
		p->parens++;
		k = parse_list(p, depth + 1, true);
		p->parens--;
		if (k == NULL)
			return NULL;
		if (!imap_cursor_skip_char(c, ')')) {
			fail(c, "Expected )");
			return NULL;
		}
		return k;
	}
	if ((ch >= '0' && ch <= '9') || ch == '*') {
		k = key_new(p, KEY_SEQSET);
		return imap_cursor_seqset(c, p->a, &k->set) ? k : NULL;
	}
	if (!imap_cursor_atom(c, &name))
		return NULL;
	return parse_named(p, name, depth);
}

static bool parse_return(struct parser *p)
{
	struct imap_cursor *c = p->c;
	struct str opt;

	if (!imap_cursor_sp(c) || !imap_cursor_skip_char(c, '('))
		return fail(c, "Expected RETURN (...)");
	p->opts->esearch = true;
	if (imap_cursor_skip_char(c, ')')) {
		p->opts->ret_all = true;
		return true;
	}
	for (;;) {
		if (!imap_cursor_atom(c, &opt))
			return false;
		if (str_caseeq(opt, STR_LIT("MIN")))
			p->opts->ret_min = true;
		else if (str_caseeq(opt, STR_LIT("MAX")))
			p->opts->ret_max = true;
		else if (str_caseeq(opt, STR_LIT("ALL")))
			p->opts->ret_all = true;
		else if (str_caseeq(opt, STR_LIT("COUNT")))
			p->opts->ret_count = true;
		else
			return fail(c, "Unknown RETURN option");
		if (imap_cursor_skip_char(c, ')'))
			return true;
		if (!imap_cursor_sp(c))
			return false;
	}
}

/* Is the next word `kw` followed by SP? (RETURN, CHARSET) */
static bool next_is(struct imap_cursor *c, const char *kw)
{
	size_t n = strlen(kw);

	return (size_t)(c->end - c->p) > n && strncasecmp(c->p, kw, n) == 0 &&
	       c->p[n] == ' ';
}

bool imap_search_charset_ok(struct str charset)
{
	return str_caseeq(charset, STR_LIT("UTF-8")) ||
	       str_caseeq(charset, STR_LIT("US-ASCII"));
}

struct imap_search *imap_search_parse(struct imap_cursor *c, struct arena *a,
				      struct imap_search_opts *opts_r,
				      enum imap_search_fail *why_r)
{
	struct imap_search *s = arena_zalloc(a, sizeof(*s));
	struct parser p = { c, a, s, opts_r, 0, 0, 0, false };

	memset(opts_r, 0, sizeof(*opts_r));
	*why_r = IMAP_SEARCH_SYNTAX;
	if (next_is(c, "RETURN")) {
		c->p += 6;
		if (!parse_return(&p) || !imap_cursor_sp(c))
			return NULL;
	}
	if (next_is(c, "CHARSET")) {
		struct str charset;

		c->p += 7;
		if (!imap_cursor_sp(c) || !imap_cursor_astring(c, a, &charset) ||
		    !imap_cursor_sp(c))
			return NULL;
		if (!imap_search_charset_ok(charset)) {
			*why_r = IMAP_SEARCH_BADCHARSET;
			fail(c, "Unsupported charset");
			return NULL;
		}
	}
	s->root = parse_list(&p, 0, false);
	s->n_keys = p.n_keys;
	if (s->root == NULL) {
		if (p.limit)
			*why_r = IMAP_SEARCH_LIMIT;
		return NULL;
	}
	if (!imap_cursor_at_end(c)) {
		fail(c, "Unexpected text after the search keys");
		return NULL;
	}
	return s;
}

/* ---- running ---- */

struct imap_search_exec {
	const struct imap_search *s;
	struct store_reader *r;
	struct arena *a;
	int64_t mailbox_id;
	uint32_t **text_uids;
	size_t *text_n;
	uint32_t max_uid, max_seq;
	size_t n, pos;		/* messages, the next one to evaluate */
	uint32_t *matches;
	size_t n_matches;
	/* the message being evaluated */
	const struct store_msg *msg;
	uint32_t seq;
	bool recent;
	bool sent_loaded;
	int64_t sent_day;
	struct arena *scratch;	/* per-message metadata for SENT* keys */
	const char *error;
};


static bool uid_in(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int64_t day_of(int64_t t)
{
	return (t >= 0 ? t / 86400 : (t - 86399) / 86400) * 86400;
}

/* The wall clock of the internal date in its own zone. */
static int64_t internal_local(const struct store_msg *m)
{
	return m->internal_date + (int64_t)m->internal_zone * 60;
}

/* The day of the Date: header in the sender's own zone (RFC 3501: "the
 * Date: header, disregarding time and timezone"); the internal date's day
 * when the message has no usable Date:. -1 on a store error. */
static int load_sent_day(struct imap_search_exec *run)
{
	struct store_msg_meta meta;
	struct imap_cursor c;
	struct str date;
	int64_t t;
	int zone;
	bool nil;
	int ret;

	run->sent_loaded = true;
	run->sent_day = day_of(internal_local(run->msg));
	/* the metadata of one message at a time: a scratch arena keeps a
	 * search over a large mailbox from holding every envelope */
	arena_clear(run->scratch);
	ret = store_msg_meta(run->r, run->scratch, run->mailbox_id,
			     run->msg->uid, &meta, &run->error);
	if (ret < 0)
		return -1;
	if (ret == 0 || meta.envelope == NULL)
		return 0;
	/* the envelope starts with the date: ("date" ... or (NIL ... */
	imap_cursor_init(&c, str_c(meta.envelope));
	if (!imap_cursor_skip_char(&c, '(') ||
	    !imap_cursor_nstring(&c, run->scratch, &date, &nil) || nil)
		return 0;
	if (rfc5322_date_parse(date, &t, &zone))
		run->sent_day = day_of(t + (int64_t)zone * 60);
	return 0;
}

/* 1 match, 0 no match, -1 store error */
static int eval(struct imap_search_exec *run, const struct search_key *k)
{
	const struct store_msg *m = run->msg;
	int ret;

	switch (k->kind) {
	case KEY_ALL:
		return 1;
	case KEY_FLAG:
		return (m->flags & k->flag) != 0;
	case KEY_KEYWORD:
		return imap_keywords_has(m->keywords, str_c(k->keyword));
	case KEY_RECENT:
		return run->recent;
	case KEY_NEW:
		return run->recent && (m->flags & STORE_FLAG_SEEN) == 0;
	case KEY_TEXT:
		return uid_in(run->text_uids[k->text_index],
			      run->text_n[k->text_index], m->uid);
	/* RFC 3501: the internal date "disregarding time and timezone": its
	 * day in the zone it was given in (FETCH INTERNALDATE shows that
	 * day), as for the Date: header below */
	case KEY_BEFORE:
		return day_of(internal_local(m)) < k->date;
	case KEY_ON:
		return day_of(internal_local(m)) == k->date;
	case KEY_SINCE:
		return day_of(internal_local(m)) >= k->date;
	case KEY_SENTBEFORE:
	case KEY_SENTON:
	case KEY_SENTSINCE:
		if (!run->sent_loaded && load_sent_day(run) < 0)
			return -1;
		if (k->kind == KEY_SENTBEFORE)
			return run->sent_day < k->date;
		if (k->kind == KEY_SENTON)
			return run->sent_day == k->date;
		return run->sent_day >= k->date;
	case KEY_LARGER:
		return m->size > k->number;
	case KEY_SMALLER:
		return m->size < k->number;
	case KEY_SEQSET:
		return imap_seqset_contains(&k->set, run->seq, run->max_seq);
	case KEY_UIDSET:
		return imap_seqset_contains(&k->set, m->uid, run->max_uid);
	case KEY_MODSEQ:
		return m->modseq >= k->number;
	case KEY_NOT:
		ret = eval(run, k->a);
		return ret < 0 ? -1 : !ret;
	case KEY_OR:
		ret = eval(run, k->a);
		if (ret != 0)
			return ret;
		return eval(run, k->b);
	case KEY_AND:
		for (size_t i = 0; i < k->n_list; i++) {
			ret = eval(run, k->list[i]);
			if (ret <= 0)
				return ret;
		}
		return 1;
	}
	PANIC("unknown search key %d", (int)k->kind);
}

static int collect_text(struct imap_search_exec *run, const struct search_key *k)
{
	int ret;

	switch (k->kind) {
	case KEY_TEXT:
		ret = store_search_text(run->r, run->a, run->mailbox_id,
					k->field, k->header != NULL ? k->header : "",
					k->needle, &run->text_uids[k->text_index],
					&run->error);
		if (ret < 0)
			return -1;
		run->text_n[k->text_index] = (size_t)ret;
		return 0;
	case KEY_NOT:
		return collect_text(run, k->a);
	case KEY_OR:
		if (collect_text(run, k->a) < 0)
			return -1;
		return collect_text(run, k->b);
	case KEY_AND:
		for (size_t i = 0; i < k->n_list; i++) {
			if (collect_text(run, k->list[i]) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

struct imap_search_exec *imap_search_start(const struct imap_search *s,
					  struct store_reader *r,
					  struct arena *a, struct arena *scratch,
					  int64_t mailbox_id,
					  const struct store_msg *msgs, size_t n,
					  const char **error_r)
{
	struct imap_search_exec *run = arena_zalloc(a, sizeof(*run));

	run->s = s;
	run->r = r;
	run->a = a;
	run->scratch = scratch;
	run->mailbox_id = mailbox_id;
	run->n = n;
	run->text_uids = arena_zalloc(a, (s->n_text + 1) * sizeof(*run->text_uids));
	run->text_n = arena_zalloc(a, (s->n_text + 1) * sizeof(*run->text_n));
	if (n > 0 && collect_text(run, s->root) < 0) {
		*error_r = run->error;
		return NULL;
	}
	run->max_seq = (uint32_t)n;
	run->max_uid = n > 0 ? msgs[n - 1].uid : 0;
	run->matches = arena_alloc(a, (n + 1) * sizeof(*run->matches));
	return run;
}

void imap_search_reader(struct imap_search_exec *run, struct store_reader *r)
{
	run->r = r;
}

int imap_search_step(struct imap_search_exec *run, const struct store_msg *msgs,
		     const bool *recent, size_t budget, const char **error_r)
{
	/* A message costs its nodes, and a store read for SENT* keys. */
	size_t cost = run->s->n_keys + (run->s->sent_dates ? 256 : 0) + 1;
	size_t spent = 0;

	for (; run->pos < run->n; run->pos++) {
		size_t i = run->pos;
		int ret;

		if (budget > 0 && spent >= budget)
			return 0;
		spent += cost;
		run->msg = &msgs[i];
		run->seq = (uint32_t)(i + 1);
		run->recent = recent != NULL && recent[i];
		run->sent_loaded = false;
		ret = eval(run, run->s->root);
		if (ret < 0) {
			*error_r = run->error;
			return -1;
		}
		if (ret > 0)
			run->matches[run->n_matches++] = (uint32_t)i;
	}
	return 1;
}

size_t imap_search_matches(const struct imap_search_exec *run,
			   uint32_t **matches_r)
{
	*matches_r = run->matches;
	return run->n_matches;
}

int imap_search_run(const struct imap_search *s, struct store_reader *r,
		    struct arena *a, int64_t mailbox_id,
		    const struct store_msg *msgs, const bool *recent, size_t n,
		    uint32_t **matches_r, const char **error_r)
{
	struct imap_search_exec *run;
	struct arena scratch;
	int ret = -1;

	arena_init(&scratch, 0);
	run = imap_search_start(s, r, a, &scratch, mailbox_id, msgs, n,
				error_r);
	/* the reader's error outlives the scratch arena */
	if (run != NULL && imap_search_step(run, msgs, recent, 0, error_r) > 0)
		ret = (int)imap_search_matches(run, matches_r);
	arena_deinit(&scratch);
	return ret;
}

/* "1:3,5" from ascending values */
static void write_set(struct strbuf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			strbuf_putc(out, ',');
		if (j > i)
			strbuf_printf(out, "%u:%u", v[i], v[j]);
		else
			strbuf_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

bool imap_search_returns(const struct imap_search_opts *o, size_t i, size_t n)
{
	if (!o->esearch || o->ret_all || o->ret_count ||
	    !(o->ret_min || o->ret_max))
		return true;
	return (o->ret_min && i == 0) || (o->ret_max && i + 1 == n);
}

void imap_search_render(const struct imap_search_opts *o, const char *tag,
			bool uid, const uint32_t *values, size_t n,
			uint64_t max_modseq, struct strbuf *out)
{
	if (!o->esearch) {
		strbuf_append_c(out, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			strbuf_printf(out, " %u", values[i]);
		if (o->modseq_used && n > 0)
			strbuf_printf(out, " (MODSEQ %llu)",
				      (unsigned long long)max_modseq);
		strbuf_append_c(out, "\r\n");
		return;
	}
	bool all = o->ret_all ||
		   !(o->ret_min || o->ret_max || o->ret_count);

	strbuf_append_c(out, "* ESEARCH (TAG ");
	imap_string_write(out, str_c(tag));
	strbuf_putc(out, ')');
	if (uid)
		strbuf_append_c(out, " UID");
	if (o->ret_min && n > 0)
		strbuf_printf(out, " MIN %u", values[0]);
	if (o->ret_max && n > 0)
		strbuf_printf(out, " MAX %u", values[n - 1]);
	if (o->ret_count)
		strbuf_printf(out, " COUNT %zu", n);
	if (all && n > 0) {
		strbuf_append_c(out, " ALL ");
		write_set(out, values, n);
	}
	if (o->modseq_used && n > 0)
		strbuf_printf(out, " MODSEQ %llu", (unsigned long long)max_modseq);
	strbuf_append_c(out, "\r\n");
}
