/* store_load.c: durable deliveries per second through the store API:
 * 50 requesters with one delivery in flight each, driven from 2 threads with
 * task queues like I/O threads, to 100 users, fsync on: SQLite in a temp
 * dir, or (--pgsql CONNINFO) an empty PostgreSQL database. Driven by
 * bench/store/bench_store, which starts the PostgreSQL cluster. */
#include "base/base.h"
#include "base/strbuf.h"
#include "store/store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

enum {
	USERS = 100,
	THREADS = 2,
	REQUESTERS = 50,
	POOL = 256,
};

struct bench;

struct requester {
	struct bench *b;
	struct task_queue *q;
	struct store_target target;
	struct store_req req;
	bool busy;
};

struct io_thread {
	struct bench *b;
	pthread_t thread;
	struct task_queue *q;
	struct requester *reqs;
	size_t n_reqs;
	size_t in_flight;
};

struct bench {
	struct store *store;
	int64_t user_ids[USERS];
	struct strbuf msgs[POOL];
	long count;
	double max_seconds;
	double start;
	atomic_long next;	/* messages handed out */
	atomic_long delivered;
	atomic_long failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A ~4 KB message with realistic headers and a two-part MIME body. */
static void make_message(struct strbuf *b, unsigned i)
{
	static const char words[][10] = {
		"meeting", "report", "invoice", "budget", "project", "team",
		"schedule", "review", "update", "release", "customer", "deploy",
	};
	unsigned seed = i * 2654435761u;

	strbuf_printf(b,
		"Return-Path: <sender%u@example.org>\r\n"
		"Received: from mx.example.org (mx.example.org [192.0.2.%u])\r\n"
		"\tby mail.example.com with ESMTPS id %08x\r\n"
		"\tfor <user%u@example.com>; Sun, 22 Nov 2026 12:%02u:%02u +0000\r\n"
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
		"\ts=sel1; h=from:to:subject:date:message-id;\r\n"
		"\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
		"\tb=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR\r\n"
		"From: \"Sender %u\" <sender%u@example.org>\r\n"
		"To: \"User %u\" <user%u@example.com>\r\n"
		"Subject: %s %s #%u\r\n"
		"Date: Sun, 22 Nov 2026 12:%02u:%02u +0000\r\n"
		"Message-ID: <%08x.%u@example.org>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"b-%08x\"\r\n"
		"\r\n"
		"--b-%08x\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n",
		i % 97, i % 250 + 1, seed, i % USERS, i % 60, i % 59,
		i % 97, i % 97, i % USERS, i % USERS,
		words[i % 12], words[(i / 12) % 12], i, i % 60, i % 59,
		seed, i, seed, seed);
	for (unsigned line = 0; b->n < 2300; line++)
		strbuf_printf(b, "The %s for the %s is ready; please %s it by "
			      "Friday (line %u).\r\n", words[(i + line) % 12],
			      words[(i + 3 * line) % 12],
			      words[(i + 7 * line) % 12], line);
	strbuf_printf(b, "\r\n--b-%08x\r\nContent-Type: text/html; "
		      "charset=utf-8\r\n\r\n<html><body>\r\n", seed);
	for (unsigned line = 0; b->n < 4000; line++)
		strbuf_printf(b, "<p>The <b>%s</b> is %s.</p>\r\n",
			      words[(i + line) % 12], words[(i + 5 * line) % 12]);
	strbuf_printf(b, "</body></html>\r\n--b-%08x--\r\n", seed);
}

static void submit_next(struct requester *r);

static void deliver_done(void *arg, struct store_result *res)
{
	struct requester *r = arg;

	if (res->status == 0)
		atomic_fetch_add(&r->b->delivered, 1);
	else
		atomic_fetch_add(&r->b->failed, 1);
	store_result_free(&res);
	r->busy = false;
	submit_next(r);
}

static void submit_next(struct requester *r)
{
	struct bench *b = r->b;
	long i;

	if (now_s() - b->start > b->max_seconds)
		return;
	i = atomic_fetch_add(&b->next, 1);
	if (i >= b->count)
		return;
	r->target.user_id = b->user_ids[i % USERS];
	r->target.mailbox_id = 0;
	r->req = (struct store_req){ .type = STORE_REQ_DELIVER };
	r->req.u.deliver.data = b->msgs[i % POOL].p;
	r->req.u.deliver.size = b->msgs[i % POOL].n;
	r->req.u.deliver.meta.envelope = "(\"Sun, 22 Nov 2026\" \"subject\" NIL)";
	r->req.u.deliver.meta.bodystructure = "((\"text\" \"plain\") (\"text\" \"html\") \"alternative\")";
	r->req.u.deliver.internal_date = (int64_t)time(NULL);
	r->req.u.deliver.targets = &r->target;
	r->req.u.deliver.n_targets = 1;
	r->busy = true;
	store_submit(b->store, &r->req, r->q, deliver_done, r);
}

static bool thread_busy(const struct io_thread *t)
{
	for (size_t i = 0; i < t->n_reqs; i++) {
		if (t->reqs[i].busy)
			return true;
	}
	return false;
}

/* Like an I/O thread: wait on the task queue's fd, run what is there. */
static void *io_main(void *arg)
{
	struct io_thread *t = arg;
	struct pollfd pfd = { .fd = task_queue_fd(t->q), .events = POLLIN };

	for (size_t i = 0; i < t->n_reqs; i++)
		submit_next(&t->reqs[i]);
	while (thread_busy(t)) {
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			PANIC("poll: %s", strerror(errno));
		task_queue_run(t->q);
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: store_load [--count N] [--seconds S] "
		"[--pgsql CONNINFO]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct io_thread threads[THREADS];
	struct store_settings set = { .fsync = true };
	char dir[] = "/tmp/posthorn-bench-store-XXXXXX";
	struct store_stats stats;
	char path[128], *error = NULL;
	double elapsed;

	b.count = 20000;
	b.max_seconds = 60;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			b.count = atol(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			b.max_seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--pgsql") == 0 && i + 1 < argc) {
			set.driver = "pgsql";
			set.conninfo = argv[++i];
		}
		else
			usage();
	}
	if (b.count <= 0 || b.max_seconds <= 0)
		usage();
	if (mkdtemp(dir) == NULL)
		PANIC("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	set.path = path;
	b.store = store_open(&set, &error);
	if (b.store == NULL) {
		fprintf(stderr, "store_load: %s\n", error);
		return 1;
	}

	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };
	struct store_result *res;

	req.u.domain.name = "example.com";
	if (store_submit_wait(b.store, &req, &res) < 0)
		PANIC("domain add: %s", res->error);
	store_result_free(&res);
	for (int u = 0; u < USERS; u++) {
		char address[64];

		snprintf(address, sizeof(address), "user%d@example.com", u);
		req = (struct store_req){ .type = STORE_REQ_USER_ADD };
		req.u.user_add.address = address;
		if (store_submit_wait(b.store, &req, &res) < 0)
			PANIC("user add: %s", res->error);
		b.user_ids[u] = res->id;
		store_result_free(&res);
	}
	for (unsigned i = 0; i < POOL; i++)
		make_message(&b.msgs[i], i);

	store_get_stats(b.store, &stats);
	uint64_t base_commits = stats.commits, base_requests = stats.requests;

	b.start = now_s();
	for (int t = 0; t < THREADS; t++) {
		threads[t].b = &b;
		threads[t].q = task_queue_new();
		threads[t].n_reqs = REQUESTERS / THREADS;
		threads[t].reqs = xcalloc(threads[t].n_reqs,
					  sizeof(*threads[t].reqs));
		for (size_t i = 0; i < threads[t].n_reqs; i++) {
			threads[t].reqs[i].b = &b;
			threads[t].reqs[i].q = threads[t].q;
		}
		if (pthread_create(&threads[t].thread, NULL, io_main,
				   &threads[t]) != 0)
			PANIC("pthread_create");
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(threads[t].thread, NULL);
		task_queue_free(&threads[t].q);
		free(threads[t].reqs);
	}
	elapsed = now_s() - b.start;
	store_get_stats(b.store, &stats);
	store_close(&b.store);

	uint64_t commits = stats.commits - base_commits;
	uint64_t requests = stats.requests - base_requests;
	long delivered = atomic_load(&b.delivered);

	printf("store %s: %ld messages (~%zu bytes) to %d users from %d "
	       "requesters on %d threads, fsync on\n",
	       set.driver != NULL ? set.driver : "sqlite", delivered,
	       b.msgs[0].n, USERS, REQUESTERS, THREADS);
	printf("store %s: %.2f s, %.0f messages/s, %.0f commits/s, "
	       "%.1f requests per commit, %ld failed\n",
	       set.driver != NULL ? set.driver : "sqlite", elapsed,
	       (double)delivered / elapsed, (double)commits / elapsed,
	       commits > 0 ? (double)requests / (double)commits : 0.0,
	       atomic_load(&b.failed));

	for (unsigned i = 0; i < POOL; i++)
		strbuf_free(&b.msgs[i]);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return atomic_load(&b.failed) == 0 ? 0 : 1;
}
