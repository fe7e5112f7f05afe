/* imap_learn.c: the learn hook of a spam filter (rspamd's "rspamc
 * learn_spam" / "learn_ham", SpamAssassin's "sa-learn --spam"): a message
 * a user moves into Junk is spam they saw, one moved out of Junk (not to
 * the Trash) is ham. Each message is one job of a pool of its own: read
 * from the store on the worker, then "/bin/sh -c COMMAND" with the
 * message on stdin, POSTHORN_USER and POSTHORN_LEARN (spam/ham) in a
 * clean environment, killed after the timeout. The IMAP command never
 * waits for it and its outcome is only logged. */
#include "base/log.h"
#include "base/worker_pool.h"
#include "proto/imap/imap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEARN_DEFAULT_JOBS 2u
#define LEARN_DEFAULT_TIMEOUT_MS 30000u
/* Jobs waiting or running at most; a user moving a whole folder into
 * Junk must not grow the queue without bound. */
#define LEARN_MAX_QUEUED 1000u
#define LEARN_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

struct imap_learn {
	char *spam_command, *ham_command;	/* NULL: none */
	unsigned jobs, timeout_ms;
	struct store *const *storep;
	pthread_mutex_t lock;
	struct worker_pool *pool;		/* made at the first job */
	atomic_uint queued;
};

struct learn_job {
	struct imap_learn *learn;
	bool spam;
	int64_t blob_id;
	char user[];
};

struct imap_learn *imap_learn_new(const struct imap_settings *set,
				  struct store *const *storep)
{
	struct imap_learn *l;

	if (set->learn_spam_command == NULL && set->learn_ham_command == NULL)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	if (set->learn_spam_command != NULL)
		l->spam_command = xstrdup(set->learn_spam_command);
	if (set->learn_ham_command != NULL)
		l->ham_command = xstrdup(set->learn_ham_command);
	l->jobs = set->learn_jobs != 0 ? set->learn_jobs : LEARN_DEFAULT_JOBS;
	l->timeout_ms = set->learn_timeout_ms != 0 ? set->learn_timeout_ms :
			LEARN_DEFAULT_TIMEOUT_MS;
	l->storep = storep;
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void imap_learn_free(struct imap_learn **lp)
{
	struct imap_learn *l = *lp;

	if (l == NULL)
		return;
	worker_pool_free(&l->pool);
	pthread_mutex_destroy(&l->lock);
	free(l->spam_command);
	free(l->ham_command);
	free(l);
	*lp = NULL;
}

bool imap_learn_wanted(const struct imap_learn *l, bool spam)
{
	return l != NULL && (spam ? l->spam_command : l->ham_command) != NULL;
}

/* ---- on a worker ---- */

static void *learn_worker_init(void *ctx)
{
	struct imap_learn *l = ctx;
	char *error = NULL;
	struct store_reader *r = store_reader_new(*l->storep, &error);

	if (r == NULL) {
		log_error(NULL, "imap learn: no store reader: %s", error);
		free(error);
	}
	return r;
}

static void learn_worker_deinit(void *ctx UNUSED, void *state)
{
	struct store_reader *r = state;

	store_reader_free(&r);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The message into the child's stdin (non-blocking, until the deadline).
 * A command that does not read it all (it exited, or learns from the
 * start alone) is no error. */
static void learn_feed(int fd, const char *data, size_t size, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (size > 0) {
		ssize_t w = write(fd, data, size);
		uint64_t now;

		if (w > 0) {
			data += w;
			size -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return;		/* EPIPE: it stopped reading */
		now = now_ms();
		if (now >= deadline)
			return;
		(void)poll(&pfd, 1, (int)MIN(deadline - now, 1000u));
	}
}

/* Wait for pid until the deadline, then kill it. The exit status, or -1
 * when it was killed for its time. */
static int learn_wait(pid_t pid, uint64_t deadline)
{
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return 0;
		if (now_ms() >= deadline)
			break;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* "/bin/sh -c command" with data on stdin; the exit status, -1 when it
 * timed out, -2 (with errno) when it could not start. */
static int learn_run(const char *command, const char *user, bool spam,
		     const char *data, size_t size, unsigned timeout_ms)
{
	char *env_user = xasprintf("POSTHORN_USER=%s", user);
	char *const envp[] = {
		(char *)LEARN_PATH, env_user,
		(char *)(spam ? "POSTHORN_LEARN=spam" : "POSTHORN_LEARN=ham"),
		NULL,
	};
	char *const argv[] = {
		(char *)"/bin/sh", (char *)"-c", (char *)command, NULL
	};
	uint64_t deadline = now_ms() + timeout_ms;
	posix_spawn_file_actions_t fa;
	int fds[2], ret, err;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(env_user);
		return -2;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	err = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(env_user);
	close(fds[0]);
	if (err != 0) {
		close(fds[1]);
		errno = err;
		return -2;
	}
	(void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
	learn_feed(fds[1], data, size, deadline);
	close(fds[1]);
	ret = learn_wait(pid, deadline);
	return ret;
}

static void learn_job_run(void *state, void *arg)
{
	struct store_reader *r = state;
	struct learn_job *j = arg;
	struct imap_learn *l = j->learn;
	const char *command = j->spam ? l->spam_command : l->ham_command;
	const char *what = j->spam ? "spam" : "ham";
	const char *data, *error = "no store reader";
	struct arena a;
	uint64_t t0 = now_ms();
	size_t size;
	int ret = -1, status;

	arena_init(&a, 0);
	if (r != NULL)
		ret = store_blob_get(r, &a, j->blob_id, &data, &size, &error);
	if (ret <= 0) {
		/* Expunged from Junk before its turn came: nothing to learn. */
		log_notice(NULL, "imap learn %s user=%s blob=%lld: %s", what,
			   j->user, (long long)j->blob_id,
			   ret == 0 ? "message gone" : error);
		goto out;
	}
	status = learn_run(command, j->user, j->spam, data, size,
			   l->timeout_ms);
	if (status == -2)
		log_error(NULL, "imap learn %s user=%s: cannot run /bin/sh: %s",
			  what, j->user, strerror(errno));
	else if (status == -1)
		log_warn(NULL, "imap learn %s user=%s blob=%lld: killed after "
			 "%u ms", what, j->user, (long long)j->blob_id,
			 l->timeout_ms);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn(NULL, "imap learn %s user=%s blob=%lld: command failed "
			 "(%s %d)", what, j->user, (long long)j->blob_id,
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) :
			 WTERMSIG(status));
	else
		log_info(NULL, "imap learn %s user=%s blob=%lld: done in %llu ms",
			 what, j->user, (long long)j->blob_id,
			 (unsigned long long)(now_ms() - t0));
out:
	arena_deinit(&a);
	atomic_fetch_sub(&l->queued, 1);
	free(j);
}

/* ---- on an I/O thread ---- */

void imap_learn_submit(struct imap_learn *l, bool spam, const char *user,
		       const int64_t *blob_ids, size_t n)
{
	size_t dropped = 0, ulen = strlen(user);

	if (!imap_learn_wanted(l, spam))
		return;
	pthread_mutex_lock(&l->lock);
	if (l->pool == NULL) {
		struct worker_pool_settings set = {
			.threads = l->jobs,
			.init = learn_worker_init,
			.deinit = learn_worker_deinit,
			.ctx = l,
		};

		l->pool = worker_pool_new(&set);
	}
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; i < n; i++) {
		struct learn_job *j;

		if (atomic_fetch_add(&l->queued, 1) >= LEARN_MAX_QUEUED) {
			atomic_fetch_sub(&l->queued, 1);
			dropped = n - i;
			break;
		}
		j = xmalloc(sizeof(*j) + ulen + 1);
		j->learn = l;
		j->spam = spam;
		j->blob_id = blob_ids[i];
		memcpy(j->user, user, ulen + 1);
		worker_pool_submit(l->pool, learn_job_run, j, NULL, NULL);
	}
	if (dropped > 0)
		log_warn(NULL, "imap learn %s user=%s: %zu messages not learnt, "
			 "%u jobs queued already", spam ? "spam" : "ham", user,
			 dropped, LEARN_MAX_QUEUED);
}
