/* auth_worker.c: the cache first, on the caller's thread (a hit must not
 * wait behind the hashes queued in the pool), then base/worker_pool for
 * the hash. */
#include "auth/auth_worker.h"

#include "base/worker_pool.h"

struct auth_worker {
	struct worker_pool *pool;
	struct auth_cache *cache;
};

struct auth_worker *auth_worker_new(const struct auth_worker_settings *set)
{
	struct auth_worker *w = xcalloc(1, sizeof(*w));
	struct worker_pool_settings pool = { .threads = set->threads };

	w->pool = worker_pool_new(&pool);
	w->cache = auth_cache_new(set->cache_ttl_ms, set->cache_size);
	return w;
}

void auth_worker_drain(struct auth_worker *w)
{
	worker_pool_drain(w->pool);
}

void auth_worker_free(struct auth_worker **wp)
{
	struct auth_worker *w = *wp;

	if (w == NULL)
		return;
	worker_pool_free(&w->pool);
	auth_cache_free(&w->cache);
	free(w);
	*wp = NULL;
}

struct auth_cache *auth_worker_cache(struct auth_worker *w)
{
	return w->cache;
}

unsigned auth_worker_threads(const struct auth_worker *w)
{
	return worker_pool_threads(w->pool);
}

/* The job's context: the check and the cache it reports to. */
struct auth_job {
	struct auth_check *check;
	struct auth_cache *cache;
	task_fn *done;
};

static void auth_job_run(void *state UNUSED, void *arg)
{
	struct auth_job *job = arg;
	struct auth_check *c = job->check;

	c->result = auth_login_verify(c->found, &c->cred, c->password,
				      &c->address);
	if (c->result == 1)
		auth_cache_add(job->cache, c->user, c->password, &c->cred);
}

static void auth_job_done(void *arg)
{
	struct auth_job *job = arg;
	struct auth_check *c = job->check;
	task_fn *done = job->done;

	free(job);
	done(c);
}

bool auth_check_cached(struct auth_worker *w, struct auth_check *c)
{
	c->result = -1;
	c->address = NULL;
	c->cached = false;
	if (c->found <= 0 ||
	    !auth_cache_lookup(w->cache, c->user, c->password, &c->cred))
		return false;
	c->result = 1;
	c->cached = true;
	c->address = xstrdup(c->cred.address);
	return true;
}

void auth_check_submit(struct auth_worker *w, struct auth_check *c,
		       struct task_queue *reply, task_fn *done)
{
	struct auth_job *job;

	if (auth_check_cached(w, c)) {
		task_queue_post(reply, done, c);
		return;
	}
	if (c->found < 0) {
		task_queue_post(reply, done, c);
		return;
	}
	job = xmalloc(sizeof(*job));
	*job = (struct auth_job){ .check = c, .cache = w->cache, .done = done };
	worker_pool_submit(w->pool, auth_job_run, job, reply, auth_job_done);
}

void auth_check_clear(struct auth_check *c)
{
	free(c->user);
	secret_free(&c->password);
	auth_credentials_clear(&c->cred);
	free(c->address);
	memset(c, 0, sizeof(*c));
}
