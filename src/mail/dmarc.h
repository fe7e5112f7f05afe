/* dmarc.h: DMARC (RFC 7489), pure: the policy record, the RFC5322.From
 * domain, the policy discovery order, identifier alignment, the result and
 * the disposition after local policy. The caller does the DNS. */
#ifndef POSTHORN_MAIL_DMARC_H
#define POSTHORN_MAIL_DMARC_H

#include "base/arena.h"
#include "base/strbuf.h"
#include "mail/psl.h"

enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED,
	DMARC_ALIGN_STRICT,
};

/* A reporting URI (rua/ruf) and its "!size" limit in bytes (0: none). */
struct dmarc_uri {
	struct str uri;
	uint64_t max_size;
};

/* Receivers may cap the URIs they use (RFC 7489 6.2); two per kind is
 * the common practice, four leaves room. */
#define DMARC_MAX_URIS 4

/* A parsed record. Views point into the TXT string parsed. */
struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;	/* = p when the record has no sp */
	/* p (or sp) missing or not valid, but rua valid: acting as p=none
	 * (RFC 7489 6.6.3 step 6) */
	bool p_invalid;
	unsigned pct;		/* 0..100, default 100 */
	enum dmarc_align adkim, aspf;	/* default relaxed */
	struct str fo;		/* default "0" */
	struct str rf;		/* default "afrf" */
	uint32_t ri;		/* default 86400 */
	struct dmarc_uri rua[DMARC_MAX_URIS];
	size_t rua_count;
	struct dmarc_uri ruf[DMARC_MAX_URIS];
	size_t ruf_count;
};

enum dmarc_parse {
	DMARC_PARSE_OK,
	/* not a DMARC record ("v=DMARC1" is not the first tag): discarded
	 * from the RRset as RFC 7489 6.6.3 step 4 says */
	DMARC_PARSE_NOT_DMARC,
	/* a DMARC record without a valid p (or sp) and without a valid rua:
	 * no DMARC processing (RFC 7489 6.6.3 step 6) */
	DMARC_PARSE_INVALID,
};

/* Parse one TXT record (its strings already joined). Tags are
 * "name=value" separated by ';' with white space around either; unknown
 * tags are ignored, a repeated tag counts once (the first), an optional
 * tag with a bad value keeps its default. rua/ruf take comma-separated
 * URIs with an optional "!size[kmgt]"; URIs that are not URIs are skipped,
 * past DMARC_MAX_URIS they are ignored. */
enum dmarc_parse dmarc_record_parse(struct str txt, struct dmarc_record *rec_r);

const char *dmarc_policy_name(enum dmarc_policy p);

/* The RFC5322.From domain (RFC 7489 6.6.1). */
enum dmarc_from {
	DMARC_FROM_ONE,		/* one domain (possibly from several
				 * addresses or fields that all agree) */
	DMARC_FROM_NONE,	/* no From field */
	DMARC_FROM_BAD,		/* a From field without a usable domain
				 * (no '@', an address literal, a group, junk) */
	DMARC_FROM_CONFLICT,	/* several From fields or addresses with
				 * different domains */
};

/* Find the From field(s) in a header block (RFC 5322, LF or CRLF lines, up
 * to the empty line) and their domain, lowercased (ASCII), into *domain_r
 * (reset first). Several addresses or several fields are accepted when
 * they all have the same domain (RFC 7489 6.6.1 lets the receiver evaluate
 * that domain once); different domains are DMARC_FROM_CONFLICT. */
enum dmarc_from dmarc_from_domain(struct str header, struct strbuf *domain_r);
const char *dmarc_from_name(enum dmarc_from f);

/* The DNS names to ask for TXT, in order (RFC 7489 6.6.3): "_dmarc.<from
 * domain>", then "_dmarc.<organisational domain>" when that differs. NUL-
 * terminated, in arena a. Returns the count, 0 when from_domain is not a
 * domain. */
size_t dmarc_lookup_names(struct arena *a, const struct psl *psl,
			  struct str from_domain, struct str names_r[2]);

/* What a TXT lookup of one of those names gave. */
enum dmarc_dns {
	DMARC_DNS_ANSWER,	/* TXT records (maybe none of them DMARC) */
	DMARC_DNS_NONE,		/* NXDOMAIN or no TXT */
	DMARC_DNS_TEMPERROR,	/* SERVFAIL, timeout */
};

enum dmarc_found_kind {
	DMARC_FOUND_NOTHING,	/* no record: DMARC result none */
	DMARC_FOUND_RECORD,
	DMARC_FOUND_TEMPERROR,
	DMARC_FOUND_PERMERROR,	/* several records, or an unusable one */
};

struct dmarc_found {
	enum dmarc_found_kind kind;
	struct dmarc_record rec;	/* views into the TXT strings given */
	/* the record was found at the organisational domain, not at the
	 * From domain: its sp applies (RFC 7489 6.3) */
	bool at_org;
	const char *reason;	/* for the log, when kind is not RECORD */
};

/* Take the answer for names[i] of count (dmarc_lookup_names). Returns
 * true when discovery is over (*found_r is final), false when names[i+1]
 * is to be looked up next. txts are the TXT records of the answer, each
 * with its strings joined; found_r's record points into them. */
bool dmarc_discover(struct dmarc_found *found_r, size_t i, size_t count,
		    enum dmarc_dns dns, const struct str *txts, size_t n_txts);

/* Results of the underlying mechanisms, with the names of RFC 8601 (SPF
 * adds softfail, DKIM policy); DMARC only counts pass and temperror. */
enum dmarc_auth {
	DMARC_AUTH_NONE,
	DMARC_AUTH_PASS,
	DMARC_AUTH_FAIL,
	DMARC_AUTH_SOFTFAIL,
	DMARC_AUTH_NEUTRAL,
	DMARC_AUTH_POLICY,
	DMARC_AUTH_TEMPERROR,
	DMARC_AUTH_PERMERROR,
};

const char *dmarc_auth_name(enum dmarc_auth a);

struct dmarc_dkim {
	enum dmarc_auth result;
	struct str domain;	/* d= */
	struct str selector;	/* s=, for reports */
};

struct dmarc_input {
	struct str from_domain;	/* dmarc_from_domain's */
	enum dmarc_from from_kind;
	/* SPF's result for the RFC5321.MailFrom identity, or for HELO when
	 * MAIL FROM is <> (RFC 7489 3.1.2, RFC 7208 2.4), and its domain */
	enum dmarc_auth spf;
	struct str spf_domain;
	const struct dmarc_dkim *dkim;	/* every signature checked */
	size_t dkim_count;
};

enum dmarc_result {
	DMARC_RESULT_NONE,
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

const char *dmarc_result_name(enum dmarc_result r);

/* Returns 0..99, uniformly; a message is sampled in when the value is
 * below pct. Injectable so that tests are deterministic. */
typedef unsigned dmarc_random_fn(void *ctx);
/* The default: arc4random_uniform(100). */
unsigned dmarc_random_pct(void *ctx);

struct dmarc_eval {
	enum dmarc_result result;
	/* the published policy that applies (p, or sp for a subdomain);
	 * none without a record */
	enum dmarc_policy policy;
	/* after pct: a message left out of the sample gets the next policy
	 * down (reject -> quarantine -> none), RFC 7489 6.6.4 */
	enum dmarc_policy applied;
	bool sampled_out;
	bool spf_aligned;	/* SPF passed and its domain aligns */
	bool dkim_aligned;	/* some signature passed and its d= aligns */
	struct str dkim_domain;	/* that d= (empty otherwise) */
	/* From fields that disagree: permerror, refused under dmarc_reject */
	bool from_conflict;
	const char *reason;	/* a few words for the log, or NULL */
};

/* Is domain a aligned with domain b: the same name (strict), or the same
 * organisational domain (relaxed)? Case-insensitive, a trailing dot
 * ignored. */
bool dmarc_aligned(const struct psl *psl, enum dmarc_align mode,
		   struct str a, struct str b);

/* The DMARC evaluation of RFC 7489 6.6.2: pass when an identifier that
 * passed aligns with the From domain; otherwise temperror when an aligned
 * identifier had a temporary error (the policy cannot be applied), else
 * fail. No record gives none; the discovery's errors give temperror or
 * permerror; a From without one domain gives permerror. rnd (NULL: the
 * default) draws pct. */
void dmarc_evaluate(const struct psl *psl, const struct dmarc_input *in,
		    const struct dmarc_found *found, dmarc_random_fn *rnd,
		    void *rnd_ctx, struct dmarc_eval *eval_r);

/* Local policy: the [inbound] keys dmarc_reject and dmarc_quarantine. */
struct dmarc_local {
	bool reject;		/* refuse failing mail under p=reject */
	bool quarantine;	/* file failing mail under p=quarantine
				 * (and p=reject when reject is off) as Junk */
};

enum dmarc_disposition {
	DMARC_DISP_NONE,
	DMARC_DISP_QUARANTINE,
	DMARC_DISP_REJECT,
};

/* RFC 7489 Appendix C PolicyOverrideType, the ones we produce. */
enum dmarc_override {
	DMARC_OVERRIDE_NONE,
	DMARC_OVERRIDE_SAMPLED_OUT,
	DMARC_OVERRIDE_LOCAL_POLICY,
};

/* What to do with the message: the applied policy for a failing message,
 * limited by local policy (p=reject with reject off becomes quarantine
 * when quarantine is on, else none); a From conflict is refused when
 * reject is on. *why_r says why the disposition is less than the
 * published policy. */
enum dmarc_disposition dmarc_disposition(const struct dmarc_eval *eval,
					 const struct dmarc_local *local,
					 enum dmarc_override *why_r);
const char *dmarc_disposition_name(enum dmarc_disposition d);
const char *dmarc_override_name(enum dmarc_override o);

#endif
