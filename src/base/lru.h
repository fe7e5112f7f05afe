/* lru.h: a bounded table of string keys, each with a fixed-size value,
 * that drops the entry unused longest when full: a chained hash with a
 * list in order of use, so lookups and evictions are O(1). Not
 * thread-safe: its owner locks. */
#ifndef POSTHORN_BASE_LRU_H
#define POSTHORN_BASE_LRU_H

#include "base/base.h"

struct lru_entry;

struct lru {
	struct lru_entry **buckets;
	size_t nbuckets;		/* power of two */
	size_t count, max;
	size_t value_size;
	/* An entry the table may not evict to make room (NULL: any). */
	bool (*pinned)(const void *value);
	struct lru_entry *newest, *oldest;
};

/* At most max entries (>= 1) of value_size bytes each (zeroed when
 * created). */
void lru_init(struct lru *t, size_t max, size_t value_size,
	      bool (*pinned)(const void *value));
void lru_deinit(struct lru *t);

/* The value of key, or NULL; its place in the order is left as it is. */
void *lru_find(struct lru *t, const char *key);
/* The value of key, made the most recently used; created (zeroed, with
 * *created_r true when given) when missing, after evicting the least
 * recently used entries that are not pinned while the table is full (when
 * all are pinned it grows past max). */
void *lru_get(struct lru *t, const char *key, bool *created_r);
/* Remove the entry whose value this is. */
void lru_remove(struct lru *t, void *value);
/* The least recently used value, or NULL when empty. */
void *lru_oldest(struct lru *t);
size_t lru_count(const struct lru *t);

#endif
