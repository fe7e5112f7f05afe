/* privs.c: setgroups/setgid/setuid, then prove root cannot come back. */
#include "base/base.h"
#include "daemon/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

int privs_drop(const char *user, const char *group, const char *data_dir,
	       char **error_r)
{
	struct passwd *pw;
	gid_t gid;

	if (geteuid() != 0 || user == NULL || user[0] == '\0')
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = xasprintf("unknown user '%s' (server.user)", user);
		return -1;
	}
	gid = pw->pw_gid;
	if (group != NULL && group[0] != '\0') {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			*error_r = xasprintf("unknown group '%s' (server.group)", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (data_dir != NULL) {
		if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
			*error_r = xasprintf("cannot create %s: %s", data_dir,
					     strerror(errno));
			return -1;
		}
		if (chown(data_dir, pw->pw_uid, gid) != 0) {
			*error_r = xasprintf("cannot give %s to %s: %s", data_dir,
					     user, strerror(errno));
			return -1;
		}
	}
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
		*error_r = xasprintf("cannot switch to user %s: %s", user,
				     strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		*error_r = xstrdup("could regain root after dropping it");
		return -1;
	}
	return 0;
}
