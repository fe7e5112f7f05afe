/* base.c: allocation wrappers, panic, errno names and secret wiping. */
#include "base/base.h"

#include <errno.h>

void base_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "PANIC %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name != NULL ? name : "unknown errno";
}

static void *check_alloc(void *p, size_t n)
{
	if (p == NULL && n != 0)
		PANIC("out of memory allocating %zu bytes", n);
	return p;
}

void *xmalloc(size_t n)
{
	return check_alloc(malloc(n == 0 ? 1 : n), n);
}

void *xcalloc(size_t count, size_t size)
{
	return check_alloc(calloc(count == 0 ? 1 : count, size == 0 ? 1 : size),
			   count * size);
}

void *xrealloc(void *p, size_t n)
{
	return check_alloc(realloc(p, n == 0 ? 1 : n), n);
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = xmalloc(len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void *xmemdup(const void *p, size_t n)
{
	void *d = xmalloc(n);

	if (n > 0)
		memcpy(d, p, n);
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		PANIC("out of memory formatting a string");
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void secure_zero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void secret_free(char **p)
{
	if (*p == NULL)
		return;
	secure_zero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}
