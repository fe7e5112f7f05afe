/* imap_envelope.c: ENVELOPE output. Address lists are parsed leniently into
 * tokens (comments attached to the token before them) and then read as
 * RFC 5322 mailboxes and groups, so any input gives valid IMAP. */
#include "mail/imap_envelope.h"

#include "mail/header.h"
#include "mail/imap_string.h"
#include "mail/rfc2047.h"

enum tok_type { TOK_WORD, TOK_QUOTED, TOK_SPECIAL };

struct tok {
	enum tok_type type;
	struct str raw;		/* as written (quoted strings with quotes) */
	struct str text;	/* quoted strings unescaped */
	struct str comment;	/* a comment right after the token */
};

#define ADDR_SPECIALS "()<>[]:;@\\,\""

/* Tokens go to t[] and offsets[] (quoted text offsets into store); with t
 * NULL they are only counted, so that the caller's array fits the tokens
 * rather than one slot per byte of a 1 MiB To: line. */
static unsigned tokenize(struct str s, struct strbuf *store, struct tok *t,
			 size_t *offsets)
{
	unsigned n = 0;
	size_t pos = 0, start, scratch_off;
	struct str comment;
	struct tok scratch, *cur;

	for (;;) {
		comment = STR_NULL;
		header_skip_cfws(s, &pos, &comment);
		if (n > 0 && comment.p != NULL && t != NULL)
			t[n - 1].comment = comment;
		if (pos >= s.n)
			break;
		start = pos;
		cur = t != NULL ? &t[n] : &scratch;
		cur->comment = STR_NULL;
		if (s.p[pos] == '"') {
			size_t *off = t != NULL ? &offsets[n] : &scratch_off;

			if (t == NULL)
				strbuf_reset(store);
			*off = store->n;
			header_read_quoted(s, &pos, store);
			cur->type = TOK_QUOTED;
			/* text is set once store stops moving */
			cur->text = str_make(NULL, store->n - *off);
		} else if (s.p[pos] == '[') {
			while (pos < s.n && s.p[pos] != ']')
				pos++;
			if (pos < s.n)
				pos++;
			cur->type = TOK_WORD;
		} else if (strchr(ADDR_SPECIALS, s.p[pos]) != NULL) {
			pos++;
			cur->type = TOK_SPECIAL;
		} else {
			header_read_token(s, &pos, ADDR_SPECIALS);
			if (pos == start)
				pos++;	/* a control byte: a word of its own */
			cur->type = TOK_WORD;
		}
		cur->raw = str_make(s.p + start, pos - start);
		if (cur->type != TOK_QUOTED)
			cur->text = cur->raw;
		n++;
	}
	return n;
}

static bool is_special(const struct tok *t, char c)
{
	return t->type == TOK_SPECIAL && t->raw.p[0] == c;
}

static void write_addr(struct strbuf *out, struct str name, struct str adl,
		       struct str mailbox, struct str host)
{
	strbuf_putc(out, '(');
	imap_string_write_nstring(out, name);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, adl);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, mailbox);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, host);
	strbuf_putc(out, ')');
}

/* Words i..k-1 joined: phrases with single spaces from their text, address
 * pieces by their raw form without spaces. */
static struct str join(struct strbuf *b, const struct tok *t, unsigned i,
		       unsigned k, bool phrase)
{
	strbuf_reset(b);
	for (; i < k; i++) {
		if (phrase && b->n > 0)
			strbuf_putc(b, ' ');
		strbuf_append_str(b, phrase ? t[i].text : t[i].raw);
	}
	return b->n == 0 ? STR_NULL : str_make(strbuf_cstr(b), b->n);
}

struct addr_ctx {
	const struct tok *t;
	unsigned n;
	struct strbuf name, adl, mailbox, host;
	bool any;
	bool text;	/* search lines (imap_envelope_search_text), not IMAP */
};

/* A search line: "Name <local@domain>" or "<local@domain>", the name
 * decoded and the local part without its quotes. */
static void text_line(struct strbuf *out, struct str name, struct str mailbox,
		      struct str host)
{
	size_t start = out->n;

	if (name.n > 0)
		rfc2047_decode(out, name);
	if (mailbox.n > 0 || host.n > 0) {
		if (out->n > start)
			strbuf_putc(out, ' ');
		strbuf_putc(out, '<');
		for (size_t i = 0; i < mailbox.n; i++) {
			if (mailbox.p[i] == '\\' && i + 1 < mailbox.n)
				strbuf_putc(out, mailbox.p[++i]);
			else if (mailbox.p[i] != '"')
				strbuf_putc(out, mailbox.p[i]);
		}
		if (host.n > 0) {
			strbuf_putc(out, '@');
			strbuf_append_str(out, host);
		}
		strbuf_putc(out, '>');
	}
	if (out->n > start)
		strbuf_putc(out, '\n');
}

static void emit(struct addr_ctx *c, struct strbuf *out, struct str name,
		 struct str adl, struct str mailbox, struct str host)
{
	if (c->text) {
		text_line(out, name, mailbox, host);
		return;
	}
	if (!c->any)
		strbuf_putc(out, '(');
	c->any = true;
	write_addr(out, name, adl,
		   mailbox.p != NULL ? mailbox : STR_LIT("MISSING_MAILBOX"),
		   host.p != NULL ? host : STR_LIT("MISSING_DOMAIN"));
}

/* The start (name set) or the end of a group. */
static void emit_group(struct addr_ctx *c, struct strbuf *out, struct str name,
		       bool start)
{
	if (c->text) {
		if (start)
			text_line(out, name, STR_NULL, STR_NULL);
		return;
	}
	if (start) {
		if (!c->any)
			strbuf_putc(out, '(');
		c->any = true;
		write_addr(out, STR_NULL, STR_NULL,
			   name.p != NULL ? name : STR_LIT(""), STR_NULL);
	} else {
		write_addr(out, STR_NULL, STR_NULL, STR_NULL, STR_NULL);
	}
}

static bool stop_tok(const struct tok *t, bool in_group)
{
	return is_special(t, ',') || (in_group && is_special(t, ';'));
}

/* One mailbox (or group when !in_group) from token *ip. */
static void parse_item(struct addr_ctx *c, struct strbuf *out, unsigned *ip,
		       bool in_group)
{
	const struct tok *t = c->t;
	unsigned i = *ip, k = i, j, at;
	struct str name, adl = STR_NULL, mailbox, host;

	while (k < c->n && t[k].type != TOK_SPECIAL)
		k++;
	if (k < c->n && is_special(&t[k], '<')) {
		name = join(&c->name, t, i, k, true);
		j = ++k;
		while (k < c->n && !is_special(&t[k], '>') &&
		       !is_special(&t[k], ':') && !stop_tok(&t[k], in_group))
			k++;
		if (k < c->n && is_special(&t[k], ':')) {
			adl = join(&c->adl, t, j, k, false);
			j = ++k;
		}
		at = j;
		while (at < c->n && !is_special(&t[at], '@') &&
		       !is_special(&t[at], '>') && !stop_tok(&t[at], in_group))
			at++;
		mailbox = join(&c->mailbox, t, j, at, false);
		k = at;
		host = STR_NULL;
		if (at < c->n && is_special(&t[at], '@')) {
			k = ++at;
			while (k < c->n && !is_special(&t[k], '>') &&
			       !stop_tok(&t[k], in_group))
				k++;
			host = join(&c->host, t, at, k, false);
		}
		if (mailbox.p != NULL || host.p != NULL || name.p != NULL)
			emit(c, out, name, adl, mailbox, host);
	} else if (k < c->n && is_special(&t[k], ':') && !in_group) {
		name = join(&c->name, t, i, k, true);
		emit_group(c, out, name, true);
		k++;
		while (k < c->n && !is_special(&t[k], ';')) {
			if (is_special(&t[k], ',')) {
				k++;
				continue;
			}
			parse_item(c, out, &k, true);
		}
		emit_group(c, out, STR_NULL, false);
	} else if (k < c->n && is_special(&t[k], '@') && k > i) {
		mailbox = join(&c->mailbox, t, i, k, false);
		at = ++k;
		while (k < c->n && t[k].type != TOK_SPECIAL)
			k++;
		host = join(&c->host, t, at, k, false);
		name = k > at ? t[k - 1].comment : STR_NULL;
		emit(c, out, name, STR_NULL, mailbox, host);
	} else if (k > i) {
		/* A bare word: a local part without a domain. */
		emit(c, out, t[k - 1].comment, STR_NULL,
		     join(&c->mailbox, t, i, k, false), STR_NULL);
	}
	/* Skip whatever is left of this item. */
	if (k == i)
		k++;
	while (k < c->n && !stop_tok(&t[k], in_group))
		k++;
	*ip = k;
}

static void addresses(struct strbuf *out, struct str value, bool text)
{
	struct strbuf store = STRBUF_INIT;
	struct addr_ctx c = { .text = text };
	struct tok *t;
	size_t *offsets;
	unsigned i;

	c.n = tokenize(value, &store, NULL, NULL);
	strbuf_reset(&store);
	t = xcalloc(c.n + 1, sizeof(*t));
	offsets = xcalloc(c.n + 1, sizeof(*offsets));
	if (tokenize(value, &store, t, offsets) != c.n)
		PANIC("imap_envelope: token count changed");
	for (i = 0; i < c.n; i++)
		if (t[i].type == TOK_QUOTED)
			t[i].text = str_make(strbuf_cstr(&store) + offsets[i],
					     t[i].text.n);
	c.t = t;
	i = 0;
	while (i < c.n) {
		if (is_special(&t[i], ',') || is_special(&t[i], ';')) {
			i++;
			continue;
		}
		parse_item(&c, out, &i, false);
	}
	if (!text)
		strbuf_append_c(out, c.any ? ")" : "NIL");
	strbuf_free(&c.name);
	strbuf_free(&c.adl);
	strbuf_free(&c.mailbox);
	strbuf_free(&c.host);
	strbuf_free(&store);
	free(offsets);
	free(t);
}

void imap_envelope_write_addresses(struct strbuf *out, struct str value)
{
	if (value.p == NULL) {
		strbuf_append_c(out, "NIL");
		return;
	}
	addresses(out, value, false);
}

void imap_envelope_search_text(struct strbuf *out, struct str value)
{
	if (value.p != NULL)
		addresses(out, value, true);
}

void imap_envelope_write(struct strbuf *out, const struct mime_part *msg)
{
	static const struct str none[MIME_ENV_COUNT];
	const struct str *env = msg->env != NULL ? msg->env : none;
	struct str v;
	unsigned i;

	strbuf_putc(out, '(');
	for (i = 0; i < MIME_ENV_COUNT; i++) {
		if (i > 0)
			strbuf_putc(out, ' ');
		v = env[i];
		switch (i) {
		case MIME_ENV_SENDER:
		case MIME_ENV_REPLY_TO:
			if (v.p == NULL || v.n == 0)
				v = env[MIME_ENV_FROM];
			/* fall through */
		case MIME_ENV_FROM:
		case MIME_ENV_TO:
		case MIME_ENV_CC:
		case MIME_ENV_BCC:
			imap_envelope_write_addresses(out, v);
			break;
		default:
			imap_string_write_nstring(out, v);
			break;
		}
	}
	strbuf_putc(out, ')');
}
