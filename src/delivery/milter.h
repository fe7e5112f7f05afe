/* milter.h: the milter client (Sendmail/Postfix milter protocol v6) for one
 * SMTP session: an ordered chain of milters over TCP or unix sockets,
 * asynchronous on the session's event_base, with per-milter timeouts and a
 * default action when a milter is down. Each stage (connect, HELO, MAIL,
 * RCPT, the message) yields one result for the SMTP layer to apply. */
#ifndef POSTHORN_DELIVERY_MILTER_H
#define POSTHORN_DELIVERY_MILTER_H

#include "base/strbuf.h"

struct event_base;

/* What a milter that cannot be reached, times out, closes or talks
 * garbage counts as (Postfix's milter_default_action). */
enum milter_on_error {
	MILTER_ON_ERROR_TEMPFAIL,	/* 451 4.7.1 for the rest of the session */
	MILTER_ON_ERROR_ACCEPT,		/* go on without that milter */
	MILTER_ON_ERROR_REJECT,		/* 550 5.7.1 for the rest of the session */
};

struct milter_spec {
	const char *name;		/* for logs: as configured */
	const char *host;		/* numeric IPv4/IPv6 (TCP), or NULL */
	unsigned port;
	const char *unix_path;		/* when host is NULL */
	unsigned connect_timeout_ms;	/* 0 = 5000 */
	/* For each reply (PROGRESS restarts it), and for the OPTNEG after
	 * the connect; 0 = 30000. */
	unsigned timeout_ms;
	enum milter_on_error on_error;
};

enum milter_verdict {
	MILTER_CONTINUE,	/* nothing against it: go on */
	MILTER_ACCEPT,		/* every milter accepted (none left to ask) */
	MILTER_REJECT,
	MILTER_TEMPFAIL,
	MILTER_DISCARD,		/* say 250, store nothing */
};

struct milter_rcpt_add {
	const char *address;	/* as the milter gave it, "<a@b>" usually */
	const char *args;	/* ESMTP args of ADDRCPT_PAR, or "" */
};

/* Valid during the completion callback only. */
struct milter_result {
	enum milter_verdict verdict;
	/* REJECT/TEMPFAIL: the reply to send, without the final CRLF:
	 * the milter's REPLYCODE (lines separated by CRLF) or our default
	 * ("550 5.7.1 Command rejected"); code and enhanced are its first
	 * line's, for logs. NULL otherwise. */
	const char *reply;
	unsigned code;
	char enhanced[16];
	const char *by;		/* name of the milter that decided, or NULL */
	bool failed;		/* the verdict is a milter's on_error */
	/* The message stage only. */
	bool quarantine;
	const char *quarantine_reason;	/* or NULL */
	/* The message after every milter's header and body changes: set
	 * when one changed something (n_header_edits, body_replaced). */
	bool changed;
	struct str message;
	unsigned n_header_edits;
	bool body_replaced;
	const struct milter_rcpt_add *rcpt_adds;
	size_t n_rcpt_adds;
	const char *const *rcpt_dels;
	size_t n_rcpt_dels;
	const char *new_from;		/* CHGFROM, or NULL */
	const char *new_from_args;	/* its ESMTP args, or "" */
};

typedef void milter_done_fn(void *arg, const struct milter_result *result);

struct milter_client;

/* Connect to every milter (in the background, at once) for one SMTP
 * session; sid names it in logs (or NULL). specs are copied. Never NULL. */
struct milter_client *milter_client_new(struct event_base *base,
					const struct milter_spec *specs,
					size_t n, const char *sid);
/* QUIT to every milter (sent in the background) and free. A stage in
 * progress is cancelled: its callback never runs. */
void milter_client_free(struct milter_client **mc);

/* Set (or with value NULL forget) a macro: "j", "_", "{daemon_name}",
 * "{if_addr}", "i", "{auth_authen}", "{mail_addr}", "{rcpt_addr}",
 * "{tls_version}"... Each command sends the macros its stage asks for
 * (the milter's SETSYMLIST list, else Postfix's default list) that have a
 * value now. */
void milter_client_macro(struct milter_client *mc, const char *name,
			 const char *value);

/* The stages. Each completes by calling done(arg, result) from the event
 * loop, never from inside the call; one stage at a time. */
struct milter_connect_info {
	const char *hostname;	/* client's verified name or "[192.0.2.1]" */
	const char *address;	/* "192.0.2.1", "2001:db8::1", or NULL */
	unsigned port;
	bool unix_socket;	/* address is a socket path */
};
void milter_client_connect(struct milter_client *mc,
			   const struct milter_connect_info *info,
			   milter_done_fn *done, void *arg);
void milter_client_helo(struct milter_client *mc, const char *helo,
			milter_done_fn *done, void *arg);
/* args[0] = "<sender>", then the ESMTP parameters. */
void milter_client_mail(struct milter_client *mc, const struct str *args,
			size_t n, milter_done_fn *done, void *arg);
/* REJECT/TEMPFAIL refuse this recipient only; DISCARD the message. */
void milter_client_rcpt(struct milter_client *mc, const struct str *args,
			size_t n, milter_done_fn *done, void *arg);
/* DATA, the header fields, EOH, the body, end of message, through every
 * milter in order: each sees the message with the earlier ones' header
 * and body changes applied (as Postfix does). message is CRLF text,
 * unstuffed, and must stay valid until done. */
void milter_client_message(struct milter_client *mc, struct str message,
			   milter_done_fn *done, void *arg);
/* The transaction ends without (or after) the message: ABORT to each
 * milter that is in it, so the next MAIL starts afresh. */
void milter_client_abort(struct milter_client *mc);

/* One-word verdict name for logs ("reject"). */
const char *milter_verdict_name(enum milter_verdict v);

#endif
