/* Unit tests for delivery/: recipient resolution (users, +tag, aliases,
 * catch-all, loops, bounds, de-duplication) and one-write submission
 * against a real store. */
#include "test_store_util.h"
#include "delivery/delivery.h"
#include "base/task_queue.h"

#include <poll.h>
#include <strings.h>
#include <sqlite3.h>

struct fixture {
	struct tstore t;
	int64_t alice, bob, carol, dave, frank;
};

static void alias(struct tstore *t, const char *address,
		  const char *const *targets, size_t n)
{
	struct store_req req = { .type = STORE_REQ_ALIAS_ADD };

	req.u.alias.address = address;
	req.u.alias.targets = targets;
	req.u.alias.n_targets = n;
	tstore_ok(t, &req);
}

#define ALIAS(t, addr, ...) do { \
	static const char *const targets_[] = { __VA_ARGS__ }; \
	alias(t, addr, targets_, ARRAY_SIZE(targets_)); \
} while (0)

static void disable_user(struct tstore *t, int64_t id)
{
	sqlite3 *db;
	char *sql;

	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sql = xasprintf("UPDATE users SET disabled = 1 WHERE id = %lld",
			(long long)id);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sqlite3_close(db);
}

static int setup(void **state)
{
	/* Static rather than xcalloc'd: gcc with ASan warns that the
	 * snprintf in tstore_init may get a null destination. */
	static struct fixture fixture;
	struct fixture *f = &fixture;
	struct tstore *t = &f->t;

	memset(f, 0, sizeof(*f));

	tstore_init(t, 0);
	tstore_domain(t, "example.com");
	tstore_domain(t, "example.org");
	f->alice = tstore_user(t, "alice@example.com");
	f->bob = tstore_user(t, "bob@example.com");
	f->carol = tstore_user(t, "carol@example.com");
	f->dave = tstore_user(t, "dave@example.com");
	f->frank = tstore_user(t, "frank@example.org");
	disable_user(t, f->dave);

	ALIAS(t, "team@example.com", "alice@example.com", "bob@example.com",
	      "x@remote.net");
	ALIAS(t, "all@example.com", "team@example.com", "carol@example.com");
	ALIAS(t, "loop-a@example.com", "loop-b@example.com");
	ALIAS(t, "loop-b@example.com", "alice@example.com",
	      "loop-a@example.com");
	ALIAS(t, "dup@example.com", "alice@example.com",
	      "alice+x@example.com", "team@example.com", "X@Remote.NET");
	ALIAS(t, "ghost@example.com", "nobody@example.com");
	ALIAS(t, "half@example.com", "nobody@example.com", "bob@example.com");
	/* Exact user beats an alias of the same address. */
	ALIAS(t, "frank@example.org", "bob@example.com");
	ALIAS(t, "sales@example.org", "carol@example.com");
	ALIAS(t, "@example.org", "alice@EXAMPLE.COM");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tstore_deinit(&f->t);
	return 0;
}

static void resolve(struct fixture *f, const char *address,
		    struct delivery_resolution *res)
{
	arena_clear(&f->t.arena);
	delivery_resolve(f->t.reader, &f->t.arena, address, res);
}

static bool has_local(const struct delivery_resolution *res, int64_t id)
{
	for (size_t i = 0; i < res->n_locals; i++) {
		if (res->locals[i].user_id == id)
			return true;
	}
	return false;
}

static void test_user(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "alice@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.n_remotes, 0);
	assert_int_equal(res.locals[0].user_id, f->alice);
	assert_string_equal(res.locals[0].address, "alice@example.com");
	assert_null(res.locals[0].tag);
}

static void test_tag(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "bob+lists@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->bob);
	assert_string_equal(res.locals[0].address, "bob+lists@example.com");
	assert_string_equal(res.locals[0].tag, "lists");

	/* A leading '+' is part of the name, not a tag. */
	resolve(f, "+bob@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
}

static void test_alias_several(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "team@example.com", &res);
	assert_int_equal(res.status, DELIVERY_MIXED);
	assert_int_equal(res.n_locals, 2);
	assert_true(has_local(&res, f->alice));
	assert_true(has_local(&res, f->bob));
	assert_int_equal(res.n_remotes, 1);
	assert_string_equal(res.remotes[0], "x@remote.net");
}

static void test_alias_nested(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "all@example.com", &res);
	assert_int_equal(res.status, DELIVERY_MIXED);
	assert_int_equal(res.n_locals, 3);
	assert_true(has_local(&res, f->alice));
	assert_true(has_local(&res, f->bob));
	assert_true(has_local(&res, f->carol));
	assert_int_equal(res.n_remotes, 1);
	/* The address each user was reached by. */
	for (size_t i = 0; i < res.n_locals; i++) {
		if (res.locals[i].user_id == f->carol)
			assert_string_equal(res.locals[i].address,
					    "carol@example.com");
	}
}

static void test_alias_loop(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "loop-a@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOOP);
	resolve(f, "loop-b@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOOP);
}

static void test_catchall(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	/* No user, no exact alias: the catch-all (target domain case
	 * folded). */
	resolve(f, "whoever@example.org", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->alice);
	assert_string_equal(res.locals[0].address, "alice@example.com");

	/* An exact alias beats the catch-all. */
	resolve(f, "sales@example.org", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.locals[0].user_id, f->carol);

	/* The exact user beats its alias and the catch-all; +tag user
	 * beats the catch-all. */
	resolve(f, "frank@example.org", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->frank);
	resolve(f, "frank+x@example.org", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->frank);
	assert_string_equal(res.locals[0].tag, "x");

	/* "+tag" of an alias address reaches the alias. */
	resolve(f, "sales+q4@example.org", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->carol);
}

static void test_unknown_user(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "nobody@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
	assert_int_equal(res.n_locals, 0);
	assert_int_equal(res.n_remotes, 0);
	assert_int_equal(res.n_unknown, 1);

	/* An alias that leads only to unknown users is unknown too. */
	resolve(f, "ghost@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);

	/* An unknown target among good ones is dropped. */
	resolve(f, "half@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->bob);
	assert_int_equal(res.n_unknown, 1);

	resolve(f, "no-at-sign", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
}

static void test_remote(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "someone@remote.net", &res);
	assert_int_equal(res.status, DELIVERY_REMOTE);
	assert_false(res.local_domain);
	assert_int_equal(res.n_locals, 0);
	assert_int_equal(res.n_remotes, 1);
	assert_string_equal(res.remotes[0], "someone@remote.net");
}

static void test_disabled_user(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	resolve(f, "dave@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
	resolve(f, "dave+tag@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
}

static void test_dedup(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;

	/* alice three times (direct, +tag, via team), the remote twice in
	 * different case. */
	resolve(f, "dup@example.com", &res);
	assert_int_equal(res.status, DELIVERY_MIXED);
	assert_int_equal(res.n_locals, 2);
	assert_true(has_local(&res, f->alice));
	assert_true(has_local(&res, f->bob));
	assert_int_equal(res.n_remotes, 1);
	/* One of the paths that reached alice is kept, with its tag. */
	for (size_t i = 0; i < res.n_locals; i++) {
		const struct delivery_local *l = &res.locals[i];

		if (l->user_id != f->alice)
			continue;
		if (l->tag == NULL)
			assert_string_equal(l->address, "alice@example.com");
		else
			assert_string_equal(l->address, "alice+x@example.com");
	}
	/* Target domains are case folded. */
	assert_int_equal(strcasecmp(res.remotes[0], "x@remote.net"), 0);
	assert_non_null(strstr(res.remotes[0], "@remote.net"));
}

static void test_depth(void **state)
{
	struct fixture *f = *state;
	struct delivery_resolution res;
	char addr[64], next[64];

	/* chain0 -> chain1 -> ... -> chain9 -> alice: alice is reached at
	 * depth i+1 from chain(9-i). */
	for (int i = 0; i < 10; i++) {
		const char *target = next;

		snprintf(addr, sizeof(addr), "chain%d@example.com", i);
		if (i == 9)
			target = "alice@example.com";
		else
			snprintf(next, sizeof(next), "chain%d@example.com",
				 i + 1);
		alias(&f->t, addr, &target, 1);
	}
	/* alice at depth 8: fine. */
	resolve(f, "chain2@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOCAL);
	assert_int_equal(res.locals[0].user_id, f->alice);
	/* alice at depth 9: too deep. */
	resolve(f, "chain1@example.com", &res);
	assert_int_equal(res.status, DELIVERY_LOOP);
}

static void test_fanout(void **state)
{
	struct fixture *f = *state;
	const size_t n = DELIVERY_MAX_EXPANSION;
	const char **targets = xcalloc(n, sizeof(*targets));
	struct delivery_resolution res;

	for (size_t i = 0; i < n; i++)
		targets[i] = xasprintf("r%zu@remote.net", i);
	/* The alias itself plus n targets is one past the bound. */
	alias(&f->t, "big@example.com", targets, n);
	resolve(f, "big@example.com", &res);
	assert_int_equal(res.status, DELIVERY_TOO_MANY);

	/* n - 1 targets fit. */
	alias(&f->t, "fits@example.com", targets, n - 1);
	resolve(f, "fits@example.com", &res);
	assert_int_equal(res.status, DELIVERY_REMOTE);
	/* remote targets, but the address itself is ours: no relay */
	assert_true(res.local_domain);
	assert_int_equal(res.n_remotes, n - 1);
	for (size_t i = 0; i < n; i++)
		free((char *)targets[i]);
	free(targets);
}

/* ---- submission ---- */

struct done_state {
	bool called;
	int status;
	char error[256];
	int64_t blob_id, queue_id;
	size_t n_assigned;
};

static void on_done(void *arg, const struct store_result *result)
{
	struct done_state *d = arg;

	assert_false(d->called);
	d->called = true;
	d->status = result->status;
	memcpy(d->error, result->error, sizeof(d->error));
	d->blob_id = result->id;
	d->queue_id = result->queue_id;
	d->n_assigned = result->n_assigned;
}

static void submit_and_wait(struct fixture *f, const struct delivery_msg *msg,
			    struct done_state *d)
{
	struct task_queue *q = task_queue_new();
	const char *error = NULL;

	memset(d, 0, sizeof(*d));
	assert_int_equal(delivery_submit(f->t.store, msg, q, on_done, d,
					 &error), 0);
	while (!d->called) {
		struct pollfd pfd = { .fd = task_queue_fd(q), .events = POLLIN };

		assert_true(poll(&pfd, 1, 10000) > 0);
		task_queue_run(q);
	}
	task_queue_free(&q);
}

static const char report_msg[] =
	"Received: from mx.remote.net by mail.example.com\r\n"
	"From: Zoe <zoe@remote.net>\r\n"
	"To: team@example.com\r\n"
	"Subject: Quarterly report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Numbers inside.\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0=\r\n"
	"--b1--\r\n";

static void check_inbox(struct fixture *f, int64_t user_id,
			const char *expect, size_t expect_size,
			const char *subject, const char *structure)
{
	struct tstore *t = &f->t;
	struct store_msg_meta meta;
	struct store_msg *msgs;
	const char *error, *data;
	int64_t inbox = tstore_inbox(t, user_id);
	size_t size;

	assert_int_equal(store_msg_list(t->reader, &t->arena, inbox, &msgs,
					&error), 1);
	assert_int_equal(msgs[0].size, expect_size);
	assert_int_equal(msgs[0].internal_date, 1700000000);
	assert_int_equal(store_blob_get(t->reader, &t->arena, msgs[0].blob_id,
					&data, &size, &error), 1);
	assert_int_equal(size, expect_size);
	assert_memory_equal(data, expect, expect_size);
	assert_int_equal(store_msg_meta(t->reader, &t->arena, inbox,
					msgs[0].uid, &meta, &error), 1);
	assert_int_equal(meta.envelope[0], '(');
	assert_non_null(strstr(meta.envelope, subject));
	assert_int_equal(meta.bodystructure[0], '(');
	assert_non_null(strstr(meta.bodystructure, structure));
	assert_int_equal(meta.body[0], '(');
	assert_true(meta.parts_size > 0);
}

/* The host's names: the origin is local without a domains row, root &
 * co. there lead to the admin unless a user or alias of theirs exists
 * (also before a catch-all of the origin), nothing else is added. */
static void test_names(void **state)
{
	struct fixture *f = *state;
	const struct delivery_names names = {
		.origin = "host.example", .admin = "Carol@Example.COM",
	};
	const struct delivery_names no_admin = { .origin = "host.example" };
	static const char *const builtins[] = {
		"root@host.example", "Postmaster@host.example",
		"abuse@host.example", "MAILER-DAEMON@host.example",
	};
	struct delivery_resolution res;

	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++) {
		assert_true(delivery_names_builtin(&names, builtins[i]));
		arena_clear(&f->t.arena);
		delivery_resolve_names(f->t.reader, &names, &f->t.arena,
				       builtins[i], &res);
		assert_int_equal(res.status, DELIVERY_LOCAL);
		assert_true(res.local_domain);
		assert_int_equal(res.n_locals, 1);
		assert_int_equal(res.locals[0].user_id, f->carol);
		/* the target as configured, its domain in lower case */
		assert_string_equal(res.locals[0].address, "Carol@example.com");
		/* without names the origin is just another domain */
		resolve(f, builtins[i], &res);
		assert_int_equal(res.status, DELIVERY_REMOTE);
	}
	assert_false(delivery_names_builtin(&names, "root@example.com"));
	assert_false(delivery_names_builtin(&names, "rooty@host.example"));
	assert_false(delivery_names_builtin(NULL, "root@host.example"));
	/* other names at the origin are unknown users, not remote */
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &names, &f->t.arena,
			       "cron@host.example", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
	assert_true(res.local_domain);
	/* without an admin, root is unknown too */
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &no_admin, &f->t.arena,
			       "root@host.example", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
	/* root of another local domain is that domain's business */
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &names, &f->t.arena,
			       "root@example.com", &res);
	assert_int_equal(res.status, DELIVERY_UNKNOWN_USER);
	/* an alias of the admin's own wins; the origin's catch-all does
	 * not take root */
	tstore_domain(&f->t, "host.example");
	ALIAS(&f->t, "root@host.example", "bob@example.com");
	ALIAS(&f->t, "@host.example", "frank@example.org");
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &names, &f->t.arena,
			       "root@host.example", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->bob);
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &names, &f->t.arena,
			       "abuse@host.example", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->carol);
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &names, &f->t.arena,
			       "cron@host.example", &res);
	assert_int_equal(res.n_locals, 1);
	assert_int_equal(res.locals[0].user_id, f->frank);
	/* an admin that leads back to root is a loop */
	const struct delivery_names loop = {
		.origin = "host.example", .admin = "abuse@host.example",
	};
	arena_clear(&f->t.arena);
	delivery_resolve_names(f->t.reader, &loop, &f->t.arena,
			       "abuse@host.example", &res);
	assert_int_equal(res.status, DELIVERY_LOOP);
}

static void test_submit(void **state)
{
	struct fixture *f = *state;
	struct tstore *t = &f->t;
	const int64_t users[] = { f->alice, f->bob, f->carol, f->alice };
	const struct queue_rcpt remotes[] = {
		{ .address = "x@remote.net", .orcpt = "rfc822;team@example.com",
		  .notify = "FAILURE" },
		{ .address = "y@other.net" },
		{ .address = "X@REMOTE.NET" },
	};
	struct delivery_msg msg = {
		.data = report_msg, .size = sizeof(report_msg) - 1,
		.sender = "zoe@remote.net", .envid = "ENV42", .ret = "HDRS",
		.internal_date = 1700000000,
		.user_ids = users, .n_users = ARRAY_SIZE(users),
		.remotes = remotes, .n_remotes = ARRAY_SIZE(remotes),
	};
	struct queue_entry qe;
	struct done_state d;
	const char *error;
	char *expect;

	submit_and_wait(f, &msg, &d);
	assert_int_equal(d.status, 0);
	/* alice once, whatever the duplicates. */
	assert_int_equal(d.n_assigned, 3);
	assert_true(d.queue_id > 0);
	assert_int_equal(store_blob_count(t->reader, &error), 1);

	expect = xasprintf("Return-Path: <zoe@remote.net>\r\n%s", report_msg);
	check_inbox(f, f->alice, expect, strlen(expect), "Quarterly report",
		    "\"mixed\"");
	check_inbox(f, f->bob, expect, strlen(expect), "Quarterly report",
		    "\"pdf\"");
	check_inbox(f, f->carol, expect, strlen(expect), "Quarterly report",
		    "\"b1\"");
	free(expect);

	assert_int_equal(queue_store_get(t->reader, &t->arena, d.queue_id, &qe,
					 &error), 1);
	assert_int_equal(qe.blob_id, d.blob_id);
	assert_string_equal(qe.sender, "zoe@remote.net");
	assert_string_equal(qe.envid, "ENV42");
	assert_string_equal(qe.ret, "HDRS");
	assert_int_equal(qe.n_rcpts, 2);
	assert_string_equal(qe.rcpts[0].address, "x@remote.net");
	assert_string_equal(qe.rcpts[0].orcpt, "rfc822;team@example.com");
	assert_string_equal(qe.rcpts[0].notify, "FAILURE");
	assert_string_equal(qe.rcpts[1].address, "y@other.net");
	assert_string_equal(qe.rcpts[1].orcpt, "");
}

static void test_submit_bad_mime(void **state)
{
	struct fixture *f = *state;
	/* A multipart without a boundary, a never-closed part, a header
	 * line without a colon and a NUL byte. */
	static const char bad[] =
		"Subject: broken one\r\n"
		"Content-Type: multipart/mixed\r\n"
		"this is no header\r\n"
		"\r\n"
		"--\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"garbage \0 here\r\n";
	const int64_t users[] = { f->carol };
	struct delivery_msg msg = {
		.data = bad, .size = sizeof(bad) - 1, .sender = "",
		.internal_date = 1700000000,
		.user_ids = users, .n_users = 1,
	};
	struct done_state d;
	char *expect;
	size_t hlen;

	submit_and_wait(f, &msg, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.n_assigned, 1);
	assert_int_equal(d.queue_id, 0);
	expect = xmalloc(64 + sizeof(bad));
	hlen = (size_t)snprintf(expect, 64, "Return-Path: <>\r\n");
	memcpy(expect + hlen, bad, sizeof(bad) - 1);
	check_inbox(f, f->carol, expect, hlen + sizeof(bad) - 1, "broken one",
		    "(");
	free(expect);
}

/* The caller's header block and Delivered-To go between Return-Path and
 * the message; REQUIRETLS goes with the queue entry. */
static void test_submit_header_delivered_to(void **state)
{
	struct fixture *f = *state;
	struct tstore *t = &f->t;
	static const char body[] = "Subject: for carol\r\n\r\nhi\r\n";
	static const char header[] = "Received: from a by b; now\r\n";
	const int64_t users[] = { f->carol };
	const struct queue_rcpt remotes[] = { { .address = "r@remote.net" } };
	struct delivery_msg msg = {
		.header = header, .header_size = sizeof(header) - 1,
		.data = body, .size = sizeof(body) - 1, .sender = "s@x.org",
		.delivered_to = "carol+in@example.com", .requiretls = true,
		.internal_date = 1700000000,
		.user_ids = users, .n_users = 1,
		.remotes = remotes, .n_remotes = 1,
	};
	struct queue_entry qe;
	struct done_state d;
	const char *error = NULL;
	char *expect;

	submit_and_wait(f, &msg, &d);
	assert_int_equal(d.status, 0);
	expect = xasprintf("Return-Path: <s@x.org>\r\n"
			   "Delivered-To: carol+in@example.com\r\n%s%s",
			   header, body);
	check_inbox(f, f->carol, expect, strlen(expect), "for carol", "(");
	free(expect);
	assert_int_equal(queue_store_get(t->reader, &t->arena, d.queue_id, &qe,
					 &error), 1);
	assert_true(qe.requiretls);

	/* A line break in Delivered-To would inject a header: refused. */
	msg.delivered_to = "x@y\r\nX-Evil: 1";
	assert_int_equal(delivery_submit(f->t.store, &msg, NULL, on_done, NULL,
					 &error), -1);
	assert_string_equal(error, "invalid Delivered-To address");
}

/* RFC 8689 5: "TLS-Required: No" in the top header marks the queue entry
 * tls_optional, but not in the body, and not with REQUIRETLS (then the
 * field is ignored); the field stays in the stored message. */
static void test_submit_tls_required_no(void **state)
{
	struct fixture *f = *state;
	struct tstore *t = &f->t;
	static const char with[] = "Subject: cert report\r\n"
		"TLS-Required:\r\n No\r\n\r\nyour certificate expired\r\n";
	static const char in_body[] = "Subject: quoted\r\n\r\n"
		"TLS-Required: No\r\n";
	const struct queue_rcpt remotes[] = { { .address = "r@remote.net" } };
	struct delivery_msg msg = {
		.data = with, .size = sizeof(with) - 1, .sender = "s@x.org",
		.internal_date = 1700000000,
		.remotes = remotes, .n_remotes = 1,
	};
	struct queue_entry qe;
	struct done_state d;
	const char *error = NULL, *data;
	size_t size;

	submit_and_wait(f, &msg, &d);
	assert_int_equal(d.status, 0);
	assert_int_equal(queue_store_get(t->reader, &t->arena, d.queue_id, &qe,
					 &error), 1);
	assert_true(qe.tls_optional);
	assert_false(qe.requiretls);
	assert_int_equal(store_blob_get(t->reader, &t->arena, qe.blob_id,
					&data, &size, &error), 1);
	assert_non_null(strstr(data, "\r\nTLS-Required:\r\n No\r\n\r\n"));

	msg.requiretls = true;
	submit_and_wait(f, &msg, &d);
	assert_int_equal(queue_store_get(t->reader, &t->arena, d.queue_id, &qe,
					 &error), 1);
	assert_true(qe.requiretls);
	assert_false(qe.tls_optional);

	msg.requiretls = false;
	msg.data = in_body;
	msg.size = sizeof(in_body) - 1;
	submit_and_wait(f, &msg, &d);
	assert_int_equal(queue_store_get(t->reader, &t->arena, d.queue_id, &qe,
					 &error), 1);
	assert_false(qe.tls_optional);
}

static void test_submit_refused(void **state)
{
	struct fixture *f = *state;
	const int64_t users[] = { f->alice };
	struct delivery_msg msg = {
		.data = "x\r\n", .size = 3, .sender = "a@b",
	};
	const char *error = NULL;

	assert_int_equal(delivery_submit(f->t.store, &msg, NULL, on_done, NULL,
					 &error), -1);
	assert_string_equal(error, "no recipients");
	msg.user_ids = users;
	msg.n_users = 1;
	msg.sender = "a@b>\r\nX-Evil: 1";
	error = NULL;
	assert_int_equal(delivery_submit(f->t.store, &msg, NULL, on_done, NULL,
					 &error), -1);
	assert_string_equal(error, "invalid envelope sender");
}

/* A store that refuses the write: done gets the error, nothing lands. */
static void test_submit_store_full(void **state)
{
	const size_t big_size = 1024 * 1024;
	struct fixture f = { 0 };
	struct store_mailbox mb;
	struct done_state d;
	const char *error;
	int64_t user;
	char *big;

	(void)state;
	tstore_init(&f.t, 128);
	tstore_domain(&f.t, "example.com");
	user = tstore_user(&f.t, "bob@example.com");
	big = xmalloc(big_size);
	memset(big, 'x', big_size);
	{
		struct delivery_msg msg = {
			.data = big, .size = big_size, .sender = "a@b.example",
			.user_ids = &user, .n_users = 1,
		};

		submit_and_wait(&f, &msg, &d);
	}
	free(big);
	assert_int_equal(d.status, -1);
	assert_non_null(strstr(d.error, "full"));
	assert_int_equal(store_mailbox_by_name(f.t.reader, &f.t.arena, user,
					       "INBOX", &mb, &error), 1);
	assert_int_equal(mb.messages, 0);
	assert_int_equal(store_blob_count(f.t.reader, &error), 0);
	tstore_deinit(&f.t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_user),
		T(test_tag),
		T(test_alias_several),
		T(test_alias_nested),
		T(test_alias_loop),
		T(test_catchall),
		T(test_unknown_user),
		T(test_remote),
		T(test_disabled_user),
		T(test_dedup),
		T(test_depth),
		T(test_fanout),
		T(test_names),
		T(test_submit),
		T(test_submit_bad_mime),
		T(test_submit_header_delivered_to),
		T(test_submit_tls_required_no),
		T(test_submit_refused),
		cmocka_unit_test(test_submit_store_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
