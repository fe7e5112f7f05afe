/* dmarc.c: DMARC policy discovery (RFC 7489 6.6.3), identifier alignment
 * (3.1), the evaluation (6.6.2), pct sampling (6.6.4) and the disposition
 * after local policy. */
#include "mail/dmarc.h"

size_t dmarc_lookup_names(struct arena *a, const struct psl *psl,
			  struct str from_domain, struct str names_r[2])
{
	struct str org = psl_org_domain(psl, from_domain);
	size_t count = 0;

	if (org.n == 0)
		return 0;
	if (from_domain.n > 0 && from_domain.p[from_domain.n - 1] == '.')
		from_domain.n--;
	names_r[count++] = str_c(arena_printf(a, "_dmarc.%.*s",
					      (int)from_domain.n,
					      from_domain.p));
	if (!str_caseeq(org, from_domain))
		names_r[count++] = str_c(arena_printf(a, "_dmarc.%.*s",
						      (int)org.n, org.p));
	return count;
}

bool dmarc_discover(struct dmarc_found *found_r, size_t i, size_t count,
		    enum dmarc_dns dns, const struct str *txts, size_t n_txts)
{
	struct dmarc_record rec;
	size_t dmarc = 0;
	enum dmarc_parse last = DMARC_PARSE_NOT_DMARC;

	memset(found_r, 0, sizeof(*found_r));
	if (dns == DMARC_DNS_TEMPERROR) {
		found_r->kind = DMARC_FOUND_TEMPERROR;
		found_r->reason = "DNS error looking up the record";
		return true;
	}
	for (size_t k = 0; dns == DMARC_DNS_ANSWER && k < n_txts; k++) {
		enum dmarc_parse r = dmarc_record_parse(txts[k], &rec);

		if (r == DMARC_PARSE_NOT_DMARC)
			continue;
		if (dmarc++ == 0) {
			last = r;
			found_r->rec = rec;
		}
	}
	if (dmarc > 1) {
		/* RFC 7489 6.6.3 step 5: no DMARC processing; we say so as
		 * permerror, the owner's mistake */
		found_r->kind = DMARC_FOUND_PERMERROR;
		found_r->reason = "several DMARC records";
		return true;
	}
	if (dmarc == 1) {
		if (last == DMARC_PARSE_INVALID) {
			found_r->kind = DMARC_FOUND_PERMERROR;
			found_r->reason = "record without a valid policy";
		} else {
			found_r->kind = DMARC_FOUND_RECORD;
			found_r->at_org = i > 0;
		}
		return true;
	}
	if (i + 1 < count)
		return false;	/* on to the organisational domain */
	found_r->kind = DMARC_FOUND_NOTHING;
	found_r->reason = "no DMARC record";
	return true;
}

static struct str no_root(struct str d)
{
	if (d.n > 0 && d.p[d.n - 1] == '.')
		d.n--;
	return d;
}

bool dmarc_aligned(const struct psl *psl, enum dmarc_align mode,
		   struct str a, struct str b)
{
	a = no_root(a);
	b = no_root(b);
	if (a.n == 0 || b.n == 0)
		return false;
	if (mode == DMARC_ALIGN_STRICT)
		return str_caseeq(a, b);
	a = psl_org_domain(psl, a);
	b = psl_org_domain(psl, b);
	return a.n > 0 && str_caseeq(a, b);
}

unsigned dmarc_random_pct(void *ctx)
{
	(void)ctx;
	return arc4random_uniform(100);
}

static enum dmarc_policy policy_down(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE :
					   DMARC_POLICY_NONE;
}

void dmarc_evaluate(const struct psl *psl, const struct dmarc_input *in,
		    const struct dmarc_found *found, dmarc_random_fn *rnd,
		    void *rnd_ctx, struct dmarc_eval *eval_r)
{
	const struct dmarc_record *rec = &found->rec;
	bool temp = false;

	memset(eval_r, 0, sizeof(*eval_r));
	if (in->from_kind != DMARC_FROM_ONE) {
		eval_r->result = DMARC_RESULT_PERMERROR;
		eval_r->from_conflict = in->from_kind == DMARC_FROM_CONFLICT;
		eval_r->reason = dmarc_from_name(in->from_kind);
		return;
	}
	switch (found->kind) {
	case DMARC_FOUND_NOTHING:
		eval_r->result = DMARC_RESULT_NONE;
		eval_r->reason = found->reason;
		return;
	case DMARC_FOUND_TEMPERROR:
		eval_r->result = DMARC_RESULT_TEMPERROR;
		eval_r->reason = found->reason;
		return;
	case DMARC_FOUND_PERMERROR:
		eval_r->result = DMARC_RESULT_PERMERROR;
		eval_r->reason = found->reason;
		return;
	case DMARC_FOUND_RECORD:
		break;
	}
	eval_r->policy = found->at_org ? rec->sp : rec->p;
	eval_r->applied = eval_r->policy;
	if (dmarc_aligned(psl, rec->aspf, in->spf_domain, in->from_domain)) {
		eval_r->spf_aligned = in->spf == DMARC_AUTH_PASS;
		temp = in->spf == DMARC_AUTH_TEMPERROR;
	}
	for (size_t i = 0; i < in->dkim_count; i++) {
		const struct dmarc_dkim *d = &in->dkim[i];

		if (!dmarc_aligned(psl, rec->adkim, d->domain,
				   in->from_domain))
			continue;
		if (d->result == DMARC_AUTH_PASS && !eval_r->dkim_aligned) {
			eval_r->dkim_aligned = true;
			eval_r->dkim_domain = d->domain;
		}
		if (d->result == DMARC_AUTH_TEMPERROR)
			temp = true;
	}
	if (eval_r->spf_aligned || eval_r->dkim_aligned) {
		eval_r->result = DMARC_RESULT_PASS;
		return;
	}
	if (temp) {
		/* RFC 7489 6.6.2: a temporary error means the receiver
		 * "cannot apply the advertised DMARC policy" */
		eval_r->result = DMARC_RESULT_TEMPERROR;
		eval_r->applied = DMARC_POLICY_NONE;
		eval_r->reason = "temporary error of an aligned identifier";
		return;
	}
	eval_r->result = DMARC_RESULT_FAIL;
	eval_r->reason = "no aligned identifier passed";
	if (rec->pct < 100 && eval_r->policy != DMARC_POLICY_NONE) {
		unsigned draw = (rnd != NULL ? rnd : dmarc_random_pct)(rnd_ctx);

		if (draw >= rec->pct) {
			eval_r->sampled_out = true;
			eval_r->applied = policy_down(eval_r->policy);
		}
	}
}

enum dmarc_disposition dmarc_disposition(const struct dmarc_eval *eval,
					 const struct dmarc_local *local,
					 enum dmarc_override *why_r)
{
	*why_r = DMARC_OVERRIDE_NONE;
	if (eval->from_conflict) {
		if (local->reject)
			return DMARC_DISP_REJECT;
		*why_r = DMARC_OVERRIDE_LOCAL_POLICY;
		return DMARC_DISP_NONE;
	}
	if (eval->result != DMARC_RESULT_FAIL)
		return DMARC_DISP_NONE;
	if (eval->sampled_out)
		*why_r = DMARC_OVERRIDE_SAMPLED_OUT;
	switch (eval->applied) {
	case DMARC_POLICY_REJECT:
		if (local->reject)
			return DMARC_DISP_REJECT;
		*why_r = DMARC_OVERRIDE_LOCAL_POLICY;
		return local->quarantine ? DMARC_DISP_QUARANTINE :
					   DMARC_DISP_NONE;
	case DMARC_POLICY_QUARANTINE:
		if (local->quarantine)
			return DMARC_DISP_QUARANTINE;
		*why_r = DMARC_OVERRIDE_LOCAL_POLICY;
		return DMARC_DISP_NONE;
	case DMARC_POLICY_NONE:
		break;
	}
	return DMARC_DISP_NONE;
}

const char *dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = {
		[DMARC_RESULT_NONE] = "none",
		[DMARC_RESULT_PASS] = "pass",
		[DMARC_RESULT_FAIL] = "fail",
		[DMARC_RESULT_TEMPERROR] = "temperror",
		[DMARC_RESULT_PERMERROR] = "permerror",
	};

	return (size_t)r < ARRAY_SIZE(names) ? names[r] : "none";
}

const char *dmarc_auth_name(enum dmarc_auth a)
{
	static const char *const names[] = {
		[DMARC_AUTH_NONE] = "none",
		[DMARC_AUTH_PASS] = "pass",
		[DMARC_AUTH_FAIL] = "fail",
		[DMARC_AUTH_SOFTFAIL] = "softfail",
		[DMARC_AUTH_NEUTRAL] = "neutral",
		[DMARC_AUTH_POLICY] = "policy",
		[DMARC_AUTH_TEMPERROR] = "temperror",
		[DMARC_AUTH_PERMERROR] = "permerror",
	};

	return (size_t)a < ARRAY_SIZE(names) ? names[a] : "none";
}

const char *dmarc_disposition_name(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISP_NONE:
		return "none";
	case DMARC_DISP_QUARANTINE:
		return "quarantine";
	case DMARC_DISP_REJECT:
		return "reject";
	}
	return "none";
}

const char *dmarc_override_name(enum dmarc_override o)
{
	switch (o) {
	case DMARC_OVERRIDE_NONE:
		return "";
	case DMARC_OVERRIDE_SAMPLED_OUT:
		return "sampled_out";
	case DMARC_OVERRIDE_LOCAL_POLICY:
		return "local_policy";
	}
	return "";
}
