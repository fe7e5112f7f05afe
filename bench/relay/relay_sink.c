/* relay_sink.c: a fast SMTP sink for bench/relay: accepts every message
 * (EHLO with PIPELINING, one thread per connection, blocking sockets) and
 * counts them. Usage: relay_sink PORT; prints "listening PORT" when ready
 * and "received N" on SIGTERM / SIGINT. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_ulong received;

struct conn {
	int fd;
	char buf[65536];
	size_t len, pos;
	char out[8192];
	size_t out_len;
};

static void flush_out(struct conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = write(c->fd, c->out + off, c->out_len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	c->out_len = 0;
}

static void reply(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->out_len + n > sizeof(c->out))
		flush_out(c);
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

/* One line (without CRLF) into line; 0 at EOF. Replies are flushed
 * before blocking for input, so pipelined commands get one write. */
static int read_line(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (c->pos == c->len) {
			ssize_t r;

			flush_out(c);
			r = read(c->fd, c->buf, sizeof(c->buf));
			if (r <= 0)
				return 0;
			c->len = (size_t)r;
			c->pos = 0;
		}
		char ch = c->buf[c->pos++];

		if (ch == '\n') {
			if (n > 0 && line[n - 1] == '\r')
				n--;
			line[n] = '\0';
			return 1;
		}
		if (n + 1 < size)
			line[n++] = ch;
	}
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	char line[4096];

	reply(c, "220 sink ESMTP\r\n");
	while (read_line(c, line, sizeof(line))) {
		if (strncasecmp(line, "EHLO", 4) == 0) {
			reply(c, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
				 "250 SIZE 104857600\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			reply(c, "354 go\r\n");
			while (read_line(c, line, sizeof(line)) &&
			       strcmp(line, ".") != 0)
				;
			atomic_fetch_add(&received, 1);
			reply(c, "250 2.0.0 ok\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			reply(c, "221 bye\r\n");
			break;
		} else {
			reply(c, "250 ok\r\n");
		}
	}
	flush_out(c);
	close(c->fd);
	free(c);
	return NULL;
}

static void on_stop(int sig)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "received %lu\n",
			 atomic_load(&received));

	(void)sig;
	if (write(1, msg, (size_t)n) < 0)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1, lfd;

	if (argc != 2) {
		fprintf(stderr, "usage: relay_sink PORT\n");
		return 2;
	}
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 512) < 0) {
		perror("relay_sink: bind");
		return 1;
	}
	printf("listening %s\n", argv[1]);
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		struct conn *c = calloc(1, sizeof(*c));

		c->fd = fd;
		if (pthread_create(&t, NULL, serve, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}
