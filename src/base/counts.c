/* counts.c: a chained hash of keys with their counts under one mutex. */
#include "base/counts.h"

#include <pthread.h>

#define COUNTS_BUCKETS 1024

struct counts_entry {
	struct counts_entry *next;
	unsigned count;
	size_t n;
	char key[];
};

struct counts {
	pthread_mutex_t lock;
	struct counts_entry *buckets[COUNTS_BUCKETS];
};

struct counts *counts_new(void)
{
	struct counts *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void counts_free(struct counts **cp)
{
	struct counts *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < COUNTS_BUCKETS; i++) {
		while (c->buckets[i] != NULL) {
			struct counts_entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

static struct counts_entry **counts_slot(struct counts *c, struct str key)
{
	struct counts_entry **pp = &c->buckets[str_hash(key) % COUNTS_BUCKETS];

	while (*pp != NULL && !str_eq(str_make((*pp)->key, (*pp)->n), key))
		pp = &(*pp)->next;
	return pp;
}

bool counts_acquire(struct counts *c, struct str key, unsigned max)
{
	struct counts_entry **pp, *e;
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	pp = counts_slot(c, key);
	e = *pp;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e) + key.n);
		memcpy(e->key, key.p, key.n);
		e->n = key.n;
		*pp = e;
	}
	if (max != 0 && e->count >= max)
		ok = false;
	else
		e->count++;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void counts_release(struct counts *c, struct str key)
{
	struct counts_entry **pp, *e;

	pthread_mutex_lock(&c->lock);
	pp = counts_slot(c, key);
	e = *pp;
	ASSERT(e != NULL && e->count > 0);
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&c->lock);
}

unsigned counts_get(struct counts *c, struct str key)
{
	struct counts_entry *e;
	unsigned n;

	pthread_mutex_lock(&c->lock);
	e = *counts_slot(c, key);
	n = e != NULL ? e->count : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}
