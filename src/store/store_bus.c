/* store_bus.c: the change bus between nodes: the writer NOTIFYs each
 * batch's changes (node id, user id, mailbox id, modseq) inside its
 * transaction, so other nodes hear of them exactly when they commit;
 * their listeners (store_nodes.c) parse the payload back. */
#include "store/store_db_int.h"
#include "db/db_notify.h"
#include "base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>

/* A payload: "posthorn1 <node>\n" then "<user> <mailbox> <modseq>\n" per
 * change; ~40 bytes a change, so one notification carries ~200. */
#define BUS_MAGIC "posthorn1 "

static int change_cmp(const void *a, const void *b)
{
	const struct store_change *x = a, *y = b;

	if (x->mailbox_id != y->mailbox_id)
		return x->mailbox_id < y->mailbox_id ? -1 : 1;
	return x->modseq < y->modseq ? -1 : x->modseq > y->modseq;
}

static int bus_flush(struct store_conn *c, struct strbuf *b, size_t head,
		     const char **error_r)
{
	if (b->n == head)
		return 0;
	if (db_notify(c->db, STORE_BUS_CHANNEL, strbuf_str(b)) < 0) {
		*error_r = store_db_error(c);
		return -1;
	}
	b->n = head;
	return 0;
}

int store_bus_send(struct store_conn *c, uint64_t node_id,
		   const struct store_change *v, size_t n,
		   const char **error_r)
{
	struct store_change *sorted;
	struct strbuf b = STRBUF_INIT;
	size_t head;
	int ret = 0;

	if (n == 0 || !db_shared(c->db))
		return 0;
	/* a batch of deliveries to one INBOX tells its last modseq once */
	sorted = xmalloc(n * sizeof(*sorted));
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), change_cmp);
	strbuf_printf(&b, BUS_MAGIC "%llu\n", (unsigned long long)node_id);
	head = b.n;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		char line[80];
		int len;

		if (i + 1 < n && sorted[i + 1].mailbox_id == sorted[i].mailbox_id)
			continue;
		len = snprintf(line, sizeof(line), "%lld %lld %llu\n",
			       (long long)sorted[i].user_id,
			       (long long)sorted[i].mailbox_id,
			       (unsigned long long)sorted[i].modseq);
		if (b.n + (size_t)len > DB_PAYLOAD_MAX)
			ret = bus_flush(c, &b, head, error_r);
		strbuf_append(&b, line, (size_t)len);
	}
	if (ret == 0)
		ret = bus_flush(c, &b, head, error_r);
	strbuf_free(&b);
	free(sorted);
	return ret;
}

/* A signed decimal field. */
static bool field_i64(struct str s, int64_t *v_r)
{
	uint64_t v;
	bool neg = s.n > 0 && s.p[0] == '-';

	if (!str_to_u64(str_from(s, neg), INT64_MAX, &v))
		return false;
	*v_r = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

int store_bus_parse(struct str payload, uint64_t self,
		    void (*fn)(void *arg, const struct store_change *c),
		    void *arg)
{
	struct str line, rest, f[3];
	uint64_t node, modseq;
	int n = 0;

	if (!str_starts_with(payload, STR_LIT(BUS_MAGIC)) ||
	    !str_split(str_from(payload, sizeof(BUS_MAGIC) - 1), '\n', &line,
		       &rest) ||
	    !str_to_u64(line, UINT64_MAX, &node))
		return -1;
	while (rest.n > 0) {
		struct store_change c;
		struct str tail;

		if (!str_split(rest, '\n', &line, &rest) ||
		    !str_split(line, ' ', &f[0], &tail) ||
		    !str_split(tail, ' ', &f[1], &f[2]) ||
		    !field_i64(f[0], &c.user_id) ||
		    !field_i64(f[1], &c.mailbox_id) ||
		    !str_to_u64(f[2], UINT64_MAX, &modseq))
			return -1;
		c.modseq = modseq;
		if (node != self)
			fn(arg, &c);
		n++;
	}
	return n;
}
