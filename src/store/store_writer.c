/* store_writer.c: the single writer thread. It takes every request waiting,
 * runs them in one transaction with a savepoint each, commits once (one
 * fsync), then publishes change events and completes each request. */
#include "store/store_int.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* Background work (the search index) runs only once the writer has had
 * no request for IDLE_DELAY_MS. Not between batches under steady load:
 * the index pages it writes ride on the next durable commit's fsync, which
 * took bench_store from about 18 000 to 7 000 messages/s even with a tenth
 * of the writer's time. SEARCH covers the unindexed tail itself. */
#define IDLE_DELAY_MS 20
/* A batch that lost a deadlock to another node's runs again, whole, this
 * many times at most; then the request that met it fails. */
#define CONFLICT_RETRIES 5

struct writer_item {
	struct writer_item *next;
	const struct store_req *req;
	struct task_queue *reply_queue;	/* NULL: complete on the writer */
	store_done_fn *done;
	void *arg;
	struct store_result *result;
	struct store_changes changes;
	bool failed;
};

struct writer_sub {
	store_change_fn *fn;
	void *arg;
};

struct store_writer {
	const struct store_driver *driver;
	struct store_conn *conn;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct writer_item *head, **tail;
	bool stopping;
	/* the driver has background work (driver->idle) left */
	bool idle_work;
	/* no request since the last background piece: run the next at once */
	bool quiet;
	/* Held while subscribers run, so store_subscribe is safe at any time
	 * (but not from inside a subscriber). */
	pthread_mutex_t subs_lock;
	struct writer_sub *subs;
	size_t n_subs;
	struct store_stats stats;
	/* not 0: the node id the batches' changes go to other nodes by */
	_Atomic uint64_t bus_node;
	unsigned conflicts;	/* reruns of the batch being processed */
};

void store_changes_add(struct store_changes *c, int64_t user_id,
		       int64_t mailbox_id, uint64_t modseq)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].mailbox_id == mailbox_id) {
			c->v[i].modseq = modseq;
			return;
		}
	}
	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 4 : c->cap * 2;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = (struct store_change){ user_id, mailbox_id, modseq };
}

static void result_reset(struct store_result *r)
{
	free(r->assigned);
	free(r->uids);
	memset(r, 0, sizeof(*r));
}

void store_result_free(struct store_result **rp)
{
	if (*rp == NULL)
		return;
	result_reset(*rp);
	free(*rp);
	*rp = NULL;
}

static void item_fail(struct writer_item *it, const char *what,
		      const char *error)
{
	result_reset(it->result);
	it->result->status = -1;
	snprintf(it->result->error, sizeof(it->result->error), "%s%s", what,
		 error);
	it->changes.n = 0;
	it->failed = true;
}

/* item_fail() for an error of the batch's connection, which says whether
 * the database was away. */
static void item_fail_conn(struct store_writer *w, struct writer_item *it,
			   const char *what, const char *error)
{
	item_fail(it, what, error);
	it->result->unavailable = w->driver->error_unavailable != NULL &&
				  w->driver->error_unavailable(w->conn);
}

static void complete_task(void *arg)
{
	struct writer_item *it = arg;

	it->done(it->arg, it->result);
	free(it->changes.v);
	free(it);
}

/* NOTIFY the other nodes of the changes of the batch's live items, in its
 * transaction (store_bus.c). */
static int bus_send(struct store_writer *w, struct writer_item *list,
		    const char **error_r)
{
	struct store_changes all = { NULL, 0, 0 };
	int ret;

	for (struct writer_item *it = list; it != NULL; it = it->next) {
		if (it->failed || it->changes.n == 0)
			continue;
		all.v = xrealloc(all.v, (all.n + it->changes.n) * sizeof(*all.v));
		memcpy(all.v + all.n, it->changes.v,
		       it->changes.n * sizeof(*all.v));
		all.n += it->changes.n;
	}
	ret = store_bus_send(w->conn, atomic_load(&w->bus_node), all.v, all.n,
			     error_r);
	free(all.v);
	return ret;
}

/* Apply every live item inside one transaction. Returns false when the
 * database dropped the transaction (e.g. SQLITE_FULL in some paths): the
 * guilty item is marked failed and the caller runs the batch again; and
 * when the batch lost a deadlock (CONFLICT_RETRIES times at most): it was
 * rolled back and runs again as it was. */
static bool run_batch(struct store_writer *w, struct writer_item *list,
		      const char **error_r)
{
	const struct store_driver *d = w->driver;
	const char *error;

	*error_r = NULL;
	if (d->begin(w->conn, &error) < 0) {
		*error_r = error;
		return true;
	}
	for (struct writer_item *it = list; it != NULL; it = it->next) {
		if (it->failed)
			continue;
		result_reset(it->result);
		it->changes.n = 0;
		if (d->savepoint(w->conn, &error) < 0) {
			item_fail_conn(w, it, "store: ", error);
			if (!d->in_transaction(w->conn))
				return false;
			continue;
		}
		if (d->apply(w->conn, it->req, it->result, &it->changes,
			     &error) < 0) {
			/* Another node's batch waits for rows this one holds
			 * while this one waits for its: the database gave up
			 * this one. Let go of every lock, give the other a
			 * moment, and run the whole batch again. */
			if (d->error_retry != NULL && d->error_retry(w->conn) &&
			    w->conflicts < CONFLICT_RETRIES) {
				w->conflicts++;
				d->rollback(w->conn);
				usleep(1000 * w->conflicts);
				return false;
			}
			item_fail_conn(w, it, "", error);
			if (!d->in_transaction(w->conn))
				return false;
			d->rollback_to(w->conn);
			if (d->release(w->conn, &error) < 0 &&
			    !d->in_transaction(w->conn))
				return false;
			continue;
		}
		if (d->release(w->conn, &error) < 0) {
			item_fail_conn(w, it, "store: ", error);
			if (!d->in_transaction(w->conn))
				return false;
			d->rollback_to(w->conn);
		}
	}
	if (atomic_load(&w->bus_node) != 0 && bus_send(w, list, &error) < 0) {
		*error_r = error;
		d->rollback(w->conn);
	} else if (d->commit(w->conn, &error) < 0) {
		*error_r = error;
		d->rollback(w->conn);
	}
	return true;
}

static void process(struct store_writer *w, struct writer_item *list)
{
	const char *error;
	size_t n = 0, n_failed = 0;

	w->conflicts = 0;
	while (!run_batch(w, list, &error))
		;
	for (struct writer_item *it = list; it != NULL; it = it->next) {
		n++;
		if (error != NULL && !it->failed)
			item_fail_conn(w, it, "store commit failed: ", error);
		if (it->failed)
			n_failed++;
	}
	pthread_mutex_lock(&w->lock);
	w->stats.requests += n;
	w->stats.failed += n_failed;
	if (error == NULL)
		w->stats.commits++;
	pthread_mutex_unlock(&w->lock);

	pthread_mutex_lock(&w->subs_lock);
	for (struct writer_item *it = list; it != NULL; it = it->next) {
		for (size_t i = 0; i < it->changes.n; i++) {
			const struct store_change *c = &it->changes.v[i];
			for (size_t s = 0; s < w->n_subs; s++)
				w->subs[s].fn(w->subs[s].arg, c->user_id,
					      c->mailbox_id, c->modseq);
		}
	}
	pthread_mutex_unlock(&w->subs_lock);
	while (list != NULL) {
		struct writer_item *it = list;
		list = it->next;
		if (it->reply_queue != NULL)
			task_queue_post(it->reply_queue, complete_task, it);
		else
			complete_task(it);
	}
}

/* One piece of the driver's background work, when no request waits.
 * It is retried after the next batch when it fails (e.g. disk full).
 * Called with w->lock held, which it drops while the work runs. */
static void run_idle(struct store_writer *w)
{
	const char *error;
	int ret;

	pthread_mutex_unlock(&w->lock);
	ret = w->driver->idle(w->conn, &error);
	if (ret < 0)
		log_error(NULL, "store: background work: %s", error);
	w->idle_work = ret > 0;
	pthread_mutex_lock(&w->lock);
}

/* With w->lock held: wait IDLE_DELAY_MS for a request. True when none
 * came (nor a stop). */
static bool wait_quiet(struct store_writer *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += IDLE_DELAY_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (w->head == NULL && !w->stopping) {
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			return w->head == NULL && !w->stopping;
	}
	return false;
}

static void *writer_main(void *arg)
{
	struct store_writer *w = arg;

	for (;;) {
		struct writer_item *list;

		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping) {
			if (!w->idle_work) {
				pthread_cond_wait(&w->cond, &w->lock);
				continue;
			}
			if (w->quiet) {
				run_idle(w);
			} else if (wait_quiet(w)) {
				w->quiet = true;
				run_idle(w);
			}
		}
		if (w->head == NULL) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		list = w->head;
		w->head = NULL;
		w->tail = &w->head;
		pthread_mutex_unlock(&w->lock);
		process(w, list);
		/* new blobs may wait for the index */
		w->idle_work = true;
		w->quiet = false;
	}
	return NULL;
}

struct store_writer *store_writer_start(const struct store_driver *driver,
					struct store_conn *conn)
{
	struct store_writer *w = xcalloc(1, sizeof(*w));
	pthread_condattr_t attr;
	int ret;

	w->driver = driver;
	w->conn = conn;
	w->tail = &w->head;
	w->idle_work = true;	/* work left by an earlier run */
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->subs_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	ret = pthread_create(&w->thread, NULL, writer_main, w);
	if (ret != 0)
		PANIC("pthread_create: %s", strerror(ret));
	return w;
}

void store_writer_drain(struct store_writer *w)
{
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* writer_main() leaves only with nothing left to process */
	pthread_join(w->thread, NULL);
}

void store_writer_stop(struct store_writer **wp)
{
	struct store_writer *w = *wp;

	if (w == NULL)
		return;
	store_writer_drain(w);
	w->driver->conn_close(&w->conn);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->subs_lock);
	free(w->subs);
	free(w);
	*wp = NULL;
}

void store_writer_subscribe(struct store_writer *w, store_change_fn *fn,
			    void *arg)
{
	pthread_mutex_lock(&w->subs_lock);
	w->subs = xrealloc(w->subs, (w->n_subs + 1) * sizeof(*w->subs));
	w->subs[w->n_subs++] = (struct writer_sub){ fn, arg };
	pthread_mutex_unlock(&w->subs_lock);
}

void store_writer_set_bus(struct store_writer *w, uint64_t node_id)
{
	atomic_store(&w->bus_node, node_id);
}

void store_writer_publish(struct store_writer *w, int64_t user_id,
			  int64_t mailbox_id, uint64_t modseq)
{
	pthread_mutex_lock(&w->subs_lock);
	for (size_t s = 0; s < w->n_subs; s++)
		w->subs[s].fn(w->subs[s].arg, user_id, mailbox_id, modseq);
	pthread_mutex_unlock(&w->subs_lock);
}

void store_writer_submit(struct store_writer *w, const struct store_req *req,
			 struct task_queue *reply_queue, store_done_fn *done,
			 void *arg)
{
	struct writer_item *it = xcalloc(1, sizeof(*it));

	it->req = req;
	it->reply_queue = reply_queue;
	it->done = done;
	it->arg = arg;
	it->result = xcalloc(1, sizeof(*it->result));
	pthread_mutex_lock(&w->lock);
	ASSERT(!w->stopping);
	*w->tail = it;
	w->tail = &it->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void store_writer_stats(struct store_writer *w, struct store_stats *stats_r)
{
	pthread_mutex_lock(&w->lock);
	*stats_r = w->stats;
	pthread_mutex_unlock(&w->lock);
}
