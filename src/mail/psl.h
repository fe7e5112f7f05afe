/* psl.h: the Public Suffix List (publicsuffix.org) and the organisational
 * domain of RFC 7489 3.2 that DMARC's relaxed alignment compares. Loaded
 * once, then read-only: one struct psl is shared by every thread. */
#ifndef POSTHORN_MAIL_PSL_H
#define POSTHORN_MAIL_PSL_H

#include "base/str.h"

/* Debian's copy (package publicsuffix). */
#define PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

struct psl;

/* Parse a list in the publicsuffix.org format: one rule per line, "//"
 * comment lines, a rule ends at the first white space; "*." wildcard and
 * "!" exception rules. Rules in UTF-8 are also stored as their A-labels
 * ("xn--..."), so a domain matches in either form. Lines that are not a
 * usable rule are skipped. Never fails (an empty list leaves only the
 * implicit "*" rule). The caller owns the result. */
struct psl *psl_parse(struct str text);
/* Read and parse the file at path. Returns NULL and sets *error_r (a
 * static string; errno tells more) when it cannot be read or holds no
 * rule at all (a truncated or wrong file must not silently make every TLD
 * an organisational domain of its own). */
struct psl *psl_load(const char *path, const char **error_r);
void psl_free(struct psl **psl);
/* Number of rules stored (A-label copies included). */
size_t psl_rule_count(const struct psl *psl);

/* The public suffix of domain (case-insensitive; one trailing dot is
 * ignored), a view into domain; the empty view for a name that is not a
 * domain (empty, a leading dot, an empty label). */
struct str psl_public_suffix(const struct psl *psl, struct str domain);
/* The registrable domain: the public suffix and one more label, a view
 * into domain; the empty view when domain is itself a public suffix or is
 * not a domain (the checkPublicSuffix() semantics of publicsuffix.org). */
struct str psl_registrable_domain(const struct psl *psl, struct str domain);
/* The organisational domain of RFC 7489 3.2: the registrable domain, or
 * domain itself (without a trailing dot) when it is a public suffix, so a
 * mail from a bare public suffix still aligns with itself. A view into
 * domain; empty only when domain is not a domain. */
struct str psl_org_domain(const struct psl *psl, struct str domain);

#endif
