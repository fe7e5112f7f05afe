/* Unit tests for daemon/keyhelper: the helper returns the bytes of the two
 * files named at its start, as they are at each request; a file it cannot
 * read is an error it survives; it is reaped at stop. (As the test's user:
 * the root-only case is in tests/integration/test_reload.py.) */
#include "unit.h"

#include "daemon/keyhelper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], cert_path[128], key_path[128];

static void put(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
}

static void expect(struct keyhelper *h, const char *cert, const char *key)
{
	char *c = NULL, *k = NULL, *error = NULL;
	size_t cl = 0, kl = 0;

	if (keyhelper_fetch(h, &c, &cl, &k, &kl, &error) < 0)
		fail_msg("fetch: %s", error);
	assert_int_equal(cl, strlen(cert));
	assert_memory_equal(c, cert, cl);
	assert_int_equal(kl, strlen(key));
	assert_memory_equal(k, key, kl);
	free(c);
	free(k);
}

static void test_fetch(void **state)
{
	char *error = NULL, *c, *k;
	size_t cl, kl;
	struct keyhelper *h;
	pid_t pid;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_keyhelper.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	put(cert_path, "CERT ONE\n", 9);
	put(key_path, "KEY ONE\n", 8);
	h = keyhelper_start(cert_path, key_path, &error);
	assert_non_null(h);
	pid = (pid_t)keyhelper_pid(h);
	assert_true(pid > 0);
	expect(h, "CERT ONE\n", "KEY ONE\n");
	/* renewed: the next request reads the new files */
	put(cert_path, "CERT TWO, longer\n", 17);
	put(key_path, "", 0);
	expect(h, "CERT TWO, longer\n", "");
	/* a file it cannot read: the error, and it goes on */
	unlink(key_path);
	assert_int_equal(keyhelper_fetch(h, &c, &cl, &k, &kl, &error), -1);
	assert_non_null(strstr(error, "key helper: cannot read "));
	assert_non_null(strstr(error, key_path));
	free(error);
	put(key_path, "KEY THREE\n", 10);
	expect(h, "CERT TWO, longer\n", "KEY THREE\n");
	/* larger than it returns */
	FILE *f = fopen(cert_path, "w");

	assert_int_equal(ftruncate(fileno(f), KEYHELPER_MAX_FILE + 1), 0);
	fclose(f);
	assert_int_equal(keyhelper_fetch(h, &c, &cl, &k, &kl, &error), -1);
	assert_non_null(strstr(error, "not a regular file of at most"));
	free(error);
	keyhelper_stop(&h);
	assert_null(h);
	/* reaped: no such child any more */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
}

/* A helper that died: the fetch says so instead of hanging. */
static void test_gone(void **state)
{
	char *error = NULL, *c, *k;
	size_t cl, kl;
	struct keyhelper *h = keyhelper_start("/nonexistent/c", "/nonexistent/k",
					      &error);

	(void)state;
	assert_non_null(h);
	kill((pid_t)keyhelper_pid(h), SIGKILL);
	assert_int_equal(keyhelper_fetch(h, &c, &cl, &k, &kl, &error), -1);
	assert_non_null(strstr(error, "does not answer"));
	free(error);
	/* and stays failed */
	assert_int_equal(keyhelper_fetch(h, &c, &cl, &k, &kl, &error), -1);
	free(error);
	keyhelper_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_gone),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
