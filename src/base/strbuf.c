/* strbuf.c: growable NUL-terminated byte buffer. */
#include "base/strbuf.h"

void strbuf_grow(struct strbuf *b, size_t extra)
{
	size_t need = b->n + extra + 1;

	if (need < b->n)
		PANIC("strbuf size overflow");
	if (need <= b->cap)
		return;
	size_t cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap = cap * 2 < cap ? need : cap * 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
	b->p[b->n] = '\0';
}

void strbuf_append(struct strbuf *b, const void *p, size_t n)
{
	strbuf_grow(b, n);
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void strbuf_append_str(struct strbuf *b, struct str s)
{
	strbuf_append(b, s.p, s.n);
}

void strbuf_append_c(struct strbuf *b, const char *s)
{
	strbuf_append(b, s, strlen(s));
}

void strbuf_putc(struct strbuf *b, char c)
{
	strbuf_append(b, &c, 1);
}

void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int len;

	/* Also tells gcc fmt is not NULL on the sanitizer-instrumented paths. */
	ASSERT(fmt != NULL);
	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		PANIC("bad format string %s", fmt);
	strbuf_grow(b, (size_t)len);
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	b->n += (size_t)len;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

void strbuf_reset(struct strbuf *b)
{
	strbuf_truncate(b, 0);
}

void strbuf_truncate(struct strbuf *b, size_t n)
{
	if (n >= b->n)
		return;
	b->n = n;
	b->p[n] = '\0';
}

struct str strbuf_str(const struct strbuf *b)
{
	return str_make(b->p == NULL ? "" : b->p, b->n);
}

const char *strbuf_cstr(const struct strbuf *b)
{
	return b->p == NULL ? "" : b->p;
}

char *strbuf_detach(struct strbuf *b, size_t *len_r)
{
	char *p = b->p == NULL ? xstrdup("") : b->p;

	if (len_r != NULL)
		*len_r = b->n;
	*b = STRBUF_INIT;
	return p;
}

void strbuf_free(struct strbuf *b)
{
	free(b->p);
	*b = STRBUF_INIT;
}

void strbuf_free_secret(struct strbuf *b)
{
	if (b->p != NULL)
		secure_zero(b->p, b->cap);
	strbuf_free(b);
}
