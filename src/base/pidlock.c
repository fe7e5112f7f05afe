/* pidlock.c: fcntl(F_SETLK) on a pid file; F_GETLK tells who holds it. */
#include "base/pidlock.h"
#include "base/str.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* The pid written in the file, for when F_GETLK cannot name the holder
 * (another pid namespace reports 0). */
static pid_t pidlock_read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t pid;
	struct str s;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = str_trim(str_c(buf));
	return str_to_u64(s, INT32_MAX, &pid) ? (pid_t)pid : 0;
}

static pid_t pidlock_query(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid > 0 ? fl.l_pid : pidlock_read_pid(fd);
}

int pidlock_take(const char *path, pid_t *holder_r, char **error_r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char pid[32];
	int fd, n;

	*holder_r = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		*error_r = xasprintf("cannot open the lock file %s: %s", path,
				     strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int err = errno;

		if (err == EAGAIN || err == EACCES) {
			*holder_r = pidlock_query(fd);
			*error_r = xasprintf("%s is locked by process %ld",
					     path, (long)*holder_r);
		} else {
			*error_r = xasprintf("cannot lock %s: %s", path,
					     strerror(err));
		}
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		*error_r = xasprintf("cannot write %s: %s", path,
				     strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

pid_t pidlock_holder(const char *path, char **error_r)
{
	pid_t pid;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = xasprintf("cannot open the lock file %s: %s", path,
				     strerror(errno));
		return -1;
	}
	pid = pidlock_query(fd);
	close(fd);
	return pid;
}
