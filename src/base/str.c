/* str.c: string view helpers. */
#include "base/str.h"

struct str str_trim(struct str s)
{
	while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

ptrdiff_t str_chr(struct str s, char c)
{
	const char *hit = s.n == 0 ? NULL : memchr(s.p, c, s.n);

	return hit == NULL ? -1 : hit - s.p;
}

ptrdiff_t str_find(struct str s, struct str needle)
{
	const char *hit;

	if (needle.n == 0)
		return 0;
	if (s.n == 0)
		return -1;
	hit = memmem(s.p, s.n, needle.p, needle.n);
	return hit == NULL ? -1 : hit - s.p;
}

bool str_split(struct str s, char sep, struct str *head_r, struct str *tail_r)
{
	ptrdiff_t i = str_chr(s, sep);

	if (i < 0) {
		*head_r = s;
		*tail_r = str_make(s.p + s.n, 0);
		return false;
	}
	*head_r = str_make(s.p, (size_t)i);
	*tail_r = str_from(s, (size_t)i + 1);
	return true;
}

bool str_to_u64(struct str s, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;

	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';

		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value_r = v;
	return true;
}

size_t str_read_milli(struct str s, int64_t *value_r)
{
	size_t i = 0, digits = 0, decimals = 0;
	int64_t whole = 0, frac = 0;
	bool neg = false;

	if (i < s.n && (s.p[i] == '-' || s.p[i] == '+'))
		neg = s.p[i++] == '-';
	for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, digits++) {
		whole = whole * 10 + (s.p[i] - '0');
		if (whole > 1000000000000)
			return 0;
	}
	if (i < s.n && s.p[i] == '.') {
		for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
			if (decimals < 3) {
				frac = frac * 10 + (s.p[i] - '0');
				decimals++;
			}
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	for (; decimals < 3; decimals++)
		frac *= 10;
	*value_r = (whole * 1000 + frac) * (neg ? -1 : 1);
	return i;
}

char *str_dup(struct str s)
{
	char *d = xmalloc(s.n + 1);

	if (s.n > 0)
		memcpy(d, s.p, s.n);
	d[s.n] = '\0';
	return d;
}

uint64_t str_hash(struct str s)
{
	uint64_t h = 14695981039346656037u;

	for (size_t i = 0; i < s.n; i++)
		h = (h ^ (unsigned char)s.p[i]) * 1099511628211u;
	return h;
}
