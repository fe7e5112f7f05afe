/* pidlock.h: an exclusive lock on a file that holds its holder's pid, so
 * that one process at a time owns a directory (one posthornd per data
 * dir). fcntl record locks: the kernel drops them when the holder exits,
 * however it exits, and a fork()ed child does not inherit them. */
#ifndef POSTHORN_BASE_PIDLOCK_H
#define POSTHORN_BASE_PIDLOCK_H

#include "base/base.h"

#include <sys/types.h>

/* Take the lock on path (created with mode 0644 when missing) and write
 * our pid into the file. Returns the fd to keep open for as long as the
 * lock is needed: a POSIX record lock is dropped when the process closes
 * ANY fd of the file, so the holder must never open it again. When
 * another process holds it: -1 with *holder_r its pid (0 when it cannot
 * be told) and a malloc'd *error_r; on other failures -1, *holder_r 0 and
 * *error_r. */
int pidlock_take(const char *path, pid_t *holder_r, char **error_r);

/* The pid of the process holding the lock on path: 0 when nobody holds it
 * or the file does not exist, -1 with a malloc'd *error_r when that
 * cannot be told. Not for the holder itself (see above). */
pid_t pidlock_holder(const char *path, char **error_r);

#endif
