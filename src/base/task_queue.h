/* task_queue.h: hand a callback to another thread. Any thread posts; the
 * owning thread watches task_queue_fd() in its event loop and runs what
 * waits. This is how the store writer completes a request on the I/O thread
 * that made it, without the store knowing about event loops. */
#ifndef POSTHORN_BASE_TASK_QUEUE_H
#define POSTHORN_BASE_TASK_QUEUE_H

#include "base/base.h"

typedef void task_fn(void *arg);
struct task_queue;

struct task_queue *task_queue_new(void);
/* Tasks still waiting are dropped without running. */
void task_queue_free(struct task_queue **q);
/* Thread-safe; never blocks on the consumer. Tasks run in posting order. */
void task_queue_post(struct task_queue *q, task_fn *fn, void *arg);
/* An eventfd, readable while tasks wait. */
int task_queue_fd(const struct task_queue *q);
/* Run every task that waits, on the calling thread; returns how many ran. */
size_t task_queue_run(struct task_queue *q);

#endif
