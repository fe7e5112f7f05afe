/* outbound_peers.h: the queue runner's memory of failing peers. A peer
 * (address and port, and for a failure of the TLS policy the policy and
 * server name it failed) that failed at connection level is marked failing
 * until a time; when the mark expires, one session (the probe) may try it
 * before others do. Pure bookkeeping on the caller's clock. */
#ifndef POSTHORN_DELIVERY_OUTBOUND_PEERS_H
#define POSTHORN_DELIVERY_OUTBOUND_PEERS_H

#include "base/base.h"

struct outbound_peer_key {
	const char *addr;	/* numeric address */
	unsigned port;
	/* "": a failure at connection level (refused, timeout, a 4xx
	 * greeting...), which binds every session to addr:port. Else the
	 * TLS policy and the server name the peer failed, e.g.
	 * "verify:mx.example.org", which binds only sessions that insist on
	 * that (another name or policy may succeed on the same address). */
	const char *scope;
};

/* Why a peer is marked: what the messages deferred for it record. */
struct outbound_peer_reason {
	unsigned code;		/* a 4xx reply code */
	char enhanced[16];	/* "4.4.1" */
	const char *diag;	/* owned by the table */
	int64_t until;		/* failing until then */
};

enum outbound_peer_state {
	OUTBOUND_PEER_OK,	/* no mark: connect freely */
	/* the mark expired and no probe is out: one session may take the
	 * probe (outbound_peers_probe) */
	OUTBOUND_PEER_PROBE,
	OUTBOUND_PEER_BUSY,	/* a probe is out: wait for its verdict */
	OUTBOUND_PEER_FAILING,	/* marked failing until reason.until */
};

struct outbound_peers;

struct outbound_peers *outbound_peers_new(void);
void outbound_peers_free(struct outbound_peers **peers);

/* The state of key at now; *reason_r (may be NULL) is the last failure
 * when there is a mark, valid until the table changes. */
enum outbound_peer_state outbound_peers_state(
	const struct outbound_peers *peers, const struct outbound_peer_key *key,
	int64_t now, const struct outbound_peer_reason **reason_r);
/* The peer failed: marked failing until until with code/enhanced/diag
 * (copied); a mark it had is renewed, and its probe is over. */
void outbound_peers_fail(struct outbound_peers *peers,
			 const struct outbound_peer_key *key, int64_t until,
			 unsigned code, const char *enhanced, const char *diag);
/* The peer answered: its mark (and probe) is forgotten. True when there
 * was one. */
bool outbound_peers_ok(struct outbound_peers *peers,
		       const struct outbound_peer_key *key);
/* A session takes the probe of key (state PROBE at now). False when
 * there is none to take. */
bool outbound_peers_probe(struct outbound_peers *peers,
			  const struct outbound_peer_key *key, int64_t now);
/* The probe of key ended without a verdict (the runner stops, or another
 * session's result makes it moot): the next session may probe. */
void outbound_peers_probe_end(struct outbound_peers *peers,
			      const struct outbound_peer_key *key);
/* Every mark of addr:port (all scopes) expires now: an admin asked for a
 * retry. A probe goes first, as after any expiry. */
void outbound_peers_expire(struct outbound_peers *peers, const char *addr,
			   unsigned port, int64_t now);
/* Forget the marks that expired before forget_before and have no probe
 * out (the next session to them is an ordinary one). Returns the number
 * of marks still failing at now. */
size_t outbound_peers_sweep(struct outbound_peers *peers, int64_t now,
			    int64_t forget_before);
/* Marks held, failing or expired. */
size_t outbound_peers_count(const struct outbound_peers *peers);

#endif
