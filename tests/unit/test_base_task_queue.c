/* Unit tests for base/task_queue: order, cross-thread posting, the fd. */
#include "unit.h"

#include <poll.h>
#include <pthread.h>

#include "base/task_queue.h"

static void add_one(void *arg)
{
	(*(int *)arg)++;
}

static void record(void *arg)
{
	static int seq;
	*(int *)arg = ++seq;
}

static void test_order_and_fd(void **state)
{
	struct task_queue *q = task_queue_new();
	struct pollfd pfd = { .fd = task_queue_fd(q), .events = POLLIN };
	int a = 0, b = 0;

	(void)state;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	task_queue_post(q, record, &a);
	task_queue_post(q, record, &b);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(task_queue_run(q), 2);
	assert_true(a < b);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(task_queue_run(q), 0);
	task_queue_free(&q);
	assert_null(q);
}

#define POSTERS 4
#define POSTS 10000

static struct task_queue *shared_q;
static int counter;

static void *poster(void *arg)
{
	(void)arg;
	for (int i = 0; i < POSTS; i++)
		task_queue_post(shared_q, add_one, &counter);
	return NULL;
}

static void test_many_threads(void **state)
{
	pthread_t th[POSTERS];
	struct pollfd pfd;
	size_t ran = 0;

	(void)state;
	shared_q = task_queue_new();
	pfd = (struct pollfd){ .fd = task_queue_fd(shared_q), .events = POLLIN };
	for (int i = 0; i < POSTERS; i++)
		pthread_create(&th[i], NULL, poster, NULL);
	while (ran < POSTERS * POSTS) {
		assert_true(poll(&pfd, 1, 5000) == 1);
		ran += task_queue_run(shared_q);
	}
	for (int i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	ran += task_queue_run(shared_q);
	assert_int_equal(ran, POSTERS * POSTS);
	assert_int_equal(counter, POSTERS * POSTS);
	task_queue_free(&shared_q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_fd),
		cmocka_unit_test(test_many_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
