/* imap_pattern.c: LIST patterns as a bit-parallel automaton. State i means
 * "the first i pattern bytes matched what was read"; every name byte moves
 * the whole set at once (shift-and), so a pattern of thousands of
 * wildcards costs a few word operations per byte instead of the
 * exponential backtracking of a recursive matcher. */
#include "proto/imap/imap_pattern.h"

#include <string.h>

/* States 0..IMAP_PATTERN_MAX, one bit each. */
#define PAT_WORDS_MAX ((IMAP_PATTERN_MAX + 1 + 63) / 64)

enum pat_kind {
	PAT_LITERAL,	/* no wildcard: compare */
	PAT_ANY,	/* a lone '*': everything matches */
	PAT_AUTOMATON,
};

struct imap_pattern {
	enum pat_kind kind;
	struct str literal;	/* PAT_LITERAL */
	size_t m;		/* collapsed length: states 0..m */
	size_t words;
	/* Byte value -> row of lit: 0 is the row of bytes the pattern does
	 * not name (all zero). */
	uint16_t cls[256];
	uint64_t *lit;		/* rows of words: bit i, p[i] is that byte */
	uint64_t loop_any[PAT_WORDS_MAX];	/* bit i: p[i-1] is '*' or '%' */
	uint64_t loop_slash[PAT_WORDS_MAX];	/* bit i: p[i-1] is '*' */
	uint64_t wild[PAT_WORDS_MAX];		/* bit i: p[i] is a wildcard */
};

static void bit_set(uint64_t *v, size_t i)
{
	v[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool bit_get(const uint64_t *v, size_t i)
{
	return (v[i / 64] >> (i % 64)) & 1;
}

/* out = in << 1 over words */
static void shift1(uint64_t *out, const uint64_t *in, size_t words)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < words; w++) {
		uint64_t x = in[w];

		out[w] = (x << 1) | carry;
		carry = x >> 63;
	}
}

struct imap_pattern *imap_pattern_compile(struct arena *a, struct str pattern)
{
	struct imap_pattern *p;
	char *q;
	size_t m = 0, n_cls = 1;
	bool any_wild = false;

	if (pattern.n > IMAP_PATTERN_MAX)
		return NULL;
	p = arena_zalloc(a, sizeof(*p));
	/* Collapse each run of wildcards into one: '*' if the run has one. */
	q = arena_alloc(a, pattern.n + 1);
	for (size_t i = 0; i < pattern.n; i++) {
		char ch = pattern.p[i];

		if (ch != '*' && ch != '%') {
			q[m++] = ch;
			continue;
		}
		any_wild = true;
		if (m > 0 && (q[m - 1] == '*' || q[m - 1] == '%')) {
			if (ch == '*')
				q[m - 1] = '*';
			continue;
		}
		q[m++] = ch;
	}
	if (!any_wild) {
		p->kind = PAT_LITERAL;
		p->literal = str_make(q, m);
		return p;
	}
	if (m == 1 && q[0] == '*') {
		p->kind = PAT_ANY;
		return p;
	}
	p->kind = PAT_AUTOMATON;
	p->m = m;
	p->words = (m + 1 + 63) / 64;
	for (size_t i = 0; i < m; i++) {
		unsigned char ch = (unsigned char)q[i];

		if (q[i] != '*' && q[i] != '%' && p->cls[ch] == 0)
			p->cls[ch] = (uint16_t)n_cls++;
	}
	p->lit = arena_zalloc(a, n_cls * p->words * sizeof(*p->lit));
	for (size_t i = 0; i < m; i++) {
		unsigned char ch = (unsigned char)q[i];

		if (q[i] == '*' || q[i] == '%') {
			bit_set(p->wild, i);
			bit_set(p->loop_any, i + 1);
			if (q[i] == '*')
				bit_set(p->loop_slash, i + 1);
		} else {
			bit_set(p->lit + p->cls[ch] * p->words, i);
		}
	}
	return p;
}

size_t imap_pattern_cost(const struct imap_pattern *p)
{
	return p->kind == PAT_AUTOMATON ? p->words : 1;
}

bool imap_pattern_match(const struct imap_pattern *p, struct str name)
{
	uint64_t state[PAT_WORDS_MAX] = { 0 }, t[PAT_WORDS_MAX], u[PAT_WORDS_MAX];
	size_t words = p->words;

	if (p->kind == PAT_LITERAL)
		return str_eq(p->literal, name);
	if (p->kind == PAT_ANY)
		return true;
	/* Start in state 0 and in what a leading wildcard reaches without
	 * reading (runs are collapsed: one step is enough). */
	state[0] = 1 | ((p->wild[0] & 1) << 1);
	for (size_t i = 0; i < name.n; i++) {
		unsigned char ch = (unsigned char)name.p[i];
		const uint64_t *lit = p->lit + p->cls[ch] * words;
		const uint64_t *loop = ch == '/' ? p->loop_slash : p->loop_any;
		uint64_t alive = 0;

		for (size_t w = 0; w < words; w++)
			t[w] = state[w] & lit[w];
		shift1(t, t, words);
		for (size_t w = 0; w < words; w++)
			t[w] |= state[w] & loop[w];
		/* A wildcard also matches the empty string. */
		for (size_t w = 0; w < words; w++)
			u[w] = t[w] & p->wild[w];
		shift1(u, u, words);
		for (size_t w = 0; w < words; w++) {
			state[w] = t[w] | u[w];
			alive |= state[w];
		}
		if (alive == 0)
			return false;
	}
	return bit_get(state, p->m);
}
