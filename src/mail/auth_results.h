/* auth_results.h: the Authentication-Results header field (RFC 8601): a
 * list of method results built during a transaction, formatted as one
 * folded field, and the test an incoming field's authserv-id gets
 * (section 5: fields that claim to be ours are not trusted). Pure. */
#ifndef POSTHORN_MAIL_AUTH_RESULTS_H
#define POSTHORN_MAIL_AUTH_RESULTS_H

#include "base/arena.h"
#include "base/strbuf.h"

/* "smtp.mailfrom", "smtp.helo", "header.d", "header.i", "header.b",
 * "header.from", "policy.dmarc"...: ptype.property and its value. */
struct auth_result_prop {
	const char *name;
	const char *value;
};

struct auth_result {
	const char *method;	/* "spf", "dkim", "dmarc", "arc", "iprev" */
	const char *result;	/* "pass", "fail", "none", ... */
	const char *reason;	/* or NULL */
	struct auth_result_prop *props;
	size_t n_props;
};

struct auth_results {
	struct arena *arena;	/* the strings and the array */
	struct auth_result *items;
	size_t n, cap;
};

void auth_results_init(struct auth_results *ar, struct arena *arena);
/* Strings are copied into the arena. */
void auth_results_add(struct auth_results *ar, const char *method,
		      const char *result, const char *reason,
		      const struct auth_result_prop *props, size_t n_props);
/* Append "Authentication-Results: id;\r\n\tspf=pass smtp.mailfrom=a@b;
 * \r\n\tdkim=..." with its final CRLF; "id; none" without results. A
 * value that is not a token nor a plain address is a quoted-string;
 * bytes below 0x20 and DEL in values are dropped (they come from DNS and
 * the client). */
void auth_results_format(struct strbuf *out, const char *authserv_id,
			 const struct auth_result *items, size_t n);
/* The authserv-id of an Authentication-Results value (the field body,
 * folded or not): whether it is authserv_id (case-insensitively, RFC 8601
 * 2.5: a domain name). A field whose id cannot be read counts as ours
 * when it starts with it: better renamed than trusted. */
bool auth_results_claims(struct str value, const char *authserv_id);

#endif
