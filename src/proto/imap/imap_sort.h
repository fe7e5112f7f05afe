/* imap_sort.h: SORT criteria (RFC 5256, DISPLAYFROM/DISPLAYTO of RFC 5957):
 * parse them, and order messages by them from what the store keeps (the
 * internal date, the size and the rendered ENVELOPE). No I/O. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_SORT_H
#define POSTHORN_PROTO_IMAP_IMAP_SORT_H

#include "proto/imap/imap_token.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,	/* internal date */
	IMAP_SORT_CC,		/* mailbox of the first Cc address */
	IMAP_SORT_DATE,		/* Date:, else the internal date */
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,	/* base subject (mail/base_subject.h) */
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,	/* display name, else addr-spec (RFC 5957) */
	IMAP_SORT_DISPLAYTO,
};

#define IMAP_SORT_MAX_CRITERIA 16

struct imap_sort {
	struct {
		enum imap_sort_key key;
		bool reverse;
	} crit[IMAP_SORT_MAX_CRITERIA];
	size_t n;
	bool needs_envelope;	/* a key other than ARRIVAL and SIZE */
};

/* Parses "(" sort-criterion *(SP sort-criterion) ")" with sort-criterion
 * = ["REVERSE" SP] sort-key, keys in any case. False with c->error set on
 * bad syntax, an unknown key or more than IMAP_SORT_MAX_CRITERIA. */
bool imap_sort_parse(struct imap_cursor *c, struct imap_sort *sort_r);

struct imap_sort_msg {
	uint32_t seq;		/* ties keep sequence order */
	int64_t internal_date;
	uint64_t size;
	const char *envelope;	/* as FETCH ENVELOPE renders it; NULL if none */
};

/* Orders msgs in place by the criteria, each compared as RFC 5256 says
 * (strings folded with i;unicode-casemap, an absent string sorts as the
 * empty one), then by seq. Keys are computed once per message, in a. */
void imap_sort_order(const struct imap_sort *s, struct arena *a,
		     struct imap_sort_msg *msgs, size_t n);

#endif
