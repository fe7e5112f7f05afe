/* imap_load.c: the client of bench/imap/bench_imap. Three modes:
 *   fill PORT COUNT SESSIONS RCPT WORD  SMTP-deliver COUNT ~4 KB messages to
 *       RCPT over SESSIONS pipelining threads; every 100th body holds WORD.
 *   time PORT USER PASS RUNS CMD...     log in, then send each CMD RUNS times
 *       (after SELECT INBOX unless CMD is a SELECT); prints per CMD one line
 *       "seconds s1 s2 ... bytes N" (N: bytes of the last run's answer).
 *   idle PORT USER PASS N               open N IMAP connections logged in
 *       with SCRAM-SHA-256 (epoll, at most 256 logging in at once), print
 *       "ready N", hold them until stdin closes. */
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

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

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

/* SCRAM-SHA-256 (RFC 5802/7677) client side of the idle connections:
 * LOGIN would cost every connection a yescrypt verification in the
 * daemon; SCRAM costs it a few HMACs. The salted password is derived once
 * (one user, one salt) and reused. */
struct scram {
	const char *user, *pass;
	unsigned char salted[32];
	char salt_iter[256];	/* "s=...,i=..." the salted password is for */
};

static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static size_t unb64(const char *in, unsigned char *out, size_t size)
{
	size_t len = strcspn(in, "\r\n");
	int n;

	if (len / 4 * 3 > size)
		return 0;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return 0;
	while (len > 0 && in[len - 1] == '=') {	/* DecodeBlock keeps padding */
		n--;
		len--;
	}
	out[n] = '\0';
	return (size_t)n;
}

/* The client-final message for server_first; the nonce was client_first's. */
static void scram_final(struct scram *sc, const char *client_first_bare,
			const char *server_first, char *out, size_t size)
{
	const char *r = strstr(server_first, "r="), *sp = strstr(server_first, "s=");
	const char *ip = strstr(server_first, "i=");
	char without_proof[512], auth_msg[1536], salt_iter[256];
	unsigned char client_key[32], stored_key[32], sig[32], proof[32], salt[128];
	unsigned int len = 32;
	char proof64[64];

	if (r == NULL || sp == NULL || ip == NULL) {
		fprintf(stderr, "imap_load: bad SCRAM challenge %s\n", server_first);
		exit(1);
	}
	snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s",
		 (int)strcspn(r + 2, ","), r + 2);
	snprintf(salt_iter, sizeof(salt_iter), "%.*s,%s", (int)strcspn(sp, ","), sp, ip);
	if (strcmp(salt_iter, sc->salt_iter) != 0) {
		char salt64[128];
		size_t k = strcspn(sp + 2, ",");
		snprintf(salt64, sizeof(salt64), "%.*s", (int)k, sp + 2);
		size_t saltlen = unb64(salt64, salt, sizeof(salt) - 1);
		PKCS5_PBKDF2_HMAC(sc->pass, (int)strlen(sc->pass), salt, (int)saltlen,
				  atoi(ip + 2), EVP_sha256(), 32, sc->salted);
		snprintf(sc->salt_iter, sizeof(sc->salt_iter), "%s", salt_iter);
	}
	HMAC(EVP_sha256(), sc->salted, 32, (const unsigned char *)"Client Key", 10,
	     client_key, &len);
	SHA256(client_key, 32, stored_key);
	snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s", client_first_bare, server_first,
		 without_proof);
	HMAC(EVP_sha256(), stored_key, 32, (const unsigned char *)auth_msg,
	     strlen(auth_msg), sig, &len);
	for (int k = 0; k < 32; k++)
		proof[k] = client_key[k] ^ sig[k];
	b64(proof, 32, proof64);
	char final[640];
	snprintf(final, sizeof(final), "%s,p=%s", without_proof, proof64);
	if (4 * ((strlen(final) + 2) / 3) + 3 > size) {
		fprintf(stderr, "imap_load: SCRAM message too long\n");
		exit(1);
	}
	b64((const unsigned char *)final, strlen(final), out);
	memcpy(out + strlen(out), "\r\n", 3);
}

enum idle_state { IDLE_GREETING, IDLE_FIRST, IDLE_FINAL, IDLE_OK, IDLE_READY };

struct idle_conn {
	int fd;
	enum idle_state state;
	char first_bare[160];
	char line[1024];
	size_t len;
};

static void idle_send(struct idle_conn *ic, const char *p)
{
	if (write(ic->fd, p, strlen(p)) != (ssize_t)strlen(p)) {
		perror("imap_load: write");
		exit(1);
	}
}

/* One whole line of an idle connection's login; true when it is done. */
static bool idle_line(struct idle_conn *ic, struct scram *sc, unsigned id)
{
	char out[1024], msg[256], challenge[512];

	switch (ic->state) {
	case IDLE_GREETING:
		if (strncmp(ic->line, "* OK", 4) != 0)
			break;
		snprintf(ic->first_bare, sizeof(ic->first_bare), "n=%s,r=bench%08x%08x",
			 sc->user, id, (unsigned)random());
		snprintf(msg, sizeof(msg), "n,,%s", ic->first_bare);
		memcpy(out, "A AUTHENTICATE SCRAM-SHA-256 ", 29);
		b64((const unsigned char *)msg, strlen(msg), out + 29);
		memcpy(out + strlen(out), "\r\n", 3);
		idle_send(ic, out);
		ic->state = IDLE_FIRST;
		return false;
	case IDLE_FIRST:
		if (strncmp(ic->line, "+ ", 2) != 0)
			break;
		if (unb64(ic->line + 2, (unsigned char *)challenge, sizeof(challenge) - 1) == 0)
			break;
		scram_final(sc, ic->first_bare, challenge, out, sizeof(out));
		idle_send(ic, out);
		ic->state = IDLE_FINAL;
		return false;
	case IDLE_FINAL:	/* "+ v=..." then an empty answer, or the OK at once */
		if (strncmp(ic->line, "+ ", 2) == 0) {
			idle_send(ic, "\r\n");
			ic->state = IDLE_OK;
			return false;
		}
		/* fall through */
	case IDLE_OK:
		if (strncmp(ic->line, "A OK", 4) == 0) {
			ic->state = IDLE_READY;
			return true;
		}
		if (ic->line[0] == '*')
			return false;
		break;
	case IDLE_READY:
		return false;
	}
	fprintf(stderr, "imap_load: login of connection %u: %s", id, ic->line);
	exit(1);
}

/* Feed readable bytes; returns true when the connection became ready. */
static bool idle_read(struct idle_conn *ic, struct scram *sc, unsigned id)
{
	char buf[4096];
	ssize_t r = read(ic->fd, buf, sizeof(buf));
	bool ready = false;

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
		ready |= idle_line(ic, sc, id);
	}
	return ready;
}

static int mode_idle(char **argv)
{
	unsigned port = (unsigned)atoi(argv[1]), total = (unsigned)atoi(argv[4]);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct idle_conn *conns = calloc(total, sizeof(*conns));
	struct scram sc = { .user = argv[2], .pass = argv[3] };
	struct epoll_event ev, events[256];
	unsigned opened = 0, ready = 0;
	int ep = epoll_create1(0);
	double deadline = now() + 600;

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
			ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = opened };
			epoll_ctl(ep, EPOLL_CTL_ADD, ic->fd, &ev);
			opened++;
		}
		int n = epoll_wait(ep, events, 256, 1000);
		for (int k = 0; k < n; k++) {
			unsigned id = events[k].data.u32;
			if (idle_read(&conns[id], &sc, id)) {
				ready++;
				epoll_ctl(ep, EPOLL_CTL_DEL, conns[id].fd, NULL);
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
