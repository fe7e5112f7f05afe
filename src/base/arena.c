/* arena.c: linked blocks; large requests get a block of their own. */
#include "base/arena.h"

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_BLOCK 4096

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

void arena_init(struct arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size == 0 ? ARENA_DEFAULT_BLOCK : block_size;
	a->total = 0;
}

void arena_clear(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b != NULL) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->total = 0;
}

void arena_deinit(struct arena *a)
{
	arena_clear(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < n)
		PANIC("arena allocation overflow");
	if (b == NULL || b->size - b->used < need) {
		size_t size = MAX(need, a->block_size);

		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		/* A big one-off block goes behind the current one so the
		 * current block's free space is not wasted. */
		if (a->head != NULL && size > a->block_size) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += need;
	a->total += n;
	return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

struct str arena_str(struct arena *a, struct str s)
{
	return str_make(arena_strndup(a, s.p, s.n), s.n);
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int len;

	/* Also tells gcc fmt is not NULL on the sanitizer-instrumented paths. */
	ASSERT(fmt != NULL);
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		PANIC("bad format string %s", fmt);
	char *d = arena_alloc(a, (size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(d, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return d;
}
