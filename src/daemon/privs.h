/* privs.h: drop root after the ports are bound and the key is read. */
#ifndef POSTHORN_DAEMON_PRIVS_H
#define POSTHORN_DAEMON_PRIVS_H

/* Switch to user (and group, or the user's primary group when group is
 * NULL or empty) for good. When not running as root, or when user is NULL
 * or empty, nothing changes and 0 is returned. When data_dir is given it
 * is created if needed and handed to the user first, so the store can be
 * written after the switch. Returns -1 with a malloc'd *error_r when the
 * switch fails; the caller must then exit. */
int privs_drop(const char *user, const char *group, const char *data_dir,
	       char **error_r);

#endif
