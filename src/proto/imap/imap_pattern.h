/* imap_pattern.h: LIST and LSUB mailbox patterns (RFC 3501 6.3.8, RFC 9051
 * 6.3.9): '*' matches any run of characters, '%' any run without the
 * hierarchy delimiter '/', everything else itself. A pattern is compiled
 * once; a match never backtracks. No I/O. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_PATTERN_H
#define POSTHORN_PROTO_IMAP_IMAP_PATTERN_H

#include "base/arena.h"

/* The longest pattern (reference included) LIST takes, in bytes. */
#define IMAP_PATTERN_MAX 1024

struct imap_pattern;	/* in the arena given to compile */

/* Compile pattern (any bytes; runs of wildcards collapse: a run holding a
 * '*' acts as one '*', a run of '%' as one '%'). NULL when it is longer
 * than IMAP_PATTERN_MAX bytes. */
struct imap_pattern *imap_pattern_compile(struct arena *a, struct str pattern);
/* Whether name matches: O(len(name) * len(pattern) / 64) at worst, and it
 * stops at the first byte no match can get past. */
bool imap_pattern_match(const struct imap_pattern *p, struct str name);
/* The words one name byte costs at worst (1 for short patterns), for a
 * caller that budgets its work. */
size_t imap_pattern_cost(const struct imap_pattern *p);

#endif
