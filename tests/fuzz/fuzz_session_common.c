/* fuzz_session_common.c: the store, net threads and client side shared by
 * the whole-session fuzz targets (see fuzz_session_common.h). */
#include "fuzz_session_common.h"

#include "auth/auth_password.h"
#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One per process: the front-ends keep pointers into it. */
static struct fuzz_env env;

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

	if (store_submit_wait(env.store, req, &res) != 0)
		PANIC("%s: %s", what, res->error);
	if (req->type == STORE_REQ_USER_ADD)
		env.user_id = res->id;
	store_result_free(&res);
}

static void setup_store(const char *apop_secret)
{
	struct store_settings set = { .fsync = false };
	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };
	char path[128], *error = NULL, *hash;

	snprintf(path, sizeof(path), "%s/posthorn.db", env.dir);
	set.path = path;
	env.store = store_open(&set, &error);
	if (env.store == NULL)
		PANIC("store_open: %s", error);
	req.u.domain.name = "localhost";
	submit(&req, "domain add");
	auth_password_set_cost(1);
	hash = auth_password_hash("demo");
	req = (struct store_req){ .type = STORE_REQ_USER_ADD };
	req.u.user_add.address = "demo@localhost";
	req.u.user_add.password_hash = hash;
	req.u.user_add.apop_secret = apop_secret;
	submit(&req, "user add");
	free(hash);
	env.reader = store_reader_new(env.store, &error);
	if (env.reader == NULL)
		PANIC("reader: %s", error);
}

/* At exit: remove the temporary directory (the files may still be open;
 * the threads are never stopped, as in a fuzzing process). */
static void cleanup(void)
{
	DIR *d = opendir(env.dir);
	struct dirent *e;
	char path[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", env.dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(env.dir);
}

struct fuzz_env *fuzz_session_env_new(const char *name,
				      const char *apop_secret)
{
	struct net_server_settings nset = { .threads = 1 };
	const char *cerror;
	char *error = NULL;

	ASSERT(env.store == NULL);
	snprintf(env.dir, sizeof(env.dir), "/tmp/posthorn-fuzz-%s-XXXXXX",
		 name);
	if (mkdtemp(env.dir) == NULL)
		PANIC("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	log_init("fuzz", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	setup_store(apop_secret);
	env.sasl = auth_sasl_ctx_new(&cerror);
	if (env.sasl == NULL)
		PANIC("sasl: %s", cerror);
	env.guard = auth_guard_new(&(struct auth_guard_settings){
		.delay_ms = 1, .max_delay_ms = 2 });
	env.senv = (struct session_env){
		.storep = &env.store, .sasl = env.sasl, .guard = env.guard };
	env.net = net_server_new(&nset, &error);
	if (env.net == NULL)
		PANIC("net: %s", error);
	return &env;
}

void fuzz_session_listen(struct fuzz_env *e, struct net_listen_spec *spec,
			 const char *file, char path_r[FUZZ_SOCK_PATH_MAX])
{
	char *error = NULL;

	snprintf(path_r, FUZZ_SOCK_PATH_MAX, "%s/%s", e->dir, file);
	spec->unix_path = path_r;
	if (net_listen(e->net, spec, &error) == NULL)
		PANIC("listen: %s", error);
}

void fuzz_session_start(struct fuzz_env *e)
{
	char *error = NULL;

	if (net_server_start(e->net, &error) < 0)
		PANIC("start: %s", error);
}

void fuzz_session_refill(struct fuzz_env *e)
{
	struct store_target target = { .user_id = e->user_id };
	struct store_mailbox box;
	struct arena a;
	const char *error;

	arena_init(&a, 0);
	if (store_mailbox_by_name(e->reader, &a, e->user_id, "INBOX", &box,
				  &error) <= 0)
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

void fuzz_session_run(const char *sock_path, const uint8_t *data, size_t size,
		      const char *tail, void (*check)(const struct strbuf *out))
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	size_t sent = 0;
	bool shut = false;
	int fd;

	ASSERT(strlen(sock_path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock_path, strlen(sock_path));
	strbuf_append(&in, data, size);
	strbuf_append(&in, tail, strlen(tail));
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
	check(&out);
	strbuf_free(&in);
	strbuf_free(&out);
}
