/* login_load.c: the client of bench/imap_login/bench_imap_login. CLIENTS
 * connections (one epoll loop) each run connect, LOGIN, SELECT INBOX,
 * FETCH, LOGOUT in a loop for SECONDS, spread over source addresses
 * 127.0.0.2.., and print the latency of each command (p50/p99) and the
 * sessions completed per second.
 *   login_load PORT CLIENTS SECONDS PASSWORD USER...
 * Client i logs in as USER[i % n]. Exits 1 when a command fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256u << 10)
#define CLIENTS_PER_SOURCE 25	/* under the per-address limits */
#define FETCH_CMD "c FETCH 1:10 (UID FLAGS ENVELOPE BODY.PEEK[HEADER])\r\n"

enum step { GREETING, LOGIN, SELECT, FETCH, LOGOUT, STEPS };
static const char *const step_names[STEPS] = {
	"connect", "LOGIN", "SELECT", "FETCH", "LOGOUT"
};

struct client {
	int fd;
	unsigned idx;
	enum step step;
	double sent;		/* when the step's command went out */
	char buf[BUF_SIZE];
	size_t start, end;
	size_t literal;		/* bytes of a literal still to skip */
};

/* Latencies of one step, in seconds. */
struct samples {
	double *v;
	size_t n, cap;
};

static struct samples samples[STEPS];
static const char *password;
static char **users;
static unsigned n_users;
static unsigned port;
static unsigned long sessions;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record(enum step step, double seconds)
{
	struct samples *s = &samples[step];

	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL)
			abort();
	}
	s->v[s->n++] = seconds;
}

static void send_all(struct client *c, const char *p, size_t n)
{
	/* Commands are small: the socket buffer takes them whole. */
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("login_load: write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void client_connect(int ep, struct client *c)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	src.sin_addr.s_addr = htonl(0x7f000002u + c->idx / CLIENTS_PER_SOURCE);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("login_load: connect");
		exit(1);
	}
	c->start = c->end = c->literal = 0;
	c->step = GREETING;
	c->sent = now();
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		perror("login_load: epoll_ctl");
		exit(1);
	}
}

/* The step's answer is complete: time it and send the next command. */
static void client_next(int ep, struct client *c)
{
	char cmd[512];
	double t = now();
	int n;

	record(c->step, t - c->sent);
	c->sent = t;
	switch (c->step) {
	case GREETING:
		n = snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n",
			     users[c->idx % n_users], password);
		send_all(c, cmd, (size_t)n);
		break;
	case LOGIN:
		send_all(c, "b SELECT INBOX\r\n", 16);
		break;
	case SELECT:
		send_all(c, FETCH_CMD, sizeof(FETCH_CMD) - 1);
		break;
	case FETCH:
		send_all(c, "d LOGOUT\r\n", 10);
		break;
	case LOGOUT:
	case STEPS:
		sessions++;
		close(c->fd);
		client_connect(ep, c);
		return;
	}
	c->step++;
}

/* One complete line of the answer (without CRLF): true when it ends the
 * current step. */
static bool client_line(struct client *c, char *line, size_t n)
{
	static const char tags[STEPS] = { 0, 'a', 'b', 'c', 'd' };

	if (n >= 3 && line[n - 1] == '}') {
		char *open = memrchr(line, '{', n);

		if (open != NULL)
			c->literal = strtoul(open + 1, NULL, 10);
		return false;
	}
	if (c->step == GREETING) {
		if (strncmp(line, "* OK", 4) != 0) {
			fprintf(stderr, "login_load: greeting: %.*s\n", (int)n, line);
			exit(1);
		}
		return true;
	}
	if (line[0] != tags[c->step] || line[1] != ' ')
		return false;
	if (strncmp(line + 2, "OK", 2) != 0) {
		fprintf(stderr, "login_load: %s: %.*s\n", step_names[c->step],
			(int)n, line);
		exit(1);
	}
	return true;
}

static void client_input(int ep, struct client *c)
{
	ssize_t r;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	r = read(c->fd, c->buf + c->end, BUF_SIZE - c->end);
	if (r < 0 && errno == EINTR)
		return;
	if (r == 0 && c->step == LOGOUT) {
		client_next(ep, c);	/* closed after the tagged OK */
		return;
	}
	if (r <= 0) {
		fprintf(stderr, "login_load: connection closed in %s\n",
			step_names[c->step]);
		exit(1);
	}
	c->end += (size_t)r;
	for (;;) {
		char *line, *nl;
		size_t avail = c->end - c->start;

		if (c->literal > 0) {
			size_t k = avail < c->literal ? avail : c->literal;

			c->start += k;
			c->literal -= k;
			if (c->literal > 0)
				return;
			continue;
		}
		line = c->buf + c->start;
		nl = memchr(line, '\n', avail);
		if (nl == NULL) {
			if (avail == BUF_SIZE) {
				fputs("login_load: line too long\n", stderr);
				exit(1);
			}
			return;
		}
		c->start += (size_t)(nl - line) + 1;
		if (client_line(c, line, (size_t)(nl - line) -
				(nl > line && nl[-1] == '\r'))) {
			enum step done = c->step;

			client_next(ep, c);
			/* LOGOUT's OK: wait for the close; a new
			 * connection has nothing buffered. */
			if (done == FETCH || done == LOGOUT ||
			    c->step == GREETING)
				return;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct samples *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->v[i];
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct client *clients;
	unsigned n_clients;
	double seconds, start, end;
	int ep;

	if (argc < 6) {
		fputs("usage: login_load PORT CLIENTS SECONDS PASSWORD USER...\n",
		      stderr);
		return 2;
	}
	port = (unsigned)atoi(argv[1]);
	n_clients = (unsigned)atoi(argv[2]);
	seconds = atof(argv[3]);
	password = argv[4];
	users = argv + 5;
	n_users = (unsigned)(argc - 5);
	clients = calloc(n_clients, sizeof(*clients));
	ep = epoll_create1(0);
	if (clients == NULL || ep < 0)
		return 1;
	start = now();
	end = start + seconds;
	for (unsigned i = 0; i < n_clients; i++) {
		clients[i].idx = i;
		client_connect(ep, &clients[i]);
	}
	while (now() < end) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++)
			client_input(ep, evs[i].data.ptr);
	}
	end = now();
	for (unsigned i = 0; i < STEPS; i++) {
		struct samples *s = &samples[i];

		qsort(s->v, s->n, sizeof(*s->v), cmp_double);
		printf("%s n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms\n",
		       step_names[i], s->n, pct(s, 0.5) * 1e3,
		       pct(s, 0.99) * 1e3, s->n ? s->v[s->n - 1] * 1e3 : 0.0);
	}
	printf("sessions %lu in %.1f s: %.1f sessions/s\n", sessions,
	       end - start, (double)sessions / (end - start));
	return 0;
}
