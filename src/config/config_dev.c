/* config_dev.c: write the development config (posthornd --dev): every
 * protocol on 127.0.0.1, data and TLS files in one directory, no root. */
#include "config/config.h"

#include "base/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;	/* also the protocol */
	unsigned int port;
} dev_listeners[] = {
	{ "smtp", 2525 },
	{ "submission", 2587 },
	{ "submissions", 2465 },
	{ "imap", 2143 },
	{ "imaps", 2993 },
	{ "pop3", 2110 },
	{ "pop3s", 2995 },
	{ "lmtp", 2424 },
	{ "http", 2080 },
};

char *config_dev_path(const char *dir)
{
	return xasprintf("%s/posthorn.conf", dir);
}

static char *dev_text(const char *dir, const char *conninfo)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_printf(&b,
		"; Posthorn development configuration, written by posthornd --dev.\n"
		"; Everything lives in this directory and nothing needs root.\n"
		"; posthornd --port-offset N adds N to every port below.\n"
		"; docs/config.md describes every key.\n"
		"\n"
		"[server]\n"
		"data_dir = %s\n"
		"; empty: keep running as the user who started posthornd\n"
		"user =\n"
		"group =\n"
		"; create demo domains, users and mail on first start\n"
		"dev = yes\n"
		"\n"
		"[log]\n"
		"target = stderr\n"
		"level = info\n"
		"\n"
		"[tls]\n"
		"; posthornd --dev creates a self-signed certificate here\n"
		"cert = %s/tls/cert.pem\n"
		"key = %s/tls/key.pem\n"
		"\n"
		"[store]\n",
		dir, dir, dir);
	if (conninfo != NULL)
		strbuf_printf(&b, "driver = pgsql\nconninfo = %s\n", conninfo);
	else
		strbuf_printf(&b, "driver = sqlite\npath = %s/posthorn.db\n", dir);
	strbuf_append_c(&b,
		"fsync = yes\n"
		"\n"
		"[auth]\n"
		"; password logins without TLS, but only from this machine\n"
		"allow_plaintext = loopback\n");
	for (size_t i = 0; i < ARRAY_SIZE(dev_listeners); i++)
		strbuf_printf(&b, "\n[listener %s]\nprotocol = %s\n"
			      "address = 127.0.0.1\nport = %u\n",
			      dev_listeners[i].name, dev_listeners[i].name,
			      dev_listeners[i].port);
	strbuf_printf(&b, "\n; the sendmail command submits here\n"
		      "[listener local]\nprotocol = local\npath = %s/sendmail.sock\n",
		      dir);
	return strbuf_detach(&b, NULL);
}

/* mkdir -p, each missing directory with mode 0700. */
static int make_dirs(char *path, char **error_r)
{
	struct stat st;

	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*error_r = xasprintf("cannot create directory %s: %s",
					     path, strerror(errno));
			*p = c;
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = xasprintf("%s is not a directory", path);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The file appears complete or not at all: written under a temporary name,
 * then linked into place, which also never replaces a file someone wrote
 * in the meantime. */
static int dev_write_file(const char *path, const char *text, char **error_r)
{
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("cannot create %s: %s", tmp,
				     strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("cannot write %s: %s", tmp,
				     strerror(errno));
		close(fd);
	} else if (close(fd) < 0) {
		*error_r = xasprintf("cannot write %s: %s", tmp,
				     strerror(errno));
	} else if (link(tmp, path) == 0) {
		ret = 1;
	} else if (errno == EEXIST) {
		ret = 0;
	} else {
		*error_r = xasprintf("cannot create %s: %s", path,
				     strerror(errno));
	}
	unlink(tmp);
	free(tmp);
	return ret;
}

int config_dev_write(const char *dir, const char *conninfo, char **error_r)
{
	struct config *cfg;
	struct stat st;
	char *abs, *path, *text, *error;
	int ret = -1;

	if (dir[0] == '\0') {
		*error_r = xstrdup("the development data directory is empty");
		return -1;
	}
	if (dir[0] == '/') {
		abs = xstrdup(dir);
	} else {
		char *cwd = getcwd(NULL, 0);

		if (cwd == NULL) {
			*error_r = xasprintf("cannot resolve %s: getcwd: %s",
					     dir, strerror(errno));
			return -1;
		}
		abs = xasprintf("%s/%s", cwd, dir);
		free(cwd);
	}
	for (size_t n = strlen(abs); n > 1 && abs[n - 1] == '/'; n--)
		abs[n - 1] = '\0';

	path = config_dev_path(abs);
	if (lstat(path, &st) == 0) {
		ret = 0;
		goto out;
	}
	/* ENOTDIR: a file in the way, which make_dirs reports below. */
	if (errno != ENOENT && errno != ENOTDIR) {
		*error_r = xasprintf("cannot check %s: %s", path,
				     strerror(errno));
		goto out;
	}

	/* Load what we are about to write: a directory name the INI syntax
	 * cannot carry (a newline, " ;", a line too long) fails here. */
	text = dev_text(abs, conninfo);
	cfg = config_parse_string(text, path, NULL, &error);
	if (cfg == NULL) {
		*error_r = xasprintf("cannot write a development config for "
				     "%s: %s", abs, error);
		free(error);
	} else if (strcmp(cfg->server.data_dir, abs) != 0) {
		*error_r = xasprintf("cannot write a development config for "
				     "%s: the name does not survive the INI "
				     "syntax", abs);
	} else if (conninfo != NULL && (cfg->store.conninfo == NULL ||
			strcmp(cfg->store.conninfo, conninfo) != 0)) {
		*error_r = xasprintf("cannot write a development config for "
				     "%s: the conninfo does not survive the INI "
				     "syntax", abs);
	} else if (make_dirs(abs, error_r) == 0) {
		ret = dev_write_file(path, text, error_r);
	}
	config_free(&cfg);
	free(text);
out:
	free(path);
	free(abs);
	return ret;
}
