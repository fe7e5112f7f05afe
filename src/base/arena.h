/* arena.h: bump allocator tied to a protocol lifetime (connection,
 * transaction, command). Everything is freed at once by arena_free/clear. */
#ifndef POSTHORN_BASE_ARENA_H
#define POSTHORN_BASE_ARENA_H

#include "base/str.h"

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t block_size;
	size_t total;	/* bytes handed out, for limits and metrics */
};

/* block_size 0 picks a default (4 KiB). */
void arena_init(struct arena *a, size_t block_size);
/* Free every block; the arena can be used again. */
void arena_clear(struct arena *a);
void arena_deinit(struct arena *a);

/* Never fails; memory is aligned for any type and uninitialised. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* A NUL-terminated arena copy of a view. */
struct str arena_str(struct arena *a, struct str s);
char *arena_printf(struct arena *a, const char *fmt, ...) PRINTF_FMT(2, 3);

#endif
