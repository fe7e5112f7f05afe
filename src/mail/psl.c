/* psl.c: the Public Suffix List as one open-addressing hash of rule
 * suffixes (each with normal/wildcard/exception bits) over one string
 * pool, and the publicsuffix.org algorithm over the labels of a domain. */
#include "mail/psl.h"
#include "base/strbuf.h"

#include <errno.h>
#include <unistr.h>

enum {
	PSL_NORMAL = 1,		/* "a.b" */
	PSL_WILDCARD = 2,	/* "*.a.b": stored under "a.b" */
	PSL_EXCEPTION = 4,	/* "!a.b" */
};

/* DNS names have at most 127 labels in 253 octets. */
#define PSL_MAX_LABELS 128
#define PSL_MAX_NAME 253

struct psl_entry {
	uint32_t off;	/* into pool; len 0 = free slot */
	uint16_t len;
	uint8_t flags;
};

struct psl {
	struct psl_entry *slots;
	size_t mask;	/* slot count - 1, a power of two minus one */
	size_t used;
	struct strbuf pool;	/* lowercase rule suffixes, back to back */
};

static uint64_t psl_hash(struct str s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 0x100000001b3ULL;
	}
	return h;
}

static struct psl_entry *psl_slot(const struct psl *psl, struct str key)
{
	size_t i = (size_t)psl_hash(key) & psl->mask;

	for (;;) {
		struct psl_entry *e = &psl->slots[i];

		if (e->len == 0)
			return e;
		if (e->len == key.n &&
		    strncasecmp(psl->pool.p + e->off, key.p, key.n) == 0)
			return e;
		i = (i + 1) & psl->mask;
	}
}

static unsigned psl_flags(const struct psl *psl, struct str key)
{
	const struct psl_entry *e = psl_slot(psl, key);

	return e->len == 0 ? 0 : e->flags;
}

static void psl_grow(struct psl *psl)
{
	struct psl_entry *old = psl->slots;
	size_t old_n = psl->mask + 1;

	psl->mask = old_n * 2 - 1;
	psl->slots = xcalloc(psl->mask + 1, sizeof(*psl->slots));
	for (size_t i = 0; i < old_n; i++) {
		if (old[i].len == 0)
			continue;
		*psl_slot(psl, str_make(psl->pool.p + old[i].off,
					old[i].len)) = old[i];
	}
	free(old);
}

static void psl_insert(struct psl *psl, struct str key, unsigned flag)
{
	struct psl_entry *e;

	if ((psl->used + 1) * 2 > psl->mask + 1)
		psl_grow(psl);
	e = psl_slot(psl, key);
	if (e->len == 0) {
		e->off = (uint32_t)psl->pool.n;
		e->len = (uint16_t)key.n;
		e->flags = 0;
		strbuf_append_str(&psl->pool, key);
		psl->used++;
	}
	e->flags |= (uint8_t)flag;
}

/* RFC 3492 section 6.1. */
static uint32_t puny_adapt(uint32_t delta, uint32_t points, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / points;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return k + (36 - 1 + 1) * delta / (delta + 38);
}

static char puny_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Append "xn--" and the RFC 3492 encoding of one UTF-8 label; false on
 * bad UTF-8 or a label too long to matter. */
static bool puny_label(struct strbuf *out, struct str label)
{
	uint32_t cps[64], n = 128, delta = 0, bias = 72, h, b = 0;
	size_t count = 0;
	const uint8_t *p = (const uint8_t *)label.p, *end = p + label.n;

	while (p < end) {
		ucs4_t uc;
		int len = u8_mbtouc(&uc, p, (size_t)(end - p));

		if (uc == 0xfffd || count == ARRAY_SIZE(cps))
			return false;
		cps[count++] = uc;
		p += len;
	}
	strbuf_append_str(out, STR_LIT("xn--"));
	for (size_t i = 0; i < count; i++) {
		if (cps[i] < 0x80) {
			strbuf_putc(out, (char)cps[i]);
			b++;
		}
	}
	if (b > 0)
		strbuf_putc(out, '-');
	h = b;
	while (h < count) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < count; i++)
			if (cps[i] >= n && cps[i] < m)
				m = cps[i];
		/* labels are short: (m - n) * (h + 1) cannot overflow */
		delta += (m - n) * (h + 1);
		n = m;
		for (size_t i = 0; i < count; i++) {
			if (cps[i] < n)
				delta++;
			if (cps[i] != n)
				continue;
			uint32_t q = delta;

			for (uint32_t k = 36;; k += 36) {
				uint32_t t = k <= bias ? 1 :
					     k >= bias + 26 ? 26 : k - bias;

				if (q < t)
					break;
				strbuf_putc(out, puny_digit(t + (q - t) %
							       (36 - t)));
				q = (q - t) / (36 - t);
			}
			strbuf_putc(out, puny_digit(q));
			bias = puny_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		n++;
	}
	return true;
}

/* The A-label form of a UTF-8 name, into *out; false if not encodable. */
static bool psl_to_alabels(struct strbuf *out, struct str name)
{
	struct str rest = name, label;

	strbuf_reset(out);
	while (rest.n > 0) {
		bool ascii = true;

		str_split(rest, '.', &label, &rest);
		for (size_t i = 0; i < label.n; i++)
			if ((unsigned char)label.p[i] >= 0x80)
				ascii = false;
		if (out->n > 0)
			strbuf_putc(out, '.');
		if (ascii)
			strbuf_append_str(out, label);
		else if (!puny_label(out, label))
			return false;
	}
	return out->n <= PSL_MAX_NAME;
}

/* A rule's suffix must be a plain name: no empty label, no '*' or '!'
 * inside (the list uses wildcards only as the leftmost label). */
static bool psl_rule_ok(struct str key)
{
	if (key.n == 0 || key.n > PSL_MAX_NAME || key.p[0] == '.' ||
	    key.p[key.n - 1] == '.')
		return false;
	for (size_t i = 0; i < key.n; i++) {
		char c = key.p[i];

		if (c == '*' || c == '!' || (c == '.' && key.p[i + 1] == '.'))
			return false;
	}
	return true;
}

static void psl_add_line(struct psl *psl, struct str line,
			 struct strbuf *tmp)
{
	unsigned flag = PSL_NORMAL;
	size_t end = 0;

	line = str_trim(line);
	if (line.n > 0 && line.p[line.n - 1] == '\r')
		line.n--;
	if (line.n == 0 || str_starts_with(line, STR_LIT("//")))
		return;
	while (end < line.n && line.p[end] != ' ' && line.p[end] != '\t')
		end++;
	line.n = end;
	if (line.p[0] == '!') {
		flag = PSL_EXCEPTION;
		line = str_from(line, 1);
	} else if (str_starts_with(line, STR_LIT("*."))) {
		flag = PSL_WILDCARD;
		line = str_from(line, 2);
	}
	if (!psl_rule_ok(line))
		return;
	psl_insert(psl, line, flag);
	for (size_t i = 0; i < line.n; i++) {
		if ((unsigned char)line.p[i] >= 0x80) {
			if (psl_to_alabels(tmp, line))
				psl_insert(psl, strbuf_str(tmp), flag);
			break;
		}
	}
}

struct psl *psl_parse(struct str text)
{
	struct psl *psl = xcalloc(1, sizeof(*psl));
	struct strbuf tmp = STRBUF_INIT;
	struct str line;

	psl->mask = 1023;
	psl->slots = xcalloc(psl->mask + 1, sizeof(*psl->slots));
	while (text.n > 0) {
		str_split(text, '\n', &line, &text);
		psl_add_line(psl, line, &tmp);
	}
	strbuf_free(&tmp);
	return psl;
}

struct psl *psl_load(const char *path, const char **error_r)
{
	struct strbuf text = STRBUF_INIT;
	struct psl *psl;
	char buf[16384];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		*error_r = "cannot open the public suffix list";
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append(&text, buf, n);
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		strbuf_free(&text);
		errno = err;
		*error_r = "cannot read the public suffix list";
		return NULL;
	}
	fclose(f);
	psl = psl_parse(strbuf_str(&text));
	strbuf_free(&text);
	if (psl->used == 0) {
		psl_free(&psl);
		errno = EINVAL;
		*error_r = "the public suffix list holds no rule";
		return NULL;
	}
	return psl;
}

void psl_free(struct psl **pslp)
{
	struct psl *psl = *pslp;

	if (psl == NULL)
		return;
	free(psl->slots);
	strbuf_free(&psl->pool);
	free(psl);
	*pslp = NULL;
}

size_t psl_rule_count(const struct psl *psl)
{
	return psl->used;
}

/* Split domain into labels: starts[i] is where label i begins; returns the
 * label count, 0 for a name that is not a domain. */
static size_t psl_labels(struct str *domain, size_t starts[PSL_MAX_LABELS])
{
	size_t count = 0;

	if (domain->n > 0 && domain->p[domain->n - 1] == '.')
		domain->n--;
	if (domain->n == 0 || domain->n > PSL_MAX_NAME)
		return 0;
	starts[count++] = 0;
	for (size_t i = 0; i < domain->n; i++) {
		if (domain->p[i] != '.')
			continue;
		/* an empty label: leading dot, "..", or a dot at the end */
		if (i == 0 || domain->p[i - 1] == '.' || i + 1 == domain->n ||
		    count == PSL_MAX_LABELS)
			return 0;
		starts[count++] = i + 1;
	}
	return count;
}

/* Index of the label where the public suffix of domain starts. */
static size_t psl_suffix_label(const struct psl *psl, struct str domain,
			       const size_t *starts, size_t count)
{
	/* an exception rule prevails over every other match; its public
	 * suffix is the rule minus its leftmost label */
	for (size_t i = 0; i + 1 < count; i++)
		if (psl_flags(psl, str_from(domain, starts[i])) & PSL_EXCEPTION)
			return i + 1;
	/* otherwise the matching rule with the most labels: the first one
	 * found from the longest suffix down */
	for (size_t i = 0; i < count; i++) {
		if (psl_flags(psl, str_from(domain, starts[i])) & PSL_NORMAL)
			return i;
		if (i + 1 < count &&
		    (psl_flags(psl, str_from(domain, starts[i + 1])) &
		     PSL_WILDCARD))
			return i;
	}
	/* the implicit "*" rule: the last label */
	return count - 1;
}

struct str psl_public_suffix(const struct psl *psl, struct str domain)
{
	size_t starts[PSL_MAX_LABELS];
	size_t count = psl_labels(&domain, starts);

	if (count == 0)
		return str_make(domain.p, 0);
	return str_from(domain,
			starts[psl_suffix_label(psl, domain, starts, count)]);
}

struct str psl_registrable_domain(const struct psl *psl, struct str domain)
{
	size_t starts[PSL_MAX_LABELS];
	size_t count = psl_labels(&domain, starts), i;

	if (count == 0)
		return str_make(domain.p, 0);
	i = psl_suffix_label(psl, domain, starts, count);
	if (i == 0)
		return str_make(domain.p, 0);
	return str_from(domain, starts[i - 1]);
}

struct str psl_org_domain(const struct psl *psl, struct str domain)
{
	struct str org = psl_registrable_domain(psl, domain);
	size_t starts[PSL_MAX_LABELS];

	if (org.n > 0)
		return org;
	if (psl_labels(&domain, starts) == 0)
		return str_make(domain.p, 0);
	return domain;
}
