/* Unit tests for the shutdown order of a server: a session cut while its
 * store write is in flight is freed by the write's completion, on its own
 * I/O thread, when the store is drained between net_server_close_conns()
 * and net_server_shutdown(). */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/net.h"

/* ---- a writer held inside its change subscriber ---- */

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static bool hold, held;

static void hold_subscriber(void *arg UNUSED, int64_t user_id UNUSED,
			    int64_t mailbox_id UNUSED, uint64_t modseq UNUSED)
{
	pthread_mutex_lock(&hold_lock);
	held = hold;
	pthread_cond_broadcast(&hold_cond);
	while (hold)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

static void hold_wait_held(void)
{
	pthread_mutex_lock(&hold_lock);
	while (!held)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

static void hold_release(void)
{
	pthread_mutex_lock(&hold_lock);
	hold = false;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
}

/* ---- a protocol whose sessions write to the store ---- */

static struct store *test_store;
static atomic_int sessions, submitted, freed_by_completion, wrong_thread;
static atomic_int blocker_done;

struct waiter {
	struct conn *conn;
	struct net_thread *thread;
	struct store_req req;
	bool pending;
};

static void waiter_done(void *arg, struct store_result *result)
{
	struct waiter *w = arg;

	if (net_thread_current() != w->thread)
		atomic_fetch_add(&wrong_thread, 1);
	w->pending = false;
	store_result_free(&result);
	if (w->conn == NULL) {
		/* cut while the store worked */
		atomic_fetch_add(&freed_by_completion, 1);
		atomic_fetch_sub(&sessions, 1);
		free(w);
		return;
	}
	conn_write_str(w->conn, "ok\r\n");
	conn_resume_input(w->conn);
}

static void waiter_open(struct conn *conn)
{
	struct waiter *w = xcalloc(1, sizeof(*w));

	w->conn = conn;
	w->thread = conn_thread(conn);
	conn_set_data(conn, w);
	atomic_fetch_add(&sessions, 1);
}

static void waiter_input(struct conn *conn)
{
	struct waiter *w = conn_data(conn);
	struct str line;
	unsigned flags;

	if (w->pending || conn_read_line(conn, 100, &line, &flags) != 1)
		return;
	w->req = (struct store_req){ .type = STORE_REQ_DOMAIN_ADD };
	w->req.u.domain.name = "cut.test";
	w->pending = true;
	conn_pause_input(conn);
	store_submit(test_store, &w->req, net_thread_task_queue(w->thread),
		     waiter_done, w);
	atomic_fetch_add(&submitted, 1);
}

static void waiter_shutdown(struct conn *conn)
{
	struct waiter *w = conn_data(conn);

	if (!w->pending)	/* else: answer first, like SMTP after DATA */
		conn_close(conn);
}

static void waiter_close(struct conn *conn, const char *reason UNUSED)
{
	struct waiter *w = conn_data(conn);

	conn_set_data(conn, NULL);
	if (w->pending) {
		w->conn = NULL;	/* waiter_done() frees it */
		return;
	}
	atomic_fetch_sub(&sessions, 1);
	free(w);
}

static const struct conn_handler waiter_handler = {
	.on_open = waiter_open,
	.on_input = waiter_input,
	.on_shutdown = waiter_shutdown,
	.on_close = waiter_close,
};

static void blocker_completed(void *arg, struct store_result *result)
{
	(void)arg;
	store_result_free(&result);
	atomic_fetch_add(&blocker_done, 1);
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) != want; i++)
		usleep(1000);
	assert_int_equal(atomic_load(v), want);
}

static int connect_to(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void test_cut_session_freed_by_its_completion(void **state UNUSED)
{
	struct net_server_settings set = { .threads = 2 };
	struct net_listen_spec spec = {
		.name = "waiter", .address = "127.0.0.1",
		.handler = &waiter_handler,
	};
	struct store_req blocker = { .type = STORE_REQ_MAILBOX_DELETE };
	struct store_req create = { .type = STORE_REQ_MAILBOX_CREATE };
	struct net_server *server;
	struct net_listener *l;
	struct tstore t;
	char *error = NULL, buf[16];
	const char *err;
	int fd;

	tstore_init(&t, 0);
	test_store = t.store;
	tstore_domain(&t, "example.com");
	create.u.mailbox_create.user_id = tstore_user(&t, "u@example.com");
	create.u.mailbox_create.name = "Hold";
	blocker.u.mailbox_delete.mailbox_id = tstore_ok(&t, &create);
	store_subscribe(t.store, hold_subscriber, NULL);

	server = net_server_new(&set, &error);
	assert_non_null(server);
	l = net_listen(server, &spec, &error);
	assert_non_null(l);
	assert_int_equal(net_server_start(server, &error), 0);

	/* the writer commits the blocker, then waits in the subscriber:
	 * the session's write queues behind it */
	hold = true;
	store_submit(t.store, &blocker,
		     net_thread_task_queue(net_server_thread(server, 0)),
		     blocker_completed, NULL);
	hold_wait_held();
	fd = connect_to(net_listener_port(l));
	assert_int_equal(write(fd, "w\r\n", 3), 3);
	wait_for(&submitted, 1);

	/* the session is cut with its write in flight, and lives on */
	net_server_close_conns(server, 100);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(atomic_load(&sessions), 1);
	assert_int_equal(atomic_load(&freed_by_completion), 0);

	/* the drain completes every write; the completions run on their
	 * threads before those stop */
	hold_release();
	store_drain(t.store);
	store_drain(t.store);	/* idempotent */
	net_server_shutdown(server, 0);
	assert_int_equal(atomic_load(&blocker_done), 1);
	assert_int_equal(atomic_load(&freed_by_completion), 1);
	assert_int_equal(atomic_load(&sessions), 0);
	assert_int_equal(atomic_load(&wrong_thread), 0);

	/* the write was committed; readers still work after the drain */
	assert_int_equal(store_domain_exists(t.reader, "cut.test", &err), 1);
	close(fd);
	net_server_free(&server);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_session_freed_by_its_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
