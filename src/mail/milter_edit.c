/* milter_edit.c: the header list as an array of owned fields, edited in
 * place by index, and the CRLF normalisation of milter-supplied text. */
#include "mail/milter_edit.h"
#include "mail/header.h"

struct field {
	char *text;		/* "Name:value" without the final CRLF */
	size_t name_n;		/* bytes of the name */
	size_t n;
};

struct milter_headers {
	struct field *f;
	size_t n, cap;
};

/* "name:" + value with every line end made CRLF. */
static struct field make_field(struct str name, struct str value)
{
	struct strbuf b = STRBUF_INIT;
	struct field f;

	strbuf_append_str(&b, name);
	strbuf_putc(&b, ':');
	for (size_t i = 0; i < value.n; i++) {
		if (value.p[i] == '\r')
			continue;
		if (value.p[i] == '\n')
			strbuf_putc(&b, '\r');
		strbuf_putc(&b, value.p[i]);
	}
	f.name_n = name.n;
	f.text = strbuf_detach(&b, &f.n);
	return f;
}

static void insert_at(struct milter_headers *h, size_t at, struct field f)
{
	if (h->n == h->cap) {
		h->cap = h->cap == 0 ? 16 : h->cap * 2;
		h->f = xrealloc(h->f, h->cap * sizeof(*h->f));
	}
	if (at > h->n)
		at = h->n;
	memmove(h->f + at + 1, h->f + at, (h->n - at) * sizeof(*h->f));
	h->f[at] = f;
	h->n++;
}

struct milter_headers *milter_headers_new(struct str section)
{
	struct milter_headers *h = xcalloc(1, sizeof(*h));
	struct header_field hf;
	size_t pos = 0;

	while (header_next(section, &pos, &hf)) {
		struct str v = hf.value;

		struct field f;

		/* the field as it came, but its own line end (written back
		 * as CRLF) */
		if (v.n > 0 && v.p[v.n - 1] == '\n')
			v.n--;
		if (v.n > 0 && v.p[v.n - 1] == '\r')
			v.n--;
		f.name_n = hf.name.n;
		f.n = hf.name.n + 1 + v.n;
		f.text = xmalloc(f.n + 1);
		memcpy(f.text, hf.name.p, hf.name.n);
		f.text[hf.name.n] = ':';
		memcpy(f.text + hf.name.n + 1, v.p, v.n);
		f.text[f.n] = '\0';
		insert_at(h, h->n, f);
	}
	return h;
}

void milter_headers_free(struct milter_headers **hp)
{
	struct milter_headers *h = *hp;

	if (h == NULL)
		return;
	*hp = NULL;
	for (size_t i = 0; i < h->n; i++)
		free(h->f[i].text);
	free(h->f);
	free(h);
}

size_t milter_headers_count(const struct milter_headers *h)
{
	return h->n;
}

void milter_headers_get(const struct milter_headers *h, size_t i,
			struct str *name_r, struct str *value_r)
{
	ASSERT(i < h->n);
	*name_r = str_make(h->f[i].text, h->f[i].name_n);
	*value_r = str_make(h->f[i].text + h->f[i].name_n + 1,
			    h->f[i].n - h->f[i].name_n - 1);
}

void milter_headers_add(struct milter_headers *h, struct str name,
			struct str value)
{
	insert_at(h, h->n, make_field(name, value));
}

void milter_headers_insert(struct milter_headers *h, size_t index,
			   struct str name, struct str value)
{
	insert_at(h, index, make_field(name, value));
}

void milter_headers_change(struct milter_headers *h, struct str name,
			   uint32_t occurrence, struct str value)
{
	uint32_t seen = 0;

	if (occurrence == 0)
		occurrence = 1;
	for (size_t i = 0; i < h->n; i++) {
		if (!str_caseeq(str_make(h->f[i].text, h->f[i].name_n), name) ||
		    ++seen != occurrence)
			continue;
		free(h->f[i].text);
		if (value.n == 0) {
			memmove(h->f + i, h->f + i + 1,
				(h->n - i - 1) * sizeof(*h->f));
			h->n--;
		} else {
			h->f[i] = make_field(name, value);
		}
		return;
	}
	if (value.n > 0)
		milter_headers_add(h, name, value);
}

void milter_headers_write(const struct milter_headers *h, struct strbuf *out)
{
	for (size_t i = 0; i < h->n; i++) {
		strbuf_append(out, h->f[i].text, h->f[i].n);
		strbuf_append(out, "\r\n", 2);
	}
}

void milter_body_append(struct strbuf *out, struct str piece,
			bool *pending_cr)
{
	for (size_t i = 0; i < piece.n; i++) {
		char c = piece.p[i];

		if (c == '\n' && !*pending_cr)
			strbuf_putc(out, '\r');
		strbuf_putc(out, c);
		*pending_cr = c == '\r';
	}
}
