/* reader_set.h: one store reader per I/O thread for a front-end, created
 * on the thread's first use and freed with the front-end. */
#ifndef POSTHORN_PROTO_COMMON_READER_SET_H
#define POSTHORN_PROTO_COMMON_READER_SET_H

#include "net/conn.h"
#include "store/store.h"

#include <pthread.h>

struct reader_set {
	struct store *const *storep;	/* read at each creation */
	pthread_mutex_t lock;		/* guards the array, not the readers */
	struct store_reader **readers;	/* by I/O thread index */
	size_t n;
};

/* *storep must be set before the first reader_set_get() and outlive the
 * set (the daemon binds its listeners before it opens the store). */
void reader_set_init(struct reader_set *set, struct store *const *storep);
/* After every I/O thread has stopped: frees the readers. */
void reader_set_deinit(struct reader_set *set);
/* The reader of conn's I/O thread, created on first use; NULL (logged with
 * conn's session id) when the store cannot give one. */
struct store_reader *reader_set_get(struct reader_set *set, struct conn *conn);

#endif
