/* imap_search.h: SEARCH programs (RFC 3501, RFC 9051, ESEARCH RFC 4731,
 * CONDSTORE MODSEQ RFC 7162): parse the keys once, run them over a
 * mailbox view, render SEARCH or ESEARCH replies. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_SEARCH_H
#define POSTHORN_PROTO_IMAP_IMAP_SEARCH_H

#include "base/strbuf.h"
#include "proto/imap/imap_token.h"
#include "store/store.h"

struct imap_search;	/* opaque, arena-allocated */

struct imap_search_opts {
	bool esearch;		/* a RETURN (...) was given, or IMAP4rev2 default */
	bool ret_min, ret_max, ret_all, ret_count;	/* RFC 4731; RETURN () means ALL */
	bool modseq_used;	/* a MODSEQ key was used (CONDSTORE: reply includes (MODSEQ n)) */
	bool recent_used;	/* RECENT, NEW or OLD (not in IMAP4rev2) */
};

/* Parses after "SEARCH ": [RETURN (...)] [CHARSET x] search-keys, up to the
 * end of the command. On NULL, *why_r says what the reply is: CHARSET
 * other than UTF-8/US-ASCII -> IMAP_SEARCH_BADCHARSET (NO [BADCHARSET]);
 * more than about IMAP_SEARCH_MAX_KEYS keys (as evaluated: UNSEEN is NOT
 * SEEN, a list is an AND), or more than IMAP_SEARCH_MAX_TEXT
 * text keys (each one is a pass of the store's index), of them more than
 * IMAP_SEARCH_MAX_SCANS with a needle under 3 characters (each a scan of
 * all the mailbox's text) ->
 * IMAP_SEARCH_LIMIT (NO [LIMIT]); other errors -> IMAP_SEARCH_SYNTAX with
 * c->error set (BAD). Parentheses nest at most IMAP_SEARCH_MAX_PARENS
 * deep; keys inside NOT, OR and parentheses at most IMAP_SEARCH_MAX_DEPTH
 * (clients send long "OR OR OR ..." chains). Running a program costs
 * its key count per message. */
/* The charsets SEARCH, SORT and THREAD take: UTF-8 and US-ASCII. */
bool imap_search_charset_ok(struct str charset);

#define IMAP_SEARCH_MAX_PARENS 64
#define IMAP_SEARCH_MAX_DEPTH 1024
#define IMAP_SEARCH_MAX_KEYS 4096
#define IMAP_SEARCH_MAX_TEXT 64
#define IMAP_SEARCH_MAX_SCANS 8
enum imap_search_fail {
	IMAP_SEARCH_SYNTAX,
	IMAP_SEARCH_BADCHARSET,
	IMAP_SEARCH_LIMIT,
};
struct imap_search *imap_search_parse(struct imap_cursor *c, struct arena *a, struct imap_search_opts *opts_r, enum imap_search_fail *why_r);

/* The session's view: msgs[i] is sequence number i+1, in UID order.
 * recent may be NULL. Text keys (BODY, TEXT, SUBJECT, FROM, TO, CC, BCC,
 * HEADER) go through store_search_text() on the reader; the others are
 * evaluated in memory (SENTBEFORE/SENTON/SENTSINCE read each message's
 * envelope with store_msg_meta for its Date:, falling back to the
 * internal date when there is none). Fills matches_r (arena) with the
 * 0-based indexes into msgs (sequence number - 1) of the matching
 * messages, ascending; returns the count or -1 with *error_r (the
 * reader's error). */
int imap_search_run(const struct imap_search *s, struct store_reader *r, struct arena *a, int64_t mailbox_id, const struct store_msg *msgs, const bool *recent, size_t n, uint32_t **matches_r, const char **error_r);

/* The same in slices, for a caller that yields between them: start runs
 * the text keys through the store (one query each; NULL with *error_r on
 * a store error); each step evaluates the next messages until about
 * budget key evaluations are spent (0: no bound) and returns 1 when every
 * message is done, 0 when some remain, -1 with *error_r on a store error;
 * msgs and recent must stay the same between steps. scratch holds one
 * message's metadata at a time (cleared as it goes). The run lives in a. */
struct imap_search_exec;
struct imap_search_exec *imap_search_start(const struct imap_search *s, struct store_reader *r, struct arena *a, struct arena *scratch, int64_t mailbox_id, const struct store_msg *msgs, size_t n, const char **error_r);
int imap_search_step(struct imap_search_exec *run, const struct store_msg *msgs, const bool *recent, size_t budget, const char **error_r);
/* The reader the next steps read through (a read pool runs each step on
 * whichever of its threads is free, each with its own reader). */
void imap_search_reader(struct imap_search_exec *run, struct store_reader *r);
/* The matches so far: 0-based indexes into msgs, ascending (in a). */
size_t imap_search_matches(const struct imap_search_exec *run, uint32_t **matches_r);

/* Whether the i-th of n matches (ascending) is a message the reply
 * returns, whose mod-sequence the MODSEQ result counts (RFC 7162 3.1.5:
 * "the highest mod-sequence of all messages being returned"): with only
 * MIN and/or MAX (RFC 4731) those messages, else every match (ALL and
 * COUNT stand for all of them; plain SEARCH returns all). */
bool imap_search_returns(const struct imap_search_opts *o, size_t i, size_t n);

/* Render the reply for the matches (values: sequence numbers or UIDs,
 * ascending): "* SEARCH 1 2 3\r\n" (with " (MODSEQ n)" when
 * opts->modseq_used and n > 0) or, when o->esearch,
 * "* ESEARCH (TAG "t") [UID] MIN 1 MAX 3 COUNT 2 ALL 1:3[ MODSEQ n]\r\n"
 * (no return option at all means ALL). max_modseq is the highest modseq
 * of the matching messages. */
void imap_search_render(const struct imap_search_opts *o, const char *tag, bool uid, const uint32_t *values, size_t n, uint64_t max_modseq, struct strbuf *out);

#endif
