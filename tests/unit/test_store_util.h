/* test_store_util.h: helpers shared by the store tests: a store in a fresh
 * temporary directory, and one-line wrappers for common writes. */
#ifndef POSTHORN_TESTS_TEST_STORE_UTIL_H
#define POSTHORN_TESTS_TEST_STORE_UTIL_H

#include "unit.h"
#include "store/store.h"

#include <unistd.h>

struct tstore {
	char dir[64];
	char path[128];
	struct store *store;
	struct store_reader *reader;
	struct arena arena;
	struct db_fault *fault;	/* the writer's test double, or NULL */
};

static inline void tstore_open_at(struct tstore *t, uint32_t max_pages)
{
	struct store_settings set = {
		.path = t->path, .fsync = false, .max_pages = max_pages,
		.fault = t->fault,
	};
	char *error = NULL;

	t->store = store_open(&set, &error);
	if (t->store == NULL)
		fail_msg("store_open: %s", error);
	t->reader = store_reader_new(t->store, &error);
	if (t->reader == NULL)
		fail_msg("store_reader_new: %s", error);
}

/* A store whose writer runs on the test double fault (db/db.h). */
static inline void tstore_init_fault(struct tstore *t, uint32_t max_pages,
				     struct db_fault *fault)
{
	memset(t, 0, sizeof(*t));
	t->fault = fault;
	snprintf(t->dir, sizeof(t->dir), "/tmp/posthorn-store-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/store.db", t->dir);
	arena_init(&t->arena, 0);
	tstore_open_at(t, max_pages);
}

static inline void tstore_init(struct tstore *t, uint32_t max_pages)
{
	tstore_init_fault(t, max_pages, NULL);
}

static inline void tstore_close(struct tstore *t)
{
	store_reader_free(&t->reader);
	store_close(&t->store);
}

static inline void tstore_deinit(struct tstore *t)
{
	char p[160];

	tstore_close(t);
	arena_deinit(&t->arena);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	rmdir(t->dir);
}

/* Submit and wait; returns the result (caller frees). */
static inline struct store_result *tstore_do(struct tstore *t,
					     const struct store_req *req)
{
	struct store_result *res = NULL;

	store_submit_wait(t->store, req, &res);
	assert_non_null(res);
	return res;
}

/* Submit, wait, and require success; returns the new id. */
static inline int64_t tstore_ok(struct tstore *t, const struct store_req *req)
{
	struct store_result *res = tstore_do(t, req);
	int64_t id = res->id;

	if (res->status != 0)
		fail_msg("store request %d failed: %s", req->type, res->error);
	store_result_free(&res);
	return id;
}

static inline int64_t tstore_domain(struct tstore *t, const char *name)
{
	struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };

	req.u.domain.name = name;
	return tstore_ok(t, &req);
}

static inline int64_t tstore_user(struct tstore *t, const char *address)
{
	struct store_req req = { .type = STORE_REQ_USER_ADD };

	req.u.user_add.address = address;
	req.u.user_add.password_hash = "$y$hash";
	return tstore_ok(t, &req);
}

static inline int64_t tstore_inbox(struct tstore *t, int64_t user_id)
{
	struct store_mailbox mb;
	const char *error;

	assert_int_equal(store_mailbox_by_name(t->reader, &t->arena, user_id,
					       "INBOX", &mb, &error), 1);
	return mb.id;
}

#endif
