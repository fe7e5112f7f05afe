/* Unit tests for dns/: lookups through libunbound against a real dnsmasq on
 * loopback serving test records (MX orders, null MX, A fallback, NXDOMAIN,
 * AAAA, TLSA, TXT, PTR, single-family lookups), the rdata decoders and the
 * reverse names. */
#include "unit.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_rdata.h"

extern char **environ;

static const char *dnsmasq_path;
static pid_t dnsmasq_pid;
static char upstream[64];
static struct event_base *base;

static int free_udp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* One raw query for "example.test A" until dnsmasq answers. */
static bool dnsmasq_answers(int port)
{
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
		0, 1, 0, 1,
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd pfd;
	uint8_t buf[512];
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (sendto(fd, query, sizeof(query), 0, (struct sockaddr *)&sin,
		   sizeof(sin)) == (ssize_t)sizeof(query)) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 100) == 1 &&
			recv(fd, buf, sizeof(buf), 0) > 12 &&
			buf[0] == 0x12 && buf[1] == 0x34;
	}
	close(fd);
	return ok;
}

static int setup_dnsmasq(void **state)
{
	static const char *const candidates[] = {
		"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq",
	};
	char port_arg[32];
	int port;

	(void)state;
	base = event_base_new();
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		if (access(candidates[i], X_OK) == 0) {
			dnsmasq_path = candidates[i];
			break;
		}
	}
	if (dnsmasq_path == NULL)
		return 0;
	port = free_udp_port();
	snprintf(port_arg, sizeof(port_arg), "--port=%d", port);
	snprintf(upstream, sizeof(upstream), "127.0.0.1@%d", port);
	char *argv[] = {
		(char *)dnsmasq_path, "--no-daemon", port_arg,
		"--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts", "-C", "/dev/null",
		"--pid-file=", "--user=", "--group=", "--log-facility=/dev/null",
		"--local=/test/",
		"--mx-host=example.test,mx1.example.test,10",
		"--mx-host=example.test,mx2.example.test,20",
		"--mx-host=example.test,mx3.example.test,20",
		"--mx-host=example.test,mx4.example.test,30",
		"--host-record=example.test,192.0.2.99",
		"--host-record=mx1.example.test,127.0.0.1",
		"--host-record=mx2.example.test,127.0.0.2,::1",
		"--host-record=v6only.test,2001:db8::25",
		/* RFC 7505 null MX: preference 0, root name. */
		"--dns-rr=nullmx.test,15,000000",
		"--host-record=noemx.test,127.0.0.3",
		"--txt-record=txtonly.test,hello",
		/* Two records, the second of two strings: SPF reads the
		 * strings joined without a space (RFC 7208 3.3). */
		"--txt-record=multi.test,v=spf1 a",
		"--txt-record=multi.test,v=spf1 ip4:192.0.2.0/24 ,-all",
		/* Not under the reverse zones of test and loopback addresses
		 * that unbound answers itself (RFC 6303). */
		"--ptr-record=77.0.18.198.in-addr.arpa,ptr.example.test",
		"--ptr-record=5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.1.0.0.2.ip6.arpa,v6only.test",
		"--dns-rr=_25._tcp.mx1.example.test,52,0301012233445566",
		"--dns-rr=_25._tcp.mx1.example.test,52,020000",
		NULL,
	};
	assert_int_equal(posix_spawn(&dnsmasq_pid, dnsmasq_path, NULL, NULL,
				     argv, environ), 0);
	for (int i = 0; i < 100 && !dnsmasq_answers(port); i++)
		usleep(50 * 1000);
	assert_true(dnsmasq_answers(port));
	return 0;
}

static int teardown_dnsmasq(void **state)
{
	int status;

	(void)state;
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, &status, 0);
	}
	if (base != NULL)
		event_base_free(base);
	return 0;
}

static struct dns_resolver *resolver(void)
{
	struct dns_settings set = { .upstream = upstream };
	struct dns_resolver *r;
	char *error = NULL;

	if (dnsmasq_path == NULL)
		skip();	/* installed by scripts/install-deps */
	r = dns_resolver_new(base, &set, &error);
	if (r == NULL)
		fail_msg("%s", error);
	return r;
}

/* Copies of a result, kept after the callback. */
struct answer {
	bool done;
	enum dns_status status;
	bool null_mx, secure;
	char *items[8];
	size_t n;
	char *error;
};

static void answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->items[i]);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

static void answer_common(struct answer *a, enum dns_status status,
			  bool secure, const char *error)
{
	a->done = true;
	a->status = status;
	a->secure = secure;
	a->error = error != NULL ? xstrdup(error) : NULL;
	event_base_loopbreak(base);
}

static void got_mx(void *arg, const struct dns_mx_result *res)
{
	struct answer *a = arg;

	answer_common(a, res->status, res->secure, res->error);
	a->null_mx = res->null_mx;
	for (size_t i = 0; i < res->n_hosts && i < ARRAY_SIZE(a->items); i++)
		a->items[a->n++] = xstrdup(res->hosts[i]);
}

static void got_addr(void *arg, const struct dns_addr_result *res)
{
	struct answer *a = arg;

	answer_common(a, res->status, res->secure, res->error);
	for (size_t i = 0; i < res->n_addrs && i < ARRAY_SIZE(a->items); i++)
		a->items[a->n++] = xstrdup(res->addrs[i]);
}

static void got_tlsa(void *arg, const struct dns_tlsa_result *res)
{
	struct answer *a = arg;

	answer_common(a, res->status, res->secure, res->error);
	for (size_t i = 0; i < res->n && i < ARRAY_SIZE(a->items); i++) {
		const struct dns_tlsa *t = &res->records[i];
		char buf[128];
		int o = snprintf(buf, sizeof(buf), "%u %u %u ", t->usage,
				 t->selector, t->mtype);

		for (size_t j = 0; j < t->len && o < 120; j++)
			o += snprintf(buf + o, sizeof(buf) - (size_t)o, "%02x",
				      t->data[j]);
		a->items[a->n++] = xstrdup(buf);
	}
}

static void wait_answer(struct answer *a)
{
	struct timeval tv = { 10, 0 };

	/* A timer bounds the wait so a lost answer fails, not hangs. */
	event_base_loopexit(base, &tv);
	while (!a->done) {
		if (event_base_dispatch(base) != 0 || !a->done)
			break;
	}
	assert_true(a->done);
}

static void mx(struct dns_resolver *r, const char *domain, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	dns_lookup_mx(r, domain, got_mx, a);
	assert_false(a->done);	/* never called from inside the lookup */
	wait_answer(a);
}

static void test_mx_order(void **state)
{
	struct dns_resolver *r = resolver();
	bool seen_mx2_first = false, seen_mx3_first = false;
	struct answer a;

	(void)state;
	/* Equal preferences come in random order: over 40 lookups both
	 * orders show up (a wrong implementation fails with p = 2^-39). */
	for (int i = 0; i < 40; i++) {
		mx(r, "example.test", &a);
		assert_int_equal(a.status, DNS_OK);
		assert_null(a.error);
		assert_false(a.null_mx);
		assert_false(a.secure);
		assert_int_equal(a.n, 4);
		assert_string_equal(a.items[0], "mx1.example.test");
		assert_string_equal(a.items[3], "mx4.example.test");
		if (strcmp(a.items[1], "mx2.example.test") == 0) {
			assert_string_equal(a.items[2], "mx3.example.test");
			seen_mx2_first = true;
		} else {
			assert_string_equal(a.items[1], "mx3.example.test");
			assert_string_equal(a.items[2], "mx2.example.test");
			seen_mx3_first = true;
		}
		answer_free(&a);
	}
	assert_true(seen_mx2_first);
	assert_true(seen_mx3_first);
	dns_resolver_free(&r);
	assert_null(r);
}

static void test_mx_null_none_nxdomain(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	mx(r, "nullmx.test", &a);
	assert_int_equal(a.status, DNS_OK);
	assert_true(a.null_mx);
	assert_int_equal(a.n, 0);
	answer_free(&a);

	mx(r, "noemx.test", &a);
	assert_int_equal(a.status, DNS_NODATA);
	assert_false(a.null_mx);
	assert_int_equal(a.n, 0);
	assert_non_null(a.error);
	answer_free(&a);

	mx(r, "nope.test", &a);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.n, 0);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void addr(struct dns_resolver *r, const char *host, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	dns_lookup_addr(r, host, got_addr, a);
	assert_false(a->done);
	wait_answer(a);
}

static void test_addr(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	addr(r, "mx2.example.test", &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.items[0], "127.0.0.2");	/* IPv4 first */
	assert_string_equal(a.items[1], "::1");
	answer_free(&a);

	/* The A fallback of a domain without MX. */
	addr(r, "noemx.test", &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "127.0.0.3");
	answer_free(&a);

	addr(r, "v6only.test", &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "2001:db8::25");
	answer_free(&a);

	addr(r, "txtonly.test", &a);
	assert_int_equal(a.status, DNS_NODATA);
	assert_int_equal(a.n, 0);
	answer_free(&a);

	addr(r, "nope.test", &a);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.n, 0);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void test_addr_literals(void **state)
{
	struct dns_resolver *r = resolver();
	static const char *const cases[][2] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "[198.51.100.7]", "198.51.100.7" },
		{ "2001:db8::1", "2001:db8::1" },
		{ "[IPv6:2001:db8::2]", "2001:db8::2" },
		{ "[ipv6:::1]", "::1" },
	};
	struct answer a;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		addr(r, cases[i][0], &a);
		assert_int_equal(a.status, DNS_OK);
		assert_true(a.secure);
		assert_int_equal(a.n, 1);
		assert_string_equal(a.items[0], cases[i][1]);
		answer_free(&a);
	}
	/* "[2001:db8::1]" is not a valid SMTP literal: it is looked up as a
	 * name and does not exist under our test upstream. */
	addr(r, "[2001:db8::1]", &a);
	assert_int_not_equal(a.status, DNS_OK);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void test_tlsa(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	dns_lookup_tlsa(r, "mx1.example.test", 25, got_tlsa, &a);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_OK);
	assert_false(a.secure);	/* no trust anchor: never secure */
	assert_int_equal(a.n, 2);
	/* Record order is the server's: accept either. */
	if (strcmp(a.items[0], "3 1 1 2233445566") != 0) {
		char *t = a.items[0];

		a.items[0] = a.items[1];
		a.items[1] = t;
	}
	assert_string_equal(a.items[0], "3 1 1 2233445566");
	assert_string_equal(a.items[1], "2 0 0 ");
	answer_free(&a);

	memset(&a, 0, sizeof(a));
	dns_lookup_tlsa(r, "mx2.example.test", 25, got_tlsa, &a);
	wait_answer(&a);
	assert_true(a.status == DNS_NODATA || a.status == DNS_NXDOMAIN);
	assert_int_equal(a.n, 0);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void never(void *arg, const struct dns_mx_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("callback after dns_resolver_free");
}

static void got_txt(void *arg, const struct dns_txt_result *res)
{
	struct answer *a = arg;

	answer_common(a, res->status, res->secure, res->error);
	for (size_t i = 0; i < res->n && i < ARRAY_SIZE(a->items); i++) {
		assert_int_equal(strlen(res->txts[i]), res->lens[i]);
		a->items[a->n++] = xstrdup(res->txts[i]);
	}
}

static void got_names(void *arg, const struct dns_names_result *res)
{
	struct answer *a = arg;

	answer_common(a, res->status, res->secure, res->error);
	for (size_t i = 0; i < res->n && i < ARRAY_SIZE(a->items); i++)
		a->items[a->n++] = xstrdup(res->names[i]);
}

static int cmp_item(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void test_txt(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	dns_lookup_txt(r, "multi.test", got_txt, &a);
	assert_false(a.done);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 2);
	qsort(a.items, a.n, sizeof(a.items[0]), cmp_item);
	assert_string_equal(a.items[0], "v=spf1 a");
	assert_string_equal(a.items[1], "v=spf1 ip4:192.0.2.0/24 -all");
	answer_free(&a);

	dns_lookup_txt(r, "mx1.example.test", got_txt, &a);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_NODATA);
	assert_int_equal(a.n, 0);
	answer_free(&a);

	dns_lookup_txt(r, "nope.test", got_txt, &a);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void test_ptr(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	dns_lookup_ptr(r, "198.18.0.77", got_names, &a);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "ptr.example.test");
	answer_free(&a);

	dns_lookup_ptr(r, "2001:500::25", got_names, &a);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "v6only.test");
	answer_free(&a);

	dns_lookup_ptr(r, "198.18.0.78", got_names, &a);
	wait_answer(&a);
	assert_int_not_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 0);
	answer_free(&a);

	/* Not an address: answered from the loop, never inside the call. */
	dns_lookup_ptr(r, "example.test", got_names, &a);
	assert_false(a.done);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void addr_family(struct dns_resolver *r, const char *host, int family,
			struct answer *a)
{
	memset(a, 0, sizeof(*a));
	dns_lookup_addr_family(r, host, family, got_addr, a);
	assert_false(a->done);
	wait_answer(a);
}

static void test_addr_family(void **state)
{
	struct dns_resolver *r = resolver();
	struct answer a;

	(void)state;
	addr_family(r, "mx2.example.test", AF_INET, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "127.0.0.2");
	answer_free(&a);

	addr_family(r, "mx2.example.test", AF_INET6, &a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.items[0], "::1");
	answer_free(&a);

	/* The other family's status, not the pair's. */
	addr_family(r, "v6only.test", AF_INET, &a);
	assert_int_equal(a.status, DNS_NODATA);
	answer_free(&a);

	addr_family(r, "nope.test", AF_INET6, &a);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	answer_free(&a);
	dns_resolver_free(&r);
}

static void never_addr(void *arg, const struct dns_addr_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("callback after dns_resolver_free");
}

static void test_free_cancels(void **state)
{
	struct dns_resolver *r = resolver();
	struct timeval tv = { 0, 300 * 1000 };

	(void)state;
	dns_lookup_mx(r, "example.test", never, NULL);
	dns_lookup_addr(r, "mx2.example.test", never_addr, NULL);
	dns_lookup_addr(r, "192.0.2.1", never_addr, NULL);
	dns_resolver_free(&r);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void never_txt(void *arg, const struct dns_txt_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("callback after dns_cancel");
}

static void never_names(void *arg, const struct dns_names_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("callback after dns_cancel");
}

static void test_cancel(void **state)
{
	struct dns_resolver *r = resolver();
	struct timeval tv = { 0, 300 * 1000 };
	struct dns_query *q1, *q2;
	struct answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	q1 = dns_lookup_txt(r, "multi.test", never_txt, NULL);
	q2 = dns_lookup_ptr(r, "not an address", never_names, NULL);
	dns_lookup_txt(r, "txtonly.test", got_txt, &a);
	assert_int_equal(dns_resolver_pending(r), 3);
	dns_cancel(&q1);
	dns_cancel(&q2);
	assert_null(q1);
	dns_cancel(&q1);	/* NULL: nothing */
	assert_int_equal(dns_resolver_pending(r), 1);
	wait_answer(&a);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(dns_resolver_pending(r), 0);
	answer_free(&a);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	dns_resolver_free(&r);
}

static void test_bad_settings(void **state)
{
	struct dns_settings set = { .upstream = "not an address" };
	char *error = NULL;

	(void)state;
	assert_null(dns_resolver_new(base, &set, &error));
	assert_non_null(error);
	free(error);
	error = NULL;
	set.upstream = "127.0.0.1";
	set.trust_anchor_file = "/nonexistent/root.key";
	assert_null(dns_resolver_new(base, &set, &error));
	assert_non_null(strstr(error, "/nonexistent/root.key"));
	free(error);
}

static void test_rdata(void **state)
{
	static const uint8_t mx_ok[] = { 0, 10, 2, 'm', 'x', 1, 'a', 0 };
	static const uint8_t mx_null[] = { 0, 0, 0 };
	static const uint8_t mx_ptr[] = { 0, 10, 0xc0, 12 };
	static const uint8_t mx_trail[] = { 0, 10, 1, 'a', 0, 0 };
	static const uint8_t mx_short[] = { 0, 10, 3, 'a', 0 };
	static const uint8_t odd[] = { 3, 'a', '.', 0xff, 0 };
	uint8_t longname[300];
	char name[DNS_NAME_MAX];
	uint16_t pref;
	size_t o = 0;

	(void)state;
	assert_int_equal(dns_rdata_mx(mx_ok, sizeof(mx_ok), &pref, name), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mx.a");
	assert_int_equal(dns_rdata_mx(mx_null, sizeof(mx_null), &pref, name), 0);
	assert_int_equal(pref, 0);
	assert_string_equal(name, "");
	assert_int_equal(dns_rdata_mx(mx_ptr, sizeof(mx_ptr), &pref, name), -1);
	assert_int_equal(dns_rdata_mx(mx_trail, sizeof(mx_trail), &pref, name), -1);
	assert_int_equal(dns_rdata_mx(mx_short, sizeof(mx_short), &pref, name), -1);
	assert_int_equal(dns_rdata_name(odd, sizeof(odd), name), 5);
	assert_string_equal(name, "a\\046\\255");
	/* Names over 255 wire octets are malformed. */
	while (o + 64 < sizeof(longname)) {
		longname[o++] = 63;
		memset(longname + o, 'x', 63);
		o += 63;
	}
	longname[o++] = 0;
	assert_int_equal(dns_rdata_name(longname, o, name), -1);
	/* All escaped: 63 bytes each 4 characters does not fit. */
	memset(longname + 1, 0xff, 63);
	assert_int_equal(dns_rdata_name(longname, o, name), -1);

	uint8_t u, s, m;
	const uint8_t *d;
	size_t dl;
	static const uint8_t tlsa[] = { 3, 1, 1, 0xab };

	assert_int_equal(dns_rdata_tlsa(tlsa, sizeof(tlsa), &u, &s, &m, &d, &dl), 0);
	assert_int_equal(u, 3);
	assert_int_equal(dl, 1);
	assert_int_equal(d[0], 0xab);
	assert_int_equal(dns_rdata_tlsa(tlsa, 2, &u, &s, &m, &d, &dl), -1);

	static const uint8_t txt[] = { 3, 'a', 'b', 'c', 0, 2, 'd', 'e' };
	static const uint8_t txt_short[] = { 3, 'a', 'b' };
	char out[16];
	size_t n;

	assert_int_equal(dns_rdata_txt(txt, sizeof(txt), out, sizeof(txt) + 1,
				       &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(out, "abcde");
	assert_int_equal(dns_rdata_txt(txt, 0, out, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(dns_rdata_txt(txt_short, sizeof(txt_short), out,
				       sizeof(out), &n), -1);
}

static void test_reverse_name(void **state)
{
	char name[DNS_NAME_MAX];

	(void)state;
	assert_true(dns_reverse_name("192.0.2.1", NULL, name));
	assert_string_equal(name, "1.2.0.192.in-addr.arpa");
	assert_true(dns_reverse_name("127.0.0.2", "zen.example", name));
	assert_string_equal(name, "2.0.0.127.zen.example");
	/* RFC 7208 7.3 / RFC 5782 2.4: 32 nibbles, low first. */
	assert_true(dns_reverse_name("2001:db8::cb01", NULL, name));
	assert_string_equal(name, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			    "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_false(dns_reverse_name("example.test", NULL, name));
	assert_false(dns_reverse_name("1.2.3", NULL, name));
	char zone[250];

	memset(zone, 'x', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = '\0';
	assert_false(dns_reverse_name("::1", zone, name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdata),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_mx_null_none_nxdomain),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_literals),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_free_cancels),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_addr_family),
		cmocka_unit_test(test_reverse_name),
	};

	return cmocka_run_group_tests(tests, setup_dnsmasq, teardown_dnsmasq);
}
