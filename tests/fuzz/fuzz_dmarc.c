/* fuzz_dmarc.c: the DMARC record parser, the From-domain reader and the
 * organisational domain on any bytes: no read past the input, views that
 * stay inside it, and answers that obey the RFC's invariants. */
#include "mail/dmarc.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct psl *psl;

static void inside(struct str v, const char *p, size_t n)
{
	if (v.n > 0 && (v.p < p || v.p + v.n > p + n))
		PANIC("a view outside the input");
}

/* "v=DMARC1", then only white space up to the first ';' or the end */
static bool starts_with_version(const char *p, size_t n)
{
	if (n < 8 || memcmp(p, "v=DMARC1", 8) != 0)
		return false;
	for (size_t i = 8; i < n && p[i] != ';'; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: no NUL after it */
	char *copy = xmalloc(size + 1);
	struct strbuf domain = STRBUF_INIT;
	struct dmarc_record rec;
	enum dmarc_parse r;
	enum dmarc_from k;
	struct str org;

	if (psl == NULL)
		psl = psl_parse(STR_LIT("com\nco.uk\nuk\n*.ck\n!www.ck\n"));
	if (size > 0)
		memcpy(copy, data, size);
	r = dmarc_record_parse(str_make(copy, size), &rec);
	if (r == DMARC_PARSE_OK) {
		if (rec.pct > 100 || rec.rua_count > DMARC_MAX_URIS ||
		    rec.ruf_count > DMARC_MAX_URIS)
			PANIC("a value out of range");
		if (rec.p_invalid && rec.rua_count == 0)
			PANIC("an invalid policy kept without rua");
		for (size_t i = 0; i < rec.rua_count; i++)
			inside(rec.rua[i].uri, copy, size);
		for (size_t i = 0; i < rec.ruf_count; i++)
			inside(rec.ruf[i].uri, copy, size);
		if (rec.fo.p != NULL && rec.fo.n > 0 &&
		    !str_eq(rec.fo, STR_LIT("0")))
			inside(rec.fo, copy, size);
	} else if (r == DMARC_PARSE_NOT_DMARC && starts_with_version(copy,
								    size)) {
		PANIC("v=DMARC1 first, yet not taken for DMARC");
	}
	k = dmarc_from_domain(str_make(copy, size), &domain);
	if ((k == DMARC_FROM_ONE) != (domain.n > 0))
		PANIC("a domain without ONE, or ONE without a domain");
	if (k == DMARC_FROM_ONE) {
		struct str d = strbuf_str(&domain);

		if (str_chr(d, '@') >= 0 || str_chr(d, ' ') >= 0 ||
		    str_chr(d, '[') >= 0)
			PANIC("a From domain that is not a domain");
		if (!dmarc_aligned(psl, DMARC_ALIGN_STRICT, d, d) ||
		    !dmarc_aligned(psl, DMARC_ALIGN_RELAXED, d, d))
			PANIC("a domain not aligned with itself");
	}
	org = psl_org_domain(psl, str_make(copy, size));
	inside(org, copy, size);
	if (org.n > 0 && !str_ends_with(str_make(copy, size), org) &&
	    !(size > 0 && copy[size - 1] == '.'))
		PANIC("an organisational domain that is not a suffix");
	strbuf_free(&domain);
	free(copy);
	return 0;
}
