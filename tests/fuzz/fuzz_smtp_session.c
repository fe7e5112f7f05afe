/* fuzz_smtp_session.c: whole SMTP sessions against the real front-end: the
 * input is written as the client's bytes to a posthorn SMTP listener on a
 * unix socket (real net threads, a real store in a temporary directory),
 * the server's answer is read until it closes. The first input byte picks
 * the MTA, submission or LMTP listener; "\r\n.\r\nQUIT\r\n" follows the
 * input so that most sessions end by themselves (a half-closed conn with
 * input the protocol cannot use waits for the idle timeout, 1 s here).
 * Every answer must be well-formed reply lines (3 digits, ' ' or '-', at
 * most 512 octets with CRLF) and the session must end. */
#include "auth/auth_password.h"
#include "auth/auth_sasl.h"
#include "base/strbuf.h"
#include "net/net.h"
#include "proto/smtp/smtp_server.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp_dir[] = "/tmp/posthorn-fuzz-smtp-XXXXXX";
static char sock_paths[SMTP_MODE_COUNT][128];
static struct store *store;

static void setup_store(const char *dir)
{
	struct store_settings set = { .fsync = false };
	struct store_result *res = NULL;
	char path[128], *error = NULL, *hash;
	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };

	snprintf(path, sizeof(path), "%s/posthorn.db", dir);
	set.path = path;
	store = store_open(&set, &error);
	if (store == NULL)
		PANIC("store_open: %s", error);
	req.u.domain.name = "localhost";
	if (store_submit_wait(store, &req, &res) != 0)
		PANIC("domain add: %s", res->error);
	store_result_free(&res);
	auth_password_set_cost(1);
	hash = auth_password_hash("demo");
	req = (struct store_req){ .type = STORE_REQ_USER_ADD };
	req.u.user_add.address = "demo@localhost";
	req.u.user_add.password_hash = hash;
	if (store_submit_wait(store, &req, &res) != 0)
		PANIC("user add: %s", res->error);
	store_result_free(&res);
	free(hash);
}

/* At exit: remove the temporary directory (the files may still be open;
 * the threads are never stopped, as in a fuzzing process). */
static void cleanup(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;
	char path[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmp_dir);
}

static void setup(void)
{
	char *dir = tmp_dir;
	struct net_server_settings nset = { .threads = 1 };
	struct smtp_settings sset = {
		.hostname = "fuzz.test",
		.max_message_size = 4096,
		.max_recipients = 5,
		.max_bad_commands = 50,
		.plaintext = SMTP_PLAINTEXT_ALWAYS,
		.auth_fail_delay_ms = 1,
		.auth_fail_delay_max_ms = 2,
		/* A stalled session ends after 1 s, as the listener's. */
		.command_timeout_s = 1,
		.data_timeout_s = 1,
		.trusted_networks = "127.0.0.0/8",
		.vrfy_authenticated = true,
		.received_auth = true,
	};
	struct auth_sasl_ctx *sasl;
	struct smtp_server *smtp;
	struct net_server *net;
	const char *cerror;
	char *error = NULL;

	if (mkdtemp(dir) == NULL)
		PANIC("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	log_init("fuzz", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	setup_store(dir);
	sasl = auth_sasl_ctx_new(&cerror);
	if (sasl == NULL)
		PANIC("sasl: %s", cerror);
	/* Kept for the life of the process, like the daemon does. */
	smtp = smtp_server_new(&sset, &store, sasl);
	net = net_server_new(&nset, &error);
	if (net == NULL)
		PANIC("net: %s", error);
	for (unsigned m = 0; m < SMTP_MODE_COUNT; m++) {
		struct net_listen_spec spec = {
			.name = "smtp",
			.idle_timeout = 1,
			.handler = &smtp_conn_handler,
			.handler_ctx = smtp_server_listener_ctx(smtp, (enum smtp_mode)m,
								false),
		};

		snprintf(sock_paths[m], sizeof(sock_paths[m]), "%s/smtp%u.sock", dir, m);
		spec.unix_path = sock_paths[m];
		if (net_listen(net, &spec, &error) == NULL)
			PANIC("listen: %s", error);
	}
	if (net_server_start(net, &error) < 0)
		PANIC("start: %s", error);
}

/* Every reply line: "ddd" then ' ' or '-', CRLF-terminated, <= 512. */
static void check_replies(const struct strbuf *out)
{
	size_t off = 0;

	while (off < out->n) {
		const char *p = out->p + off;
		const char *lf = memchr(p, '\n', out->n - off);
		size_t len;

		ASSERT(lf != NULL);
		len = (size_t)(lf - p) + 1;
		ASSERT(len >= 6 && len <= 512);
		ASSERT(p[len - 2] == '\r');
		ASSERT(p[0] >= '2' && p[0] <= '5');
		ASSERT(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9');
		ASSERT(p[3] == ' ' || p[3] == '-');
		for (size_t i = 0; i < len - 2; i++)
			ASSERT(p[i] != '\r' && p[i] != '\n' && p[i] != '\0');
		off += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char tail[] = "\r\n.\r\nQUIT\r\n";
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	size_t sent = 0;
	bool shut = false;
	int fd;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size == 0)
		return 0;
	memcpy(sun.sun_path, sock_paths[data[0] % SMTP_MODE_COUNT],
	       strlen(sock_paths[data[0] % SMTP_MODE_COUNT]));
	strbuf_append(&in, data + 1, size - 1);
	strbuf_append(&in, tail, sizeof(tail) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		PANIC("connect: %s", strerror(errno));
	for (;;) {
		struct pollfd pfd = { fd, POLLIN | (shut ? 0 : POLLOUT), 0 };
		char buf[16384];
		ssize_t n;

		if (poll(&pfd, 1, 10000) == 0)
			PANIC("session hangs after the client shut down");
		if ((pfd.revents & POLLOUT) != 0 && !shut) {
			n = send(fd, in.p + sent, in.n - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 && errno != EAGAIN)
				shut = true;	/* the server closed first */
			if (sent == in.n) {
				shutdown(fd, SHUT_WR);
				shut = true;
			}
		}
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;
			if (n > 0)
				strbuf_append(&out, buf, (size_t)n);
		}
	}
	close(fd);
	check_replies(&out);
	strbuf_free(&in);
	strbuf_free(&out);
	return 0;
}
