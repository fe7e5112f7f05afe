/* Unit tests for base/pidlock: the lock holds against another process,
 * which learns the holder's pid; the kernel drops it at exit. */
#include "unit.h"

#include "base/pidlock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], path[128];

/* In a child: try the lock; exit 0 when refused naming parent. */
static int child_tries(pid_t parent)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		char *error = NULL;
		pid_t holder;
		int fd = pidlock_take(path, &holder, &error);

		_exit(fd < 0 && holder == parent && error != NULL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_lock(void **state)
{
	char *error = NULL, buf[32] = "";
	pid_t holder = 99;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_pidlock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.lock", dir);
	assert_int_equal(pidlock_holder(path, &error), 0);	/* no file */
	fd = pidlock_take(path, &holder, &error);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
	assert_int_equal(atol(buf), (long)getpid());
	assert_int_equal(child_tries(getpid()), 0);

	/* a child that holds it and dies: the lock goes with it */
	int sv[2];
	char c;

	close(fd);
	assert_int_equal(pipe(sv), 0);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t h;
		int lfd = pidlock_take(path, &h, &error);

		c = lfd >= 0 ? 'y' : 'n';
		if (write(sv[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(sv[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(pidlock_holder(path, &error), pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(pidlock_holder(path, &error), 0);
	fd = pidlock_take(path, &holder, &error);
	assert_true(fd >= 0);
	close(fd);
	close(sv[0]);
	close(sv[1]);

	/* a directory that is not there */
	snprintf(buf, sizeof(buf), "/nonexistent/x");
	assert_int_equal(pidlock_take(buf, &holder, &error), -1);
	assert_int_equal(holder, 0);
	assert_non_null(strstr(error, "/nonexistent/x"));
	free(error);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
