/* smtp_checks.h: the inbound check pipeline of port 25 (SPF, DNS lists,
 * and what other files add: DKIM, DMARC, ARC, milters, rate limits). A
 * check is a const struct smtp_check listed once in smtp_checks.c; the
 * pipeline calls its hooks at each SMTP stage, counts its asynchronous
 * operations, holds the session at RCPT and at the end of data until they
 * are over (bounded by [inbound] check_timeout), then decides. */
#ifndef POSTHORN_PROTO_SMTP_SMTP_CHECKS_H
#define POSTHORN_PROTO_SMTP_SMTP_CHECKS_H

#include "dns/dns.h"
#include "mail/auth_results.h"
#include "mail/dkim_verify.h"
#include "mail/smtp_status.h"
#include "mail/spf.h"
#include "proto/smtp/smtp_int.h"

/* Where an asynchronous operation must be over: before the answer to an
 * RCPT (a DNS list verdict, a milter's RCPT reply) or before the answer
 * to the end of data (SPF, DKIM keys, DMARC record, a milter's EOM). */
enum smtp_check_wait {
	SMTP_CHECK_BY_RCPT,
	SMTP_CHECK_BY_EOM,
	SMTP_CHECK_WAIT_COUNT,
};

/* What happens to the message (or, before DATA, to each RCPT: reject and
 * tempfail refuse it, the others let it through). The worst verdict
 * wins, in this order: reject > tempfail > discard > quarantine > accept. */
enum smtp_check_action {
	SMTP_CHECK_ACCEPT,
	SMTP_CHECK_QUARANTINE,	/* deliver to the Junk mailbox of the locals */
	SMTP_CHECK_DISCARD,	/* 250, nothing stored */
	SMTP_CHECK_TEMPFAIL,	/* 451 4.7.1 unless a status is given */
	SMTP_CHECK_REJECT,	/* 550 5.7.1 unless a status is given */
};
/* "accept", "quarantine", ...: the log's action=. */
const char *smtp_check_action_name(enum smtp_check_action a);

/* A check's handle in a session: given to every hook. */
struct smtp_check_ctx {
	struct smtp_session *s;
	const struct smtp_check *check;
	void *state;		/* check->state_size bytes, zeroed at open */
	/* This check's operations still out, per wait point. */
	unsigned pending[SMTP_CHECK_WAIT_COUNT];
	bool enabled;		/* open() said yes */
};

/* A check. Every hook may be NULL. Hooks run on the session's thread;
 * s->tx is the transaction from mail() to tx_end(). */
struct smtp_check {
	const char *name;		/* "spf", "dnsbl": for logs */
	size_t state_size;		/* per session, zeroed */
	/* The session opened (before or while the greeting delay runs).
	 * False: the check does not run in this session (its setting is
	 * off); no other hook is called then. */
	bool (*open)(struct smtp_check_ctx *c);
	void (*helo)(struct smtp_check_ctx *c);	/* s->helo is set */
	/* MAIL accepted: s->tx is new, s->tx->sender set. */
	void (*mail)(struct smtp_check_ctx *c);
	/* Before the 250 to an RCPT that resolved (address canonical);
	 * may refuse it with smtp_check_verdict() (then it is not added)
	 * or start operations SMTP_CHECK_BY_RCPT that the answer waits for.
	 * The verdict for this RCPT only goes through smtp_check_rcpt_refuse. */
	void (*rcpt)(struct smtp_check_ctx *c, const char *address);
	/* The message's bytes as they arrive (DATA after dot-unstuffing,
	 * BDAT as sent): for hashing while they stream in. */
	void (*body)(struct smtp_check_ctx *c, const char *p, size_t n);
	/* End of data, in the table's order, after every BY_EOM operation
	 * of every check is over (so DMARC sees SPF's and DKIM's results):
	 * add results, verdicts, header edits. May start more BY_EOM
	 * operations (a milter's round trip): the next check's eom waits
	 * for them. */
	void (*eom)(struct smtp_check_ctx *c);
	/* The wait ran out with operations of this check still pending at
	 * wait: cancel them (their callbacks must not come), call
	 * smtp_check_end() for each, and record temperror. */
	void (*timeout)(struct smtp_check_ctx *c, enum smtp_check_wait wait);
	/* The transaction ends (stored, refused, RSET, HELO, the client
	 * left): forget its part; BY_EOM operations still out must be
	 * cancelled and ended here. */
	void (*tx_end)(struct smtp_check_ctx *c);
	/* The session ends: cancel and end every operation, free what
	 * state holds. */
	void (*close)(struct smtp_check_ctx *c);
};

/* ---- for checks ---- */

/* The I/O thread's resolver for inbound checks, created on first use from
 * the [dns] settings (NULL, logged, when they do not work). Use it for
 * the operations of this stage; do not keep it past tx_end/close. */
struct dns_resolver *smtp_check_resolver(struct smtp_check_ctx *c);
/* The [inbound] settings. */
const struct smtp_inbound_settings *smtp_check_settings(
	const struct smtp_check_ctx *c);

/* An operation started / is over (its result recorded). end may run the
 * stage that waited for it: call it last in a callback. */
void smtp_check_begin(struct smtp_check_ctx *c, enum smtp_check_wait wait);
void smtp_check_end(struct smtp_check_ctx *c, enum smtp_check_wait wait);

/* An Authentication-Results method result for the message (mail/
 * auth_results.h: method "spf", result "pass", reason or NULL, props
 * like { "smtp.mailfrom", "a@example.com" }); strings copied. Results
 * given outside a transaction (at connect) apply to every message of the
 * session. */
void smtp_check_result(struct smtp_check_ctx *c, const char *method,
		       const char *result, const char *reason,
		       const struct auth_result_prop *props, size_t n_props);
/* Add a word to the message's log line ("dkim=pass(d=example.com)"); a
 * space goes before it. In a transaction for its line, else (or with
 * _session) for the line of every message of the session. */
void smtp_check_log(struct smtp_check_ctx *c, const char *fmt, ...)
	PRINTF_FMT(2, 3);
void smtp_check_session_log(struct smtp_check_ctx *c, const char *fmt, ...)
	PRINTF_FMT(2, 3);
/* Ask for an action with its reply (code 0: the default of the action);
 * the worst wins. In a transaction before DATA the verdict holds for the
 * rest of its RCPTs (reject/tempfail refuse them) and for the message; at
 * eom for the message. Outside a transaction (or with _session) it holds
 * for the session: every RCPT gets it, as Postfix's delayed reject does
 * (so the log names sender and recipient). st's strings are copied. */
void smtp_check_verdict(struct smtp_check_ctx *c, enum smtp_check_action a,
			struct smtp_status st);
void smtp_check_session_verdict(struct smtp_check_ctx *c,
				enum smtp_check_action a,
				struct smtp_status st);
/* Refuse only the RCPT being checked (a per-recipient rate limit). */
void smtp_check_rcpt_refuse(struct smtp_check_ctx *c, struct smtp_status st);
/* Add to the message's score (for the junk threshold). */
void smtp_check_score(struct smtp_check_ctx *c, double points);
/* Header edits applied when the message is accepted, in order: add a
 * field above ours (value without the name, folded as given, no final
 * CRLF), or change/delete (value NULL) the index'th (1-based) field of
 * that name in the message. */
void smtp_check_header_add(struct smtp_check_ctx *c, const char *name,
			   const char *value);
void smtp_check_header_change(struct smtp_check_ctx *c, const char *name,
			      unsigned index, const char *value);

/* Another check's handle in s (to read its state), or NULL when the
 * pipeline does not run. */
struct smtp_check_ctx *smtp_checks_find(struct smtp_session *s,
					const struct smtp_check *check);

/* ---- for the session (smtp_session.c, smtp_commands.c, smtp_rcpt.c) ---- */

/* Whether the pipeline runs for s: port 25, not a trusted network,
 * [inbound] checks on. Decided at open. */
bool smtp_checks_active(const struct smtp_session *s);
void smtp_checks_open(struct smtp_session *s);
void smtp_checks_helo(struct smtp_session *s);
void smtp_checks_mail(struct smtp_session *s);
/* Continue an RCPT once the checks decided: refuse NULL (go on) or the
 * reply to give; returns as a command handler does. gone: the client
 * left meanwhile (free and answer nothing). */
typedef int smtp_checks_rcpt_fn(struct smtp_session *s, void *arg,
				const struct smtp_status *refuse, bool gone);
/* The checks for an RCPT that resolved: 1/-1 (done(..) ran and its value
 * is returned), or 0: held until the operations are over, done comes
 * later (input held, the session outlives its conn). */
int smtp_checks_rcpt(struct smtp_session *s, const char *address,
		     smtp_checks_rcpt_fn *done, void *arg);
void smtp_checks_body(struct smtp_session *s, const char *p, size_t n);
/* The end of data: when the checks are over (at once, or later with the
 * session held and outliving its conn) done(s, gone) runs; then
 * smtp_checks_action() says what to do. gone: the client left meanwhile
 * (log, free the transaction, answer nothing). */
typedef void smtp_checks_eom_fn(struct smtp_session *s, bool gone);
void smtp_checks_eom(struct smtp_session *s, smtp_checks_eom_fn *done);
/* The decision, and its reply for tempfail/reject (always set then). */
enum smtp_check_action smtp_checks_action(const struct smtp_session *s,
					  struct smtp_status *st_r);
/* Append the Authentication-Results field and the header additions
 * (with CRLF) to out, and rename in the message every incoming
 * Authentication-Results that claims our authserv-id (RFC 8601 5), plus
 * the header changes. */
void smtp_checks_header(struct smtp_session *s, struct strbuf *out);
/* The score so far. */
double smtp_checks_score(const struct smtp_session *s);
/* " checks: spf=pass ... action=accept" for the tx's log line ("" when
 * the pipeline does not run). Valid until the tx ends. */
const char *smtp_checks_log_line(struct smtp_session *s);
void smtp_checks_tx_end(struct smtp_session *s);
void smtp_checks_close(struct smtp_session *s);

/* The checks, in order (smtp_checks.c's table). */
extern const struct smtp_check smtp_check_dnsbl;
extern const struct smtp_check smtp_check_spf;
extern const struct smtp_check smtp_check_dkim;	/* DKIM and ARC */
extern const struct smtp_check smtp_check_dmarc;
/* smtp_check_milter.c: the [milter] chain. */
extern const struct smtp_check smtp_check_milter;

/* smtp_check_spf.c, for DMARC: the SPF result of the transaction's MAIL
 * FROM identity (postmaster@HELO for <>) and the domain checked (valid
 * until tx_end). False while unknown or when SPF does not run. */
bool smtp_check_spf_result(struct smtp_session *s, enum spf_result *result_r,
			   const char **domain_r);

/* smtp_check_dkim.c, for DMARC: the verifier whose results
 * (dkim_verify_result) are the message's signatures, from its eom on
 * (valid until tx_end). NULL before that or when DKIM does not run. */
const struct dkim_verify *smtp_check_dkim_results(struct smtp_session *s);
/* smtp_check_dkim.c: port-25 mail forwarded through an alias to remote
 * addresses gets the next ARC set (RFC 8617), sealed with the DKIM key of
 * the first such alias's domain that has one. header holds what
 * smtp_checks_header() wrote (our Authentication-Results first, whose
 * value goes into the ARC-Authentication-Results); the three fields are
 * appended to it, or nothing (no key, no remote recipient, checks off). */
void smtp_check_dkim_seal(struct smtp_session *s, struct strbuf *header);

#endif
