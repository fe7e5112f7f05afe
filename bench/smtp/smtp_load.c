/* smtp_load.c: the load generator of bench/smtp/bench_smtp. C threads with
 * blocking sockets (no TCP_NODELAY, as most MTAs), one client each: in
 * "session" mode one SMTP session per client, pipelining MAIL/RCPT/DATA for
 * message after message; in "connect" mode a new connection (greeting,
 * EHLO, one message, QUIT) per message, as most sending MTAs do.
 * Usage: smtp_load PORT COUNT CLIENTS USERS [session|connect [PACK]];
 * prints "acked N p50_ms P p99_ms Q octets O" (latency of each message:
 * from MAIL, or from the connect, to its 250; the octets sent) on stdout.
 * Without PACK every message is a ~4 KB MIME message made here; with PACK
 * (tests/corpus/make_corpus.py --pack: per message "<octets>\n" and the
 * octets) message i is the pack's i mod n. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	char buf[8192];
	size_t start, end;
};

struct worker {
	pthread_t thread;
	unsigned first, step, count, users, port;
	bool connect_each;
	double *lat_ms;		/* count entries */
	unsigned n_lat;
};

static atomic_uint acked;
static atomic_ullong octets;

/* The pack's messages, dot-stuffed and ended with ".\r\n" once at load. */
struct packed {
	char *p;
	size_t n;
};
static struct packed *pack;
static size_t pack_n;

static bool pack_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *all;
	size_t pos = 0, cap = 0;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		perror(path);
		return false;
	}
	all = malloc((size_t)st.st_size + 1);
	if (all == NULL || fread(all, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "smtp_load: cannot read %s\n", path);
		return false;
	}
	fclose(f);
	while (pos < (size_t)st.st_size) {
		char *end;
		size_t len = strtoul(all + pos, &end, 10), k = 0;
		const char *m;
		struct packed *d;

		if (*end != '\n' || len > (size_t)st.st_size - (size_t)(end + 1 - all)) {
			fprintf(stderr, "smtp_load: %s: bad pack\n", path);
			return false;
		}
		m = end + 1;
		if (pack_n == cap) {
			cap = cap != 0 ? cap * 2 : 1024;
			pack = realloc(pack, cap * sizeof(*pack));
			if (pack == NULL)
				return false;
		}
		d = &pack[pack_n++];
		/* at worst every line gets a dot, and the terminator */
		d->p = malloc(len * 2 + 8);
		if (d->p == NULL)
			return false;
		for (size_t i = 0; i < len; i++) {
			if (m[i] == '.' && (i == 0 || m[i - 1] == '\n'))
				d->p[k++] = '.';
			d->p[k++] = m[i];
		}
		memcpy(d->p + k, ".\r\n", 3);
		d->n = k + 3;
		pos = (size_t)(m + len - all);
	}
	free(all);
	return pack_n > 0;
}


static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static bool conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Read one reply line into line (NUL-terminated); false on EOF/error. */
static bool conn_line(struct conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->start)) + 1;
			size_t k = n < size ? n : size - 1;
			memcpy(line, c->buf + c->start, k);
			line[k] = '\0';
			c->start += n;
			return true;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end == sizeof(c->buf))
			return false;
		ssize_t r = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		if (r <= 0)
			return false;
		c->end += (size_t)r;
	}
}

/* Read a whole reply; true when its code is want. Sets *pipelining when a
 * line advertises PIPELINING. */
static bool conn_expect(struct conn *c, int want, bool *pipelining)
{
	char line[1024];

	for (;;) {
		if (!conn_line(c, line, sizeof(line)))
			return false;
		if (pipelining != NULL && strstr(line, "PIPELINING") != NULL)
			*pipelining = true;
		if (strlen(line) < 4 || line[3] != '-') {
			if (atoi(line) != want) {
				fprintf(stderr, "smtp_load: expected %d, got %s", want, line);
				return false;
			}
			return true;
		}
	}
}

static size_t message(char *out, size_t size, unsigned i, const char *rcpt)
{
	static const char line[] =
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n";
	size_t n = (size_t)snprintf(out, size,
		"Return-Path: <bench@example.org>\r\n"
		"Received: from client.example.org (client.example.org [192.0.2.1])\r\n"
		"\tby mx.example.org with ESMTPS id bench%u; Sun, 22 Nov 2026 21:00:00 +0000\r\n"
		"From: Bench Sender <bench@example.org>\r\n"
		"To: <%s>\r\n"
		"Subject: Benchmark message number %u\r\n"
		"Date: Sun, 22 Nov 2026 21:00:00 +0000\r\n"
		"Message-ID: <bench-%u@example.org>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"b-%u\"\r\n\r\n"
		"--b-%u\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n\r\n", i, rcpt, i, i, i, i);
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

/* Connect, read the greeting, EHLO. False on any failure (c->fd < 0 when
 * there is no socket). */
static bool session_open(struct conn *c, unsigned port, bool *pipelining)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	c->start = c->end = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return false;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("smtp_load: connect");
		return false;
	}
	return conn_expect(c, 220, NULL) &&
	       conn_write(c, "EHLO bench.example.org\r\n", 24) &&
	       conn_expect(c, 250, pipelining);
}

static void session_quit(struct conn *c)
{
	if (conn_write(c, "QUIT\r\n", 6))
		conn_expect(c, 221, NULL);
	close(c->fd);
	c->fd = -1;
}

/* One transaction: MAIL, RCPT, DATA (pipelined when offered), the message. */
static bool transaction(struct conn *c, bool pipelining, unsigned i,
			unsigned users)
{
	char cmd[512], rcpt[64], body[8192];
	const char *data = body;
	size_t len;

	snprintf(rcpt, sizeof(rcpt), "u%u@localhost", i % users);
	int n = snprintf(cmd, sizeof(cmd),
		"MAIL FROM:<bench@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n", rcpt);
	if (pipelining) {
		if (!conn_write(c, cmd, (size_t)n))
			return false;
	} else {
		char *rcpt_line = strchr(cmd, '\n') + 1;
		char *data_line = strchr(rcpt_line, '\n') + 1;
		if (!conn_write(c, cmd, (size_t)(rcpt_line - cmd)) ||
		    !conn_expect(c, 250, NULL) ||
		    !conn_write(c, rcpt_line, (size_t)(data_line - rcpt_line)) ||
		    !conn_expect(c, 250, NULL) ||
		    !conn_write(c, data_line, 6))
			return false;
	}
	if ((pipelining && (!conn_expect(c, 250, NULL) || !conn_expect(c, 250, NULL))) ||
	    !conn_expect(c, 354, NULL))
		return false;
	if (pack_n > 0) {
		data = pack[i % pack_n].p;
		len = pack[i % pack_n].n;
	} else {
		len = message(body, sizeof(body), i, rcpt);
	}
	if (!conn_write(c, data, len) || !conn_expect(c, 250, NULL))
		return false;
	atomic_fetch_add(&octets, len);
	return true;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct conn c = { .fd = -1 };
	bool pipelining = false;

	for (unsigned k = 0; k < w->count; k++) {
		unsigned i = w->first + k * w->step;
		double t0 = now_ms();

		if (c.fd < 0 && !session_open(&c, w->port, &pipelining))
			break;
		if (!w->connect_each)
			t0 = now_ms();
		if (!transaction(&c, pipelining, i, w->users))
			break;
		if (w->connect_each)
			session_quit(&c);
		w->lat_ms[w->n_lat++] = now_ms() - t0;
		atomic_fetch_add(&acked, 1);
	}
	if (c.fd >= 0)
		session_quit(&c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: smtp_load PORT COUNT CLIENTS USERS [session|connect [PACK]]\n");
		return 2;
	}
	if (argc == 7 && !pack_load(argv[6]))
		return 1;
	unsigned port = (unsigned)atoi(argv[1]), count = (unsigned)atoi(argv[2]);
	unsigned sessions = (unsigned)atoi(argv[3]), users = (unsigned)atoi(argv[4]);
	bool connect_each = argc >= 6 && strcmp(argv[5], "connect") == 0;
	if (sessions == 0 || users == 0 || count == 0)
		return 2;
	struct worker *ws = calloc(sessions, sizeof(*ws));
	double *lat = calloc(count, sizeof(*lat));
	if (ws == NULL || lat == NULL)
		return 1;
	for (unsigned s = 0, off = 0; s < sessions; s++) {
		ws[s] = (struct worker){ .first = s, .step = sessions, .users = users,
			.port = port, .count = count / sessions + (s < count % sessions),
			.connect_each = connect_each, .lat_ms = lat + off };
		off += ws[s].count;
		pthread_create(&ws[s].thread, NULL, worker_run, &ws[s]);
	}
	unsigned n = 0;
	for (unsigned s = 0; s < sessions; s++) {
		pthread_join(ws[s].thread, NULL);
		memmove(lat + n, ws[s].lat_ms, ws[s].n_lat * sizeof(*lat));
		n += ws[s].n_lat;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("acked %u p50_ms %.2f p99_ms %.2f octets %llu\n", atomic_load(&acked),
	       n > 0 ? lat[n / 2] : 0.0, n > 0 ? lat[(size_t)((n - 1) * 0.99)] : 0.0,
	       (unsigned long long)atomic_load(&octets));
	for (size_t i = 0; i < pack_n; i++)
		free(pack[i].p);
	free(pack);
	free(ws);
	free(lat);
	return atomic_load(&acked) == count ? 0 : 1;
}
