/* dns.h: asynchronous resolver on libunbound for outbound mail: MX (RFC 5321
 * 5.1 ordering, RFC 7505 null MX), A/AAAA and TLSA (DANE), with DNSSEC
 * status. Callbacks run on the thread of the event_base given at creation. */
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
void dns_lookup_mx(struct dns_resolver *r, const char *domain, dns_mx_fn *fn,
		   void *arg);

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
void dns_lookup_addr(struct dns_resolver *r, const char *host,
		     dns_addr_fn *fn, void *arg);

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
void dns_lookup_tlsa(struct dns_resolver *r, const char *host, unsigned port,
		     dns_tlsa_fn *fn, void *arg);

#endif
