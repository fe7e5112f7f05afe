/* store_read_pool.c: base/worker_pool with a store reader as each
 * worker's state, opened on the worker itself (a reader belongs to one
 * thread). */
#include "store/store_read_pool.h"

#include "base/log.h"
#include "base/worker_pool.h"

struct store_read_pool {
	struct store *const *storep;
	struct worker_pool *pool;
};

/* One submitted read: what the worker runs and its argument. */
struct store_read_job {
	store_read_fn *fn;
	void *arg;
	task_fn *done;
};

static void *read_pool_init(void *ctx)
{
	struct store_read_pool *p = ctx;
	struct store_reader *r;
	char *error = NULL;

	r = *p->storep != NULL ? store_reader_new(*p->storep, &error) : NULL;
	if (r == NULL) {
		log_error(NULL, "store read pool: no reader: %s",
			  error != NULL ? error : "the store is not open");
		free(error);
	}
	return r;
}

static void read_pool_deinit(void *ctx UNUSED, void *state)
{
	struct store_reader *r = state;

	store_reader_free(&r);
}

struct store_read_pool *store_read_pool_new(struct store *const *storep,
					    unsigned threads)
{
	struct store_read_pool *p = xcalloc(1, sizeof(*p));
	struct worker_pool_settings set = {
		.threads = threads != 0 ? threads : 1,
		.init = read_pool_init,
		.deinit = read_pool_deinit,
		.ctx = p,
	};

	p->storep = storep;
	p->pool = worker_pool_new(&set);
	return p;
}

static void read_job_run(void *state, void *arg)
{
	struct store_read_job *job = arg;

	job->fn(state, job->arg);
	if (job->done == NULL)	/* nothing is posted */
		free(job);
}

static void read_job_done(void *arg)
{
	struct store_read_job *job = arg;
	task_fn *done = job->done;
	void *done_arg = job->arg;

	free(job);
	done(done_arg);
}

void store_read_submit(struct store_read_pool *p, store_read_fn *fn,
		       void *arg, struct task_queue *reply, task_fn *done)
{
	struct store_read_job *job = xmalloc(sizeof(*job));

	ASSERT((reply == NULL) == (done == NULL));
	*job = (struct store_read_job){ .fn = fn, .arg = arg, .done = done };
	worker_pool_submit(p->pool, read_job_run, job, reply,
			   done != NULL ? read_job_done : NULL);
}

void store_read_pool_drain(struct store_read_pool *p)
{
	worker_pool_drain(p->pool);
}

void store_read_pool_free(struct store_read_pool **pp)
{
	struct store_read_pool *p = *pp;

	if (p == NULL)
		return;
	worker_pool_free(&p->pool);
	free(p);
	*pp = NULL;
}

unsigned store_read_pool_threads(const struct store_read_pool *p)
{
	return worker_pool_threads(p->pool);
}
