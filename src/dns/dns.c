/* dns.c: the libunbound resolver on a libevent loop: one ub_ctx per
 * resolver, its fd watched by an event, ub_process() on readable; pending
 * lookups are kept in a list so that freeing the resolver cancels them. */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <unistd.h>
#include <sys/random.h>
#include <unbound.h>

#include "base/arena.h"
#include "dns/dns_rdata.h"

#define RR_TYPE_A 1
#define RR_TYPE_PTR 12
#define RR_TYPE_MX 15
#define RR_TYPE_TXT 16
#define RR_TYPE_AAAA 28
#define RR_TYPE_TLSA 52
#define RR_CLASS_IN 1

enum dns_kind {
	DNS_KIND_MX, DNS_KIND_ADDR, DNS_KIND_TLSA, DNS_KIND_TXT, DNS_KIND_PTR,
};

struct dns_query;

/* One ub_resolve_async of a lookup (an address lookup has two). */
struct dns_sub {
	struct dns_query *q;
	int type;			/* RR_TYPE_* asked */
	int async_id;
	bool pending;
	struct ub_result *result;	/* once answered */
	int err;			/* ub error code once answered */
};

struct dns_query {
	struct dns_resolver *r;
	struct dns_query *prev, *next;
	enum dns_kind kind;
	union {
		dns_mx_fn *mx;
		dns_addr_fn *addr;
		dns_tlsa_fn *tlsa;
		dns_txt_fn *txt;
		dns_names_fn *names;
	} fn;
	void *arg;
	struct dns_sub sub[2];
	size_t n_sub;
	/* A result known without a query (literal, submit failure) is
	 * delivered from the loop through this event. */
	struct event *now_ev;
	char *literal;		/* the numeric address of a literal */
	const char *fail;	/* submit failure message */
};

struct dns_resolver {
	size_t n_queries;
	struct ub_ctx *ctx;
	struct event_base *base;
	struct event *ev;
	struct dns_query *queries;
};

const char *dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_NODATA: return "nodata";
	case DNS_TEMPFAIL: return "tempfail";
	}
	return "?";
}

static void dns_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	(void)fd;
	(void)what;
	/* Errors here are reported per query through the callbacks. */
	(void)ub_process(r->ctx);
}

struct dns_resolver *dns_resolver_new(struct event_base *base,
				      const struct dns_settings *set,
				      char **error_r)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	const char *what = NULL;
	int err = 0;

	r->base = base;
	r->ctx = ub_ctx_create();
	if (r->ctx == NULL) {
		*error_r = xstrdup("dns: cannot create the unbound context");
		free(r);
		return NULL;
	}
	/* Threads, not a forked process: the daemon may have dropped the
	 * privileges a fork would need, and tests run under ASan. */
	if ((err = ub_ctx_async(r->ctx, 1)) != 0)
		what = "async";
	else if ((err = ub_ctx_set_option(r->ctx, "do-not-query-localhost:",
					  "no")) != 0)
		what = "do-not-query-localhost";
	else if (set->upstream != NULL &&
		 (err = ub_ctx_set_fwd(r->ctx, set->upstream)) != 0)
		what = set->upstream;
	else if (set->upstream == NULL &&
		 (err = ub_ctx_resolvconf(r->ctx, NULL)) != 0)
		what = "/etc/resolv.conf";
	else if (set->trust_anchor_file != NULL &&
		 access(set->trust_anchor_file, R_OK) < 0)
		what = set->trust_anchor_file;	/* unbound reads it late */
	else if (set->trust_anchor_file != NULL &&
		 (err = ub_ctx_add_ta_file(r->ctx, set->trust_anchor_file)) != 0)
		what = set->trust_anchor_file;
	else if (set->hosts_file != NULL &&
		 (err = ub_ctx_hosts(r->ctx, set->hosts_file)) != 0)
		what = set->hosts_file;
	/* unbound answers the RFC 6761 name "test." itself (NXDOMAIN); with
	 * an upstream set by the admin (a test resolver) ask it instead.
	 * This also finalizes the context, so late errors show here. */
	else if (set->upstream != NULL &&
		 (err = ub_ctx_zone_remove(r->ctx, "test.")) != 0)
		what = "test.";
	if (what != NULL) {
		*error_r = xasprintf("dns: %s: %s", what, err != 0 ?
				     ub_strerror(err) : strerror(errno));
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	/* ub_fd creates the pipe to the resolver thread. */
	int fd = ub_fd(r->ctx);

	if (fd < 0) {
		*error_r = xstrdup("dns: no unbound file descriptor");
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	r->ev = event_new(base, fd, EV_READ | EV_PERSIST, dns_readable, r);
	event_add(r->ev, NULL);
	return r;
}

static void query_unlink_free(struct dns_query *q)
{
	struct dns_resolver *r = q->r;

	r->n_queries--;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	for (size_t i = 0; i < q->n_sub; i++) {
		if (q->sub[i].pending)
			(void)ub_cancel(r->ctx, q->sub[i].async_id);
		if (q->sub[i].result != NULL)
			ub_resolve_free(q->sub[i].result);
	}
	if (q->now_ev != NULL)
		event_free(q->now_ev);
	free(q->literal);
	free(q);
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	while (r->queries != NULL)
		query_unlink_free(r->queries);
	event_free(r->ev);
	ub_ctx_delete(r->ctx);
	free(r);
}

void dns_cancel(struct dns_query **qp)
{
	if (*qp != NULL)
		query_unlink_free(*qp);
	*qp = NULL;
}

size_t dns_resolver_pending(const struct dns_resolver *r)
{
	return r->n_queries;
}

/* ---- turning answers into results ---- */

static enum dns_status sub_status(const struct dns_sub *s, const char **error_r)
{
	const struct ub_result *u = s->result;

	if (s->err != 0) {
		*error_r = ub_strerror(s->err);
		return DNS_TEMPFAIL;
	}
	if (u->bogus) {
		*error_r = u->why_bogus != NULL ? u->why_bogus :
			"DNSSEC validation failed";
		return DNS_TEMPFAIL;
	}
	if (u->nxdomain) {
		*error_r = "no such domain";
		return DNS_NXDOMAIN;
	}
	if (u->rcode != 0) {
		/* 2 SERVFAIL, 5 REFUSED...: the domain is not known to be
		 * gone, so try later. */
		*error_r = u->rcode == 2 ? "server failure" :
			u->rcode == 5 ? "query refused" : "DNS error";
		return DNS_TEMPFAIL;
	}
	if (!u->havedata) {
		*error_r = "no records of that type";
		return DNS_NODATA;
	}
	*error_r = NULL;
	return DNS_OK;
}

/* The status of a lookup of one query, or of its failed submission. */
static enum dns_status single_status(const struct dns_query *q,
				     const char **error_r)
{
	if (q->fail != NULL) {
		*error_r = q->fail;
		return DNS_TEMPFAIL;
	}
	return sub_status(&q->sub[0], error_r);
}

static uint32_t random_u32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)random();
	return v;
}

struct mx_host {
	uint16_t pref;
	uint32_t shuffle;
	const char *name;
};

/* The records of an answer: libunbound ends data[] with NULL. */
static size_t rr_count(const struct ub_result *u)
{
	size_t n = 0;

	while (u->data[n] != NULL)
		n++;
	return n;
}

static int mx_host_cmp(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->shuffle != y->shuffle)
		return x->shuffle < y->shuffle ? -1 : 1;
	return 0;
}

static void finish_mx(struct dns_query *q, struct arena *a)
{
	struct dns_mx_result res = { 0 };
	const struct ub_result *u = q->sub[0].result;
	struct mx_host *hosts;
	size_t n = 0, n_rr = 0;

	if (q->fail != NULL) {
		res.status = DNS_TEMPFAIL;
		res.error = q->fail;
		q->fn.mx(q->arg, &res);
		return;
	}
	res.status = sub_status(&q->sub[0], &res.error);
	if (res.status != DNS_OK) {
		q->fn.mx(q->arg, &res);
		return;
	}
	res.secure = u->secure != 0;
	n_rr = rr_count(u);
	hosts = arena_alloc(a, (n_rr + 1) * sizeof(*hosts));
	for (size_t i = 0; i < n_rr; i++) {
		char name[DNS_NAME_MAX];
		uint16_t pref;

		if (dns_rdata_mx((const uint8_t *)u->data[i], (size_t)u->len[i],
				 &pref, name) < 0)
			continue;
		hosts[n].pref = pref;
		hosts[n].shuffle = random_u32();
		hosts[n].name = arena_strdup(a, name);
		n++;
	}
	if (n == 1 && hosts[0].name[0] == '\0') {
		res.null_mx = true;
	} else {
		qsort(hosts, n, sizeof(*hosts), mx_host_cmp);
		res.hosts = arena_alloc(a, (n + 1) * sizeof(*res.hosts));
		for (size_t i = 0; i < n; i++) {
			/* A "." among real exchanges is not a null MX
			 * (RFC 7505 3): skip it. */
			if (hosts[i].name[0] != '\0')
				res.hosts[res.n_hosts++] = hosts[i].name;
		}
		if (res.n_hosts == 0) {
			res.status = DNS_TEMPFAIL;
			res.error = "malformed MX records";
		}
	}
	q->fn.mx(q->arg, &res);
}

static void add_addrs(struct arena *a, const struct ub_result *u, int family,
		      const char **addrs, size_t *n)
{
	size_t want = family == AF_INET ? 4 : 16;

	for (size_t i = 0; u->data[i] != NULL; i++) {
		char buf[INET6_ADDRSTRLEN];

		if ((size_t)u->len[i] != want ||
		    inet_ntop(family, u->data[i], buf, sizeof(buf)) == NULL)
			continue;
		addrs[(*n)++] = arena_strdup(a, buf);
	}
}

static void finish_addr(struct dns_query *q, struct arena *a)
{
	struct dns_addr_result res = { 0 };
	enum dns_status st[2];
	const char *err[2];
	size_t cap = 0;

	if (q->literal != NULL || q->fail != NULL) {
		res.status = q->literal != NULL ? DNS_OK : DNS_TEMPFAIL;
		res.secure = q->literal != NULL;
		res.addrs = (const char **)&q->literal;
		res.n_addrs = q->literal != NULL ? 1 : 0;
		res.error = q->fail;
		q->fn.addr(q->arg, &res);
		return;
	}
	res.secure = true;
	for (size_t i = 0; i < q->n_sub; i++) {
		st[i] = sub_status(&q->sub[i], &err[i]);
		if (st[i] == DNS_OK) {
			const struct ub_result *u = q->sub[i].result;

			for (size_t j = 0; u->data[j] != NULL; j++)
				cap++;
			res.secure = res.secure && u->secure;
		}
	}
	res.addrs = arena_alloc(a, (cap + 1) * sizeof(*res.addrs));
	for (size_t i = 0; i < q->n_sub; i++) {
		if (st[i] == DNS_OK)
			add_addrs(a, q->sub[i].result,
				  q->sub[i].type == RR_TYPE_A ? AF_INET : AF_INET6,
				  res.addrs, &res.n_addrs);
	}
	if (res.n_addrs > 0) {
		res.status = DNS_OK;
		q->fn.addr(q->arg, &res);
		return;
	}
	res.secure = false;
	res.status = DNS_NODATA;
	res.error = "no address records";
	/* Worst first: a temporary failure, then a missing name. */
	for (size_t i = 0; i < q->n_sub; i++) {
		if (st[i] == DNS_TEMPFAIL) {
			res.status = DNS_TEMPFAIL;
			res.error = err[i];
			break;
		}
		if (st[i] == DNS_NXDOMAIN) {
			res.status = DNS_NXDOMAIN;
			res.error = "no such domain";
		}
	}
	q->fn.addr(q->arg, &res);
}

static void finish_txt(struct dns_query *q, struct arena *a)
{
	struct dns_txt_result res = { 0 };
	const struct ub_result *u = q->sub[0].result;
	const char **txts;
	size_t *lens, n_rr = 0;

	res.status = single_status(q, &res.error);
	if (res.status == DNS_OK) {
		res.secure = u->secure != 0;
		n_rr = rr_count(u);
		txts = arena_alloc(a, (n_rr + 1) * sizeof(*txts));
		lens = arena_alloc(a, (n_rr + 1) * sizeof(*lens));
		for (size_t i = 0; i < n_rr; i++) {
			size_t len = (size_t)u->len[i];
			char *buf = arena_alloc(a, len + 1);

			if (dns_rdata_txt((const uint8_t *)u->data[i], len, buf,
					  len + 1, &lens[res.n]) == 0)
				txts[res.n++] = buf;
		}
		res.txts = txts;
		res.lens = lens;
	}
	q->fn.txt(q->arg, &res);
}

static void finish_ptr(struct dns_query *q, struct arena *a)
{
	struct dns_names_result res = { 0 };
	const struct ub_result *u = q->sub[0].result;
	const char **names;
	size_t n_rr = 0;

	res.status = single_status(q, &res.error);
	if (res.status == DNS_OK) {
		res.secure = u->secure != 0;
		n_rr = rr_count(u);
		names = arena_alloc(a, (n_rr + 1) * sizeof(*names));
		for (size_t i = 0; i < n_rr; i++) {
			char name[DNS_NAME_MAX];

			if (dns_rdata_name((const uint8_t *)u->data[i],
					   (size_t)u->len[i], name) ==
			    u->len[i] && name[0] != '\0')
				names[res.n++] = arena_strdup(a, name);
		}
		res.names = names;
	}
	q->fn.names(q->arg, &res);
}

static void finish_tlsa(struct dns_query *q, struct arena *a)
{
	struct dns_tlsa_result res = { 0 };
	const struct ub_result *u = q->sub[0].result;
	struct dns_tlsa *recs;
	size_t n_rr = 0;

	res.status = single_status(q, &res.error);
	if (res.status == DNS_OK) {
		res.secure = u->secure != 0;
		n_rr = rr_count(u);
		recs = arena_alloc(a, (n_rr + 1) * sizeof(*recs));
		for (size_t i = 0; i < n_rr; i++) {
			struct dns_tlsa *t = &recs[res.n];

			if (dns_rdata_tlsa((const uint8_t *)u->data[i],
					   (size_t)u->len[i], &t->usage,
					   &t->selector, &t->mtype, &t->data,
					   &t->len) == 0)
				res.n++;
		}
		res.records = recs;
	}
	q->fn.tlsa(q->arg, &res);
}

/* Every sub-query answered (or none was sent): report and forget. */
static void query_finish(struct dns_query *q)
{
	struct arena a;

	arena_init(&a, 0);
	switch (q->kind) {
	case DNS_KIND_MX: finish_mx(q, &a); break;
	case DNS_KIND_ADDR: finish_addr(q, &a); break;
	case DNS_KIND_TLSA: finish_tlsa(q, &a); break;
	case DNS_KIND_TXT: finish_txt(q, &a); break;
	case DNS_KIND_PTR: finish_ptr(q, &a); break;
	}
	arena_deinit(&a);
	query_unlink_free(q);
}

static void query_answered(void *mydata, int err, struct ub_result *result)
{
	struct dns_sub *s = mydata;
	struct dns_query *q = s->q;

	s->pending = false;
	s->err = err;
	s->result = result;
	if (err == 0 && result == NULL)
		s->err = UB_NOMEM;
	for (size_t i = 0; i < q->n_sub; i++) {
		if (q->sub[i].pending)
			return;
	}
	query_finish(q);
}

static void query_now(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	query_finish(arg);
}

static struct dns_query *query_new(struct dns_resolver *r, enum dns_kind kind,
				   void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->kind = kind;
	q->arg = arg;
	r->n_queries++;
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;
	return q;
}

/* Answer q from the loop without any DNS query. */
static void query_defer(struct dns_query *q)
{
	static const struct timeval zero = { 0, 0 };

	/* A query whose sub-queries were partly submitted cancels them. */
	for (size_t i = 0; i < q->n_sub; i++) {
		if (q->sub[i].pending) {
			(void)ub_cancel(q->r->ctx, q->sub[i].async_id);
			q->sub[i].pending = false;
		}
	}
	q->n_sub = 0;
	q->now_ev = evtimer_new(q->r->base, query_now, q);
	evtimer_add(q->now_ev, &zero);
}

static void query_start(struct dns_query *q, const char *name,
			const int *types, size_t n_types)
{
	q->n_sub = n_types;
	for (size_t i = 0; i < n_types; i++) {
		q->sub[i].q = q;
		q->sub[i].type = types[i];
		q->sub[i].pending = true;
	}
	for (size_t i = 0; i < n_types; i++) {
		int err = ub_resolve_async(q->r->ctx, name, types[i],
					   RR_CLASS_IN, &q->sub[i],
					   query_answered, &q->sub[i].async_id);

		if (err != 0) {
			q->fail = ub_strerror(err);
			query_defer(q);
			return;
		}
	}
}

struct dns_query *dns_lookup_mx(struct dns_resolver *r, const char *domain,
				   dns_mx_fn *fn, void *arg)
{
	static const int types[] = { RR_TYPE_MX };
	struct dns_query *q = query_new(r, DNS_KIND_MX, arg);

	q->fn.mx = fn;
	query_start(q, domain, types, 1);
	return q;
}

/* "192.0.2.1", "2001:db8::1", "[192.0.2.1]", "[IPv6:2001:db8::1]" to the
 * numeric text, or NULL when host is a name. */
static char *addr_literal(const char *host)
{
	size_t len = strlen(host);
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	const char *p = host;

	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		p = host + 1;
		len -= 2;
		if (len > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
			p += 5;
			len -= 5;
			if (len >= sizeof(buf))
				return NULL;
			memcpy(buf, p, len);
			buf[len] = '\0';
			return inet_pton(AF_INET6, buf, bin) == 1 ?
				xstrdup(buf) : NULL;
		}
	}
	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, bin) == 1)
		return xstrdup(buf);
	/* A bare IPv6 address, but not inside brackets without "IPv6:". */
	if (p == host && inet_pton(AF_INET6, buf, bin) == 1)
		return xstrdup(buf);
	return NULL;
}

struct dns_query *dns_lookup_addr(struct dns_resolver *r, const char *host,
				   dns_addr_fn *fn, void *arg)
{
	static const int types[] = { RR_TYPE_A, RR_TYPE_AAAA };
	struct dns_query *q = query_new(r, DNS_KIND_ADDR, arg);

	q->fn.addr = fn;
	q->literal = addr_literal(host);
	if (q->literal != NULL)
		query_defer(q);
	else
		query_start(q, host, types, 2);
	return q;
}

struct dns_query *dns_lookup_tlsa(struct dns_resolver *r, const char *host,
				   unsigned port, dns_tlsa_fn *fn, void *arg)
{
	static const int types[] = { RR_TYPE_TLSA };
	struct dns_query *q = query_new(r, DNS_KIND_TLSA, arg);
	char *name = xasprintf("_%u._tcp.%s", port, host);

	q->fn.tlsa = fn;
	query_start(q, name, types, 1);
	free(name);
	return q;
}

struct dns_query *dns_lookup_addr_family(struct dns_resolver *r,
				   const char *host, int family,
				   dns_addr_fn *fn, void *arg)
{
	static const int type_a[] = { RR_TYPE_A }, type_aaaa[] = { RR_TYPE_AAAA };
	struct dns_query *q = query_new(r, DNS_KIND_ADDR, arg);

	ASSERT(family == AF_INET || family == AF_INET6);
	q->fn.addr = fn;
	query_start(q, host, family == AF_INET ? type_a : type_aaaa, 1);
	return q;
}

struct dns_query *dns_lookup_txt(struct dns_resolver *r, const char *name,
				   dns_txt_fn *fn, void *arg)
{
	static const int types[] = { RR_TYPE_TXT };
	struct dns_query *q = query_new(r, DNS_KIND_TXT, arg);

	q->fn.txt = fn;
	query_start(q, name, types, 1);
	return q;
}

struct dns_query *dns_lookup_ptr(struct dns_resolver *r, const char *ip,
				   dns_names_fn *fn, void *arg)
{
	static const int types[] = { RR_TYPE_PTR };
	struct dns_query *q = query_new(r, DNS_KIND_PTR, arg);
	char name[DNS_NAME_MAX];

	q->fn.names = fn;
	if (!dns_reverse_name(ip, NULL, name)) {
		q->fail = "not an IP address";
		query_defer(q);
		return q;
	}
	query_start(q, name, types, 1);
	return q;
}
