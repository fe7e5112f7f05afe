/* Unit tests for net/conn_connect: outbound conns to a listener of the
 * same server (echo), refused connects, and client STARTTLS with SNI and
 * certificate verification results. */
#include "unit.h"

#include "net/net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* ---- the server side: greets, echoes lines, STARTTLS on request ---- */

static void srv_open(struct conn *conn)
{
	conn_write_str(conn, "hello\r\n");
}

static void srv_input(struct conn *conn)
{
	struct str line;
	unsigned flags;

	while (conn_read_line(conn, 1000, &line, &flags) == 1) {
		if (str_eq(line, STR_LIT("STARTTLS"))) {
			conn_write_str(conn, "GO\r\n");
			if (conn_starttls(conn) < 0)
				conn_close(conn);
			return;
		}
		conn_printf(conn, "echo %.*s%s\r\n", (int)line.n, line.p,
			    conn_is_tls(conn) ? " (tls)" : "");
	}
}

static void srv_close(struct conn *conn UNUSED, const char *reason UNUSED)
{
}

static const struct conn_handler srv_handler = {
	.on_open = srv_open, .on_input = srv_input, .on_close = srv_close,
};

/* ---- the client side, driven on an I/O thread ---- */

struct client {
	struct net_thread *thread;
	unsigned port;
	const char *address;
	bool starttls;
	struct net_tls *tls;
	const char *server_name;
	/* results, read by the test thread after done */
	atomic_bool done;
	bool opened;
	bool verified;
	char verify_error[128];
	char peer_cn[64];
	char lines[512];
	char reason[256];
};

static void cli_open(struct conn *conn)
{
	struct client *c = conn_handler_ctx(conn);

	c->opened = true;
	conn_write_str(conn, "one\r\n");
}

static void cli_input(struct conn *conn)
{
	struct client *c = conn_handler_ctx(conn);
	struct str line;
	unsigned flags;

	while (conn_read_line(conn, 1000, &line, &flags) == 1) {
		size_t used = strlen(c->lines);

		snprintf(c->lines + used, sizeof(c->lines) - used, "%.*s|",
			 (int)line.n, line.p);
		if (str_eq(line, STR_LIT("echo one")) && c->starttls) {
			conn_write_str(conn, "STARTTLS\r\n");
		} else if (str_eq(line, STR_LIT("GO"))) {
			if (conn_starttls_client(conn, c->tls,
						 c->server_name) < 0) {
				conn_close(conn);
				return;
			}
			/* sent once the handshake is done */
			conn_write_str(conn, "two\r\n");
			return;
		} else if (str_starts_with(line, STR_LIT("echo two"))) {
			const char *error = "";

			c->verified = conn_tls_peer_verified(conn, &error);
			snprintf(c->verify_error, sizeof(c->verify_error),
				 "%s", c->verified ? "" : error);
			X509 *x = conn_tls_peer_cert(conn);

			if (x != NULL)
				X509_NAME_get_text_by_NID(
					X509_get_subject_name(x),
					NID_commonName, c->peer_cn,
					sizeof(c->peer_cn));
			conn_close(conn);
			return;
		} else if (str_eq(line, STR_LIT("echo one"))) {
			conn_close(conn);
			return;
		}
	}
}

static void cli_close(struct conn *conn, const char *reason)
{
	struct client *c = conn_handler_ctx(conn);

	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	atomic_store(&c->done, true);
}

static const struct conn_handler cli_handler = {
	.on_open = cli_open, .on_input = cli_input, .on_close = cli_close,
};

static void start_client_task(void *arg)
{
	struct client *c = arg;
	struct conn_connect_spec spec = {
		.address = c->address, .port = c->port, .connect_timeout = 5,
		.idle_timeout = 5, .name = "test-out",
		.handler = &cli_handler, .handler_ctx = c,
	};
	const char *error;

	if (conn_connect(c->thread, &spec, &error) == NULL) {
		snprintf(c->reason, sizeof(c->reason), "NULL: %s", error);
		atomic_store(&c->done, true);
	}
}

static void run_client(struct net_server *server, struct client *c)
{
	struct timespec ts = { 0, 2000000 };

	c->thread = net_server_thread(server, 0);
	if (c->address == NULL)
		c->address = "127.0.0.1";
	task_queue_post(net_thread_task_queue(c->thread), start_client_task,
			c);
	for (int i = 0; i < 5000 && !atomic_load(&c->done); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&c->done));
}

/* ---- fixtures ---- */

static char cert_path[64], key_path[64];

static void write_cert(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	snprintf(cert_path, sizeof(cert_path), "/tmp/ph-conn-%d.crt",
		 (int)getpid());
	snprintf(key_path, sizeof(key_path), "/tmp/ph-conn-%d.key",
		 (int)getpid());
	f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static struct net_server *server;
static struct net_listener *listener;
static struct net_tls *server_tls;

static int setup(void **state UNUSED)
{
	struct net_server_settings set = { .threads = 1 };
	char *error = NULL;

	write_cert("mx.test");
	server_tls = net_tls_new(cert_path, key_path, "1.2", NULL, &error);
	assert_non_null(server_tls);
	server = net_server_new(&set, &error);
	assert_non_null(server);
	struct net_listen_spec spec = {
		.name = "echo", .address = "127.0.0.1", .tls = server_tls,
		.handler = &srv_handler,
	};

	listener = net_listen(server, &spec, &error);
	assert_non_null(listener);
	assert_int_equal(net_server_start(server, &error), 0);
	return 0;
}

static int teardown(void **state UNUSED)
{
	net_server_shutdown(server, 1000);
	net_server_free(&server);
	net_tls_unref(&server_tls);
	unlink(cert_path);
	unlink(key_path);
	return 0;
}

/* ---- tests ---- */

static void test_connect_echo(void **state UNUSED)
{
	struct client c = { .port = net_listener_port(listener) };

	run_client(server, &c);
	assert_true(c.opened);
	assert_string_equal(c.lines, "hello|echo one|");
	assert_string_equal(c.reason, "closed");
	/* the accepted conn goes once it sees our close, and the outbound
	 * one left no count behind */
	struct timespec ts = { 0, 2000000 };

	for (int i = 0; i < 1000 && net_server_conn_count(server) != 0; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(net_server_conn_count(server), 0);
}

static void test_connect_refused(void **state UNUSED)
{
	/* a port that was just free */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);

	struct client c = { .port = ntohs(sin.sin_port) };

	run_client(server, &c);
	assert_false(c.opened);
	assert_non_null(strstr(c.reason, "Connection refused"));
	assert_non_null(strstr(c.reason, "127.0.0.1 port"));
}

static void test_connect_bad_address(void **state UNUSED)
{
	struct client c = { .port = 25, .address = "mx.example.org" };

	run_client(server, &c);
	assert_false(c.opened);
	assert_string_equal(c.reason, "NULL: not a numeric address and port");

	struct client c6 = { .port = net_listener_port(listener),
			     .address = "[::1]" };

	/* IPv6 literal in brackets parses; the listener is IPv4 only */
	run_client(server, &c6);
	assert_false(c6.opened);
	assert_non_null(strstr(c6.reason, "::1"));
}

static void test_starttls_unverified(void **state UNUSED)
{
	char *error = NULL;
	struct net_tls *tls = net_tls_client_new(NULL, &error);
	struct client c = { .port = net_listener_port(listener),
			    .starttls = true, .tls = tls,
			    .server_name = "mx.test" };

	assert_non_null(tls);
	run_client(server, &c);
	assert_string_equal(c.lines, "hello|echo one|GO|echo two (tls)|");
	assert_false(c.verified);
	assert_non_null(strstr(c.verify_error, "self-signed"));
	assert_string_equal(c.peer_cn, "mx.test");
	net_tls_unref(&tls);
}

static void test_starttls_verified(void **state UNUSED)
{
	char *error = NULL;
	/* the self-signed certificate is its own trust anchor */
	struct net_tls *tls = net_tls_client_new(cert_path, &error);
	struct client c = { .port = net_listener_port(listener),
			    .starttls = true, .tls = tls,
			    .server_name = "mx.test" };

	assert_non_null(tls);
	run_client(server, &c);
	assert_string_equal(c.lines, "hello|echo one|GO|echo two (tls)|");
	assert_true(c.verified);

	/* the wrong name does not verify */
	struct client w = { .port = net_listener_port(listener),
			    .starttls = true, .tls = tls,
			    .server_name = "other.test" };

	run_client(server, &w);
	assert_string_equal(w.lines, "hello|echo one|GO|echo two (tls)|");
	assert_false(w.verified);
	assert_non_null(strstr(w.verify_error, "hostname"));
	net_tls_unref(&tls);

	assert_null(net_tls_client_new("/nonexistent/ca.pem", &error));
	assert_non_null(error);
	free(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_echo),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_bad_address),
		cmocka_unit_test(test_starttls_unverified),
		cmocka_unit_test(test_starttls_verified),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
