/* dns.h: asynchronous resolver on libunbound: MX (RFC 5321 5.1 ordering,
 * RFC 7505 null MX), A/AAAA and TLSA (DANE) for outbound mail; TXT, PTR and
 * single-family A or AAAA for the inbound checks (SPF, DKIM, DMARC, DNS
 * lists), with DNSSEC status. Callbacks run on the event_base's thread. */
#ifndef POSTHORN_DNS_DNS_H
#define POSTHORN_DNS_DNS_H

#include "base/base.h"

struct event_base;

struct dns_settings {
	/* "127.0.0.1", "127.0.0.1@5353" or "::1@53" (ub_ctx_set_fwd), or
	 * NULL: the servers of /etc/resolv.conf. Forwarding to loopback is
	 * allowed (test resolvers, a local unbound). */
	const char *upstream;
	/* DNSSEC trust anchor file (ub_ctx_add_ta_file), or NULL: no
	 * validation, results are never "secure". */
	const char *trust_anchor_file;
	/* A hosts file answered before DNS, or NULL. */
	const char *hosts_file;
};

struct dns_resolver;

/* The resolver watches ub_fd with an event on base; callbacks run from that
 * loop, never from inside a dns_lookup_* call. NULL and *error_r (malloc'd,
 * caller frees) on failure (bad upstream, unreadable file). */
struct dns_resolver *dns_resolver_new(struct event_base *base,
				      const struct dns_settings *set,
				      char **error_r);
/* Cancels every pending lookup: their callbacks are never called. Not from
 * inside a callback of this resolver. */
void dns_resolver_free(struct dns_resolver **r);

/* Lookups return a handle valid until their callback starts (or the
 * resolver is freed): cancelling it frees the lookup without a callback.
 * The number of lookups still out is there for retiring a resolver. */
struct dns_query;
void dns_cancel(struct dns_query **q);
size_t dns_resolver_pending(const struct dns_resolver *r);

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_NODATA,	/* the name exists, no record of that type */
	DNS_TEMPFAIL,	/* server failure, timeout, DNSSEC bogus: try later */
};

/* Name of a status for logs: "ok", "nxdomain", "nodata", "tempfail". */
const char *dns_status_name(enum dns_status status);

/* Every pointer in a result is valid during the callback only. `error` is
 * NULL with DNS_OK, else a short text for logs and bounce diagnostics. */
struct dns_mx_result {
	enum dns_status status;
	bool null_mx;		/* RFC 7505: the single MX "." (n_hosts 0) */
	bool secure;		/* DNSSEC validated */
	/* Exchanges without the trailing dot, ordered per RFC 5321 5.1: by
	 * preference, random among equal preferences. */
	const char **hosts;
	/* 0 with DNS_NODATA/NXDOMAIN: the caller falls back to the A/AAAA
	 * of the domain itself (RFC 5321 5.1) unless NXDOMAIN. */
	size_t n_hosts;
	const char *error;
};
typedef void dns_mx_fn(void *arg, const struct dns_mx_result *res);
struct dns_query *dns_lookup_mx(struct dns_resolver *r, const char *domain,
				   dns_mx_fn *fn, void *arg);

struct dns_addr_result {
	enum dns_status status;
	bool secure;		/* every answer that had data validated */
	/* Numeric addresses ("192.0.2.1", "2001:db8::1"): all IPv4 (A)
	 * first, then IPv6 (AAAA), each in the server's order. */
	const char **addrs;
	size_t n_addrs;
	const char *error;
};
typedef void dns_addr_fn(void *arg, const struct dns_addr_result *res);
/* A and AAAA of host, queried in parallel. DNS_OK when either gave an
 * address (a failure of the other is then ignored); else TEMPFAIL if one
 * failed temporarily, else NXDOMAIN, else NODATA. A numeric address, or an
 * address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]", answers without a
 * query (still from the loop), with secure = true. */
struct dns_query *dns_lookup_addr(struct dns_resolver *r, const char *host,
				   dns_addr_fn *fn, void *arg);

/* Only A (family AF_INET) or only AAAA (AF_INET6) of host, with that
 * query's own status: SPF's "a" and "mx" count a void lookup per query
 * (RFC 7208 4.6.4, 5.3) and a DNS list answers with A records. No
 * address literals: host is always queried. */
struct dns_query *dns_lookup_addr_family(struct dns_resolver *r,
				   const char *host, int family,
				   dns_addr_fn *fn, void *arg);

struct dns_txt_result {
	enum dns_status status;
	bool secure;
	/* One entry per TXT record, its character-strings concatenated
	 * (RFC 7208 3.3), NUL-terminated; lens[i] is the length (a NUL
	 * inside the data stays, so compare lengths). Server order. */
	const char **txts;
	const size_t *lens;
	size_t n;
	const char *error;
};
typedef void dns_txt_fn(void *arg, const struct dns_txt_result *res);
struct dns_query *dns_lookup_txt(struct dns_resolver *r, const char *name,
				   dns_txt_fn *fn, void *arg);

struct dns_names_result {
	enum dns_status status;
	bool secure;
	const char **names;	/* without the trailing dot */
	size_t n;
	const char *error;
};
typedef void dns_names_fn(void *arg, const struct dns_names_result *res);
/* PTR records of a numeric address ("192.0.2.1", "2001:db8::1"): the name
 * under in-addr.arpa / ip6.arpa. Not an address: DNS_TEMPFAIL from the
 * loop without a query. */
struct dns_query *dns_lookup_ptr(struct dns_resolver *r, const char *ip,
				   dns_names_fn *fn, void *arg);

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	const uint8_t *data;
	size_t len;
};
struct dns_tlsa_result {
	enum dns_status status;
	bool secure;		/* DANE applies only to secure records */
	const struct dns_tlsa *records;
	size_t n;
	const char *error;
};
typedef void dns_tlsa_fn(void *arg, const struct dns_tlsa_result *res);
/* TLSA records of _port._tcp.host (RFC 6698, 7672). */
struct dns_query *dns_lookup_tlsa(struct dns_resolver *r, const char *host,
				   unsigned port, dns_tlsa_fn *fn, void *arg);

#endif
