/* keyhelper.h: a small process that keeps root after posthornd drops it,
 * so that SIGHUP can re-read a TLS key only root may read (certificate
 * renewal hooks). It reads the two files named at its start, and nothing
 * else, whenever the daemon asks, and returns their bytes. */
#ifndef POSTHORN_DAEMON_KEYHELPER_H
#define POSTHORN_DAEMON_KEYHELPER_H

#include "base/base.h"

/* The largest file the helper returns. */
#define KEYHELPER_MAX_FILE (1024 * 1024)

struct keyhelper;

/* Fork the helper. Call while the process has one thread and still runs
 * as root. The child keeps no fd but its end of a socket pair, ignores
 * SIGINT and SIGHUP and dies with the daemon. NULL and a malloc'd
 * *error_r on failure. */
struct keyhelper *keyhelper_start(const char *cert_path, const char *key_path,
				  char **error_r);
/* Ask for both files (blocks, at most 10 s): *cert_r and *key_r are
 * malloc'd (wipe the key with secure_zero() before freeing it). -1 with
 * a malloc'd *error_r: what the helper could not read, or that it is gone. */
int keyhelper_fetch(struct keyhelper *h, char **cert_r, size_t *cert_len_r,
		    char **key_r, size_t *key_len_r, char **error_r);
/* The helper's pid, for logs. */
long keyhelper_pid(const struct keyhelper *h);
/* Close its socket (it exits), reap it, free; NULL is fine. */
void keyhelper_stop(struct keyhelper **h);

#endif
