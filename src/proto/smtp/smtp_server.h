/* smtp_server.h: the SMTP front-end (MTA port 25 role, submission on 587
 * with STARTTLS, submissions on 465 with implicit TLS, LMTP and the local
 * sendmail socket) on the session core: listeners take
 * session_conn_handler with a context from smtp_server_listener_ctx().
 * One smtp_server serves every SMTP listener of the process. */
#ifndef POSTHORN_PROTO_SMTP_SMTP_SERVER_H
#define POSTHORN_PROTO_SMTP_SMTP_SERVER_H

#include "delivery/milter.h"
#include "dns/dns.h"
#include "proto/common/session.h"
#include "store/store.h"

enum smtp_mode {
	SMTP_MODE_MTA,		/* port 25: local recipients without AUTH */
	SMTP_MODE_SUBMISSION,	/* RFC 6409: AUTH required before MAIL */
	SMTP_MODE_LMTP,		/* RFC 2033: LHLO, a reply per recipient */
	/* The local sendmail socket (a unix listener): no AUTH, no TLS; the
	 * peer's uid (SO_PEERCRED) is the authenticated identity, so remote
	 * recipients are allowed; MAIL FROM is that user's own address
	 * unless the user is trusted (struct smtp_local). */
	SMTP_MODE_LOCAL,
};
#define SMTP_MODE_COUNT (SMTP_MODE_LOCAL + 1)

struct dkim_keys;
struct psl;
struct smtp_local;

/* Rate limits (smtp_ratelimit.c). Per minute, 0 = no limit. Clients in
 * exempt and trusted_networks, LMTP and the local socket are never
 * limited. */
struct smtp_rate_settings {
	/* port 25, per client source (an IPv4 address, an IPv6 prefix) */
	unsigned connections;	/* at accept: 421 4.7.0 and closed */
	unsigned messages;	/* at MAIL: 451 4.7.1 */
	unsigned recipients;	/* at RCPT: 451 4.7.1 */
	/* per authenticated user (AUTH), whatever the address */
	unsigned user_messages;
	unsigned user_recipients;
	/* port 25 and submission: refused RCPTs in one session before it
	 * is dropped (421 4.7.0) */
	unsigned max_refused_recipients;
	unsigned ipv6_prefix;	/* bits of an IPv6 source; 0 = 64 */
	unsigned table_size;	/* sources and users kept; 0 = 100000 */
	/* "127.0.0.0/8 ::1" (base/cidr.h, checked by the config); NULL =
	 * none. Copied. */
	const char *exempt;
};

/* [inbound]: the checks of mail from the Internet (proto/smtp/
 * smtp_checks.h) on MTA listeners, for clients outside trusted_networks.
 * Strings are copied. */
struct smtp_inbound_settings {
	bool checks;			/* the pipeline runs at all */
	/* Bound of each wait for lookups (at RCPT, at the end of data);
	 * 0 = 20 s. A check still waiting then is temperror. */
	unsigned check_timeout_ms;
	/* Authentication-Results authserv-id; NULL = the host name. */
	const char *authserv_id;
	bool spf;			/* SPF of MAIL FROM (or HELO for <>) */
	bool spf_helo;			/* also of the HELO name */
	/* Refuse (550 5.7.23) mail whose MAIL FROM SPF result is fail. */
	bool spf_reject_fail;
	/* DNS lists, postscreen's syntax: "zone[=pattern][*weight] ..."
	 * (pattern e.g. 127.0.0.[2..11]; a negative weight is an
	 * allowlist); NULL = none. Checked by the config. */
	const char *dnsbl;
	int dnsbl_threshold;		/* refuse at this sum; 0 = 1 */
	bool dkim;			/* verify DKIM-Signature fields */
	unsigned dkim_max_signatures;	/* checked per message; 0 = 10 */
	bool arc;			/* verify the ARC chain */
	/* [dns]: the resolver of the checks (one per I/O thread). */
	struct dns_settings dns;
	/* No DNS at all (the dev config without [dns] upstream): lookups
	 * fail at once, so checks give temperror/none without waiting. */
	bool no_dns;
	/* DMARC (smtp_check_dmarc.c): evaluate; refuse p=reject; file
	 * p=quarantine as Junk. It runs only with psl, the Public Suffix
	 * List loaded once at start (not copied: it outlives the server,
	 * read-only, shared by every thread). */
	bool dmarc, dmarc_reject, dmarc_quarantine;
	const struct psl *psl;
	/* [milter]: the milters every message passes, in order (copied). */
	const struct milter_spec *milters;
	size_t n_milters;
};

struct smtp_settings {
	/* hostname (greeting, Received:), plaintext (PLAIN and LOGIN
	 * without TLS), the bad-command budget, sessions per user and
	 * address */
	struct session_server_settings core;
	uint64_t max_message_size;	/* 0 = no limit */
	/* octets of a message text line in DATA, CRLF included;
	 * 0 = SMTP_DATA_LINE_DEFAULT (mail/smtp_data.h) */
	size_t max_line_length;
	unsigned max_recipients;	/* 0 = 100 */
	/* MTA listeners: hold the greeting this long and refuse a client
	 * that talks before it (0 = greet at once). An address that waited
	 * is remembered for greet_pass_ttl_s (at most greet_pass_max of
	 * them; 0 = 1 day, 100000) and greeted at once next time. */
	unsigned greet_delay_ms;
	unsigned greet_pass_ttl_s;
	unsigned greet_pass_max;
	/* MTA listeners: clients from these networks ("10.0.0.0/8 ::1",
	 * base/cidr.h syntax, checked by the config) may relay without AUTH;
	 * NULL = none. Copied. */
	const char *trusted_networks;
	/* Idle seconds waiting for a command / inside DATA or BDAT before
	 * the conn closes; 0 = 300 (RFC 5321 4.5.3.2.7). */
	unsigned command_timeout_s;
	unsigned data_timeout_s;
	/* Name the AUTH user in Received: ("(authenticated as USER)"). */
	bool received_auth;
	/* Where "<postmaster>" and postmaster@<local domain> go when no
	 * user or alias takes them; NULL = "postmaster@" hostname. Copied. */
	const char *postmaster;
	/* VRFY/EXPN answer for AUTH and local-socket sessions (else 252). */
	bool vrfy_authenticated;
	/* Submission: any MAIL FROM after AUTH, not only the user's own
	 * addresses (config sender_check = any). */
	bool sender_any;
	/* DKIM keys of the local domains (delivery/dkim_keys.h) to sign
	 * relayed mail we originate with, or NULL; not copied: must
	 * outlive the server. */
	const struct dkim_keys *dkim;
	/* The host's names and the local socket's senders (smtp_local_new),
	 * or NULL: no origin (bare names refused), MAIL FROM on the local
	 * socket taken as given. Not copied: must outlive the server. */
	const struct smtp_local *local;
	struct smtp_rate_settings rate;
	/* Port 25: file mail to Junk when the spam verdict of our own
	 * filters (or of a trusted_networks relay's headers) is flagged or
	 * scores junk_score (thousandths) or more (smtp_junk.c). */
	bool junk;
	int64_t junk_score;
	struct smtp_inbound_settings inbound;
};

struct smtp_server;

/* The host's names (delivery/delivery.h struct delivery_names: origin,
 * NULL or lower case, and admin, NULL or an address), used for every
 * recipient, and for the local socket: bare names get @origin, and a
 * caller may send only as <login>@origin (or <>) unless its login is one
 * of trusted (login names separated by blanks or commas; NULL: none).
 * Strings are copied. */
struct smtp_local *smtp_local_new(const char *origin, const char *admin,
				  const char *trusted);
void smtp_local_free(struct smtp_local **local);

/* *env->storep is read each time a session needs the store (the daemon
 * binds its listeners before it opens the store); it must be set before
 * the first connection and outlive the server, as must the SASL context
 * and the guard. Never fails. */
struct smtp_server *smtp_server_new(const struct smtp_settings *set,
				    const struct session_env *env);
/* After every connection has ended (the I/O threads are stopped). Frees
 * the per-thread store readers too. */
void smtp_server_free(struct smtp_server **server);

/* [dns] changed (SIGHUP): each I/O thread takes a new resolver for its
 * next lookups; the old one goes once its lookups are over. Copied. */
void smtp_server_set_dns(struct smtp_server *server,
			 const struct dns_settings *dns, bool no_dns);

/* The handler_ctx to give a listener of that mode with
 * session_conn_handler; starttls: the listener has a TLS context and is
 * not implicit TLS. Valid as long as the server. */
void *smtp_server_listener_ctx(struct smtp_server *server, enum smtp_mode mode,
			       bool starttls);

#endif
