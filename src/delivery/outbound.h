/* outbound.h: the queue runner. A timer on one I/O thread picks the due
 * queue entries, groups their recipients by destination domain (one SMTP
 * transaction per message and domain), routes each domain ([routes] map,
 * else the relay host, else MX / A per RFC 5321 5.1), runs SMTP client
 * sessions within connection limits (several messages per connection),
 * records each recipient's outcome in the store and sends the DSNs. */
#ifndef POSTHORN_DELIVERY_OUTBOUND_H
#define POSTHORN_DELIVERY_OUTBOUND_H

#include "delivery/delivery.h"
#include "delivery/smtp_client.h"
#include "dns/dns.h"
#include "queue/queue_policy.h"
#include "store/store.h"

#include <stdatomic.h>

struct outbound_route {
	const char *domain;	/* lower case */
	const char *host;	/* name or numeric address */
	unsigned port;		/* 0: smtp_port */
	enum smtp_client_tls tls;
};

struct dkim_keys;

struct outbound_settings {
	const char *hostname;		/* EHLO name and Reporting-MTA */
	unsigned smtp_port;		/* port of MX hosts (25) */
	unsigned connect_timeout;	/* seconds */
	double timeout_scale;		/* RFC timeouts x this (1 = as is) */
	enum smtp_client_tls tls;	/* policy for MX hosts */
	const char *ca_file;		/* extra CAs for "verify", or NULL */
	/* smarthost for every domain without a route; host NULL = none */
	struct {
		const char *host;
		unsigned port;
		const char *user, *password;	/* AUTH, or NULL */
		enum smtp_client_tls tls;
	} relay;
	const struct outbound_route *routes;
	size_t n_routes;
	/* No MX lookups: domains without a route (and no relay) are
	 * deferred (dev mode never mails the Internet by surprise). */
	bool routes_only;
	struct queue_policy policy;
	unsigned max_connections;	/* sessions in total */
	unsigned max_per_destination;	/* sessions per domain / relay */
	/* Seconds a node's claim on a queue entry lasts when the node
	 * stops renewing it (it died): then another node may send it
	 * (queue_store_claim, several nodes on one database). 0: 60. */
	unsigned claim_lease;
	struct dns_settings dns;
	unsigned tick_ms;		/* 0 = 1000 */
	/* Keys to DKIM-sign the reports (DSNs) sent to remote senders
	 * with, for the domain of MAILER-DAEMON@hostname; NULL = none.
	 * Not copied: must outlive the runner. */
	const struct dkim_keys *dkim;
	/* The host's names, for the reports to local senders (copied). */
	struct delivery_names names;
};

/* Counters for /metrics (read with atomic_load). */
struct outbound_stats {
	atomic_ulong sessions;		/* SMTP sessions started */
	atomic_ulong connect_failures;	/* sessions failed before ready */
	atomic_ulong rcpt_sent;		/* recipients accepted by a peer */
	atomic_ulong rcpt_deferred;	/* 4xx / no connection: retry */
	atomic_ulong rcpt_failed;	/* 5xx or expired: bounced */
	atomic_ulong dsn_sent;		/* reports submitted */
	/* recipients deferred without a connection: every address of their
	 * destination was marked failing (part of rcpt_deferred) */
	atomic_ulong backoff_deferrals;
	atomic_uint active_sessions;
	atomic_uint failing_peers;	/* addresses marked failing now */
};

struct outbound;

/* Set up the runner on thread (its loop must not run yet, or call from
 * that thread). All strings of set are copied. NULL and a malloc'd
 * *error_r on failure (resolver, store reader, CA file). */
struct outbound *outbound_new(struct store *store, struct net_thread *thread,
			      const struct outbound_settings *set,
			      char **error_r);
/* Start the timer (before the loop runs or on the thread). */
void outbound_start(struct outbound *ob);
/* From another thread while the loop runs: stop picking entries, abort the
 * sessions (what they were sending stays queued and is retried), and wait
 * (at most timeout_ms) for the store writes already submitted. */
void outbound_stop(struct outbound *ob, unsigned timeout_ms);
/* From any thread while the runner runs (SIGHUP): use set (copied now)
 * for what is routed from then on: [routes], the relay, the TLS policy,
 * ports and timeouts, the queue limits and schedule, and the DNS settings
 * (a new resolver; when it cannot be made the old one stays, logged).
 * Connections open at the time finish with the old settings; the
 * destinations they serve are routed again when they end. hostname,
 * ca_file, tick_ms, dkim, names and dns.hosts_file keep their values from
 * outbound_new(). */
void outbound_reconfigure(struct outbound *ob,
			  const struct outbound_settings *set);
/* After the loop stopped (or on the thread once stopped). */
void outbound_free(struct outbound **ob);
struct outbound_stats *outbound_stats(struct outbound *ob);

#endif
