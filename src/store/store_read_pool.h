/* store_read_pool.h: store reads as requests, for reads that may wait (on
 * disk, or on the network with PostgreSQL): a few threads, each with its
 * own store reader, run the read and complete it on the submitter's task
 * queue, as the writer completes a write. Built on the reader API of
 * store.h only. */
#ifndef POSTHORN_STORE_STORE_READ_POOL_H
#define POSTHORN_STORE_STORE_READ_POOL_H

#include "store/store.h"

struct store_read_pool;

/* The read, on a pool thread: r is that thread's reader, NULL when it
 * could not be opened (the read must then fail, e.g. as a temporary
 * failure). arg is the submitter's; results go into it. */
typedef void store_read_fn(struct store_reader *r, void *arg);

/* threads >= 1. *storep is read when a thread opens its reader (on its
 * first read), so the pool may be made before the store is open; the
 * store must outlive the pool. */
struct store_read_pool *store_read_pool_new(struct store *const *storep,
					    unsigned threads);
/* Run fn(reader, arg) on a pool thread, then done(arg) on reply's thread
 * (never before this returns). reply NULL: nothing is posted (done must
 * be NULL; fn owns arg), for work nobody waits for. */
void store_read_submit(struct store_read_pool *pool, store_read_fn *fn,
		       void *arg, struct task_queue *reply, task_fn *done);
/* Finish the reads already submitted (their completions are posted) and
 * free the threads' readers; a later submit runs the read with a NULL
 * reader. Before store_close(). Idempotent. */
void store_read_pool_drain(struct store_read_pool *pool);
void store_read_pool_free(struct store_read_pool **pool);
unsigned store_read_pool_threads(const struct store_read_pool *pool);

#endif
