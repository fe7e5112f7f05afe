/* cmd_config.c: posthorn config check: the config loads, and what
 * posthornd would refuse at start is caught here too: an unknown user or
 * group, certificate and key files that are missing, unreadable or do not
 * match, other files it reads, and listener addresses it cannot bind. */
#include "base/base.h"
#include "base/pidlock.h"
#include "cli/cli.h"
#include "net/net.h"
#include "net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct check {
	const struct config *cfg;
	unsigned problems;
	/* the posthornd running on this data dir, or 0 */
	long running;
};

static void problem(struct check *c, const char *fmt, ...) PRINTF_FMT(2, 3);
static void problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "posthorn: %s: problem: ", c->cfg->source);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->problems++;
}

static void note(const char *fmt, ...) PRINTF_FMT(1, 2);
static void note(const char *fmt, ...)
{
	va_list ap;

	fputs("  note: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void check_user(struct check *c, const char *user, const char *what)
{
	if (user != NULL && getpwnam(user) == NULL)
		problem(c, "%s: no user '%s' on this machine", what, user);
}

static void check_group(struct check *c, const char *group, const char *what)
{
	if (group != NULL && getgrnam(group) == NULL)
		problem(c, "%s: no group '%s' on this machine", what, group);
}

/* A file posthornd reads: 1 readable, 0 not readable by us but perhaps
 * by root (noted), -1 a problem (reported). */
static int check_file(struct check *c, const char *path, const char *what,
		      bool read_as_root)
{
	struct stat st;
	int fd;

	if (path == NULL)
		return 1;
	if (stat(path, &st) < 0) {
		problem(c, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(c, "%s %s: not a regular file", what, path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == EACCES && read_as_root && geteuid() != 0) {
		note("%s %s: not readable by uid %u (posthornd reads it as "
		     "root: run the check as root to test it)", what, path,
		     (unsigned)geteuid());
		return 0;
	}
	problem(c, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

static void check_tls(struct check *c)
{
	const struct config *cfg = c->cfg;
	char *error = NULL;
	struct net_tls *tls;
	int cert, key;

	if (cfg->tls.cert == NULL)
		return;
	cert = check_file(c, cfg->tls.cert, "[tls] cert", true);
	key = check_file(c, cfg->tls.key, "[tls] key", true);
	if (cert <= 0 || key <= 0)
		return;
	/* what the daemon does at start: the chain, the key, their match */
	tls = net_tls_new(cfg->tls.cert, cfg->tls.key,
			  cfg->tls.min_version == CONFIG_TLS_VERSION_1_3 ?
			  "1.3" : "1.2", cfg->tls.ciphers, &error);
	if (tls == NULL) {
		problem(c, "%s", error);
		free(error);
		return;
	}
	net_tls_unref(&tls);
}

/* Bind it as posthornd would, without listening. The address must exist
 * here (a probe on port 0); the port must be free, unless the posthornd
 * of this data dir holds it, or it is below 1024 and we are not root. */
static void check_tcp(struct check *c, const struct config_listener *l,
		      const char *address)
{
	char *error = NULL;
	int err = net_probe_tcp(address, 0, &error);

	if (err != 0) {
		problem(c, "listener %s: %s%s", l->name, error,
			err == EADDRNOTAVAIL ? ": the address is not on this "
			"machine" : "");
		free(error);
		return;
	}
	err = net_probe_tcp(address, l->port, &error);
	if (err == EADDRINUSE && c->running != 0)
		note("listener %s: %s port %u is in use, by the posthornd "
		     "(pid %ld) running on this data dir as it seems", l->name,
		     address, l->port, c->running);
	else if (err == EACCES && geteuid() != 0)
		note("listener %s: port %u needs root to bind (posthornd binds "
		     "it as root): not checked", l->name, l->port);
	else if (err != 0)
		problem(c, "listener %s: %s", l->name, error);
	free(error);
}

/* A unix socket: its directory must exist; what is at the path must be
 * nothing, a socket nobody listens on, or the running daemon's. */
static void check_unix(struct check *c, const struct config_listener *l)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *dir = xstrdup(l->path), *slash = strrchr(dir, '/');
	struct stat st;
	int fd;

	if (slash != NULL && slash != dir)
		*slash = '\0';
	/* the data dir itself is made at start (check_data_dir) */
	if ((stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) &&
	    strcmp(dir, c->cfg->server.data_dir) != 0)
		problem(c, "listener %s: the directory %s of %s does not exist",
			l->name, dir, l->path);
	free(dir);
	if (lstat(l->path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode)) {
		problem(c, "listener %s: %s exists and is not a socket",
			l->name, l->path);
		return;
	}
	if (c->running != 0 || strlen(l->path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, l->path, strlen(l->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		problem(c, "listener %s: another process listens on %s",
			l->name, l->path);
	if (fd >= 0)
		close(fd);
}

/* posthornd creates the data dir (not its parents) at start. */
static void check_data_dir(struct check *c)
{
	const char *dir = c->cfg->server.data_dir, *slash = strrchr(dir, '/');
	struct stat st;
	char *parent;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			problem(c, "[server] data_dir %s is not a directory", dir);
		return;
	}
	parent = slash != NULL && slash != dir ?
		 xstrndup(dir, (size_t)(slash - dir)) : xstrdup("/");
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		problem(c, "[server] data_dir %s: its parent %s does not exist",
			dir, parent);
	else
		note("[server] data_dir %s does not exist yet: posthornd creates "
		     "it", dir);
	free(parent);
}

static void check_listeners(struct check *c)
{
	for (unsigned i = 0; i < c->cfg->listener_count; i++) {
		const struct config_listener *l = &c->cfg->listeners[i];
		char *what = xasprintf("listener %s group", l->name);

		check_group(c, l->group, what);
		free(what);
		if (l->path != NULL) {
			char *owner = xasprintf("listener %s owner", l->name);

			check_user(c, l->owner, owner);
			free(owner);
			check_unix(c, l);
		}
		for (unsigned a = 0; a < l->address_count; a++)
			check_tcp(c, l, l->addresses[a]);
	}
}

static void print_listeners(const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->listener_count; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		printf("  %-12s %-11s tls=%-8s ", l->name,
		       config_protocol_name(l->protocol), config_tls_mode_name(l->tls));
		if (l->path != NULL)
			printf("%s (mode %04o)\n", l->path, l->mode);
		for (unsigned a = 0; a < l->address_count; a++)
			printf("%s%s:%u%s", a > 0 ? " " : "", l->addresses[a], l->port,
			       a + 1 == l->address_count ? "\n" : "");
	}
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
	struct check c = { 0 };
	char *lock, *error = NULL;
	const struct config *cfg;
	int ret;

	if (argc != 1 || strcmp(argv[0], "check") != 0)
		return CLI_USAGE;
	if ((ret = cli_load_config(cli)) != CLI_OK)
		return ret;
	c.cfg = cfg = cli->cfg;
	lock = xasprintf("%s/" CONFIG_DATA_DIR_LOCK, cfg->server.data_dir);
	c.running = (long)pidlock_holder(lock, &error);
	if (c.running < 0) {
		printf("  note: %s\n", error);
		free(error);
		c.running = 0;
	}
	free(lock);
	printf("%s: %u listener%s, data dir %s%s\n", cfg->source,
	       cfg->listener_count, cfg->listener_count == 1 ? "" : "s",
	       cfg->server.data_dir, c.running != 0 ? " (posthornd runs there)" : "");
	check_data_dir(&c);
	check_user(&c, cfg->server.user, "[server] user");
	check_group(&c, cfg->server.group, "[server] group");
	check_tls(&c);
	check_file(&c, cfg->relay.password_file, "[relay] password_file", false);
	check_file(&c, cfg->dns.trust_anchor, "[dns] trust_anchor", false);
	check_file(&c, cfg->delivery.ca_file, "[delivery] ca_file", false);
	check_listeners(&c);
	if (cfg->server.admin == NULL)
		note("no [server] admin: mail for root, postmaster, abuse and "
		     "mailer-daemon@%s will be refused", cfg->server.origin);
	print_listeners(cfg);
	if (c.problems > 0) {
		fprintf(stderr, "posthorn: %s: %u problem%s found, posthornd "
			"would not start\n", cfg->source, c.problems,
			c.problems == 1 ? "" : "s");
		return CLI_CONFIG;
	}
	printf("%s: ok\n", cfg->source);
	return CLI_OK;
}
