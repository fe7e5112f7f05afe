/* fuzz_queue_sendmail.c: the sendmail message preparation on any input, with
 * the option bits taken from the first byte: the result has CRLF line ends
 * only, a header with From/Date/Message-ID, no Bcc field with -t, and
 * recipients that all contain '@'; fed whole and in two pieces, the
 * recipients agree. */
#include "base/base.h"
#include "queue/queue_sendmail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const struct queue_sendmail_opts *o, const uint8_t *data,
		size_t size, size_t split, struct queue_sendmail_msg *m)
{
	struct queue_sendmail *s = queue_sendmail_new(o);

	if (queue_sendmail_feed(s, data, split))
		(void)queue_sendmail_feed(s, data + split, size - split);
	queue_sendmail_finish(&s, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_sendmail_opts o = {
		.from = "joe@example.test",
		.hostname = "example.test",
		.now = 1795383600,
	};
	struct queue_sendmail_msg a, b;
	const char *body;

	if (size == 0)
		return 0;
	o.extract_rcpts = (data[0] & 1) != 0;
	o.dot_ends = (data[0] & 2) != 0;
	o.fullname = (data[0] & 4) != 0 ? "Joe \"Q\" Public" : NULL;
	data++;
	size--;
	run(&o, data, size, size, &a);
	run(&o, data, size, size / 2, &b);
	ASSERT(a.n_rcpts == b.n_rcpts);
	for (size_t i = 0; i < a.n_rcpts; i++) {
		ASSERT(strcmp(a.rcpts[i], b.rcpts[i]) == 0);
		ASSERT(strchr(a.rcpts[i], '@') != NULL);
	}
	ASSERT(a.size >= 4 && a.data[a.size - 1] == '\n');
	for (size_t i = 0; i < a.size; i++) {
		if (a.data[i] == '\n')
			ASSERT(i > 0 && a.data[i - 1] == '\r');
	}
	body = memmem(a.data, a.size, "\r\n\r\n", 4);
	ASSERT(body != NULL);
	if (o.extract_rcpts) {
		/* Lines may hold NUL bytes: walk them with memchr. */
		for (const char *p = a.data; p < body;
		     p = (const char *)memchr(p, '\n', (size_t)(body - p) + 2) + 1)
			ASSERT((size_t)(body - p) < 4 ||
			       strncasecmp(p, "Bcc:", 4) != 0);
	}
	queue_sendmail_msg_free(&a);
	queue_sendmail_msg_free(&b);
	return 0;
}
