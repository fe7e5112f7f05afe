/* Unit tests for base/cidr: parsing networks and lists, matching peers. */
#include "unit.h"

#include "base/cidr.h"

#include <sys/socket.h>

static void test_parse(void **state)
{
	static const struct { const char *s; int family; unsigned prefix; } ok[] = {
		{ "10.0.0.0/8", AF_INET, 8 },
		{ "127.0.0.0/8", AF_INET, 8 },
		{ "192.0.2.1", AF_INET, 32 },
		{ "0.0.0.0/0", AF_INET, 0 },
		{ "192.168.4.0/22", AF_INET, 22 },
		{ "::1/128", AF_INET6, 128 },
		{ "::1", AF_INET6, 128 },
		{ "2001:db8::/32", AF_INET6, 32 },
		{ "::/0", AF_INET6, 0 },
		{ "fe80::/10", AF_INET6, 10 },
	};
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1",
		"10.0.0.0/+8", "10.0.0.0/8/8", "10.1.2.3/8", "192.168.5.0/22",
		"fe80::1/10", "example.org", "10.0.0", "10.0.0.0/ 8",
		"10.0.0.0/0008", "1.2.3.4.5",
	};
	struct cidr c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		if (!cidr_parse(str_c(ok[i].s), &c))
			fail_msg("'%s' refused", ok[i].s);
		assert_int_equal(c.family, ok[i].family);
		assert_int_equal(c.prefix, ok[i].prefix);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cidr_parse(str_c(bad[i]), &c))
			fail_msg("'%s' accepted", bad[i]);
	}
	/* A NUL inside the text is not an address. */
	assert_false(cidr_parse(str_make("10.0.0.0\0x", 10), &c));
}

static void test_list_and_match(void **state)
{
	struct cidr *list;
	struct str bad;
	int n;

	(void)state;
	n = cidr_list_parse(STR_LIT(" 127.0.0.0/8 ::1/128,10.0.0.0/8,,\t192.168.4.0/22 "),
			    &list, &bad);
	assert_int_equal(n, 4);
	assert_true(cidr_list_match(list, 4, "127.0.0.1"));
	assert_true(cidr_list_match(list, 4, "127.255.255.254"));
	assert_true(cidr_list_match(list, 4, "::1"));
	assert_true(cidr_list_match(list, 4, "10.200.1.1"));
	assert_true(cidr_list_match(list, 4, "192.168.7.255"));
	assert_false(cidr_list_match(list, 4, "192.168.8.0"));
	assert_false(cidr_list_match(list, 4, "192.168.3.255"));
	assert_false(cidr_list_match(list, 4, "11.0.0.1"));
	assert_false(cidr_list_match(list, 4, "::2"));
	/* IPv4-mapped IPv6 peers match the IPv4 networks. */
	assert_true(cidr_list_match(list, 4, "::ffff:10.1.2.3"));
	assert_false(cidr_list_match(list, 4, "::ffff:11.1.2.3"));
	assert_false(cidr_list_match(list, 4, "unix"));
	assert_false(cidr_list_match(list, 4, ""));
	free(list);

	assert_int_equal(cidr_list_parse(STR_LIT(""), &list, &bad), 0);
	assert_null(list);
	assert_false(cidr_list_match(list, 0, "127.0.0.1"));
	assert_int_equal(cidr_list_parse(STR_LIT(" , "), &list, &bad), 0);

	assert_int_equal(cidr_list_parse(STR_LIT("10.0.0.0/8 10.1.0.0/8 ::1"),
					 &list, &bad), -1);
	assert_null(list);
	assert_true(str_eq(bad, STR_LIT("10.1.0.0/8")));

	/* /0 matches every address of its family only. */
	n = cidr_list_parse(STR_LIT("0.0.0.0/0"), &list, &bad);
	assert_int_equal(n, 1);
	assert_true(cidr_list_match(list, 1, "203.0.113.9"));
	assert_false(cidr_list_match(list, 1, "2001:db8::1"));
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_list_and_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
