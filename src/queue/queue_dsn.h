/* queue_dsn.h: delivery status notifications (RFC 3464 multipart/report,
 * report-type=delivery-status) for bounces, delay notices and success
 * reports, and the NOTIFY rules of RFC 3461 that decide when one is sent. */
#ifndef POSTHORN_QUEUE_QUEUE_DSN_H
#define POSTHORN_QUEUE_QUEUE_DSN_H

#include "base/base.h"

enum queue_dsn_action {
	QUEUE_DSN_FAILED,
	QUEUE_DSN_DELAYED,
	QUEUE_DSN_DELIVERED,
	QUEUE_DSN_RELAYED,
};

struct queue_dsn_rcpt {
	const char *address;	/* Final-Recipient (rfc822) */
	const char *orcpt;	/* "type;address" as queued, or NULL/"" */
	enum queue_dsn_action action;
	const char *status;	/* enhanced code "5.1.1" */
	const char *remote_mta;	/* host that answered, or NULL */
	/* The remote reply ("550 5.1.1 no such user"; Diagnostic-Code type
	 * smtp when remote_mta is set) or our own reason (type X-Posthorn),
	 * or NULL. Line breaks become spaces; capped at 900 bytes. */
	const char *diagnostic;
};

struct queue_dsn {
	const char *reporting_mta;	/* our hostname */
	const char *sender;		/* envelope sender = To: of the report */
	const char *envid;		/* ENVID, or NULL */
	const char *ret;		/* "FULL", "HDRS" or NULL */
	/* Unix seconds: Arrival-Date, Date/Last-Attempt-Date, and the
	 * Will-Retry-Until of delayed recipients. */
	int64_t arrival_date, now, retry_until;
	const struct queue_dsn_rcpt *rcpts;
	size_t n_rcpts;
	const char *original;		/* the queued message */
	size_t original_size;
};

/* Originals up to this size go back whole in a failure report when the
 * sender gave no RET; larger ones as headers only. */
#define QUEUE_DSN_FULL_MAX (128 * 1024)

/* The whole report message, CRLF line ends (malloc'd, caller frees).
 * From: MAILER-DAEMON@reporting_mta, To: the sender, Auto-Submitted:
 * auto-replied, Date, Message-ID; parts: a text/plain explanation, the
 * message/delivery-status, and the original: message/rfc822 when some
 * recipient failed and RET=FULL (or no RET and the original is at most
 * QUEUE_DSN_FULL_MAX), else text/rfc822-headers. An original with 8-bit
 * bytes marks its part and the report 8bit. Asserts that the sender is not
 * the null sender and that there is at least one recipient: callers never
 * report on a bounce. */
char *queue_dsn_build(const struct queue_dsn *d, size_t *size_r);

/* Should a report of this action be sent for a recipient with this NOTIFY
 * value as queued ("SUCCESS,DELAY", "NEVER", any case; "" or NULL =
 * the default FAILURE,DELAY)? DELIVERED and RELAYED answer to SUCCESS. */
bool queue_dsn_wanted(const char *notify, enum queue_dsn_action action);

/* "failed", "delayed", "delivered", "relayed". */
const char *queue_dsn_action_name(enum queue_dsn_action action);

#endif
