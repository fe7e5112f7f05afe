/* delivery.h: the accept path. Resolve an RCPT address to local users and
 * remote addresses (users, aliases, sub-addressing, catch-all), and deliver
 * an accepted message to all of them in one store write. */
#ifndef POSTHORN_DELIVERY_DELIVERY_H
#define POSTHORN_DELIVERY_DELIVERY_H

#include "queue/queue_store.h"
#include "store/store.h"

/* Bounds of an alias expansion: nesting depth (the RCPT address is depth
 * 0), and addresses looked at in total (fan-out). */
#define DELIVERY_MAX_DEPTH 8
#define DELIVERY_MAX_EXPANSION 1000

enum delivery_status {
	DELIVERY_LOCAL,		/* only local users */
	DELIVERY_REMOTE,	/* only remote addresses */
	DELIVERY_MIXED,		/* both */
	DELIVERY_UNKNOWN_USER,	/* local domain, nothing to deliver to: 550 5.1.1 */
	DELIVERY_LOOP,		/* alias loop or nesting past MAX_DEPTH: 554 5.4.6 */
	DELIVERY_TOO_MANY,	/* expansion past MAX_EXPANSION: 554 5.3.4 */
	DELIVERY_ERROR,		/* store error (error set): 451 4.3.0 */
};

struct delivery_local {
	int64_t user_id;
	/* The address the user was reached by (the RCPT address or an alias
	 * target), for Delivered-To. */
	const char *address;
	const char *tag;	/* "+tag" stripped to reach the user, or NULL */
	uint64_t quota;		/* the user's storage quota, bytes; 0 = none */
};

struct delivery_resolution {
	enum delivery_status status;
	struct delivery_local *locals;	/* de-duplicated by user id */
	size_t n_locals;
	const char **remotes;		/* de-duplicated, case-insensitively */
	size_t n_remotes;
	/* Alias targets in a local domain that lead nowhere (dropped; the
	 * other targets still get the mail). */
	size_t n_unknown;
	const char *error;		/* DELIVERY_ERROR: from the store */
	bool local_domain;		/* the address's own domain is ours */
};
/* With LOOP, TOO_MANY or ERROR the lists hold what was found before the
 * failure and must not be used. */

/* The host's own names (docs/admin.md "Local mail"). The origin domain,
 * which bare local names such as "root" are qualified with, is a local
 * domain even without a domains row, and at the origin the names root,
 * postmaster, abuse and mailer-daemon (any case) lead to admin when no
 * user or alias of theirs exists (before the catch-all: they must reach a
 * human who looks after the host). */
struct delivery_names {
	const char *origin;	/* lower case; NULL: no origin domain */
	const char *admin;	/* an address; NULL: those names are unknown */
};

/* Whether address ("local@domain", domain in lower case) is one of the
 * names above at the origin, whether or not an admin is set. */
bool delivery_names_builtin(const struct delivery_names *names,
			    const char *address);

/* Resolve one recipient address, already canonical "local@domain" with the
 * domain in lower case. Everything in *res_r, error included, is allocated in
 * `a`. Reads go through store_user_by_address() and store_alias_lookup()
 * (not store_user_resolve(), which cannot put the exact alias between the
 * exact and the "+tag" user).
 *
 * An address whose domain is not local is remote as-is. In a local domain
 * the first match wins, as in Postfix virtual(5):
 *   1. the exact user (enabled; a disabled user does not exist here),
 *   2. the exact alias,
 *   3. for "local+tag@domain": the user "local@domain", then its alias,
 *   4. the catch-all alias "@domain",
 *   else the address is an unknown user.
 * Alias targets are resolved again by the same rules (so a target may be
 * another alias, a local user or a remote address). An address met again
 * on its own expansion path is a loop; the same user or remote address
 * reached by two paths is kept once. The status is LOCAL, REMOTE or MIXED
 * when there is at least one destination; UNKNOWN_USER when there is none;
 * LOOP, TOO_MANY or ERROR make the whole address fail.
 *
 * Known limit: the store's alias lookup falls back to the catch-all by
 * itself, so an exact alias whose target set equals the catch-all's is
 * taken for the catch-all (only matters when a "+tag" user also exists). */
void delivery_resolve(struct store_reader *reader, struct arena *a,
		      const char *address, struct delivery_resolution *res_r);
/* The same with the host's names (NULL: none, as delivery_resolve). */
void delivery_resolve_names(struct store_reader *reader,
			    const struct delivery_names *names,
			    struct arena *a, const char *address,
			    struct delivery_resolution *res_r);

/* Storage quotas (delivery_quota.c). Whether a message of size bytes
 * (0 = not known) may go to a user with this quota: no quota, or usage
 * below it and usage + size not past it. *usage_r is read from the store
 * only when the user has a quota (the sum costs a scan of the user's
 * message rows; without a quota nothing is read). 1 fits, 0 does not,
 * -1 store error (*error_r). */
int delivery_quota_fits(struct store_reader *reader, int64_t user_id,
			uint64_t quota, uint64_t size, uint64_t *usage_r,
			const char **error_r);
/* Leave out of res->locals the users a message of size bytes (0 = not
 * known) does not fit (above). They are moved after the kept ones:
 * res->locals[res->n_locals + i] for i < the returned count. The caller
 * refuses the recipient (452 4.2.2 Mailbox full) when that left it with
 * no local user and no remote address, and otherwise delivers to the rest
 * (an alias reaching a full mailbox among others); res->status becomes
 * REMOTE when only remote addresses are left. Returns that count,
 * or -1 with *error_r (a store error; res unchanged). */
int delivery_quota_filter(struct store_reader *reader,
			  struct delivery_resolution *res, uint64_t size,
			  const char **error_r);

/* An accepted message. Every pointer belongs to the caller but needs to
 * live only for the delivery_submit() call: the submission keeps copies,
 * except of what it takes over (take, tree). */
struct delivery_msg {
	/* The message as received: CRLF lines, dot-unstuffed. header
	 * (the caller's Received:, may be NULL/0) is stored in front of it,
	 * so the caller need not copy the message to prepend it. */
	const void *header;
	size_t header_size;
	const void *data;
	size_t size;
	/* Instead of data/size: the message in a buffer the submission takes
	 * over, so that it is stored without a copy: the message is
	 * take->p[take_room .. take->n), and the fields stored above it go
	 * into the take_room bytes before it when they fit (else the buffer
	 * grows once). *take is reset, also when submitting fails. */
	struct strbuf *take;
	size_t take_room;
	/* NULL, or the message's part tree from a mime_parser fed
	 * MIME_PREFIX_STANDIN and then the message as it arrived (the parse
	 * at the end of DATA is then not done again); the submission takes
	 * it over, also when submitting fails. */
	struct mime_tree *tree;
	const char *sender;	/* envelope sender, "" for the null path */
	const char *envid;	/* DSN ENVID or NULL */
	const char *ret;	/* DSN RET ("FULL"/"HDRS") or NULL */
	int64_t internal_date;	/* unix seconds */
	/* "Delivered-To: <this>" after Return-Path, or NULL. The blob is
	 * shared by every recipient (single instance, the outbound queue
	 * too), so give it only when the message goes to one local user
	 * and nowhere else (as Dovecot's LMTP does). CR or LF refuse the
	 * message. */
	const char *delivered_to;
	/* RFC 8689 REQUIRETLS: stored with the queue entry, so outbound
	 * delivery sends the remote copy only over verified TLS. Without
	 * it, a "TLS-Required: No" field in the top header of the message
	 * (RFC 8689 5) marks the queue entry tls_optional: outbound relaxes
	 * tls = required routes and DANE to opportunistic TLS for it. */
	bool requiretls;
	/* Local users (INBOX of each); duplicates are delivered once. */
	const int64_t *user_ids;
	size_t n_users;
	/* Spam: into each local user's Junk mailbox instead of the INBOX
	 * (created with \Junk when missing, in the same store write; see
	 * store.h struct store_target). The outbound copy is not affected. */
	bool junk;
	/* Remote recipients for the outbound queue; duplicate addresses
	 * are queued once (the first one's ORCPT/NOTIFY is kept). */
	const struct queue_rcpt *remotes;
	size_t n_remotes;
};

/* Runs on the thread owning reply_queue with the store's result (status 0
 * ok, else error); result is freed after the callback returns. */
typedef void delivery_done_fn(void *arg, const struct store_result *result);

/* Parse the message once (ENVELOPE, BODY, BODYSTRUCTURE and the part tree;
 * any bytes parse, a broken MIME structure still delivers) and submit ONE
 * STORE_REQ_DELIVER holding every local target and the outbound queue
 * entry for the remote recipients. The stored message is
 * "Return-Path: <sender>\r\n", then "Delivered-To: <msg->delivered_to>\r\n"
 * when given, then msg->header and msg->data; it is the same blob for every
 * recipient (single instance).
 * Returns 0 when submitted (done runs later, exactly once), or -1 with
 * *error_r set to a static string when the message has no recipient or the
 * sender holds CR, LF, '<' or '>' (done does not run). */
int delivery_submit(struct store *store, const struct delivery_msg *msg,
		    struct task_queue *reply_queue, delivery_done_fn *done,
		    void *arg, const char **error_r);

/* The same DELIVER request without submitting it, e.g. to embed it in
 * another request (the queue runner's QUEUE_REQ_RESULT carries its
 * report this way). NULL with a static *error_r for the same reasons as
 * delivery_submit(). The request stays valid until
 * delivery_prepared_free(). */
struct delivery_submission;
struct delivery_submission *delivery_prepare(const struct delivery_msg *msg,
					     const char **error_r);
const struct store_req *delivery_prepared_req(
	const struct delivery_submission *sub);
void delivery_prepared_free(struct delivery_submission **sub);

#endif
