/* imap_token.h: a cursor over one assembled IMAP command (as built by
 * imap_reader): the lexical pieces of RFC 3501/9051 - atoms, strings,
 * numbers, mailbox names, sequence sets, flags and dates. No I/O. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_TOKEN_H
#define POSTHORN_PROTO_IMAP_IMAP_TOKEN_H

#include "base/arena.h"

struct imap_cursor {
	const char *p, *end;
	const char *error;	/* first error (static text), NULL while fine */
};

void imap_cursor_init(struct imap_cursor *c, struct str command);
bool imap_cursor_at_end(const struct imap_cursor *c);
int imap_cursor_peek(const struct imap_cursor *c);		/* next byte or -1 */
bool imap_cursor_skip_char(struct imap_cursor *c, char ch);	/* consume ch if next; never sets error */

/* Each function below returns false and sets c->error when the input does
 * not match (nothing consumed then). c->error keeps the first error. */
bool imap_cursor_sp(struct imap_cursor *c);			/* exactly one SP */
bool imap_cursor_atom(struct imap_cursor *c, struct str *atom_r);	/* 1*ATOM-CHAR (RFC 9051) */
/* The tag, command name and ATOM-like words where ']' and other
 * resp-specials are allowed: */
bool imap_cursor_word(struct imap_cursor *c, struct str *word_r);	/* 1*ASTRING-CHAR */
/* quoted (unescaped, NUL-terminated in the arena; UTF-8 bytes allowed) |
 * literal {n} / {n+} (points into the command; no NUL byte allowed) */
bool imap_cursor_string(struct imap_cursor *c, struct arena *a, struct str *s_r);
/* string | literal8 ~{n} / ~{n+} (points into the command; any byte).
 * RFC 3516 and RFC 9051 allow literal8 in a command only as APPEND's
 * message data; everywhere else "~" is an ATOM-CHAR like any other.
 * *literal8_r tells which form it was. */
bool imap_cursor_string8(struct imap_cursor *c, struct arena *a, struct str *s_r, bool *literal8_r);
bool imap_cursor_astring(struct imap_cursor *c, struct arena *a, struct str *s_r);	/* 1*ASTRING-CHAR | string ("~foo" is an atom) */
/* NIL (any case) gives *nil_r true and an empty *s_r. */
bool imap_cursor_nstring(struct imap_cursor *c, struct arena *a, struct str *s_r, bool *nil_r);
bool imap_cursor_number(struct imap_cursor *c, uint32_t *n_r);	/* 0..4294967295 */
bool imap_cursor_nz_number(struct imap_cursor *c, uint32_t *n_r);	/* 1..4294967295, no leading 0 */
bool imap_cursor_number64(struct imap_cursor *c, uint64_t *n_r);	/* mod-sequence values, up to 2^63-1 */

/* Mailbox name: astring; "INBOX" in any case becomes "INBOX"; when !utf8 it
 * is modified UTF-7 (RFC 3501 5.1.3) decoded to UTF-8 (invalid mUTF-7 is an
 * error); when utf8 (ENABLE UTF8=ACCEPT) it must be valid UTF-8. Result
 * NUL-terminated in the arena. Names with a NUL byte are an error. */
bool imap_cursor_mailbox(struct imap_cursor *c, struct arena *a, bool utf8, const char **name_r);

/* sequence-set: "1", "2:4", "*", "5:*", "1,3:5,7" ("$" is not supported).
 * Only "*" means "the largest number in use" (RFC 9051 6.4.9): an
 * explicit 4294967295 is a number like any other, so "UIDNEXT:4294967295"
 * matches nothing in a mailbox whose UIDs are all below UIDNEXT, while
 * "UIDNEXT:*" matches the last message. The explicit ranges (lo <= hi,
 * "4:2" -> 2:4) come out sorted, merged and disjoint; the ranges with "*"
 * fold into star/star_from, so the set is never longer than needed and
 * imap_seqset_contains() is a binary search. A set built by hand must
 * keep that order (imap_seqset_of_ranges does). */
struct imap_seq_range { uint32_t lo, hi; };
struct imap_seqset {
	struct imap_seq_range *ranges;	/* explicit numbers only */
	size_t n;
	bool star;		/* the set has "*" or "x:*" */
	uint32_t star_from;	/* the smallest such x; 0 for a lone "*" */
};
bool imap_cursor_seqset(struct imap_cursor *c, struct arena *a, struct imap_seqset *set_r);
/* true if n is in set, with '*' meaning max (the largest seq/UID in use; an
 * empty mailbox has max 0; a caller that does not know it passes
 * UINT32_MAX). O(log n). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t max);

/* flag-list "(" [flag *(SP flag)] ")": system flags (\Seen \Answered
 * \Flagged \Deleted \Draft, case-insensitive) into STORE_FLAG_* bits
 * (store/store.h), keywords (atoms, duplicates dropped) into an arena array
 * of NUL-terminated strings; "\Recent", unknown "\X" flags and the atom
 * NIL (which a client would read as nil in FETCH FLAGS) are an error.
 * imap_cursor_flags_or_list(): a list, or flags separated by SP without
 * parentheses (STORE +FLAGS \Seen \Draft). At most IMAP_MAX_KEYWORDS + 1
 * keywords are kept: a count above IMAP_MAX_KEYWORDS means "too many"
 * (NO [LIMIT]), and the dedup stays linear in the list. */
#define IMAP_MAX_KEYWORDS 64
bool imap_cursor_flag_list(struct imap_cursor *c, struct arena *a, uint32_t *flags_r, const char ***keywords_r, size_t *n_keywords_r);
bool imap_cursor_flags_or_list(struct imap_cursor *c, struct arena *a, uint32_t *flags_r, const char ***keywords_r, size_t *n_keywords_r);

/* A keyword list as the store keeps it ("a b c"): whether kw is in it
 * (case-insensitively, RFC 9051 2.3.2), and how many it holds. */
bool imap_keywords_has(const char *keywords, struct str kw);
size_t imap_keywords_count(const char *keywords);

/* date "d-Mon-yyyy" or quoted form (SEARCH): unix seconds at 00:00 UTC of
 * that day */
bool imap_cursor_date(struct imap_cursor *c, int64_t *t_r);
/* date-time "\"dd-Mon-yyyy hh:mm:ss +zzzz\"" (APPEND; the day may be
 * " d"): unix seconds, and the zone in minutes east of UTC (-5999..5999) */
bool imap_cursor_date_time(struct imap_cursor *c, int64_t *t_r, int *zone_r);

#endif
