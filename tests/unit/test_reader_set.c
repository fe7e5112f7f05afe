/* Unit tests for proto/common/reader_set: one store reader per I/O thread,
 * made on the thread's first use from the store pointer of that moment,
 * reused by later conns of the thread, closed by reader_set_deinit, and
 * NULL with a log line naming the conn when the store gives no reader. */
#include "test_store_util.h"

#include "net/net.h"
#include "proto/common/reader_set.h"

#include <limits.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* ---- a conn on a chosen I/O thread that asks the set for its reader ---- */

struct probe {
	struct reader_set *set;
	/* results, read by the test thread once done */
	atomic_bool done;
	bool opened;
	struct store_reader *reader;
	pthread_t tid;
	char sid[LOG_SID_SIZE];
	int lookup;	/* store_domain_exists(reader, "example.test") */
};

static void probe_open(struct conn *conn)
{
	struct probe *p = conn_handler_ctx(conn);
	const char *error;

	p->opened = true;
	p->tid = pthread_self();
	snprintf(p->sid, sizeof(p->sid), "%s", conn_sid(conn));
	p->reader = reader_set_get(p->set, conn);
	p->lookup = -2;
	if (p->reader != NULL)
		p->lookup = store_domain_exists(p->reader, "example.test",
						&error);
	conn_close(conn);
}

static void probe_input(struct conn *conn UNUSED)
{
}

static void probe_close(struct conn *conn, const char *reason UNUSED)
{
	struct probe *p = conn_handler_ctx(conn);

	atomic_store(&p->done, true);
}

static const struct conn_handler probe_handler = {
	.on_open = probe_open, .on_input = probe_input,
	.on_close = probe_close,
};

/* The accepting side only waits for the probe to close. */
static void sink_input(struct conn *conn UNUSED)
{
}

static void sink_close(struct conn *conn UNUSED, const char *reason UNUSED)
{
}

static const struct conn_handler sink_handler = {
	.on_input = sink_input, .on_close = sink_close,
};

struct fixture {
	struct tstore t;
	struct reader_set set;
	struct net_server *net;
	struct net_listener *listener;
	bool net_live, set_live;
};

struct connect_task {
	struct fixture *f;
	struct net_thread *thread;
	struct probe *probe;
};

static void connect_task(void *arg)
{
	struct connect_task *ct = arg;
	struct conn_connect_spec spec = {
		.address = "127.0.0.1",
		.port = net_listener_port(ct->f->listener),
		.connect_timeout = 5, .idle_timeout = 5, .name = "probe",
		.handler = &probe_handler, .handler_ctx = ct->probe,
	};
	const char *error;

	if (conn_connect(ct->thread, &spec, &error) == NULL)
		atomic_store(&ct->probe->done, true);
}

/* Open a conn on I/O thread `thread` and let it fetch its reader. */
static void probe_run(struct fixture *f, unsigned thread, struct probe *p)
{
	struct timespec ts = { 0, 2000000 };
	struct connect_task ct = {
		.f = f, .thread = net_server_thread(f->net, thread), .probe = p,
	};

	memset(p, 0, sizeof(*p));
	p->set = &f->set;
	task_queue_post(net_thread_task_queue(ct.thread), connect_task, &ct);
	for (int i = 0; i < 5000 && !atomic_load(&p->done); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&p->done));
	assert_true(p->opened);
}

/* Open file descriptors of this process on the database file itself. */
static unsigned db_fds(const struct tstore *t)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char target[PATH_MAX];
		ssize_t len = readlinkat(dirfd(d), e->d_name, target,
					 sizeof(target) - 1);

		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, t->path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The store is opened after reader_set_init, as the daemon binds its
 * listeners (and sets up the front-ends) before it opens the store. */
static struct fixture fixture;

static int setup(void **state)
{
	struct fixture *f = &fixture;
	struct net_server_settings nset = { .threads = 3 };
	struct net_listen_spec spec = {
		.name = "sink", .address = "127.0.0.1",
		.handler = &sink_handler,
	};
	char *error = NULL;

	memset(f, 0, sizeof(*f));
	reader_set_init(&f->set, &f->t.store);
	f->set_live = true;
	f->net = net_server_new(&nset, &error);
	assert_non_null(f->net);
	f->listener = net_listen(f->net, &spec, &error);
	assert_non_null(f->listener);
	tstore_init(&f->t, 0);
	tstore_domain(&f->t, "example.test");
	assert_int_equal(net_server_start(f->net, &error), 0);
	f->net_live = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->net_live)
		net_server_shutdown(f->net, 1000);
	net_server_free(&f->net);
	if (f->set_live)
		reader_set_deinit(&f->set);
	tstore_deinit(&f->t);
	return 0;
}

/* ---- tests ---- */

static void test_one_reader_per_thread(void **state)
{
	struct fixture *f = *state;
	struct probe a, b, c, d;

	/* thread 2 first: the slots below it stay empty until used */
	probe_run(f, 2, &a);
	assert_non_null(a.reader);
	assert_int_equal(a.lookup, 1);
	probe_run(f, 0, &b);
	assert_non_null(b.reader);
	assert_int_equal(b.lookup, 1);
	assert_ptr_not_equal(a.reader, b.reader);
	assert_false(pthread_equal(a.tid, b.tid));

	/* later conns of the same threads get the same readers back */
	probe_run(f, 2, &c);
	probe_run(f, 0, &d);
	assert_ptr_equal(c.reader, a.reader);
	assert_true(pthread_equal(c.tid, a.tid));
	assert_ptr_equal(d.reader, b.reader);
	assert_int_equal(c.lookup, 1);
	assert_int_equal(d.lookup, 1);
}

static void test_reader_sees_writes(void **state)
{
	struct fixture *f = *state;
	struct probe a, b;

	probe_run(f, 1, &a);
	assert_int_equal(a.lookup, 1);
	assert_int_equal(store_domain_exists(a.reader, "new.test",
					     &(const char *){ NULL }), 0);
	/* a reused reader is not stuck in an old snapshot */
	tstore_domain(&f->t, "new.test");
	probe_run(f, 1, &b);
	assert_ptr_equal(b.reader, a.reader);
	assert_int_equal(store_domain_exists(b.reader, "new.test",
					     &(const char *){ NULL }), 1);
}

static void test_deinit_closes_readers(void **state)
{
	struct fixture *f = *state;
	unsigned before = db_fds(&f->t);
	struct probe a, b, c;
	char wal[160];

	probe_run(f, 0, &a);
	probe_run(f, 1, &b);
	probe_run(f, 0, &c);
	/* two readers, two more connections to the database */
	assert_int_equal(db_fds(&f->t), before + 2);
	/* "after every I/O thread has stopped" */
	net_server_shutdown(f->net, 1000);
	f->net_live = false;
	reader_set_deinit(&f->set);
	f->set_live = false;
	assert_null(f->set.readers);
	assert_int_equal(f->set.n, 0);
	/* SQLite removes the WAL when the last connection to the database
	 * closes: it is gone with the store only if no reader is left. */
	snprintf(wal, sizeof(wal), "%s-wal", f->t.path);
	assert_int_equal(access(wal, F_OK), 0);
	tstore_close(&f->t);
	assert_int_equal(access(wal, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

/* Run fn with stderr (where log lines go) captured into buf. */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf,
			   size_t size)
{
	char path[] = "/tmp/posthorn-reader-set-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, size - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

struct failing_run {
	struct fixture *f;
	struct probe *p;
};

static void run_failing(void *arg)
{
	struct failing_run *r = arg;

	probe_run(r->f, 1, r->p);
}

static void test_store_without_reader(void **state)
{
	struct fixture *f = *state;
	char away[160], log[2048];
	struct probe a, b, c;
	struct failing_run r = { f, &a };

	/* thread 0 has its reader before the database goes away */
	probe_run(f, 0, &c);
	assert_non_null(c.reader);
	/* readers never create the database: with the file gone (the
	 * writer keeps its own connection) no reader can be opened */
	snprintf(away, sizeof(away), "%s.away", f->t.path);
	assert_int_equal(rename(f->t.path, away), 0);
	capture_stderr(run_failing, &r, log, sizeof(log));
	assert_null(a.reader);
	assert_non_null(strstr(log, a.sid));
	assert_non_null(strstr(log, "store reader: "));
	assert_non_null(strstr(log, f->t.path));
	/* the reader made before still works */
	probe_run(f, 0, &b);
	assert_ptr_equal(b.reader, c.reader);
	assert_int_equal(b.lookup, 1);

	/* the failure is not remembered: the next conn tries again */
	assert_int_equal(rename(away, f->t.path), 0);
	probe_run(f, 1, &b);
	assert_non_null(b.reader);
	assert_int_equal(b.lookup, 1);
	probe_run(f, 1, &c);
	assert_ptr_equal(c.reader, b.reader);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_reader_per_thread,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_sees_writes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deinit_closes_readers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_without_reader,
						setup, teardown),
	};

	log_init("test", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
