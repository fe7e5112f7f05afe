/* auth_worker.h: plaintext password checks (yescrypt, bcrypt...) off the
 * caller's thread: a pool of worker threads verifies, the check completes
 * on the caller's task queue, and a cache of recent successes (auth_cache)
 * answers a repeated login without a hash at all. */
#ifndef POSTHORN_AUTH_AUTH_WORKER_H
#define POSTHORN_AUTH_AUTH_WORKER_H

#include "auth/auth_cache.h"
#include "auth/auth_login.h"
#include "base/task_queue.h"

struct auth_worker_settings {
	unsigned threads;	/* 0: one per online CPU */
	unsigned cache_ttl_ms;	/* 0: no cache */
	size_t cache_size;	/* 0: AUTH_CACHE_DEFAULT_SIZE */
};

struct auth_worker;

/* One check. The caller fills the inputs; the outputs are set when done
 * runs. Everything is freed by auth_check_clear(). */
struct auth_check {
	char *user;		/* as the client typed it (malloc'd) */
	char *password;		/* malloc'd, wiped when cleared */
	int found;		/* the credentials lookup: 1, 0 unknown, -1 */
	struct auth_credentials cred;
	int result;		/* 1 right, 0 wrong, -1 temporary failure */
	char *address;		/* on 1: the canonical address (malloc'd) */
	bool cached;		/* answered from the cache, no hash run */
};

struct auth_worker *auth_worker_new(const struct auth_worker_settings *set);
/* Finish the checks already submitted (their completions are posted);
 * checks submitted later run on the submitter's thread. Idempotent. */
void auth_worker_drain(struct auth_worker *w);
void auth_worker_free(struct auth_worker **w);
struct auth_cache *auth_worker_cache(struct auth_worker *w);
unsigned auth_worker_threads(const struct auth_worker *w);

/* Check check->password against check->cred; then done(check) runs on the
 * thread that owns reply (never before this returns). A cache hit posts
 * done at once; otherwise a worker verifies (found -1 is answered -1
 * without one) and a success is added to the cache. check must stay
 * valid until done. */
void auth_check_submit(struct auth_worker *w, struct auth_check *check,
		       struct task_queue *reply, task_fn *done);
/* The cache's part of auth_check_submit alone: true (result 1, address
 * set, cached) when the cache knows the password; false otherwise, with
 * nothing submitted. */
bool auth_check_cached(struct auth_worker *w, struct auth_check *check);
void auth_check_clear(struct auth_check *check);

#endif
