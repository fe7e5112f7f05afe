/* Unit tests for the [queue] and [dns] sections of config/: defaults,
 * durations stored as seconds, and the checks across keys. */
#include "unit.h"

#include "config/config.h"

static struct config *parse(const char *text, char **error_r)
{
	*error_r = NULL;
	return config_parse_string(text, "test.conf", NULL, error_r);
}

static void test_defaults(void **state)
{
	char *error;
	struct config *cfg = parse("[server]\nhostname = mx.example.test\n"
				   "data_dir = /tmp/x\n", &error);

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(cfg->queue.retry_min, 300);
	assert_int_equal(cfg->queue.retry_max, 3600);
	assert_int_equal(cfg->queue.max_age, 5 * 86400);
	assert_int_equal(cfg->queue.delay_notice, 4 * 3600);
	assert_int_equal(cfg->queue.max_connections, 100);
	assert_int_equal(cfg->queue.max_per_destination, 10);
	assert_null(cfg->dns.upstream);
	assert_null(cfg->dns.trust_anchor);
	config_free(&cfg);
}

static void test_values(void **state)
{
	char *error;
	struct config *cfg = parse(
		"[server]\ndata_dir = /tmp/x\n"
		"[queue]\nretry_min = 2s\nretry_max = 1m\nmax_age = 2d\n"
		"delay_notice = 0s\nmax_connections = 5\n"
		"max_per_destination = 2\n"
		"[dns]\nupstream = 127.0.0.1@5353\n"
		"trust_anchor = root.key\n", &error);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", error);
	assert_int_equal(cfg->queue.retry_min, 2);
	assert_int_equal(cfg->queue.retry_max, 60);
	assert_int_equal(cfg->queue.max_age, 2 * 86400);
	assert_int_equal(cfg->queue.delay_notice, 0);
	assert_int_equal(cfg->queue.max_connections, 5);
	assert_int_equal(cfg->queue.max_per_destination, 2);
	assert_string_equal(cfg->dns.upstream, "127.0.0.1@5353");
	/* Relative paths are resolved against data_dir. */
	assert_string_equal(cfg->dns.trust_anchor, "/tmp/x/root.key");
	config_free(&cfg);

	cfg = parse("[server]\ndata_dir = /tmp/x\n[dns]\nupstream = ::1\n",
		    &error);
	assert_non_null(cfg);
	assert_string_equal(cfg->dns.upstream, "::1");
	config_free(&cfg);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[queue]\nretry_min = 10m\nretry_max = 1m\n",
		  "test.conf:3: [queue] retry_max (60s) is below retry_min (600s)" },
		{ "[queue]\nretry_min = 0s\n", "key 'retry_min' in [queue]" },
		{ "[queue]\nmax_age = soon\n", "key 'max_age' in [queue]" },
		{ "[queue]\nmax_connections = 0\n", "key 'max_connections'" },
		{ "[dns]\nupstream = dns.example\n", "test.conf:2: key 'upstream' in [dns]" },
		{ "[dns]\nupstream = 127.0.0.1@0\n", "key 'upstream' in [dns]" },
		{ "[dns]\nupstream = 127.0.0.1@x\n", "key 'upstream' in [dns]" },
		{ "[dns]\nresolver = 1.2.3.4\n", "resolver" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *error;
		struct config *cfg = parse(cases[i].text, &error);

		assert_null(cfg);
		assert_non_null(error);
		if (strstr(error, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, error,
				 cases[i].want);
		free(error);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
