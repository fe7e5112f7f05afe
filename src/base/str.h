/* str.h: length-counted string views, passed by value. A view never owns
 * its bytes and is not NUL-terminated unless said so. */
#ifndef POSTHORN_BASE_STR_H
#define POSTHORN_BASE_STR_H

#include "base/base.h"

struct str {
	const char *p;
	size_t n;
};

#define STR_NULL ((struct str){ NULL, 0 })
/* A view of a string literal, without its NUL. */
#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })

static inline struct str str_make(const char *p, size_t n)
{
	return (struct str){ p, n };
}

/* A view of a NUL-terminated C string (NULL gives the empty view). */
static inline struct str str_c(const char *s)
{
	return (struct str){ s, s == NULL ? 0 : strlen(s) };
}

static inline bool str_eq(struct str a, struct str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* ASCII case-insensitive comparison (protocol keywords, domains). */
static inline bool str_caseeq(struct str a, struct str b)
{
	return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static inline bool str_starts_with(struct str s, struct str prefix)
{
	return s.n >= prefix.n && memcmp(s.p, prefix.p, prefix.n) == 0;
}

static inline bool str_ends_with(struct str s, struct str suffix)
{
	return s.n >= suffix.n &&
	       memcmp(s.p + s.n - suffix.n, suffix.p, suffix.n) == 0;
}

static inline bool str_casestarts_with(struct str s, struct str prefix)
{
	return s.n >= prefix.n && strncasecmp(s.p, prefix.p, prefix.n) == 0;
}

/* The part of s from index i on (i is clamped to s.n). */
static inline struct str str_from(struct str s, size_t i)
{
	i = MIN(i, s.n);
	return (struct str){ s.p + i, s.n - i };
}

/* Remove leading and trailing spaces and tabs. */
struct str str_trim(struct str s);
/* Index of the first c in s, or -1. */
ptrdiff_t str_chr(struct str s, char c);
/* Index of needle in s, or -1. */
ptrdiff_t str_find(struct str s, struct str needle);
/* Split at the first sep: *head_r before it, *tail_r after it. Returns false
 * (and head = s, tail empty) when sep is absent. */
bool str_split(struct str s, char sep, struct str *head_r, struct str *tail_r);
/* Parse an unsigned decimal number that fills all of s, without overflow
 * past max. Returns false on an empty view, a non-digit or an overflow. */
bool str_to_u64(struct str s, uint64_t max, uint64_t *value_r);
/* A decimal number at the start of s ("7.5", "-0.25", "+3", ".5") in
 * thousandths (digits past the third decimal dropped): the octets it
 * took, or 0 when s does not start with one or it is beyond +-10^12. */
size_t str_read_milli(struct str s, int64_t *value_r);
/* A malloc'd NUL-terminated copy (for libc and OpenSSL boundaries). */
char *str_dup(struct str s);
/* FNV-1a (64 bits) of the bytes of s, for the private hash tables. */
uint64_t str_hash(struct str s);

#endif
