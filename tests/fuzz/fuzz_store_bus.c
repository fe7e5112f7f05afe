/* fuzz_store_bus.c: the change bus payload (store_bus_parse) on any bytes,
 * as anyone who may NOTIFY on the database can send it: no read past the
 * input, and a payload it takes is one whose changes it reports again the
 * same when read as from another node, none when from its sender. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
	size_t n;
	uint64_t sum;
};

static void add(void *arg, const struct store_change *c)
{
	struct count *k = arg;

	k->n++;
	k->sum += (uint64_t)c->user_id ^ (uint64_t)c->mailbox_id ^ c->modseq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: no NUL after it */
	char *copy = xmalloc(size + 1);
	struct count a = { 0, 0 }, b = { 0, 0 };
	uint64_t node = 0;
	int n, m;

	if (size > 0)
		memcpy(copy, data, size);
	n = store_bus_parse(str_make(copy, size), 0, add, &a);
	if (n >= 0) {
		/* the sender's own id: counted alike, nothing reported */
		if (size > 10)
			node = strtoull(copy + 10, NULL, 10);
		m = store_bus_parse(str_make(copy, size), node, add, &b);
		if (m != n || (node != 0 && b.n != 0) ||
		    (node == 0 && (b.n != a.n || b.sum != a.sum)) ||
		    (node != 0 && a.n != (size_t)n))
			abort();
	}
	free(copy);
	return 0;
}
