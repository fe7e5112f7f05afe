/* Unit tests for base/worker_pool: every job runs once, off the caller's
 * thread, with its worker's own state; completions come back on the
 * reply queue; drain finishes what waits and later jobs run inline. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/task_queue.h"
#include "base/worker_pool.h"

#define JOBS 2000

static atomic_int inits, deinits;

struct job {
	pthread_t ran_on;
	void *state;
	int ran;
	int done;
};

static void *init_state(void *ctx)
{
	atomic_fetch_add(&inits, 1);
	return ctx;	/* any non-NULL marker */
}

static void deinit_state(void *ctx, void *state)
{
	assert_ptr_equal(ctx, state);
	atomic_fetch_add(&deinits, 1);
}

static void run_job(void *state, void *arg)
{
	struct job *j = arg;

	j->ran_on = pthread_self();
	j->state = state;
	j->ran++;
}

static void job_done(void *arg)
{
	((struct job *)arg)->done++;
}

static void test_jobs_complete_on_reply_queue(void **unused)
{
	static struct job jobs[JOBS];
	static int marker;
	struct worker_pool_settings set = {
		.threads = 3, .init = init_state, .deinit = deinit_state,
		.ctx = &marker,
	};
	struct task_queue *q = task_queue_new();
	struct worker_pool *pool;
	size_t ran = 0;

	(void)unused;
	atomic_store(&inits, 0);
	atomic_store(&deinits, 0);
	pool = worker_pool_new(&set);
	assert_int_equal(worker_pool_threads(pool), 3);
	for (int i = 0; i < JOBS; i++)
		worker_pool_submit(pool, run_job, &jobs[i], q, job_done);
	while (ran < JOBS)
		ran += task_queue_run(q);
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(jobs[i].ran, 1);
		assert_int_equal(jobs[i].done, 1);
		assert_ptr_equal(jobs[i].state, &marker);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
	}
	assert_true(atomic_load(&inits) >= 1 && atomic_load(&inits) <= 3);
	worker_pool_drain(pool);
	assert_int_equal(atomic_load(&deinits), atomic_load(&inits));
	/* After the drain a job runs on the caller, its completion posted. */
	jobs[0] = (struct job){ 0 };
	worker_pool_submit(pool, run_job, &jobs[0], q, job_done);
	assert_int_equal(jobs[0].ran, 1);
	assert_true(pthread_equal(jobs[0].ran_on, pthread_self()));
	assert_int_equal(jobs[0].done, 0);
	assert_int_equal(task_queue_run(q), 1);
	assert_int_equal(jobs[0].done, 1);
	worker_pool_free(&pool);
	assert_null(pool);
	task_queue_free(&q);
}

static void slow_job(void *state, void *arg)
{
	(void)state;
	usleep(2000);
	((struct job *)arg)->ran++;
}

/* A drain waits for every job already queued, and their completions
 * are all posted. */
static void test_drain_finishes_queued(void **unused)
{
	static struct job jobs[50];
	struct worker_pool_settings set = { .threads = 1 };
	struct task_queue *q = task_queue_new();
	struct worker_pool *pool = worker_pool_new(&set);

	(void)unused;
	for (int i = 0; i < 50; i++)
		worker_pool_submit(pool, slow_job, &jobs[i], q, job_done);
	assert_true(worker_pool_waiting(pool) > 0);
	worker_pool_free(&pool);
	for (int i = 0; i < 50; i++)
		assert_int_equal(jobs[i].ran, 1);
	assert_int_equal(task_queue_run(q), 50);
	task_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_complete_on_reply_queue),
		cmocka_unit_test(test_drain_finishes_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
