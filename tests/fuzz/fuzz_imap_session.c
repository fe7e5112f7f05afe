/* fuzz_imap_session.c: whole IMAP sessions against the real front-end: the
 * input is written as the client's bytes to a posthorn IMAP listener on a
 * unix socket (real net threads, a real store in a temporary directory with
 * the user demo@localhost / demo and a few messages), the server's answer
 * is read until it closes. "\r\nZ LOGOUT\r\n" follows the input so that
 * most sessions end by themselves. The answer must start with the greeting
 * and end with a CRLF, and the session must end. */
#include "auth/auth_password.h"
#include "auth/auth_sasl.h"
#include "base/strbuf.h"
#include "net/net.h"
#include "proto/imap/imap_server.h"
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

static char tmp_dir[] = "/tmp/posthorn-fuzz-imap-XXXXXX";
static char sock_path[128];
static struct store *store;
static struct store_reader *reader;
static int64_t user_id;

static const char *const messages[] = {
	"From: a@example.org\r\nSubject: one\r\n\r\nbody\r\n.dot\r\n",
	"Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
	"no header at all",
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	"Content-Type: text/plain\r\n\r\npart one\r\n--b\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n",
};

static void submit(struct store_req *req, const char *what)
{
	struct store_result *res = NULL;

	if (store_submit_wait(store, req, &res) != 0)
		PANIC("%s: %s", what, res->error);
	if (req->type == STORE_REQ_USER_ADD)
		user_id = res->id;
	store_result_free(&res);
}

/* Put the messages back when earlier sessions deleted some. */
static void refill(void)
{
	struct store_target target = { .user_id = user_id };
	struct store_mailbox box;
	struct arena a;
	const char *error;

	arena_init(&a, 0);
	if (store_mailbox_by_name(reader, &a, user_id, "INBOX", &box, &error) <= 0)
		PANIC("INBOX: %s", error);
	arena_deinit(&a);
	if (box.messages >= ARRAY_SIZE(messages))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(messages); i++) {
		struct store_req req = { .type = STORE_REQ_DELIVER };

		req.u.deliver.data = messages[i];
		req.u.deliver.size = strlen(messages[i]);
		req.u.deliver.targets = &target;
		req.u.deliver.n_targets = 1;
		submit(&req, "deliver");
	}
}

static void setup_store(const char *dir)
{
	struct store_settings set = { .fsync = false };
	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };
	char path[128], *error = NULL, *hash;

	snprintf(path, sizeof(path), "%s/posthorn.db", dir);
	set.path = path;
	store = store_open(&set, &error);
	if (store == NULL)
		PANIC("store_open: %s", error);
	req.u.domain.name = "localhost";
	submit(&req, "domain add");
	auth_password_set_cost(1);
	hash = auth_password_hash("demo");
	req = (struct store_req){ .type = STORE_REQ_USER_ADD };
	req.u.user_add.address = "demo@localhost";
	req.u.user_add.password_hash = hash;
	submit(&req, "user add");
	free(hash);
	reader = store_reader_new(store, &error);
	if (reader == NULL)
		PANIC("reader: %s", error);
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
	struct net_server_settings nset = { .threads = 1 };
	struct imap_settings iset = {
		.hostname = "fuzz.test",
		.plaintext = IMAP_PLAINTEXT_ALWAYS,
		.max_command_size = 16384,
		.max_append_size = 65536,
		.max_bad_commands = 50,
		.login_timeout_s = 1,
		.idle_timeout_s = 1,
		.auth_fail_delay_ms = 1,
		.auth_fail_delay_max_ms = 2,
	};
	struct net_listen_spec spec = {
		.name = "imap",
		.idle_timeout = 1,
		.handler = &imap_conn_handler,
		.max_input = 16384 + 4096,
	};
	struct auth_sasl_ctx *sasl;
	struct imap_server *imap;
	struct net_server *net;
	const char *cerror;
	char *error = NULL;

	if (mkdtemp(tmp_dir) == NULL)
		PANIC("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	log_init("fuzz", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	setup_store(tmp_dir);
	sasl = auth_sasl_ctx_new(&cerror);
	if (sasl == NULL)
		PANIC("sasl: %s", cerror);
	/* Kept for the life of the process, like the daemon does. */
	imap = imap_server_new(&iset, &store, sasl);
	net = net_server_new(&nset, &error);
	if (net == NULL)
		PANIC("net: %s", error);
	snprintf(sock_path, sizeof(sock_path), "%s/imap.sock", tmp_dir);
	spec.unix_path = sock_path;
	spec.handler_ctx = imap_server_listener_ctx(imap, false);
	if (net_listen(net, &spec, &error) == NULL)
		PANIC("listen: %s", error);
	if (net_server_start(net, &error) < 0)
		PANIC("start: %s", error);
}

/* Literals may carry any byte, so only the ends are checked. */
static void check_output(const struct strbuf *out)
{
	ASSERT(out->n >= 5 && memcmp(out->p, "* OK ", 5) == 0);
	ASSERT(out->p[out->n - 2] == '\r' && out->p[out->n - 1] == '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char tail[] = "\r\nZ LOGOUT\r\n";
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	size_t sent = 0;
	bool shut = false;
	int fd;

	if (!ready) {
		setup();
		ready = true;
	}
	refill();
	memcpy(sun.sun_path, sock_path, strlen(sock_path));
	strbuf_append(&in, data, size);
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
	check_output(&out);
	strbuf_free(&in);
	strbuf_free(&out);
	return 0;
}
