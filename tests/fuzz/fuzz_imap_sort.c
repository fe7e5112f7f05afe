/* fuzz_imap_sort.c: SORT criteria from the input's first line; when they
 * parse, three messages are ordered: one whose stored envelope is the rest
 * of the input as it is, one whose envelope is rendered from the rest as a
 * message, and one without. The order must hold each message once. */
#include "base/strbuf.h"
#include "mail/imap_envelope.h"
#include "mail/mime.h"
#include "proto/imap/imap_sort.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t line = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	struct str rest = str_make((const char *)data + line,
				   size - line);
	struct strbuf raw = STRBUF_INIT, env = STRBUF_INIT;
	struct imap_sort_msg msgs[3];
	struct mime_tree *tree;
	struct imap_sort sort;
	struct imap_cursor c;
	struct arena a;
	unsigned seen = 0;

	imap_cursor_init(&c, str_make((const char *)data, line));
	if (!imap_sort_parse(&c, &sort))
		return 0;
	strbuf_append(&raw, rest.p, rest.n);
	tree = mime_parse(rest.p, rest.n, NULL);
	imap_envelope_write(&env, tree->root);
	mime_tree_free(&tree);
	for (uint32_t i = 0; i < 3; i++)
		msgs[i] = (struct imap_sort_msg){ .seq = i + 1,
			.internal_date = (int64_t)(size % 3) - i,
			.size = i * (size % 5) };
	msgs[0].envelope = strbuf_cstr(&raw);
	msgs[1].envelope = strbuf_cstr(&env);
	arena_init(&a, 0);
	imap_sort_order(&sort, &a, msgs, 3);
	for (int i = 0; i < 3; i++)
		seen |= 1u << msgs[i].seq;
	if (seen != 0xe)
		PANIC("sort lost or repeated a message");
	arena_deinit(&a);
	strbuf_free(&raw);
	strbuf_free(&env);
	return 0;
}
