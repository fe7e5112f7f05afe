/* worker_pool.c: a mutex-protected FIFO of jobs that a fixed set of
 * threads take from; each worker makes its own state lazily, on itself,
 * before its first job (a store reader must be opened by the thread that
 * uses it, and the store may open after the pool). */
#include "base/worker_pool.h"

#include <pthread.h>
#include <unistd.h>

struct worker_job {
	struct worker_job *next;
	worker_job_fn *job;
	void *arg;
	struct task_queue *reply;
	task_fn *done;
};

struct worker_pool {
	struct worker_pool_settings set;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *head, **tail;
	size_t waiting;
	/* Draining: workers leave once the queue is empty, and new jobs
	 * run on their submitter. */
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
};

static void job_run(struct worker_pool *pool, void *state,
		    struct worker_job *j)
{
	(void)pool;
	j->job(state, j->arg);
	if (j->done != NULL)
		task_queue_post(j->reply, j->done, j->arg);
	free(j);
}

static void *worker_main(void *arg)
{
	struct worker_pool *pool = arg;
	void *state = NULL;
	bool made = false;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct worker_job *j;

		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		j = pool->head;
		if (j == NULL)
			break;	/* stopping and nothing left */
		pool->head = j->next;
		if (pool->head == NULL)
			pool->tail = &pool->head;
		pool->waiting--;
		pthread_mutex_unlock(&pool->lock);
		if (!made && pool->set.init != NULL) {
			state = pool->set.init(pool->set.ctx);
			made = true;
		}
		job_run(pool, state, j);
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	if (made && pool->set.deinit != NULL)
		pool->set.deinit(pool->set.ctx, state);
	return NULL;
}

struct worker_pool *worker_pool_new(const struct worker_pool_settings *set)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));
	unsigned n = set->threads;

	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	pool->set = *set;
	pool->n_threads = n;
	pool->tail = &pool->head;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->threads = xcalloc(n, sizeof(*pool->threads));
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0)
			PANIC("pthread_create failed");
	}
	return pool;
}

void worker_pool_submit(struct worker_pool *pool, worker_job_fn *job,
			void *arg, struct task_queue *reply, task_fn *done)
{
	struct worker_job *j = xmalloc(sizeof(*j));

	*j = (struct worker_job){ .job = job, .arg = arg, .reply = reply,
				  .done = done };
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		/* Shutting down: no worker is left, and no worker state
		 * either (a job must cope with NULL, as when init fails). */
		job_run(pool, NULL, j);
		return;
	}
	*pool->tail = j;
	pool->tail = &j->next;
	pool->waiting++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

void worker_pool_drain(struct worker_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
}

void worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;

	if (pool == NULL)
		return;
	worker_pool_drain(pool);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}

unsigned worker_pool_threads(const struct worker_pool *pool)
{
	return pool->n_threads;
}

size_t worker_pool_waiting(struct worker_pool *pool)
{
	size_t n;

	pthread_mutex_lock(&pool->lock);
	n = pool->waiting;
	pthread_mutex_unlock(&pool->lock);
	return n;
}
