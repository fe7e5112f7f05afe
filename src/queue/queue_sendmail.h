/* queue_sendmail.h: a message given to the sendmail command, made ready for
 * submission: line ends made CRLF, the input ended by a lone "." unless -i,
 * missing From:/Date:/Message-ID: added, and with -t the recipients taken
 * from To:/Cc:/Bcc: and the Bcc: fields removed. Push-style, no I/O. */
#ifndef POSTHORN_QUEUE_QUEUE_SENDMAIL_H
#define POSTHORN_QUEUE_QUEUE_SENDMAIL_H

#include "base/base.h"

struct queue_sendmail_opts {
	bool extract_rcpts;	/* -t */
	bool dot_ends;		/* no -i/-oi: a line "." alone ends the input */
	const char *from;	/* the sender, for a missing From: */
	const char *fullname;	/* -F, or NULL */
	const char *hostname;	/* right side of a new Message-ID */
	int64_t now;		/* unix seconds, for a new Date: */
};

struct queue_sendmail_msg {
	char *data;		/* CRLF line ends, not dot-stuffed */
	size_t size;
	char **rcpts;		/* -t: the addresses of To, Cc and Bcc */
	size_t n_rcpts;
};

struct queue_sendmail;

/* opts' strings must outlive the object. */
struct queue_sendmail *queue_sendmail_new(const struct queue_sendmail_opts *opts);
/* Feed the next input bytes (any split). Returns false once the input has
 * ended (a lone "." line): the rest is ignored, stop reading. */
bool queue_sendmail_feed(struct queue_sendmail *s, const void *data, size_t len);
/* End of input: frees *s (sets it NULL) and fills msg_r (free it with
 * queue_sendmail_msg_free). An input without a header gets one. */
void queue_sendmail_finish(struct queue_sendmail **s,
			   struct queue_sendmail_msg *msg_r);
void queue_sendmail_msg_free(struct queue_sendmail_msg *msg);

/* The addr-specs of an RFC 5322 address list ("A <a@x>, b@y, grp: c@z;"),
 * display names, comments and group names dropped; each is passed to fn. */
void queue_sendmail_addresses(const char *value,
			      void (*fn)(void *arg, const char *address),
			      void *arg);

#endif
