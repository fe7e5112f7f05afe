/* Unit tests for delivery/outbound_peers: marks failing until a time, one
 * probe after expiry, scopes (connection level vs a TLS policy and name),
 * expiry by a flush, the sweep, and a table that grows past its buckets.
 * The clock is the caller's, so the tests pass times in. */
#include "unit.h"
#include "delivery/outbound_peers.h"

static const struct outbound_peer_key any = { "192.0.2.1", 25, "" };
static const struct outbound_peer_key tls = { "192.0.2.1", 25,
					      "verify:mx.example.org" };
static const struct outbound_peer_key other_port = { "192.0.2.1", 587, "" };

static void test_fail_expire_probe(void **state)
{
	struct outbound_peers *p = outbound_peers_new();
	const struct outbound_peer_reason *r;

	(void)state;
	assert_int_equal(outbound_peers_state(p, &any, 100, &r),
			 OUTBOUND_PEER_OK);
	assert_null(r);
	assert_false(outbound_peers_probe(p, &any, 100));

	outbound_peers_fail(p, &any, 400, 421, "4.3.2", "421 busy");
	assert_int_equal(outbound_peers_count(p), 1);
	assert_int_equal(outbound_peers_state(p, &any, 100, &r),
			 OUTBOUND_PEER_FAILING);
	assert_int_equal(r->code, 421);
	assert_string_equal(r->enhanced, "4.3.2");
	assert_string_equal(r->diag, "421 busy");
	assert_int_equal(r->until, 400);
	assert_int_equal(outbound_peers_state(p, &any, 399, NULL),
			 OUTBOUND_PEER_FAILING);
	/* no probe before the mark expires */
	assert_false(outbound_peers_probe(p, &any, 399));
	/* other keys are not touched */
	assert_int_equal(outbound_peers_state(p, &other_port, 100, NULL),
			 OUTBOUND_PEER_OK);
	assert_int_equal(outbound_peers_state(p, &tls, 100, NULL),
			 OUTBOUND_PEER_OK);

	/* expired: one probe, then the others wait */
	assert_int_equal(outbound_peers_state(p, &any, 400, NULL),
			 OUTBOUND_PEER_PROBE);
	assert_true(outbound_peers_probe(p, &any, 400));
	assert_int_equal(outbound_peers_state(p, &any, 400, NULL),
			 OUTBOUND_PEER_BUSY);
	assert_false(outbound_peers_probe(p, &any, 401));
	/* the probe fails again: renewed, the diag replaced */
	outbound_peers_fail(p, &any, 700, 451, "4.4.1", "refused");
	assert_int_equal(outbound_peers_state(p, &any, 500, &r),
			 OUTBOUND_PEER_FAILING);
	assert_string_equal(r->diag, "refused");
	assert_int_equal(outbound_peers_count(p), 1);

	/* a probe that ends without a verdict frees the probe */
	assert_true(outbound_peers_probe(p, &any, 700));
	outbound_peers_probe_end(p, &any);
	assert_int_equal(outbound_peers_state(p, &any, 700, NULL),
			 OUTBOUND_PEER_PROBE);
	/* the peer answers: forgotten */
	assert_true(outbound_peers_probe(p, &any, 700));
	assert_true(outbound_peers_ok(p, &any));
	assert_false(outbound_peers_ok(p, &any));
	assert_int_equal(outbound_peers_state(p, &any, 700, NULL),
			 OUTBOUND_PEER_OK);
	assert_int_equal(outbound_peers_count(p), 0);
	outbound_peers_free(&p);
	assert_null(p);
	outbound_peers_free(&p);
}

static void test_scopes_and_expire(void **state)
{
	struct outbound_peers *p = outbound_peers_new();

	(void)state;
	outbound_peers_fail(p, &tls, 1000, 451, "4.7.5",
			    "certificate does not verify");
	outbound_peers_fail(p, &other_port, 1000, 451, "4.4.1", "refused");
	/* the TLS mark binds only its scope */
	assert_int_equal(outbound_peers_state(p, &any, 10, NULL),
			 OUTBOUND_PEER_OK);
	assert_int_equal(outbound_peers_state(p, &tls, 10, NULL),
			 OUTBOUND_PEER_FAILING);
	/* NULL scope is "" */
	struct outbound_peer_key null_scope = { "192.0.2.1", 587, NULL };

	assert_int_equal(outbound_peers_state(p, &null_scope, 10, NULL),
			 OUTBOUND_PEER_FAILING);

	/* a flush of 192.0.2.1:25 expires every scope of it, not port 587 */
	outbound_peers_fail(p, &any, 1000, 451, "4.4.1", "refused");
	outbound_peers_expire(p, "192.0.2.1", 25, 10);
	assert_int_equal(outbound_peers_state(p, &any, 10, NULL),
			 OUTBOUND_PEER_PROBE);
	assert_int_equal(outbound_peers_state(p, &tls, 10, NULL),
			 OUTBOUND_PEER_PROBE);
	assert_int_equal(outbound_peers_state(p, &other_port, 10, NULL),
			 OUTBOUND_PEER_FAILING);
	/* an earlier expiry is not pushed back */
	outbound_peers_expire(p, "192.0.2.1", 25, 20);
	assert_int_equal(outbound_peers_state(p, &any, 15, NULL),
			 OUTBOUND_PEER_PROBE);
	outbound_peers_free(&p);
}

static void test_sweep(void **state)
{
	struct outbound_peers *p = outbound_peers_new();

	(void)state;
	outbound_peers_fail(p, &any, 100, 451, "4.4.1", "a");
	outbound_peers_fail(p, &tls, 200, 451, "4.7.5", "b");
	outbound_peers_fail(p, &other_port, 300, 451, "4.4.1", "c");
	assert_true(outbound_peers_probe(p, &any, 150));
	/* at 250: tls expired (kept, awaiting a probe), any is probing,
	 * other_port fails */
	assert_int_equal(outbound_peers_sweep(p, 250, 0), 2);
	assert_int_equal(outbound_peers_count(p), 3);
	/* forget what expired before 250, but not the probe in flight */
	assert_int_equal(outbound_peers_sweep(p, 250, 250), 2);
	assert_int_equal(outbound_peers_count(p), 2);
	assert_int_equal(outbound_peers_state(p, &tls, 250, NULL),
			 OUTBOUND_PEER_OK);
	assert_int_equal(outbound_peers_state(p, &any, 250, NULL),
			 OUTBOUND_PEER_BUSY);
	outbound_peers_probe_end(p, &any);
	assert_int_equal(outbound_peers_sweep(p, 400, 400), 0);
	assert_int_equal(outbound_peers_count(p), 0);
	outbound_peers_free(&p);
}

static void test_many(void **state)
{
	struct outbound_peers *p = outbound_peers_new();
	char addr[64];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		struct outbound_peer_key k = { addr, 25, "" };

		outbound_peers_fail(p, &k, 1000 + i, 451, "4.4.1", addr);
	}
	assert_int_equal(outbound_peers_count(p), 1000);
	for (int i = 0; i < 1000; i++) {
		const struct outbound_peer_reason *r;

		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		struct outbound_peer_key k = { addr, 25, "" };

		assert_int_equal(outbound_peers_state(p, &k, 0, &r),
				 OUTBOUND_PEER_FAILING);
		assert_string_equal(r->diag, addr);
		assert_int_equal(r->until, 1000 + i);
	}
	/* half of them forgotten */
	assert_int_equal(outbound_peers_sweep(p, 0, 1500), 500);
	assert_int_equal(outbound_peers_count(p), 500);
	for (int i = 0; i < 1000; i += 2) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		struct outbound_peer_key k = { addr, 25, "" };

		assert_int_equal(outbound_peers_ok(p, &k), i >= 500);
	}
	assert_int_equal(outbound_peers_count(p), 250);
	outbound_peers_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_expire_probe),
		cmocka_unit_test(test_scopes_and_expire),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
