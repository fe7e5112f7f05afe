/* task_queue.c: mutex-protected list plus an eventfd that is written only
 * when the list goes from empty to not empty. */
#include "base/task_queue.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct task {
	struct task *next;
	task_fn *fn;
	void *arg;
};

struct task_queue {
	pthread_mutex_t lock;
	struct task *head, **tail;
	int fd;
};

struct task_queue *task_queue_new(void)
{
	struct task_queue *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	q->tail = &q->head;
	q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->fd < 0)
		PANIC("eventfd: %s", strerror(errno));
	return q;
}

void task_queue_free(struct task_queue **qp)
{
	struct task_queue *q = *qp;

	if (q == NULL)
		return;
	while (q->head != NULL) {
		struct task *t = q->head;
		q->head = t->next;
		free(t);
	}
	close(q->fd);
	pthread_mutex_destroy(&q->lock);
	free(q);
	*qp = NULL;
}

void task_queue_post(struct task_queue *q, task_fn *fn, void *arg)
{
	struct task *t = xmalloc(sizeof(*t));
	bool was_empty;

	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&q->lock);
	was_empty = q->head == NULL;
	*q->tail = t;
	q->tail = &t->next;
	pthread_mutex_unlock(&q->lock);
	if (was_empty) {
		uint64_t one = 1;
		/* EAGAIN means the counter is already non-zero: fine. */
		if (write(q->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			PANIC("eventfd write: %s", strerror(errno));
	}
}

int task_queue_fd(const struct task_queue *q)
{
	return q->fd;
}

size_t task_queue_run(struct task_queue *q)
{
	uint64_t count;
	struct task *list;
	size_t ran = 0;

	if (read(q->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		PANIC("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&q->lock);
	list = q->head;
	q->head = NULL;
	q->tail = &q->head;
	pthread_mutex_unlock(&q->lock);
	while (list != NULL) {
		struct task *t = list;
		list = t->next;
		t->fn(t->arg);
		free(t);
		ran++;
	}
	return ran;
}
