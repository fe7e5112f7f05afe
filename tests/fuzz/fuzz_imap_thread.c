/* fuzz_imap_thread.c: threads of up to 32 messages whose ids, references,
 * subjects and dates come from the input (so loops, duplicates and missing
 * parents all occur). Every message must appear exactly once in the
 * output of both algorithms, and the parentheses must balance. */
#include "base/strbuf.h"
#include "proto/imap/imap_thread.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ids[8] = { "a", "b", "c", "d", "e", "f", "g", "h" };
static const char *const subjects[4] = { "", "x", "y", "z" };

static void check(enum imap_thread_alg alg, const struct imap_thread_msg *m,
		  size_t n)
{
	struct strbuf out = STRBUF_INIT;
	unsigned seen[33] = { 0 };
	int depth = 0;
	struct arena a;

	arena_init(&a, 0);
	imap_thread_render(alg, &a, m, n, &out);
	for (const char *p = strbuf_cstr(&out); *p != '\0'; p++) {
		if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (--depth < 0)
				PANIC("unbalanced thread list");
		} else if (*p >= '0' && *p <= '9') {
			unsigned long v = strtoul(p, (char **)&p, 10);

			if (v < 1 || v > n || seen[v]++ > 0)
				PANIC("message %lu out of range or twice", v);
			p--;
		}
	}
	if (depth != 0)
		PANIC("unbalanced thread list");
	for (size_t i = 1; i <= n; i++) {
		if (seen[i] != 1)
			PANIC("message %zu missing", i);
	}
	strbuf_free(&out);
	arena_deinit(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_thread_msg msgs[32];
	const char *refs[32][3];
	size_t n = MIN(size / 3, ARRAY_SIZE(msgs));

	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = data + 3 * i;

		for (int k = 0; k < 3; k++)
			refs[i][k] = ids[(d[1] >> (2 * k)) & 7];
		msgs[i] = (struct imap_thread_msg){
			.seq = (uint32_t)i + 1, .value = (uint32_t)i + 1,
			.date = d[2] & 15,
			.subject = subjects[(d[0] >> 4) & 3],
			.reply = (d[0] & 0x40) != 0,
			.message_id = (d[0] & 8) != 0 ? NULL : ids[d[0] & 7],
			.refs = refs[i],
			.n_refs = (d[2] >> 4) % 4,
		};
	}
	check(IMAP_THREAD_REFERENCES, msgs, n);
	check(IMAP_THREAD_ORDEREDSUBJECT, msgs, n);
	return 0;
}
