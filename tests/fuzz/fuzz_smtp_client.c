/* fuzz_smtp_client.c: the outbound SMTP client state machine against a
 * server that answers with the fuzz input (all of it at once, then
 * closes), sending two messages: whatever the replies, every message gets
 * one result per recipient, closed() comes exactly once, nothing leaks. */
#include "base/strbuf.h"
#include "delivery/smtp_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct net_server *server;
static struct net_listener *listener;
static const uint8_t *input;
static size_t input_size;

static void srv_open(struct conn *conn)
{
	conn_write(conn, input, input_size);
	conn_close(conn);
}

static void srv_input(struct conn *conn)
{
	struct str d;

	while (conn_read_bytes(conn, SIZE_MAX, &d) > 0)
		;
}

static void srv_close(struct conn *conn UNUSED, const char *reason UNUSED)
{
}

static const struct conn_handler srv_handler = {
	.on_open = srv_open, .on_input = srv_input, .on_close = srv_close,
};

static const char *const rcpts[] = { "a@dest.test", "b@dest.test" };
static const char *const orcpts[] = { "rfc822;a@orig.test", "" };
static const char *const notify[] = { "SUCCESS", "" };
static const char body[] = "Subject: x\r\n\r\n.dot\r\nbody\r\n";

static const struct smtp_client_msg msgs[] = {
	{ .sender = "s@here.test", .envid = "e1", .ret = "HDRS",
	  .rcpts = rcpts, .orcpts = orcpts, .notify = notify, .n_rcpts = 2,
	  .data = body, .size = sizeof(body) - 1 },
	{ .sender = "", .rcpts = rcpts, .n_rcpts = 1,
	  .data = body, .size = sizeof(body) - 1 },
};

struct run {
	size_t next, done_msgs;
	atomic_bool closed;
};

static const struct smtp_client_msg *cl_next(void *arg,
					     struct smtp_client *c UNUSED)
{
	struct run *r = arg;

	return r->next < ARRAY_SIZE(msgs) ? &msgs[r->next++] : NULL;
}

static void cl_msg_done(void *arg, struct smtp_client *c UNUSED,
			const struct smtp_client_msg *msg,
			const struct smtp_client_rcpt_result *res)
{
	struct run *r = arg;

	for (size_t i = 0; i < msg->n_rcpts; i++) {
		ASSERT(res[i].code >= 200 && res[i].code <= 599);
		ASSERT(res[i].diagnostic != NULL);
		ASSERT(res[i].enhanced[0] == (char)('0' + res[i].code / 100));
	}
	r->done_msgs++;
}

static void cl_closed(void *arg, struct smtp_client *c UNUSED,
		      const struct smtp_client_error *error)
{
	struct run *r = arg;

	ASSERT(!atomic_load(&r->closed));
	ASSERT(error == NULL || error->diagnostic != NULL);
	/* every message handed out got its result */
	ASSERT(r->done_msgs == r->next);
	atomic_store(&r->closed, true);
}

static const struct smtp_client_callbacks cbs = {
	.next = cl_next, .msg_done = cl_msg_done, .closed = cl_closed,
};

static void start_task(void *arg)
{
	struct smtp_client_settings set = {
		.helo_name = "fuzz.test", .address = "127.0.0.1",
		.port = net_listener_port(listener), .timeout_scale = 0.01,
		.connect_timeout = 2,
	};

	smtp_client_new(net_server_thread(server, 0), &set, &cbs, arg);
}

static void setup(void)
{
	struct net_server_settings ns = { .threads = 1 };
	struct net_listen_spec spec = {
		.name = "fuzz", .address = "127.0.0.1", .handler = &srv_handler,
	};
	char *error = NULL;

	log_init("fuzz", LOG_TARGET_STDERR, LOG_LEVEL_ERROR);
	server = net_server_new(&ns, &error);
	listener = net_listen(server, &spec, &error);
	if (server == NULL || listener == NULL ||
	    net_server_start(server, &error) < 0)
		PANIC("fuzz setup: %s", error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	struct timespec ts = { 0, 100000 };

	if (server == NULL)
		setup();
	if (size > 8192)
		return 0;
	input = data;
	input_size = size;
	task_queue_post(net_thread_task_queue(net_server_thread(server, 0)),
			start_task, &r);
	while (!atomic_load(&r.closed))
		nanosleep(&ts, NULL);
	return 0;
}
