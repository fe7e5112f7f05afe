/* lru.c: entries hold their links, the value and the key in one
 * allocation; the value is what callers see. */
#include "base/lru.h"
#include "base/str.h"

#include <stddef.h>

struct lru_entry {
	struct lru_entry *hnext;		/* bucket chain */
	struct lru_entry *newer, *older;	/* by last use */
	char *key;				/* after the value */
	max_align_t value[];
};

static struct lru_entry *lru_entry_of(void *value)
{
	return (struct lru_entry *)((char *)value -
				    offsetof(struct lru_entry, value));
}

void lru_init(struct lru *t, size_t max, size_t value_size,
	      bool (*pinned)(const void *value))
{
	size_t n = 16;

	ASSERT(max >= 1);
	while (n < max / 2 && n < ((size_t)1 << 20))
		n *= 2;
	memset(t, 0, sizeof(*t));
	t->buckets = xcalloc(n, sizeof(*t->buckets));
	t->nbuckets = n;
	t->max = max;
	t->value_size = value_size;
	t->pinned = pinned;
}

void lru_deinit(struct lru *t)
{
	while (t->newest != NULL) {
		struct lru_entry *e = t->newest;

		t->newest = e->older;
		free(e);
	}
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
}

static struct lru_entry **lru_slot(struct lru *t, const char *key)
{
	struct lru_entry **pp =
		&t->buckets[str_hash(str_c(key)) & (t->nbuckets - 1)];

	while (*pp != NULL && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink_age(struct lru *t, struct lru_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_link_newest(struct lru *t, struct lru_entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

void *lru_find(struct lru *t, const char *key)
{
	struct lru_entry *e = *lru_slot(t, key);

	return e != NULL ? e->value : NULL;
}

void lru_remove(struct lru *t, void *value)
{
	struct lru_entry *e = lru_entry_of(value);
	struct lru_entry **pp = lru_slot(t, e->key);

	ASSERT(*pp == e);
	*pp = e->hnext;
	lru_unlink_age(t, e);
	t->count--;
	free(e);
}

void *lru_get(struct lru *t, const char *key, bool *created_r)
{
	struct lru_entry **pp = lru_slot(t, key), *e = *pp;
	size_t len, vsize;

	if (created_r != NULL)
		*created_r = e == NULL;
	if (e != NULL) {
		lru_unlink_age(t, e);
		lru_link_newest(t, e);
		return e->value;
	}
	for (struct lru_entry *old = t->oldest, *next;
	     old != NULL && t->count >= t->max; old = next) {
		next = old->newer;
		if (t->pinned == NULL || !t->pinned(old->value))
			lru_remove(t, old->value);
	}
	len = strlen(key);
	/* the key goes after the value, which keeps the value aligned */
	vsize = (t->value_size + sizeof(max_align_t) - 1) /
		sizeof(max_align_t) * sizeof(max_align_t);
	e = xcalloc(1, sizeof(*e) + vsize + len + 1);
	e->key = (char *)e->value + vsize;
	memcpy(e->key, key, len + 1);
	pp = lru_slot(t, key);	/* evictions may have changed the chain */
	*pp = e;
	t->count++;
	lru_link_newest(t, e);
	return e->value;
}

void *lru_oldest(struct lru *t)
{
	return t->oldest != NULL ? t->oldest->value : NULL;
}

size_t lru_count(const struct lru *t)
{
	return t->count;
}
