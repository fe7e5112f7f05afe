/* smtp_data.h: push reader for the bytes after "354": removes the
 * dot-stuffing, finds the one true end of data <CRLF>.<CRLF>, and refuses
 * bare CR and bare LF (the SMTP smuggling class) without losing sync. */
#ifndef POSTHORN_MAIL_SMTP_DATA_H
#define POSTHORN_MAIL_SMTP_DATA_H

#include "base/strbuf.h"
#include "mail/smtp_status.h"

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
 * That binds senders (our outbound client keeps to it); as a receiver we
 * take much longer lines, as other servers do, since generated HTML in one
 * line is common and refusing it bounces real mail. */
#define SMTP_DATA_LINE_MAX 1000
/* The receiving bound when none is configured ([smtp] max_line_length). */
#define SMTP_DATA_LINE_DEFAULT (1024 * 1024)

struct smtp_data_limits {
	uint64_t max_size;	/* message octets after unstuffing, CRLF
				 * included; 0 = no limit */
	size_t max_line;	/* octets per line as received, CRLF
				 * included, a stuffed dot not counted;
				 * 0 = SMTP_DATA_LINE_DEFAULT */
};

enum smtp_data_result {
	/* All input consumed, the end of data not seen yet. */
	SMTP_DATA_MORE = 0,
	/* The end of data was consumed and the message is complete. */
	SMTP_DATA_DONE,
	/* The remaining results also mean "end of data consumed", but the
	 * message must be refused (see smtp_data_status()). The reader
	 * stops storing at the first fault and keeps consuming until the
	 * real <CRLF>.<CRLF>, so the session stays in sync. When several
	 * faults occur the first one in this order is reported: */
	SMTP_DATA_BARE_CRLF,	/* a CR not followed by LF, or an LF not
				 * preceded by CR; never a line break and
				 * never part of an end of data */
	SMTP_DATA_TOO_BIG,	/* more than max_size octets */
	SMTP_DATA_LINE_TOO_LONG, /* a line longer than max_line */
};

struct smtp_data;

/* A reader for one message. limits may be NULL (no size limit, the
 * default line limit). */
struct smtp_data *smtp_data_new(const struct smtp_data_limits *limits);
void smtp_data_free(struct smtp_data **r);

/* Feed the next len input bytes. The message, unstuffed and with CRLF line
 * ends, is appended to out (the same or another buffer each call: the
 * caller may flush it between calls); nothing more is appended once a
 * fault is found. *consumed_r gets the bytes used: all of them for
 * SMTP_DATA_MORE, up to and including the terminating LF otherwise; bytes
 * after it (a pipelined command) are not touched. Must not be called again
 * after a result other than SMTP_DATA_MORE. */
enum smtp_data_result smtp_data_feed(struct smtp_data *r, struct strbuf *out,
				     const void *data, size_t len,
				     size_t *consumed_r);

/* Message octets so far (counting on past max_size, so it can be logged). */
uint64_t smtp_data_size(const struct smtp_data *r);

/* The reply for a final result (250 2.0.0 for SMTP_DATA_DONE, which the
 * server sends only once the message is durable). PANICs on
 * SMTP_DATA_MORE. */
struct smtp_status smtp_data_status(enum smtp_data_result result);

#endif
