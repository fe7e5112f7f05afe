/* outbound.c: the queue runner: due entries -> per-domain jobs -> routed
 * destinations -> SMTP client sessions; per-recipient outcomes go back to
 * the store with the retry schedule, and DSNs go out through the normal
 * delivery path. Peers that fail at connection level are marked failing
 * (outbound_peers.c) and the jobs for them deferred without connecting.
 * Everything runs on one I/O thread. */
#include "delivery/outbound.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "delivery/dane.h"
#include "delivery/delivery.h"
#include "delivery/dkim_keys.h"
#include "delivery/outbound_peers.h"
#include "queue/queue_dsn.h"
#include "queue/queue_store.h"
#include "store/store_nodes.h"

#include <ctype.h>
#include <pthread.h>
#include <time.h>

#include <event2/event.h>

/* Recipients per transaction (RFC 5321 4.5.3.1.8: servers take >= 100). */
#define OB_MAX_RCPTS_TX 100
/* Entries picked per tick, and in flight at most. */
#define OB_PICK 500
#define OB_MAX_INFLIGHT 5000
/* Addresses tried per destination. */
#define OB_MAX_TARGETS 16

struct ob_rcpt {
	uint32_t idx;		/* queue_rcpt.idx */
	const char *address, *orcpt, *notify, *domain;	/* msg arena */
	unsigned code;		/* 0 = not tried in this attempt */
	char enhanced[16];
	const char *diag;	/* msg arena */
	const char *remote_mta;
	bool remote;		/* diag is a remote reply */
	bool peer_dsn;		/* the accepting peer took NOTIFY over */
};

struct ob_msg {
	struct outbound *ob;
	struct arena arena;
	int64_t id;
	const char *sender, *envid, *ret;
	uint32_t attempts;
	int64_t created;
	bool delay_notified;
	bool requiretls;	/* RFC 8689: authenticated TLS or a bounce */
	bool tls_optional;	/* RFC 8689 5: TLS-Required: No */
	bool retry_now;		/* queue flush/retry: past failing marks */
	bool held;		/* held meanwhile: jobs dropped, not sent */
	const char *data;	/* without our Return-Path: line */
	size_t size;
	const char *full;	/* the blob as stored (for the DSN) */
	size_t full_size;
	struct ob_rcpt *rcpts;
	size_t n_rcpts;
	unsigned jobs_left;
	struct queue_req req;	/* the attempt's result */
	struct delivery_submission *dsn;	/* the report, if any */
};

struct ob_dest;

struct ob_job {
	struct ob_job *next;
	struct ob_msg *msg;
	size_t *idx;		/* into msg->rcpts */
	const char **rcpts, **orcpts, **notify;
	struct smtp_client_msg cmsg;
};

struct ob_target {
	char *host;		/* for SNI, logs and Remote-MTA */
	char *addr;
	unsigned port;
	bool secure;		/* the address answer validated (DNSSEC) */
	/* DANE: TLS is required and the peer must match these records */
	bool dane;
	struct dns_tlsa *tlsa;	/* data in tlsa_data */
	size_t n_tlsa;
	uint8_t *tlsa_data;
	unsigned active;	/* our sessions on it, connecting or working */
};

enum ob_dest_state { DEST_NEW, DEST_RESOLVING, DEST_READY };

struct ob_dest {
	struct ob_dest *next;
	struct outbound *ob;
	char *domain;
	enum ob_dest_state state;
	struct ob_job *head, *tail;
	unsigned waiting;	/* jobs queued, not taken by a session */
	unsigned active;	/* sessions */
	/* sessions at most: max_per_destination, lowered when a peer
	 * refuses a session while others of ours are still on it, raised by
	 * one for each session that gets ready */
	unsigned limit;
	bool retry_now;		/* a job of a flush: expire the marks */
	/* routing */
	unsigned port;
	enum smtp_client_tls tls;
	const char *auth_user, *auth_password;
	char **hosts;		/* MX hosts (or the one route/relay host) */
	size_t n_hosts, host_idx;
	bool any_tempfail;
	bool mx_secure;		/* the MX answer validated: DANE may apply */
	bool routed;		/* hosts from [routes] or [relay], not MX */
	/* routed with settings replaced since: routed again once the
	 * sessions on the old route have ended */
	bool stale;
	/* RFC 8689 5: the jobs are TLS-Required: No messages, and the
	 * sessions relax the TLS policy (smtp_client tls_relaxed); they
	 * never share a destination with the other messages. */
	bool tls_optional;
	struct ob_target targets[OB_MAX_TARGETS];
	size_t n_targets;
	size_t tlsa_idx;	/* next target to look up TLSA for */
};

/* A copy of outbound_settings with its strings. */
struct ob_settings {
	struct ob_settings *prev;
	struct outbound *ob;
	struct arena arena;
	char *relay_password;	/* set.relay.password, wiped at free */
	struct outbound_settings set;
};

struct ob_session {
	struct ob_dest *dest;
	size_t target;
	bool ready;	/* past greeting/EHLO/TLS/AUTH: the peer works */
	bool no_tls;	/* retry after a failed opportunistic handshake */
	/* the session is the probe of the target's expired mark(s) */
	bool probe, probe_scoped;
	char scope[300];	/* outbound_peer_key.scope of the target */
};

struct outbound {
	struct store *store;
	struct store_reader *reader;
	struct net_thread *thread;
	struct dns_resolver *resolver;
	struct net_tls *tls;
	struct event *timer;
	struct event *soon;	/* one-shot re-tick while a backlog lasts */
	struct event *kick;	/* one-shot ob_kick_all from the loop */
	struct outbound_peers *peers;	/* marked failing */
	struct outbound_settings set;	/* settings->set */
	/* The settings in use and, behind them, every earlier one since a
	 * reload: destinations and sessions in flight may still point
	 * into those (reloads are rare, each copy is small). */
	struct ob_settings *settings;
	struct ob_dest *dests;
	unsigned active;
	/* ids of the entries in flight: open addressing, 0 = free */
	int64_t *inflight;
	size_t inflight_cap, n_inflight;
	struct outbound_stats stats;
	bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopped;		/* stop task ran; guarded by lock */
	unsigned store_pending;
};

static void ob_dest_kick(struct ob_dest *dest);
static void ob_kick_all(struct outbound *ob);

/* ---- the in-flight set ---- */

static size_t ob_slot(const struct outbound *ob, int64_t id)
{
	size_t i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL) &
		   (ob->inflight_cap - 1);

	while (ob->inflight[i] != 0 && ob->inflight[i] != id)
		i = (i + 1) & (ob->inflight_cap - 1);
	return i;
}

static bool ob_inflight_has(const struct outbound *ob, int64_t id)
{
	return ob->inflight[ob_slot(ob, id)] == id;
}

static void ob_inflight_add(struct outbound *ob, int64_t id)
{
	ASSERT(ob->n_inflight * 2 < ob->inflight_cap);
	ob->inflight[ob_slot(ob, id)] = id;
	ob->n_inflight++;
}

static void ob_inflight_del(struct outbound *ob, int64_t id)
{
	size_t i = ob_slot(ob, id), j;

	if (ob->inflight[i] != id)
		return;
	ob->inflight[i] = 0;
	ob->n_inflight--;
	/* re-place the rest of the cluster */
	for (j = (i + 1) & (ob->inflight_cap - 1); ob->inflight[j] != 0;
	     j = (j + 1) & (ob->inflight_cap - 1)) {
		int64_t v = ob->inflight[j];

		ob->inflight[j] = 0;
		ob->inflight[ob_slot(ob, v)] = v;
	}
}

/* ---- finishing a message ---- */

static void ob_msg_free(struct ob_msg *msg)
{
	struct outbound *ob = msg->ob;

	ob_inflight_del(ob, msg->id);
	delivery_prepared_free(&msg->dsn);
	arena_deinit(&msg->arena);
	free(msg);
}

static void ob_store_done(struct outbound *ob)
{
	pthread_mutex_lock(&ob->lock);
	ob->store_pending--;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->lock);
}

static void ob_result_done(void *arg, struct store_result *result)
{
	struct ob_msg *msg = arg;
	struct outbound *ob = msg->ob;

	if (result->status != 0)
		log_error(NULL, "outbound: queue entry %lld: recording the "
			  "result failed: %s", (long long)msg->id,
			  result->error);
	else if (msg->dsn != NULL)
		atomic_fetch_add(&ob->stats.dsn_sent, 1);
	store_result_free(&result);
	ob_msg_free(msg);
	ob_store_done(ob);
}

/* Prepare the report to the envelope sender (local INBOX or queued from
 * the null sender) in msg->dsn; it goes in the same store transaction as
 * the result. false when there is no way to send it. */
static bool ob_prepare_dsn(struct ob_msg *msg, const struct queue_dsn_rcpt *rr,
			size_t n, int64_t now, int64_t retry_until)
{
	struct outbound *ob = msg->ob;
	struct queue_dsn d = {
		.reporting_mta = ob->set.hostname,
		.sender = msg->sender,
		.envid = msg->envid[0] != '\0' ? msg->envid : NULL,
		.ret = msg->ret[0] != '\0' ? msg->ret : NULL,
		.arrival_date = msg->created,
		.now = now,
		.retry_until = retry_until,
		.rcpts = rr,
		.n_rcpts = n,
		.original = msg->full,
		.original_size = msg->full_size,
	};
	struct delivery_resolution res;
	size_t size;
	char *report = queue_dsn_build(&d, &size);
	const char *error;

	delivery_resolve_names(ob->reader, &ob->set.names, &msg->arena,
			       msg->sender, &res);
	if (res.status != DELIVERY_LOCAL && res.status != DELIVERY_REMOTE &&
	    res.status != DELIVERY_MIXED) {
		log_warn(NULL, "outbound: queue entry %lld: no way to return "
			 "a report to <%s>", (long long)msg->id, msg->sender);
		free(report);
		return false;
	}
	int64_t *users = arena_alloc(&msg->arena, (res.n_locals + 1) *
					    sizeof(*users));
	struct queue_rcpt *remotes = arena_zalloc(&msg->arena,
		(res.n_remotes + 1) * sizeof(*remotes));

	for (size_t i = 0; i < res.n_locals; i++)
		users[i] = res.locals[i].user_id;
	for (size_t i = 0; i < res.n_remotes; i++) {
		remotes[i].address = res.remotes[i];
		remotes[i].orcpt = "";
		remotes[i].notify = "";
	}
	/* A report leaving for a remote sender is mail we originate:
	 * signed for the domain of its From (MAILER-DAEMON@hostname) when
	 * that has a key. The blob is shared with local senders (harmless
	 * for them, as for submitted mail). */
	struct strbuf sig = STRBUF_INIT, domain = STRBUF_INIT;

	if (ob->set.dkim != NULL && res.n_remotes > 0 &&
	    dkim_keys_signing_domain(str_make(report, size), NULL, &domain) &&
	    dkim_keys_sign(ob->set.dkim, strbuf_cstr(&domain),
			   str_make(report, size), now, &sig, &error) < 0)
		log_warn(NULL, "outbound: queue entry %lld: report not "
			 "DKIM-signed: %s", (long long)msg->id, error);
	strbuf_free(&domain);
	struct delivery_msg dm = {
		.header = sig.p,
		.header_size = sig.n,
		.data = report,
		.size = size,
		.sender = "",
		.internal_date = now,
		.user_ids = users,
		.n_users = res.n_locals,
		.remotes = remotes,
		.n_remotes = res.n_remotes,
	};

	msg->dsn = delivery_prepare(&dm, &error);
	strbuf_free(&sig);
	free(report);
	if (msg->dsn == NULL) {
		log_warn(NULL, "outbound: queue entry %lld: report not sent: "
			 "%s", (long long)msg->id, error);
		return false;
	}
	return true;
}

/* Every job of msg is done: decide per recipient, report, record. */
static void ob_msg_finish(struct ob_msg *msg)
{
	struct outbound *ob = msg->ob;
	const struct queue_policy *pol = &ob->set.policy;
	int64_t now = time(NULL), next_try = 0;
	size_t n_temp = 0, n_report = 0;
	const char *last_error = "";
	bool notice_due, delay_notified = msg->delay_notified;

	if (ob->stopping) {
		/* aborted: the entry stays as it was and is tried again */
		ob_msg_free(msg);
		return;
	}
	if (msg->held) {
		bool tried = false;

		for (size_t i = 0; i < msg->n_rcpts; i++)
			tried |= msg->rcpts[i].code != 0;
		if (!tried) {
			/* dropped before any recipient was tried: the row
			 * stays as the admin left it, no attempt counted */
			log_info(NULL, "outbound: id=%lld held: not sent",
				 (long long)msg->id);
			ob_msg_free(msg);
			return;
		}
		/* part of it went out before the hold: record that; the
		 * rest stays pending (and held) */
	}
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		if (msg->rcpts[i].code / 100 == 4)
			n_temp++;
	}
	if (n_temp > 0) {
		next_try = queue_next_try(pol, msg->created,
					  msg->attempts + 1, now);
	}
	notice_due = n_temp > 0 && next_try >= 0 &&
		     queue_delay_notice_due(pol, msg->created,
					    msg->delay_notified, now);

	struct queue_dsn_rcpt *rr = arena_zalloc(&msg->arena,
		msg->n_rcpts * sizeof(*rr));
	struct queue_rcpt_result *res = arena_zalloc(&msg->arena,
		msg->n_rcpts * sizeof(*res));

	for (size_t i = 0; i < msg->n_rcpts; i++) {
		struct ob_rcpt *r = &msg->rcpts[i];
		enum queue_dsn_action action;
		bool report = false;
		const char *state;

		if (r->code == 0) {
			/* never reached: keep it pending */
			r->code = 451;
			memcpy(r->enhanced, "4.4.0", 6);
			r->diag = "not attempted";
			n_temp++;
			if (next_try == 0)
				next_try = queue_next_try(pol, msg->created,
							  msg->attempts + 1,
							  now);
		}
		if (r->code / 100 == 2) {
			state = "sent";
			action = QUEUE_DSN_RELAYED;
			report = !r->peer_dsn;
			atomic_fetch_add(&ob->stats.rcpt_sent, 1);
		} else if (r->code / 100 == 5 || next_try < 0) {
			state = "failed";
			action = QUEUE_DSN_FAILED;
			report = true;
			if (r->code / 100 == 4) {
				/* gave up (max_age) with the last reason */
				r->diag = arena_printf(&msg->arena,
					"delivery time expired; last error: "
					"%s", r->diag);
				r->remote = false;
			}
			atomic_fetch_add(&ob->stats.rcpt_failed, 1);
		} else {
			state = "pending";
			action = QUEUE_DSN_DELAYED;
			report = notice_due;
			last_error = r->diag;
			atomic_fetch_add(&ob->stats.rcpt_deferred, 1);
		}
		res[i].idx = r->idx;
		res[i].state = state;
		res[i].status = r->enhanced;
		res[i].diagnostic = r->diag;
		res[i].remote_mta = r->remote_mta;
		if (report && msg->sender[0] != '\0' &&
		    queue_dsn_wanted(r->notify, action)) {
			rr[n_report].address = r->address;
			rr[n_report].orcpt = r->orcpt;
			rr[n_report].action = action;
			rr[n_report].status = r->enhanced;
			rr[n_report].remote_mta = r->remote ? r->remote_mta
							    : NULL;
			rr[n_report].diagnostic = r->diag;
			n_report++;
		}
		log_info(NULL, "outbound: id=%lld to=<%s> relay=%s status=%s "
			 "(%s) %s", (long long)msg->id, r->address,
			 r->remote_mta != NULL ? r->remote_mta : "none",
			 state, r->enhanced, r->diag);
	}
	if (notice_due)
		delay_notified = true;
	if (n_report > 0)
		ob_prepare_dsn(msg, rr, n_report, now,
			       msg->created + (int64_t)pol->max_age);
	/* the report and the result commit together or not at all */
	queue_req_init(&msg->req, QUEUE_REQ_RESULT);
	msg->req.u.result.id = msg->id;
	msg->req.u.result.rcpts = res;
	msg->req.u.result.n_rcpts = msg->n_rcpts;
	msg->req.u.result.attempts = msg->attempts + 1;
	msg->req.u.result.next_try = next_try > 0 ? next_try : now;
	msg->req.u.result.last_error = last_error;
	msg->req.u.result.delay_notified = delay_notified;
	msg->req.u.result.dsn = msg->dsn != NULL
		? delivery_prepared_req(msg->dsn) : NULL;
	pthread_mutex_lock(&ob->lock);
	ob->store_pending++;
	pthread_mutex_unlock(&ob->lock);
	store_submit(ob->store, &msg->req.req,
		     net_thread_task_queue(ob->thread), ob_result_done, msg);
}

static void ob_job_free(struct ob_job *job)
{
	struct ob_msg *msg = job->msg;

	free(job->idx);
	free(job->rcpts);
	free(job->orcpts);
	free(job->notify);
	free(job);
	if (--msg->jobs_left == 0)
		ob_msg_finish(msg);
}

/* Set one result for every recipient of job and finish it. */
static void ob_job_fail(struct ob_job *job, unsigned code,
			const char *enhanced, const char *diag,
			const char *mta)
{
	struct ob_msg *msg = job->msg;

	for (size_t i = 0; i < job->cmsg.n_rcpts; i++) {
		struct ob_rcpt *r = &msg->rcpts[job->idx[i]];

		r->code = code;
		snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
		r->diag = arena_strdup(&msg->arena, diag);
		r->remote = false;
		r->remote_mta = mta != NULL ? arena_strdup(&msg->arena, mta)
					    : NULL;
	}
	ob_job_free(job);
}

/* ---- held entries ---- */

/* May job go out? Not when its entry was held (or deleted) since it was
 * picked: `posthorn queue hold` writes the store, so ask it. */
static bool ob_job_sendable(struct ob_job *job)
{
	struct ob_msg *msg = job->msg;
	const char *error;
	int ret;

	if (msg->held)
		return false;
	ret = queue_store_held(msg->ob->reader, msg->id, &error);
	if (ret < 0) {
		log_error(NULL, "outbound: queue entry %lld: reading its hold "
			  "mark: %s", (long long)msg->id, error);
		return true;	/* as before the hold could be seen */
	}
	return ret == 0;
}

/* Take job out of the runner, untried; its message is not sent (unless
 * some of it already was). */
static void ob_job_drop(struct ob_job *job)
{
	job->msg->held = true;
	ob_job_free(job);
}

/* ---- destinations ---- */

static struct ob_job *ob_dest_pop(struct ob_dest *dest)
{
	struct ob_job *job = dest->head;

	if (job == NULL)
		return NULL;
	dest->head = job->next;
	if (dest->head == NULL)
		dest->tail = NULL;
	dest->waiting--;
	job->next = NULL;
	return job;
}

static void ob_dest_free(struct ob_dest *dest)
{
	struct outbound *ob = dest->ob;
	struct ob_dest **pp;

	for (pp = &ob->dests; *pp != dest; pp = &(*pp)->next)
		;
	*pp = dest->next;
	for (size_t i = 0; i < dest->n_hosts; i++)
		free(dest->hosts[i]);
	free(dest->hosts);
	for (size_t i = 0; i < dest->n_targets; i++) {
		free(dest->targets[i].host);
		free(dest->targets[i].addr);
		free(dest->targets[i].tlsa);
		free(dest->targets[i].tlsa_data);
	}
	free(dest->domain);
	free(dest);
}

static void ob_dest_maybe_free(struct ob_dest *dest)
{
	if (dest->waiting == 0 && dest->active == 0 &&
	    dest->state != DEST_RESOLVING)
		ob_dest_free(dest);
}

/* Every waiting job of dest gets this result (mta: the host that gave
 * it, or NULL), but those of entries held meanwhile, which are dropped.
 * Returns the number of recipients that got it. */
static size_t ob_dest_fail_jobs(struct ob_dest *dest, unsigned code,
				const char *enhanced, const char *diag,
				const char *mta)
{
	struct ob_job *job;
	size_t n = 0;

	while ((job = ob_dest_pop(dest)) != NULL) {
		if (!ob_job_sendable(job)) {
			ob_job_drop(job);
			continue;
		}
		n += job->cmsg.n_rcpts;
		ob_job_fail(job, code, enhanced, diag, mta);
	}
	return n;
}

static void ob_dest_fail(struct ob_dest *dest, unsigned code,
			 const char *enhanced, const char *diag,
			 const char *mta)
{
	log_info(NULL, "outbound: %s: %s", dest->domain, diag);
	ob_dest_fail_jobs(dest, code, enhanced, diag, mta);
}

static struct ob_dest *ob_dest_get(struct outbound *ob, const char *domain,
				   bool tls_optional)
{
	struct ob_dest *dest;

	for (dest = ob->dests; dest != NULL; dest = dest->next) {
		if (strcmp(dest->domain, domain) == 0 &&
		    dest->tls_optional == tls_optional)
			return dest;
	}
	dest = xcalloc(1, sizeof(*dest));
	dest->ob = ob;
	dest->domain = xstrdup(domain);
	dest->tls_optional = tls_optional;
	dest->limit = ob->set.max_per_destination;
	dest->next = ob->dests;
	ob->dests = dest;
	return dest;
}

static void ob_resolve_next_host(struct ob_dest *dest);

static void ob_addr_done(void *arg, const struct dns_addr_result *res)
{
	struct ob_dest *dest = arg;
	const char *host = dest->hosts[dest->host_idx];

	if (res->status == DNS_TEMPFAIL)
		dest->any_tempfail = true;
	for (size_t i = 0; i < res->n_addrs &&
			   dest->n_targets < OB_MAX_TARGETS; i++) {
		struct ob_target *t = &dest->targets[dest->n_targets++];

		t->host = xstrdup(host);
		t->addr = xstrdup(res->addrs[i]);
		t->port = dest->port;
		t->secure = res->secure;
	}
	dest->host_idx++;
	ob_resolve_next_host(dest);
}

static void ob_dest_resolved(struct ob_dest *dest);
static void ob_tlsa_next(struct ob_dest *dest);

static void ob_tlsa_done(void *arg, const struct dns_tlsa_result *res)
{
	struct ob_dest *dest = arg;
	struct ob_target *t = &dest->targets[dest->tlsa_idx++];
	size_t total = 0, k = 0;

	if (res->status == DNS_OK && res->secure &&
	    dane_usable(res->records, res->n) > 0) {
		for (size_t i = 0; i < res->n; i++)
			total += res->records[i].len;
		t->tlsa = xcalloc(res->n, sizeof(*t->tlsa));
		t->tlsa_data = xmalloc(total + 1);
		for (size_t i = 0; i < res->n; i++) {
			t->tlsa[i] = res->records[i];
			memcpy(t->tlsa_data + k, res->records[i].data,
			       res->records[i].len);
			t->tlsa[i].data = t->tlsa_data + k;
			k += res->records[i].len;
		}
		t->n_tlsa = res->n;
		t->dane = true;
	} else if (res->status == DNS_TEMPFAIL) {
		/* RFC 7672 2.2: a TLSA lookup that fails (not "none") must
		 * not fall back to unauthenticated TLS: require DANE with
		 * no records, i.e. defer on this host */
		t->dane = true;
	}
	ob_tlsa_next(dest);
}

/* RFC 7672: TLSA of each MX host whose MX and address answers are
 * DNSSEC-secure. */
static void ob_tlsa_next(struct ob_dest *dest)
{
	while (dest->tlsa_idx < dest->n_targets) {
		struct ob_target *t = &dest->targets[dest->tlsa_idx];

		if (t->secure) {
			dns_lookup_tlsa(dest->ob->resolver, t->host, t->port,
					ob_tlsa_done, dest);
			return;
		}
		dest->tlsa_idx++;
	}
	ob_dest_resolved(dest);
}

static void ob_resolve_next_host(struct ob_dest *dest)
{
	if (dest->host_idx < dest->n_hosts &&
	    dest->n_targets < OB_MAX_TARGETS) {
		dns_lookup_addr(dest->ob->resolver,
				dest->hosts[dest->host_idx], ob_addr_done,
				dest);
		return;
	}
	if (dest->n_targets > 0 && dest->mx_secure &&
	    dest->ob->set.dns.trust_anchor_file != NULL) {
		dest->tlsa_idx = 0;
		ob_tlsa_next(dest);
		return;
	}
	ob_dest_resolved(dest);
}

static void ob_dest_resolved(struct ob_dest *dest)
{
	dest->state = DEST_READY;
	if (dest->n_targets == 0) {
		char diag[300];

		dest->state = DEST_NEW;	/* resolve again next time */
		if (dest->any_tempfail) {
			snprintf(diag, sizeof(diag), "temporary DNS failure "
				 "looking up the mail servers of %s",
				 dest->domain);
			ob_dest_fail(dest, 451, "4.4.3", diag, NULL);
		} else {
			snprintf(diag, sizeof(diag), "no address found for "
				 "the mail servers of %s", dest->domain);
			ob_dest_fail(dest, 550, "5.4.4", diag, NULL);
		}
		ob_dest_maybe_free(dest);
		return;
	}
	ob_dest_kick(dest);
	ob_dest_maybe_free(dest);
}

static void ob_mx_done(void *arg, const struct dns_mx_result *res)
{
	struct ob_dest *dest = arg;
	char diag[300];

	if (res->null_mx) {
		dest->state = DEST_NEW;
		snprintf(diag, sizeof(diag), "the domain %s accepts no mail "
			 "(null MX, RFC 7505)", dest->domain);
		ob_dest_fail(dest, 550, "5.1.10", diag, NULL);
		ob_dest_maybe_free(dest);
		return;
	}
	if (res->status == DNS_TEMPFAIL || res->status == DNS_NXDOMAIN) {
		bool temp = res->status == DNS_TEMPFAIL;

		dest->state = DEST_NEW;
		snprintf(diag, sizeof(diag), "%s looking up the MX of %s: %s",
			 temp ? "temporary DNS failure" : "domain not found",
			 dest->domain, res->error != NULL ? res->error : "");
		ob_dest_fail(dest, temp ? 451 : 550, temp ? "4.4.3" : "5.1.2",
			     diag, NULL);
		ob_dest_maybe_free(dest);
		return;
	}
	dest->mx_secure = res->secure;
	if (res->n_hosts == 0) {
		/* RFC 5321 5.1: no MX, the domain itself is the host */
		dest->hosts = xcalloc(1, sizeof(*dest->hosts));
		dest->hosts[0] = xstrdup(dest->domain);
		dest->n_hosts = 1;
	} else {
		dest->hosts = xcalloc(res->n_hosts, sizeof(*dest->hosts));
		for (size_t i = 0; i < res->n_hosts; i++)
			dest->hosts[i] = xstrdup(res->hosts[i]);
		dest->n_hosts = res->n_hosts;
	}
	dest->host_idx = 0;
	ob_resolve_next_host(dest);
}

/* Route the domain: [routes] > relay > MX. */
static void ob_dest_resolve(struct ob_dest *dest)
{
	struct outbound *ob = dest->ob;
	const struct outbound_settings *set = &ob->set;
	const char *host = NULL;

	for (size_t i = 0; i < dest->n_hosts; i++)
		free(dest->hosts[i]);
	free(dest->hosts);
	dest->hosts = NULL;
	dest->n_hosts = dest->host_idx = 0;
	dest->any_tempfail = false;
	dest->mx_secure = false;
	dest->routed = false;
	for (size_t i = 0; i < dest->n_targets; i++) {
		free(dest->targets[i].host);
		free(dest->targets[i].addr);
		free(dest->targets[i].tlsa);
		free(dest->targets[i].tlsa_data);
	}
	memset(dest->targets, 0, sizeof(dest->targets));
	dest->n_targets = 0;
	dest->state = DEST_RESOLVING;
	dest->port = set->smtp_port;
	dest->tls = set->tls;
	dest->auth_user = dest->auth_password = NULL;
	for (size_t i = 0; i < set->n_routes; i++) {
		if (strcmp(set->routes[i].domain, dest->domain) == 0) {
			host = set->routes[i].host;
			if (set->routes[i].port != 0)
				dest->port = set->routes[i].port;
			dest->tls = set->routes[i].tls;
			break;
		}
	}
	if (host == NULL && set->relay.host != NULL) {
		host = set->relay.host;
		dest->port = set->relay.port;
		dest->tls = set->relay.tls;
		dest->auth_user = set->relay.user;
		dest->auth_password = set->relay.password;
	}
	if (host == NULL && set->routes_only) {
		char diag[300];

		dest->state = DEST_NEW;
		snprintf(diag, sizeof(diag), "no route for %s (development "
			 "mode: add it to [routes], or set [dns] upstream for "
			 "MX lookups)", dest->domain);
		ob_dest_fail(dest, 451, "4.4.0", diag, NULL);
		ob_dest_maybe_free(dest);
		return;
	}
	if (host != NULL) {
		dest->routed = true;
		dest->hosts = xcalloc(1, sizeof(*dest->hosts));
		dest->hosts[0] = xstrdup(host);
		dest->n_hosts = 1;
		ob_resolve_next_host(dest);
		return;
	}
	dns_lookup_mx(ob->resolver, dest->domain, ob_mx_done, dest);
}

/* ---- sessions ---- */

static const struct smtp_client_callbacks ob_client_cb;

static int ob_dane_check(void *arg, struct conn *conn, const char **error_r)
{
	const struct ob_target *t = arg;

	if (t->n_tlsa == 0) {
		*error_r = "TLSA lookup failed";
		return -1;
	}
	return dane_match(conn_tls_peer_cert(conn), conn_tls_peer_chain(conn),
			  t->tlsa, t->n_tlsa, error_r) ? 0 : -1;
}

static void ob_session_connect(struct ob_session *s)
{
	struct ob_dest *dest = s->dest;
	struct outbound *ob = dest->ob;
	const struct ob_target *t = &dest->targets[s->target];
	struct smtp_client_settings cs = {
		.helo_name = ob->set.hostname,
		.address = t->addr,
		.port = t->port,
		.server_name = t->host,
		.tls = ob->tls,
		.tls_policy = dest->tls,
		.auth_user = dest->auth_user,
		.auth_password = dest->auth_password,
		/* RFC 8689 5: REQUIRETLS needs a validated MX (or a route) */
		.mx_insecure = !dest->routed && !dest->mx_secure,
		.tls_relaxed = dest->tls_optional,
		.connect_timeout = ob->set.connect_timeout,
		.timeout_scale = ob->set.timeout_scale,
	};

	if (s->no_tls) {
		/* after a failed handshake, where TLS is optional */
		cs.tls_policy = SMTP_CLIENT_TLS_NONE;
	} else if (t->dane) {
		/* RFC 7672: authenticated TLS by the TLSA records only */
		if (cs.tls_policy < SMTP_CLIENT_TLS_REQUIRED ||
		    cs.tls_policy == SMTP_CLIENT_TLS_VERIFY)
			cs.tls_policy = SMTP_CLIENT_TLS_REQUIRED;
		cs.tls_check = ob_dane_check;
		cs.tls_check_arg = (void *)t;
	}

	dest->targets[s->target].active++;
	dest->active++;
	ob->active++;
	atomic_store(&ob->stats.active_sessions, ob->active);
	atomic_fetch_add(&ob->stats.sessions, 1);
	smtp_client_new(ob->thread, &cs, &ob_client_cb, s);
}

/* ---- failing peers ---- */

/* The key of target ti of dest for a session (no_tls: the plaintext
 * retry after a failed opportunistic handshake). The scope, in buf, is
 * set when the session insists on TLS: its policy's verdict on the peer
 * depends on the policy and on the name it checks. */
static struct outbound_peer_key ob_target_key(const struct ob_dest *dest,
					      size_t ti, bool no_tls,
					      char *buf, size_t size)
{
	const struct ob_target *t = &dest->targets[ti];
	const char *policy = NULL;

	buf[0] = '\0';
	if (!no_tls && !dest->tls_optional) {
		if (t->dane)
			policy = "dane";
		else if (dest->tls == SMTP_CLIENT_TLS_VERIFY)
			policy = "verify";
		else if (dest->tls == SMTP_CLIENT_TLS_REQUIRED)
			policy = "required";
	}
	if (policy != NULL)
		snprintf(buf, size, "%s:%s", policy, t->host);
	return (struct outbound_peer_key){ t->addr, t->port, buf };
}

/* The same peer at connection level. */
static struct outbound_peer_key ob_key_any(struct outbound_peer_key key)
{
	key.scope = "";
	return key;
}

/* The state of target ti for a new session: the worse of its mark at
 * connection level and, where the session insists on TLS, its mark for
 * that policy and name. *reason_r (may be NULL): the reason of the
 * FAILING one. */
static enum outbound_peer_state ob_target_state(
	const struct ob_dest *dest, size_t ti, int64_t now,
	const struct outbound_peer_reason **reason_r)
{
	const struct outbound_peers *peers = dest->ob->peers;
	const struct outbound_peer_reason *r_any, *r_tls = NULL;
	char scope[300];
	struct outbound_peer_key key = ob_target_key(dest, ti, false, scope,
						     sizeof(scope));
	struct outbound_peer_key any = ob_key_any(key);
	enum outbound_peer_state a, b = OUTBOUND_PEER_OK;

	a = outbound_peers_state(peers, &any, now, &r_any);
	if (scope[0] != '\0')
		b = outbound_peers_state(peers, &key, now, &r_tls);
	if (reason_r != NULL)
		*reason_r = a == OUTBOUND_PEER_FAILING ? r_any : r_tls;
	return MAX(a, b);
}

/* The first target from index from that a new session may use (free, or
 * a probe to take), or -1. */
static ssize_t ob_dest_usable(const struct ob_dest *dest, size_t from,
			      int64_t now)
{
	for (size_t i = from; i < dest->n_targets; i++) {
		if (ob_target_state(dest, i, now, NULL) <= OUTBOUND_PEER_PROBE)
			return (ssize_t)i;
	}
	return -1;
}

/* Every target of dest marked failing? *reason_r: the last one's. */
static bool ob_dest_failing(const struct ob_dest *dest, int64_t now,
			    const struct outbound_peer_reason **reason_r)
{
	for (size_t i = 0; i < dest->n_targets; i++) {
		if (ob_target_state(dest, i, now, reason_r) !=
		    OUTBOUND_PEER_FAILING)
			return false;
	}
	return dest->n_targets > 0;
}

static struct outbound_peer_key ob_session_key(const struct ob_session *s)
{
	const struct ob_target *t = &s->dest->targets[s->target];

	return (struct outbound_peer_key){ t->addr, t->port, s->scope };
}

/* Start s on target ti, as the probe of its expired marks if it has. */
static void ob_session_start(struct ob_session *s, size_t ti, int64_t now)
{
	struct outbound_peers *peers = s->dest->ob->peers;
	struct outbound_peer_key key, any;

	s->target = ti;
	key = ob_target_key(s->dest, ti, s->no_tls, s->scope,
			    sizeof(s->scope));
	any = ob_key_any(key);
	s->probe = outbound_peers_probe(peers, &any, now);
	s->probe_scoped = s->scope[0] != '\0' &&
			  outbound_peers_probe(peers, &key, now);
	ob_session_connect(s);
}

/* s ends, or moves on, without a verdict on its peer. */
static void ob_session_release(struct ob_session *s)
{
	struct outbound_peers *peers = s->dest->ob->peers;
	struct outbound_peer_key key = ob_session_key(s), any = ob_key_any(key);

	if (s->probe)
		outbound_peers_probe_end(peers, &any);
	if (s->probe_scoped)
		outbound_peers_probe_end(peers, &key);
	s->probe = s->probe_scoped = false;
}

/* The peer of s answered and works: forget its marks, and let the
 * sessions that waited for this probe go (from the loop: we are inside
 * a client callback). */
static void ob_session_peer_ok(struct ob_session *s)
{
	struct outbound *ob = s->dest->ob;
	struct outbound_peer_key key = ob_session_key(s), any = ob_key_any(key);
	bool changed = outbound_peers_ok(ob->peers, &any);

	if (s->scope[0] != '\0')
		changed |= outbound_peers_ok(ob->peers, &key);
	s->probe = s->probe_scoped = false;
	if (changed)
		event_active(ob->kick, EV_TIMEOUT, 0);
}

/* s failed before it was ready, not permanently (refused, timeout, a 4xx
 * greeting or EHLO, TLS, AUTH): mark its peer failing for the first retry
 * interval when it was the last of our sessions on that peer. */
static void ob_session_peer_failed(struct ob_session *s,
				   const struct smtp_client_error *error)
{
	struct ob_dest *dest = s->dest;
	struct outbound *ob = dest->ob;
	struct ob_target *t = &dest->targets[s->target];
	struct outbound_peer_key key = ob_session_key(s), any = ob_key_any(key);
	int64_t until = time(NULL) + MAX(ob->set.policy.retry_min, 1u);
	unsigned code = error->code / 100 == 4 ? error->code : 451;

	if (t->active > 0) {
		/* others of ours are still on it: it may be failing (they
		 * will tell) or limit how many sessions it takes from us
		 * (a 421 "too many connections"). No more sessions than now
		 * meanwhile; the last one to fail marks it. */
		dest->limit = MAX(dest->active, 1u);
		ob_session_release(s);
		return;
	}
	if (error->tls_policy && s->scope[0] != '\0') {
		/* it answered; our TLS policy refused it under this name */
		outbound_peers_ok(ob->peers, &any);
		outbound_peers_fail(ob->peers, &key, until, code,
				    error->enhanced, error->diagnostic);
	} else {
		outbound_peers_fail(ob->peers, &any, until, code,
				    error->enhanced, error->diagnostic);
		if (s->probe_scoped)
			outbound_peers_probe_end(ob->peers, &key);
	}
	s->probe = s->probe_scoped = false;
}

/* Every target of dest is marked failing: defer its waiting jobs now,
 * without a connection, each counting one attempt. */
static void ob_dest_backoff(struct ob_dest *dest,
			    const struct outbound_peer_reason *reason,
			    int64_t now)
{
	struct outbound *ob = dest->ob;
	char enhanced[16], *diag = xstrdup(reason->diag);
	unsigned code = reason->code;
	int64_t left = reason->until - now;
	size_t n;

	memcpy(enhanced, reason->enhanced, sizeof(enhanced));
	n = ob_dest_fail_jobs(dest, code, enhanced, diag,
			      dest->targets[dest->n_targets - 1].host);
	if (n > 0) {
		atomic_fetch_add(&ob->stats.backoff_deferrals, n);
		log_info(NULL, "outbound: %s: %zu %s deferred without "
			 "connecting: every address is marked failing for "
			 "%llds more (%s)", dest->domain, n,
			 n == 1 ? "recipient" : "recipients", (long long)left,
			 diag);
	}
	free(diag);
}

/* ---- session callbacks ---- */

static const struct smtp_client_msg *ob_next(void *arg,
					     struct smtp_client *client UNUSED)
{
	struct ob_session *s = arg;
	struct ob_job *job;

	if (!s->ready) {
		struct ob_dest *dest = s->dest;

		s->ready = true;
		if (dest->limit < dest->ob->set.max_per_destination) {
			/* a session more may go, from the loop */
			dest->limit++;
			if (dest->waiting > 1)
				event_active(dest->ob->kick, EV_TIMEOUT, 0);
		}
		ob_session_peer_ok(s);
	}
	if (s->dest->ob->stopping)
		return NULL;
	while ((job = ob_dest_pop(s->dest)) != NULL) {
		/* a hold since the last tick counts too */
		if (ob_job_sendable(job))
			return &job->cmsg;
		ob_job_drop(job);
	}
	return NULL;
}

static void ob_msg_done(void *arg, struct smtp_client *client,
			const struct smtp_client_msg *cmsg,
			const struct smtp_client_rcpt_result *results)
{
	struct ob_session *s = arg;
	struct ob_job *job = cmsg->arg;
	struct ob_msg *msg = job->msg;
	const char *mta = s->dest->targets[s->target].host;

	for (size_t i = 0; i < cmsg->n_rcpts; i++) {
		struct ob_rcpt *r = &msg->rcpts[job->idx[i]];

		r->code = results[i].code;
		memcpy(r->enhanced, results[i].enhanced, sizeof(r->enhanced));
		r->diag = arena_strdup(&msg->arena, results[i].diagnostic);
		r->remote = results[i].remote;
		r->remote_mta = arena_strdup(&msg->arena, mta);
		r->peer_dsn = smtp_client_peer_has_dsn(client);
	}
	ob_job_free(job);
}

static void ob_closed(void *arg, struct smtp_client *client UNUSED,
		      const struct smtp_client_error *error)
{
	struct ob_session *s = arg;
	struct ob_dest *dest = s->dest;
	struct outbound *ob = dest->ob;

	dest->targets[s->target].active--;
	dest->active--;
	ob->active--;
	atomic_store(&ob->stats.active_sessions, ob->active);
	if (!s->ready && error != NULL && error->before_ready &&
	    !ob->stopping) {
		atomic_fetch_add(&ob->stats.connect_failures, 1);
		bool dane = dest->targets[s->target].dane;

		if (error->tls_failed && !s->no_tls &&
		    ((!dane && dest->tls == SMTP_CLIENT_TLS_MAY) ||
		     dest->tls_optional)) {
			/* opportunistic TLS: the same server in plaintext
			 * (RFC 3207 4.1 leaves the choice to the client) */
			if (dane || dest->tls != SMTP_CLIENT_TLS_MAY)
				log_info(NULL, "outbound: %s: TLS-Required: "
					 "No relaxed the TLS policy: the TLS "
					 "handshake with %s failed, trying "
					 "without TLS", dest->domain,
					 dest->targets[s->target].addr);
			s->no_tls = true;
			ob_session_connect(s);
			return;
		}
		s->no_tls = false;
		if (error->permanent) {
			/* a 5xx greeting or EHLO: the server refuses us */
			ob_session_peer_ok(s);
			ob_dest_fail(dest, error->code != 0 ? error->code : 550,
				     error->enhanced, error->diagnostic,
				     dest->targets[s->target].host);
		} else {
			int64_t now = time(NULL);
			ssize_t next;

			ob_session_peer_failed(s, error);
			/* RFC 5321 5.1: the next address / MX not marked
			 * failing; when none is left the kick below defers
			 * the waiting jobs */
			next = ob_dest_usable(dest, s->target + 1, now);
			if (next >= 0) {
				ob_session_start(s, (size_t)next, now);
				return;
			}
		}
	}
	ob_session_release(s);
	free(s);
	ob_kick_all(ob);
}

static const struct smtp_client_callbacks ob_client_cb = {
	.next = ob_next,
	.msg_done = ob_msg_done,
	.closed = ob_closed,
};

static void ob_dest_kick(struct ob_dest *dest)
{
	struct outbound *ob = dest->ob;
	const struct outbound_peer_reason *reason;
	int64_t now = time(NULL);
	ssize_t ti;

	if (ob->stopping || dest->waiting == 0)
		return;
	if (dest->stale) {
		if (dest->active > 0 || dest->state == DEST_RESOLVING)
			return;
		dest->stale = false;
		dest->state = DEST_NEW;
	}
	if (dest->state == DEST_NEW) {
		ob_dest_resolve(dest);
		return;
	}
	if (dest->state != DEST_READY)
		return;
	if (dest->retry_now) {
		/* queue flush/retry: go now (a probe first) */
		dest->retry_now = false;
		for (size_t i = 0; i < dest->n_targets; i++)
			outbound_peers_expire(ob->peers, dest->targets[i].addr,
					      dest->targets[i].port, now);
	}
	while (dest->active < MIN(dest->limit, dest->waiting) &&
	       ob->active < ob->set.max_connections &&
	       (ti = ob_dest_usable(dest, 0, now)) >= 0) {
		struct ob_session *s = xcalloc(1, sizeof(*s));

		s->dest = dest;
		ob_session_start(s, (size_t)ti, now);
	}
	if (dest->waiting > 0 && ob_dest_failing(dest, now, &reason))
		ob_dest_backoff(dest, reason, now);
}

/* Kick every destination with waiting jobs; free the idle ones. */
static void ob_kick_all(struct outbound *ob)
{
	struct ob_dest *dest, *next;

	for (dest = ob->dests; dest != NULL; dest = next) {
		next = dest->next;
		if (dest->waiting > 0 && dest->state == DEST_NEW) {
			/* resolving frees it when it ends at once */
			ob_dest_kick(dest);
			continue;
		}
		if (dest->waiting > 0 && dest->state == DEST_READY)
			ob_dest_kick(dest);
		ob_dest_maybe_free(dest);
	}
}

static void ob_kick_cb(evutil_socket_t fd UNUSED, short what UNUSED,
		       void *arg)
{
	ob_kick_all(arg);
}

/* ---- picking entries ---- */

static const char *ob_domain(struct arena *a, const char *address)
{
	const char *at = strrchr(address, '@');
	char *d;

	if (at == NULL || at[1] == '\0')
		return NULL;
	d = arena_strdup(a, at + 1);
	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Skip our own "Return-Path:" line (a relay must not pass it on). */
static void ob_strip_return_path(struct ob_msg *msg)
{
	const char *p = msg->full, *nl;

	msg->data = msg->full;
	msg->size = msg->full_size;
	if (msg->full_size < 13 || strncasecmp(p, "Return-Path:", 12) != 0)
		return;
	nl = memchr(p, '\n', msg->full_size);
	if (nl == NULL)
		return;
	msg->data = nl + 1;
	msg->size = msg->full_size - (size_t)(nl + 1 - p);
}

static void ob_add_job(struct ob_msg *msg, const size_t *idx, size_t n)
{
	struct outbound *ob = msg->ob;
	struct ob_job *job = xcalloc(1, sizeof(*job));
	struct ob_dest *dest;

	job->msg = msg;
	job->idx = xmemdup(idx, n * sizeof(*idx));
	job->rcpts = xcalloc(n, sizeof(*job->rcpts));
	job->orcpts = xcalloc(n, sizeof(*job->orcpts));
	job->notify = xcalloc(n, sizeof(*job->notify));
	for (size_t i = 0; i < n; i++) {
		job->rcpts[i] = msg->rcpts[idx[i]].address;
		job->orcpts[i] = msg->rcpts[idx[i]].orcpt;
		job->notify[i] = msg->rcpts[idx[i]].notify;
	}
	job->cmsg = (struct smtp_client_msg){
		.sender = msg->sender,
		.envid = msg->envid,
		.ret = msg->ret,
		.rcpts = job->rcpts,
		.orcpts = job->orcpts,
		.notify = job->notify,
		.n_rcpts = n,
		.data = msg->data,
		.size = msg->size,
		.requiretls = msg->requiretls,
		.arg = job,
	};
	msg->jobs_left++;
	dest = ob_dest_get(ob, msg->rcpts[idx[0]].domain, msg->tls_optional);
	if (msg->retry_now)
		dest->retry_now = true;
	if (dest->tail != NULL)
		dest->tail->next = job;
	else
		dest->head = job;
	dest->tail = job;
	dest->waiting++;
}

/* One due entry: load its message, make one job per domain. */
static void ob_pick(struct outbound *ob, const struct queue_entry *e)
{
	struct ob_msg *msg = xcalloc(1, sizeof(*msg));
	const char *error, *data;
	size_t size;

	msg->ob = ob;
	arena_init(&msg->arena, 0);
	if (store_blob_get(ob->reader, &msg->arena, e->blob_id, &data, &size,
			   &error) != 1) {
		log_error(NULL, "outbound: queue entry %lld: message %lld "
			  "unreadable: %s", (long long)e->id,
			  (long long)e->blob_id, error);
		arena_deinit(&msg->arena);
		free(msg);
		return;
	}
	msg->id = e->id;
	msg->sender = arena_strdup(&msg->arena, e->sender);
	msg->envid = arena_strdup(&msg->arena, e->envid != NULL ? e->envid : "");
	msg->ret = arena_strdup(&msg->arena, e->ret != NULL ? e->ret : "");
	msg->attempts = e->attempts;
	msg->created = e->created;
	msg->delay_notified = e->delay_notified;
	msg->requiretls = e->requiretls;
	msg->tls_optional = e->tls_optional;
	msg->retry_now = e->retry_now;
	msg->full = data;
	msg->full_size = size;
	ob_strip_return_path(msg);
	msg->n_rcpts = e->n_rcpts;
	msg->rcpts = arena_zalloc(&msg->arena,
				  (e->n_rcpts + 1) * sizeof(*msg->rcpts));
	for (size_t i = 0; i < e->n_rcpts; i++) {
		struct ob_rcpt *r = &msg->rcpts[i];

		r->idx = e->rcpts[i].idx;
		r->address = arena_strdup(&msg->arena, e->rcpts[i].address);
		r->orcpt = arena_strdup(&msg->arena, e->rcpts[i].orcpt != NULL
						     ? e->rcpts[i].orcpt : "");
		r->notify = arena_strdup(&msg->arena,
					 e->rcpts[i].notify != NULL
						 ? e->rcpts[i].notify : "");
		r->domain = ob_domain(&msg->arena, r->address);
	}
	ob_inflight_add(ob, msg->id);

	/* group by domain, at most OB_MAX_RCPTS_TX per transaction */
	size_t *idx = xcalloc(e->n_rcpts + 1, sizeof(*idx));
	bool *taken = xcalloc(e->n_rcpts + 1, sizeof(*taken));

	msg->jobs_left = 1;	/* held while the jobs are made */
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		size_t n = 0;

		if (taken[i])
			continue;
		if (msg->rcpts[i].domain == NULL) {
			taken[i] = true;
			msg->rcpts[i].code = 550;
			memcpy(msg->rcpts[i].enhanced, "5.1.3", 6);
			msg->rcpts[i].diag = "bad recipient address syntax";
			continue;
		}
		for (size_t j = i; j < msg->n_rcpts; j++) {
			if (taken[j] || msg->rcpts[j].domain == NULL ||
			    strcmp(msg->rcpts[j].domain,
				   msg->rcpts[i].domain) != 0)
				continue;
			taken[j] = true;
			idx[n++] = j;
			if (n == OB_MAX_RCPTS_TX) {
				ob_add_job(msg, idx, n);
				n = 0;
			}
		}
		if (n > 0)
			ob_add_job(msg, idx, n);
	}
	free(idx);
	free(taken);
	if (--msg->jobs_left == 0)
		ob_msg_finish(msg);
}

static int ob_id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Drop the waiting jobs of entries held since they were picked: `posthorn
 * queue hold` writes the store, the runner sees it here, once a tick (and
 * before it hands a job to a session or defers it, ob_job_sendable). */
static void ob_drop_held(struct outbound *ob, struct arena *a)
{
	const char *error;
	int64_t *ids;
	int n = queue_store_held_ids(ob->reader, a, &ids, &error);

	if (n < 0)
		log_error(NULL, "outbound: reading the held entries: %s", error);
	if (n <= 0)
		return;
	for (struct ob_dest *dest = ob->dests; dest != NULL;
	     dest = dest->next) {
		struct ob_job **pp = &dest->head, *job;

		dest->tail = NULL;
		while ((job = *pp) != NULL) {
			if (bsearch(&job->msg->id, ids, (size_t)n, sizeof(*ids),
				    ob_id_cmp) == NULL) {
				dest->tail = job;
				pp = &job->next;
				continue;
			}
			*pp = job->next;
			dest->waiting--;
			job->next = NULL;
			ob_job_drop(job);
		}
	}
}

static void ob_tick(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct outbound *ob = arg;
	const struct queue_policy *pol = &ob->set.policy;
	struct queue_entry *entries;
	int64_t now = time(NULL);
	size_t picked = 0;
	struct arena a;
	const char *error;
	int n;

	if (ob->stopping)
		return;
	/* marks older than the longest retry interval are forgotten */
	atomic_store(&ob->stats.failing_peers, (unsigned)outbound_peers_sweep(
		ob->peers, now, now - (int64_t)MAX(pol->retry_max,
						   pol->retry_min)));
	arena_init(&a, 0);
	if (ob->n_inflight > 0)
		ob_drop_held(ob, &a);
	if (ob->n_inflight >= OB_MAX_INFLIGHT) {
		if (queue_store_renew(ob->store, ob->reader, now,
				      ob->set.claim_lease, &error) < 0)
			log_error(NULL, "outbound: renewing claims: %s", error);
		arena_deinit(&a);
		ob_kick_all(ob);
		return;
	}
	/* the entries in flight are still due (until their results are
	 * stored): ask for that many more; on a shared database they are
	 * claimed for this node, and their claims renewed */
	n = queue_store_claim(ob->store, ob->reader, &a, now,
			      ob->set.claim_lease, ob->n_inflight + OB_PICK,
			      &entries, &error);
	if (n < 0)
		log_error(NULL, "outbound: reading the queue: %s", error);
	for (int i = 0; i < n && ob->n_inflight < OB_MAX_INFLIGHT &&
			picked < OB_PICK; i++) {
		if (!ob_inflight_has(ob, entries[i].id) &&
		    !entries[i].held && entries[i].n_rcpts > 0) {
			ob_pick(ob, &entries[i]);
			picked++;
		}
	}
	arena_deinit(&a);
	ob_kick_all(ob);
	if (picked == OB_PICK && !ob->stopping) {
		/* a backlog: look again soon rather than in a second */
		struct timeval tv = { 0, 50 * 1000 };

		event_add(ob->soon, &tv);
	}
}

/* ---- life cycle ---- */

static const char *ob_strdup(struct ob_settings *c, const char *s)
{
	return s != NULL ? arena_strdup(&c->arena, s) : NULL;
}

static struct ob_settings *ob_settings_copy(const struct outbound_settings *set)
{
	struct ob_settings *c = xcalloc(1, sizeof(*c));

	arena_init(&c->arena, 0);
	c->set = *set;
	c->set.hostname = ob_strdup(c, set->hostname);
	c->set.ca_file = ob_strdup(c, set->ca_file);
	c->set.relay.host = ob_strdup(c, set->relay.host);
	c->set.relay.user = ob_strdup(c, set->relay.user);
	/* the password is wiped at free, so not in the arena */
	c->relay_password = set->relay.password != NULL
		? xstrdup(set->relay.password) : NULL;
	c->set.relay.password = c->relay_password;
	c->set.dns.upstream = ob_strdup(c, set->dns.upstream);
	c->set.dns.trust_anchor_file = ob_strdup(c, set->dns.trust_anchor_file);
	c->set.dns.hosts_file = ob_strdup(c, set->dns.hosts_file);
	c->set.names.origin = ob_strdup(c, set->names.origin);
	c->set.names.admin = ob_strdup(c, set->names.admin);
	struct outbound_route *routes = arena_zalloc(&c->arena,
		(set->n_routes + 1) * sizeof(*routes));

	for (size_t i = 0; i < set->n_routes; i++) {
		routes[i] = set->routes[i];
		routes[i].domain = ob_strdup(c, set->routes[i].domain);
		routes[i].host = ob_strdup(c, set->routes[i].host);
	}
	c->set.routes = routes;
	if (c->set.max_connections == 0)
		c->set.max_connections = 100;
	if (c->set.claim_lease == 0)
		c->set.claim_lease = 60;
	if (c->set.max_per_destination == 0)
		c->set.max_per_destination = 10;
	if (c->set.tick_ms == 0)
		c->set.tick_ms = 1000;
	if (c->set.timeout_scale <= 0)
		c->set.timeout_scale = 1;
	return c;
}

static void ob_settings_free(struct ob_settings **cp)
{
	while (*cp != NULL) {
		struct ob_settings *c = *cp;

		*cp = c->prev;
		secret_free(&c->relay_password);
		arena_deinit(&c->arena);
		free(c);
	}
}

struct outbound *outbound_new(struct store *store, struct net_thread *thread,
			      const struct outbound_settings *set,
			      char **error_r)
{
	struct outbound *ob = xcalloc(1, sizeof(*ob));
	char *error = NULL;

	ob->store = store;
	ob->thread = thread;
	ob->settings = ob_settings_copy(set);
	ob->set = ob->settings->set;
	ob->inflight_cap = 16384;
	ob->inflight = xcalloc(ob->inflight_cap, sizeof(*ob->inflight));
	ob->peers = outbound_peers_new();
	pthread_mutex_init(&ob->lock, NULL);
	pthread_cond_init(&ob->cond, NULL);

	ob->reader = store_reader_new(store, &error);
	if (ob->reader == NULL) {
		*error_r = xasprintf("outbound: store reader: %s", error);
		free(error);
		outbound_free(&ob);
		return NULL;
	}
	ob->resolver = dns_resolver_new(net_thread_base(thread), &ob->set.dns,
					&error);
	if (ob->resolver == NULL) {
		*error_r = xasprintf("outbound: DNS resolver: %s", error);
		free(error);
		outbound_free(&ob);
		return NULL;
	}
	ob->tls = net_tls_client_new(ob->set.ca_file, &error);
	if (ob->tls == NULL) {
		*error_r = xasprintf("outbound: %s", error);
		free(error);
		outbound_free(&ob);
		return NULL;
	}
	ob->timer = event_new(net_thread_base(thread), -1, EV_PERSIST, ob_tick,
			      ob);
	ob->soon = event_new(net_thread_base(thread), -1, 0, ob_tick, ob);
	ob->kick = event_new(net_thread_base(thread), -1, 0, ob_kick_cb, ob);
	return ob;
}

void outbound_start(struct outbound *ob)
{
	struct timeval tv = { (time_t)(ob->set.tick_ms / 1000),
			      (suseconds_t)(ob->set.tick_ms % 1000) * 1000 };

	event_add(ob->timer, &tv);
}

static void ob_stop_task(void *arg)
{
	struct outbound *ob = arg;

	ob->stopping = true;
	event_del(ob->timer);
	event_del(ob->soon);
	event_del(ob->kick);
	/* sessions end through on_shutdown of their conns when the server
	 * shuts down; results of aborted sessions are not recorded */
	pthread_mutex_lock(&ob->lock);
	ob->stopped = true;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->lock);
}

void outbound_stop(struct outbound *ob, unsigned timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	task_queue_post(net_thread_task_queue(ob->thread), ob_stop_task, ob);
	pthread_mutex_lock(&ob->lock);
	while ((!ob->stopped || ob->store_pending > 0) &&
	       pthread_cond_timedwait(&ob->cond, &ob->lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&ob->lock);
}

void outbound_free(struct outbound **obp)
{
	struct outbound *ob = *obp;

	if (ob == NULL)
		return;
	*obp = NULL;
	ob->stopping = true;
	if (ob->timer != NULL)
		event_free(ob->timer);
	if (ob->soon != NULL)
		event_free(ob->soon);
	if (ob->kick != NULL)
		event_free(ob->kick);
	dns_resolver_free(&ob->resolver);
	/* jobs still queued (no session took them): drop with their
	 * messages; the entries stay in the store */
	while (ob->dests != NULL) {
		struct ob_dest *dest = ob->dests;
		struct ob_job *job;

		while ((job = ob_dest_pop(dest)) != NULL)
			ob_job_free(job);
		ob_dest_free(dest);
	}
	if (ob->tls != NULL)
		net_tls_unref(&ob->tls);
	store_reader_free(&ob->reader);
	outbound_peers_free(&ob->peers);
	free(ob->inflight);
	pthread_mutex_destroy(&ob->lock);
	pthread_cond_destroy(&ob->cond);
	ob_settings_free(&ob->settings);
	free(ob);
}

static bool ob_str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* On the runner's thread: swap the settings in, with a new resolver when
 * [dns] changed (its pending lookups are cancelled with the old one, so
 * the destinations waiting for them are routed again). */
static void ob_reconfigure_task(void *arg)
{
	struct ob_settings *c = arg;
	struct outbound *ob = c->ob;
	bool cancelled = false;

	/* what a reload does not change (see outbound.h) */
	c->set.hostname = ob->set.hostname;
	c->set.ca_file = ob->set.ca_file;
	c->set.tick_ms = ob->set.tick_ms;
	c->set.dkim = ob->set.dkim;
	c->set.names = ob->set.names;
	c->set.dns.hosts_file = ob->set.dns.hosts_file;
	if (!ob_str_eq(c->set.dns.upstream, ob->set.dns.upstream) ||
	    !ob_str_eq(c->set.dns.trust_anchor_file,
		       ob->set.dns.trust_anchor_file)) {
		char *error = NULL;
		struct dns_resolver *r = dns_resolver_new(
			net_thread_base(ob->thread), &c->set.dns, &error);

		if (r == NULL) {
			log_error(NULL, "outbound: the new [dns] settings do "
				  "not work, keeping the old ones: %s", error);
			free(error);
			c->set.dns = ob->set.dns;
		} else {
			dns_resolver_free(&ob->resolver);
			ob->resolver = r;
			cancelled = true;
		}
	}
	c->prev = ob->settings;
	ob->settings = c;
	ob->set = c->set;
	for (struct ob_dest *dest = ob->dests; dest != NULL; dest = dest->next) {
		if (cancelled && dest->state == DEST_RESOLVING)
			dest->state = DEST_NEW;
		dest->stale = true;
	}
	log_info(NULL, "outbound: new settings in use (%zu route%s, relay %s, "
		 "dns %s)", ob->set.n_routes, ob->set.n_routes == 1 ? "" : "s",
		 ob->set.relay.host != NULL ? ob->set.relay.host : "none",
		 ob->set.dns.upstream != NULL ? ob->set.dns.upstream :
		 "resolv.conf");
	ob_kick_all(ob);
}

void outbound_reconfigure(struct outbound *ob, const struct outbound_settings *set)
{
	struct ob_settings *c = ob_settings_copy(set);

	c->ob = ob;
	task_queue_post(net_thread_task_queue(ob->thread), ob_reconfigure_task,
			c);
}

struct outbound_stats *outbound_stats(struct outbound *ob)
{
	return &ob->stats;
}
