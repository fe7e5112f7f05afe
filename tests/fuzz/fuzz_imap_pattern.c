/* fuzz_imap_pattern.c: the LIST pattern matcher agrees with a plain
 * dynamic-programming matcher over the raw (uncollapsed) pattern. Input:
 * one byte k, then k bytes of pattern, then the name. */
#include "proto/imap/imap_pattern.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_MAX_PATTERN 96
#define REF_MAX_NAME 192

/* match[i][j]: pattern from i matches name from j. */
static bool reference(struct str pat, struct str name)
{
	static bool match[REF_MAX_PATTERN + 1][REF_MAX_NAME + 1];

	for (size_t i = pat.n + 1; i-- > 0;) {
		for (size_t j = name.n + 1; j-- > 0;) {
			bool m;

			if (i == pat.n) {
				m = j == name.n;
			} else if (pat.p[i] == '*' || pat.p[i] == '%') {
				m = match[i + 1][j] ||
				    (j < name.n && (pat.p[i] == '*' ||
						    name.p[j] != '/') &&
				     match[i][j + 1]);
			} else {
				m = j < name.n && pat.p[i] == name.p[j] &&
				    match[i + 1][j + 1];
			}
			match[i][j] = m;
		}
	}
	return match[0][0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_pattern *p;
	struct str pat, name;
	struct arena a;
	size_t k;

	if (size == 0)
		return 0;
	k = MIN((size_t)data[0], size - 1);
	pat = str_make((const char *)data + 1, k);
	name = str_make((const char *)data + 1 + k, size - 1 - k);
	arena_init(&a, 0);
	p = imap_pattern_compile(&a, pat);
	if (p == NULL)
		PANIC("a short pattern did not compile");
	if (pat.n <= REF_MAX_PATTERN && name.n <= REF_MAX_NAME &&
	    imap_pattern_match(p, name) != reference(pat, name))
		PANIC("pattern matcher disagrees with the reference");
	/* The same pattern repeated up to the bound, against the name. */
	if (pat.n > 0) {
		char *big = arena_alloc(&a, IMAP_PATTERN_MAX + 1);
		size_t n = 0;

		while (n + pat.n <= IMAP_PATTERN_MAX) {
			memcpy(big + n, pat.p, pat.n);
			n += pat.n;
		}
		p = imap_pattern_compile(&a, str_make(big, n));
		if (p == NULL)
			PANIC("a pattern at the bound did not compile");
		(void)imap_pattern_match(p, name);
		big[n] = '*';
		if (n == IMAP_PATTERN_MAX &&
		    imap_pattern_compile(&a, str_make(big, n + 1)) != NULL)
			PANIC("a pattern over the bound compiled");
	}
	arena_deinit(&a);
	return 0;
}
