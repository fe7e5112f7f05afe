/* imap_append_parse.c: a MIME parser per literal of an APPEND, fed as the
 * literal's bytes arrive with lone LFs made CRLF on the way (the bytes
 * stored are CRLF; the reader's buffer keeps them as sent). */
#include "proto/imap/imap_append_parse.h"

#include <strings.h>

struct literal_parse {
	size_t offset;
	struct mime_parser *parser;
	bool last_cr;	/* the literal's last byte so far was CR */
};

struct imap_append_parse {
	struct literal_parse *lits;
	size_t n, cap;
};

bool imap_append_parse_wanted(struct str cmd)
{
	const char *sp = memchr(cmd.p, ' ', cmd.n);
	size_t rest;

	if (sp == NULL)
		return false;
	sp++;
	rest = cmd.n - (size_t)(sp - cmd.p);
	return rest > 6 && strncasecmp(sp, "APPEND", 6) == 0 && sp[6] == ' ';
}

void imap_append_parse_begin(struct imap_append_parse **ap, size_t offset)
{
	struct imap_append_parse *a = *ap;
	struct literal_parse *lit;

	if (a == NULL)
		a = *ap = xcalloc(1, sizeof(*a));
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 4 : a->cap * 2;
		a->lits = xrealloc(a->lits, a->cap * sizeof(*a->lits));
	}
	lit = &a->lits[a->n++];
	lit->offset = offset;
	lit->parser = mime_parser_new(NULL);
	lit->last_cr = false;
}

void imap_append_parse_feed(struct imap_append_parse *ap, struct str chunk)
{
	struct literal_parse *lit;
	size_t from = 0;

	if (ap == NULL || ap->n == 0 || chunk.n == 0)
		return;
	lit = &ap->lits[ap->n - 1];
	if (lit->parser == NULL)
		return;
	for (size_t i = 0; i < chunk.n; i++) {
		bool prev_cr = i > 0 ? chunk.p[i - 1] == '\r' : lit->last_cr;

		if (chunk.p[i] != '\n' || prev_cr)
			continue;
		mime_parser_feed(lit->parser, chunk.p + from, i - from);
		mime_parser_feed(lit->parser, "\r", 1);
		from = i;
	}
	mime_parser_feed(lit->parser, chunk.p + from, chunk.n - from);
	lit->last_cr = chunk.p[chunk.n - 1] == '\r';
}

struct mime_tree *imap_append_parse_take(struct imap_append_parse *ap,
					 size_t offset)
{
	if (ap == NULL)
		return NULL;
	for (size_t i = 0; i < ap->n; i++) {
		if (ap->lits[i].offset == offset && ap->lits[i].parser != NULL)
			return mime_parser_finish(&ap->lits[i].parser);
	}
	return NULL;
}

void imap_append_parse_free(struct imap_append_parse **ap)
{
	struct imap_append_parse *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		if (a->lits[i].parser != NULL) {
			struct mime_tree *t = mime_parser_finish(&a->lits[i].parser);

			mime_tree_free(&t);
		}
	}
	free(a->lits);
	free(a);
	*ap = NULL;
}
