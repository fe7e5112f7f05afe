/* store_read_pool.c: base/worker_pool with a store reader as each
 * worker's state, opened on the worker itself (a reader belongs to one
 * thread). */
#include "store/store_read_pool.h"

#include "base/log.h"
#include "base/worker_pool.h"

#include <time.h>

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

/* A worker's state: its reader, opened again at a later read when it
 * could not be (the database was away): else one failed open would fail
 * every read of that worker for good. */
struct read_worker {
	struct store_read_pool *pool;
	struct store_reader *r;
	time_t tried_at;	/* the last open, once a second at most */
	bool logged;		/* this failure to open is in the log */
};

static void read_worker_open(struct read_worker *w)
{
	struct store_read_pool *p = w->pool;
	char *error = NULL;

	w->tried_at = time(NULL);
	w->r = *p->storep != NULL ? store_reader_new(*p->storep, &error) : NULL;
	if (w->r == NULL && !w->logged) {
		log_error(NULL, "store read pool: no reader: %s",
			  error != NULL ? error : "the store is not open");
		w->logged = true;
	}
	if (w->r != NULL)
		w->logged = false;
	free(error);
}

static void *read_pool_init(void *ctx)
{
	struct read_worker *w = xcalloc(1, sizeof(*w));

	w->pool = ctx;
	read_worker_open(w);
	return w;
}

static void read_pool_deinit(void *ctx UNUSED, void *state)
{
	struct read_worker *w = state;

	store_reader_free(&w->r);
	free(w);
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
	struct read_worker *w = state;

	if (w != NULL && w->r == NULL && w->tried_at != time(NULL))
		read_worker_open(w);
	job->fn(w != NULL ? w->r : NULL, job->arg);
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
