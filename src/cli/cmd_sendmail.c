/* cmd_sendmail.c: `posthorn sendmail` (and `sendmail`, by argv[0]): the
 * sendmail-compatible way for local programs to send mail. Reads the
 * message on stdin and submits it over SMTP to the daemon's local socket,
 * which knows the caller by its uid and qualifies bare names ("root")
 * with its origin domain. Exit codes from sysexits.h. */
#include "base/base.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "queue/queue_sendmail.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS (10 * 60 * 1000)	/* RFC 5321 4.5.3.2.6 for DATA */
#define REPLY_LINE_MAX 2048

struct sendmail {
	struct queue_sendmail_opts opts;
	const char *sender;		/* -f / -r, or NULL */
	char **rcpts;			/* command line */
	size_t n_rcpts;
	int fd;
	char buf[4096];
	size_t buf_start, buf_end;
	/* the last reply: code and its text, one line per line */
	int code;
	char text[REPLY_LINE_MAX * 4];
	bool esmtp_8bitmime, esmtp_smtputf8;
};

static void sendmail_usage(void)
{
	fputs("usage: sendmail [-t] [-i|-oi] [-f sender] [-F fullname] [-bm]\n"
	      "                [-C config] [--] [recipient ...]\n"
	      "Reads a message on standard input and submits it to posthornd.\n",
	      stderr);
}

/* ---- the SMTP exchange over the local socket ---- */

static int read_more(struct sendmail *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (s->buf_start > 0) {
		memmove(s->buf, s->buf + s->buf_start, s->buf_end - s->buf_start);
		s->buf_end -= s->buf_start;
		s->buf_start = 0;
	}
	if (s->buf_end == sizeof(s->buf))
		return -1;	/* a reply line longer than the buffer */
	while ((r = poll(&pfd, 1, REPLY_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	while ((n = read(s->fd, s->buf + s->buf_end,
			 sizeof(s->buf) - s->buf_end)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		if (n == 0)
			errno = ECONNRESET;
		return -1;
	}
	s->buf_end += (size_t)n;
	return 0;
}

/* Read one (multiline) reply into s->code and s->text. 0 or -1 when the
 * connection broke or the reply is malformed. */
static int read_reply(struct sendmail *s)
{
	size_t tlen = 0;

	s->text[0] = '\0';
	for (;;) {
		char *start = s->buf + s->buf_start, *nl;

		nl = memchr(start, '\n', s->buf_end - s->buf_start);
		if (nl == NULL) {
			if (read_more(s) < 0)
				return -1;
			continue;
		}
		size_t len = (size_t)(nl - start);

		s->buf_start += len + 1;
		if (len > 0 && start[len - 1] == '\r')
			len--;
		if (len < 3 || start[0] < '2' || start[0] > '5' ||
		    start[1] < '0' || start[1] > '9' || start[2] < '0' ||
		    start[2] > '9' || (len > 3 && start[3] != ' ' &&
				       start[3] != '-'))
			return -1;
		s->code = (start[0] - '0') * 100 + (start[1] - '0') * 10 +
			(start[2] - '0');
		if (len > 4 && tlen + len < sizeof(s->text) - 2) {
			if (tlen > 0)
				s->text[tlen++] = ' ';
			memcpy(s->text + tlen, start + 4, len - 4);
			tlen += len - 4;
			s->text[tlen] = '\0';
		}
		if (s->code == 250 && len > 4) {
			if (strncasecmp(start + 4, "8BITMIME", 8) == 0)
				s->esmtp_8bitmime = true;
			if (strncasecmp(start + 4, "SMTPUTF8", 8) == 0)
				s->esmtp_smtputf8 = true;
		}
		if (len == 3 || start[3] == ' ')
			return 0;
	}
}

static int write_all(struct sendmail *s, const char *p, size_t n)
{
	while (n > 0) {
		/* A server that hangs up must not kill us with SIGPIPE. */
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int command(struct sendmail *s, const char *fmt, ...) PRINTF_FMT(2, 3);
static int command(struct sendmail *s, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int ret;

	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	ret = write_all(s, line, strlen(line)) < 0 || read_reply(s) < 0 ? -1 : 0;
	free(line);
	return ret;
}

static int lost(void)
{
	fprintf(stderr, "sendmail: lost the connection to posthornd: %s\n",
		strerror(errno));
	return EX_TEMPFAIL;
}

/* A refusal: 4xx is temporary, 5xx as given. */
static int refused(struct sendmail *s, const char *what, int permanent)
{
	fprintf(stderr, "sendmail: %s: %d %s\n", what, s->code, s->text);
	return s->code >= 500 ? permanent : EX_TEMPFAIL;
}

/* Send the message with dot-stuffing and the final ".". */
static int send_data(struct sendmail *s, const struct queue_sendmail_msg *m)
{
	struct strbuf b = STRBUF_INIT;
	size_t i = 0;
	int ret;

	strbuf_grow(&b, m->size + m->size / 64 + 8);
	while (i < m->size) {
		const char *nl = memchr(m->data + i, '\n', m->size - i);
		size_t end = nl != NULL ? (size_t)(nl - m->data) + 1 : m->size;

		if (m->data[i] == '.')
			strbuf_putc(&b, '.');
		strbuf_append(&b, m->data + i, end - i);
		i = end;
	}
	strbuf_append_c(&b, ".\r\n");
	ret = write_all(s, b.p, b.n);
	strbuf_free(&b);
	return ret < 0 || read_reply(s) < 0 ? -1 : 0;
}

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return true;
	}
	return false;
}

static int submit(struct sendmail *s, const char *socket_path,
		  const char *sender, const struct queue_sendmail_msg *m)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool utf8 = has_8bit(sender, strlen(sender));
	size_t n_ok = 0;

	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sendmail: socket path too long: %s\n", socket_path);
		return EX_CONFIG;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "sendmail: cannot reach posthornd at %s: %s\n",
			socket_path, strerror(errno));
		return EX_TEMPFAIL;
	}
	if (read_reply(s) < 0)
		return lost();
	if (s->code != 220)
		return refused(s, "greeting", EX_UNAVAILABLE);
	if (command(s, "EHLO localhost\r\n") < 0)
		return lost();
	if (s->code != 250)
		return refused(s, "EHLO", EX_PROTOCOL);
	for (size_t i = 0; i < s->n_rcpts && !utf8; i++)
		utf8 = has_8bit(s->rcpts[i], strlen(s->rcpts[i]));
	if (utf8 && !s->esmtp_smtputf8) {
		fprintf(stderr, "sendmail: posthornd does not take UTF-8 addresses\n");
		return EX_DATAERR;
	}
	if (command(s, "MAIL FROM:<%s>%s%s\r\n", sender,
		    s->esmtp_8bitmime && has_8bit(m->data, m->size) ?
		    " BODY=8BITMIME" : "", utf8 ? " SMTPUTF8" : "") < 0)
		return lost();
	if (s->code != 250)
		return refused(s, "sender refused", EX_DATAERR);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (command(s, "RCPT TO:<%s>\r\n", s->rcpts[i]) < 0)
			return lost();
		if (s->code != 250 && s->code != 251) {
			/* One refused recipient stops the whole submission,
			 * so that nobody gets a copy the sender retries. */
			char *what = xasprintf("recipient <%s> refused",
					       s->rcpts[i]);
			int ret = refused(s, what, EX_NOUSER);

			free(what);
			return ret;
		}
		n_ok++;
	}
	if (command(s, "DATA\r\n") < 0)
		return lost();
	if (s->code != 354)
		return refused(s, "DATA refused", EX_DATAERR);
	if (send_data(s, m) < 0)
		return lost();
	if (s->code != 250)
		return refused(s, "message refused", EX_DATAERR);
	/* The message is accepted (durable): QUIT errors do not matter. */
	(void)command(s, "QUIT\r\n");
	return EX_OK;
}

/* ---- command line ---- */

static void add_rcpt(struct sendmail *s, const char *address)
{
	/* Once per address, as named on the command line and in -t fields. */
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (strcasecmp(s->rcpts[i], address) == 0)
			return;
	}
	s->rcpts = xrealloc(s->rcpts, (s->n_rcpts + 1) * sizeof(*s->rcpts));
	s->rcpts[s->n_rcpts++] = xstrdup(address);
}

/* The value of an option given as "-fVALUE" or "-f VALUE". */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static const char *local_socket(const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->listener_count; i++) {
		if (cfg->listeners[i].protocol == CONFIG_PROTOCOL_LOCAL)
			return cfg->listeners[i].path;
	}
	return NULL;
}

int cmd_sendmail(const char *config_path, int argc, char **argv)
{
	struct sendmail s = { .fd = -1, .opts = { .dot_ends = true } };
	struct queue_sendmail_msg m = { 0 };
	struct queue_sendmail *qs;
	struct config *cfg = NULL;
	char *error = NULL, *sender = NULL, buf[65536];
	const char *sock, *env;
	struct passwd *pw;
	int i, ret = EX_OK;
	uint64_t total = 0;
	ssize_t n;

	if ((env = getenv("POSTHORN_CONFIG")) != NULL && env[0] != '\0' &&
	    config_path == NULL)
		config_path = env;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i], *v;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		switch (a[1]) {
		case 't':
			s.opts.extract_rcpts = true;
			break;
		case 'i':
			s.opts.dot_ends = false;
			break;
		case 'f':
		case 'r':
		case 'F':
		case 'C':
			if ((v = opt_value(argc, argv, &i)) == NULL) {
				fprintf(stderr, "sendmail: option %s needs a value\n", a);
				sendmail_usage();
				return EX_USAGE;
			}
			if (a[1] == 'F')
				s.opts.fullname = v;
			else if (a[1] == 'C')
				config_path = v;
			else
				s.sender = v;
			break;
		case 'o':
			if (strcmp(a, "-oi") == 0)
				s.opts.dot_ends = false;
			else
				fprintf(stderr, "sendmail: ignoring option %s\n", a);
			break;
		case 'b':
			if (strcmp(a, "-bm") != 0) {
				fprintf(stderr, "sendmail: mode %s is not "
					"supported (only -bm)\n", a);
				return EX_USAGE;
			}
			break;
		default:
			fprintf(stderr, "sendmail: ignoring option %s\n", a);
			break;
		}
	}
	for (; i < argc; i++)
		add_rcpt(&s, argv[i]);

	cfg = config_load(config_path != NULL ? config_path :
			  CLI_DEFAULT_CONFIG, NULL, &error);
	if (cfg == NULL) {
		fprintf(stderr, "sendmail: %s\n", error);
		free(error);
		ret = EX_CONFIG;
		goto out;
	}
	if ((sock = local_socket(cfg)) == NULL) {
		fprintf(stderr, "sendmail: %s has no listener with protocol "
			"local\n", cfg->source);
		ret = EX_CONFIG;
		goto out;
	}
	if (s.sender == NULL) {
		if ((pw = getpwuid(getuid())) == NULL) {
			fprintf(stderr, "sendmail: who are you (uid %u)?\n",
				(unsigned)getuid());
			ret = EX_NOUSER;
			goto out;
		}
		/* what the local socket lets this user send as */
		sender = xasprintf("%s@%s", pw->pw_name, cfg->server.origin);
	} else {
		/* "-f <a@b>" is "-f a@b" */
		size_t len = strlen(s.sender);

		if (len >= 2 && s.sender[0] == '<' && s.sender[len - 1] == '>')
			sender = xstrndup(s.sender + 1, len - 2);
		else
			sender = xstrdup(s.sender);
		/* "-f cron": the server qualifies the envelope the same
		 * way, the added From: gets it here */
		if (sender[0] != '\0' && strchr(sender, '@') == NULL) {
			char *bare = sender;

			sender = xasprintf("%s@%s", bare, cfg->server.origin);
			free(bare);
		}
	}
	s.opts.from = sender[0] != '\0' ? sender :
		"MAILER-DAEMON";	/* -f "" : a bounce */
	s.opts.hostname = cfg->server.hostname;
	s.opts.now = time(NULL);

	qs = queue_sendmail_new(&s.opts);
	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sendmail: reading the message: %s\n",
				strerror(errno));
			queue_sendmail_finish(&qs, &m);
			ret = EX_IOERR;
			goto out;
		}
		if (n == 0 || !queue_sendmail_feed(qs, buf, (size_t)n))
			break;
		/* The server would refuse it after the upload; stop early
		 * instead of holding an unbounded input in memory. */
		total += (uint64_t)n;
		if (total > cfg->smtp.max_message_size) {
			fprintf(stderr, "sendmail: the message is larger than "
				"the %llu bytes posthornd accepts\n",
				(unsigned long long)cfg->smtp.max_message_size);
			queue_sendmail_finish(&qs, &m);
			ret = EX_DATAERR;
			goto out;
		}
	}
	queue_sendmail_finish(&qs, &m);
	for (size_t r = 0; r < m.n_rcpts; r++)
		add_rcpt(&s, m.rcpts[r]);
	if (s.n_rcpts == 0) {
		fprintf(stderr, "sendmail: no recipients (give them as "
			"arguments, or use -t)\n");
		ret = EX_USAGE;
		goto out;
	}
	ret = submit(&s, sock, sender, &m);
out:
	if (s.fd >= 0)
		close(s.fd);
	for (size_t r = 0; r < s.n_rcpts; r++)
		free(s.rcpts[r]);
	free(s.rcpts);
	free(sender);
	queue_sendmail_msg_free(&m);
	config_free(&cfg);
	return ret;
}
