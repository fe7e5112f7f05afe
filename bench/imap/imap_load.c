/* imap_load.c: the client of bench/imap/bench_imap. Three modes:
 *   fill PORT COUNT SESSIONS RCPT WORD  SMTP-deliver COUNT ~4 KB messages to
 *       RCPT over SESSIONS pipelining threads; every 100th body holds WORD.
 *   time PORT USER PASS RUNS CMD...     log in, then send each CMD RUNS times
 *       (after SELECT INBOX unless CMD is a SELECT); prints per CMD one line
 *       "seconds s1 s2 ... bytes N" (N: bytes of the last run's answer).
 *   idle PORT USER PASS N               open N logged-in IMAP connections
 *       (epoll, at most 256 logging in at once), print "ready N", hold them
 *       until stdin closes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1u << 20)

struct conn {
	int fd;
	char *buf;
	size_t start, end;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("imap_load: connect");
		exit(1);
	}
	return fd;
}

static void conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w <= 0) {
			perror("imap_load: write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void conn_fill(struct conn *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == BUF_SIZE) {
		fprintf(stderr, "imap_load: line longer than %u bytes\n", BUF_SIZE);
		exit(1);
	}
	ssize_t r = read(c->fd, c->buf + c->end, BUF_SIZE - c->end);
	if (r <= 0) {
		fprintf(stderr, "imap_load: connection closed\n");
		exit(1);
	}
	c->end += (size_t)r;
}

/* Consume one line; returns a pointer to it (NUL-terminated in place,
 * valid until the next read) and adds its size to *bytes. */
static char *conn_line(struct conn *c, size_t *bytes)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			char *line = c->buf + c->start;
			size_t n = (size_t)(nl - line) + 1;
			*nl = '\0';
			c->start += n;
			if (bytes != NULL)
				*bytes += n;
			return line;
		}
		conn_fill(c);
	}
}

/* Read the answer to tag: skip whole lines and bulk literal bytes without
 * parsing them beyond "{n}" at a line end; returns the bytes read. Exits
 * unless the tagged reply is OK. */
static size_t conn_until_tag(struct conn *c, const char *tag)
{
	size_t bytes = 0, taglen = strlen(tag);

	for (;;) {
		char *line = conn_line(c, &bytes);
		size_t n = strlen(line);
		if (strncmp(line, tag, taglen) == 0 && line[taglen] == ' ') {
			if (strncmp(line + taglen + 1, "OK", 2) != 0) {
				fprintf(stderr, "imap_load: %s\n", line);
				exit(1);
			}
			return bytes;
		}
		if (n >= 3 && line[n - 2] == '}') {	/* "...{123}\r" */
			char *open = strrchr(line, '{');
			size_t lit = open != NULL ? strtoul(open + 1, NULL, 10) : 0;
			while (lit > 0) {
				if (c->start == c->end)
					conn_fill(c);
				size_t k = c->end - c->start < lit ? c->end - c->start : lit;
				c->start += k;
				lit -= k;
				bytes += k;
			}
		}
	}
}

static void login(struct conn *c, const char *user, const char *pass)
{
	char cmd[512];
	int n;

	conn_line(c, NULL);	/* greeting */
	n = snprintf(cmd, sizeof(cmd), "L LOGIN \"%s\" \"%s\"\r\n", user, pass);
	conn_write(c, cmd, (size_t)n);
	conn_until_tag(c, "L");
}

static int mode_time(int argc, char **argv)
{
	struct conn c = { .buf = malloc(BUF_SIZE) };
	unsigned runs = (unsigned)atoi(argv[4]), seq = 0;
	char cmd[4096], tag[32];

	c.fd = dial((unsigned)atoi(argv[1]));
	login(&c, argv[2], argv[3]);
	for (int i = 5; i < argc; i++) {
		size_t bytes = 0;
		int n;

		if (strncasecmp(argv[i], "SELECT", 6) != 0) {
			conn_write(&c, "S SELECT INBOX\r\n", 16);
			conn_until_tag(&c, "S");
		}
		printf("seconds");
		for (unsigned r = 0; r < runs; r++) {
			snprintf(tag, sizeof(tag), "T%u", ++seq);
			n = snprintf(cmd, sizeof(cmd), "%s %s\r\n", tag, argv[i]);
			double t0 = now();
			conn_write(&c, cmd, (size_t)n);
			bytes = conn_until_tag(&c, tag);
			printf(" %.6f", now() - t0);
		}
		printf(" bytes %zu\n", bytes);
		fflush(stdout);
	}
	conn_write(&c, "Z LOGOUT\r\n", 10);
	close(c.fd);
	free(c.buf);
	return 0;
}

struct filler {
	pthread_t thread;
	unsigned port, first, step, count;
	const char *rcpt, *word;
};

static atomic_uint delivered;

/* Read SMTP replies until the last line of one; exits unless 2xx/3xx. */
static void smtp_reply(struct conn *c)
{
	for (;;) {
		char *line = conn_line(c, NULL);
		if (line[0] != '2' && line[0] != '3') {
			fprintf(stderr, "imap_load: SMTP %s\n", line);
			exit(1);
		}
		if (strlen(line) < 4 || line[3] != '-')
			return;
	}
}

static size_t fill_message(char *out, size_t size, unsigned i, const char *rcpt,
			   const char *word)
{
	static const char line[] =
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n";
	size_t n = (size_t)snprintf(out, size,
		"From: Bench Sender <bench%u@example.org>\r\n"
		"To: <%s>\r\n"
		"Subject: Benchmark message number %u\r\n"
		"Date: Sun, 22 Nov 2026 21:00:00 +0000\r\n"
		"Message-ID: <imap-bench-%u@example.org>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"b-%u\"\r\n\r\n"
		"--b-%u\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n\r\n", i % 50, rcpt, i, i, i, i);
	if (i % 100 == 0)
		n += (size_t)snprintf(out + n, size - n, "The word %s is here.\r\n", word);
	for (int k = 0; k < 24; k++)
		n += (size_t)snprintf(out + n, size - n, "%s", line);
	n += (size_t)snprintf(out + n, size - n,
		"\r\n--b-%u\r\nContent-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n\r\n", i);
	for (int k = 0; k < 20; k++)
		n += (size_t)snprintf(out + n, size - n, "<p>%.*s</p>\r\n",
				      (int)sizeof(line) - 3, line);
	n += (size_t)snprintf(out + n, size - n, "\r\n--b-%u--\r\n.\r\n", i);
	return n;
}

static void *filler_run(void *arg)
{
	struct filler *f = arg;
	struct conn c = { .buf = malloc(BUF_SIZE) };
	char cmd[512], body[8192];
	int n;

	c.fd = dial(f->port);
	smtp_reply(&c);
	conn_write(&c, "EHLO bench.example.org\r\n", 24);
	smtp_reply(&c);
	for (unsigned k = 0; k < f->count; k++) {
		unsigned i = f->first + k * f->step;
		n = snprintf(cmd, sizeof(cmd),
			     "MAIL FROM:<bench@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n", f->rcpt);
		conn_write(&c, cmd, (size_t)n);
		smtp_reply(&c);
		smtp_reply(&c);
		smtp_reply(&c);
		size_t len = fill_message(body, sizeof(body), i, f->rcpt, f->word);
		conn_write(&c, body, len);
		smtp_reply(&c);
		atomic_fetch_add(&delivered, 1);
	}
	conn_write(&c, "QUIT\r\n", 6);
	close(c.fd);
	free(c.buf);
	return NULL;
}

static int mode_fill(char **argv)
{
	unsigned port = (unsigned)atoi(argv[1]), count = (unsigned)atoi(argv[2]);
	unsigned sessions = (unsigned)atoi(argv[3]);
	struct filler *f = calloc(sessions, sizeof(*f));

	for (unsigned s = 0; s < sessions; s++) {
		f[s] = (struct filler){ .port = port, .first = s, .step = sessions,
			.count = count / sessions + (s < count % sessions),
			.rcpt = argv[4], .word = argv[5] };
		pthread_create(&f[s].thread, NULL, filler_run, &f[s]);
	}
	for (unsigned s = 0; s < sessions; s++)
		pthread_join(f[s].thread, NULL);
	printf("delivered %u\n", atomic_load(&delivered));
	free(f);
	return atomic_load(&delivered) == count ? 0 : 1;
}

enum idle_state { IDLE_GREETING, IDLE_LOGIN, IDLE_READY };

struct idle_conn {
	int fd;
	enum idle_state state;
	char line[512];
	size_t len;
};

/* Feed readable bytes; returns true when the connection became ready. */
static bool idle_read(struct idle_conn *ic, const char *login_cmd)
{
	char buf[4096];
	ssize_t r = read(ic->fd, buf, sizeof(buf));

	if (r == 0 || (r < 0 && errno != EAGAIN)) {
		fprintf(stderr, "imap_load: idle connection closed\n");
		exit(1);
	}
	for (ssize_t k = 0; k < r; k++) {
		if (ic->len < sizeof(ic->line) - 1)
			ic->line[ic->len++] = buf[k];
		if (buf[k] != '\n')
			continue;
		ic->line[ic->len] = '\0';
		ic->len = 0;
		if (ic->state == IDLE_GREETING && strncmp(ic->line, "* OK", 4) == 0) {
			if (write(ic->fd, login_cmd, strlen(login_cmd)) != (ssize_t)strlen(login_cmd)) {
				perror("imap_load: write");
				exit(1);
			}
			ic->state = IDLE_LOGIN;
		} else if (ic->state == IDLE_LOGIN && strncmp(ic->line, "L ", 2) == 0) {
			if (strncmp(ic->line, "L OK", 4) != 0) {
				fprintf(stderr, "imap_load: %s", ic->line);
				exit(1);
			}
			ic->state = IDLE_READY;
			return true;
		}
	}
	return false;
}

static int mode_idle(char **argv)
{
	unsigned port = (unsigned)atoi(argv[1]), total = (unsigned)atoi(argv[4]);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct idle_conn *conns = calloc(total, sizeof(*conns));
	struct epoll_event ev, events[256];
	unsigned opened = 0, ready = 0;
	char login_cmd[512];
	int ep = epoll_create1(0);
	double deadline = now() + 600;

	snprintf(login_cmd, sizeof(login_cmd), "L LOGIN \"%s\" \"%s\"\r\n", argv[2], argv[3]);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (ready < total) {
		while (opened < total && opened - ready < 256) {
			struct idle_conn *ic = &conns[opened];
			ic->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (ic->fd < 0) {
				perror("imap_load: socket");
				return 1;
			}
			if (connect(ic->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
			    errno != EINPROGRESS) {
				perror("imap_load: connect");
				return 1;
			}
			ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = ic };
			epoll_ctl(ep, EPOLL_CTL_ADD, ic->fd, &ev);
			opened++;
		}
		int n = epoll_wait(ep, events, 256, 1000);
		for (int k = 0; k < n; k++) {
			struct idle_conn *ic = events[k].data.ptr;
			if (idle_read(ic, login_cmd)) {
				ready++;
				epoll_ctl(ep, EPOLL_CTL_DEL, ic->fd, NULL);
			}
		}
		if (now() > deadline) {
			fprintf(stderr, "imap_load: only %u of %u ready in time\n", ready, total);
			return 1;
		}
	}
	printf("ready %u\n", ready);
	fflush(stdout);
	while (getchar() != EOF)
		;
	for (unsigned i = 0; i < opened; i++)
		close(conns[i].fd);
	free(conns);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "time") == 0)
		return mode_time(argc - 1, argv + 1);
	if (argc == 7 && strcmp(argv[1], "fill") == 0)
		return mode_fill(argv + 1);
	if (argc == 6 && strcmp(argv[1], "idle") == 0)
		return mode_idle(argv + 1);
	fprintf(stderr, "usage: imap_load fill PORT COUNT SESSIONS RCPT WORD\n"
		"       imap_load time PORT USER PASS RUNS CMD...\n"
		"       imap_load idle PORT USER PASS N\n");
	return 2;
}
