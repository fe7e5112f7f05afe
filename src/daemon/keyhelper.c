/* keyhelper.c: the privileged key reader: fork, a socket pair, a one-byte
 * request and a length-prefixed answer (status, the two lengths, the
 * bytes). The child never takes a path from the unprivileged side. */
#include "base/log.h"
#include "daemon/keyhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYHELPER_REQUEST 'R'
#define KEYHELPER_TIMEOUT_MS 10000

struct keyhelper {
	pid_t pid;
	int fd;
};

/* The answer's header: status 0 with the two files' lengths, or 1 with
 * the length of an error text in len[0]. */
struct keyhelper_head {
	uint32_t status;
	uint32_t len[2];
};

static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- the child (root) ---- */

/* The file into a malloc'd buffer; NULL with a malloc'd *error_r. */
static char *helper_read(const char *path, size_t *len_r, char **error_r)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*error_r = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > KEYHELPER_MAX_FILE) {
		*error_r = xasprintf("%s: not a regular file of at most %d "
				     "bytes", path, KEYHELPER_MAX_FILE);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len_r = got;
	return buf;
}

static int helper_answer(int fd, const char *cert_path, const char *key_path)
{
	struct keyhelper_head head = { 0, { 0, 0 } };
	size_t cert_len = 0, key_len = 0;
	char *error = NULL, *cert, *key = NULL;
	int ret;

	cert = helper_read(cert_path, &cert_len, &error);
	if (cert != NULL)
		key = helper_read(key_path, &key_len, &error);
	if (key == NULL) {
		head.status = 1;
		head.len[0] = (uint32_t)strlen(error);
		ret = write_full(fd, &head, sizeof(head)) < 0 ||
		      write_full(fd, error, head.len[0]) < 0 ? -1 : 0;
	} else {
		head.len[0] = (uint32_t)cert_len;
		head.len[1] = (uint32_t)key_len;
		ret = write_full(fd, &head, sizeof(head)) < 0 ||
		      write_full(fd, cert, cert_len) < 0 ||
		      write_full(fd, key, key_len) < 0 ? -1 : 0;
	}
	free(error);
	free(cert);
	if (key != NULL)
		secure_zero(key, key_len);
	free(key);
	return ret;
}

NORETURN static void helper_main(int fd, const char *cert_path,
				 const char *key_path, pid_t parent)
{
	char req;

	/* with the daemon: SIGTERM when it dies, not on a terminal's ^C
	 * or the reload signal meant for it */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "posthornd-keys");
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	/* nothing of the daemon's: its sockets, store files, the lock */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	for (;;) {
		ssize_t n = read(fd, &req, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || req != KEYHELPER_REQUEST)
			break;
		if (helper_answer(fd, cert_path, key_path) < 0)
			break;
	}
	/* _exit: no atexit handlers (nor LeakSanitizer) of the daemon's */
	_exit(0);
}

struct keyhelper *keyhelper_start(const char *cert_path, const char *key_path,
				  char **error_r)
{
	struct keyhelper *h;
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*error_r = xasprintf("key helper: socketpair: %s",
				     strerror(errno));
		return NULL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		*error_r = xasprintf("key helper: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], cert_path, key_path, parent);
	}
	close(sv[1]);
	h = xcalloc(1, sizeof(*h));
	h->pid = pid;
	h->fd = sv[0];
	return h;
}

/* Read exactly n bytes within the deadline (CLOCK_MONOTONIC ms). */
static int read_full(int fd, void *p, size_t n, uint64_t deadline)
{
	char *c = p;

	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts;
		uint64_t now;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t got = read(fd, c, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = ECONNRESET;
			return -1;
		}
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

int keyhelper_fetch(struct keyhelper *h, char **cert_r, size_t *cert_len_r,
		    char **key_r, size_t *key_len_r, char **error_r)
{
	const char req = KEYHELPER_REQUEST;
	struct keyhelper_head head;
	struct timespec ts;
	uint64_t deadline;
	char *cert = NULL, *key = NULL;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
		   KEYHELPER_TIMEOUT_MS;
	if (h->fd < 0 || write_full(h->fd, &req, 1) < 0 ||
	    read_full(h->fd, &head, sizeof(head), deadline) < 0)
		goto gone;
	if (head.len[0] > KEYHELPER_MAX_FILE || head.len[1] > KEYHELPER_MAX_FILE) {
		errno = EPROTO;
		goto gone;
	}
	cert = xmalloc((size_t)head.len[0] + 1);
	if (read_full(h->fd, cert, head.len[0], deadline) < 0)
		goto gone;
	if (head.status != 0) {
		*error_r = xasprintf("key helper: %.*s", (int)head.len[0], cert);
		free(cert);
		return -1;
	}
	key = xmalloc((size_t)head.len[1] + 1);
	if (read_full(h->fd, key, head.len[1], deadline) < 0)
		goto gone;
	*cert_r = cert;
	*cert_len_r = head.len[0];
	*key_r = key;
	*key_len_r = head.len[1];
	return 0;
gone:
	*error_r = xasprintf("the key helper (pid %ld) does not answer: %s",
			     (long)h->pid, strerror(errno));
	free(cert);
	free(key);
	/* a half-read answer would desynchronise the next one */
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	return -1;
}

long keyhelper_pid(const struct keyhelper *h)
{
	return (long)h->pid;
}

void keyhelper_stop(struct keyhelper **hp)
{
	struct keyhelper *h = *hp;
	int status;

	if (h == NULL)
		return;
	*hp = NULL;
	if (h->fd >= 0)
		close(h->fd);
	/* it exits on the end of its input; give it two seconds */
	for (int i = 0; i < 200; i++) {
		pid_t r = waitpid(h->pid, &status, WNOHANG);

		if (r == h->pid || (r < 0 && errno != EINTR))
			goto out;
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
out:
	free(h);
}
