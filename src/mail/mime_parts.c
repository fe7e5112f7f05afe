/* mime_parts.c: part tree serialisation (LEB128 varints and length-counted
 * strings, parts in pre-order) and section lookup. */
#include "mail/mime_parts.h"

#define BLOB_MAGIC "MPT1"
#define BLOB_MAX_DEPTH 256

static void put_u64(struct strbuf *out, uint64_t v)
{
	while (v >= 0x80) {
		strbuf_putc(out, (char)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	strbuf_putc(out, (char)v);
}

/* Absent strings are 0, others length + 1. */
static void put_str(struct strbuf *out, struct str s)
{
	if (s.p == NULL) {
		put_u64(out, 0);
		return;
	}
	put_u64(out, (uint64_t)s.n + 1);
	strbuf_append(out, s.p, s.n);
}

static void put_params(struct strbuf *out, const struct mime_param *p,
		       unsigned n)
{
	unsigned i;

	put_u64(out, n);
	for (i = 0; i < n; i++) {
		put_str(out, p[i].name);
		put_str(out, p[i].value);
	}
}

static void put_part(struct strbuf *out, const struct mime_part *part)
{
	const struct mime_part *c;
	unsigned i;

	put_u64(out, part->env != NULL ? 1 : 0);
	put_u64(out, part->hdr_start);
	put_u64(out, part->body_start - part->hdr_start);
	put_u64(out, part->body_end - part->body_start);
	put_u64(out, part->body_lines);
	put_str(out, part->type);
	put_str(out, part->subtype);
	put_str(out, part->id);
	put_str(out, part->description);
	put_str(out, part->encoding);
	put_str(out, part->disposition);
	put_str(out, part->language);
	put_str(out, part->location);
	put_str(out, part->md5);
	put_params(out, part->params, part->n_params);
	put_params(out, part->disp_params, part->n_disp_params);
	if (part->env != NULL)
		for (i = 0; i < MIME_ENV_COUNT; i++)
			put_str(out, part->env[i]);
	put_u64(out, part->n_children);
	for (c = part->children; c != NULL; c = c->next)
		put_part(out, c);
}

void mime_parts_serialize(const struct mime_tree *tree, struct strbuf *out)
{
	strbuf_append_c(out, BLOB_MAGIC);
	put_u64(out, tree->size);
	put_part(out, tree->root);
}

struct reader {
	const unsigned char *p;
	size_t n, pos;
	struct arena *arena;
	uint64_t size;
	bool bad;
};

static uint64_t get_u64(struct reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		unsigned char c;

		if (r->pos >= r->n || shift > 63) {
			r->bad = true;
			break;
		}
		c = r->p[r->pos++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			return v;
		shift += 7;
	}
	return 0;
}

static struct str get_str(struct reader *r)
{
	uint64_t n = get_u64(r);

	if (r->bad || n == 0)
		return STR_NULL;
	n--;
	if (n > r->n - r->pos) {
		r->bad = true;
		return STR_NULL;
	}
	r->pos += n;
	return arena_str(r->arena,
			 str_make((const char *)r->p + r->pos - n, (size_t)n));
}

static unsigned get_params(struct reader *r, struct mime_param **params_r)
{
	uint64_t n = get_u64(r), i;
	struct mime_param *p;

	/* Each parameter takes at least two bytes. */
	if (r->bad || n > MIME_PARAM_MAX || n * 2 > r->n - r->pos) {
		r->bad = r->bad || n > 0;
		*params_r = NULL;
		return 0;
	}
	p = arena_zalloc(r->arena, sizeof(*p) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		p[i].name = get_str(r);
		p[i].value = get_str(r);
	}
	*params_r = p;
	return (unsigned)n;
}

static struct mime_part *get_part(struct reader *r, struct mime_part *parent,
				  unsigned depth)
{
	struct mime_part *part = arena_zalloc(r->arena, sizeof(*part));
	struct mime_part **tail = &part->children;
	uint64_t flags, n, i, a, b;

	part->parent = parent;
	part->depth = depth;
	flags = get_u64(r);
	part->hdr_start = get_u64(r);
	a = get_u64(r);
	b = get_u64(r);
	part->body_lines = get_u64(r);
	if (part->hdr_start > r->size || a > r->size - part->hdr_start) {
		r->bad = true;
		return part;
	}
	part->body_start = part->hdr_start + a;
	if (b > r->size - part->body_start) {
		r->bad = true;
		return part;
	}
	part->body_end = part->body_start + b;
	part->type = get_str(r);
	part->subtype = get_str(r);
	part->id = get_str(r);
	part->description = get_str(r);
	part->encoding = get_str(r);
	part->disposition = get_str(r);
	part->language = get_str(r);
	part->location = get_str(r);
	part->md5 = get_str(r);
	part->n_params = get_params(r, &part->params);
	part->n_disp_params = get_params(r, &part->disp_params);
	if (part->type.p == NULL || part->subtype.p == NULL)
		r->bad = true;
	if (flags & 1) {
		part->env = arena_zalloc(r->arena,
					 sizeof(struct str) * MIME_ENV_COUNT);
		for (i = 0; i < MIME_ENV_COUNT; i++)
			part->env[i] = get_str(r);
	}
	n = get_u64(r);
	if (n > 0 && depth >= BLOB_MAX_DEPTH)
		r->bad = true;
	for (i = 0; i < n && !r->bad; i++) {
		/* Each part takes many bytes: a huge count is caught by the
		 * reads running out. */
		*tail = get_part(r, part, depth + 1);
		tail = &(*tail)->next;
		part->n_children++;
	}
	return part;
}

struct mime_tree *mime_parts_deserialize(const void *blob, size_t len,
					 const char **error_r)
{
	struct mime_tree *tree = xcalloc(1, sizeof(*tree));
	struct reader r = { .p = blob, .n = len, .arena = &tree->arena };

	arena_init(&tree->arena, 0);
	if (len < 4 || memcmp(blob, BLOB_MAGIC, 4) != 0) {
		*error_r = "mime parts: not a part tree";
		mime_tree_free(&tree);
		return NULL;
	}
	r.pos = 4;
	r.size = get_u64(&r);
	tree->size = r.size;
	tree->root = get_part(&r, NULL, 0);
	if (r.bad || r.pos != len) {
		*error_r = "mime parts: truncated or corrupt part tree";
		mime_tree_free(&tree);
		return NULL;
	}
	return tree;
}

/* Part n (1-based) inside message or multipart m. */
static const struct mime_part *child_of(const struct mime_part *m, uint64_t n)
{
	const struct mime_part *c;

	if (!mime_part_is_multipart(m))
		return n == 1 ? m : NULL;
	for (c = m->children; c != NULL; c = c->next)
		if (--n == 0)
			return c;
	return NULL;
}

bool mime_parts_find_section(const struct mime_tree *tree, struct str section,
			     struct mime_section *r)
{
	const struct mime_part *m = tree->root, *x = NULL;
	struct str rest = section;

	while (rest.n > 0 && rest.p[0] >= '0' && rest.p[0] <= '9') {
		struct str num;
		uint64_t n;

		if (x != NULL) {
			/* Going deeper: into a multipart or a message. */
			if (mime_part_is_multipart(x))
				m = x;
			else if (mime_part_is_message(x) && x->children != NULL)
				m = x->children;
			else
				return false;
		}
		str_split(rest, '.', &num, &rest);
		if (!str_to_u64(num, UINT32_MAX, &n) || n == 0 ||
		    num.p[0] == '0')
			return false;
		x = child_of(m, n);
		if (x == NULL)
			return false;
		if (rest.n == 0 && num.p + num.n < section.p + section.n)
			return false;	/* a trailing dot */
	}
	r->kind = MIME_SECTION_BODY;
	if (rest.n == 0) {
		r->part = x != NULL ? x : tree->root;
		r->start = x != NULL ? x->body_start : 0;
		r->end = x != NULL ? x->body_end : tree->size;
		return true;
	}
	if (str_caseeq(rest, STR_LIT("MIME"))) {
		if (x == NULL)
			return false;
		r->kind = MIME_SECTION_MIME;
		r->part = x;
		r->start = x->hdr_start;
		r->end = x->body_start;
		return true;
	}
	/* HEADER and TEXT address a message: the root, or a message part's
	 * embedded message. */
	if (x != NULL) {
		if (!mime_part_is_message(x) || x->children == NULL)
			return false;
		x = x->children;
	} else {
		x = tree->root;
	}
	r->part = x;
	if (str_caseeq(rest, STR_LIT("TEXT"))) {
		r->kind = MIME_SECTION_TEXT;
		r->start = x->body_start;
		r->end = x->body_end;
		return true;
	}
	if (str_casestarts_with(rest, STR_LIT("HEADER")) &&
	    (rest.n == 6 || rest.p[6] == '.')) {
		r->kind = MIME_SECTION_HEADER;
		r->start = x->hdr_start;
		r->end = x->body_start;
		return true;
	}
	return false;
}
