/* worker_pool.h: a few threads for work that may block or burn CPU
 * (password hashes, store reads that wait on disk or the network). A job
 * runs on a worker; its completion is posted to the submitter's task
 * queue, so it runs on the submitter's own thread as a store write's does.
 * Jobs start in submission order. */
#ifndef POSTHORN_BASE_WORKER_POOL_H
#define POSTHORN_BASE_WORKER_POOL_H

#include "base/base.h"
#include "base/task_queue.h"

/* A worker's own state (e.g. its store reader), made on the worker before
 * its first job from the pool's ctx; may be NULL (the jobs then get NULL).
 * deinit runs on the worker when it stops (only for a state it made). */
typedef void *worker_init_fn(void *ctx);
typedef void worker_deinit_fn(void *ctx, void *state);
/* The work, on a worker: state is that worker's, arg the submitter's. */
typedef void worker_job_fn(void *state, void *arg);

struct worker_pool_settings {
	unsigned threads;		/* 0: one per online CPU */
	worker_init_fn *init;		/* NULL: no state */
	worker_deinit_fn *deinit;
	void *ctx;
};

struct worker_pool;

struct worker_pool *worker_pool_new(const struct worker_pool_settings *set);
/* Run job(state, arg) on a worker, then post done(arg) to reply (done may
 * be NULL: nothing is posted). Thread-safe. After worker_pool_drain() the
 * job runs on the caller's thread before the post (nothing is lost at
 * shutdown). */
void worker_pool_submit(struct worker_pool *pool, worker_job_fn *job,
			void *arg, struct task_queue *reply, task_fn *done);
/* Finish every job already submitted (their completions are posted) and
 * stop the workers. Idempotent. */
void worker_pool_drain(struct worker_pool *pool);
/* Drains, then frees. */
void worker_pool_free(struct worker_pool **pool);
unsigned worker_pool_threads(const struct worker_pool *pool);
/* Jobs submitted and not yet started, now (for metrics and tests). */
size_t worker_pool_waiting(struct worker_pool *pool);

#endif
