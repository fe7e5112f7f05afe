/* Unit tests for config/config: defaults, every key, the exact error
 * messages, overrides, the dev config and the sample etc/posthorn.conf. */
/* gcc 12 with -fsanitize=address,undefined wrongly sees a NULL path in
 * test_load_errors after a write(2); the path comes from xasprintf. */
#pragma GCC diagnostic ignored "-Wformat-overflow"

#include "unit.h"

#include "config/config.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_OK "[tls]\ncert = /c.pem\nkey = /k.pem\n"

static struct config *parse_ok(const char *text,
			       const struct config_overrides *ov)
{
	char *error = NULL;
	struct config *cfg = config_parse_string(text, "t.conf", ov, &error);

	if (cfg == NULL)
		fail_msg("unexpected error: %s", error);
	return cfg;
}

static void assert_error_ov(const char *text, const struct config_overrides *ov,
			    const char *expected)
{
	char *error = NULL;
	struct config *cfg = config_parse_string(text, "t.conf", ov, &error);

	if (cfg != NULL)
		fail_msg("parsed, but expected: %s\n--\n%s", expected, text);
	assert_non_null(error);
	assert_string_equal(error, expected);
	free(error);
}

static void assert_error(const char *text, const char *expected)
{
	assert_error_ov(text, NULL, expected);
}

static void test_defaults(void **state)
{
	struct config *cfg = parse_ok("", NULL);
	char host[HOST_NAME_MAX + 1] = "";

	(void)state;
	assert_string_equal(cfg->source, "t.conf");
	/* The machine's name, or localhost when that is not a valid one. */
	gethostname(host, sizeof(host) - 1);
	if (strcmp(cfg->server.hostname, host) != 0)
		assert_string_equal(cfg->server.hostname, "localhost");
	assert_string_equal(cfg->server.user, "posthorn");
	/* No group: the primary group of the user. */
	assert_null(cfg->server.group);
	assert_string_equal(cfg->server.data_dir, "/var/lib/posthorn");
	assert_false(cfg->server.dev);
	assert_int_equal(cfg->server.io_threads, 0);
	assert_int_equal(cfg->server.shutdown_timeout_ms, 30000);
	assert_int_equal(cfg->server.max_connections, 10000);
	assert_int_equal(cfg->server.max_connections_per_ip, 0);
	assert_int_equal(cfg->server.max_unauthenticated, 1000);
	assert_int_equal(cfg->server.max_unauthenticated_per_ip, 100);
	assert_int_equal(cfg->server.max_user_connections_per_ip, 50);
	assert_int_equal(cfg->log.target, LOG_TARGET_STDERR);
	assert_int_equal(cfg->log.level, LOG_LEVEL_INFO);
	assert_null(cfg->tls.cert);
	assert_null(cfg->tls.key);
	assert_int_equal(cfg->tls.min_version, CONFIG_TLS_VERSION_1_2);
	assert_null(cfg->tls.ciphers);
	assert_int_equal(cfg->store.driver, CONFIG_STORE_SQLITE);
	assert_string_equal(cfg->store.path, "/var/lib/posthorn/posthorn.db");
	assert_null(cfg->store.conninfo);
	assert_true(cfg->store.fsync);
	assert_int_equal(cfg->auth.allow_plaintext, CONFIG_PLAINTEXT_NEVER);
	assert_int_equal(cfg->auth.fail_delay_ms, 1000);
	assert_int_equal(cfg->auth.fail_delay_max_ms, 15000);
	assert_int_equal(cfg->auth.max_pending_per_ip, 4);
	assert_null(cfg->auth.trusted_networks);
	assert_int_equal(cfg->smtp.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(cfg->smtp.max_recipients, 100);
	assert_int_equal(cfg->smtp.max_bad_commands, 20);
	assert_int_equal(cfg->smtp.greeting_cache_ttl, 86400);
	assert_int_equal(cfg->smtp.greeting_cache_size, 100000);
	assert_int_equal(cfg->smtp.max_line_length, 1024 * 1024);
	assert_int_equal(cfg->smtp.connections_per_minute, 600);
	assert_int_equal(cfg->smtp.messages_per_minute, 1200);
	assert_int_equal(cfg->smtp.recipients_per_minute, 6000);
	assert_int_equal(cfg->smtp.user_messages_per_minute, 300);
	assert_int_equal(cfg->smtp.user_recipients_per_minute, 3000);
	assert_int_equal(cfg->smtp.max_refused_recipients, 10);
	assert_string_equal(cfg->smtp.rate_limit_exempt, "127.0.0.0/8 ::1");
	assert_int_equal(cfg->smtp.rate_limit_ipv6_prefix, 64);
	assert_int_equal(cfg->smtp.rate_limit_table_size, 100000);
	assert_true(cfg->smtp.junk);
	assert_int_equal(cfg->smtp.junk_score_milli, 6000);
	assert_null(cfg->imap.learn_spam_command);
	assert_null(cfg->imap.learn_ham_command);
	assert_int_equal(cfg->imap.learn_timeout_ms, 30000);
	assert_int_equal(cfg->imap.learn_max_jobs, 2);
	assert_int_equal(cfg->listener_count, 0);
	config_free(&cfg);
	assert_null(cfg);
	config_free(&cfg);
}

static void test_every_key(void **state)
{
	const char *text =
		"; a comment\n"
		"# another\n"
		"[server]\n"
		"hostname = mx1.example.org\n"
		"user = mail\n"
		"group =\n"
		"data_dir = /srv/mail/\n"
		"dev = on\n"
		"io_threads = 4\n"
		"shutdown_timeout = 2m\n"
		"max_connections = 500\n"
		"max_connections_per_ip = 0\n"
		"max_unauthenticated = 50\n"
		"max_unauthenticated_per_ip = 5\n"
		"max_user_connections_per_ip = 0\n"
		"[log]\n"
		"target = syslog\n"
		"level = DEBUG\n"
		"[tls]\n"
		"cert = tls/cert.pem\n"
		"key = /etc/k.pem ; inline comment\n"
		"min_version = 1.3\n"
		"ciphers = HIGH:!aNULL\n"
		"[store]\n"
		"driver = pgsql\n"
		"conninfo = host=db dbname=posthorn\n"
		"fsync = false\n"
		"[auth]\n"
		"allow_plaintext = always\n"
		"fail_delay = 250ms\n"
		"fail_delay_max = 10s\n"
		"max_pending_per_ip = 2\n"
		"trusted_networks = 10.0.0.0/8\n"
		"[http]\n"
		"[smtp]\n"
		"max_message_size = 10M\n"
		"max_recipients = 7\n"
		"max_bad_commands = 3\n"
		"greeting_cache_ttl = 1h\n"
		"greeting_cache_size = 10\n"
		"max_line_length = 4M\n"
		"connections_per_minute = 0\n"
		"messages_per_minute = 11\n"
		"recipients_per_minute = 12\n"
		"user_messages_per_minute = 13\n"
		"user_recipients_per_minute = 14\n"
		"max_refused_recipients = 15\n"
		"rate_limit_exempt =\n"
		"rate_limit_ipv6_prefix = 48\n"
		"rate_limit_table_size = 1000\n"
		"junk_score = 7.25\n"
		"[listener in]\n"
		"protocol = smtp\n"
		"address = 192.0.2.1, 2001:db8::1 ::1\n"
		"port = 2500\n"
		"tls = none\n"
		"[listener local lmtp]\n"
		"protocol = lmtp\n"
		"path = lmtp.sock\n"
		"tls = starttls\n";
	struct config *cfg = parse_ok(text, NULL);
	const struct config_listener *l;

	(void)state;
	assert_string_equal(cfg->server.hostname, "mx1.example.org");
	assert_string_equal(cfg->server.user, "mail");
	assert_null(cfg->server.group);
	assert_string_equal(cfg->server.data_dir, "/srv/mail");
	assert_true(cfg->server.dev);
	assert_int_equal(cfg->server.io_threads, 4);
	assert_int_equal(cfg->server.shutdown_timeout_ms, 120000);
	assert_int_equal(cfg->server.max_connections, 500);
	assert_int_equal(cfg->server.max_connections_per_ip, 0);
	assert_int_equal(cfg->server.max_unauthenticated, 50);
	assert_int_equal(cfg->server.max_unauthenticated_per_ip, 5);
	assert_int_equal(cfg->server.max_user_connections_per_ip, 0);
	assert_int_equal(cfg->log.target, LOG_TARGET_SYSLOG);
	assert_int_equal(cfg->log.level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->tls.cert, "/srv/mail/tls/cert.pem");
	assert_string_equal(cfg->tls.key, "/etc/k.pem");
	assert_int_equal(cfg->tls.min_version, CONFIG_TLS_VERSION_1_3);
	assert_string_equal(cfg->tls.ciphers, "HIGH:!aNULL");
	assert_int_equal(cfg->store.driver, CONFIG_STORE_PGSQL);
	assert_null(cfg->store.path);
	assert_string_equal(cfg->store.conninfo, "host=db dbname=posthorn");
	assert_false(cfg->store.fsync);
	assert_int_equal(cfg->auth.allow_plaintext, CONFIG_PLAINTEXT_ALWAYS);
	assert_int_equal(cfg->auth.fail_delay_ms, 250);
	assert_int_equal(cfg->auth.fail_delay_max_ms, 10000);
	assert_int_equal(cfg->auth.max_pending_per_ip, 2);
	assert_string_equal(cfg->auth.trusted_networks, "10.0.0.0/8");
	assert_int_equal(cfg->smtp.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(cfg->smtp.max_recipients, 7);
	assert_int_equal(cfg->smtp.max_bad_commands, 3);
	assert_int_equal(cfg->smtp.max_line_length, 4 * 1024 * 1024);
	assert_int_equal(cfg->smtp.connections_per_minute, 0);
	assert_int_equal(cfg->smtp.messages_per_minute, 11);
	assert_int_equal(cfg->smtp.recipients_per_minute, 12);
	assert_int_equal(cfg->smtp.user_messages_per_minute, 13);
	assert_int_equal(cfg->smtp.user_recipients_per_minute, 14);
	assert_int_equal(cfg->smtp.max_refused_recipients, 15);
	assert_null(cfg->smtp.rate_limit_exempt);
	assert_int_equal(cfg->smtp.rate_limit_ipv6_prefix, 48);
	assert_int_equal(cfg->smtp.rate_limit_table_size, 1000);
	assert_true(cfg->smtp.junk);
	assert_int_equal(cfg->smtp.junk_score_milli, 7250);

	assert_int_equal(cfg->listener_count, 2);
	l = &cfg->listeners[0];
	assert_string_equal(l->name, "in");
	assert_int_equal(l->protocol, CONFIG_PROTOCOL_SMTP);
	assert_int_equal(l->tls, CONFIG_TLS_NONE);
	assert_int_equal(l->address_count, 3);
	assert_string_equal(l->addresses[0], "192.0.2.1");
	assert_string_equal(l->addresses[1], "2001:db8::1");
	assert_string_equal(l->addresses[2], "::1");
	assert_int_equal(l->port, 2500);
	assert_null(l->path);
	assert_int_equal(l->line, 52);
	l = &cfg->listeners[1];
	assert_string_equal(l->name, "local lmtp");
	assert_int_equal(l->protocol, CONFIG_PROTOCOL_LMTP);
	assert_int_equal(l->tls, CONFIG_TLS_STARTTLS);
	assert_int_equal(l->address_count, 0);
	assert_string_equal(l->path, "/srv/mail/lmtp.sock");
	config_free(&cfg);
}

/* [server] origin and admin, [smtp] local_trusted_users, and the unix
 * socket keys of listeners. */
static void test_local_names(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = parse_ok("[server]\nhostname = Mail.Example.ORG\n", NULL);
	assert_string_equal(cfg->server.origin, "mail.example.org");
	assert_null(cfg->server.admin);
	assert_null(cfg->smtp.local_trusted_users);
	config_free(&cfg);
	/* the admin defaults to [smtp] postmaster, then to the dev user */
	cfg = parse_ok("[smtp]\npostmaster = pm@example.org\n", NULL);
	assert_string_equal(cfg->server.admin, "pm@example.org");
	config_free(&cfg);
	cfg = parse_ok("[server]\ndev = yes\n", NULL);
	assert_string_equal(cfg->server.admin, CONFIG_DEV_ADMIN);
	config_free(&cfg);
	cfg = parse_ok("[server]\norigin = Box.Example\nadmin = Ops@Example.org\n"
		       "[smtp]\npostmaster = pm@example.org\n"
		       "local_trusted_users = root, www-data\n", NULL);
	assert_string_equal(cfg->server.origin, "box.example");
	assert_string_equal(cfg->server.admin, "Ops@Example.org");
	assert_string_equal(cfg->smtp.postmaster, "pm@example.org");
	assert_string_equal(cfg->smtp.local_trusted_users, "root, www-data");
	config_free(&cfg);
	assert_error("[server]\norigin = no_such host\n",
		     "t.conf:2: key 'origin' in [server]: expected a host name "
		     "such as mail.example.org, got 'no_such host'");
	assert_error("[server]\nadmin = root\n",
		     "t.conf:2: key 'admin' in [server]: expected an address "
		     "such as postmaster@example.org, got 'root'");
	assert_error("[server]\nadmin = <a@example.org>\n",
		     "t.conf:2: key 'admin' in [server]: expected an address "
		     "such as postmaster@example.org, got '<a@example.org>'");

	cfg = parse_ok("[listener l]\nprotocol = lmtp\npath = /run/l.sock\n"
		       "[listener s]\nprotocol = local\npath = /run/s.sock\n"
		       "[listener m]\nprotocol = lmtp\npath = /run/m.sock\n"
		       "owner = postfix\ngroup = mail\nmode = 640\n", NULL);
	assert_int_equal(cfg->listeners[0].mode, 0660);
	assert_null(cfg->listeners[0].owner);
	assert_null(cfg->listeners[0].group);
	assert_int_equal(cfg->listeners[1].mode, 0666);
	assert_int_equal(cfg->listeners[2].mode, 0640);
	assert_string_equal(cfg->listeners[2].owner, "postfix");
	assert_string_equal(cfg->listeners[2].group, "mail");
	config_free(&cfg);
	assert_error("[listener l]\nprotocol = lmtp\nport = 24\ngroup = mail\n",
		     "t.conf:4: key 'group' in [listener l] applies only to a "
		     "unix socket ('path')");
	assert_error("[listener l]\nprotocol = lmtp\npath = l.sock\nmode = 1777\n",
		     "t.conf:4: key 'mode' in [listener l]: expected an octal "
		     "file mode such as 0660, got '1777'");
	assert_error("[listener l]\nprotocol = lmtp\npath = l.sock\nmode = rw\n",
		     "t.conf:4: key 'mode' in [listener l]: expected an octal "
		     "file mode such as 0660, got 'rw'");
}

/* config_changes(): the keys that differ, by section, routes and
 * listeners by name; nothing for the same text. */
static void test_changes(void **state)
{
	const char *base =
		"[server]\nhostname = a.example\n[smtp]\nmax_recipients = 5\n"
		"[routes]\nx.test = 127.0.0.1:25\ny.test = [::1]:26\n"
		"[listener in]\nprotocol = smtp\ntls = none\n"
		"address = 127.0.0.1\nport = 2525\n"
		"[listener old]\nprotocol = imap\ntls = none\nport = 2143\n";
	const char *changed =
		"[server]\nhostname = b.example\n[smtp]\nmax_recipients = 5\n"
		"[log]\nlevel = debug\n"
		"[routes]\nx.test = 127.0.0.1:25 tls=required\nz.test = h.test\n"
		"[listener in]\nprotocol = smtp\ntls = none\naddress = 127.0.0.1 ::1\n"
		"port = 2525\n"
		"[listener new]\nprotocol = imap\ntls = none\nport = 2143\n";
	struct config *a = parse_ok(base, NULL), *b = parse_ok(changed, NULL);
	struct config *a2 = parse_ok(base, NULL);
	const struct config_change *list;
	struct arena arena;
	static const char *const want[][2] = {
		{ "server", "hostname" },
		/* the origin follows the host name */
		{ "server", "origin" },
		{ "log", "level" },
		{ "routes", "x.test" },
		{ "routes", "y.test" },
		{ "routes", "z.test" },
		{ "listener", "in" },
		{ "listener", "old" },
		{ "listener", "new" },
	};
	unsigned n;

	(void)state;
	arena_init(&arena, 0);
	assert_int_equal(config_changes(a, a2, &arena, &list), 0);
	n = config_changes(a, b, &arena, &list);
	for (unsigned i = 0; i < n && i < ARRAY_SIZE(want); i++) {
		assert_string_equal(list[i].section, want[i][0]);
		assert_string_equal(list[i].key, want[i][1]);
	}
	assert_int_equal(n, ARRAY_SIZE(want));
	arena_deinit(&arena);
	config_free(&a);
	config_free(&a2);
	config_free(&b);
}

/* The [smtp] policy keys: defaults, values, and the checked ones. */
static void test_smtp_policy(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = parse_ok("", NULL);
	assert_null(cfg->smtp.trusted_networks);
	assert_int_equal(cfg->smtp.greeting_delay_ms, 300);
	assert_int_equal(cfg->smtp.command_timeout_ms, 300000);
	assert_int_equal(cfg->smtp.data_timeout_ms, 300000);
	assert_false(cfg->smtp.received_auth);
	assert_null(cfg->smtp.postmaster);
	assert_int_equal(cfg->smtp.vrfy_expn, CONFIG_VRFY_NO);
	assert_int_equal(cfg->smtp.sender_check, CONFIG_SENDER_OWNED);
	config_free(&cfg);
	cfg = parse_ok("[server]\ndev = yes\n", NULL);
	assert_int_equal(cfg->smtp.sender_check, CONFIG_SENDER_ANY);
	config_free(&cfg);
	cfg = parse_ok("[server]\ndev = yes\n[smtp]\nsender_check = owned\n", NULL);
	assert_int_equal(cfg->smtp.sender_check, CONFIG_SENDER_OWNED);
	config_free(&cfg);

	cfg = parse_ok("[smtp]\ntrusted_networks = 127.0.0.0/8 ::1/128 10.0.0.0/8\n"
		       "greeting_delay = 0\ncommand_timeout = 10m\n"
		       "data_timeout = 90s\nreceived_auth = yes\n"
		       "postmaster = hostmaster@example.org\n"
		       "vrfy_expn = authenticated\n", NULL);
	assert_string_equal(cfg->smtp.trusted_networks,
			    "127.0.0.0/8 ::1/128 10.0.0.0/8");
	assert_int_equal(cfg->smtp.greeting_delay_ms, 0);
	assert_int_equal(cfg->smtp.command_timeout_ms, 600000);
	assert_int_equal(cfg->smtp.data_timeout_ms, 90000);
	assert_true(cfg->smtp.received_auth);
	assert_string_equal(cfg->smtp.postmaster, "hostmaster@example.org");
	assert_int_equal(cfg->smtp.vrfy_expn, CONFIG_VRFY_AUTHENTICATED);
	config_free(&cfg);

	assert_error("[smtp]\ntrusted_networks = 10.0.0.0/8 10.1.0.0/8\n",
		     "t.conf:2: key 'trusted_networks' in [smtp]: expected "
		     "networks such as 10.0.0.0/8 or ::1/128, got '10.1.0.0/8'");
	assert_error("[smtp]\n\nrate_limit_exempt = 10.0.0.0/8 nowhere\n",
		     "t.conf:3: key 'rate_limit_exempt' in [smtp]: expected "
		     "networks such as 10.0.0.0/8 or ::1/128, got 'nowhere'");
	cfg = parse_ok("[smtp]\njunk_score = OFF\n", NULL);
	assert_false(cfg->smtp.junk);
	config_free(&cfg);
	cfg = parse_ok("[imap]\nlearn_spam_command = rspamc learn_spam\n"
		       "learn_ham_command = rspamc learn_ham\n"
		       "learn_timeout = 5s\nlearn_max_jobs = 4\n", NULL);
	assert_string_equal(cfg->imap.learn_spam_command, "rspamc learn_spam");
	assert_string_equal(cfg->imap.learn_ham_command, "rspamc learn_ham");
	assert_int_equal(cfg->imap.learn_timeout_ms, 5000);
	assert_int_equal(cfg->imap.learn_max_jobs, 4);
	config_free(&cfg);
	assert_error("[smtp]\njunk_score = high\n",
		     "t.conf:2: key 'junk_score' in [smtp]: expected a score such "
		     "as 6 or 7.5, or off, got 'high'");
	assert_error("[smtp]\nrate_limit_ipv6_prefix = 129\n",
		     "t.conf:2: key 'rate_limit_ipv6_prefix' in [smtp]: expected "
		     "a number from 8 to 128, got '129'");
	assert_error("[smtp]\n\npostmaster = root\n",
		     "t.conf:3: key 'postmaster' in [smtp]: expected an address "
		     "such as postmaster@example.org, got 'root'");
	assert_error("[smtp]\nvrfy_expn = yes\n",
		     "t.conf:2: key 'vrfy_expn' in [smtp]: expected one of no, "
		     "authenticated, got 'yes'");
	assert_error("[smtp]\ncommand_timeout = 0\n",
		     "t.conf:2: key 'command_timeout' in [smtp]: expected a "
		     "duration from 1s to 1d (a number and a unit: ms, s, m, "
		     "h or d), got '0'");
}

/* The sendmail socket: a unix path, no TLS, nothing else. */
static void test_local_listener(void **state)
{
	struct config *cfg;
	char *error = NULL;

	(void)state;
	cfg = parse_ok(TLS_OK "[listener s]\nprotocol = local\n"
		       "path = /run/posthorn/sendmail.sock\n", NULL);
	assert_int_equal(cfg->listeners[0].protocol, CONFIG_PROTOCOL_LOCAL);
	assert_string_equal(config_protocol_name(CONFIG_PROTOCOL_LOCAL), "local");
	assert_int_equal(cfg->listeners[0].tls, CONFIG_TLS_NONE);
	assert_string_equal(cfg->listeners[0].path, "/run/posthorn/sendmail.sock");
	config_free(&cfg);

	cfg = config_parse_string(TLS_OK "[listener s]\nprotocol = local\n",
				  "t.conf", NULL, &error);
	assert_null(cfg);
	assert_non_null(strstr(error, "protocol local needs key 'path'"));
	free(error);
	cfg = config_parse_string(TLS_OK "[listener s]\nprotocol = local\n"
				  "path = /s.sock\ntls = starttls\n",
				  "t.conf", NULL, &error);
	assert_null(cfg);
	assert_non_null(strstr(error, "cannot use tls = starttls"));
	free(error);
}

/* Each protocol's default port and TLS mode, and the default address. */
static void test_listener_defaults(void **state)
{
	static const struct {
		enum config_protocol p;
		const char *name;
		unsigned int port;
		enum config_tls_mode tls;
	} cases[] = {
		{ CONFIG_PROTOCOL_SMTP, "smtp", 25, CONFIG_TLS_STARTTLS },
		{ CONFIG_PROTOCOL_SUBMISSION, "submission", 587, CONFIG_TLS_STARTTLS },
		{ CONFIG_PROTOCOL_SUBMISSIONS, "submissions", 465, CONFIG_TLS_IMPLICIT },
		{ CONFIG_PROTOCOL_LMTP, "lmtp", 24, CONFIG_TLS_NONE },
		{ CONFIG_PROTOCOL_IMAP, "imap", 143, CONFIG_TLS_STARTTLS },
		{ CONFIG_PROTOCOL_IMAPS, "imaps", 993, CONFIG_TLS_IMPLICIT },
		{ CONFIG_PROTOCOL_POP3, "pop3", 110, CONFIG_TLS_STARTTLS },
		{ CONFIG_PROTOCOL_POP3S, "pop3s", 995, CONFIG_TLS_IMPLICIT },
		{ CONFIG_PROTOCOL_HTTP, "http", 8080, CONFIG_TLS_NONE },
	};

	(void)state;
	/* Every protocol but local, which has no port (test_local_listener). */
	assert_int_equal(ARRAY_SIZE(cases), CONFIG_PROTOCOL_COUNT - 1);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *text = xasprintf(TLS_OK "[listener x]\nprotocol = %s\n",
				       cases[i].name);
		struct config *cfg = parse_ok(text, NULL);

		assert_string_equal(config_protocol_name(cases[i].p),
				    cases[i].name);
		assert_int_equal(cfg->listener_count, 1);
		assert_int_equal(cfg->listeners[0].protocol, cases[i].p);
		assert_int_equal(cfg->listeners[0].port, cases[i].port);
		assert_int_equal(cfg->listeners[0].tls, cases[i].tls);
		assert_int_equal(cfg->listeners[0].address_count, 1);
		assert_string_equal(cfg->listeners[0].addresses[0], "0.0.0.0");
		assert_null(cfg->listeners[0].path);
		config_free(&cfg);
		free(text);
	}
	assert_string_equal(config_tls_mode_name(CONFIG_TLS_IMPLICIT),
			    "implicit");
}

static void test_value_forms(void **state)
{
	static const struct { const char *text; bool value; } bools[] = {
		{ "yes", true }, { "true", true }, { "on", true }, { "1", true },
		{ "YES", true }, { "no", false }, { "false", false },
		{ "off", false }, { "0", false }, { "Off", false },
	};
	static const struct { const char *text; uint64_t ms; } durations[] = {
		{ "0", 0 }, { "45", 45000 }, { "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "1d", 86400000 }, { "1500ms", 1500 },
		{ "2 m", 120000 },
	};
	static const struct { const char *text; uint64_t bytes; } sizes[] = {
		{ "1024", 1024 }, { "64K", 65536 }, { "64k", 65536 },
		{ "25M", 25 << 20 }, { "25MB", 25 << 20 }, { "2048B", 2048 },
		{ "512M", 512ULL << 20 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
		char *text = xasprintf("[store]\nfsync = %s\n", bools[i].text);
		struct config *cfg = parse_ok(text, NULL);

		assert_int_equal(cfg->store.fsync, bools[i].value);
		config_free(&cfg);
		free(text);
	}
	for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
		char *text = xasprintf("[server]\nshutdown_timeout = %s\n",
				       durations[i].text);
		struct config *cfg = parse_ok(text, NULL);

		assert_int_equal(cfg->server.shutdown_timeout_ms,
				 durations[i].ms);
		config_free(&cfg);
		free(text);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *text = xasprintf("[smtp]\nmax_message_size = %s\n",
				       sizes[i].text);
		struct config *cfg = parse_ok(text, NULL);

		assert_int_equal(cfg->smtp.max_message_size, sizes[i].bytes);
		config_free(&cfg);
		free(text);
	}
}

/* Layout the INI reader tolerates: CRLF, a BOM, indentation, blank
 * section names around the brackets, a comment after a header. */
static void test_syntax_forms(void **state)
{
	struct config *cfg = parse_ok(
		"\xef\xbb\xbf[ server ] ; main\r\n"
		"   io_threads   =   3   \r\n"
		"\tuser: mail\r\n"
		"\n"
		"  [log]\n"
		"  level = warn\n", NULL);

	(void)state;
	assert_int_equal(cfg->server.io_threads, 3);
	assert_string_equal(cfg->server.user, "mail");
	assert_int_equal(cfg->log.level, LOG_LEVEL_WARN);
	config_free(&cfg);
}

static void test_errors(void **state)
{
	char *long_line;

	(void)state;
	assert_error("[listener imap]\nprotocol = imap\ntls = none\n"
		     "port = abc\n",
		     "t.conf:4: key 'port' in [listener imap]: expected a "
		     "number from 1 to 65535, got 'abc'");
	assert_error("[listener imap]\nprotocol = imap\ntls = none\n"
		     "port = 0\n",
		     "t.conf:4: key 'port' in [listener imap]: expected a "
		     "number from 1 to 65535, got '0'");
	assert_error("[server]\nfoo = 1\n", "t.conf:2: unknown key 'foo' in [server]");
	assert_error("[http]\nport = 1\n", "t.conf:2: unknown key 'port' in [http]");
	assert_error("\n[bogus]\n", "t.conf:2: unknown section [bogus]");
	assert_error("[listeners a]\n", "t.conf:1: unknown section [listeners a]");
	assert_error("x = 1\n", "t.conf:1: key 'x' comes before any [section]");
	assert_error("[log]\nlevel = verbose\n",
		     "t.conf:2: key 'level' in [log]: expected one of error, "
		     "warn, notice, info, debug, got 'verbose'");
	assert_error("[server]\nio_threads = 2\nio_threads = 3\n",
		     "t.conf:3: key 'io_threads' in [server] is set twice "
		     "(first on line 2)");
	assert_error("[server]\n[server]\n",
		     "t.conf:2: section [server] appears twice (first on line 1)");
	assert_error("[listener a]\nprotocol = lmtp\n[listener a]\n",
		     "t.conf:3: section [listener a] appears twice (first on "
		     "line 1)");
	assert_error("[listener]\n", "t.conf:1: section [listener] needs a "
		     "name, as in [listener imap]");
	assert_error("[listener a]\nport = 25\n",
		     "t.conf:1: section [listener a] needs key 'protocol'");
	assert_error("[server]\nshutdown_timeout = 5x\n",
		     "t.conf:2: key 'shutdown_timeout' in [server]: expected a "
		     "duration from 0s to 1d (a number and a unit: ms, s, m, h "
		     "or d), got '5x'");
	assert_error("[server]\nshutdown_timeout = 2d\n",
		     "t.conf:2: key 'shutdown_timeout' in [server]: expected a "
		     "duration from 0s to 1d (a number and a unit: ms, s, m, h "
		     "or d), got '2d'");
	assert_error("[smtp]\nmax_message_size = 1G\n",
		     "t.conf:2: key 'max_message_size' in [smtp]: expected a "
		     "size from 1K to 512M (bytes, or a number and K, M or G), "
		     "got '1G'");
	assert_error("[smtp]\nmax_line_length = 1000\n",
		     "t.conf:2: key 'max_line_length' in [smtp]: expected a "
		     "size from 64K to 64M (bytes, or a number and K, M or G), "
		     "got '1000'");
	assert_error("[smtp]\nmax_message_size = 10X\n",
		     "t.conf:2: key 'max_message_size' in [smtp]: expected a "
		     "size from 1K to 512M (bytes, or a number and K, M or G), "
		     "got '10X'");
	assert_error("[store]\nfsync = maybe\n",
		     "t.conf:2: key 'fsync' in [store]: expected yes or no, "
		     "got 'maybe'");
	assert_error("[server]\ndata_dir = var/lib\n",
		     "t.conf:2: key 'data_dir' in [server]: expected an "
		     "absolute path, got 'var/lib'");
	assert_error("[server]\nhostname = -bad.example\n",
		     "t.conf:2: key 'hostname' in [server]: expected a host "
		     "name such as mail.example.org, got '-bad.example'");
	assert_error("[server]\nhostname = a..b\n",
		     "t.conf:2: key 'hostname' in [server]: expected a host "
		     "name such as mail.example.org, got 'a..b'");
	assert_error("[server]\nuser = a\x01" "b\n",
		     "t.conf:2: key 'user' in [server]: the value contains a "
		     "control character");
	assert_error("[tls]\ncert = a.pem\n",
		     "t.conf:2: key 'cert' in [tls] needs key 'key' as well");
	assert_error("[tls]\n\nkey = a.pem\n",
		     "t.conf:3: key 'key' in [tls] needs key 'cert' as well");
	assert_error("[store]\ndriver = pgsql\n",
		     "t.conf:2: [store] driver pgsql needs key 'conninfo'");
	assert_error("[store]\nconninfo = x\n",
		     "t.conf:2: key 'conninfo' in [store] applies only to "
		     "driver pgsql");
	assert_error("[store]\ndriver = pgsql\nconninfo = x\npath = a.db\n",
		     "t.conf:4: key 'path' in [store] applies only to driver "
		     "sqlite");
	assert_error("[auth]\nfail_delay = 10s\nfail_delay_max = 5s\n",
		     "t.conf:3: key 'fail_delay' in [auth] (10s) is longer than "
		     "fail_delay_max (5s)");
	assert_error(TLS_OK "[listener a]\nprotocol = imaps\ntls = none\n",
		     "t.conf:6: key 'tls' in [listener a]: protocol imaps "
		     "cannot use tls = none");
	assert_error(TLS_OK "[listener a]\nprotocol = http\ntls = starttls\n",
		     "t.conf:6: key 'tls' in [listener a]: protocol http "
		     "cannot use tls = starttls");
	assert_error("[listener a]\nprotocol = lmtp\npath = lmtp.sock\n"
		     "port = 24\n",
		     "t.conf:3: key 'path' in [listener a] cannot be combined "
		     "with 'address' or 'port'");
	assert_error("[listener a]\nprotocol = lmtp\n"
		     "address = 127.0.0.1 localhost\n",
		     "t.conf:3: key 'address' in [listener a]: expected an "
		     "IPv4 or IPv6 address, got 'localhost'");
	assert_error("[listener a]\nprotocol = lmtp\naddress = , ,\n",
		     "t.conf:3: key 'address' in [listener a]: expected one or "
		     "more IPv4 or IPv6 addresses, got an empty value");
	assert_error("[listener a]\nprotocol = ftp\n",
		     "t.conf:2: key 'protocol' in [listener a]: expected one of "
		     "smtp, submission, submissions, lmtp, imap, imaps, pop3, "
		     "pop3s, http, local, got 'ftp'");

	/* Syntax. */
	assert_error("[server]\njunk\n",
		     "t.conf:2: expected '[section]' or 'key = value', got 'junk'");
	assert_error("[server]\njunk\nfoo = 1\n",
		     "t.conf:2: expected '[section]' or 'key = value', got 'junk'");
	assert_error("[server\n",
		     "t.conf:1: expected ']' at the end of the section header");
	assert_error("[server] x\n", "t.conf:1: unexpected text after ']'");
	long_line = xasprintf("[server]\nhostname = %0200d\n", 0);
	assert_error(long_line, "t.conf:2: the line is longer than 199 bytes");
	free(long_line);
}

static void test_tls_listener_needs_cert(void **state)
{
	struct config *cfg;

	(void)state;
	assert_error("[listener imap]\nprotocol = imap\n",
		     "t.conf:1: [listener imap] uses TLS (starttls), but [tls] "
		     "has no cert and key");
	assert_error("\n[listener s]\nprotocol = submissions\n",
		     "t.conf:2: [listener s] uses TLS (implicit), but [tls] has "
		     "no cert and key");
	/* Without TLS the same listener is fine. */
	cfg = parse_ok("[listener imap]\nprotocol = imap\ntls = none\n", NULL);
	assert_int_equal(cfg->listeners[0].tls, CONFIG_TLS_NONE);
	config_free(&cfg);
}

static void test_duplicate_listener(void **state)
{
	struct config *cfg;

	(void)state;
	assert_error("[listener a]\nprotocol = lmtp\nport = 24\n"
		     "[listener b]\nprotocol = lmtp\naddress = 0.0.0.0\n",
		     "t.conf:4: [listener b]: address 0.0.0.0 port 24 overlaps "
		     "[listener a] (address 0.0.0.0)");
	/* A wildcard covers every address of its family. */
	assert_error("[listener a]\nprotocol = lmtp\naddress = 127.0.0.1\n"
		     "[listener b]\nprotocol = http\nport = 24\n",
		     "t.conf:4: [listener b]: address 0.0.0.0 port 24 overlaps "
		     "[listener a] (address 127.0.0.1)");
	/* The same IPv6 address, written two ways. */
	assert_error("[listener a]\nprotocol = lmtp\naddress = ::1\n"
		     "[listener b]\nprotocol = lmtp\naddress = 0:0::1\n",
		     "t.conf:4: [listener b]: address 0:0::1 port 24 overlaps "
		     "[listener a] (address ::1)");
	assert_error("[listener a]\nprotocol = lmtp\n"
		     "address = 127.0.0.1, 127.0.0.1\n",
		     "t.conf:1: [listener a]: address 127.0.0.1 port 24 overlaps "
		     "[listener a] (address 127.0.0.1)");
	assert_error("[listener a]\nprotocol = lmtp\npath = /run/l.sock\n"
		     "[listener b]\nprotocol = lmtp\npath = /run/l.sock\n",
		     "t.conf:4: [listener b]: path /run/l.sock is already used "
		     "by [listener a]");

	/* Other ports, other families, other addresses: no conflict. */
	cfg = parse_ok("[listener a]\nprotocol = lmtp\naddress = 0.0.0.0\n"
		       "[listener b]\nprotocol = lmtp\naddress = ::\n"
		       "[listener c]\nprotocol = lmtp\nport = 25\n"
		       "[listener d]\nprotocol = http\naddress = 127.0.0.1\n"
		       "[listener e]\nprotocol = http\naddress = 127.0.0.2\n"
		       "[listener f]\nprotocol = lmtp\npath = a.sock\n", NULL);
	assert_int_equal(cfg->listener_count, 6);
	config_free(&cfg);
}

static void test_overrides(void **state)
{
	struct config_overrides ov = { .port_offset = 100 };
	struct config *cfg;
	char *cwd, *expected;

	(void)state;
	cfg = parse_ok("[server]\ndata_dir = /srv\n"
		       "[listener a]\nprotocol = lmtp\n"
		       "[listener b]\nprotocol = http\nport = 9000\n"
		       "[listener c]\nprotocol = lmtp\npath = l.sock\n", &ov);
	assert_int_equal(cfg->listeners[0].port, 124);
	assert_int_equal(cfg->listeners[1].port, 9100);
	assert_string_equal(cfg->listeners[2].path, "/srv/l.sock");
	config_free(&cfg);

	ov.port_offset = -20;
	cfg = parse_ok("[listener a]\nprotocol = lmtp\n", &ov);
	assert_int_equal(cfg->listeners[0].port, 4);
	config_free(&cfg);

	ov.port_offset = 100;
	assert_error_ov("[listener a]\nprotocol = lmtp\nport = 65500\n", &ov,
			"t.conf:3: [listener a]: port 65500 with the port offset "
			"100 is 65600, outside 1-65535");
	ov.port_offset = -24;
	assert_error_ov("[listener a]\nprotocol = lmtp\n", &ov,
			"t.conf:1: [listener a]: port 24 with the port offset "
			"-24 is 0, outside 1-65535");

	/* data_dir: replaces the file's, and moves the paths derived from it. */
	ov = (struct config_overrides){ .data_dir = "/tmp/ph//" };
	cfg = parse_ok("[server]\ndata_dir = /srv\n"
		       "[tls]\ncert = c.pem\nkey = k.pem\n", &ov);
	assert_string_equal(cfg->server.data_dir, "/tmp/ph");
	assert_string_equal(cfg->store.path, "/tmp/ph/posthorn.db");
	assert_string_equal(cfg->tls.cert, "/tmp/ph/c.pem");
	config_free(&cfg);

	ov.data_dir = "run";
	cfg = parse_ok("", &ov);
	cwd = getcwd(NULL, 0);
	expected = xasprintf("%s/run", cwd);
	assert_string_equal(cfg->server.data_dir, expected);
	free(expected);
	free(cwd);
	config_free(&cfg);
}

static char *make_temp_dir(void)
{
	char *dir = xstrdup("/tmp/test_config.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_tree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_dev_round_trip(void **state)
{
	static const struct {
		const char *name;
		enum config_protocol p;
		unsigned int port;
		enum config_tls_mode tls;
	} want[] = {
		{ "smtp", CONFIG_PROTOCOL_SMTP, 2625, CONFIG_TLS_STARTTLS },
		{ "submission", CONFIG_PROTOCOL_SUBMISSION, 2687, CONFIG_TLS_STARTTLS },
		{ "submissions", CONFIG_PROTOCOL_SUBMISSIONS, 2565, CONFIG_TLS_IMPLICIT },
		{ "imap", CONFIG_PROTOCOL_IMAP, 2243, CONFIG_TLS_STARTTLS },
		{ "imaps", CONFIG_PROTOCOL_IMAPS, 3093, CONFIG_TLS_IMPLICIT },
		{ "pop3", CONFIG_PROTOCOL_POP3, 2210, CONFIG_TLS_STARTTLS },
		{ "pop3s", CONFIG_PROTOCOL_POP3S, 3095, CONFIG_TLS_IMPLICIT },
		{ "lmtp", CONFIG_PROTOCOL_LMTP, 2524, CONFIG_TLS_NONE },
		{ "http", CONFIG_PROTOCOL_HTTP, 2180, CONFIG_TLS_NONE },
	};
	struct config_overrides ov = { .port_offset = 100 };
	char *tmp = make_temp_dir(), *dir, *path, *error = NULL, *s;
	struct config *cfg;
	struct stat st;

	(void)state;
	dir = xasprintf("%s/a/dev/", tmp);
	assert_int_equal(config_dev_write(dir, NULL, &error), 1);
	assert_null(error);
	dir[strlen(dir) - 1] = '\0';
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	path = config_dev_path(dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	cfg = config_load(path, &ov, &error);
	if (cfg == NULL)
		fail_msg("%s", error);
	assert_string_equal(cfg->source, path);
	assert_string_equal(cfg->server.data_dir, dir);
	assert_null(cfg->server.user);
	assert_null(cfg->server.group);
	assert_true(cfg->server.dev);
	assert_int_equal(cfg->log.target, LOG_TARGET_STDERR);
	assert_int_equal(cfg->log.level, LOG_LEVEL_INFO);
	s = xasprintf("%s/tls/cert.pem", dir);
	assert_string_equal(cfg->tls.cert, s);
	free(s);
	s = xasprintf("%s/tls/key.pem", dir);
	assert_string_equal(cfg->tls.key, s);
	free(s);
	assert_int_equal(cfg->store.driver, CONFIG_STORE_SQLITE);
	s = xasprintf("%s/posthorn.db", dir);
	assert_string_equal(cfg->store.path, s);
	free(s);
	assert_true(cfg->store.fsync);
	assert_int_equal(cfg->auth.allow_plaintext, CONFIG_PLAINTEXT_LOOPBACK);
	/* The listeners above, then the sendmail socket. */
	assert_int_equal(cfg->listener_count, ARRAY_SIZE(want) + 1);
	assert_string_equal(cfg->listeners[ARRAY_SIZE(want)].name, "local");
	assert_int_equal(cfg->listeners[ARRAY_SIZE(want)].protocol,
			 CONFIG_PROTOCOL_LOCAL);
	assert_int_equal(cfg->listeners[ARRAY_SIZE(want)].tls, CONFIG_TLS_NONE);
	assert_int_equal(cfg->listeners[ARRAY_SIZE(want)].address_count, 0);
	s = xasprintf("%s/sendmail.sock", dir);
	assert_string_equal(cfg->listeners[ARRAY_SIZE(want)].path, s);
	free(s);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct config_listener *l = &cfg->listeners[i];

		assert_string_equal(l->name, want[i].name);
		assert_int_equal(l->protocol, want[i].p);
		assert_int_equal(l->port, want[i].port);
		assert_int_equal(l->tls, want[i].tls);
		assert_int_equal(l->address_count, 1);
		assert_string_equal(l->addresses[0], "127.0.0.1");
		assert_null(l->path);
	}
	config_free(&cfg);

	/* A second run leaves the file alone, even an edited one. */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[smtp]\nmax_recipients = 5\n", 26), 26);
	close(fd);
	assert_int_equal(config_dev_write(dir, NULL, &error), 0);
	cfg = config_load(path, NULL, &error);
	if (cfg == NULL)
		fail_msg("%s", error);
	assert_int_equal(cfg->smtp.max_recipients, 5);
	assert_int_equal(cfg->listeners[0].port, 2525);
	config_free(&cfg);

	free(path);
	free(dir);
	remove_tree(tmp);
	free(tmp);
}

/* --store-conninfo: the dev config keeps the store in PostgreSQL. */
static void test_dev_write_pgsql(void **state)
{
	static const char conninfo[] = "host=/tmp/pg port=5432 dbname=t1";
	char *tmp = make_temp_dir(), *dir, *path, *error = NULL;
	struct config *cfg;

	(void)state;
	dir = xasprintf("%s/dev", tmp);
	assert_int_equal(config_dev_write(dir, conninfo, &error), 1);
	path = config_dev_path(dir);
	cfg = config_load(path, NULL, &error);
	if (cfg == NULL)
		fail_msg("%s", error);
	assert_int_equal(cfg->store.driver, CONFIG_STORE_PGSQL);
	assert_string_equal(cfg->store.conninfo, conninfo);
	assert_null(cfg->store.path);
	config_free(&cfg);
	free(path);
	free(dir);

	/* a conninfo INI would cut short is refused */
	dir = xasprintf("%s/dev2", tmp);
	assert_int_equal(config_dev_write(dir, "dbname=a ;b", &error), -1);
	assert_non_null(strstr(error, "conninfo does not survive"));
	free(error);
	free(dir);
	remove_tree(tmp);
	free(tmp);
}

static void test_dev_write_errors(void **state)
{
	char *tmp = make_temp_dir(), *dir, *error = NULL, *expected;
	int fd;

	(void)state;
	/* A file where the directory should be. */
	dir = xasprintf("%s/file", tmp);
	fd = open(dir, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(config_dev_write(dir, NULL, &error), -1);
	expected = xasprintf("%s is not a directory", dir);
	assert_string_equal(error, expected);
	free(expected);
	free(error);
	free(dir);

	/* A name that cannot survive INI: " ;" would start a comment. */
	dir = xasprintf("%s/a ;b", tmp);
	assert_int_equal(config_dev_write(dir, NULL, &error), -1);
	expected = xasprintf("cannot write a development config for %s: the "
			     "name does not survive the INI syntax", dir);
	assert_string_equal(error, expected);
	free(expected);
	free(error);
	free(dir);

	remove_tree(tmp);
	free(tmp);
}

static void test_load_errors(void **state)
{
	char *tmp = make_temp_dir(), *path, *error = NULL, *expected;
	struct config *cfg;
	int fd;

	(void)state;
	path = xasprintf("%s/missing.conf", tmp);
	assert_null(config_load(path, NULL, &error));
	expected = xasprintf("%s: cannot open: No such file or directory", path);
	assert_string_equal(error, expected);
	free(expected);
	free(error);

	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "[server]\n\0", 10), 10);
	close(fd);
	assert_null(config_load(path, NULL, &error));
	expected = xasprintf("%s: contains a NUL byte", path);
	assert_string_equal(error, expected);
	free(expected);
	free(error);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "[log]\n\nlevel = loud\n", 20), 20);
	close(fd);
	assert_null(config_load(path, NULL, &error));
	expected = xasprintf("%s:3: key 'level' in [log]: expected one of "
			     "error, warn, notice, info, debug, got 'loud'", path);
	assert_string_equal(error, expected);
	free(expected);
	free(error);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "[log]\nlevel = warn", 18), 18);
	close(fd);
	cfg = config_load(path, NULL, &error);
	assert_non_null(cfg);
	assert_int_equal(cfg->log.level, LOG_LEVEL_WARN);
	config_free(&cfg);

	assert_null(config_load(tmp, NULL, &error));
	expected = xasprintf("%s: not a regular file", tmp);
	assert_string_equal(error, expected);
	free(expected);
	free(error);

	free(path);
	remove_tree(tmp);
	free(tmp);
}

/* etc/posthorn.conf, the sample we ship, must load as it is. */
static void test_sample_file(void **state)
{
	char *error = NULL;
	struct config *cfg = config_load(CONFIG_SAMPLE, NULL, &error);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", error);
	assert_string_equal(cfg->server.hostname, "mail.example.org");
	assert_int_equal(cfg->log.target, LOG_TARGET_SYSLOG);
	assert_int_equal(cfg->listener_count, 8);
	assert_int_equal(cfg->listeners[0].protocol, CONFIG_PROTOCOL_SMTP);
	assert_int_equal(cfg->listeners[0].port, 25);
	assert_int_equal(cfg->listeners[0].address_count, 2);
	assert_string_equal(cfg->listeners[6].path,
			    "/var/lib/posthorn/lmtp.sock");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_listener_defaults),
		cmocka_unit_test(test_local_listener),
		cmocka_unit_test(test_smtp_policy),
		cmocka_unit_test(test_local_names),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_syntax_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tls_listener_needs_cert),
		cmocka_unit_test(test_duplicate_listener),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_dev_round_trip),
		cmocka_unit_test(test_dev_write_pgsql),
		cmocka_unit_test(test_dev_write_errors),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_sample_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
