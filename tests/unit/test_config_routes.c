/* Unit tests for the outbound sections of the config: [routes] lines,
 * [relay] and [delivery] keys, defaults and errors. */
#include "unit.h"

#include "config/config.h"

static struct config *parse(const char *text, char **error_r)
{
	*error_r = NULL;
	return config_parse_string(text, "test.conf", NULL, error_r);
}

static void test_defaults(void **state UNUSED)
{
	char *error;
	struct config *cfg = parse("[server]\nhostname = mx.test\n"
				   "data_dir = /tmp/x\n", &error);

	assert_non_null(cfg);
	assert_int_equal(cfg->delivery.smtp_port, 25);
	assert_int_equal(cfg->delivery.timeout_percent, 100);
	assert_int_equal(cfg->delivery.connect_timeout_ms, 30000);
	assert_int_equal(cfg->delivery.tls, CONFIG_OUT_TLS_MAY);
	assert_null(cfg->relay.host);
	assert_int_equal(cfg->route_count, 0);
	config_free(&cfg);
}

static void test_routes(void **state UNUSED)
{
	char *error;
	struct config *cfg = parse(
		"[server]\nhostname = mx.test\ndata_dir = /tmp/x\n"
		"[routes]\nExample.ORG = 127.0.0.1:2525\n"
		"v6.test = [::1]:26 tls=required\n"
		"name.test = mx.name.test  tls=verify\n"
		"[relay]\nhost = smart.test\nport = 587\nuser = me\n"
		"password_file = relay.pw\ntls = required\n"
		"[delivery]\nsmtp_port = 2525\ntimeout_percent = 1\n"
		"connect_timeout = 5s\n", &error);

	if (cfg == NULL)
		fail_msg("%s", error);
	assert_int_equal(cfg->route_count, 3);
	assert_string_equal(cfg->routes[0].domain, "example.org");
	assert_string_equal(cfg->routes[0].host, "127.0.0.1");
	assert_int_equal(cfg->routes[0].port, 2525);
	assert_int_equal(cfg->routes[0].tls, CONFIG_OUT_TLS_MAY);
	assert_string_equal(cfg->routes[1].host, "::1");
	assert_int_equal(cfg->routes[1].port, 26);
	assert_int_equal(cfg->routes[1].tls, CONFIG_OUT_TLS_REQUIRED);
	assert_string_equal(cfg->routes[2].host, "mx.name.test");
	assert_int_equal(cfg->routes[2].port, 0);
	assert_int_equal(cfg->routes[2].tls, CONFIG_OUT_TLS_VERIFY);
	assert_string_equal(cfg->relay.host, "smart.test");
	assert_int_equal(cfg->relay.port, 587);
	assert_string_equal(cfg->relay.password_file, "/tmp/x/relay.pw");
	assert_int_equal(cfg->relay.tls, CONFIG_OUT_TLS_REQUIRED);
	assert_int_equal(cfg->delivery.smtp_port, 2525);
	assert_int_equal(cfg->delivery.timeout_percent, 1);
	assert_int_equal(cfg->delivery.connect_timeout_ms, 5000);
	config_free(&cfg);
}

static void expect_error(const char *section, const char *want)
{
	char *error, text[512];
	struct config *cfg;

	snprintf(text, sizeof(text), "[server]\nhostname = mx.test\n"
		 "data_dir = /tmp/x\n%s", section);
	cfg = parse(text, &error);
	assert_null(cfg);
	assert_non_null(error);
	if (strstr(error, want) == NULL)
		fail_msg("'%s' lacks '%s'", error, want);
	free(error);
}

static void test_errors(void **state UNUSED)
{
	expect_error("[routes]\na.test = 127.0.0.1:0\n", "expected 'host[:port]'");
	expect_error("[routes]\na.test = 127.0.0.1:\n", "expected 'host[:port]'");
	expect_error("[routes]\na.test = [::1\n", "expected 'host[:port]'");
	expect_error("[routes]\na.test = h tls=maybe\n", "tls=none|may");
	expect_error("[routes]\na.test = h\nA.test = g\n", "appears twice");
	expect_error("[routes]\nbad_domain! = h\n", "not a domain");
	expect_error("[relay]\nhost = h\nuser = u\n", "needs password_file");
	expect_error("[delivery]\ntimeout_percent = 0\n", "timeout_percent");
	expect_error("[delivery]\ntls = sometimes\n", "tls");
}

static void test_milters(void **state UNUSED)
{
	char *error;
	struct config *cfg = parse(
		"[server]\nhostname = mx.test\ndata_dir = /tmp/x\n"
		"[milter]\nrspamd = inet:11332@127.0.0.1\n"
		"clam = unix:/run/clamav.sock default=accept timeout=2s\n"
		"six = [::1]:8891 connect_timeout=300ms default=reject\n"
		"local = localhost:25\n"
		"bare = /run/m.sock\n", &error);

	assert_non_null(cfg);
	assert_int_equal(cfg->milter_count, 5);
	assert_string_equal(cfg->milters[0].name, "rspamd");
	assert_string_equal(cfg->milters[0].host, "127.0.0.1");
	assert_int_equal(cfg->milters[0].port, 11332);
	assert_int_equal(cfg->milters[0].timeout_ms, 30000);
	assert_int_equal(cfg->milters[0].connect_timeout_ms, 5000);
	assert_int_equal(cfg->milters[0].on_error, CONFIG_MILTER_TEMPFAIL);
	assert_null(cfg->milters[1].host);
	assert_string_equal(cfg->milters[1].unix_path, "/run/clamav.sock");
	assert_int_equal(cfg->milters[1].on_error, CONFIG_MILTER_ACCEPT);
	assert_int_equal(cfg->milters[1].timeout_ms, 2000);
	assert_string_equal(cfg->milters[2].host, "::1");
	assert_int_equal(cfg->milters[2].port, 8891);
	assert_int_equal(cfg->milters[2].connect_timeout_ms, 300);
	assert_int_equal(cfg->milters[2].on_error, CONFIG_MILTER_REJECT);
	assert_string_equal(cfg->milters[3].host, "127.0.0.1");
	assert_string_equal(cfg->milters[4].unix_path, "/run/m.sock");
	config_free(&cfg);

	expect_error("[milter]\nm = inet:0@127.0.0.1\n", "expected a socket");
	expect_error("[milter]\nm = inet:25@mx.example\n", "expected a socket");
	expect_error("[milter]\nm = tcp:foo\n", "expected a socket");
	expect_error("[milter]\nm = 127.0.0.1:25 default=maybe\n",
		     "default=tempfail");
	expect_error("[milter]\nm = 127.0.0.1:25 timeout=50ms\n", "timeout=");
	expect_error("[milter]\nm = 127.0.0.1:25 color=red\n", "timeout=");
	expect_error("[milter]\nm = /a\nm = /b\n", "appears twice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_milters),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
