/* arc.c: ARC chain validation and sealing (RFC 8617). The sets are found in
 * the header once it is complete; every AMS is checked by dkim_verify as a
 * DKIM-like signature, every ARC-Seal here over the ARC fields in order. */
#include "mail/arc.h"
#include "mail/dkim_sign.h"

#include <ctype.h>

struct arc_set {
	const struct header_field *as, *ams, *aar;
	struct dkim_tags as_tags;
	size_t ams_handle;	/* in dkim_verify */
	size_t as_key;		/* in dkim_verify */
};

struct arc_verify {
	struct arc_set sets[ARC_VERIFY_MAX_SETS + 1];	/* by i, 1-based */
	unsigned n;
	const char *error;	/* a structural failure, found at the header */
};

const char *arc_result_name(enum arc_result result)
{
	switch (result) {
	case ARC_RESULT_PASS:
		return "pass";
	case ARC_RESULT_FAIL:
		return "fail";
	default:
		return "none";
	}
}

struct arc_verify *arc_verify_new(void)
{
	return xcalloc(1, sizeof(struct arc_verify));
}

void arc_verify_free(struct arc_verify **av)
{
	free(*av);
	*av = NULL;
}

/* The i= of an ARC-Authentication-Results value: "i=N;" first. */
static unsigned aar_instance(struct str v)
{
	size_t i = 0;
	uint64_t n;
	ptrdiff_t semi;

	while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\r' ||
			   v.p[i] == '\n'))
		i++;
	v = str_from(v, i);
	semi = str_chr(v, ';');
	if (semi < 0)
		return 0;
	v = str_make(v.p, (size_t)semi);
	if (v.n < 2 || v.p[0] != 'i')
		return 0;
	v = str_trim(str_from(v, 1));
	if (v.n == 0 || v.p[0] != '=')
		return 0;
	v = str_trim(str_from(v, 1));
	if (!str_to_u64(v, ARC_MAX_INSTANCES, &n))
		return 0;
	return (unsigned)n;
}

static unsigned tags_instance(const struct dkim_tags *t)
{
	const struct dkim_tag *i = dkim_tags_get(t, "i");
	uint64_t n;

	if (i == NULL || !str_to_u64(i->value, ARC_MAX_INSTANCES, &n))
		return 0;
	return (unsigned)n;
}

/* Collect the ARC sets of the fields into sets[1..n]. Returns n (0: no ARC
 * fields), or -1 with *error_r for a chain that cannot be valid. */
static int collect(const struct header_field *fields, size_t n_fields,
		   struct arc_set *sets, unsigned max, const char **error_r)
{
	unsigned n = 0;

	memset(sets, 0, (max + 1) * sizeof(*sets));
	for (size_t k = 0; k < n_fields; k++) {
		const struct header_field *f = &fields[k];
		const struct header_field **slot;
		struct dkim_tags tags;
		unsigned i;
		int kind;

		if (str_caseeq(f->name, STR_LIT("ARC-Seal")))
			kind = 0;
		else if (str_caseeq(f->name, STR_LIT("ARC-Message-Signature")))
			kind = 1;
		else if (str_caseeq(f->name,
				    STR_LIT("ARC-Authentication-Results")))
			kind = 2;
		else
			continue;
		if (kind == 2) {
			i = aar_instance(f->value);
		} else if (dkim_tags_parse(f->value, &tags, error_r) < 0) {
			return -1;
		} else {
			i = tags_instance(&tags);
		}
		if (i == 0) {
			*error_r = "bad ARC instance";
			return -1;
		}
		if (i > max) {
			*error_r = "too many ARC sets";
			return -1;
		}
		slot = kind == 0 ? &sets[i].as :
		       kind == 1 ? &sets[i].ams : &sets[i].aar;
		if (*slot != NULL) {
			*error_r = "duplicate ARC instance";
			return -1;
		}
		*slot = f;
		if (kind == 0)
			sets[i].as_tags = tags;
		n = MAX(n, i);
	}
	for (unsigned i = 1; i <= n; i++) {
		if (sets[i].as == NULL || sets[i].ams == NULL ||
		    sets[i].aar == NULL) {
			*error_r = "incomplete ARC set";
			return -1;
		}
	}
	return (int)n;
}

static void canon_field(const struct header_field *f, struct strbuf *out)
{
	dkim_canon_header(DKIM_CANON_RELAXED, dkim_verify_field_raw(f),
			  f->name, f->value, out);
}

/* What ARC-Seal i signs before itself (RFC 8617 5.1.1): the sets 1..i-1
 * (AAR, AMS, AS each) and then AAR and AMS of i, relaxed. */
static void seal_prefix(const struct arc_set *sets, unsigned i,
			struct strbuf *out)
{
	for (unsigned k = 1; k <= i; k++) {
		canon_field(sets[k].aar, out);
		canon_field(sets[k].ams, out);
		if (k < i)
			canon_field(sets[k].as, out);
	}
}

static void header_hook(void *ctx, struct dkim_verify *dv)
{
	struct arc_verify *av = ctx;
	size_t n_fields = dkim_verify_field_count(dv);
	int n;

	n = collect(n_fields > 0 ? dkim_verify_field(dv, 0) : NULL, n_fields,
		    av->sets, ARC_VERIFY_MAX_SETS, &av->error);
	if (n <= 0)
		return;
	av->n = (unsigned)n;
	for (unsigned i = 1; i <= av->n; i++) {
		struct arc_set *s = &av->sets[i];
		const struct dkim_tag *sel = dkim_tags_get(&s->as_tags, "s");
		const struct dkim_tag *d = dkim_tags_get(&s->as_tags, "d");

		s->ams_handle = dkim_verify_add_arc(dv, s->ams, i);
		s->as_key = sel != NULL && d != NULL ?
				    dkim_verify_add_key(dv, sel->value,
							d->value) :
				    SIZE_MAX;
	}
}

void arc_verify_hook(struct arc_verify *av, struct dkim_verify_params *params)
{
	params->header_hook = header_hook;
	params->hook_ctx = av;
}

/* Check ARC-Seal i. Returns NULL when valid, else why not. */
static const char *check_seal(struct arc_verify *av, struct dkim_verify *dv,
			      unsigned i)
{
	struct arc_set *s = &av->sets[i];
	const struct dkim_tag *a = dkim_tags_get(&s->as_tags, "a");
	const struct dkim_tag *b = dkim_tags_get(&s->as_tags, "b");
	const struct dkim_tag *cv = dkim_tags_get(&s->as_tags, "cv");
	const struct dkim_key_record *key;
	struct strbuf data = STRBUF_INIT, sig = STRBUF_INIT;
	enum dkim_result r;
	const char *reason;
	bool ed, ok;

	if (a == NULL || b == NULL || cv == NULL || s->as_key == SIZE_MAX)
		return "ARC-Seal lacks a required tag";
	if (dkim_tags_get(&s->as_tags, "h") != NULL)
		return "ARC-Seal has h=";
	if (!str_eq(cv->value, i == 1 ? STR_LIT("none") : STR_LIT("pass")))
		return i == 1 ? "ARC-Seal i=1 with cv other than none" :
				"ARC-Seal cv is not pass";
	if (str_eq(a->value, STR_LIT("rsa-sha256")))
		ed = false;
	else if (str_eq(a->value, STR_LIT("ed25519-sha256")))
		ed = true;
	else
		return "ARC-Seal algorithm not accepted";
	key = dkim_verify_key(dv, s->as_key, &r, &reason);
	if (key == NULL)
		return reason;
	if (key->ed25519 != ed || !key->sha256)
		return "ARC-Seal key does not fit a=";
	if (!dkim_tags_base64(b->value, &sig))
		return "bad base64 in ARC-Seal b=";
	seal_prefix(av->sets, i, &data);
	dkim_verify_field_without_b(s->as, b, DKIM_CANON_RELAXED, &data);
	ok = dkim_key_record_verify(key, strbuf_str(&data), strbuf_str(&sig));
	strbuf_free(&data);
	strbuf_free(&sig);
	return ok ? NULL : "ARC-Seal signature mismatch";
}

void arc_verify_compute(struct arc_verify *av, struct dkim_verify *dv,
			struct arc_outcome *out_r)
{
	const struct dkim_tag *d;
	const char *why;

	memset(out_r, 0, sizeof(*out_r));
	out_r->reason = "";
	out_r->instances = av->n;
	if (av->error != NULL) {
		out_r->result = ARC_RESULT_FAIL;
		out_r->reason = av->error;
		return;
	}
	if (av->n == 0)
		return;
	d = dkim_tags_get(&av->sets[av->n].as_tags, "d");
	if (d != NULL) {
		size_t len = MIN(d->value.n, sizeof(out_r->domain) - 1);

		for (size_t k = 0; k < len; k++)
			out_r->domain[k] = (char)tolower(
				(unsigned char)d->value.p[k]);
	}
	out_r->result = ARC_RESULT_FAIL;
	/* the newest AMS must validate (5.2 step 4) */
	if (dkim_verify_arc_result(dv, av->sets[av->n].ams_handle)->result !=
	    DKIM_RESULT_PASS) {
		out_r->reason = "newest ARC-Message-Signature does not verify";
		return;
	}
	/* each seal, newest first (5.2 step 5) */
	for (unsigned i = av->n; i >= 1; i--) {
		why = check_seal(av, dv, i);
		if (why != NULL) {
			out_r->reason = why;
			return;
		}
	}
	out_r->result = ARC_RESULT_PASS;
	out_r->oldest_pass = av->n;
	while (out_r->oldest_pass > 1 &&
	       dkim_verify_arc_result(dv, av->sets[out_r->oldest_pass - 1]
						  .ams_handle)
			       ->result == DKIM_RESULT_PASS)
		out_r->oldest_pass--;
}

/* --- sealing --- */

int arc_seal(const struct arc_seal_params *params, struct str msg,
	     struct str auth_results, enum arc_result chain,
	     struct strbuf *out, const char **error_r)
{
	struct arc_set *sets = xcalloc(ARC_MAX_INSTANCES + 2, sizeof(*sets));
	struct header_field *fields = NULL, f;
	struct strbuf aar = STRBUF_INIT, ams = STRBUF_INIT, seal = STRBUF_INIT;
	struct strbuf prefix = STRBUF_INIT;
	struct header_field aar_f, ams_f;
	struct dkim_sign_params sp = {
		.domain = params->domain,
		.selector = params->selector,
		.key = params->key,
		.timestamp = params->timestamp,
	};
	struct str header, body;
	size_t n_fields = 0, pos = 0, alloc = 0;
	char lead[16];
	int n, ret = -1;
	unsigned i;

	dkim_sign_split(msg, &header, &body);
	while (header_next(header, &pos, &f)) {
		if (n_fields == alloc) {
			alloc = alloc == 0 ? 32 : alloc * 2;
			fields = xrealloc(fields, alloc * sizeof(*fields));
		}
		fields[n_fields++] = f;
	}
	n = collect(fields, n_fields, sets, ARC_MAX_INSTANCES, error_r);
	if (n < 0) {
		/* a broken chain is sealed as failed (RFC 8617 5.1.2) only
		 * when its sets can be told apart; here they cannot */
		goto out;
	}
	if (n >= ARC_MAX_INSTANCES) {
		*error_r = "the message has 50 ARC sets already";
		goto out;
	}
	i = (unsigned)n + 1;
	snprintf(lead, sizeof(lead), "i=%u;", i);
	strbuf_printf(&aar, "ARC-Authentication-Results: i=%u; %.*s\r\n", i,
		      (int)auth_results.n, auth_results.p);
	{
		struct dkim_sign_spec spec = {
			.field = "ARC-Message-Signature",
			.lead = lead,
		};

		if (dkim_sign_ext(&sp, &spec, msg, &ams, error_r) < 0)
			goto out;
	}
	pos = 0;
	if (!header_next(strbuf_str(&aar), &pos, &aar_f))
		PANIC("ARC-Authentication-Results does not parse");
	pos = 0;
	if (!header_next(strbuf_str(&ams), &pos, &ams_f))
		PANIC("ARC-Message-Signature does not parse");
	sets[i].aar = &aar_f;
	sets[i].ams = &ams_f;
	seal_prefix(sets, i, &prefix);
	{
		struct dkim_sign_spec spec = {
			.field = "ARC-Seal",
			.lead = lead,
			.seal_cv = i == 1 ? "none" :
				   chain == ARC_RESULT_PASS ? "pass" : "fail",
			.seal_data = strbuf_str(&prefix),
		};

		if (dkim_sign_ext(&sp, &spec, msg, &seal, error_r) < 0)
			goto out;
	}
	strbuf_append_str(out, strbuf_str(&seal));
	strbuf_append_str(out, strbuf_str(&ams));
	strbuf_append_str(out, strbuf_str(&aar));
	ret = 0;
out:
	free(sets);
	free(fields);
	strbuf_free(&aar);
	strbuf_free(&ams);
	strbuf_free(&seal);
	strbuf_free(&prefix);
	return ret;
}
