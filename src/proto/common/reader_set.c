/* reader_set.c: per-I/O-thread store readers shared by the sessions of a
 * front-end (a reader is used by one thread only). */
#include "base/log.h"
#include "net/net.h"
#include "proto/common/reader_set.h"

#include <stdlib.h>

void reader_set_init(struct reader_set *set, struct store *const *storep)
{
	set->storep = storep;
	set->readers = NULL;
	set->n = 0;
	pthread_mutex_init(&set->lock, NULL);
}

void reader_set_deinit(struct reader_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		store_reader_free(&set->readers[i]);
	free(set->readers);
	set->readers = NULL;
	set->n = 0;
	pthread_mutex_destroy(&set->lock);
}

struct store_reader *reader_set_get(struct reader_set *set, struct conn *conn)
{
	size_t i = net_thread_index(conn_thread(conn));
	struct store_reader *reader;

	pthread_mutex_lock(&set->lock);
	if (i >= set->n) {
		set->readers = xrealloc(set->readers,
					(i + 1) * sizeof(*set->readers));
		for (size_t j = set->n; j <= i; j++)
			set->readers[j] = NULL;
		set->n = i + 1;
	}
	reader = set->readers[i];
	pthread_mutex_unlock(&set->lock);
	if (reader == NULL) {
		char *error = NULL;

		/* Only this thread ever fills slot i. */
		reader = store_reader_new(*set->storep, &error);
		if (reader == NULL) {
			log_error(conn_sid(conn), "store reader: %s", error);
			free(error);
			return NULL;
		}
		pthread_mutex_lock(&set->lock);
		set->readers[i] = reader;
		pthread_mutex_unlock(&set->lock);
	}
	return reader;
}
