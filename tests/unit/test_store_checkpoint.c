/* Unit test for the store's WAL checkpoints: once the writer goes idle the
 * WAL is copied into the database file (readers then skip the WAL), and
 * what a new reader sees afterwards is what was written. */
#include "test_store_util.h"

#include <sys/stat.h>
#include <time.h>

enum { MESSAGES = 300, BODY = 3000 };

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_idle_writer_checkpoints(void **state)
{
	struct store_target tg = { 0 };
	struct store_req req = { .type = STORE_REQ_DELIVER };
	struct tstore t;
	const char *error;
	char *msg = xmalloc(BODY + 64);
	size_t n;
	int waited_ms = 0;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	tg.user_id = tstore_user(&t, "bob@example.com");
	req.u.deliver.targets = &tg;
	req.u.deliver.n_targets = 1;
	for (int i = 0; i < MESSAGES; i++) {
		n = (size_t)snprintf(msg, 64, "Subject: %d\r\n\r\n", i);
		memset(msg + n, 'a' + i % 26, BODY - 2);
		memcpy(msg + n + BODY - 2, "\r\n", 2);
		req.u.deliver.data = msg;
		req.u.deliver.size = n + BODY;
		tstore_ok(&t, &req);
	}
	/* ~1 MB of messages: only a checkpoint puts it in the database
	 * file; without one the file keeps the size of its first pages. */
	while (file_size(t.path) < MESSAGES * BODY && waited_ms < 10000) {
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000L }, NULL);
		waited_ms += 20;
	}
	assert_true(file_size(t.path) >= MESSAGES * BODY);

	tstore_close(&t);
	tstore_open_at(&t, 0);
	assert_int_equal(store_blob_count(t.reader, &error), MESSAGES);
	free(msg);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_writer_checkpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
