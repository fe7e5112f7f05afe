/* Unit tests for src/net: real sockets on 127.0.0.1 against a line-echo
 * handler: line flags, overlong lines, byte reads, threads, limits, idle
 * timeout, implicit TLS, STARTTLS (and its injection guard), TLS garbage,
 * TLS reload, shutdown with a bound. */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "base/log.h"
#include "net/net.h"

#include <event2/event.h>

#define MAX_LINE 20

/* ---- the server side: a line-echo protocol ---- */

struct session {
	size_t want_bytes;
	char got[128];
	size_t got_len;
	bool ignore_shutdown;
	bool paused;
	size_t big_left;
	size_t max_pending;
};

#define BIG_CHUNK 1024
#define BIG_THRESHOLD 4096

/* Produce output only while little is queued; on_drained resumes. */
static void big_fill(struct conn *conn, struct session *s)
{
	static const char chunk[BIG_CHUNK] = { [0 ... BIG_CHUNK - 1] = 'x' };

	while (s->big_left > 0 && conn_output_pending(conn) < BIG_THRESHOLD) {
		size_t n = MIN(s->big_left, sizeof(chunk));

		conn_write(conn, chunk, n);
		s->big_left -= n;
		s->max_pending = MAX(s->max_pending, conn_output_pending(conn));
		if (s->big_left == 0)
			conn_printf(conn, "\r\nEND %zu\r\n", s->max_pending);
	}
}

static void resume_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct conn *conn = arg;
	struct session *s = conn_data(conn);

	s->paused = false;
	conn_resume_input(conn);
}

static pthread_mutex_t reasons_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_reason[128];
static atomic_uint opened_on_thread[4];
static atomic_uint closed_count;

static void echo_open(struct conn *conn)
{
	struct session *s = xcalloc(1, sizeof(*s));

	conn_set_data(conn, s);
	atomic_fetch_add(&opened_on_thread[net_thread_index(conn_thread(conn))],
			 1);
	ASSERT(net_thread_current() == conn_thread(conn));
	conn_write_str(conn, "hello\r\n");
}

static void echo_line(struct conn *conn, struct session *s, struct str line,
		      unsigned flags)
{
	const char *version, *cipher;
	unsigned long long n;
	char cstr[32];

	snprintf(cstr, sizeof(cstr), "%.*s", (int)line.n, line.p);

	if (str_eq(line, STR_LIT("QUIT"))) {
		conn_write_str(conn, "bye\r\n");
		conn_close(conn);
	} else if (line.n < 32 && sscanf(cstr, "BYTES %llu", &n) == 1 &&
		   n < 100) {
		s->want_bytes = n;
		s->got_len = 0;
	} else if (str_eq(line, STR_LIT("STARTTLS"))) {
		conn_write_str(conn, "GO\r\n");
		if (conn_starttls(conn) < 0) {
			conn_write_str(conn, "NO\r\n");
			conn_close(conn);
		}
	} else if (str_eq(line, STR_LIT("COMPRESS"))) {
		conn_write_str(conn, "DEFLATE\r\n");
		if (conn_compress(conn) < 0)
			conn_write_str(conn, "NO\r\n");
	} else if (str_eq(line, STR_LIT("TLS?"))) {
		if (conn_tls_info(conn, &version, &cipher))
			conn_printf(conn, "TLS %s\r\n", version);
		else
			conn_write_str(conn, "PLAIN\r\n");
	} else if (str_eq(line, STR_LIT("PEER?"))) {
		conn_printf(conn, "PEER %s %d %s\r\n", conn_peer_ip(conn),
			    conn_is_loopback(conn),
			    conn_listener_name(conn));
	} else if (line.n < 32 && sscanf(cstr, "BIG %llu", &n) == 1) {
		s->big_left = n * BIG_CHUNK;
		big_fill(conn, s);
	} else if (str_eq(line, STR_LIT("PAUSE"))) {
		struct timeval tv = { 0, 50 * 1000 };

		s->paused = true;
		conn_pause_input(conn);
		conn_write_str(conn, "PAUSED\r\n");
		event_base_once(net_thread_base(conn_thread(conn)), -1,
				EV_TIMEOUT, resume_cb, conn, &tv);
	} else if (str_eq(line, STR_LIT("BUSY"))) {
		s->ignore_shutdown = true;
		conn_write_str(conn, "OK\r\n");
	} else if (str_eq(line, STR_LIT("LOGIN"))) {
		conn_set_authenticated(conn);
		conn_printf(conn, "AUTHED %d\r\n", conn_is_authenticated(conn));
	} else {
		conn_printf(conn, "%s%s%s:%.*s\r\n",
			    (flags & CONN_LINE_CRLF) ? "CRLF" : "",
			    (flags & CONN_LINE_BARE_LF) ? "LF" : "",
			    (flags & CONN_LINE_BARE_CR) ? "+CR" : "",
			    (int)line.n, line.p);
	}
}

static void echo_input(struct conn *conn)
{
	struct session *s = conn_data(conn);
	struct str line;
	unsigned flags;
	int r;

	while (!conn_is_closing(conn) && !s->paused && s->big_left == 0) {
		if (s->want_bytes > 0) {
			struct str d;
			size_t n = conn_read_bytes(conn, s->want_bytes, &d);

			if (n == 0)
				break;
			memcpy(s->got + s->got_len, d.p, n);
			s->got_len += n;
			s->want_bytes -= n;
			if (s->want_bytes == 0)
				conn_printf(conn, "GOT %.*s\r\n",
					    (int)s->got_len, s->got);
			continue;
		}
		r = conn_read_line(conn, MAX_LINE, &line, &flags);
		if (r == 0)
			break;
		if (r < 0) {
			conn_write_str(conn, "TOOLONG\r\n");
			continue;
		}
		bool was_plain = !conn_is_tls(conn);

		echo_line(conn, s, line, flags);
		if (was_plain && conn_is_tls(conn))
			break; /* STARTTLS: forget everything */
	}
}

static void echo_shutdown(struct conn *conn)
{
	struct session *s = conn_data(conn);

	if (s->ignore_shutdown)
		return;
	conn_write_str(conn, "421 shutting down\r\n");
	conn_close(conn);
}

static void echo_drained(struct conn *conn)
{
	struct session *s = conn_data(conn);

	if (s->big_left == 0)
		return;
	big_fill(conn, s);
	if (s->big_left == 0)
		echo_input(conn); /* commands waiting behind BIG */
}

static void echo_close(struct conn *conn, const char *reason)
{
	pthread_mutex_lock(&reasons_lock);
	snprintf(last_reason, sizeof(last_reason), "%s", reason);
	pthread_mutex_unlock(&reasons_lock);
	free(conn_data(conn));
	atomic_fetch_add(&closed_count, 1);
}

static void echo_limit(struct conn *conn, const char *why)
{
	conn_printf(conn, "GO AWAY %s\r\n", why);
	conn_close(conn);
}

static const struct conn_handler echo_handler = {
	.on_open = echo_open,
	.on_input = echo_input,
	.on_shutdown = echo_shutdown,
	.on_limit = echo_limit,
	.on_drained = echo_drained,
	.on_close = echo_close,
};

static bool last_reason_is(const char *want)
{
	bool eq;

	pthread_mutex_lock(&reasons_lock);
	eq = strcmp(last_reason, want) == 0;
	pthread_mutex_unlock(&reasons_lock);
	return eq;
}

/* ---- certificates ---- */

static char tmpdir[64];

static void write_cert(const char *cn, const char *cert_path,
		       const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	assert_non_null(key);
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
	f = fopen(cert_path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static char cert_path[128], key_path[128];

static struct net_tls *make_tls(const char *cn)
{
	char *error = NULL;

	write_cert(cn, cert_path, key_path);
	struct net_tls *tls = net_tls_new(cert_path, key_path, "1.2", NULL,
					  &error);
	if (tls == NULL)
		fail_msg("net_tls_new: %s", error);
	return tls;
}

/* ---- the client side: blocking sockets with a 3 s timeout ---- */

static int client_connect_from(unsigned port, const char *from)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (from != NULL) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, from, &src.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&src,
				      sizeof(src)), 0);
	}
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int client_connect(unsigned port)
{
	return client_connect_from(port, NULL);
}

static void client_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL),
			 (ssize_t)strlen(s));
}

/* One line without CRLF into buf; false on EOF/error/timeout. */
static bool client_line(int fd, SSL *ssl, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		char c;
		int r = ssl != NULL ? SSL_read(ssl, &c, 1)
				    : (int)recv(fd, &c, 1, 0);

		if (r <= 0)
			return false;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return true;
}

static void expect_line(int fd, SSL *ssl, const char *want)
{
	char buf[256];

	assert_true(client_line(fd, ssl, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

/* True when the server closed the connection (EOF or reset). */
static bool client_eof(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, 0);

	return r == 0 || (r < 0 && errno == ECONNRESET);
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

static SSL *client_tls(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	return ssl;
}

static void client_tls_send(SSL *ssl, const char *s)
{
	assert_int_equal(SSL_write(ssl, s, (int)strlen(s)), (int)strlen(s));
}

static void peer_cn(SSL *ssl, char *buf, size_t size)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
				  buf, (int)size);
	X509_free(x);
}

/* A new TLS connection to port sees a certificate for cn (and a chain of
 * chain certificates when not 0). */
static void expect_served_cn(SSL_CTX *ctx, unsigned port, const char *cn,
			     int chain)
{
	int fd = client_connect(port);
	SSL *ssl = client_tls(ctx, fd);
	char got[64];

	peer_cn(ssl, got, sizeof(got));
	assert_string_equal(got, cn);
	if (chain != 0)
		assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(ssl)),
				 chain);
	SSL_free(ssl);
	close(fd);
}

/* ---- server helpers ---- */

static struct net_server *server_new(unsigned max, unsigned max_ip)
{
	struct net_server_settings set = {
		.threads = 2, .max_conns = max, .max_conns_per_ip = max_ip,
	};
	char *error = NULL;
	struct net_server *server = net_server_new(&set, &error);

	assert_non_null(server);
	return server;
}

static struct net_listener *listen_on(struct net_server *server,
				      struct net_listen_spec *spec)
{
	char *error = NULL;
	struct net_listener *l;

	if (spec->address == NULL && spec->unix_path == NULL)
		spec->address = "127.0.0.1";
	spec->handler = &echo_handler;
	l = net_listen(server, spec, &error);
	if (l == NULL)
		fail_msg("net_listen: %s", error);
	return l;
}

static void server_start(struct net_server *server)
{
	char *error = NULL;

	if (net_server_start(server, &error) < 0)
		fail_msg("net_server_start: %s", error);
}

static void server_done(struct net_server **server)
{
	net_server_shutdown(*server, 1000);
	net_server_free(server);
	assert_null(*server);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wait_conns(struct net_server *server, unsigned n)
{
	uint64_t end = now_ms() + 2000;

	while (net_server_conn_count(server) != n && now_ms() < end)
		usleep(2000);
	assert_int_equal(net_server_conn_count(server), n);
}

/* ---- tests ---- */

static void test_lines(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);

	(void)state;
	assert_int_not_equal(net_listener_port(l), 0);
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	client_send(fd, "abc\r\nlf only\nmid\rcr\r\n\r\n");
	expect_line(fd, NULL, "CRLF:abc");
	expect_line(fd, NULL, "LF:lf only");
	expect_line(fd, NULL, "CRLF+CR:mid\rcr");
	expect_line(fd, NULL, "CRLF:");
	/* a line arriving in pieces */
	client_send(fd, "sp");
	usleep(20000);
	client_send(fd, "lit\r");
	usleep(20000);
	client_send(fd, "\n");
	expect_line(fd, NULL, "CRLF:split");
	client_send(fd, "PEER?\r\n");
	expect_line(fd, NULL, "PEER 127.0.0.1 1 echo");
	client_send(fd, "QUIT\r\n");
	expect_line(fd, NULL, "bye");
	assert_true(client_eof(fd));
	close(fd);
	wait_conns(server, 0);
	assert_true(last_reason_is("closed"));
	/* a half-close right after the last lines still gets the replies */
	fd = client_connect(net_listener_port(l));
	client_send(fd, "one\r\ntwo\r\n");
	shutdown(fd, SHUT_WR);
	expect_line(fd, NULL, "hello");
	expect_line(fd, NULL, "CRLF:one");
	expect_line(fd, NULL, "CRLF:two");
	assert_true(client_eof(fd));
	close(fd);
	wait_conns(server, 0);
	assert_true(last_reason_is("client closed"));
	/* and a QUIT followed by a half-close */
	fd = client_connect(net_listener_port(l));
	client_send(fd, "QUIT\r\n");
	shutdown(fd, SHUT_WR);
	expect_line(fd, NULL, "hello");
	expect_line(fd, NULL, "bye");
	assert_true(client_eof(fd));
	close(fd);
	wait_conns(server, 0);
	assert_int_equal(atomic_load(&net_listener_stats(l)->total), 3);
	assert_int_equal(atomic_load(&net_listener_stats(l)->current), 0);
	server_done(&server);
}

static void test_long_lines(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	/* exactly MAX_LINE is fine, one more is not */
	client_send(fd, "12345678901234567890\r\n");
	expect_line(fd, NULL, "CRLF:12345678901234567890");
	client_send(fd, "123456789012345678901\r\nnext\r\n");
	expect_line(fd, NULL, "TOOLONG");
	expect_line(fd, NULL, "CRLF:next");
	/* overlong without its end yet: refused once, the rest discarded */
	client_send(fd, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_line(fd, NULL, "TOOLONG");
	client_send(fd, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	usleep(20000);
	client_send(fd, "bbb\r\nafter\r\n");
	expect_line(fd, NULL, "CRLF:after");
	close(fd);
	server_done(&server);
}

static void test_pause_resume(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	/* the line behind PAUSE waits in the buffer; resume offers it again
	 * although no new input arrives */
	client_send(fd, "PAUSE\r\nafter\r\n");
	expect_line(fd, NULL, "PAUSED");
	expect_line(fd, NULL, "CRLF:after");
	close(fd);
	server_done(&server);
}

static void test_backpressure(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);
	size_t want = 512 * BIG_CHUNK, size = want + 256, len = 0;
	char *buf = xmalloc(size + 1);
	unsigned long max_pending;

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	/* the half-close is seen long before the output is out: the
	 * output and the command behind BIG are still served */
	client_send(fd, "BIG 512\r\nnext\r\n");
	shutdown(fd, SHUT_WR);
	/* let the kernel buffers fill up before reading */
	usleep(50000);
	for (;;) {
		ssize_t r = recv(fd, buf + len, size - len, 0);

		assert_true(r > 0);
		len += (size_t)r;
		buf[len] = '\0';
		if (len > want && strstr(buf + want, "CRLF:next\r\n") != NULL)
			break;
	}
	for (size_t i = 0; i < want; i++)
		assert_int_equal(buf[i], 'x');
	assert_int_equal(sscanf(buf + want, "\r\nEND %lu\r\n", &max_pending),
			 1);
	assert_true(max_pending < BIG_THRESHOLD + BIG_CHUNK);
	assert_true(client_eof(fd));
	free(buf);
	close(fd);
	server_done(&server);
}

/* ---- a DEFLATE client (COMPRESS) ---- */

static void z_send(int fd, z_stream *out, const char *text)
{
	unsigned char buf[4096];

	out->next_in = (unsigned char *)text;
	out->avail_in = (uInt)strlen(text);
	out->next_out = buf;
	out->avail_out = sizeof(buf);
	assert_int_equal(deflate(out, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(out->avail_in, 0);
	assert_int_equal(send(fd, buf, sizeof(buf) - out->avail_out,
			      MSG_NOSIGNAL),
			 (ssize_t)(sizeof(buf) - out->avail_out));
}

/* Inflate what arrives into plain (cap bytes) until it holds until and a
 * line end after it; the length of the text. The compressed bytes read are added to *wire. */
static size_t z_recv_until(int fd, z_stream *in, char *plain, size_t cap,
			   const char *until, size_t *wire)
{
	size_t have = 0;

	for (;;) {
		const char *hit;

		unsigned char buf[4096];
		ssize_t r;

		plain[have] = '\0';
		/* the text and a line end after it */
		hit = strstr(plain, until);
		if (hit != NULL && strstr(hit + strlen(until), "\r\n") != NULL)
			return have;
		r = recv(fd, buf, sizeof(buf), 0);
		assert_true(r > 0);
		*wire += (size_t)r;
		in->next_in = buf;
		in->avail_in = (uInt)r;
		in->next_out = (unsigned char *)plain + have;
		in->avail_out = (uInt)(cap - 1 - have);
		assert_int_equal(inflate(in, Z_SYNC_FLUSH), Z_OK);
		assert_int_equal(in->avail_in, 0);
		have = cap - 1 - in->avail_out;
	}
}

static void test_compress(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);
	size_t big = 256 * BIG_CHUNK, wire = 0;
	char *plain = xmalloc(big + 64);
	z_stream out = { 0 }, in = { 0 };
	unsigned long max_pending;

	(void)state;
	assert_int_equal(deflateInit2(&out, 6, Z_DEFLATED, -15, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	assert_int_equal(inflateInit2(&in, -15), Z_OK);
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	/* the yes goes out plain; everything after it is DEFLATE */
	client_send(fd, "COMPRESS\r\n");
	expect_line(fd, NULL, "DEFLATE");
	z_send(fd, &out, "PEER?\r\n");
	z_recv_until(fd, &in, plain, big + 64, "PEER ", &wire);
	assert_string_equal(plain, "PEER 127.0.0.1 1 echo\r\n");
	/* not twice */
	z_send(fd, &out, "COMPRESS\r\n");
	z_recv_until(fd, &in, plain, big + 64, "DEFLATE\r\nNO", &wire);
	assert_string_equal(plain, "DEFLATE\r\nNO\r\n");
	/* a large answer: flow control counts the bytes still waiting on
	 * the wire, and every byte arrives */
	wire = 0;
	z_send(fd, &out, "BIG 256\r\n");
	usleep(50000);
	z_recv_until(fd, &in, plain, big + 64, "\r\nEND ", &wire);
	for (size_t i = 0; i < big; i++)
		assert_int_equal(plain[i], 'x');
	assert_int_equal(sscanf(plain + big, "\r\nEND %lu\r\n", &max_pending),
			 1);
	assert_true(max_pending < BIG_THRESHOLD + BIG_CHUNK);
	assert_true(wire < big / 20);	/* x after x compresses well */
	/* bytes that do not inflate close the connection */
	client_send(fd, "this is not DEFLATE\r\n");
	assert_true(client_eof(fd));
	close(fd);
	inflateEnd(&in);
	deflateEnd(&out);
	free(plain);
	server_done(&server);
	assert_non_null(strstr(last_reason, "DEFLATE"));
}

static void test_bytes(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	/* the literal holds a line end, and a command follows it at once */
	client_send(fd, "BYTES 7\r\nab\r\ncdeline\r\n");
	expect_line(fd, NULL, "GOT ab");
	expect_line(fd, NULL, "cde");
	expect_line(fd, NULL, "CRLF:line");
	client_send(fd, "BYTES 4\r\nxy");
	usleep(20000);
	client_send(fd, "zw");
	expect_line(fd, NULL, "GOT xyzw");
	close(fd);
	server_done(&server);
}

#define CLIENTS 24

static void test_many_clients(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);
	int fds[CLIENTS];
	char buf[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(opened_on_thread); i++)
		atomic_store(&opened_on_thread[i], 0);
	server_start(server);
	for (int i = 0; i < CLIENTS; i++)
		fds[i] = client_connect(net_listener_port(l));
	for (int i = 0; i < CLIENTS; i++) {
		snprintf(buf, sizeof(buf), "client %d\r\n", i);
		client_send(fds[i], buf);
	}
	for (int i = 0; i < CLIENTS; i++) {
		expect_line(fds[i], NULL, "hello");
		snprintf(buf, sizeof(buf), "CRLF:client %d", i);
		expect_line(fds[i], NULL, buf);
	}
	assert_int_equal(net_server_conn_count(server), CLIENTS);
	/* SO_REUSEPORT spread them over both threads */
	assert_true(atomic_load(&opened_on_thread[0]) > 0);
	assert_true(atomic_load(&opened_on_thread[1]) > 0);
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);
	wait_conns(server, 0);
	assert_int_equal(atomic_load(&net_listener_stats(l)->total), CLIENTS);
	server_done(&server);
}

static void test_limits(void **state)
{
	struct net_server *server = server_new(3, 2);
	struct net_listen_spec spec = {
		.name = "echo",
		.busy_line = "421 4.7.0 Too many connections\r\n",
	};
	struct net_listener *l = listen_on(server, &spec);
	struct net_listen_spec spec6 = { .name = "echo6", .address = "::1" };
	struct net_listener *l6 = listen_on(server, &spec6);
	unsigned port = net_listener_port(l);

	(void)state;
	server_start(server);
	int a = client_connect(port), b = client_connect(port);

	expect_line(a, NULL, "hello");
	expect_line(b, NULL, "hello");
	/* third from the same IP */
	int c = client_connect(port);

	expect_line(c, NULL, "421 4.7.0 Too many connections");
	assert_true(client_eof(c));
	close(c);
	assert_int_equal(atomic_load(&net_listener_stats(l)->refused), 1);
	/* another IP (::1) still gets in, and fills the total of 3 */
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons((uint16_t)net_listener_port(l6)),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	struct timeval tv = { 3, 0 };
	int d = socket(AF_INET6, SOCK_STREAM, 0);

	setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(d, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	expect_line(d, NULL, "hello");
	client_send(d, "PEER?\r\n");
	expect_line(d, NULL, "PEER ::1 1 echo6");
	close(b);
	wait_conns(server, 2);
	/* per IP has room again, but the total is full: 127.0.0.2 is
	 * refused by the total limit */
	c = client_connect(port);
	expect_line(c, NULL, "hello");
	int e = client_connect_from(port, "127.0.0.2");

	expect_line(e, NULL, "421 4.7.0 Too many connections");
	assert_true(client_eof(e));
	close(e);
	assert_int_equal(atomic_load(&net_listener_stats(l)->refused), 2);
	assert_int_equal(atomic_load(&net_listener_stats(l)->current), 2);
	close(a);
	close(c);
	close(d);
	server_done(&server);
}

/* The pool of unauthenticated conns: per IP more are refused with the
 * busy line, in all the oldest is pushed out through on_limit; a login
 * takes a conn out of both counts. */
static void test_unauth_pool(void **state)
{
	struct net_server_settings set = {
		.threads = 1, .max_unauth = 2, .max_unauth_per_ip = 2,
	};
	char *error = NULL;
	struct net_server *server = net_server_new(&set, &error);
	struct net_listen_spec spec = { .name = "echo", .busy_line = "BUSY\r\n" };
	struct net_listener *l;
	unsigned port;

	(void)state;
	assert_non_null(server);
	l = listen_on(server, &spec);
	port = net_listener_port(l);
	server_start(server);
	int a = client_connect(port), b = client_connect(port);

	expect_line(a, NULL, "hello");
	expect_line(b, NULL, "hello");
	int c = client_connect(port);

	expect_line(c, NULL, "BUSY");
	assert_true(client_eof(c));
	close(c);
	client_send(a, "LOGIN\r\n");
	expect_line(a, NULL, "AUTHED 1");
	assert_int_equal(net_server_unauth_count(server), 1);
	/* a left the counts: room for one more from 127.0.0.1 */
	c = client_connect(port);
	expect_line(c, NULL, "hello");
	/* the pool (2) is full: a newcomer pushes out b, the oldest */
	int d = client_connect_from(port, "127.0.0.3");

	expect_line(d, NULL, "hello");
	expect_line(b, NULL, "GO AWAY Too many unauthenticated connections");
	assert_true(client_eof(b));
	client_send(c, "x\r\n");
	expect_line(c, NULL, "CRLF:x");
	client_send(a, "y\r\n");
	expect_line(a, NULL, "CRLF:y");
	assert_int_equal(atomic_load(&net_listener_stats(l)->evicted), 1);
	assert_int_equal(atomic_load(&net_listener_stats(l)->refused), 1);
	close(a);
	close(b);
	close(c);
	close(d);
	wait_conns(server, 0);
	assert_int_equal(net_server_unauth_count(server), 0);
	server_done(&server);
}

static void test_idle_timeout(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo", .idle_timeout = 1 };
	struct net_listener *l = listen_on(server, &spec);

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));
	uint64_t start = now_ms();

	expect_line(fd, NULL, "hello");
	client_send(fd, "x\r\n");
	expect_line(fd, NULL, "CRLF:x");
	assert_true(client_eof(fd));
	uint64_t took = now_ms() - start;

	assert_true(took >= 900 && took < 2500);
	close(fd);
	wait_conns(server, 0);
	assert_true(last_reason_is("idle timeout"));
	server_done(&server);
}

static void test_implicit_tls(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = {
		.name = "echos", .tls_mode = NET_TLS_IMPLICIT, .tls = tls,
	};
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();
	char cn[64];

	(void)state;
	net_tls_unref(&tls); /* the listener holds its own */
	server_start(server);
	int fd = client_connect(net_listener_port(l));
	SSL *ssl = client_tls(ctx, fd);

	expect_line(fd, ssl, "hello");
	client_tls_send(ssl, "TLS?\r\nsecret\r\n");
	expect_line(fd, ssl, "TLS TLSv1.3");
	expect_line(fd, ssl, "CRLF:secret");
	peer_cn(ssl, cn, sizeof(cn));
	assert_string_equal(cn, "one.test");
	client_tls_send(ssl, "QUIT\r\n");
	expect_line(fd, ssl, "bye");
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	server_done(&server);
}

static void test_tls_garbage(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = {
		.name = "echos", .tls_mode = NET_TLS_IMPLICIT, .tls = tls,
		.handshake_timeout = 1,
	};
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();
	unsigned port = net_listener_port(l);

	(void)state;
	server_start(server);
	/* garbage instead of a ClientHello */
	int fd = client_connect(port);

	client_send(fd, "EHLO not really tls\r\n\r\n");
	assert_true(client_eof(fd));
	close(fd);
	/* a client that never says anything hits the handshake timeout */
	uint64_t start = now_ms();

	fd = client_connect(port);
	assert_true(client_eof(fd));
	assert_true(now_ms() - start < 2500);
	close(fd);
	wait_conns(server, 0);
	/* neither reached the protocol, and the server goes on */
	atomic_store(&closed_count, 0);
	fd = client_connect(port);
	SSL *ssl = client_tls(ctx, fd);

	expect_line(fd, ssl, "hello");
	SSL_free(ssl);
	close(fd);
	wait_conns(server, 0);
	assert_int_equal(atomic_load(&closed_count), 1);
	SSL_CTX_free(ctx);
	net_tls_unref(&tls);
	server_done(&server);
}

static void test_starttls(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = { .name = "echo", .tls = tls };
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	client_send(fd, "TLS?\r\n");
	expect_line(fd, NULL, "PLAIN");
	client_send(fd, "STARTTLS\r\n");
	expect_line(fd, NULL, "GO");
	SSL *ssl = client_tls(ctx, fd);

	client_tls_send(ssl, "TLS?\r\n");
	expect_line(fd, ssl, "TLS TLSv1.3");
	client_tls_send(ssl, "STARTTLS\r\n"); /* not twice */
	expect_line(fd, ssl, "GO");
	expect_line(fd, ssl, "NO");
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	net_tls_unref(&tls);
	server_done(&server);
}

static void test_starttls_injection(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = { .name = "echo", .tls = tls };
	struct net_listener *l = listen_on(server, &spec);
	struct net_listen_spec nospec = { .name = "notls" };
	struct net_listener *nol = listen_on(server, &nospec);

	(void)state;
	server_start(server);
	int fd = client_connect(net_listener_port(l));

	expect_line(fd, NULL, "hello");
	client_send(fd, "STARTTLS\r\nRCPT TO:<evil>\r\n");
	expect_line(fd, NULL, "GO");
	expect_line(fd, NULL, "NO");
	assert_true(client_eof(fd));
	close(fd);
	/* a listener without a TLS context refuses STARTTLS */
	fd = client_connect(net_listener_port(nol));
	expect_line(fd, NULL, "hello");
	client_send(fd, "STARTTLS\r\n");
	expect_line(fd, NULL, "GO");
	expect_line(fd, NULL, "NO");
	close(fd);
	net_tls_unref(&tls);
	server_done(&server);
}

static void test_tls_reload(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = {
		.name = "echos", .tls_mode = NET_TLS_IMPLICIT, .tls = tls,
	};
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();
	unsigned port = net_listener_port(l);
	char cn[64], *error = NULL;

	(void)state;
	server_start(server);
	int fd = client_connect(port);
	SSL *old = client_tls(ctx, fd);

	peer_cn(old, cn, sizeof(cn));
	assert_string_equal(cn, "one.test");
	/* a new certificate: the next client sees it, the old conn lives */
	write_cert("two.test", cert_path, key_path);
	assert_int_equal(net_tls_reload(tls, &error), 0);
	expect_served_cn(ctx, port, "two.test", 0);
	client_tls_send(old, "still\r\n");
	expect_line(fd, old, "hello");
	expect_line(fd, old, "CRLF:still");
	SSL_free(old);
	close(fd);
	/* a broken file: the reload fails, the current one stays */
	FILE *f = fopen(cert_path, "w");

	fputs("-----BEGIN CERTIFICATE-----\nnonsense\n", f);
	fclose(f);
	assert_int_equal(net_tls_reload(tls, &error), -1);
	assert_non_null(error);
	assert_non_null(strstr(error, cert_path));
	free(error);
	expect_served_cn(ctx, port, "two.test", 0);
	/* bad files at creation */
	assert_null(net_tls_new(cert_path, key_path, NULL, NULL, &error));
	free(error);
	assert_null(net_tls_new(cert_path, key_path, "1.1", NULL, &error));
	free(error);
	SSL_CTX_free(ctx);
	net_tls_unref(&tls);
	server_done(&server);
}

static char *read_all(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = xmalloc(65536);

	assert_non_null(f);
	*len_r = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

/* The reload from PEM bytes (the daemon's key helper read them): a chain
 * of two, then a key that does not match and garbage, which keep the
 * current certificate. */
static void test_tls_reload_pem(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_tls *tls = make_tls("one.test");
	struct net_listen_spec spec = {
		.name = "echos", .tls_mode = NET_TLS_IMPLICIT, .tls = tls,
	};
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();
	unsigned port = net_listener_port(l);
	char c2[128], k2[128], *error = NULL;
	size_t one_len, one_key_len, cert_len, key_len;
	char *one = read_all(cert_path, &one_len);
	char *one_key = read_all(key_path, &one_key_len);

	(void)state;
	snprintf(c2, sizeof(c2), "%s/c2.pem", tmpdir);
	snprintf(k2, sizeof(k2), "%s/k2.pem", tmpdir);
	write_cert("pem.test", c2, k2);
	char *cert = read_all(c2, &cert_len), *key = read_all(k2, &key_len);

	unlink(c2);
	unlink(k2);
	/* leaf, then one.test as the next of its chain */
	cert = xrealloc(cert, cert_len + one_len);
	memcpy(cert + cert_len, one, one_len);
	server_start(server);
	assert_int_equal(net_tls_reload_pem(tls, cert, cert_len + one_len,
					    key, key_len, &error), 0);
	expect_served_cn(ctx, port, "pem.test", 2);
	assert_int_equal(net_tls_reload_pem(tls, cert, cert_len, one_key,
					    one_key_len, &error), -1);
	/* OpenSSL: "key values mismatch" */
	assert_non_null(strstr(error, "mismatch"));
	free(error);
	assert_int_equal(net_tls_reload_pem(tls, "nonsense", 8, key, key_len,
					    &error), -1);
	assert_non_null(strstr(error, "TLS certificate"));
	free(error);
	assert_int_equal(net_tls_reload_pem(tls, cert, cert_len, "x", 1,
					    &error), -1);
	assert_non_null(strstr(error, "TLS key"));
	free(error);
	expect_served_cn(ctx, port, "pem.test", 0);
	free(one);
	free(one_key);
	free(cert);
	free(key);
	SSL_CTX_free(ctx);
	net_tls_unref(&tls);
	server_done(&server);
}

static void test_tls_min_version(void **state)
{
	struct net_server *server = server_new(0, 0);
	char *error = NULL;

	(void)state;
	write_cert("three.test", cert_path, key_path);
	struct net_tls *tls = net_tls_new(cert_path, key_path, "1.3", NULL,
					  &error);

	assert_non_null(tls);
	struct net_listen_spec spec = {
		.name = "echos", .tls_mode = NET_TLS_IMPLICIT, .tls = tls,
	};
	struct net_listener *l = listen_on(server, &spec);
	SSL_CTX *ctx = client_ctx();

	server_start(server);
	/* a client that stops at TLS 1.2 is refused */
	int fd = client_connect(net_listener_port(l));
	SSL *ssl = SSL_new(ctx);

	SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
	SSL_set_fd(ssl, fd);
	assert_int_not_equal(SSL_connect(ssl), 1);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	/* a TLS 1.3 client is served */
	fd = client_connect(net_listener_port(l));
	ssl = client_tls(ctx, fd);
	expect_line(fd, ssl, "hello");
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	net_tls_unref(&tls);
	server_done(&server);
}

static void test_shutdown(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);
	unsigned port = net_listener_port(l);

	(void)state;
	server_start(server);
	int a = client_connect(port), b = client_connect(port);

	expect_line(a, NULL, "hello");
	expect_line(b, NULL, "hello");
	client_send(b, "BUSY\r\n");
	expect_line(b, NULL, "OK");
	net_server_request_shutdown(server);
	net_server_wait(server);
	uint64_t start = now_ms();

	net_server_shutdown(server, 300);
	uint64_t took = now_ms() - start;

	assert_true(took >= 250 && took < 1500);
	/* a finished between transactions, b was cut at the bound */
	expect_line(a, NULL, "421 shutting down");
	assert_true(client_eof(a));
	assert_true(client_eof(b));
	assert_true(last_reason_is("shutdown"));
	assert_int_equal(net_server_conn_count(server), 0);
	/* the listener is gone */
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	int c = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_not_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)),
			     0);
	close(a);
	close(b);
	close(c);
	net_server_free(&server);
}

static void test_stop_accepting(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = { .name = "echo" };
	struct net_listener *l = listen_on(server, &spec);
	unsigned port = net_listener_port(l);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	bool refused = false;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	server_start(server);
	int a = client_connect(port);

	expect_line(a, NULL, "hello");
	net_server_stop_accepting(server);
	/* the listeners close on their threads soon after */
	for (int i = 0; i < 200 && !refused; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		refused = connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
			  errno == ECONNREFUSED;
		close(c);
		if (!refused)
			usleep(5000);
	}
	assert_true(refused);
	/* the open conn goes on */
	client_send(a, "still\r\n");
	expect_line(a, NULL, "CRLF:still");
	close(a);
	server_done(&server);
}

static void test_unix_socket(void **state)
{
	struct net_server *server = server_new(0, 0);
	char path[128];

	snprintf(path, sizeof(path), "%s/sock", tmpdir);
	struct net_listen_spec spec = { .name = "local", .unix_path = path };

	(void)state;
	listen_on(server, &spec);
	server_start(server);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(sun.sun_path, path, strlen(path) + 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	expect_line(fd, NULL, "hello");
	client_send(fd, "PEER?\r\n");
	expect_line(fd, NULL, "PEER unix 1 local");
	close(fd);
	server_done(&server);
	struct stat st;

	assert_int_equal(stat(path, &st), -1);
}

static void test_bad_listen(void **state)
{
	struct net_server *server = server_new(0, 0);
	struct net_listen_spec spec = {
		.name = "bad", .address = "not-an-ip", .handler = &echo_handler,
	};
	char *error = NULL;

	(void)state;
	assert_null(net_listen(server, &spec, &error));
	assert_non_null(strstr(error, "not-an-ip"));
	free(error);
	spec.address = "127.0.0.1";
	spec.tls_mode = NET_TLS_IMPLICIT;
	assert_null(net_listen(server, &spec, &error));
	free(error);
	net_server_free(&server);
}

static int setup(void **state)
{
	(void)state;
	log_init("test_net", LOG_TARGET_STDERR, LOG_LEVEL_WARN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_net.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/cert.pem", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_compress),
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_unauth_pool),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_tls_garbage),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_tls_reload),
		cmocka_unit_test(test_tls_reload_pem),
		cmocka_unit_test(test_tls_min_version),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_stop_accepting),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_bad_listen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
