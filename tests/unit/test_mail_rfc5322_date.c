/* Unit tests for mail/rfc5322_date: Date: header values. */
#include "unit.h"

#include "mail/rfc5322_date.h"

static void test_parse(void **state)
{
	static const struct {
		const char *in;
		int64_t t;
		int zone;
	} ok[] = {
		{ "Thu, 1 Feb 2024 10:20:30 +0000", 1706782830, 0 },
		{ "1 Feb 2024 10:20:30 +0130", 1706782830 - 5400, 90 },
		{ "Thu, 01 Feb 2024 10:20 -0800", 1706782800 + 8 * 3600, -480 },
		{ "thu,1 feb 2024 10:20:30 GMT", 1706782830, 0 },
		{ " Thu (day) , 1 (x) Feb 2024\r\n 10:20:30 EST (Eastern)",
		  1706782830 + 5 * 3600, -300 },
		{ "1 Feb 24 10:20:30 +0000", 1706782830, 0 },
		{ "1 Feb 99 10:20:30 +0000", 917864430, 0 },
		{ "1 Feb 124 10:20:30 +0000", 1706782830, 0 },
		{ "1 Feb 2024 10:20:30 A", 1706782830, 0 },
		{ "1 Feb 2024 10:20:60 +0000 trailing", 1706782860, 0 },
		{ "29 Feb 2000 00:00:00 +0000", 951782400, 0 },
	};
	static const char *const bad[] = {
		"", "Thu 1 Feb 2024 10:20:30 +0000", "1 Fab 2024 10:20:30 +0000",
		"30 Feb 2024 10:20:30 +0000", "1 Feb 2024 24:20:30 +0000",
		"1 Feb 2024 10:20:30", "1 Feb 2024 10:20:30 +000",
		"1 Feb 2024 10:20:30 +0060", "1 Feb 2024 10:20:30 XYZ",
		"1 Feb 2 10:20:30 +0000", "100 Feb 2024 10:20:30 +0000",
		"29 Feb 1900 00:00:00 +0000",
	};
	int64_t t;
	int zone;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		if (!rfc5322_date_parse(str_c(ok[i].in), &t, &zone))
			fail_msg("'%s' does not parse", ok[i].in);
		assert_int_equal(t, ok[i].t);
		assert_int_equal(zone, ok[i].zone);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (rfc5322_date_parse(str_c(bad[i]), &t, &zone))
			fail_msg("'%s' parses", bad[i]);
	}
}

static void test_calendar(void **state)
{
	(void)state;
	assert_int_equal(rfc5322_date_timegm(1970, 1, 1, 0, 0, 0), 0);
	assert_int_equal(rfc5322_date_timegm(1969, 12, 31, 23, 59, 59), -1);
	assert_int_equal(rfc5322_date_timegm(2038, 1, 19, 3, 14, 8), 2147483648LL);
	assert_true(rfc5322_date_valid_day(2000, 2, 29));
	assert_false(rfc5322_date_valid_day(2100, 2, 29));
	assert_false(rfc5322_date_valid_day(2024, 4, 31));
	assert_false(rfc5322_date_valid_day(2024, 13, 1));
	assert_int_equal(rfc5322_date_month(STR_LIT("dEc")), 12);
	assert_int_equal(rfc5322_date_month(STR_LIT("Dece")), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_calendar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
