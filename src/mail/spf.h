/* spf.h: the SPF evaluator (RFC 7208 check_host()) as a pure state machine:
 * it asks for one DNS lookup at a time and is given the answer, so it runs
 * on any resolver (the SMTP session's asynchronous one) and in unit tests
 * from a table. Record parsing, macro expansion (section 7) and every
 * processing limit (4.6.4) are here. */
#ifndef POSTHORN_MAIL_SPF_H
#define POSTHORN_MAIL_SPF_H

#include "base/strbuf.h"

/* RFC 7208 2.6; the names are those of RFC 8601's registry. */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};
/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(enum spf_result r);

enum spf_qtype { SPF_Q_TXT, SPF_Q_A, SPF_Q_AAAA, SPF_Q_MX, SPF_Q_PTR };

/* What the evaluator asks: a lookup of type for name (a domain; for PTR a
 * numeric address). */
struct spf_query {
	enum spf_qtype type;
	const char *name;
};

/* The answer's status, as dns/dns.h has it (this layer cannot include it). */
enum spf_dns_status {
	SPF_DNS_OK,
	SPF_DNS_NXDOMAIN,
	SPF_DNS_NODATA,
	SPF_DNS_TEMPFAIL,
};

struct spf;

/* A check_host(ip, domain, sender) evaluation. ip is numeric ("192.0.2.1",
 * "2001:db8::1"; an IPv4-mapped IPv6 address counts as IPv4); sender is
 * the MAIL FROM address ("" for <>: then postmaster@helo, RFC 7208 2.4);
 * helo the HELO/EHLO name (for %{h} and <>); receiver our host name (%{r}).
 * domain NULL: the sender's domain (or helo for <>). For the HELO
 * identity pass sender "postmaster@helo" and domain helo. Strings copied. */
struct spf *spf_new(const char *ip, const char *sender, const char *domain,
		    const char *helo, const char *receiver);
void spf_free(struct spf **spf);

/* Run until a lookup is needed (returns false, *q_r valid until the next
 * call) or the result is known (returns true). */
bool spf_step(struct spf *spf, const struct spf_query **q_r);
/* The answer to the last query: items are TXT strings (character-strings
 * joined), numeric addresses, MX exchange names or PTR names, n of them. */
void spf_answer(struct spf *spf, enum spf_dns_status status,
		const char *const *items, size_t n);

/* Once spf_step returned true. reason: a short text for logs and the
 * Authentication-Results comment ("mechanism ip4:192.0.2.0/24 matched",
 * "too many DNS lookups"), valid until spf_free. */
enum spf_result spf_result(const struct spf *spf, const char **reason_r);
/* The domain the check was for (lower case, trailing dot removed): the
 * one DMARC aligns with. */
const char *spf_domain(const struct spf *spf);
/* The MAIL FROM identity as checked ("postmaster@helo" for <>). */
const char *spf_sender(const struct spf *spf);
/* DNS lookups made so far (for tests and the log). */
unsigned spf_lookups(const struct spf *spf);

/* Macro expansion (RFC 7208 7) of a domain-spec or explain-string (exp
 * true: %{c} %{r} %{t} allowed) into out. False on a syntax error. Exposed
 * for the unit tests and the fuzz target; ip/sender/domain/helo as above,
 * ptr_name the validated name for %{p} (NULL: "unknown"). */
bool spf_expand(struct str spec, bool exp, const char *ip, const char *sender,
		const char *domain, const char *helo, const char *receiver,
		const char *ptr_name, struct strbuf *out);

/* Whether a TXT string is an SPF record ("v=spf1" then a space or the
 * end, case-insensitively, RFC 7208 4.5). */
bool spf_is_record(struct str txt);
/* Parse a record's syntax only (for the fuzz target and tests): true when
 * every term is valid (RFC 7208 12's ABNF, macros included). */
bool spf_record_valid(struct str record);

#endif
