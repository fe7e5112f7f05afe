/* cmd_queue.c: posthorn queue list|show|flush|retry|delete|hold|release:
 * the outbound queue seen and steered from the admin command. The daemon's
 * queue runner picks changes up on its next tick. */
#include "base/base.h"
#include "base/str.h"
#include "cli/cli.h"
#include "mail/header.h"
#include "queue/queue_store.h"

#include <time.h>

/* "2026-11-22 22:30:00Z" */
static const char *fmt_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}

static const char *entry_state(const struct queue_entry *q)
{
	if (q->held)
		return "held";
	return q->attempts > 0 ? "deferred" : q->state;
}

static void print_entry(const struct queue_entry *q, bool details)
{
	char when[32];

	printf("%lld %s attempts=%u next=%s from=<%s>\n", (long long)q->id,
	       entry_state(q), q->attempts,
	       fmt_time(when, sizeof(when), q->next_try), q->sender);
	for (size_t i = 0; i < q->n_rcpts; i++) {
		const struct queue_rcpt *r = &q->rcpts[i];

		printf("    to=<%s> %s", r->address, r->state);
		if (r->status[0] != '\0')
			printf(" %s", r->status);
		if (details && r->remote_mta[0] != '\0')
			printf(" via %s", r->remote_mta);
		if (details && r->diagnostic[0] != '\0')
			printf(": %s", r->diagnostic);
		printf("\n");
	}
	if (q->last_error[0] != '\0')
		printf("    error: %s\n", q->last_error);
}

static int queue_list(struct cli *cli)
{
	struct queue_entry *entries;
	const char *error;
	int n, ret;

	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	n = queue_store_list(cli->reader, &cli->arena, &entries, &error);
	if (n < 0)
		return cli_store_failed(error);
	for (int i = 0; i < n; i++)
		print_entry(&entries[i], false);
	printf("%d %s in the queue\n", n, n == 1 ? "message" : "messages");
	return CLI_OK;
}

static bool parse_id(const char *arg, int64_t *id_r)
{
	uint64_t v;

	if (!str_to_u64(str_make(arg, strlen(arg)), INT64_MAX, &v) || v == 0) {
		fprintf(stderr, "posthorn: '%s' is not a queue id\n", arg);
		return false;
	}
	*id_r = (int64_t)v;
	return true;
}

/* Open the store and read entry id; CLI_FAILED when it does not exist. */
static int queue_entry(struct cli *cli, const char *arg,
		       struct queue_entry *q)
{
	const char *error;
	int64_t id;
	int found, ret;

	if (!parse_id(arg, &id))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	found = queue_store_get(cli->reader, &cli->arena, id, q, &error);
	if (found < 0)
		return cli_store_failed(error);
	if (found == 0) {
		fprintf(stderr, "posthorn: no queue entry %lld\n", (long long)id);
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int queue_show(struct cli *cli, const char *arg)
{
	struct queue_entry q;
	const char *data, *error;
	char when[32];
	size_t size;
	int ret;

	if ((ret = queue_entry(cli, arg, &q)) != CLI_OK)
		return ret;
	print_entry(&q, true);
	printf("    arrived: %s\n", fmt_time(when, sizeof(when), q.created));
	if (q.envid[0] != '\0')
		printf("    envid: %s\n", q.envid);
	if (q.ret[0] != '\0')
		printf("    ret: %s\n", q.ret);
	if (q.delay_notified)
		printf("    delay notice sent\n");
	ret = store_blob_get(cli->reader, &cli->arena, q.blob_id, &data, &size,
			     &error);
	if (ret < 0)
		return cli_store_failed(error);
	if (ret == 0) {
		fprintf(stderr, "posthorn: the message of queue entry %lld is "
			"missing\n", (long long)q.id);
		return CLI_STORE;
	}
	printf("    size: %zu\n\n", size);
	fwrite(data, 1, header_section_size(str_make(data, size)), stdout);
	return CLI_OK;
}

static int queue_delete(struct cli *cli, const char *arg)
{
	struct queue_req req;
	struct queue_entry q;
	int ret;

	if ((ret = queue_entry(cli, arg, &q)) != CLI_OK)
		return ret;
	queue_req_init(&req, QUEUE_REQ_DELETE);
	req.u.del.id = q.id;
	ret = cli_write(cli, &req.req, "deleting the queue entry", NULL);
	if (ret == CLI_OK)
		printf("queue entry %lld deleted\n", (long long)q.id);
	return ret;
}

static int queue_control(struct cli *cli, const char *arg,
			 enum queue_op op)
{
	static const char *const done[] = {
		[QUEUE_OP_HOLD] = "held",
		[QUEUE_OP_RELEASE] = "released",
		[QUEUE_OP_RETRY] = "due now",
	};
	struct queue_req req;
	struct store_result *res = NULL;
	struct queue_entry q;
	int ret;

	queue_req_init(&req, QUEUE_REQ_CONTROL);
	if (arg != NULL) {
		if ((ret = queue_entry(cli, arg, &q)) != CLI_OK)
			return ret;
		req.u.control.id = q.id;
	} else if ((ret = cli_open_store(cli)) != CLI_OK) {
		return ret;
	}
	req.u.control.op = op;
	req.u.control.now = time(NULL);
	ret = cli_write(cli, &req.req, "changing the queue", &res);
	if (ret != CLI_OK)
		return ret;
	if (arg != NULL)
		printf("queue entry %lld %s\n", (long long)q.id, done[op]);
	else
		printf("%lld %s due now\n", (long long)res->id,
		       res->id == 1 ? "message" : "messages");
	store_result_free(&res);
	return CLI_OK;
}

int cmd_queue(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *verb;
		enum queue_op op;
	} controls[] = {
		{ "retry", QUEUE_OP_RETRY },
		{ "hold", QUEUE_OP_HOLD },
		{ "release", QUEUE_OP_RELEASE },
	};

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return queue_list(cli);
	if (argc == 1 && strcmp(argv[0], "flush") == 0)
		return queue_control(cli, NULL, QUEUE_OP_RETRY);
	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return queue_show(cli, argv[1]);
	if (argc == 2 && strcmp(argv[0], "delete") == 0)
		return queue_delete(cli, argv[1]);
	for (size_t i = 0; argc == 2 && i < ARRAY_SIZE(controls); i++) {
		if (strcmp(argv[0], controls[i].verb) == 0)
			return queue_control(cli, argv[1], controls[i].op);
	}
	return CLI_USAGE;
}
