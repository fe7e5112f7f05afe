/* Unit tests for mail/header: the size of a message's header section. */
#include "unit.h"

#include "mail/header.h"

#include <string.h>

static size_t section(const char *msg)
{
	return header_section_size(str_c(msg));
}

static void test_section_size(void **state)
{
	(void)state;
	assert_int_equal(section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), 12);
	assert_int_equal(section("A: 1\nB: 2\n\nbody\n"), 10);
	/* folded lines are part of it; a blank line is only an empty one */
	assert_int_equal(section("A: 1\r\n 2\r\n\r\n\r\n"), 10);
	assert_int_equal(section("A: 1\r\n \r\nB: 2\r\n\r\nx"), 15);
	/* no header at all, no body, no line end */
	assert_int_equal(section("\r\nbody"), 0);
	assert_int_equal(section("\nbody"), 0);
	assert_int_equal(section("A: 1\r\nB: 2\r\n"), strlen("A: 1\r\nB: 2\r\n"));
	assert_int_equal(section("A: 1"), 4);
	assert_int_equal(section(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_section_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
