/* Unit tests for delivery/dmarc_store: DMARC report rows counted by key
 * through the store writer, the day's policy kept (the last one wins),
 * report runs that claim exactly the unreported rows, and the purge of
 * old reported rows. */
#include "test_store_util.h"
#include "delivery/dmarc_store.h"

static void record(struct tstore *t, int64_t day, const char *ip,
		   const char *disposition, const char *p)
{
	struct dmarc_store_req q;

	dmarc_store_req_init(&q, DMARC_STORE_RECORD);
	q.row = (struct dmarc_row){
		.day = day, .header_from = "example.com",
		.policy_domain = "example.com", .source_ip = ip,
		.envelope_from = "bounce.example.com",
		.disposition = disposition, .dmarc_dkim = "fail",
		.dmarc_spf = "fail", .dkim = "fail example.com s1",
		.spf_result = "softfail", .spf_domain = "bounce.example.com",
		.spf_scope = "mfrom",
	};
	q.policy = (struct dmarc_policy_row){
		.day = day, .domain = "example.com", .p = p, .sp = p,
		.pct = 100, .adkim = "r", .aspf = "r", .fo = "0",
		.rua = "mailto:agg@example.com!10m",
	};
	tstore_ok(t, &q.req);
}

static int64_t claim(struct tstore *t, int64_t day)
{
	struct dmarc_store_req q;

	dmarc_store_req_init(&q, DMARC_STORE_CLAIM);
	q.claim.day = day;
	return tstore_ok(t, &q.req);
}

static int rows(struct tstore *t, int64_t day, int64_t run,
		struct dmarc_row **r)
{
	const char *error;
	int n = dmarc_store_rows(t->reader, &t->arena, day, run, r, &error);

	if (n < 0)
		fail_msg("dmarc_store_rows: %s", error);
	return n;
}

static void test_count_and_claim(void **state)
{
	const int64_t day = 20000;
	struct dmarc_policy_row *pol;
	struct dmarc_row *r;
	const char *error;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	record(&t, day, "192.0.2.1", "reject", "quarantine");
	record(&t, day, "192.0.2.1", "reject", "reject");
	record(&t, day, "192.0.2.2", "reject", "reject");
	record(&t, day + 1, "192.0.2.1", "reject", "reject");
	assert_int_equal(rows(&t, day, -1, &r), 2);
	assert_string_equal(r[0].source_ip, "192.0.2.1");
	assert_int_equal(r[0].count, 2);
	assert_int_equal(r[0].sent, 0);
	assert_string_equal(r[0].dkim, "fail example.com s1");
	assert_string_equal(r[0].spf_scope, "mfrom");
	assert_int_equal(r[1].count, 1);
	/* one policy per domain and day: the last one seen */
	assert_int_equal(dmarc_store_policies(t.reader, &t.arena, day, &pol,
					      &error), 1);
	assert_string_equal(pol[0].p, "reject");
	assert_string_equal(pol[0].rua, "mailto:agg@example.com!10m");
	/* a run claims the day's unreported rows */
	assert_int_equal(claim(&t, day), 1);
	assert_int_equal(rows(&t, day, 1, &r), 2);
	assert_int_equal(rows(&t, day, 0, &r), 0);
	/* a later message of the same key starts a new unreported row */
	record(&t, day, "192.0.2.1", "reject", "reject");
	assert_int_equal(rows(&t, day, 0, &r), 1);
	assert_int_equal(r[0].count, 1);
	assert_int_equal(rows(&t, day, -1, &r), 3);
	/* the next run takes only it */
	assert_int_equal(claim(&t, day), 2);
	assert_int_equal(rows(&t, day, 2, &r), 1);
	assert_int_equal(rows(&t, day, 1, &r), 2);
	/* nothing left: a run that reports nothing */
	assert_int_equal(claim(&t, day), 3);
	assert_int_equal(rows(&t, day, 3, &r), 0);
	/* the other day was not touched */
	assert_int_equal(rows(&t, day + 1, 0, &r), 1);
	tstore_deinit(&t);
}

static void test_purge(void **state)
{
	const int64_t day = 20000, old = day - DMARC_STORE_KEEP_DAYS - 1;
	struct dmarc_policy_row *pol;
	struct dmarc_row *r;
	const char *error;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	record(&t, old, "192.0.2.1", "none", "none");
	record(&t, old + 1, "192.0.2.1", "none", "none");
	assert_int_equal(claim(&t, old), 1);
	record(&t, day, "192.0.2.1", "none", "none");
	claim(&t, day);
	/* the old reported rows and their policy are gone; unreported
	 * rows stay, however old */
	assert_int_equal(rows(&t, old, -1, &r), 0);
	assert_int_equal(dmarc_store_policies(t.reader, &t.arena, old, &pol,
					      &error), 0);
	assert_int_equal(rows(&t, old + 1, -1, &r), 1);
	assert_int_equal(dmarc_store_policies(t.reader, &t.arena, old + 1,
					      &pol, &error), 1);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_claim),
		cmocka_unit_test(test_purge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
