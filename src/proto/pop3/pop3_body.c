/* pop3_body.c: the multi-line bodies of RETR and TOP. RETR streams the
 * message from its blob by range, one chunk read per step as the output
 * drains, so a 25 MB message never sits whole in memory; TOP reads the
 * header and its lines. The reads run on the store read pool when there
 * is one (the session held meanwhile), on the I/O thread otherwise. */
#include "base/log.h"
#include "proto/common/session_read.h"
#include "proto/pop3/pop3_int.h"

#include <stdio.h>

/* The first bytes a TOP reads, doubled while its lines run on: a TOP of a
 * header and a few lines of a 25 MB message reads a few KB of it. */
#define POP3_TOP_CHUNK (16 * 1024)

/* ---- reads (on a read pool thread, or here without one) ---- */

static void pop3_read_error(struct pop3_read *rd, int ret, const char *error)
{
	rd->ret = ret;
	snprintf(rd->error, sizeof(rd->error), "%s",
		 ret == 0 ? "blob missing" : error);
}

/* RETR: bytes [off, off + cap) of the blob into rd->buf. */
static void pop3_read_chunk(struct store_reader *r, void *arg)
{
	struct pop3_read *rd = arg;
	const char *error = "no store reader";
	int ret = -1;

	rd->got = 0;
	if (r == NULL ||
	    (ret = store_blob_read(r, rd->blob_id, rd->off, rd->buf, rd->cap,
				   &rd->got, &rd->size, &error)) <= 0)
		pop3_read_error(rd, ret, error);
	else
		rd->ret = 1;
}

/* TOP: the header and rd->lines body lines into rd->top, reading no more
 * of the store than that needs. */
static void pop3_read_top(struct store_reader *r, void *arg)
{
	struct pop3_read *rd = arg;
	const char *error = "no store reader";
	size_t got = 0, want = POP3_TOP_CHUNK, n;
	uint64_t size = 0;
	int ret = -1;

	strbuf_reset(&rd->top);
	if (r == NULL ||
	    (ret = store_blob_read(r, rd->blob_id, 0, NULL, 0, &got, &size,
				   &error)) <= 0) {
		pop3_read_error(rd, ret, error);
		return;
	}
	for (;;) {
		ret = store_blob_append(r, rd->blob_id, rd->top.n,
					(size_t)MIN((uint64_t)want,
						    size - rd->top.n),
					&rd->top, &error);
		if (ret <= 0) {
			pop3_read_error(rd, ret, error);
			return;
		}
		n = rd->top.n > 0 ? pop3_cmd_top_size(rd->top.p, rd->top.n,
						      rd->lines) : 0;
		/* ended inside what was read, or nothing more to read */
		if (n < rd->top.n || rd->top.n >= size || got == rd->top.n)
			break;
		got = rd->top.n;
		want *= 2;
	}
	rd->top.n = n;
	rd->ret = 1;
}

/* ---- sending ---- */

/* Whether p is already in its multi-line form: CRLF line ends only, the
 * last line ended, no line starting with '.'. Most stored messages are
 * (SMTP and IMAP APPEND store CRLF), and they go out without a copy. */
static bool pop3_body_is_clean(const char *p, size_t n)
{
	const char *end = p + n, *q;

	if (n < 2 || p[0] == '.' || p[n - 2] != '\r' || p[n - 1] != '\n')
		return false;
	for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
		if (q[-1] != '\r' || (q + 1 < end && q[1] == '.'))
			return false;
	}
	for (q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++) {
		if (q + 1 == end || q[1] != '\n')
			return false;
	}
	return true;
}

static void pop3_body_end(struct pop3_session *s)
{
	s->sending = false;
	s->out_p = NULL;
	s->out_n = 0;
	free(s->rd.buf);
	s->rd.buf = NULL;
	strbuf_free(&s->rd.top);
}

/* A read failed after the "+OK": the body cannot be ended honestly, so
 * the conn closes (the client sees a cut reply, not a wrong message). */
static void pop3_body_broken(struct pop3_session *s)
{
	log_error(session_sid(&s->core), "pop3 message uid %u of %s: %s",
		  s->rd.uid, s->core.user, s->rd.error);
	pop3_body_end(s);
	session_close(&s->core);
}

static int pop3_chunk_done(struct session *core, void *arg, bool gone);

/* The next chunk of the blob: 1 read (s->out_p/out_n set), 0 the read is
 * out (pop3_chunk_done goes on), -1 failed. */
static int pop3_body_next(struct pop3_session *s)
{
	s->rd.off = s->body_sent;
	s->rd.cap = (size_t)MIN((uint64_t)s->rd.cap, s->body_end - s->body_sent);
	if (session_reads_pooled(&s->core)) {
		s->rd.reading = true;
		session_read(&s->core, pop3_read_chunk, pop3_chunk_done, &s->rd);
		return 0;
	}
	pop3_read_chunk(session_reader(&s->core), &s->rd);
	if (s->rd.ret <= 0 || s->rd.got == 0) {
		if (s->rd.ret > 0)
			pop3_read_error(&s->rd, -1, "the blob is shorter than it was");
		return -1;
	}
	s->out_p = s->rd.buf;
	s->out_n = s->rd.got;
	s->body_sent += s->rd.got;
	return 1;
}

void pop3_session_pump(struct pop3_session *s)
{
	while (s->sending && !s->rd.reading &&
	       conn_output_pending(s->core.conn) < POP3_OUTPUT_HIGH) {
		size_t n;

		if (s->out_n == 0 && s->body_sent < s->body_end) {
			int ret = pop3_body_next(s);

			if (ret < 0) {
				pop3_body_broken(s);
				return;
			}
			continue;
		}
		n = MIN(s->out_n, POP3_SEND_CHUNK);
		dotstuff_feed(&s->ds, &s->out, s->out_p, n);
		s->out_p += n;
		s->out_n -= n;
		if (s->out_n == 0 && s->body_sent >= s->body_end)
			dotstuff_finish(&s->ds, &s->out);
		conn_write(s->core.conn, s->out.p, s->out.n);
		strbuf_reset(&s->out);
		if (s->out_n == 0 && s->body_sent >= s->body_end)
			pop3_body_end(s);
	}
}

/* Send [p, p + n) (the first n of body_end bytes) after the "+OK" line
 * the caller queued. Returns 1 when all is queued, 0 when it goes on. */
static int pop3_body_start(struct pop3_session *s, const char *p, size_t n)
{
	dotstuff_init(&s->ds);
	if (n == s->body_end && (n == 0 || pop3_body_is_clean(p, n))) {
		conn_write(s->core.conn, p, n);
		conn_write_str(s->core.conn, ".\r\n");
		pop3_body_end(s);
		return 1;
	}
	s->out_p = p;
	s->out_n = n;
	s->body_sent = n;
	s->sending = true;
	pop3_session_pump(s);
	return s->sending ? 0 : 1;
}

/* A read found nothing (0) or failed (-1) before the "+OK": -ERR. */
static int pop3_read_failed(struct pop3_session *s)
{
	log_error(session_sid(&s->core), "pop3 message uid %u of %s: %s",
		  s->rd.uid, s->core.user, s->rd.error);
	pop3_err(s, "[SYS/TEMP] Cannot read the message");
	pop3_body_end(s);
	return -1;
}

/* A RETR chunk came back. */
static int pop3_chunk_done(struct session *core, void *arg UNUSED,
			   bool gone)
{
	struct pop3_session *s = (struct pop3_session *)core;

	s->rd.reading = false;
	if (gone)
		return -1;	/* pop3_free frees the buffer */
	if (!s->sending) {	/* the first chunk: the answer */
		if (s->rd.ret <= 0)
			return pop3_read_failed(s);
		s->retrieved++;
		s->body_end = s->rd.size;
		pop3_ok(s, "%llu octets", (unsigned long long)s->rd.msg_size);
		return pop3_body_start(s, s->rd.buf, s->rd.got);
	}
	if (s->rd.ret <= 0 || s->rd.got == 0) {
		if (s->rd.ret > 0)
			pop3_read_error(&s->rd, -1, "the blob is shorter than it was");
		pop3_body_broken(s);
		return 1;
	}
	s->out_p = s->rd.buf;
	s->out_n = s->rd.got;
	s->body_sent += s->rd.got;
	pop3_session_pump(s);
	return 1;
}

static void pop3_read_setup(struct pop3_session *s, const struct pop3_msg *msg)
{
	s->rd.blob_id = msg->blob_id;
	s->rd.uid = msg->uid;
	s->rd.msg_size = msg->size;
	s->rd.ret = -1;
	s->body_sent = 0;
	s->body_end = 0;
}

int pop3_body_retr(struct pop3_session *s, const struct pop3_msg *msg)
{
	pop3_read_setup(s, msg);
	/* The message's size is known: a small one is read in one step into
	 * a buffer its size, a large one by chunks into one chunk's. */
	s->rd.cap = (size_t)MIN(MAX(msg->size, (uint64_t)1), POP3_READ_CHUNK);
	s->rd.off = 0;
	s->rd.buf = xmalloc(s->rd.cap);
	return session_read(&s->core, pop3_read_chunk, pop3_chunk_done, &s->rd);
}

/* A TOP read came back. */
static int pop3_top_done(struct session *core, void *arg UNUSED,
			   bool gone)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (gone)
		return -1;
	if (s->rd.ret <= 0)
		return pop3_read_failed(s);
	pop3_ok(s, "Top of message follows");
	s->body_end = s->rd.top.n;
	return pop3_body_start(s, s->rd.top.p, s->rd.top.n);
}

int pop3_body_top(struct pop3_session *s, const struct pop3_msg *msg,
		  uint32_t lines)
{
	pop3_read_setup(s, msg);
	s->rd.lines = lines;
	return session_read(&s->core, pop3_read_top, pop3_top_done, &s->rd);
}

void pop3_body_free(struct pop3_session *s)
{
	pop3_body_end(s);
	strbuf_free(&s->out);
}
