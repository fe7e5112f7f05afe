/* queue_dsn.c: building RFC 3464 delivery status notifications and the
 * RFC 3461 NOTIFY decision (see queue_dsn.h). */
#include "queue/queue_dsn.h"

#include <sys/random.h>
#include <time.h>

#include "base/str.h"
#include "base/strbuf.h"

#define DIAGNOSTIC_MAX 900

const char *queue_dsn_action_name(enum queue_dsn_action action)
{
	switch (action) {
	case QUEUE_DSN_FAILED: return "failed";
	case QUEUE_DSN_DELAYED: return "delayed";
	case QUEUE_DSN_DELIVERED: return "delivered";
	case QUEUE_DSN_RELAYED: return "relayed";
	}
	return "failed";
}

bool queue_dsn_wanted(const char *notify, enum queue_dsn_action action)
{
	struct str rest, word;
	bool success = false, failure = false, delay = false;

	if (notify == NULL || notify[0] == '\0') {
		failure = true;
		delay = true;
	}
	rest = str_make(notify != NULL ? notify : "",
			notify != NULL ? strlen(notify) : 0);
	while (rest.n > 0) {
		(void)str_split(rest, ',', &word, &rest);
		word = str_trim(word);
		if (str_caseeq(word, STR_LIT("SUCCESS")))
			success = true;
		else if (str_caseeq(word, STR_LIT("FAILURE")))
			failure = true;
		else if (str_caseeq(word, STR_LIT("DELAY")))
			delay = true;
		/* NEVER, alone by RFC 3461, leaves all false. */
	}
	switch (action) {
	case QUEUE_DSN_FAILED: return failure;
	case QUEUE_DSN_DELAYED: return delay;
	case QUEUE_DSN_DELIVERED:
	case QUEUE_DSN_RELAYED: return success;
	}
	return false;
}

static void put_date(struct strbuf *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	strbuf_append_c(b, buf);
}

/* A header value on one line: line breaks and controls become spaces, at
 * most max bytes. 8-bit bytes (UTF-8 addresses) pass. */
static void put_value(struct strbuf *b, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0' && n < max; s++, n++) {
		unsigned char ch = (unsigned char)*s;

		strbuf_putc(b, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
	}
}

static uint64_t random_u64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)random() << 32 ^ (uint64_t)random();
	return v;
}

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] >= 0x80 || p[i] == '\0')
			return true;
	}
	return false;
}

/* Length of the header section of msg, including the line end of its last
 * field but not the empty line; the whole message when it has no body. */
static size_t header_len(const char *msg, size_t n)
{
	size_t i = 0;

	while (i < n) {
		/* At the start of a line: an empty line ends the header. */
		if (msg[i] == '\n' ||
		    (msg[i] == '\r' && i + 1 < n && msg[i + 1] == '\n'))
			return i;
		const char *nl = memchr(msg + i, '\n', n - i);

		if (nl == NULL)
			return n;
		i = (size_t)(nl - msg) + 1;
	}
	return n;
}

/* Append data with every line end made CRLF, ending with a line end. */
static void put_crlf(struct strbuf *b, const char *p, size_t n)
{
	size_t start = 0;

	strbuf_grow(b, n + n / 32 + 2);
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			continue;
		strbuf_append(b, p + start, i - start);
		strbuf_append(b, "\r\n", 2);
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	strbuf_append(b, p + start, n - start);
	if (n - start > 0)
		strbuf_append(b, "\r\n", 2);
}

static const char *subject(const struct queue_dsn *d)
{
	bool delayed = false, delivered = false;

	for (size_t i = 0; i < d->n_rcpts; i++) {
		switch (d->rcpts[i].action) {
		case QUEUE_DSN_FAILED:
			return "Undelivered Mail Returned to Sender";
		case QUEUE_DSN_DELAYED: delayed = true; break;
		case QUEUE_DSN_RELAYED: break;
		case QUEUE_DSN_DELIVERED: delivered = true; break;
		}
	}
	if (delayed)
		return "Delayed Mail (still being retried)";
	return delivered ? "Successful Mail Delivery Report" :
		"Relayed Mail Delivery Report";
}

static void put_human(struct strbuf *b, const struct queue_dsn *d,
		      bool any_failed)
{
	strbuf_printf(b, "This is the mail system at host ");
	put_value(b, d->reporting_mta, 255);
	strbuf_append_c(b, ".\r\n\r\n");
	if (any_failed)
		strbuf_append_c(b,
			"I'm sorry to have to inform you that your message could not\r\n"
			"be delivered to one or more recipients.\r\n");
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct queue_dsn_rcpt *r = &d->rcpts[i];

		if (r->action == QUEUE_DSN_DELAYED) {
			strbuf_append_c(b, "\r\nThe delivery of your message is delayed; "
					"it will be retried until\r\n");
			put_date(b, d->retry_until);
			strbuf_append_c(b, ". You do not need to send it again.\r\n");
			break;
		}
	}
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct queue_dsn_rcpt *r = &d->rcpts[i];

		strbuf_append_c(b, "\r\n<");
		put_value(b, r->address, 512);
		strbuf_printf(b, ">: %s", queue_dsn_action_name(r->action));
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			strbuf_append_c(b, ", host ");
			put_value(b, r->remote_mta, 255);
			strbuf_append_c(b, " said");
		}
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
			strbuf_append_c(b, ":\r\n    ");
			put_value(b, r->diagnostic, DIAGNOSTIC_MAX);
		}
		strbuf_append_c(b, "\r\n");
	}
}

static void put_status(struct strbuf *b, const struct queue_dsn *d)
{
	strbuf_append_c(b, "Reporting-MTA: dns; ");
	put_value(b, d->reporting_mta, 255);
	strbuf_append_c(b, "\r\n");
	if (d->envid != NULL && d->envid[0] != '\0') {
		strbuf_append_c(b, "Original-Envelope-Id: ");
		put_value(b, d->envid, 100);
		strbuf_append_c(b, "\r\n");
	}
	strbuf_append_c(b, "Arrival-Date: ");
	put_date(b, d->arrival_date);
	strbuf_append_c(b, "\r\n");
	for (size_t i = 0; i < d->n_rcpts; i++) {
		const struct queue_dsn_rcpt *r = &d->rcpts[i];

		strbuf_append_c(b, "\r\nFinal-Recipient: rfc822; ");
		put_value(b, r->address, 512);
		strbuf_append_c(b, "\r\n");
		if (r->orcpt != NULL && r->orcpt[0] != '\0') {
			const char *semi = strchr(r->orcpt, ';');

			strbuf_append_c(b, "Original-Recipient: ");
			if (semi != NULL) {
				put_value(b, r->orcpt, (size_t)(semi - r->orcpt));
				strbuf_append_c(b, "; ");
				put_value(b, semi + 1, 512);
			} else {
				strbuf_append_c(b, "rfc822; ");
				put_value(b, r->orcpt, 512);
			}
			strbuf_append_c(b, "\r\n");
		}
		strbuf_printf(b, "Action: %s\r\nStatus: ",
			      queue_dsn_action_name(r->action));
		put_value(b, r->status != NULL && r->status[0] != '\0' ?
			  r->status : r->action == QUEUE_DSN_FAILED ? "5.0.0" :
			  r->action == QUEUE_DSN_DELAYED ? "4.0.0" : "2.0.0", 16);
		strbuf_append_c(b, "\r\n");
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			strbuf_append_c(b, "Remote-MTA: dns; ");
			put_value(b, r->remote_mta, 255);
			strbuf_append_c(b, "\r\n");
		}
		if (r->diagnostic != NULL && r->diagnostic[0] != '\0') {
			strbuf_append_c(b, "Diagnostic-Code: ");
			strbuf_append_c(b, r->remote_mta != NULL &&
					r->remote_mta[0] != '\0' ? "smtp; " :
					"X-Posthorn; ");
			put_value(b, r->diagnostic, DIAGNOSTIC_MAX);
			strbuf_append_c(b, "\r\n");
		}
		strbuf_append_c(b, "Last-Attempt-Date: ");
		put_date(b, d->now);
		strbuf_append_c(b, "\r\n");
		if (r->action == QUEUE_DSN_DELAYED) {
			strbuf_append_c(b, "Will-Retry-Until: ");
			put_date(b, d->retry_until);
			strbuf_append_c(b, "\r\n");
		}
	}
}

char *queue_dsn_build(const struct queue_dsn *d, size_t *size_r)
{
	struct strbuf b = STRBUF_INIT;
	char boundary[64];
	bool any_failed = false, full, eightbit;
	size_t orig_len;

	ASSERT(d->sender != NULL && d->sender[0] != '\0');
	ASSERT(d->n_rcpts > 0);
	for (size_t i = 0; i < d->n_rcpts; i++)
		any_failed = any_failed || d->rcpts[i].action == QUEUE_DSN_FAILED;
	/* RFC 3461 4.3: RET chooses what a failure report carries; the
	 * other reports carry the header only. */
	if (d->ret != NULL && strcasecmp(d->ret, "FULL") == 0)
		full = any_failed;
	else if (d->ret != NULL && strcasecmp(d->ret, "HDRS") == 0)
		full = false;
	else
		full = any_failed && d->original_size <= QUEUE_DSN_FULL_MAX;
	orig_len = full ? d->original_size :
		header_len(d->original, d->original_size);
	eightbit = has_8bit(d->original, orig_len);
	/* A boundary that cannot occur in the original. */
	do {
		snprintf(boundary, sizeof(boundary), "=_posthorn_%016llx_=",
			 (unsigned long long)random_u64());
	} while (memmem(d->original, orig_len, boundary, strlen(boundary)) != NULL);

	strbuf_append_c(&b, "From: Mail Delivery System <MAILER-DAEMON@");
	put_value(&b, d->reporting_mta, 255);
	strbuf_append_c(&b, ">\r\nTo: <");
	put_value(&b, d->sender, 512);
	strbuf_printf(&b, ">\r\nSubject: %s\r\nDate: ", subject(d));
	put_date(&b, d->now);
	strbuf_printf(&b, "\r\nMessage-ID: <%lld.%016llx@",
		      (long long)d->now, (unsigned long long)random_u64());
	put_value(&b, d->reporting_mta, 255);
	strbuf_printf(&b, ">\r\nAuto-Submitted: auto-replied\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		      "\tboundary=\"%s\"\r\n", boundary);
	if (eightbit)
		strbuf_append_c(&b, "Content-Transfer-Encoding: 8bit\r\n");
	strbuf_printf(&b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n"
		      "--%s\r\nContent-Description: Notification\r\n"
		      "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		      boundary);
	put_human(&b, d, any_failed);
	strbuf_printf(&b, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
		      "Content-Type: message/delivery-status\r\n\r\n", boundary);
	put_status(&b, d);
	strbuf_printf(&b, "\r\n--%s\r\n", boundary);
	if (full)
		strbuf_append_c(&b, "Content-Description: Undelivered Message\r\n"
				"Content-Type: message/rfc822\r\n");
	else
		strbuf_append_c(&b, "Content-Description: Message Headers\r\n"
				"Content-Type: text/rfc822-headers\r\n");
	if (eightbit)
		strbuf_append_c(&b, "Content-Transfer-Encoding: 8bit\r\n");
	strbuf_append_c(&b, "\r\n");
	put_crlf(&b, d->original, orig_len);
	strbuf_printf(&b, "\r\n--%s--\r\n", boundary);
	return strbuf_detach(&b, size_r);
}
