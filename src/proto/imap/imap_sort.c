/* imap_sort.c: SORT keys read back from the rendered ENVELOPE (the store
 * keeps no other copy of the headers' values), computed once per message,
 * then one qsort_r over them. */
#include "proto/imap/imap_sort.h"

#include "mail/base_subject.h"
#include "mail/casemap.h"
#include "mail/rfc2047.h"
#include "proto/imap/imap_envelope_read.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL },
	{ "CC", IMAP_SORT_CC },
	{ "DATE", IMAP_SORT_DATE },
	{ "FROM", IMAP_SORT_FROM },
	{ "SIZE", IMAP_SORT_SIZE },
	{ "SUBJECT", IMAP_SORT_SUBJECT },
	{ "TO", IMAP_SORT_TO },
	{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
	{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
};

static bool parse_key(struct imap_cursor *c, enum imap_sort_key *key_r)
{
	struct str word;

	if (!imap_cursor_atom(c, &word))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(sort_keys); i++) {
		if (str_caseeq(word, str_c(sort_keys[i].name))) {
			*key_r = sort_keys[i].key;
			return true;
		}
	}
	c->error = "Unknown sort key";
	return false;
}

bool imap_sort_parse(struct imap_cursor *c, struct imap_sort *sort_r)
{
	memset(sort_r, 0, sizeof(*sort_r));
	if (!imap_cursor_skip_char(c, '(')) {
		c->error = "Expected a list of sort criteria";
		return false;
	}
	do {
		enum imap_sort_key key;
		bool reverse = false;
		const char *p = c->p;
		struct str word;

		if (imap_cursor_atom(c, &word) &&
		    str_caseeq(word, STR_LIT("REVERSE"))) {
			if (!imap_cursor_sp(c))
				return false;
			reverse = true;
		} else {
			c->p = p;	/* the key itself */
			c->error = NULL;
		}
		if (!parse_key(c, &key))
			return false;
		if (sort_r->n == IMAP_SORT_MAX_CRITERIA) {
			c->error = "Too many sort criteria";
			return false;
		}
		sort_r->crit[sort_r->n].key = key;
		sort_r->crit[sort_r->n].reverse = reverse;
		sort_r->n++;
		if (key != IMAP_SORT_ARRIVAL && key != IMAP_SORT_SIZE)
			sort_r->needs_envelope = true;
	} while (imap_cursor_skip_char(c, ' '));
	if (!imap_cursor_skip_char(c, ')')) {
		c->error = "Expected ) after the sort criteria";
		return false;
	}
	return true;
}

/* ---- keys from the envelope ---- */

/* The i;unicode-casemap key of s (RFC 5256 3 compares strings so). */
static const char *key_of(struct arena *a, struct str s)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;

	casemap_key(&sb, s);
	p = arena_strndup(a, strbuf_cstr(&sb), sb.n);
	strbuf_free(&sb);
	return p;
}

/* RFC 5957: the display name, decoded, or else the addr-spec; a group
 * start (no host) shows its name. */
static const char *display(struct arena *a,
			   const struct imap_envelope_address *addr)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;

	rfc2047_decode(&sb, addr->name);
	if (sb.n == 0 && addr->host.n > 0)
		strbuf_printf(&sb, "%.*s@%.*s", (int)addr->mailbox.n,
			      addr->mailbox.p, (int)addr->host.n,
			      addr->host.p);
	else if (sb.n == 0)
		strbuf_append_str(&sb, addr->mailbox);
	p = key_of(a, strbuf_str(&sb));
	strbuf_free(&sb);
	return p;
}

struct sort_item {
	struct imap_sort_msg msg;
	int64_t date;
	const char *text[IMAP_SORT_DISPLAYTO + 1];	/* by key */
};

static void item_keys(const struct imap_sort *s, struct arena *a,
		      struct sort_item *it)
{
	struct imap_envelope_fields env;
	struct strbuf sb = STRBUF_INIT;

	it->date = it->msg.internal_date;
	if (!s->needs_envelope)
		return;
	imap_envelope_read(it->msg.envelope, a, &env);
	for (size_t i = 0; i < s->n; i++) {
		enum imap_sort_key key = s->crit[i].key;

		switch (key) {
		case IMAP_SORT_DATE:
			it->date = imap_envelope_sent_date(&env,
						it->msg.internal_date);
			break;
		case IMAP_SORT_SUBJECT:
			strbuf_reset(&sb);
			(void)base_subject(&sb, env.subject);
			it->text[key] = key_of(a, strbuf_str(&sb));
			break;
		case IMAP_SORT_FROM:
			it->text[key] = key_of(a, env.from.mailbox);
			break;
		case IMAP_SORT_TO:
			it->text[key] = key_of(a, env.to.mailbox);
			break;
		case IMAP_SORT_CC:
			it->text[key] = key_of(a, env.cc.mailbox);
			break;
		case IMAP_SORT_DISPLAYFROM:
			it->text[key] = display(a, &env.from);
			break;
		case IMAP_SORT_DISPLAYTO:
			it->text[key] = display(a, &env.to);
			break;
		case IMAP_SORT_ARRIVAL:
		case IMAP_SORT_SIZE:
			break;
		}
	}
	strbuf_free(&sb);
}

static int cmp_int(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int item_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct imap_sort *s = ctx;
	const struct sort_item *a = pa, *b = pb;

	for (size_t i = 0; i < s->n; i++) {
		enum imap_sort_key key = s->crit[i].key;
		int r;

		switch (key) {
		case IMAP_SORT_ARRIVAL:
			r = cmp_int(a->msg.internal_date, b->msg.internal_date);
			break;
		case IMAP_SORT_DATE:
			r = cmp_int(a->date, b->date);
			break;
		case IMAP_SORT_SIZE:
			r = a->msg.size < b->msg.size ? -1 :
			    a->msg.size > b->msg.size;
			break;
		default:
			r = strcmp(a->text[key], b->text[key]);
			break;
		}
		if (r != 0)
			return s->crit[i].reverse ? -r : r;
	}
	return cmp_int(a->msg.seq, b->msg.seq);
}

void imap_sort_order(const struct imap_sort *s, struct arena *a,
		     struct imap_sort_msg *msgs, size_t n)
{
	struct sort_item *items;

	if (n == 0)
		return;
	items = arena_zalloc(a, n * sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		items[i].msg = msgs[i];
		item_keys(s, a, &items[i]);
	}
	qsort_r(items, n, sizeof(*items), item_cmp, (void *)s);
	for (size_t i = 0; i < n; i++)
		msgs[i] = items[i].msg;
}
