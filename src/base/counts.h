/* counts.h: how many of something each key holds now (connections per
 * client address, sessions per user and address), with a ceiling checked
 * as one is added. Keys are byte strings (length-counted); an entry lives
 * while its count is above zero. Thread-safe: one mutex, held for a few
 * instructions. */
#ifndef POSTHORN_BASE_COUNTS_H
#define POSTHORN_BASE_COUNTS_H

#include "base/str.h"

struct counts;

struct counts *counts_new(void);
void counts_free(struct counts **c);

/* Count one more for key unless it holds max already (max 0: no
 * ceiling); false (and not counted) then. */
bool counts_acquire(struct counts *c, struct str key, unsigned max);
/* One less for key (which must hold one). */
void counts_release(struct counts *c, struct str key);
/* What key holds now. */
unsigned counts_get(struct counts *c, struct str key);

#endif
